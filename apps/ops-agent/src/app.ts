import { createServiceApp } from '@studio/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import { createHealthDispatcher } from './audit/audit';
import { createBilling } from './billing/billing';
import { type Clock, systemClock } from './clock';
import { type Config, stripeConfig } from './config';
import { createPipeline } from './content/pipeline';
import { createCycles } from './cycles';
import { database } from './database';
import { createTokenStore } from './integrations/tokens';
import { createOps, type Ops } from './ops';
import { createAgentOutbound, createAlertMailer } from './outbound';
import { registerOwnerPage } from './owner/page';
import { createVault } from './owner/vault';
import { addAdminAuth } from './plugins/admin-auth';
import { createRepository } from './repository';
import { registerAuditRoutes } from './routes/audit';
import { registerBillingRoutes } from './routes/billing';
import { registerContentRoutes } from './routes/content';
import { registerCycleRoutes } from './routes/cycles';
import { createScheduler, type Scheduler } from './scheduler';

declare module 'fastify' {
  interface FastifyInstance {
    ops: Ops;
    scheduler: Scheduler;
  }
}

export interface BuildOptions {
  logger?: FastifyBaseLogger | false;
  /** Time for every decision the agent makes; tests pass a manual clock. */
  clock?: Clock;
  /** Start the audit/cycle timer (default: config.SCHEDULER). Tests drive `app.scheduler.tick()` instead. */
  startScheduler?: boolean;
}

export async function buildApp(config: Config, options: BuildOptions = {}) {
  const app = await createServiceApp({
    config,
    logger: options.logger,
    service: {
      id: 'ops-agent',
      title: 'ops-agent',
      description: 'Audits the studio, turns Stripe payments into plans and drives the content pipeline.',
      version: packageJson.version,
    },
    database,
  });
  const clock = options.clock ?? systemClock;
  const outbound = createAgentOutbound(config);
  app.addHook('onClose', async () => outbound.close());
  const healthDispatcher = createHealthDispatcher(config.AUDIT_TIMEOUT_MS);
  app.addHook('onClose', async () => healthDispatcher.close());

  const mailer = createAlertMailer(config);
  if (mailer) app.addHook('onClose', async () => mailer.close());
  const repo = createRepository(app.database);
  const vault = createVault(config.OPS_VAULT_KEY);
  const tokens = createTokenStore({ config, repo, vault });
  const ops = createOps({
    config,
    repo,
    tokens,
    clock,
    outbound,
    healthDispatcher,
    log: app.log,
    ...(mailer ? { sendEmail: mailer.send } : {}),
  });
  app.decorate('ops', ops);
  addAdminAuth(app, config.OPS_ADMIN_TOKEN);

  const pipeline = createPipeline(ops);
  const cycles = createCycles(ops, [() => pipeline.retryFailedPublishes(), () => pipeline.runApproved()]);
  const [lastCycle] = ops.repo.recentCycles(1);
  const scheduler = createScheduler({
    clock,
    auditIntervalMs: config.AUDIT_INTERVAL_SECONDS * 1000,
    cycleIntervalMs: Math.floor((24 * 3600 * 1000) / config.CYCLES_PER_DAY),
    jobs: { audit: () => ops.audit(), cycle: () => cycles.run('scheduled') },
    onError: (job, error) => app.log.error({ err: error }, `scheduled ${job} failed`),
    ...(lastCycle ? { lastCycleAt: new Date(lastCycle.startedAt) } : {}),
  });
  app.decorate('scheduler', scheduler);
  if (options.startScheduler ?? config.SCHEDULER) {
    app.addHook('onReady', async () => scheduler.start());
  }
  app.addHook('onClose', async () => {
    scheduler.stop();
    await ops.settled();
  });

  registerAuditRoutes(app);
  registerCycleRoutes(app, cycles);
  registerBillingRoutes(app, createBilling(ops, stripeConfig(config)));
  registerContentRoutes(app, pipeline);
  registerOwnerPage(app, { vault, pipeline });
  return app;
}
