import { createServiceApp } from '@studio/service-kit';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import type { Config } from './config';
import { database } from './database';

export async function buildApp(config: Config, options: { logger?: FastifyBaseLogger | false } = {}) {
  return createServiceApp({
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
}
