import { existsSync, readFileSync, rmSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { buildApp as buildFlagbit } from 'flagbit/src/app';
import { loadConfig as loadFlagbitConfig } from 'flagbit/src/config';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caddyAvailable,
  freePort,
  httpsGet,
  type RunningProcess,
  startCaddy,
  studioEnvironment,
  tempDirectory,
} from './studio-harness';

const hasCaddy = caddyAvailable();
if (!hasCaddy && process.env.CI)
  throw new Error('caddy is not installed, and CI must run the Caddy end-to-end tests');

/**
 * Production's shape on unprivileged ports: CADDY_ADDRESS names bare hosts, so Caddy serves them over HTTPS with
 * automatic certificates (from its local CA for *.localhost names; from Let's Encrypt or ZeroSSL for public
 * names) and redirects plain HTTP.
 */
describe.skipIf(!hasCaddy)('the studio behind Caddy over HTTPS, as production runs it', () => {
  const dataDir = tempDirectory('caddy-https');
  const rootCertificate = join(dataDir, 'caddy', 'pki', 'authorities', 'local', 'root.crt');
  let flagbit: FastifyInstance;
  let caddy: RunningProcess;
  let httpPort = 0;
  let httpsPort = 0;
  let ca = '';
  const forwardedProto: (string | string[] | undefined)[] = [];

  beforeAll(async () => {
    flagbit = await buildFlagbit(
      loadFlagbitConfig({ ...studioEnvironment(join(dataDir, 'flagbit')), TRUST_PROXY: 'true' }),
    );
    flagbit.addHook('onRequest', async (incoming) => {
      forwardedProto.push(incoming.headers['x-forwarded-proto']);
    });
    await flagbit.listen({ host: '127.0.0.1', port: 0 });
    const address = flagbit.server.address();
    if (!address || typeof address === 'string') throw new Error('expected a TCP address');
    httpPort = await freePort();
    httpsPort = await freePort();
    // The other products point at a port nobody listens on, never at a studio that may run on this machine.
    const nobodyListens = `127.0.0.1:${await freePort()}`;
    caddy = startCaddy(dataDir, {
      CADDY_ADDRESS: 'studio.localhost, flagbit.localhost',
      CADDY_HTTP_PORT: String(httpPort),
      CADDY_HTTPS_PORT: String(httpsPort),
      FLAGBIT_HOST: 'flagbit.localhost',
      FLAGBIT_UPSTREAM: `127.0.0.1:${address.port}`,
      CRONPING_UPSTREAM: nobodyListens,
      DOCUMINT_UPSTREAM: nobodyListens,
      WEBHOOKVAULT_UPSTREAM: nobodyListens,
      OPS_AGENT_UPSTREAM: nobodyListens,
    });
    // Bounded poll: Caddy creates its local CA and the two certificates in the background after it starts.
    let exited = false;
    void caddy.exited.then(() => {
      exited = true;
    });
    for (let attempt = 0; attempt < 200 && !ca; attempt++) {
      if (exited) throw new Error(`caddy exited:\n${caddy.output()}`);
      if (existsSync(rootCertificate)) {
        const candidate = readFileSync(rootCertificate, 'utf8');
        try {
          if ((await httpsGet(httpsPort, 'studio.localhost', '/caddy/health', candidate)).status === 200)
            ca = candidate;
        } catch {}
      }
      if (!ca) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    if (!ca) throw new Error(`Caddy never served HTTPS:\n${caddy.output()}`);
  }, 60_000);

  afterAll(async () => {
    caddy?.child.kill('SIGTERM');
    await caddy?.exited;
    await flagbit?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it.each([
    ['Caddy’s own answer', 'studio.localhost', '/caddy/health', 200],
    ['a proxied answer on a product host', 'flagbit.localhost', '/livez', 200],
    ['a proxied answer under a prefix', 'studio.localhost', '/flagbit/livez', 200],
    ['Caddy’s 404', 'studio.localhost', '/flagbit/internal/accounts', 404],
    ['Caddy’s 502', 'studio.localhost', '/cronping/livez', 502],
  ])('adds Strict-Transport-Security over HTTPS, to %s too', async (_case, host, path, status) => {
    const answer = await httpsGet(httpsPort, host, path, ca);
    expect(answer.status, answer.body).toBe(status);
    expect(answer.headers['strict-transport-security']).toBe('max-age=31536000');
    expect(answer.headers['x-content-type-options']).toBe('nosniff');
    expect(answer.headers.server).toBeUndefined();
  });

  it('passes the scheme to the app, so it builds https URLs behind the proxy', async () => {
    const before = forwardedProto.length;
    await httpsGet(httpsPort, 'flagbit.localhost', '/livez', ca);
    expect(forwardedProto.slice(before)).toEqual(['https']);
  });

  it('redirects plain HTTP to HTTPS', async () => {
    const answer = await new Promise<{ status: number; location: string | undefined }>((resolve, reject) => {
      httpGet(
        {
          host: '127.0.0.1',
          port: httpPort,
          path: '/flagbit/livez?x=1',
          headers: { host: 'studio.localhost' },
        },
        (response) => {
          response.resume();
          resolve({ status: response.statusCode ?? 0, location: response.headers.location });
        },
      ).on('error', reject);
    });
    expect(answer.status).toBe(308);
    // Caddy writes the redirect for the standard HTTPS port, which production uses.
    expect(answer.location).toBe('https://studio.localhost/flagbit/livez?x=1');
  });
});
