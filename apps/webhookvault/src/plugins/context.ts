import { setTimeout as delay } from 'node:timers/promises';
import {
  createOutboundClient,
  type OutboundAllowlist,
  type OutboundLookup,
  parseOutboundAllowlist,
} from '@studio/service-kit/outbound';
import type { FastifyInstance } from 'fastify';
import { CaptureStore } from '../capture/store';
import type { Clock } from '../clock';
import type { Config } from '../config';
import { DeliveryWorker } from '../delivery/worker';
import { createVaultRepository, type VaultRepository } from '../repository';
import { RetentionJob } from '../retention';
import { StreamTokens } from '../stream-token';
import { Vault } from '../vault';

export interface VaultContext {
  config: Config;
  clock: Clock;
  repository: VaultRepository;
  vault: Vault;
  store: CaptureStore;
  deliveries: DeliveryWorker;
  retention: RetentionJob;
  streamTokens: StreamTokens;
  allowlist: OutboundAllowlist;
  lookup?: OutboundLookup;
  /** Waits a custom response's `delayMs` (a timer by default; injected in tests). */
  sleep: (ms: number) => Promise<void>;
}

declare module 'fastify' {
  interface FastifyInstance {
    webhookvault: VaultContext;
  }
}

export interface ContextOptions {
  config: Config;
  clock: Clock;
  lookup?: OutboundLookup;
  random?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** Background timers (delivery polling, retention); tests turn them off and drive the jobs by hand. */
  background: boolean;
}

/**
 * Builds WebhookVault's services once, on the root instance (a plain function rather than a fastify-plugin,
 * which this app does not depend on), and closes them with the app: the outbox drains before the database.
 */
export function installContext(app: FastifyInstance, options: ContextOptions): void {
  const { config, clock } = options;
  const repository = createVaultRepository(app.database);
  const vault = new Vault(config.WEBHOOKVAULT_ENCRYPTION_KEY, config.WEBHOOKVAULT_PREVIOUS_KEYS ?? []);
  const allowlist = parseOutboundAllowlist(config.OUTBOUND_ALLOWLIST);
  const client = createOutboundClient({ allowlist, ...(options.lookup ? { lookup: options.lookup } : {}) });
  let worker: DeliveryWorker | undefined;
  const store = new CaptureStore(repository, vault, clock, () => worker?.kick());
  worker = new DeliveryWorker({
    repository,
    store,
    client,
    clock,
    log: app.log,
    pollMs: config.DELIVERY_POLL_MS,
    ...(options.random ? { random: options.random } : {}),
  });
  const retention = new RetentionJob(repository, app.billing, clock, app.log);

  app.decorate('webhookvault', {
    config,
    clock,
    repository,
    vault,
    store,
    deliveries: worker,
    retention,
    streamTokens: new StreamTokens(config.WEBHOOKVAULT_ENCRYPTION_KEY, clock),
    allowlist,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    sleep: options.sleep ?? ((ms: number) => delay(ms)),
  } satisfies VaultContext);

  // The outbox's health: deliveries that should have gone out a minute ago and have not mean the worker is
  // stuck or far behind. Non-critical: captures are still taken and kept, so this warns instead of failing.
  app.health.addProbe({
    name: 'outbox:overdue',
    componentType: 'component',
    critical: false,
    timeoutMs: 1000,
    check: () => {
      const overdue = repository.overdueDeliveries(clock.now() - 60_000);
      return {
        status: overdue.n > 0 ? 'warn' : 'pass',
        observedValue: overdue.n,
        observedUnit: 'deliveries',
        ...(overdue.n > 0 ? { output: `${overdue.n} deliveries are more than a minute overdue` } : {}),
      };
    },
  });

  if (options.background) {
    app.addHook('onReady', async () => {
      worker.start();
      retention.start(config.RETENTION_INTERVAL_MS);
    });
  }
  app.addHook('onClose', async () => {
    retention.stop();
    await worker.stop();
    await client.close();
  });
}
