import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServiceApp, parseConfig, type ServiceInstance, serviceConfigShape } from '@studio/service-kit';
import type { InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach, expect } from 'vitest';
import { z } from 'zod';
import { billingMigrations } from '../src/migrations';
import { definePlanCatalog, type PlanName } from '../src/plans';
import billingPlugin, { accountOf, type BillingPluginOptions } from '../src/plugin';

/**
 * Small limits so every quota is reached in a handful of requests: `widgets` is a current-total limit
 * (checked with `assertBelowLimit`), `rendersPerMonth` a monthly one (counted with `consumeMonthly`).
 */
export const testCatalog = definePlanCatalog(
  'testprod',
  { widgets: z.number().int().nonnegative(), rendersPerMonth: z.number().int().nonnegative() },
  {
    free: {
      title: 'Free',
      monthlyPriceUsd: 0,
      limits: { requestsPerMinute: 5, widgets: 2, rendersPerMonth: 3 },
    },
    pro: {
      title: 'Pro',
      monthlyPriceUsd: 9,
      limits: { requestsPerMinute: 50, widgets: 20, rendersPerMonth: 30 },
    },
    business: {
      title: 'Business',
      monthlyPriceUsd: 49,
      limits: { requestsPerMinute: 500, widgets: 200, rendersPerMonth: 300 },
    },
  },
  ['rendersPerMonth'],
);

export const keyPrefix = 'tp';
export const databaseFileName = 'testprod.sqlite';

const directories: string[] = [];
const apps: ServiceInstance[] = [];
afterEach(async () => {
  for (const app of apps.splice(0)) await app.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

export function randomEmail(label = 'user'): string {
  return `${label}-${randomBytes(6).toString('hex')}@example.com`;
}

export interface TestAccount {
  accountId: string;
  apiKey: string;
  email: string;
  plan: PlanName;
}

export type HarnessOptions = Partial<
  Pick<BillingPluginOptions, 'signupsPerHour' | 'anonymousRequestsPerMinute' | 'accountExtras' | 'now'>
> & {
  /** Reopen the data directory of an earlier (closed) harness, as a restarted service would. */
  dataDir?: string;
};

/**
 * A real service app (createServiceApp: SQLite file in a fresh temp dir, error envelope, health) with the
 * billing plugin and a tiny product scope that spends quotas, driven only through `app.inject()`.
 */
export async function buildBillingApp({ dataDir: reopened, ...pluginOptions }: HarnessOptions = {}) {
  const dataDir = reopened ?? mkdtempSync(join(tmpdir(), 'shared-billing-'));
  if (!reopened) directories.push(dataDir);
  const internalToken = randomBytes(32).toString('hex');
  const config = parseConfig('testprod', z.object(serviceConfigShape(0)), {
    DATA_DIR: dataDir,
    INTERNAL_TOKEN: internalToken,
  });

  const app = await createServiceApp({
    config,
    logger: false,
    service: { id: 'testprod', title: 'Test product', description: 'A product under test', version: '0.0.0' },
    database: { fileName: databaseFileName, migrations: [billingMigrations] },
  });
  apps.push(app);

  await app.register(billingPlugin, {
    database: app.database,
    catalog: testCatalog,
    keyPrefix,
    internalToken: config.INTERNAL_TOKEN,
    signupsPerHour: 3,
    // High by default so only the test about anonymous limits ever reaches it.
    anonymousRequestsPerMinute: 1000,
    // No timer flush during a test: usage reaches SQLite only through `billing.flushUsage()` or close.
    usageFlushIntervalMs: 60 * 60 * 1000,
    ...pluginOptions,
  });

  // What a product's own routes look like: authenticated, spending the plan's quotas.
  const widgetsByAccount = new Map<string, number>();
  await app.register(async (scope) => {
    scope.addHook('onRequest', scope.requireAccount);
    scope.post('/v1/widgets', async (request, reply) => {
      const account = accountOf(request);
      const existing = widgetsByAccount.get(account.id) ?? 0;
      scope.billing.assertBelowLimit(account, 'widgets', existing);
      widgetsByAccount.set(account.id, existing + 1);
      return reply.code(201).send({ widgets: existing + 1 });
    });
    scope.post<{ Body: { pages?: number } | undefined }>('/v1/renders', async (request, reply) => {
      const account = accountOf(request);
      scope.billing.consumeMonthly(account, 'rendersPerMonth', request.body?.pages ?? 1);
      return reply.code(201).send({ rendered: true });
    });
    scope.get('/v1/ping', async (request) => ({ accountId: accountOf(request).id }));
  });
  await app.ready();

  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  const harness = {
    app,
    dataDir,
    databaseFile: join(dataDir, databaseFileName),
    internalToken,

    /** Closes the app now (as on shutdown); the data directory stays until the test ends. */
    async close() {
      apps.splice(apps.indexOf(app), 1);
      await app.close();
    },

    /** A request with `Authorization: Bearer <apiKey>`. */
    call(apiKey: string, method: InjectOptions['method'], url: string, payload?: InjectOptions['payload']) {
      return app.inject({
        method,
        url,
        headers: bearer(apiKey),
        ...(payload === undefined ? {} : { payload }),
      });
    },

    /** A request to the internal contract with the right INTERNAL_TOKEN. */
    internal(method: InjectOptions['method'], url: string, payload?: InjectOptions['payload']) {
      return app.inject({
        method,
        url,
        headers: bearer(internalToken),
        ...(payload === undefined ? {} : { payload }),
      });
    },

    /** Self-serve signup from `remoteAddress` (each address has its own signup allowance). */
    signup(email: string, remoteAddress = '203.0.113.1') {
      return app.inject({ method: 'POST', url: '/v1/signup', payload: { email }, remoteAddress });
    },

    /** Provisions an account through the internal contract (no signup rate limit) and returns its ids. */
    async createAccount(plan: PlanName = 'free', email = randomEmail()): Promise<TestAccount> {
      const response = await harness.internal('POST', '/internal/accounts', { email, plan });
      if (response.statusCode !== 201) {
        throw new Error(`creating a ${plan} account failed: ${response.statusCode} ${response.body}`);
      }
      const body = response.json() as { accountId: string; apiKey: string; plan: PlanName };
      return { accountId: body.accountId, apiKey: body.apiKey, email, plan: body.plan };
    },

    /** Issues one more key for an account through the internal contract. */
    async createKey(accountId: string, readOnly = false): Promise<{ id: string; apiKey: string }> {
      const response = await harness.internal('POST', `/internal/accounts/${accountId}/keys`, { readOnly });
      if (response.statusCode !== 201) {
        throw new Error(`creating a key for ${accountId} failed: ${response.statusCode} ${response.body}`);
      }
      return response.json() as { id: string; apiKey: string };
    },
  };
  return harness;
}

export type BillingHarness = Awaited<ReturnType<typeof buildBillingApp>>;

/** The error envelope's body, typed loosely for assertions. */
export interface EnvelopeBody {
  error: { code: string; message: string; requestId: string; details?: { path: string; message: string }[] };
}

/** Asserts an error answer in the studio envelope and returns its `error`; failures show the whole body. */
export function expectError(
  response: LightMyRequestResponse,
  status: number,
  code: string,
): EnvelopeBody['error'] {
  const context = `${response.statusCode} ${response.body}`;
  expect(response.statusCode, context).toBe(status);
  const body = response.json() as EnvelopeBody;
  expect(body.error?.code, context).toBe(code);
  expect(body.error.requestId, `the envelope carries the request id: ${context}`).toBe(
    response.headers['x-request-id'],
  );
  expect(typeof body.error.message, context).toBe('string');
  return body.error;
}

/** Asserts a success status, showing the body when it is not, and returns the parsed body. */
export function expectStatus<Body = Record<string, unknown>>(
  response: LightMyRequestResponse,
  status: number,
): Body {
  expect(response.statusCode, `${response.statusCode} ${response.body}`).toBe(status);
  return (response.body === '' ? undefined : response.json()) as Body;
}
