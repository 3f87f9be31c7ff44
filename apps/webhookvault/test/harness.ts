import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { OutboundLookup } from '@studio/service-kit/outbound';
import { afterEach, expect } from 'vitest';
import { buildApp } from '../src/app';
import type { CaptureView } from '../src/capture/store';
import { ManualClock } from '../src/clock';
import { loadConfig } from '../src/config';

export const TEST_KEY = Buffer.alloc(32, 7);
export const START_MS = Date.parse('2026-11-24T10:00:00.000Z');

type App = Awaited<ReturnType<typeof buildApp>>;

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export function tempDirectory(): string {
  const directory = mkdtempSync(join(tmpdir(), 'webhookvault-test-'));
  cleanups.push(() => rmSync(directory, { recursive: true, force: true }));
  return directory;
}

export function testEnvironment(directory: string, overrides: Record<string, string> = {}) {
  return {
    INTERNAL_TOKEN: 'i'.repeat(64),
    DATA_DIR: directory,
    WEBHOOKVAULT_ENCRYPTION_KEY: TEST_KEY.toString('base64'),
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    ...overrides,
  };
}

export interface Harness {
  app: App;
  clock: ManualClock;
  directory: string;
}

export async function startApp(
  options: {
    env?: Record<string, string>;
    directory?: string;
    lookup?: OutboundLookup;
    sleep?: (ms: number) => Promise<void>;
    listen?: boolean;
  } = {},
): Promise<Harness> {
  const directory = options.directory ?? tempDirectory();
  const clock = new ManualClock(START_MS);
  const app = await buildApp(loadConfig(testEnvironment(directory, options.env)), {
    clock,
    background: false,
    random: () => 0.5,
    ...(options.lookup ? { lookup: options.lookup } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
  });
  cleanups.push(() => app.close());
  if (options.listen) await app.listen({ host: '127.0.0.1', port: 0 });
  else await app.ready();
  return { app, clock, directory };
}

export function baseUrlOf(app: App): string {
  const address = app.server.address() as AddressInfo;
  return `http://127.0.0.1:${address.port}`;
}

/** A fresh account with a random email, created through the billing repository (no signup rate limit). */
export function signUp(app: App, plan: 'free' | 'pro' | 'business' = 'pro') {
  const email = `${Math.random().toString(36).slice(2)}@example.com`;
  const { account, apiKey } = app.billing.repository.createAccount(email, plan);
  return { accountId: account.id, apiKey, headers: { authorization: `Bearer ${apiKey}` } };
}

export async function createEndpoint(
  app: App,
  headers: Record<string, string>,
  body: Record<string, unknown> = { name: 'test endpoint' },
) {
  const response = await app.inject({ method: 'POST', url: '/v1/endpoints', headers, payload: body });
  if (response.statusCode !== 201)
    throw new Error(`endpoint creation failed: ${response.statusCode} ${response.body}`);
  return response.json() as { id: string; token: string; url: string };
}

/** One capture through the inspection API (`GET /v1/captures/:id`), expected to be there. */
export async function getCapture(app: App, captureId: string, headers: Record<string, string>) {
  const response = await app.inject({ method: 'GET', url: `/v1/captures/${captureId}`, headers });
  expect(response.statusCode, response.body).toBe(200);
  return response.json() as CaptureView;
}

export interface Received {
  method: string;
  url: string;
  rawHeaders: string[];
  body: Buffer;
}

/** A real HTTP receiver on 127.0.0.1:0 that records requests and answers with `respond`. */
export async function startReceiver(
  respond: (
    request: Received,
    index: number,
  ) => { status: number; headers?: Record<string, string> } = () => ({
    status: 200,
  }),
) {
  const received: Received[] = [];
  const waiters: (() => void)[] = [];
  const server: Server = createServer((request: IncomingMessage, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = {
        method: request.method ?? '',
        url: request.url ?? '',
        rawHeaders: request.rawHeaders,
        body: Buffer.concat(chunks),
      };
      received.push(entry);
      const answer = respond(entry, received.length - 1);
      response.writeHead(answer.status, answer.headers);
      response.end();
      for (const waiter of waiters.splice(0)) waiter();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    received,
    /** Resolves once `count` requests have arrived. */
    async waitFor(count: number): Promise<void> {
      while (received.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}

export function onCleanup(cleanup: () => Promise<void> | void): void {
  cleanups.push(cleanup);
}

export interface SseEvent {
  id: string;
  event: string;
  data: { id: string; path: string; bodyText?: string };
}

/** Opens an SSE stream over a real socket and collects its events. */
export function openStream(url: string, headers: Record<string, string>) {
  const events: SseEvent[] = [];
  const waiters: (() => void)[] = [];
  let buffer = '';
  let status = 0;
  const request = httpRequest(url, { headers });
  const ready = new Promise<void>((resolve, reject) => {
    request.on('response', (response) => {
      status = response.statusCode ?? 0;
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        buffer += chunk;
        let end = buffer.indexOf('\n\n');
        while (end !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const fields: Record<string, string> = Object.fromEntries(
            block
              .split('\n')
              .filter((line) => line !== '' && !line.startsWith(':'))
              .map((line) => [
                line.slice(0, line.indexOf(':')),
                line.slice(line.indexOf(':') + 1).trimStart(),
              ]),
          );
          if (fields.event === 'capture') {
            events.push({
              id: fields.id ?? '',
              event: fields.event,
              data: JSON.parse(fields.data ?? 'null'),
            });
            for (const waiter of waiters.splice(0)) waiter();
          }
          end = buffer.indexOf('\n\n');
        }
      });
      resolve();
    });
    request.on('error', reject);
  });
  request.end();
  const close = () => {
    request.destroy();
  };
  onCleanup(close);
  return {
    events,
    ready,
    status: () => status,
    close,
    async waitFor(count: number) {
      while (events.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    },
  };
}
