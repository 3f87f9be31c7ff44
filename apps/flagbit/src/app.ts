import { createServiceApp, type ServiceInstance } from '@studio/service-kit';
import { billingPlugin } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import type { Config } from './config';
import { database } from './database';
import { plans } from './plans';
import flagbitPlugin from './plugins/flagbit';
import { adminRoutes } from './routes/admin/index';
import { registerClientRoutes } from './routes/sdk/client';
import { registerFrontendRoutes } from './routes/sdk/frontend';
import { ofrepRoutes } from './routes/sdk/ofrep';
import { registerStreamingRoutes } from './routes/sdk/streaming';

export interface BuildOptions {
  logger?: FastifyBaseLogger | false;
  /** The clock every timestamp and DATE_* constraint reads; tests inject one. */
  clock?: () => Date;
}

export async function buildApp(config: Config, options: BuildOptions = {}) {
  const clock = options.clock ?? (() => new Date());
  const app = await createServiceApp({
    config,
    logger: options.logger,
    service: {
      id: 'flagbit',
      title: 'FlagBit',
      description: 'Feature flags: environments, targeting rules, percentage rollouts, an evaluation API.',
      version: packageJson.version,
    },
    database,
    securitySchemes: { sdkToken: { type: 'apiKey', in: 'header', name: 'Authorization' } },
  });
  await app.register(billingPlugin, {
    database: app.database,
    catalog: plans,
    keyPrefix: 'fb',
    internalToken: config.INTERNAL_TOKEN,
    // The month a monthly allowance is counted in follows the same clock as everything else.
    now: clock,
  });
  await app.register(flagbitPlugin, {
    clock,
    failedTokensPerMinute: config.SDK_FAILED_TOKENS_PER_MINUTE,
    streamingHistoryRevisions: config.STREAMING_HISTORY_REVISIONS,
  });
  const typed = app as ServiceInstance;
  await typed.register(async (scope) => adminRoutes(scope as ServiceInstance));
  registerClientRoutes(typed);
  registerStreamingRoutes(typed, { heartbeatMs: config.STREAMING_HEARTBEAT_MS });
  registerFrontendRoutes(typed);
  await typed.register(async (scope) => ofrepRoutes(scope as ServiceInstance));
  return app;
}
