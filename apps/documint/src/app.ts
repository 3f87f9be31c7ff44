import { join } from 'node:path';
import type { Probe } from '@studio/health';
import { createServiceApp } from '@studio/service-kit';
import { createOutboundClient, parseOutboundAllowlist } from '@studio/service-kit/outbound';
import { billingPlugin } from '@studio/shared-billing';
import type { FastifyBaseLogger } from 'fastify';
import packageJson from '../package.json' with { type: 'json' };
import type { Config } from './config';
import { database } from './database';
import { DocumentService } from './documents-service';
import { ChromiumEngine } from './engines/chromium';
import { bundledFontFiles, TypstPool } from './engines/typst-pool';
import { plans } from './plans';
import { Renderer } from './rendering/renderer';
import { DataValidator } from './rendering/validation';
import { createDocumintRepository } from './repository';
import { registerAssetRoutes } from './routes/assets';
import { registerDocumentRoutes } from './routes/documents';
import { registerTemplateRoutes } from './routes/templates';
import { createUrlSigner } from './signed-urls';
import { createAssetStorage, createDocumentStorage } from './storage';

export interface BuildOptions {
  logger?: FastifyBaseLogger | false;
  /** The clock every timestamp, signed-link expiry and PDF creation date reads. */
  now?: () => Date;
  /** Delays before each callback attempt (first, then retries). */
  callbackDelaysMs?: number[];
}

declare module 'fastify' {
  interface FastifyInstance {
    documint: {
      documents: DocumentService;
      typst: TypstPool;
      chromium: ChromiumEngine;
      /** Deletes documents past their plan's retention now (it also runs on a timer). */
      sweepExpired(): Promise<number>;
    };
  }
}

export async function buildApp(config: Config, options: BuildOptions = {}) {
  const now = options.now ?? (() => new Date());
  const app = await createServiceApp({
    config,
    logger: options.logger,
    service: {
      id: 'documint',
      title: 'DocuMint',
      description: 'Templates and JSON data in, PDF documents out.',
      version: packageJson.version,
    },
    database,
    bodyLimit: config.MAX_BODY_BYTES,
  });
  await app.register(billingPlugin, {
    database: app.database,
    catalog: plans,
    keyPrefix: 'dm',
    internalToken: config.INTERNAL_TOKEN,
  });

  const repository = createDocumintRepository(app.database);
  const storage = createDocumentStorage(config.DATA_DIR);
  const assets = createAssetStorage(config.DATA_DIR);
  const signer = createUrlSigner(config.INTERNAL_TOKEN);
  const validator = new DataValidator();
  // Both engines start lazily, on their first document: an app that only serves health checks and
  // account routes spawns no compiler and no browser.
  const typst = new TypstPool({
    workers: config.TYPST_WORKERS,
    maxDocumentsPerWorker: config.TYPST_MAX_DOCUMENTS_PER_WORKER,
    maxWorkerRssBytes: config.TYPST_WORKER_MAX_RSS_BYTES,
    timeoutMs: config.RENDER_TIMEOUT_MS,
    maxQueue: config.RENDER_QUEUE_LIMIT,
    workspace: join(config.DATA_DIR, 'typst-workspace'),
  });
  const chromium = new ChromiumEngine({
    executablePath: config.CHROMIUM_PATH,
    pages: config.CHROMIUM_PAGES,
    timeoutMs: config.RENDER_TIMEOUT_MS,
    fontFiles: bundledFontFiles(),
  });
  const renderer = new Renderer({ typst, chromium, validator, now });
  const outbound = createOutboundClient({
    allowlist: parseOutboundAllowlist(config.OUTBOUND_ALLOWLIST),
    timeoutMs: config.CALLBACK_TIMEOUT_MS,
  });
  const documents = new DocumentService({
    repository,
    storage,
    assets,
    renderer,
    billing: app.billing,
    signer,
    outbound,
    now,
    log: app.log,
    // Immediately, then 5 s, 30 s, 2 min, 10 min, 1 h, 6 h: a receiver down for an afternoon still gets it.
    callbackDelaysMs: options.callbackDelaysMs ?? [0, 5_000, 30_000, 120_000, 600_000, 3_600_000, 21_600_000],
    callbackTimeoutMs: config.CALLBACK_TIMEOUT_MS,
    callbackPollIntervalMs: config.CALLBACK_POLL_INTERVAL_MS,
    asyncConcurrency: config.TYPST_WORKERS * 2,
  });

  const typstProbe: Probe = {
    name: 'typst:workers',
    componentType: 'component',
    critical: false,
    timeoutMs: 1000,
    async check() {
      const stats = typst.stats();
      return {
        status: stats.queued >= config.RENDER_QUEUE_LIMIT ? 'warn' : 'pass',
        observedValue: stats.busy,
        observedUnit: 'busy workers',
        output: `${stats.workers} workers, ${stats.queued} queued, ${stats.documents} documents, ${stats.recycled} recycled, ${stats.crashed} crashed`,
      };
    },
  };
  app.health.addProbe(typstProbe);
  // Non-critical: a stuck outbox delays callbacks but every document still renders and downloads.
  const outboxProbe: Probe = {
    name: 'callbacks:outbox',
    componentType: 'component',
    critical: false,
    timeoutMs: 1000,
    async check() {
      const pending = repository.pendingCallbacks();
      const overdue = repository.overdueCallbacks(new Date(now().getTime() - 5 * 60_000).toISOString());
      return {
        status: overdue > 0 ? 'warn' : 'pass',
        observedValue: pending,
        observedUnit: 'pending callbacks',
        output: `${pending} pending, ${overdue} overdue by more than 5 minutes`,
      };
    },
  };
  app.health.addProbe(outboxProbe);

  registerTemplateRoutes(app, { repository, validator, renderer, now });
  registerAssetRoutes(app, { repository, storage: assets, now, maxAssetsPerAccount: 1000 });
  registerDocumentRoutes(app, {
    service: documents,
    repository,
    storage,
    signer,
    now,
    publicUrl: config.PUBLIC_URL,
    outboundAllowlist: config.OUTBOUND_ALLOWLIST,
    renderTimeoutMs: config.RENDER_TIMEOUT_MS,
  });

  const retentionDays = (plan: string) => plans.plans[plan as keyof typeof plans.plans]?.limits.retentionDays;
  const sweep = async () => {
    try {
      const deleted = await documents.sweepExpired(retentionDays);
      if (deleted > 0) app.log.info({ deleted }, 'deleted documents past their retention');
    } catch (error) {
      app.log.error({ err: error }, 'retention sweep failed');
    }
  };
  app.decorate('documint', {
    documents,
    typst,
    chromium,
    sweepExpired: () => documents.sweepExpired(retentionDays),
  });
  let sweepTimer: NodeJS.Timeout | undefined;
  app.addHook('onReady', async () => {
    const resumed = documents.resumeQueued((id) => app.billing.repository.findAccount(id));
    if (resumed > 0) app.log.info({ resumed }, 'resumed queued documents');
    const pendingCallbacks = repository.pendingCallbacks();
    if (pendingCallbacks > 0) app.log.info({ pendingCallbacks }, 'callbacks waiting in the outbox');
    documents.startDelivery();
    sweepTimer = setInterval(() => void sweep(), config.RETENTION_SWEEP_INTERVAL_MS);
    sweepTimer.unref();
  });
  // Runs before the database closes (hooks added later run earlier on close).
  app.addHook('onClose', async () => {
    clearInterval(sweepTimer);
    await documents.close();
    await Promise.all([typst.close(), chromium.close(), outbound.close()]);
  });
  return app;
}
