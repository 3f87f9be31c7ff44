import { createServiceApp } from '@studio/service-kit';
import { billingPlugin } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import type { Config } from './config';
import { database } from './database';
import { plans } from './plans';

export async function buildApp(config: Config, options: { logger?: FastifyBaseLogger | false } = {}) {
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
  });
  await app.register(billingPlugin, {
    database: app.database,
    catalog: plans,
    keyPrefix: 'cp',
    internalToken: config.INTERNAL_TOKEN,
  });
  return app;
}
