import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect as netConnect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { freePort } from '@studio/service-kit/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { getCapture, signUp, testEnvironment } from './harness';

/**
 * A capture through the studio's real front door: infra/Caddyfile, `handle_path /webhookvault/*` and
 * `reverse_proxy`, with the app on TRUST_PROXY=true as in production. What Caddy (Go's reverse proxy) does to a
 * request, as this test pins it down:
 * - body bytes, method, raw path (percent-encoding kept) and raw query pass untouched;
 * - header names are canonicalised (`x-lower` → `X-Lower`) and written sorted by name, so the order across
 *   different names is Caddy's, not the sender's; repeats of one name keep their order;
 * - hop-by-hop headers (Connection, …) are dropped, as any proxy must;
 * - it adds X-Forwarded-For/-Proto/-Host (replacing any the sender sent): the capture leaves these three out
 *   (see `proxyAddedHeaders` in src/routes/ingest.ts) and records the sender's address as `remoteAddress`;
 * - Go's transport would add `Accept-Encoding: gzip` when the sender sent none; the Caddyfile turns that off
 *   for WebhookVault (`transport http { compression off }`), so no header appears that the sender did not send.
 */

const caddyInstalled = spawnSync('caddy', ['version']).status === 0;
if (!caddyInstalled && process.env.CI) throw new Error('caddy is not installed, and CI must run this test');
if (!caddyInstalled) console.warn('capture-through-caddy: skipped, the caddy binary is not on the PATH');

const caddyfile = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'infra', 'Caddyfile');
// The sender connects from another loopback address than Caddy's, so "the sender's address" and "the proxy's
// address" differ even on one machine.
const SENDER_ADDRESS = '127.0.0.2';

/** Starts caddy and resolves once it logs that it serves its configuration (no polling, no sleeps). */
function startCaddy(env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('serving initial configuration')) resolve({ child, output: () => output });
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`caddy exited with ${code}:\n${output}`)));
    child.once('error', reject);
  });
}

/** Sends exactly these request bytes from SENDER_ADDRESS and returns the raw response text. */
function sendRaw(port: number, head: string, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = netConnect({ host: '127.0.0.1', port, localAddress: SENDER_ADDRESS });
    const chunks: Buffer[] = [];
    // write, not end: a half-closed client makes Go cancel the proxied request. `Connection: close` in the
    // request makes Caddy close the connection after its answer, which ends the read.
    socket.on('connect', () => socket.write(Buffer.concat([Buffer.from(head, 'latin1'), body])));
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    socket.on('error', reject);
  });
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

describe.skipIf(!caddyInstalled)('a capture through the real Caddy', () => {
  let app: Awaited<ReturnType<typeof buildApp>>;
  let caddy: { child: ChildProcess; output: () => string };
  let caddyPort = 0;
  // Its own directory, not the harness's (which is emptied after every test): the app lives across tests here.
  const directory = mkdtempSync(join(tmpdir(), 'webhookvault-caddy-'));

  beforeAll(async () => {
    app = await buildApp(loadConfig(testEnvironment(directory, { TRUST_PROXY: 'true' })), {
      background: false,
    });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (!address || typeof address === 'string') throw new Error('expected a TCP address');
    caddyPort = await freePort();
    caddy = await startCaddy({
      CADDY_ADMIN: 'off',
      CADDY_ADDRESS: `http://127.0.0.1:${caddyPort}`,
      WEBHOOKVAULT_UPSTREAM: `127.0.0.1:${address.port}`,
      HOME: directory,
      XDG_DATA_HOME: directory,
      XDG_CONFIG_HOME: directory,
    });
  }, 30_000);

  afterAll(async () => {
    if (caddy) {
      const exited = new Promise((resolve) => caddy.child.once('exit', resolve));
      caddy.child.kill('SIGTERM');
      await exited;
    }
    await app?.close();
    rmSync(directory, { recursive: true, force: true });
  });

  async function createEndpoint() {
    const account = signUp(app);
    const response = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: account.headers,
      payload: { name: 'behind caddy' },
    });
    expect(response.statusCode, response.body).toBe(201);
    return { ...(response.json() as { id: string; token: string }), headers: account.headers };
  }

  function captureIdOf(response: string): string {
    expect(response.startsWith('HTTP/1.1 200 '), response).toBe(true);
    const match = /"captureId":"([^"]+)"/.exec(response);
    expect(match, response).not.toBeNull();
    return match![1]!;
  }

  it('records the exact body, method, path and query, the sender headers, and the sender address', async () => {
    const endpoint = await createEndpoint();
    const body = Buffer.concat([
      Buffer.from(Array.from({ length: 256 }, (_, i) => i)),
      randomBytes(64 * 1024),
    ]);
    const sent: [string, string][] = [
      ['zeta-header', 'last alphabetically, sent first'],
      ['X-Dup', 'one'],
      ['content-type', 'application/octet-stream'],
      ['x-lower', 'a'],
      ['X-Dup', 'two'],
      ['Stripe-Signature', 't=1,v1=abc'],
      // Claims another origin: Caddy replaces it, and it must not become the recorded address.
      ['X-Forwarded-For', '203.0.113.9'],
    ];
    const head =
      `PROPFIND /webhookvault/h/${endpoint.token}/a%2Fb/c%20d?x=1&y=%20&x=2&empty= HTTP/1.1\r\n` +
      `Host: 127.0.0.1:${caddyPort}\r\n` +
      sent.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
    const captureId = captureIdOf(await sendRaw(caddyPort, head, body));

    const capture = await getCapture(app, captureId, endpoint.headers);
    expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(body));
    expect(capture.method).toBe('PROPFIND');
    expect(capture.path).toBe('/a%2Fb/c%20d');
    expect(capture.query).toBe('x=1&y=%20&x=2&empty=');
    expect(capture.remoteAddress, 'the sender, not Caddy and not the forged header').toBe(SENDER_ADDRESS);

    const recorded = capture.headers.map(([name, value]) => [name.toLowerCase(), value] as const);
    const names = recorded.map(([name]) => name);
    expect(names, 'proxy-added headers are left out').not.toContain('x-forwarded-for');
    expect(names).not.toContain('x-forwarded-proto');
    expect(names).not.toContain('x-forwarded-host');
    expect(names, 'hop-by-hop headers never reach the app').not.toContain('connection');
    // Every header the sender sent (but the three Caddy overwrote and Connection) is there, value for value,
    // and a repeated header keeps its order.
    const expected = [
      ['host', `127.0.0.1:${caddyPort}`],
      ...sent
        .filter(([name]) => name !== 'X-Forwarded-For')
        .map(([name, value]) => [name.toLowerCase(), value]),
      ['content-length', String(body.length)],
    ];
    const sortPairs = (pairs: readonly (readonly [string, string] | string[])[]) =>
      pairs.map(([name, value]) => `${name}: ${value}`).sort();
    expect(sortPairs(recorded)).toEqual(sortPairs(expected as [string, string][]));
    expect(recorded.filter(([name]) => name === 'x-dup').map(([, value]) => value)).toEqual(['one', 'two']);
    // Caddy canonicalises the case of header names: what the capture shows behind Caddy.
    expect(capture.headers.map(([name]) => name)).toContain('X-Lower');
  });

  it('keeps a chunked gzip body byte for byte', async () => {
    const endpoint = await createEndpoint();
    const body = gzipSync(
      Buffer.from(JSON.stringify({ event: 'invoice.paid', pad: randomBytes(12_000).toString('base64') })),
    );
    expect(body.length).toBeGreaterThan(1000);
    const chunked = Buffer.concat([
      Buffer.from(`${(1000).toString(16)}\r\n`),
      body.subarray(0, 1000),
      Buffer.from(`\r\n${(body.length - 1000).toString(16)}\r\n`),
      body.subarray(1000),
      Buffer.from('\r\n0\r\n\r\n'),
    ]);
    const head =
      `POST /webhookvault/h/${endpoint.token} HTTP/1.1\r\nHost: 127.0.0.1:${caddyPort}\r\n` +
      'Content-Type: application/json\r\nContent-Encoding: gzip\r\nAccept-Encoding: identity\r\n' +
      'Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n';
    const captureId = captureIdOf(await sendRaw(caddyPort, head, chunked));
    const capture = await getCapture(app, captureId, endpoint.headers);
    expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(body));
    const recorded = Object.fromEntries(capture.headers.map(([name, value]) => [name.toLowerCase(), value]));
    expect(recorded['content-encoding']).toBe('gzip');
    expect(recorded['accept-encoding'], 'a sender Accept-Encoding is kept as sent').toBe('identity');
    expect(capture.remoteAddress).toBe(SENDER_ADDRESS);
  });
});
