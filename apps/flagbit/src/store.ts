import type { FlagRepository } from './repository';
import type { SnapshotStore } from './snapshots';

export interface AuditEntry {
  action: string;
  resource: string;
  environment?: string | null;
  before?: unknown;
  after?: unknown;
}

export interface Change<Result> {
  result: Result;
  /** Environments whose served flags changed: their revision is bumped and their SDK clients told. */
  environments: Iterable<string>;
  audit: AuditEntry[];
}

/**
 * The one way admin writes happen: the change, its audit entries and the revision bumps of the environments
 * it touched commit in one transaction; the snapshots are invalidated (and streaming clients told) only after
 * the commit, so no client ever sees a change that was rolled back.
 */
export function createStore(repository: FlagRepository, snapshots: SnapshotStore, clock: () => Date) {
  const bootstrapped = new Set<string>();
  const ensureDefaultsTx = repository.transaction((accountId: string, now: string) =>
    repository.ensureDefaults(accountId, now),
  );
  const runTx = repository.transaction(
    <Result>(accountId: string, actor: string, now: string, fn: () => Change<Result>) => {
      const change = fn();
      const environments = [...new Set(change.environments)];
      for (const environment of environments) repository.bumpRevision(accountId, environment);
      for (const entry of change.audit) repository.audit(accountId, { actor, ...entry }, now);
      return { result: change.result, environments };
    },
  );

  return {
    now: () => clock().toISOString(),
    /** Creates project `default` and environments `development` and `production` on an account's first use. */
    ensureDefaults(accountId: string) {
      if (bootstrapped.has(accountId)) return;
      ensureDefaultsTx(accountId, clock().toISOString());
      bootstrapped.add(accountId);
    },
    change<Result>(accountId: string, actor: string, fn: () => Change<Result>): Result {
      const { result, environments } = runTx(accountId, actor, clock().toISOString(), fn) as {
        result: Result;
        environments: string[];
      };
      snapshots.changed(accountId, environments);
      return result;
    },
  };
}

export type Store = ReturnType<typeof createStore>;
