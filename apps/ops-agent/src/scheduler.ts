import type { Clock } from './clock';

/**
 * Decides what is due from the injected clock; a real timer only calls `tick()` often. Tests advance a
 * manual clock and call `tick()` themselves, so no test waits for time to pass.
 */
export interface SchedulerJobs {
  audit(): Promise<unknown>;
  cycle(): Promise<unknown>;
}

export function createScheduler(options: {
  clock: Clock;
  auditIntervalMs: number;
  cycleIntervalMs: number;
  jobs: SchedulerJobs;
  onError: (job: string, error: unknown) => void;
  /** When the last cycle started (from the database), so a restart does not spend a cycle of the budget. */
  lastCycleAt?: Date;
}) {
  let lastAudit = Number.NEGATIVE_INFINITY;
  let lastCycle = options.lastCycleAt?.getTime() ?? Number.NEGATIVE_INFINITY;
  let busy = false;
  let timer: NodeJS.Timeout | undefined;

  async function tick(): Promise<string[]> {
    if (busy) return [];
    busy = true;
    const ran: string[] = [];
    try {
      const now = options.clock.now().getTime();
      // A cycle starts with its own audit, so an audit due at the same moment is folded into it.
      if (now - lastCycle >= options.cycleIntervalMs) {
        lastCycle = now;
        lastAudit = now;
        ran.push('cycle');
        await options.jobs.cycle().catch((error) => options.onError('cycle', error));
      } else if (now - lastAudit >= options.auditIntervalMs) {
        lastAudit = now;
        ran.push('audit');
        await options.jobs.audit().catch((error) => options.onError('audit', error));
      }
    } finally {
      busy = false;
    }
    return ran;
  }

  return {
    tick,
    start(pollMs = 1000) {
      timer ??= setInterval(() => void tick(), pollMs);
      timer.unref();
    },
    stop() {
      if (timer) clearInterval(timer);
      timer = undefined;
    },
  };
}

export type Scheduler = ReturnType<typeof createScheduler>;
