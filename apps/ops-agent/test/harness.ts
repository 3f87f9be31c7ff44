import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServiceApp, type ServiceInstance } from '@studio/service-kit';
import { billingMigrations, billingPlugin, definePlanCatalog } from '@studio/shared-billing';
import { afterEach } from 'vitest';
import { z } from 'zod';
import { buildApp } from '../src/app';
import { type Clock, manualClock } from '../src/clock';
import { loadConfig } from '../src/config';

export const INTERNAL_TOKEN = 'internal-token-'.padEnd(48, 'x');
export const ADMIN_TOKEN = 'admin-token-'.padEnd(48, 'a');
export const VAULT_KEY = Buffer.alloc(32, 7).toString('base64');
export const admin = { authorization: `Bearer ${ADMIN_TOKEN}` };

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
export function onCleanup(fn: () => Promise<void> | void) {
  cleanups.push(fn);
}

export function tempDir(prefix = 'ops-agent-', parent = tmpdir()): string {
  const directory = mkdtempSync(join(parent, prefix));
  onCleanup(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export function agentEnv(
  overrides: Record<string, string | undefined> = {},
): Record<string, string | undefined> {
  return {
    INTERNAL_TOKEN,
    OPS_ADMIN_TOKEN: ADMIN_TOKEN,
    OPS_VAULT_KEY: VAULT_KEY,
    DATA_DIR: tempDir(),
    SCHEDULER: 'false',
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    ...overrides,
  };
}

/** The agent on a fresh SQLite file with a manual clock; closed after the test. */
export async function startAgent(
  overrides: Record<string, string | undefined> = {},
  options: { clock?: Clock; listen?: boolean } = {},
) {
  const clock = options.clock ?? manualClock('2026-11-24T10:00:00.000Z');
  const config = loadConfig(agentEnv(overrides));
  const app = await buildApp(config, { logger: false, clock, startScheduler: false });
  onCleanup(() => app.close());
  await app.ready();
  let url = '';
  if (options.listen) {
    await app.listen({ host: '127.0.0.1', port: 0 });
    url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  }
  return { app, clock: clock as ReturnType<typeof manualClock>, config, url };
}

const productCatalog = definePlanCatalog(
  'testproduct',
  { things: z.number().int().positive() },
  {
    free: { title: 'Free', monthlyPriceUsd: 0, limits: { requestsPerMinute: 600, things: 1 } },
    pro: { title: 'Pro', monthlyPriceUsd: 9, limits: { requestsPerMinute: 600, things: 10 } },
    business: { title: 'Business', monthlyPriceUsd: 49, limits: { requestsPerMinute: 600, things: 100 } },
  },
);

/**
 * A real product server: the studio's service kit with the shared billing plugin, exactly the foundation
 * every product app is built on (health contract, internal provisioning contract), on a real socket. It
 * can be stopped and started again on the same port and database, like a product that crashes and comes
 * back.
 */
export async function startProduct(name: string) {
  const dataDir = tempDir(`${name}-`);
  let app: ServiceInstance | undefined;
  let port = 0;
  const start = async () => {
    app = await createServiceApp({
      config: {
        DATA_DIR: dataDir,
        INTERNAL_TOKEN,
        TRUST_PROXY: false,
        SQLITE_WRITE_RATE_WARN: 200,
        SQLITE_BUSY_WARN: 1,
        SQLITE_WAL_WARN_BYTES: 1 << 28,
        DISK_WARN_PERCENT: 99,
        DISK_FAIL_PERCENT: 100,
        MEMORY_WARN_BYTES: 2 ** 40,
        EVENTLOOP_WARN_MS: 10_000,
      },
      logger: false,
      service: { id: name, title: name, description: `${name} (test product)`, version: '0.0.0' },
      database: { fileName: `${name}.sqlite`, migrations: [billingMigrations] },
    });
    await app.register(billingPlugin, {
      database: app.database,
      catalog: productCatalog,
      keyPrefix: 'tp',
      internalToken: INTERNAL_TOKEN,
    });
    await app.listen({ host: '127.0.0.1', port });
    port = (app.server.address() as AddressInfo).port;
  };
  const stop = async () => {
    await app?.close();
    app = undefined;
  };
  await start();
  onCleanup(stop);
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    start,
    stop,
    async createAccount(email: string) {
      const response = await fetch(`${url}/internal/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email, plan: 'free' }),
      });
      if (response.status !== 201)
        throw new Error(`createAccount: ${response.status} ${await response.text()}`);
      return ((await response.json()) as { accountId: string }).accountId;
    },
    async planOf(accountId: string) {
      const response = await fetch(`${url}/internal/accounts/${accountId}`, {
        headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
      });
      return ((await response.json()) as { plan: string }).plan;
    },
    /** `active` or `suspended`, as the product's internal contract reports it. */
    async statusOf(accountId: string) {
      const response = await fetch(`${url}/internal/accounts/${accountId}`, {
        headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
      });
      return ((await response.json()) as { status: string }).status;
    },
  };
}

export interface Recorded {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A local HTTP server whose answers a test scripts; it records every request it gets. */
export async function startReceiver(
  handler: (request: Recorded, response: ServerResponse) => void | Promise<void> = (_request, response) => {
    response.writeHead(200, { 'content-type': 'application/json' }).end('{}');
  },
) {
  const requests: Recorded[] = [];
  let current = handler;
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const recorded = {
        method: request.method ?? 'GET',
        url: request.url ?? '/',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      };
      requests.push(recorded);
      Promise.resolve(current(recorded, response)).catch((error: Error) => {
        response.writeHead(500).end(error.message);
      });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    setHandler(next: typeof handler) {
      current = next;
    },
  };
}

export function json(response: ServerResponse, status: number, body: unknown) {
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
}
