import { createHash, randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
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
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp as buildWebhookvault } from 'webhookvault/src/app';
import { loadConfig as loadWebhookvaultConfig } from 'webhookvault/src/config';
import {
  caddyAvailable,
  freePort,
  internalToken,
  type RunningProcess,
  startCaddy,
  studioEnvironment,
  tempDirectory,
  waitForOk,
} from './studio-harness';

// CI installs caddy and must run this; a developer machine without it skips with a reason.
const hasCaddy = caddyAvailable();
if (!hasCaddy && process.env.CI)
  throw new Error('caddy is not installed, and CI must run the Caddy end-to-end tests');

const stripeWebhookSecret = `whsec_${'e2e'.padEnd(32, 'z')}`;

const builders = {
  OPS_AGENT: async (env: Record<string, string>) =>
    buildOpsAgent(
      loadOpsAgentConfig({
        ...env,
        STRIPE_SECRET_KEY: 'sk_test_caddy_e2e',
        STRIPE_WEBHOOK_SECRET: stripeWebhookSecret,
        STRIPE_PRICES: '{"price_pro": {"product": "cronping", "plan": "pro"}}',
      }),
    ),
  DOCUMINT: async (env: Record<string, string>) => buildDocumint(loadDocumintConfig(env)),
  CRONPING: async (env: Record<string, string>) => buildCronping(loadCronpingConfig(env)),
  FLAGBIT: async (env: Record<string, string>) => buildFlagbit(loadFlagbitConfig(env)),
  WEBHOOKVAULT: async (env: Record<string, string>) => buildWebhookvault(loadWebhookvaultConfig(env)),
} as const;
type AppKey = keyof typeof builders;

/** The product sites: the path prefix of the single-host fallback, and the host name of their own site. */
const productSites = [
  { app: 'DOCUMINT', serviceId: 'documint', prefix: '/documint', host: 'documint.test' },
  { app: 'CRONPING', serviceId: 'cronping', prefix: '/cronping', host: 'cronping.test' },
  { app: 'FLAGBIT', serviceId: 'flagbit', prefix: '/flagbit', host: 'flagbit.test' },
  { app: 'WEBHOOKVAULT', serviceId: 'webhookvault', prefix: '/webhookvault', host: 'webhookvault.test' },
] as const;
const opsHost = 'ops.test';

interface SeenRequest {
  method: string;
  url: string;
  requestId: string | string[] | undefined;
}

interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Sends exactly this request line and these headers, so no client library normalises the path on the way
 * (fetch and undici resolve dot segments and re-encode). `Connection: close` ends the read.
 */
function rawRequest(
  port: number,
  request: { method?: string; target: string; host: string; headers?: Record<string, string>; body?: Buffer },
): Promise<RawResponse> {
  const body = request.body ?? Buffer.alloc(0);
  const head =
    `${request.method ?? 'GET'} ${request.target} HTTP/1.1\r\nHost: ${request.host}\r\n` +
    Object.entries(request.headers ?? {})
      .map(([name, value]) => `${name}: ${value}\r\n`)
      .join('') +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return new Promise((resolve, reject) => {
    const socket = connect({ host: '127.0.0.1', port });
    const chunks: Buffer[] = [];
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', reject);
    socket.on('end', () => {
      const bytes = Buffer.concat(chunks);
      const headEnd = bytes.indexOf('\r\n\r\n');
      const [statusLine = '', ...headerLines] = bytes.subarray(0, headEnd).toString('latin1').split('\r\n');
      const headers: Record<string, string> = {};
      for (const line of headerLines) {
        const colon = line.indexOf(':');
        headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
      }
      let payload = bytes.subarray(headEnd + 4);
      // Caddy's own answers have a Content-Length; an app's may be chunked: undo the framing (sizes in bytes).
      if (headers['transfer-encoding'] === 'chunked') {
        const parts: Buffer[] = [];
        let at = 0;
        for (;;) {
          const lineEnd = payload.indexOf('\r\n', at);
          const size = Number.parseInt(payload.subarray(at, lineEnd).toString('latin1'), 16);
          if (!size) break;
          parts.push(payload.subarray(lineEnd + 2, lineEnd + 2 + size));
          at = lineEnd + 2 + size + 2;
        }
        payload = Buffer.concat(parts);
      }
      resolve({ status: Number(statusLine.split(' ')[1]), headers, body: payload.toString('utf8') });
    });
  });
}

function errorCodeOf(response: RawResponse): string | undefined {
  return (JSON.parse(response.body) as { error?: { code?: string } }).error?.code;
}

describe.skipIf(!hasCaddy)('the studio behind Caddy', () => {
  const dataDir = tempDirectory('caddy');
  const apps = new Map<AppKey, FastifyInstance>();
  const requestsSeen = new Map<AppKey, SeenRequest[]>();
  let caddy: RunningProcess;
  let port = 0;
  let base = '';

  const allSeen = () => [...requestsSeen.values()].flat();
  const seenBy = (app: AppKey) => requestsSeen.get(app) ?? [];
  const get = (target: string, host: string, headers?: Record<string, string>) =>
    rawRequest(port, { target, host, ...(headers ? { headers } : {}) });

  beforeAll(async () => {
    const environment: Record<string, string> = {};
    for (const [name, build] of Object.entries(builders) as [AppKey, (typeof builders)[AppKey]][]) {
      const app = await build({
        ...studioEnvironment(join(dataDir, name.toLowerCase())),
        TRUST_PROXY: 'true',
      });
      const seen: SeenRequest[] = [];
      app.addHook('onRequest', async (request) => {
        seen.push({ method: request.method, url: request.url, requestId: request.headers['x-request-id'] });
      });
      await app.listen({ host: '127.0.0.1', port: 0 });
      const address = app.server.address();
      if (!address || typeof address === 'string') throw new Error('expected a TCP address');
      environment[`${name}_UPSTREAM`] = `127.0.0.1:${address.port}`;
      apps.set(name, app);
      requestsSeen.set(name, seen);
    }
    for (const site of productSites) environment[`${site.app}_HOST`] = site.host;
    port = await freePort();
    base = `http://127.0.0.1:${port}`;
    caddy = startCaddy(dataDir, {
      ...environment,
      OPS_HOST: opsHost,
      // No host in the address: the product sites are told apart by the Host header on this one port.
      CADDY_ADDRESS: `http://:${port}`,
    });
    await waitForOk(`${base}/caddy/health`, caddy);
  }, 60_000);

  afterAll(async () => {
    caddy?.child.kill('SIGTERM');
    await caddy?.exited;
    for (const app of apps.values()) await app.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  describe('sites', () => {
    it.each([
      ['/ops', 'ops-agent'],
      ['/documint', 'documint'],
      ['/cronping', 'cronping'],
      ['/flagbit', 'flagbit'],
      ['/webhookvault', 'webhookvault'],
    ])('routes %s/health to %s, and the health client validates the report', async (prefix, serviceId) => {
      const outcome = await checkHealth(`${base}${prefix}/health`);
      if (serviceId === 'ops-agent') {
        // The ops-agent's health details are for the owner: Caddy answers its 404 itself.
        expect(outcome.ok).toBe(false);
        expect(outcome.httpStatus).toBe(404);
        return;
      }
      expect(outcome.ok, JSON.stringify(outcome)).toBe(true);
      if (outcome.ok) expect(outcome.report.serviceId).toBe(serviceId);
    });

    it.each(productSites)(
      'routes the $host site to $serviceId at the root of its path space',
      async (site) => {
        const before = seenBy(site.app).length;
        const response = await get('/health', site.host, { accept: 'application/health+json' });
        expect(response.status, response.body).toBe(200);
        expect((JSON.parse(response.body) as { serviceId: string }).serviceId).toBe(site.serviceId);
        expect(
          seenBy(site.app)
            .slice(before)
            .map((seen) => seen.url),
        ).toEqual(['/health']);
      },
    );

    it('matches a product host in any letter case, as DNS does', async () => {
      const response = await get('/livez', 'CronPing.TEST');
      expect(response.status).toBe(200);
      expect(seenBy('CRONPING').at(-1)?.url).toBe('/livez');
    });

    it('serves only its own product on a product host: a prefix there is a path of that product', async () => {
      const before = seenBy('FLAGBIT').length;
      const response = await get('/flagbit/livez', 'documint.test');
      expect(response.status).toBe(404);
      expect(seenBy('FLAGBIT').length, 'FlagBit never saw it').toBe(before);
      expect(seenBy('DOCUMINT').at(-1)?.url).toBe('/flagbit/livez');
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

    it('answers an unknown product path itself with the error envelope', async () => {
      const before = allSeen().length;
      const response = await fetch(`${base}/nothing-here`, { headers: { 'x-request-id': 'unknown-path-1' } });
      expect(response.status).toBe(404);
      expect(await response.json()).toEqual({
        error: { code: 'not_found', message: 'Not found', requestId: 'unknown-path-1' },
      });
      expect(allSeen().length).toBe(before);
    });
  });

  describe('request ids', () => {
    it('passes a caller request id to the app unchanged and returns it', async () => {
      const response = await fetch(`${base}/flagbit/livez`, { headers: { 'x-request-id': 'trace-abc-123' } });
      expect(response.headers.get('x-request-id')).toBe('trace-abc-123');
      expect(seenBy('FLAGBIT').at(-1)).toMatchObject({ url: '/livez', requestId: 'trace-abc-123' });
    });

    it('generates one when the caller sent none, and the app and the caller see the same one', async () => {
      const response = await fetch(`${base}/documint/livez`);
      const id = response.headers.get('x-request-id');
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
      expect(seenBy('DOCUMINT').at(-1)).toMatchObject({ url: '/livez', requestId: id });
    });

    it.each([
      ['with spaces and quotes', 'id "with" spaces'],
      ['too long', 'x'.repeat(129)],
      ['repeated', ['first-id', 'second-id']],
    ])('replaces a caller request id that is not one plain token (%s)', async (_case, value) => {
      const headers = new Headers();
      for (const one of [value].flat()) headers.append('x-request-id', one);
      const response = await fetch(`${base}/cronping/livez`, { headers });
      const id = response.headers.get('x-request-id') ?? '';
      expect(id).toMatch(/^[0-9a-f-]{36}$/);
      expect(seenBy('CRONPING').at(-1)).toMatchObject({ url: '/livez', requestId: id });
    });

    it('puts the request id in the header and the body of an answer Caddy makes itself', async () => {
      const own = await get('/cronping/internal/accounts', '127.0.0.1', { 'x-request-id': 'caller-id-7' });
      expect(own.headers['x-request-id']).toBe('caller-id-7');
      expect(JSON.parse(own.body)).toMatchObject({ error: { requestId: 'caller-id-7' } });
      const generated = await get('/nothing', '127.0.0.1');
      expect(generated.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
      expect(JSON.parse(generated.body)).toMatchObject({
        error: { requestId: generated.headers['x-request-id'] },
      });
    });

    it('adds no request id to a WebhookVault capture, whose headers are recorded as sent', async () => {
      const response = await fetch(`${base}/webhookvault/h/unknown-token-for-ids`, {
        method: 'POST',
        body: 'x',
      });
      expect(response.status).toBe(404);
      expect(seenBy('WEBHOOKVAULT').at(-1)).toMatchObject({
        url: '/h/unknown-token-for-ids',
        requestId: undefined,
      });
      expect(response.headers.get('x-request-id'), 'the app names its own id').toMatch(/^[0-9a-f-]{36}$/);
    });
  });

  describe('security headers', () => {
    it.each([
      ['an app answer', '/cronping/livez', '127.0.0.1', 200],
      ['an app 401', '/cronping/v1/account', '127.0.0.1', 401],
      ['an app 404', '/flagbit/no-such-route', '127.0.0.1', 404],
      ['an app answer on a product host', '/livez', 'webhookvault.test', 200],
      ['Caddy’s own health', '/caddy/health', '127.0.0.1', 200],
      ['Caddy’s 404 for an unknown path', '/nope', '127.0.0.1', 404],
      ['Caddy’s 404 for a refused path', '/documint/%69nternal/accounts', '127.0.0.1', 404],
      ['Caddy’s 404 on the ops host', '/', opsHost, 404],
    ])('are on %s, and Caddy names no Server', async (_case, target, host, status) => {
      const response = await get(target, host);
      expect(response.status, response.body).toBe(status);
      expect(response.headers['x-content-type-options']).toBe('nosniff');
      expect(response.headers['x-frame-options']).toBe('DENY');
      expect(response.headers['referrer-policy']).toBe('no-referrer');
      expect(response.headers.server).toBeUndefined();
      expect(response.headers['strict-transport-security'], 'no HSTS over plain HTTP').toBeUndefined();
      if (status >= 400) expect(response.headers['content-type']).toMatch(/^application\/json/);
    });
  });

  describe('the ops-agent', () => {
    const signedEvent = () => {
      // Odd spacing and key order on purpose: the signature only verifies over the very bytes Stripe sent.
      const payload = `{ "id":"evt_caddy_${randomBytes(6).toString('hex')}",\n  "object": "event", "type":"customer.created","created": ${Math.floor(Date.now() / 1000)}, "data":{"object":{"id":"cus_1" }} }`;
      return {
        payload,
        headers: {
          'content-type': 'application/json',
          'stripe-signature': Stripe.webhooks.generateTestHeaderString({
            payload,
            secret: stripeWebhookSecret,
          }),
        },
      };
    };

    it.each([
      ['the prefix', '/ops/stripe/webhook', '127.0.0.1'],
      ['the ops host', '/stripe/webhook', opsHost],
    ])(
      'lets Stripe reach POST /stripe/webhook through %s with the body byte for byte',
      async (_via, target, host) => {
        const event = signedEvent();
        const response = await rawRequest(port, {
          method: 'POST',
          target,
          host,
          headers: event.headers,
          body: Buffer.from(event.payload),
        });
        expect(response.status, response.body).toBe(200);
        expect(JSON.parse(response.body)).toEqual({ received: true, duplicate: false });
        expect(seenBy('OPS_AGENT').at(-1)).toMatchObject({ method: 'POST', url: '/stripe/webhook' });
      },
    );

    it.each([
      ['GET', '/ops/', '127.0.0.1'],
      ['GET', '/ops/login', '127.0.0.1'],
      ['POST', '/ops/login', '127.0.0.1'],
      ['GET', '/ops/health', '127.0.0.1'],
      ['GET', '/ops/readyz', '127.0.0.1'],
      ['GET', '/ops/docs', '127.0.0.1'],
      ['POST', '/ops/audit', '127.0.0.1'],
      ['GET', '/ops/approvals', '127.0.0.1'],
      ['GET', '/ops/stripe/webhook', '127.0.0.1'],
      ['POST', '/ops/stripe/webhook/', '127.0.0.1'],
      ['POST', '/ops/stripe/webhook/extra', '127.0.0.1'],
      ['POST', '/ops/Stripe/Webhook', '127.0.0.1'],
      ['POST', '/ops/stripe/%77ebhook', '127.0.0.1'],
      ['POST', '/ops/internal/accounts', '127.0.0.1'],
      ['GET', '/ops', '127.0.0.1'],
      ['GET', '/', opsHost],
      ['GET', '/health', opsHost],
      ['GET', '/login', opsHost],
      ['POST', '/audit', opsHost],
      ['GET', '/stripe/webhook', opsHost],
      ['POST', '/ops/stripe/webhook', opsHost],
    ])(
      'answers %s %s (host %s) itself with a 404 that never reaches the ops-agent',
      async (method, target, host) => {
        const before = seenBy('OPS_AGENT').length;
        const response = await rawRequest(port, {
          method,
          target,
          host,
          headers: { authorization: 'Bearer e2e-ops-admin-token-'.padEnd(71, 'y') },
        });
        expect(response.status, response.body).toBe(404);
        expect(errorCodeOf(response)).toBe('not_found');
        expect(seenBy('OPS_AGENT').slice(before)).toEqual([]);
      },
    );
  });

  describe('internal routes', () => {
    // Each spelling names /internal… to some layer: Caddy's path matcher (which decodes, merges slashes,
    // resolves dot segments and ignores case), Go's URL parser, or the app's router (which decodes %xx itself).
    const spellings = [
      '/cronping/internal/accounts',
      '/cronping/internal',
      '/cronping/INTERNAL/accounts',
      '/CronPing/Internal/accounts',
      '/cronping/%69nternal/accounts',
      '/cronping/%49NTERNAL/accounts',
      '/cronping/%2569nternal/accounts',
      '/cronping%2Finternal/accounts',
      '/cronping%2finternal/accounts',
      '/cronping/%2Finternal/accounts',
      '/cronping/internal%2Faccounts',
      '/cronping//internal/accounts',
      '//cronping/internal/accounts',
      '/cronping///internal/accounts',
      '/cronping/x/../internal/accounts',
      '/cronping/./internal/accounts',
      '/cronping/%2e/internal/accounts',
      '/cronping/x/%2e%2e/internal/accounts',
      '/cronping/x/%2E%2E%2Finternal/accounts',
      '/cronping/x/..%2finternal/accounts',
      '/cronping/..;/internal/accounts',
      '/cronping/x/..;/internal/accounts',
      '/cronping/internal./accounts',
      '/cronping/internal;/accounts',
      '/cronping/internal;x=1/accounts',
      '/cronping/internal%3B/accounts',
      '/cronping/internal%00/accounts',
      '/cronping/internal%20/accounts',
      '/cronping/%20internal/accounts',
      '/cronping/internal\\accounts',
      '/cronping/%5Cinternal/accounts',
      '/cronping/x/..%5Cinternal/accounts',
      '/documint/internal/accounts',
      '/flagbit/%69nternal/accounts',
      '/webhookvault/Internal/accounts',
      '/webhookvault/h/../internal/accounts',
      '/internal/accounts',
      'http://cronping.test/internal/accounts',
      'http://127.0.0.1/cronping/internal/accounts',
    ];
    const hostSpellings = productSites.flatMap((site) =>
      [
        '/internal/accounts',
        '/Internal/accounts',
        '/%69nternal/accounts',
        '//internal/accounts',
        '/%2Finternal/accounts',
        '/./internal/accounts',
        '/x/../internal/accounts',
        '/%2e%2e/internal/accounts',
        '/internal;x/accounts',
        '/internal./accounts',
      ].map((target) => [site.host, target] as const),
    );

    const expectRefused = async (response: RawResponse, before: number) => {
      expect(response.status, response.body).toBe(404);
      expect(errorCodeOf(response)).toBe('not_found');
      expect(allSeen().length, 'no app saw the request').toBe(before);
      const internalHits = allSeen().filter((seen) => /internal/i.test(decodeURIComponent(seen.url)));
      expect(internalHits, 'no app ever saw an internal request').toEqual([]);
    };

    it.each(spellings)('never forwards %s, even with the internal token', async (target) => {
      const before = allSeen().length;
      const response = await rawRequest(port, {
        method: 'POST',
        target,
        host: '127.0.0.1',
        headers: { authorization: `Bearer ${internalToken}`, 'content-type': 'application/json' },
        body: Buffer.from(JSON.stringify({ email: 'intruder@example.com', plan: 'business' })),
      });
      await expectRefused(response, before);
    });

    it.each(hostSpellings)('never forwards %s%s on a product host', async (host, target) => {
      const before = allSeen().length;
      const response = await rawRequest(port, {
        method: 'POST',
        target,
        host,
        headers: { authorization: `Bearer ${internalToken}`, 'content-type': 'application/json' },
        body: Buffer.from('{"email":"intruder@example.com","plan":"business"}'),
      });
      await expectRefused(response, before);
    });

    it('still forwards ordinary paths whose later segments are spelled freely', async () => {
      const before = seenBy('FLAGBIT').length;
      await get('/flagbit/api/admin/projects/internal', '127.0.0.1');
      expect(
        seenBy('FLAGBIT')
          .slice(before)
          .map((seen) => seen.url),
      ).toEqual(['/api/admin/projects/internal']);
    });
  });

  describe('WebhookVault captures', () => {
    it('passes a 25 MiB capture through Caddy byte for byte', async () => {
      const signup = await fetch(`${base}/webhookvault/v1/signup`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ email: 'large-capture@example.com' }),
      });
      expect(signup.status).toBe(201);
      const { apiKey } = (await signup.json()) as { apiKey: string };
      const authorization = `Bearer ${apiKey}`;
      const created = await fetch(`${base}/webhookvault/v1/endpoints`, {
        method: 'POST',
        headers: { authorization, 'content-type': 'application/json' },
        body: JSON.stringify({ name: 'large through caddy' }),
      });
      expect(created.status).toBe(201);
      const { token } = (await created.json()) as { token: string };

      const body = randomBytes(25 * 1024 * 1024);
      // Raw, so that no client adds an Accept-Encoding of its own: anything recorded beyond what was sent is Caddy's.
      const capture = await rawRequest(port, {
        method: 'POST',
        target: `/webhookvault/h/${token}/large`,
        host: '127.0.0.1',
        headers: { 'content-type': 'application/octet-stream' },
        body,
      });
      expect(capture.status, capture.body).toBe(200);
      const { captureId } = JSON.parse(capture.body) as { captureId: string };

      const stored = await apps
        .get('WEBHOOKVAULT')
        ?.inject({ method: 'GET', url: `/v1/captures/${captureId}`, headers: { authorization } });
      expect(stored?.statusCode, stored?.body.slice(0, 300)).toBe(200);
      const recorded = stored?.json() as { bodyBase64: string; headers: [string, string][] };
      const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
      expect(sha256(Buffer.from(recorded.bodyBase64, 'base64'))).toBe(sha256(body));
      const names = recorded.headers.map(([name]) => name.toLowerCase());
      expect(names, 'Caddy added no Accept-Encoding and no request id').not.toContain('accept-encoding');
      expect(names).not.toContain('x-request-id');
    });
  });
});
