import { createOutboundClient, parseOutboundAllowlist } from '@studio/service-kit/outbound';
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import nodemailer from 'nodemailer';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { type AlertDispatcher, createAlertDispatcher } from '../monitor/alerts';
import { createPingIngest, type PingIngest } from '../monitor/ingest';
import { createDeadlineScheduler, type DeadlineScheduler } from '../monitor/scheduler';
import { type CronpingRepository, createCronpingRepository } from '../repository';
import { startWalCheckpointer, type WalCheckpointer } from '../wal-checkpointer';

export interface Monitor {
  repository: CronpingRepository;
  clock: Clock;
  ingest: PingIngest;
  scheduler: DeadlineScheduler;
  alerts: AlertDispatcher;
  /** Limits of the account's plan, by name. */
  limitOf(accountId: string, limit: 'checks' | 'pingHistory'): number;
}

declare module 'fastify' {
  interface FastifyInstance {
    monitor: Monitor;
  }
}

export interface MonitorPluginOptions {
  config: Config;
  clock: Clock;
}

/** The repository, the ping ingest, the deadline scheduler and the alert dispatcher, wired together. */
async function monitorPlugin(app: FastifyInstance, { config, clock }: MonitorPluginOptions) {
  const repository = createCronpingRepository(app.database);
  const limitOf = (accountId: string, limit: 'checks' | 'pingHistory') => {
    const account = app.billing.repository.findAccount(accountId);
    return account ? (app.billing.limitsFor(account)[limit] ?? 0) : 0;
  };
  const outbound = createOutboundClient({
    allowlist: parseOutboundAllowlist(config.OUTBOUND_ALLOWLIST),
    timeoutMs: config.ALERT_TIMEOUT_MS,
  });
  const mailer = config.SMTP_URL ? nodemailer.createTransport(config.SMTP_URL) : null;

  const alerts = createAlertDispatcher({
    database: app.database,
    repository,
    clock,
    log: app.log,
    outbound,
    webhookSecretOf: (accountId) => app.billing.repository.findAccount(accountId)?.webhookSecret ?? null,
    mailer,
    mailFrom: config.SMTP_FROM,
    maxAttempts: config.ALERT_MAX_ATTEMPTS,
    retryBaseMs: config.ALERT_RETRY_BASE_MS,
    timeoutMs: config.ALERT_TIMEOUT_MS,
  });
  const scheduler = createDeadlineScheduler({
    database: app.database,
    repository,
    clock,
    log: app.log,
    onAlertsQueued: () => alerts.kick(),
  });
  const ingest = createPingIngest({
    database: app.database,
    repository,
    clock,
    historyLimit: (accountId) => limitOf(accountId, 'pingHistory'),
    checkLimit: (accountId) => limitOf(accountId, 'checks'),
    onDeadline: (deadline) => scheduler.notifyDeadline(deadline),
    onAlertsQueued: () => alerts.kick(),
  });

  // Product probes for the ops-agent's audit: a stalled scheduler or a stuck alert queue shows as `warn`
  // on /health long before a customer notices a missing alert. Non-critical: the pings still flow.
  app.health.addProbe({
    name: 'scheduler:overdueChecks',
    componentType: 'component',
    critical: false,
    timeoutMs: 1000,
    check: () => {
      const overdue = repository.countOverdueChecks(clock.now() - 5_000);
      return {
        status: overdue > 0 ? 'warn' : 'pass',
        observedValue: overdue,
        observedUnit: 'checks past their deadline by over 5 s',
      };
    },
  });
  app.health.addProbe({
    name: 'alerts:overdueNotifications',
    componentType: 'component',
    critical: false,
    timeoutMs: 1000,
    check: () => {
      const overdue = repository.countOverdueNotifications(clock.now() - 60_000);
      return {
        status: overdue > 0 ? 'warn' : 'pass',
        observedValue: overdue,
        observedUnit: 'alerts due for over 60 s',
      };
    },
  });

  app.decorate('monitor', { repository, clock, ingest, scheduler, alerts, limitOf });
  let checkpointer: WalCheckpointer | null = null;
  app.addHook('onReady', async () => {
    if (config.WAL_CHECKPOINT_INTERVAL_MS > 0) {
      checkpointer = startWalCheckpointer(app.database, {
        intervalMs: config.WAL_CHECKPOINT_INTERVAL_MS,
        maxWalBytes: 32 * 1024 * 1024,
        log: app.log,
      });
    }
    scheduler.start();
    alerts.start();
  });
  app.addHook('onClose', async () => {
    scheduler.stop();
    alerts.stop();
    ingest.flush();
    await alerts.idle();
    await checkpointer?.stop();
    await outbound.close();
    mailer?.close();
  });
}

export default fp(monitorPlugin, {
  name: 'cronping-monitor',
  dependencies: ['@studio/shared-billing'],
});
