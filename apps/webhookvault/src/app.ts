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
      id: 'webhookvault',
      title: 'WebhookVault',
      description: 'Webhook capture, inspection, replay and forwarding, payloads encrypted at rest.',
      version: packageJson.version,
    },
    database,
  });
  await app.register(billingPlugin, {
    database: app.database,
    catalog: plans,
    keyPrefix: 'wv',
    internalToken: config.INTERNAL_TOKEN,
  });
  return app;
}
