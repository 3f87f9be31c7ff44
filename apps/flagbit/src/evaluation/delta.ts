import type { ClientFeatures, FeatureDefinition, Segment } from './types';

/** Unleash's delta events, as `/api/client/streaming` and `/api/client/delta` send them. */
export type DeltaEvent =
  | { eventId: number; type: 'hydration'; features: FeatureDefinition[]; segments: Segment[] }
  | { eventId: number; type: 'feature-updated'; feature: FeatureDefinition }
  | { eventId: number; type: 'feature-removed'; featureName: string; project: string }
  | { eventId: number; type: 'segment-updated'; segment: Segment }
  | { eventId: number; type: 'segment-removed'; segmentId: number };

/** Applies delta events to a document the way the Node SDK's repository does. */
export function applyDelta(document: ClientFeatures, events: DeltaEvent[]): ClientFeatures {
  const features = new Map(document.features.map((f) => [f.name, f]));
  const segments = new Map((document.segments ?? []).map((s) => [s.id, s]));
  for (const event of events) {
    switch (event.type) {
      case 'hydration':
        features.clear();
        segments.clear();
        for (const f of event.features) features.set(f.name, f);
        for (const s of event.segments ?? []) segments.set(s.id, s);
        break;
      case 'feature-updated':
        features.set(event.feature.name, event.feature);
        break;
      case 'feature-removed':
        features.delete(event.featureName);
        break;
      case 'segment-updated':
        segments.set(event.segment.id, event.segment);
        break;
      case 'segment-removed':
        segments.delete(event.segmentId);
        break;
    }
  }
  return { version: document.version, features: [...features.values()], segments: [...segments.values()] };
}

/**
 * The events that turn `before` into `after`: a feature or segment whose JSON changed is updated, one that
 * disappeared is removed. Segments go first so an updated feature never points at a segment the client lacks.
 */
export function diffDocuments(before: ClientFeatures, after: ClientFeatures, eventId: number): DeltaEvent[] {
  const events: DeltaEvent[] = [];
  const beforeSegments = new Map((before.segments ?? []).map((s) => [s.id, JSON.stringify(s)]));
  const afterSegmentIds = new Set<number>();
  for (const segment of after.segments ?? []) {
    afterSegmentIds.add(segment.id);
    if (beforeSegments.get(segment.id) !== JSON.stringify(segment)) {
      events.push({ eventId, type: 'segment-updated', segment });
    }
  }
  const beforeFeatures = new Map(before.features.map((f) => [f.name, f]));
  const afterNames = new Set<string>();
  for (const feature of after.features) {
    afterNames.add(feature.name);
    const previous = beforeFeatures.get(feature.name);
    if (!previous || JSON.stringify(previous) !== JSON.stringify(feature)) {
      events.push({ eventId, type: 'feature-updated', feature });
    }
  }
  for (const feature of before.features) {
    if (!afterNames.has(feature.name)) {
      events.push({
        eventId,
        type: 'feature-removed',
        featureName: feature.name,
        project: feature.project ?? 'default',
      });
    }
  }
  for (const id of beforeSegments.keys()) {
    if (!afterSegmentIds.has(id)) events.push({ eventId, type: 'segment-removed', segmentId: id });
  }
  return events;
}
