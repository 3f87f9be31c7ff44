import { AppError } from '@studio/service-kit';
import { newId } from './ids';
import type { Ops } from './ops';
import { describeError } from './outbound';

/**
 * A cycle: audit, then recovery actions (the outbox: alerts and plan changes that are due), then the
 * pipeline steps that fit. Cycles are budgeted per UTC day (CYCLES_PER_DAY, default 8): the seed's lesson
 * is that a hard budget is what makes work finish. A cycle over budget is recorded as skipped and runs
 * nothing. Audits alone (every AUDIT_INTERVAL_SECONDS) are cheap and are not counted against the budget.
 */
export interface CycleAction {
  step: string;
  outcome: string;
}

export interface CycleResult {
  id: string;
  status: 'done' | 'skipped' | 'failed';
  startedAt: string;
  actions: CycleAction[];
}

export type PipelineStep = () => Promise<CycleAction[]>;

export function createCycles(ops: Ops, pipeline: PipelineStep[] = []) {
  const { repo, clock, config } = ops;

  async function run(trigger: 'scheduled' | 'manual'): Promise<CycleResult> {
    const started = clock.now();
    const day = started.toISOString().slice(0, 10);
    const id = newId('cyc');
    const used = repo.cyclesOnDay(day);
    if (used >= config.CYCLES_PER_DAY) {
      const actions = [
        {
          step: 'budget',
          outcome: `${used} of ${config.CYCLES_PER_DAY} cycles already ran on ${day}; skipped (${trigger})`,
        },
      ];
      repo.transaction(() => repo.insertCycle(id, day, started.toISOString(), 'skipped', actions))();
      return { id, status: 'skipped', startedAt: started.toISOString(), actions };
    }
    const actions: CycleAction[] = [{ step: 'start', outcome: trigger }];
    repo.transaction(() => repo.insertCycle(id, day, started.toISOString(), 'running', actions))();
    let status: CycleResult['status'] = 'done';
    try {
      const { report, heartbeat, outbox } = await ops.audit();
      actions.push({
        step: 'audit',
        outcome: `${report.status}; ${report.products.map((p) => `${p.name} ${p.status}`).join(', ') || 'no product configured'}`,
      });
      actions.push({
        step: 'heartbeat',
        outcome: heartbeat.ok ? 'pinged' : `not pinged: ${heartbeat.error}`,
      });
      actions.push({
        step: 'recovery',
        outcome: `outbox: ${outbox.delivered} delivered, ${outbox.failed} failed, ${outbox.pending} pending`,
      });
      for (const step of pipeline) actions.push(...(await step()));
    } catch (error) {
      status = 'failed';
      actions.push({ step: 'error', outcome: describeError(error) });
    }
    repo.transaction(() => repo.finishCycle(id, clock.now().toISOString(), status, actions))();
    return { id, status, startedAt: started.toISOString(), actions };
  }

  return {
    run,
    /** For the API: a cycle over budget is refused with 429 rather than silently skipped. */
    async runManual(): Promise<CycleResult> {
      const result = await run('manual');
      if (result.status === 'skipped') {
        throw new AppError('rate_limited', result.actions[0]?.outcome ?? 'cycle budget spent for today');
      }
      return result;
    },
  };
}

export type Cycles = ReturnType<typeof createCycles>;
