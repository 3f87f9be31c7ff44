import { createHash } from 'node:crypto';
import { type DeltaEvent, diffDocuments } from './evaluation/delta';
import { type CompiledFeatures, compileFeatures, type EngineOptions } from './evaluation/engine';
import type { ClientFeatures } from './evaluation/types';
import type { FlagRepository } from './repository';

/**
 * What one environment serves, compiled once per change: the client-features JSON and its ETag (served as
 * is to SDKs), and the compiled engine the frontend API and OFREP evaluate with. Every SDK read is a map
 * lookup; SQLite is read again only after a write invalidated the environment.
 */
export interface Snapshot {
  revision: number;
  document: ClientFeatures;
  body: string;
  etag: string;
  engine: CompiledFeatures;
  /** Per flag, the frontend API's JSON for "on, no variant": the same for every user. */
  enabledToggleJson: Map<string, string>;
}

export type ChangeListener = (events: DeltaEvent[], snapshot: Snapshot) => void;

const keyOf = (accountId: string, environment: string) => `${accountId}\u0000${environment}`;

export function createSnapshotStore(repository: FlagRepository, engineOptions: EngineOptions) {
  const snapshots = new Map<string, Snapshot>();
  const listeners = new Map<string, Set<ChangeListener>>();

  const build = (accountId: string, environment: string): Snapshot | null => {
    const row = repository.findEnvironment(accountId, environment);
    if (!row) return null;
    const document = repository.environmentDocument(accountId, environment);
    const body = JSON.stringify(document);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const enabledToggleJson = new Map<string, string>();
    for (const feature of document.features) {
      enabledToggleJson.set(
        feature.name,
        JSON.stringify({
          name: feature.name,
          enabled: true,
          variant: { name: 'disabled', enabled: false, feature_enabled: true },
          impressionData: Boolean(feature.impressionData),
        }),
      );
    }
    return {
      revision: row.revision,
      document,
      body,
      etag,
      engine: compileFeatures(document, engineOptions),
      enabledToggleJson,
    };
  };

  const get = (accountId: string, environment: string): Snapshot | null => {
    const key = keyOf(accountId, environment);
    const cached = snapshots.get(key);
    if (cached) return cached;
    const snapshot = build(accountId, environment);
    if (snapshot) snapshots.set(key, snapshot);
    return snapshot;
  };

  return {
    get,
    /**
     * Called after a write committed. Environments with streaming clients are rebuilt at once and sent the
     * delta, so the change reaches them in the same tick; others are rebuilt on their next read.
     */
    changed(accountId: string, environments: Iterable<string>) {
      for (const environment of environments) {
        const key = keyOf(accountId, environment);
        const previous = snapshots.get(key);
        snapshots.delete(key);
        const subscribed = listeners.get(key);
        if (!subscribed?.size) continue;
        const next = get(accountId, environment);
        if (!next) continue;
        const before = previous?.document ?? { version: 2, features: [], segments: [] };
        const events = diffDocuments(before, next.document, next.revision);
        if (events.length === 0) continue;
        for (const listener of subscribed) listener(events, next);
      }
    },
    /** Forgets an environment (deleted): its subscribers are told nothing more. */
    drop(accountId: string, environment: string) {
      snapshots.delete(keyOf(accountId, environment));
    },
    subscribe(accountId: string, environment: string, listener: ChangeListener): () => void {
      const key = keyOf(accountId, environment);
      let set = listeners.get(key);
      if (!set) {
        set = new Set();
        listeners.set(key, set);
      }
      set.add(listener);
      return () => {
        set.delete(listener);
        if (set.size === 0) listeners.delete(key);
      };
    },
    subscriberCount: () => [...listeners.values()].reduce((sum, set) => sum + set.size, 0),
  };
}

export type SnapshotStore = ReturnType<typeof createSnapshotStore>;
