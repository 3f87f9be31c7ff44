import type { Billing } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import type { Clock } from './clock';
import type { VaultRepository } from './repository';

const DAY_MS = 86_400_000;

/**
 * Deletes captures past their plan's retention: older than `captureRetentionDays`, or beyond the newest
 * `capturesKeptPerEndpoint` of an endpoint. Runs on a timer; tests call `runOnce()` with a moved clock.
 */
export class RetentionJob {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly repository: VaultRepository,
    private readonly billing: Billing,
    private readonly clock: Clock,
    private readonly log: FastifyBaseLogger,
  ) {}

  runOnce(): number {
    const now = this.clock.now();
    let deleted = 0;
    for (const { endpointId, plan } of this.repository.retentionTargets()) {
      const limits = this.billing.catalog.plans[plan as keyof Billing['catalog']['plans']]?.limits;
      if (!limits) continue;
      const days = limits.captureRetentionDays ?? 1;
      const keep = limits.capturesKeptPerEndpoint ?? 100;
      deleted += this.repository.applyRetention(endpointId, now - days * DAY_MS, keep);
    }
    return deleted;
  }

  start(intervalMs: number): void {
    this.timer = setInterval(() => {
      try {
        const deleted = this.runOnce();
        if (deleted > 0) this.log.info({ deleted }, 'retention deleted expired captures');
      } catch (error) {
        this.log.error({ err: error }, 'retention pass failed');
      }
    }, intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }
}
