import type { StudioDatabase } from '@studio/shared-db';
import type { Clock } from '../clock';
import type { Check, CheckFields, CronpingRepository } from '../repository';
import { filteredKind } from './keywords';
import { applyPing, type PingKind } from './state';
import { recordFlip } from './transitions';

export type PingTarget = { code: string } | { pingKey: string; slug: string; create: boolean };

export interface PingSubmission {
  target: PingTarget;
  kind: PingKind;
  exitstatus: number | null;
  rid: string | null;
  method: string;
  scheme: string;
  remoteAddr: string;
  ua: string;
  body: Buffer | null;
  /**
   * Set when the URL's exit status (>255) or `rid` is malformed. As in healthchecks' ping_by_slug, the
   * check is looked up (and, with `?create=1`, created) first; then the ping is refused, nothing recorded.
   */
  invalid?: 'invalid_url_format' | 'invalid_uuid_format';
}

export type PingResult =
  | 'ok'
  | 'created'
  | 'not_found'
  | 'ambiguous'
  | 'check_limit'
  | 'invalid_url_format'
  | 'invalid_uuid_format';

export interface PingIngestOptions {
  database: StudioDatabase;
  repository: CronpingRepository;
  clock: Clock;
  /** Pings kept per check for this account (its plan's history limit). */
  historyLimit(accountId: string): number;
  /** Checks this account may have (its plan's limit), for `?create=1`. */
  checkLimit(accountId: string): number;
  /** Called after a commit that set a deadline, with the earliest one. */
  onDeadline(deadline: number): void;
  /** Called after a commit that queued alerts. */
  onAlertsQueued(): void;
  /** Largest batch committed at once. */
  maxBatch?: number;
}

interface Pending {
  submission: PingSubmission;
  resolve(result: PingResult): void;
  reject(error: unknown): void;
}

export const defaultCheckFields = (slug: string): CheckFields => ({
  name: slug,
  slug,
  tags: '',
  description: '',
  kind: 'simple',
  timeout: 86_400,
  schedule: '* * * * *',
  tz: 'UTC',
  grace: 3_600,
  manualResume: false,
  methods: '',
  minDuration: null,
  failureTolerance: 0,
  maxRuntime: null,
  filterSubject: false,
  filterBody: false,
  startKw: '',
  successKw: '',
  failureKw: '',
});

/**
 * Group commit for pings. A ping is answered only after the transaction holding it committed (with
 * synchronous=FULL, after the WAL fsync), so an acknowledged ping survives a crash or a power cut. Pings
 * that arrive while a commit is running, or in the same event-loop turn, share the next transaction: under
 * load one fsync covers hundreds of pings, and an idle ping waits for no timer (the batch is flushed on
 * setImmediate).
 */
export function createPingIngest(options: PingIngestOptions) {
  const { repository, clock } = options;
  const maxBatch = options.maxBatch ?? 2000;
  let queue: Pending[] = [];
  let scheduled = false;

  const resolveCheck = (target: PingTarget, now: number, created: { value: boolean }): Check | PingResult => {
    if ('code' in target) return repository.checkByCode(target.code) ?? 'not_found';
    const accountId = repository.accountByPingKey(target.pingKey);
    if (!accountId) return 'not_found';
    const matches = repository.checksBySlug(accountId, target.slug);
    if (matches.length > 1) return 'ambiguous';
    if (matches[0]) return matches[0];
    if (!target.create) return 'not_found';
    if (repository.countChecks(accountId) >= options.checkLimit(accountId)) return 'check_limit';
    const check = repository.insertCheck(accountId, defaultCheckFields(target.slug), now);
    // As healthchecks does for auto-provisioned checks: every channel of the account.
    repository.setCheckChannels(
      check.id,
      repository.channelsOfAccount(accountId).map((channel) => channel.id),
    );
    created.value = true;
    return check;
  };

  const ingestBatch = options.database.transaction((batch: Pending[], now: number) => {
    const results: PingResult[] = [];
    const limits = new Map<string, number>();
    let earliestDeadline: number | null = null;
    let alerts = 0;
    for (const { submission } of batch) {
      const created = { value: false };
      const resolved = resolveCheck(submission.target, now, created);
      if (typeof resolved === 'string') {
        results.push(resolved);
        continue;
      }
      if (submission.invalid) {
        results.push(submission.invalid);
        continue;
      }
      const check = resolved;
      const kind = filteredKind(check, submission.kind, submission.exitstatus, submission.body);
      const outcome = applyPing(check, kind === submission.kind ? submission : { ...submission, kind }, now);
      repository.updateState(check.id, outcome.state);
      repository.insertPing({
        checkId: check.id,
        n: outcome.state.nPings,
        created: now,
        kind: outcome.kind,
        scheme: submission.scheme,
        remoteAddr: submission.remoteAddr,
        method: submission.method,
        ua: submission.ua,
        body: submission.body,
        exitstatus: submission.exitstatus,
        rid: submission.rid,
        duration: outcome.duration,
      });
      let limit = limits.get(check.accountId);
      if (limit === undefined) {
        limit = options.historyLimit(check.accountId);
        limits.set(check.accountId, limit);
      }
      if (outcome.state.nPings > limit) repository.prunePings(check.id, outcome.state.nPings - limit);
      if (outcome.flip) {
        alerts += recordFlip(repository, { ...check, ...outcome.state }, outcome.flip, now);
      }
      const deadline = outcome.state.alertAfter;
      if (deadline !== null && (earliestDeadline === null || deadline < earliestDeadline)) {
        earliestDeadline = deadline;
      }
      results.push(created.value ? 'created' : 'ok');
    }
    return { results, earliestDeadline, alerts };
  });

  const flush = () => {
    scheduled = false;
    while (queue.length > 0) {
      const batch = queue.length > maxBatch ? queue.splice(0, maxBatch) : queue;
      if (batch === queue) queue = [];
      let outcome: ReturnType<typeof ingestBatch>;
      try {
        outcome = ingestBatch(batch, clock.now());
      } catch (error) {
        for (const pending of batch) pending.reject(error);
        continue;
      }
      batch.forEach((pending, index) => {
        pending.resolve(outcome.results[index]!);
      });
      if (outcome.earliestDeadline !== null) options.onDeadline(outcome.earliestDeadline);
      if (outcome.alerts > 0) options.onAlertsQueued();
    }
  };

  return {
    submit(submission: PingSubmission): Promise<PingResult> {
      return new Promise<PingResult>((resolve, reject) => {
        queue.push({ submission, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          setImmediate(flush);
        }
      });
    },
    /** Commits whatever is queued now (used on close). */
    flush,
  };
}

export type PingIngest = ReturnType<typeof createPingIngest>;
