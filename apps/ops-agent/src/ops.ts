import type { OutboundClient } from '@studio/service-kit/outbound';
import type { FastifyBaseLogger } from 'fastify';
import type { Dispatcher } from 'undici';
import { type AuditReport, pingHeartbeat, runAudit } from './audit/audit';
import type { Clock } from './clock';
import type { Config } from './config';
import type { TokenStore } from './integrations/tokens';
import { type OutboxRunResult, runOutbox } from './outbox';
import type { Repository } from './repository';

/**
 * The agent's services, shared by the routes, the scheduler, the owner's page and the CLI. Built once per
 * app; everything time-dependent reads `clock`.
 */
export interface OpsDeps {
  config: Config;
  repo: Repository;
  clock: Clock;
  outbound: OutboundClient;
  log: FastifyBaseLogger;
  /** Integration tokens: the environment's, else the ones the owner stored (sealed) on the page. */
  tokens: TokenStore;
  /** Keep-alive-free dispatcher for the audit's health checks (`createHealthDispatcher`). */
  healthDispatcher?: Dispatcher;
  sendEmail?: (message: { subject: string; text: string }) => Promise<void>;
}

export interface AuditTickResult {
  report: AuditReport;
  heartbeat: { ok: boolean; error?: string };
  outbox: OutboxRunResult;
}

export function createOps(deps: OpsDeps) {
  // Two audits at once would count one failure twice against the thresholds; the second caller waits for
  // the first one's report instead.
  let running: Promise<AuditTickResult> | undefined;
  // One outbox run at a time; a request for another while one runs is folded into a rerun right after, so
  // a row written meanwhile is not left waiting for the next audit.
  let outboxRun: Promise<OutboxRunResult> | undefined;
  let outboxAgain = false;
  function outboxOnce(): Promise<OutboxRunResult> {
    if (outboxRun) {
      outboxAgain = true;
      return outboxRun;
    }
    outboxRun = (async () => {
      let result: OutboxRunResult;
      do {
        outboxAgain = false;
        result = await runOutbox(deps);
      } while (outboxAgain);
      return result;
    })().finally(() => {
      outboxRun = undefined;
    });
    return outboxRun;
  }

  async function auditTick(): Promise<AuditTickResult> {
    const report = await runAudit(deps);
    const heartbeat = await pingHeartbeat(deps, report.status);
    // Recovery actions right after the audit: alerts it raised and provisioning that is due go out now.
    const outbox = await outboxOnce();
    return { report, heartbeat, outbox };
  }

  return {
    ...deps,
    audit(): Promise<AuditTickResult> {
      running ??= auditTick().finally(() => {
        running = undefined;
      });
      return running;
    },
    runOutbox: outboxOnce,
    /** Resolves once no audit and no outbox run is in flight (tests, and shutdown before the database closes). */
    async settled(): Promise<void> {
      while (running || outboxRun) await (running ?? outboxRun)?.catch(() => undefined);
    },
  };
}

export type Ops = ReturnType<typeof createOps>;
