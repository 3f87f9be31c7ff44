import type { StudioDatabase } from '@studio/shared-db';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from '../clock';
import type { CronpingRepository } from '../repository';
import type { CheckState } from './state';
import { recordFlip } from './transitions';

export interface DeadlineSchedulerOptions {
  database: StudioDatabase;
  repository: CronpingRepository;
  clock: Clock;
  log: FastifyBaseLogger;
  onAlertsQueued(): void;
  /** Checks turned down per transaction. */
  batchSize?: number;
}

// setTimeout's longest delay; a later deadline is re-armed when this fires.
const MAX_TIMER_MS = 2 ** 31 - 1;
const LAG_SAMPLES = 100_000;

/**
 * Event-driven detection: every check's next deadline (`alert_after`) is stored and indexed, and one timer
 * is armed for the earliest. When it fires, every check past its deadline goes down in one transaction and
 * the timer is armed for the next one. A ping that sets an earlier deadline re-arms the timer. No polling.
 */
export function createDeadlineScheduler(options: DeadlineSchedulerOptions) {
  const { repository, clock } = options;
  const batchSize = options.batchSize ?? 1000;
  let timer: NodeJS.Timeout | undefined;
  let armedFor: number | null = null;
  let stopped = true;
  /** How late (ms) each detection ran after its deadline: read by the latency benchmark. */
  const lagSamples: number[] = [];
  let nextSample = 0;

  const markDown = options.database.transaction((now: number) => {
    const overdue = repository.overdueChecks(now, batchSize);
    let alerts = 0;
    for (const check of overdue) {
      const deadline = check.alertAfter!;
      const hung =
        check.lastStart !== null && check.lastStart + (check.maxRuntime ?? check.grace) * 1000 <= now;
      const state: CheckState = {
        status: 'down',
        nPings: check.nPings,
        lastPing: check.lastPing,
        lastStart: check.lastStart,
        lastStartRid: check.lastStartRid,
        lastDuration: check.lastDuration,
        consecutiveFailures: check.consecutiveFailures,
        alertAfter: null,
      };
      repository.updateState(check.id, state);
      if (check.status !== 'down') {
        alerts += recordFlip(
          repository,
          { ...check, ...state },
          {
            oldStatus: check.status,
            newStatus: 'down',
            reason: hung ? 'max_runtime' : 'timeout',
            notify: true,
          },
          now,
        );
      }
      // A ring of the latest samples: bounded memory however long the process runs.
      lagSamples[nextSample] = now - deadline;
      nextSample = (nextSample + 1) % LAG_SAMPLES;
    }
    return { processed: overdue.length, alerts };
  });

  const postponeOverdue = options.database.transaction((now: number) => repository.postponeOverdue(now));

  const arm = () => {
    if (stopped) return;
    if (timer) clearTimeout(timer);
    timer = undefined;
    armedFor = repository.earliestDeadline();
    if (armedFor === null) return;
    const delay = Math.min(Math.max(0, armedFor - clock.now()), MAX_TIMER_MS);
    timer = setTimeout(wake, delay);
    timer.unref();
  };

  // The timer's path: one batch per event-loop turn, so that thousands of checks going down at the same
  // minute never hold the pings back for more than one transaction.
  const wake = () => {
    timer = undefined;
    if (stopped) return;
    try {
      const { processed, alerts } = markDown(clock.now());
      if (alerts > 0) options.onAlertsQueued();
      if (processed === batchSize) {
        timer = setTimeout(wake, 0);
        timer.unref();
      } else arm();
    } catch (error) {
      options.log.error({ err: error }, 'deadline scheduler failed; retrying in 1 s');
      armedFor = null;
      timer = setTimeout(arm, 1000);
      timer.unref();
    }
  };

  /** Turns down every check past its deadline now, then re-arms. Returns how many went down. */
  // (All batches at once: for tests and callers that need the result; the timer uses `wake`.)
  const tick = (): number => {
    let total = 0;
    let alerts = 0;
    for (;;) {
      const { processed, alerts: queued } = markDown(clock.now());
      total += processed;
      alerts += queued;
      if (processed < batchSize) break;
    }
    if (alerts > 0) options.onAlertsQueued();
    arm();
    return total;
  };

  return {
    /**
     * Starts the timer. Deadlines that passed while CronPing itself was not running get one grace window
     * from now instead of a flood of "down" alerts for what was our outage, not the customers'.
     */
    start() {
      stopped = false;
      const postponed = postponeOverdue(clock.now());
      if (postponed > 0) {
        options.log.info({ postponed }, 'deadlines missed while CronPing was down get one grace window');
      }
      arm();
    },
    stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
    },
    /** A commit set this deadline: re-arm when it is earlier than the armed one. */
    notifyDeadline(deadline: number) {
      if (stopped) return;
      if (armedFor === null || deadline < armedFor) arm();
    },
    tick,
    /** The deadline the timer is armed for (null: nothing pending). */
    nextWake: () => armedFor,
    lagSamples,
  };
}

export type DeadlineScheduler = ReturnType<typeof createDeadlineScheduler>;
