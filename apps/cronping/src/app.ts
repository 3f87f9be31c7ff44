import { createServiceApp, type ServiceInstance } from '@studio/service-kit';
import { billingPlugin } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import { type Clock, systemClock } from './clock';
import type { Config } from './config';
import { database } from './database';
import { plans } from './plans';
import monitorPlugin from './plugins/monitor';
import { registerManagementApi } from './routes/api';
import { registerBadgeRoutes } from './routes/badges';
import { registerPingRoutes } from './routes/ping';

export interface BuildOptions {
  logger?: FastifyBaseLogger | false;
  /** Where time comes from; tests pass a ManualClock. */
  clock?: Clock;
}

export async function buildApp(config: Config, options: BuildOptions = {}) {
  const app = await createServiceApp({
    config,
    logger: options.logger,
    service: {
      id: 'cronping',
      title: 'CronPing',
      description: 'Cron-job and heartbeat monitoring: a missed ping raises an alert.',
      version: packageJson.version,
    },
    database,
    securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-Api-Key' } },
  });
  await app.register(billingPlugin, {
    database: app.database,
    catalog: plans,
    keyPrefix: 'cp',
    internalToken: config.INTERNAL_TOKEN,
    // The ping key of the slug ping URLs (/ping/<ping key>/<slug>), as healthchecks shows it per project.
    accountExtras: (account) => ({ pingKey: app.monitor.repository.accountKeys(account.id).pingKey }),
  });
  await app.register(monitorPlugin, { config, clock: options.clock ?? systemClock });

  // The ping routes replace the content-type parsers, so they live in their own encapsulated scope.
  await app.register(async (scope) => {
    registerPingRoutes(scope as ServiceInstance, { bodyLimit: config.PING_BODY_LIMIT });
  });
  registerManagementApi(app, config);
  registerBadgeRoutes(app);
  return app;
}
