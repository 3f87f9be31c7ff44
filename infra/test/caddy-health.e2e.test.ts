import { rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { buildApp as buildCronping } from 'cronping/src/app';
import { loadConfig as loadCronpingConfig } from 'cronping/src/config';
import type { FastifyInstance } from 'fastify';
import { buildApp as buildFlagbit } from 'flagbit/src/app';
import { loadConfig as loadFlagbitConfig } from 'flagbit/src/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caddyAvailable,
  freePort,
  type RunningProcess,
  startCaddy,
  studioEnvironment,
  tempDirectory,
  waitForOk,
} from './studio-harness';

const hasCaddy = caddyAvailable();
if (!hasCaddy && process.env.CI)
  throw new Error('caddy is not installed, and CI must run the Caddy end-to-end tests');

/** The app requests Caddy forwarded, leaving out its own health checks of /readyz. */
function recordForwarded(app: FastifyInstance): string[] {
  const seen: string[] = [];
  app.addHook('onRequest', async (request) => {
    if (request.url !== '/readyz') seen.push(request.url);
  });
  return seen;
}

function portOf(app: FastifyInstance): number {
  const address = app.server.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP address');
  return address.port;
}

/** Polls (bounded) until Caddy's answer for `url` has `status`: waits for a health check to run, not for time. */
async function untilStatus(url: string, status: number, attempts = 200): Promise<Response> {
  let last: Response | undefined;
  for (let attempt = 0; attempt < attempts; attempt++) {
    last = await fetch(url);
    if (last.status === status) return last;
    await last.arrayBuffer();
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never answered ${status} (last ${last?.status})`);
}

async function expectCaddyBadGateway(response: Response) {
  expect(response.status).toBe(502);
  expect(response.headers.get('content-type')).toBe('application/json');
  expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  expect(response.headers.get('x-frame-options')).toBe('DENY');
  expect(response.headers.get('referrer-policy')).toBe('no-referrer');
  expect(response.headers.get('server')).toBeNull();
  const requestId = response.headers.get('x-request-id');
  expect(await response.json()).toEqual({
    error: {
      code: 'bad_gateway',
      message: 'The service is not reachable right now; try again shortly',
      requestId,
    },
  });
}

describe.skipIf(!hasCaddy)('Caddy in front of an app that is not ready or not running', () => {
  const dataDir = tempDirectory('caddy-health');
  const environment = (name: string) => ({
    ...studioEnvironment(join(dataDir, name)),
    TRUST_PROXY: 'true',
  });
  let cronping: FastifyInstance;
  let flagbit: FastifyInstance;
  let cronpingSeen: string[] = [];
  let flagbitPort = 0;
  let caddy: RunningProcess;
  let hanging: Server;
  let base = '';

  beforeAll(async () => {
    cronping = await buildCronping(loadCronpingConfig(environment('cronping')));
    cronpingSeen = recordForwarded(cronping);
    await cronping.listen({ host: '127.0.0.1', port: 0 });
    flagbit = await buildFlagbit(loadFlagbitConfig(environment('flagbit')));
    await flagbit.listen({ host: '127.0.0.1', port: 0 });
    flagbitPort = portOf(flagbit);
    const nobodyListens = await freePort();
    // Ready by its /readyz, but never answers anything else.
    hanging = createServer((request, response) => {
      if (request.url === '/readyz') response.writeHead(200).end();
    });
    await new Promise<void>((resolve) => hanging.listen(0, '127.0.0.1', resolve));
    const port = await freePort();
    base = `http://127.0.0.1:${port}`;
    caddy = startCaddy(dataDir, {
      CRONPING_UPSTREAM: `127.0.0.1:${portOf(cronping)}`,
      FLAGBIT_UPSTREAM: `127.0.0.1:${flagbitPort}`,
      DOCUMINT_UPSTREAM: `127.0.0.1:${(hanging.address() as AddressInfo).port}`,
      CADDY_RESPONSE_TIMEOUT: '1s',
      WEBHOOKVAULT_UPSTREAM: `127.0.0.1:${nobodyListens}`,
      OPS_AGENT_UPSTREAM: `127.0.0.1:${nobodyListens}`,
      CADDY_ADDRESS: `http://127.0.0.1:${port}`,
    });
    await waitForOk(`${base}/caddy/health`, caddy);
  }, 60_000);

  afterAll(async () => {
    caddy?.child.kill('SIGTERM');
    await caddy?.exited;
    hanging?.closeAllConnections();
    hanging?.close();
    await cronping?.close();
    await flagbit?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('answers a JSON 504 with the security headers when a ready app never starts its answer', async () => {
    const response = await fetch(`${base}/documint/v1/templates`);
    expect(response.status).toBe(504);
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    const body = (await response.json()) as { error: { code: string; requestId: string } };
    expect(body.error.code).toBe('gateway_timeout');
    expect(body.error.requestId).toBe(response.headers.get('x-request-id'));
  });

  it('answers a clean JSON 502 for a product nothing listens for, GET or POST with a body', async () => {
    await expectCaddyBadGateway(await fetch(`${base}/webhookvault/v1/endpoints`));
    await expectCaddyBadGateway(
      await fetch(`${base}/webhookvault/h/some-token`, { method: 'POST', body: 'x'.repeat(100_000) }),
    );
  });

  it('stops forwarding to an app whose /readyz fails, while the app still answers everything else', async () => {
    expect((await fetch(`${base}/cronping/livez`)).status).toBe(200);
    cronping.health.beginDrain();
    expect((await cronping.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
    expect((await cronping.inject({ method: 'GET', url: '/livez' })).statusCode).toBe(200);

    // Once a health check has seen the 503, Caddy answers for the app without forwarding.
    await untilStatus(`${base}/cronping/livez`, 502);
    const forwardedBefore = cronpingSeen.length;
    await expectCaddyBadGateway(await fetch(`${base}/cronping/v1/account`));
    await expectCaddyBadGateway(
      await fetch(`${base}/cronping/v1/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': 'drained-app-1' },
        body: JSON.stringify({ email: 'while-draining@example.com' }),
      }),
    );
    expect(cronpingSeen.slice(forwardedBefore), 'nothing reached the draining app').toEqual([]);
  });

  it('answers a JSON 502 for an app that stopped, and routes to it again once it is back and ready', async () => {
    expect((await fetch(`${base}/flagbit/livez`)).status).toBe(200);
    await flagbit.close();
    await expectCaddyBadGateway(await fetch(`${base}/flagbit/livez`));

    // The same app started again on the same port: active checks see /readyz pass and Caddy forwards again.
    flagbit = await buildFlagbit(loadFlagbitConfig(environment('flagbit')));
    const seen = recordForwarded(flagbit);
    await flagbit.listen({ host: '127.0.0.1', port: flagbitPort });
    const back = await untilStatus(`${base}/flagbit/livez`, 200);
    expect(back.headers.get('x-request-id')).toBeTruthy();
    expect(seen).toContain('/livez');
  });
});
