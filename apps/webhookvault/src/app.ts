import { createServiceApp } from '@studio/service-kit';
import type { OutboundLookup } from '@studio/service-kit/outbound';
import { billingPlugin } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import { installCaptureListener } from './capture-listener';
import { type Clock, systemClock } from './clock';
import type { Config } from './config';
import { database } from './database';
import { plans } from './plans';
import { installContext } from './plugins/context';
import { captureRoutes } from './routes/captures';
import { deliveryRoutes } from './routes/deliveries';
import { endpointRoutes } from './routes/endpoints';
import { addCaptureMethods, ingestRoutes } from './routes/ingest';
import { streamRoutes } from './routes/stream';

export interface BuildOptions {
  logger?: FastifyBaseLogger | false;
  clock?: Clock;
  /** Resolver of outbound hostnames; tests inject one that answers what they need. */
  lookup?: OutboundLookup;
  /** Jitter source for retry delays, in [0, 1). */
  random?: () => number;
  /** Waits a custom response's `delayMs`; tests inject one they release by hand. */
  sleep?: (ms: number) => Promise<void>;
  /** Delivery polling and retention timers; on by default, off in tests that drive the jobs by hand. */
  background?: boolean;
}

export async function buildApp(config: Config, options: BuildOptions = {}) {
  const app = await createServiceApp({
    config,
    logger: options.logger,
    service: {
      id: 'webhookvault',
      title: 'WebhookVault',
      description: 'Webhook capture, inspection, replay and forwarding, payloads encrypted at rest.',
      version: packageJson.version,
    },
    database: { ...database, synchronous: config.WEBHOOKVAULT_SQLITE_SYNCHRONOUS },
  });
  addCaptureMethods(app);
  // As on the capture listener: every header of a capture is recorded, not only Node's first 1,000.
  app.server.maxHeadersCount = 0;
  // Before any route plugin, so its guard (capture routes only on the capture port) applies to all of them.
  installCaptureListener(app, config);
  await app.register(billingPlugin, {
    database: app.database,
    catalog: plans,
    keyPrefix: 'wv',
    internalToken: config.INTERNAL_TOKEN,
  });
  installContext(app, {
    config,
    clock: options.clock ?? systemClock,
    background: options.background ?? true,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  await app.register(ingestRoutes);
  await app.register(endpointRoutes);
  await app.register(captureRoutes);
  await app.register(deliveryRoutes);
  await app.register(streamRoutes);
  return app;
}
