import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkHealth } from '@studio/health';
import { buildApp as buildCronping } from 'cronping/src/app';
import { loadConfig as loadCronpingConfig } from 'cronping/src/config';
import { buildApp as buildDocumint } from 'documint/src/app';
import { loadConfig as loadDocumintConfig } from 'documint/src/config';
import type { FastifyInstance } from 'fastify';
import { buildApp as buildFlagbit } from 'flagbit/src/app';
import { loadConfig as loadFlagbitConfig } from 'flagbit/src/config';
import { buildApp as buildOpsAgent } from 'ops-agent/src/app';
import { loadConfig as loadOpsAgentConfig } from 'ops-agent/src/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildWebhookvault } from 'webhookvault/src/app';
import { loadConfig as loadWebhookvaultConfig } from 'webhookvault/src/config';
import {
  caddyAvailable,
  freePort,
  internalToken,
  type RunningProcess,
  repositoryRoot,
  startProcess,
  studioEnvironment,
  tempDirectory,
  waitForOk,
} from './studio-harness';

// CI installs caddy and must run this; a developer machine without it skips with a reason.
const hasCaddy = caddyAvailable();
if (!hasCaddy && process.env.CI)
  throw new Error('caddy is not installed, and CI must run the Caddy end-to-end tests');

const builders = {
  OPS_AGENT: async (env: Record<string, string>) => buildOpsAgent(loadOpsAgentConfig(env)),
  DOCUMINT: async (env: Record<string, string>) => buildDocumint(loadDocumintConfig(env)),
  CRONPING: async (env: Record<string, string>) => buildCronping(loadCronpingConfig(env)),
  FLAGBIT: async (env: Record<string, string>) => buildFlagbit(loadFlagbitConfig(env)),
  WEBHOOKVAULT: async (env: Record<string, string>) => buildWebhookvault(loadWebhookvaultConfig(env)),
} as const;

describe.skipIf(!hasCaddy)('the studio behind Caddy', () => {
  const dataDir = tempDirectory('caddy');
  const apps = new Map<string, FastifyInstance>();
  const requestsSeen = new Map<string, string[]>();
  let caddy: RunningProcess;
  let base = '';

  beforeAll(async () => {
    const upstreams: Record<string, string> = {};
    for (const [name, build] of Object.entries(builders)) {
      const app = await build(studioEnvironment(join(dataDir, name.toLowerCase())));
      const seen: string[] = [];
      app.addHook('onRequest', async (request) => {
        seen.push(request.url);
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('expected a TCP address');
      upstreams[`${name}_UPSTREAM`] = `127.0.0.1:${address.port}`;
      apps.set(name, app);
      requestsSeen.set(name, seen);
    }
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    caddy = startProcess(
      'caddy',
      ['run', '--config', join(repositoryRoot, 'infra', 'Caddyfile'), '--adapter', 'caddyfile'],
      {
        ...upstreams,
        CADDY_ADDRESS: `http://127.0.0.1:${port}`,
        CADDY_ADMIN: 'off',
        HOME: dataDir,
        XDG_DATA_HOME: dataDir,
      },
    );
    await waitForOk(`${base}/caddy/health`, caddy);
  }, 60_000);

  afterAll(async () => {
    caddy?.child.kill('SIGTERM');
    await caddy?.exited;
    for (const app of apps.values()) await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['/ops', 'ops-agent'],
    ['/documint', 'documint'],
    ['/cronping', 'cronping'],
    ['/flagbit', 'flagbit'],
    ['/webhookvault', 'webhookvault'],
  ])('routes %s/health to %s, and the health client validates the report', async (prefix, serviceId) => {
    const outcome = await checkHealth(`${base}${prefix}/health`);
    expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
    if (outcome.ok) expect(outcome.report.serviceId).toBe(serviceId);
  });

  it('carries a signup and an authenticated request through the proxy', async () => {
    const signup = await fetch(`${base}/cronping/v1/signup`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'through-caddy@example.com' }),
    });
    expect(signup.status).toBe(201);
    const { apiKey, accountId } = (await signup.json()) as { apiKey: string; accountId: string };
    const account = await fetch(`${base}/cronping/v1/account`, {
      headers: { authorization: `Bearer ${apiKey}` },
    });
    expect(account.status).toBe(200);
    expect(((await account.json()) as { accountId: string }).accountId).toBe(accountId);
  });

  it('keeps the caller request id across the proxy', async () => {
    const response = await fetch(`${base}/flagbit/livez`, { headers: { 'x-request-id': 'trace-abc-123' } });
    expect(response.headers.get('x-request-id')).toBe('trace-abc-123');
  });

  it.each([
    '/cronping/internal/accounts',
    '/cronping/INTERNAL/accounts',
    '/cronping/Internal',
    '/documint//internal/accounts',
    '/flagbit/%69nternal/accounts',
    '/internal/accounts',
  ])('never forwards %s to an app, even with the internal token', async (path) => {
    const before = [...requestsSeen.values()].flat().length;
    const response = await fetch(`${base}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${internalToken}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'intruder@example.com', plan: 'business' }),
    });
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found');
    const internalHits = [...requestsSeen.values()]
      .flat()
      .filter((url) => /internal/i.test(decodeURIComponent(url)));
    expect(internalHits, 'no app saw an internal request').toEqual([]);
    expect([...requestsSeen.values()].flat().length).toBe(before);
  });

  it('answers an unknown product path itself with the error envelope', async () => {
    const response = await fetch(`${base}/nothing-here`);
    expect(response.status).toBe(404);
    expect(((await response.json()) as { error: { code: string } }).error.code).toBe('not_found');
  });
});
