import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkHealth } from '@studio/health';
import type { FastifyInstance } from 'fastify';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError } from '../config';

export { freePort } from './ports';

export interface ServiceUnderTest<Config> {
  name: string;
  loadConfig(environment: Record<string, string | undefined>): Config;
  buildApp(config: Config): Promise<FastifyInstance>;
  /** Variables the service requires besides INTERNAL_TOKEN and DATA_DIR. */
  requiredEnvironment?: Record<string, string>;
  /** Whether the service carries customer accounts (the billing plugin). */
  hasAccounts: boolean;
}

/**
 * The contract every studio service keeps, run against each app from its own test file: config refusals,
 * the health endpoints over a real socket, the error envelope, docs, and self-serve signup.
 */
export function describeServiceContract<Config>(service: ServiceUnderTest<Config>) {
  const directories: string[] = [];
  const apps: FastifyInstance[] = [];
  afterEach(async () => {
    for (const app of apps.splice(0)) await app.close();
    for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
  });

  const environment = (overrides: Record<string, string | undefined> = {}) => {
    const directory = mkdtempSync(join(tmpdir(), `${service.name}-`));
    directories.push(directory);
    return {
      INTERNAL_TOKEN: 'i'.repeat(64),
      DATA_DIR: directory,
      ...service.requiredEnvironment,
      ...overrides,
    };
  };
  const start = async () => {
    const app = await service.buildApp(service.loadConfig(environment()));
    apps.push(app);
    await app.ready();
    return app;
  };

  describe(`${service.name} service contract`, () => {
    it('refuses to start with an empty INTERNAL_TOKEN, naming the variable', () => {
      expect(() => service.loadConfig(environment({ INTERNAL_TOKEN: '' }))).toThrow(ConfigError);
      expect(() => service.loadConfig(environment({ INTERNAL_TOKEN: '' }))).toThrow(
        /INTERNAL_TOKEN is set but empty/,
      );
    });

    it('refuses an INTERNAL_TOKEN shorter than 32 bytes', () => {
      expect(() => service.loadConfig(environment({ INTERNAL_TOKEN: 'too-short' }))).toThrow(
        /INTERNAL_TOKEN is 9 bytes long; it needs at least 32 bytes/,
      );
    });

    it('serves /livez, /readyz and a /health report the health client validates, over a real socket', async () => {
      const app = await start();
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('expected a TCP address');
      const base = `http://127.0.0.1:${address.port}`;
      for (const path of ['/livez', '/readyz', '/health']) {
        const outcome = await checkHealth(`${base}${path}`);
        expect(outcome.ok, `${path}: ${JSON.stringify(outcome)}`).toBe(true);
        if (outcome.ok) expect(outcome.report.status, path).not.toBe('fail');
      }
      const health = await checkHealth(`${base}/health`);
      if (health.ok) expect(health.report.serviceId).toBe(service.name);
    });

    it('answers /readyz with 503 once draining begins', async () => {
      const app = await start();
      app.health.beginDrain();
      const response = await app.inject({ method: 'GET', url: '/readyz' });
      expect(response.statusCode).toBe(503);
    });

    it('answers an unknown route with the studio error envelope', async () => {
      const app = await start();
      const response = await app.inject({ method: 'GET', url: '/no-such-route' });
      expect(response.statusCode).toBe(404);
      expect(response.json()).toEqual({
        error: { code: 'not_found', message: expect.any(String), requestId: expect.any(String) },
      });
    });

    it('publishes its OpenAPI document at /docs/json', async () => {
      const app = await start();
      const response = await app.inject({ method: 'GET', url: '/docs/json' });
      expect(response.statusCode).toBe(200);
      expect(response.json().openapi).toMatch(/^3\./);
    });

    if (service.hasAccounts) {
      it('signs up a free account whose key resolves to it, and hides internal routes from the docs', async () => {
        const app = await start();
        const signup = await app.inject({
          method: 'POST',
          url: '/v1/signup',
          payload: { email: 'owner@example.com' },
        });
        expect(signup.statusCode, signup.body).toBe(201);
        const { apiKey, accountId } = signup.json();
        const account = await app.inject({
          method: 'GET',
          url: '/v1/account',
          headers: { authorization: `Bearer ${apiKey}` },
        });
        expect(account.statusCode, account.body).toBe(200);
        expect(account.json()).toMatchObject({ accountId, plan: 'free', status: 'active' });
        const docs = (await app.inject({ method: 'GET', url: '/docs/json' })).json();
        expect(Object.keys(docs.paths).filter((path) => path.startsWith('/internal'))).toEqual([]);
      });
    }
  });
}
