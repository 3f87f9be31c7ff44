import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { buildApp } from '../src/app';
import { ManualClock } from '../src/clock';
import { loadConfig } from '../src/config';

/** 2026-01-05 10:00:00 UTC, a Monday. */
export const T0 = Date.UTC(2026, 0, 5, 10, 0, 0);

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export function tempDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'cronping-test-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export async function startApp(
  environment: Record<string, string> = {},
  options: { clock?: ManualClock; dataDir?: string } = {},
) {
  const clock = options.clock ?? new ManualClock(T0);
  const config = loadConfig({
    INTERNAL_TOKEN: 'i'.repeat(64),
    DATA_DIR: options.dataDir ?? tempDir(),
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    PUBLIC_URL: 'https://cronping.test',
    ALERT_RETRY_BASE_MS: '1000',
    ALERT_MAX_ATTEMPTS: '3',
    // One test turns the background checkpointer on; a worker thread per test app would only slow the suite.
    WAL_CHECKPOINT_INTERVAL_MS: '0',
    ...environment,
  });
  const app = await buildApp(config, { clock });
  await app.ready();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await app.close();
  };
  cleanups.push(close);

  const signup = async (email = `owner-${Math.random().toString(36).slice(2)}@example.com`) => {
    const response = await app.inject({ method: 'POST', url: '/v1/signup', payload: { email } });
    if (response.statusCode !== 201) throw new Error(`signup failed: ${response.body}`);
    const { apiKey, accountId } = response.json() as { apiKey: string; accountId: string };
    const account = await app.inject({
      method: 'GET',
      url: '/v1/account',
      headers: { authorization: `Bearer ${apiKey}` },
    });
    const { pingKey } = account.json() as { pingKey: string };
    const readOnly = await app.inject({
      method: 'POST',
      url: '/v1/account/keys',
      headers: { authorization: `Bearer ${apiKey}` },
      payload: { readOnly: true },
    });
    return { apiKey, accountId, pingKey, readOnlyKey: (readOnly.json() as { apiKey: string }).apiKey };
  };

  const api = (key: string) => ({
    get: (url: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': key } }),
    post: (url: string, payload?: unknown) =>
      app.inject({
        method: 'POST',
        url,
        headers: { 'x-api-key': key },
        ...(payload === undefined ? {} : { payload: payload as object }),
      }),
    delete: (url: string) => app.inject({ method: 'DELETE', url, headers: { 'x-api-key': key } }),
  });

  const createCheck = async (key: string, body: Record<string, unknown> = {}) => {
    const response = await api(key).post('/api/v3/checks/', body);
    if (response.statusCode !== 201)
      throw new Error(`create failed: ${response.statusCode} ${response.body}`);
    return response.json() as { uuid: string; ping_url: string } & Record<string, unknown>;
  };

  const ping = (
    path: string,
    init: { method?: 'GET' | 'POST' | 'HEAD'; payload?: string; headers?: Record<string, string> } = {},
  ) =>
    app.inject({
      method: init.method ?? 'GET',
      url: `/ping/${path}`,
      payload: init.payload,
      headers: init.headers,
    });

  return { app, clock, close, signup, api, createCheck, ping };
}

export interface ReceivedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** A real HTTP receiver on 127.0.0.1: answers with the queued statuses (then 200) and records requests. */
export async function startReceiver(statuses: number[] = []) {
  const received: ReceivedRequest[] = [];
  const queue = [...statuses];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({
        method: request.method ?? '',
        url: request.url ?? '',
        headers: request.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      });
      response.statusCode = queue.shift() ?? 200;
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}/hook`, received };
}
