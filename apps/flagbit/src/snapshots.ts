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
  /** Flags that carry variants (on the flag or on a strategy): OFREP answers their disabled state without a value. */
  variantFlags: Set<string>;
}

export type ChangeListener = (events: DeltaEvent[], snapshot: Snapshot) => void;

const keyOf = (accountId: string, environment: string) => `${accountId}\u0000${environment}`;

/**
 * The changes one environment went through, so a streaming SDK that reconnects with `Last-Event-ID` gets
 * only what it missed. `entries` cover the revisions after `base` up to the last entry's revision without a
 * gap (each is the diff from the previous snapshot to the next); anything older was trimmed away.
 */
interface ChangeHistory {
  base: number;
  latest: number;
  entries: { revision: number; events: DeltaEvent[] }[];
  eventCount: number;
}

export interface HistoryLimits {
  /** Revisions kept per environment. */
  maxRevisions: number;
  /** Delta events kept per environment (a big import is one revision with many events). */
  maxEvents: number;
}

export const defaultHistoryLimits: HistoryLimits = { maxRevisions: 200, maxEvents: 2000 };

export function createSnapshotStore(
  repository: FlagRepository,
  engineOptions: EngineOptions,
  historyLimits: HistoryLimits = defaultHistoryLimits,
) {
  const snapshots = new Map<string, Snapshot>();
  const listeners = new Map<string, Set<ChangeListener>>();
  // Kept only for environments a streaming SDK has connected to since start: they alone are diffed eagerly
  // on every change (even while no stream is open, so a client that dropped can resume). Memory is bounded
  // per environment by `historyLimits`; a restart forgets it all and reconnecting clients are hydrated.
  const histories = new Map<string, ChangeHistory>();

  const record = (key: string, previous: Snapshot | undefined, next: Snapshot, events: DeltaEvent[]) => {
    const history = histories.get(key);
    if (!history) return;
    // A gap (no snapshot to diff from, or one older than the history's end) cannot be replayed: start over.
    if (!previous || previous.revision !== history.latest) {
      histories.set(key, { base: next.revision, latest: next.revision, entries: [], eventCount: 0 });
      return;
    }
    history.latest = next.revision;
    if (events.length > 0) {
      history.entries.push({ revision: next.revision, events });
      history.eventCount += events.length;
    }
    while (
      history.entries.length > 0 &&
      (history.entries.length > historyLimits.maxRevisions || history.eventCount > historyLimits.maxEvents)
    ) {
      const dropped = history.entries.shift()!;
      history.base = dropped.revision;
      history.eventCount -= dropped.events.length;
    }
  };

  const build = (accountId: string, environment: string): Snapshot | null => {
    const row = repository.findEnvironment(accountId, environment);
    if (!row) return null;
    const document = repository.environmentDocument(accountId, environment);
    const body = JSON.stringify(document);
    const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
    const enabledToggleJson = new Map<string, string>();
    const variantFlags = new Set<string>();
    for (const feature of document.features) {
      if (feature.variants?.length || feature.strategies?.some((strategy) => strategy.variants?.length)) {
        variantFlags.add(feature.name);
      }
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
      variantFlags,
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
        if (!subscribed?.size && !histories.has(key)) continue;
        const next = get(accountId, environment);
        if (!next) continue;
        const before = previous?.document ?? { version: 2, features: [], segments: [] };
        const events = diffDocuments(before, next.document, next.revision);
        record(key, previous, next, events);
        if (events.length === 0 || !subscribed) continue;
        for (const listener of subscribed) listener(events, next);
      }
    },
    /** Forgets an environment (deleted): its subscribers are told nothing more. */
    drop(accountId: string, environment: string) {
      snapshots.delete(keyOf(accountId, environment));
      histories.delete(keyOf(accountId, environment));
    },
    /**
     * Starts (or keeps) the change history of an environment at `snapshot`, the state a streaming client was
     * just sent, so that client can later resume from its revision.
     */
    track(accountId: string, environment: string, snapshot: Snapshot) {
      const key = keyOf(accountId, environment);
      const history = histories.get(key);
      if (history && history.latest === snapshot.revision) return;
      histories.set(key, { base: snapshot.revision, latest: snapshot.revision, entries: [], eventCount: 0 });
    },
    /**
     * The events after `revision` up to `snapshot` (the environment's current state), or null when the
     * history cannot tell (never tracked, trimmed past it, a revision from the future or from before a
     * restart): the caller then hydrates. An empty list means the client is up to date.
     */
    eventsSince(
      accountId: string,
      environment: string,
      revision: number,
      snapshot: Snapshot,
    ): DeltaEvent[] | null {
      const history = histories.get(keyOf(accountId, environment));
      if (!history || history.latest !== snapshot.revision) return null;
      if (revision < history.base || revision > history.latest) return null;
      return history.entries.filter((entry) => entry.revision > revision).flatMap((entry) => entry.events);
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
