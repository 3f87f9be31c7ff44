import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { afterEach } from 'vitest';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

export interface Harness {
  app: FastifyInstance;
  /** A fresh account; returns its admin key (the account key). */
  signup(): Promise<string>;
  admin(
    key: string,
    method: InjectOptions['method'],
    url: string,
    payload?: unknown,
  ): Promise<LightMyRequestResponse>;
  /** Creates an SDK token and returns its secret. */
  token(key: string, type: 'backend' | 'frontend', environment?: string): Promise<string>;
  listen(): Promise<string>;
  clock: { now: Date; advance(ms: number): void };
}

/** A FlagBit on a fresh SQLite file in a temp dir, with an injected clock. Closed after each test. */
export async function startFlagBit(environment: Record<string, string> = {}): Promise<Harness> {
  const directory = mkdtempSync(join(tmpdir(), 'flagbit-'));
  const clock = {
    now: new Date('2026-11-24T10:00:00.000Z'),
    advance(ms: number) {
      clock.now = new Date(clock.now.getTime() + ms);
    },
  };
  const config = loadConfig({ INTERNAL_TOKEN: 'i'.repeat(64), DATA_DIR: directory, ...environment });
  const app = await buildApp(config, { clock: () => clock.now });
  await app.ready();
  cleanups.push(async () => {
    await app.close();
    rmSync(directory, { recursive: true, force: true });
  });
  const harness: Harness = {
    app,
    clock,
    async signup() {
      const response = await app.inject({
        method: 'POST',
        url: '/v1/signup',
        payload: { email: `${randomUUID()}@example.com` },
      });
      if (response.statusCode !== 201) throw new Error(`signup failed: ${response.body}`);
      return response.json().apiKey as string;
    },
    admin(key, method, url, payload) {
      return app.inject({
        method,
        url,
        headers: { authorization: `Bearer ${key}` },
        ...(payload === undefined ? {} : { payload: payload as InjectOptions['payload'] }),
      });
    },
    async token(key, type, environmentName = 'development') {
      const response = await harness.admin(key, 'POST', '/api/admin/tokens', {
        type,
        environment: environmentName,
      });
      if (response.statusCode !== 201) throw new Error(`token failed: ${response.body}`);
      return response.json().secret as string;
    },
    async listen() {
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('expected a TCP address');
      return `http://127.0.0.1:${address.port}`;
    },
  };
  return harness;
}
