import { spawn, spawnSync } from 'node:child_process';
import { createHash, randomBytes, X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { connect as netConnect, type Socket } from 'node:net';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { connect as tlsConnect } from 'node:tls';
import { loggerOptions } from '@studio/service-kit';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { urlSecrets } from '../src/log-redaction';
import {
  createEndpoint,
  getCapture,
  onCleanup,
  openStream,
  signUp,
  startApp,
  tempDirectory,
  testEnvironment,
} from './harness';

type App = Awaited<ReturnType<typeof buildApp>>;

// The sender connects from another loopback address than the listener's, so "the socket's address" is
// distinguishable from a default 127.0.0.1.
const SENDER_ADDRESS = '127.0.0.2';

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

function capturePortOf(app: App): number {
  const address = app.captureListener.address();
  if (address === null) throw new Error('the capture listener is not listening');
  return address.port;
}

function mainPortOf(app: App): number {
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('the main port is not listening');
  return address.port;
}

/** A raw connection: bytes in, the response text out, and a wait for a given piece of the response. */
function openRaw(port: number, options: { ca?: Buffer; localAddress?: string } = {}) {
  const socket: Socket = options.ca
    ? tlsConnect({ host: '127.0.0.1', port, servername: 'localhost', ca: options.ca })
    : netConnect({ host: '127.0.0.1', port, localAddress: options.localAddress ?? SENDER_ADDRESS });
  let text = '';
  const waiters: { needle: string; resolve: () => void }[] = [];
  socket.on('data', (chunk: Buffer) => {
    text += chunk.toString('latin1');
    for (const waiter of waiters.filter((entry) => text.includes(entry.needle))) {
      waiters.splice(waiters.indexOf(waiter), 1);
      waiter.resolve();
    }
  });
  const ended = new Promise<string>((resolve, reject) => {
    socket.on('end', () => resolve(text));
    socket.on('close', () => resolve(text));
    socket.on('error', reject);
  });
  onCleanup(() => {
    socket.destroy();
  });
  return {
    socket,
    write: (bytes: Buffer | string) =>
      socket.write(typeof bytes === 'string' ? Buffer.from(bytes, 'latin1') : bytes),
    /** Resolves once the response so far contains `needle`. */
    waitFor: (needle: string) =>
      text.includes(needle)
        ? Promise.resolve()
        : new Promise<void>((resolve) => waiters.push({ needle, resolve })),
    /** The whole response text, once the server has closed the connection. */
    ended,
  };
}

/** Sends exactly these bytes (with `Connection: close` in them) and returns the raw response text. */
async function sendRaw(port: number, bytes: Buffer, options: { ca?: Buffer; localAddress?: string } = {}) {
  const connection = openRaw(port, options);
  connection.write(bytes);
  return connection.ended;
}

function statusOf(response: string): number {
  return Number(/^HTTP\/1\.1 (\d{3}) /.exec(response)?.[1] ?? 0);
}

function bodyOf(response: string): string {
  return response.slice(response.indexOf('\r\n\r\n') + 4);
}

function captureIdOf(response: string): string {
  expect(statusOf(response), response).toBe(200);
  const match = /"captureId":"([^"]+)"/.exec(response);
  expect(match, response).not.toBeNull();
  return match![1]!;
}

/** Headers in an order no parser would produce: mixed case, repeats interleaved, Host in the middle. */
function senderHeaders(port: number): [string, string][] {
  return [
    ['zeta-Header', 'last alphabetically, sent first'],
    ['X-Dup', 'one'],
    ['content-TYPE', 'application/octet-stream'],
    ['Host', `127.0.0.1:${port}`],
    ['x-lower-UPPER', 'a'],
    ['X-Dup', 'two'],
    ['Stripe-Signature', 't=1,v1=abc'],
    ['X-Forwarded-For', '203.0.113.9'],
    ['X-Forwarded-Proto', 'https'],
    ['x-dup', 'three'],
    ['aaa-first-alphabetically', 'sent late'],
  ];
}

function requestBytes(token: string, headers: [string, string][], body: Buffer): Buffer {
  const head =
    `PROPFIND /h/${token}/a%2Fb/c%20d?x=1&y=%20&x=2&empty= HTTP/1.1\r\n` +
    headers.map(([name, value]) => `${name}: ${value}\r\n`).join('') +
    `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const binaryBody = () =>
  Buffer.concat([Buffer.from(Array.from({ length: 256 }, (_, index) => index)), randomBytes(64 * 1024)]);

/** The studio's setting (TRUST_PROXY=true behind Caddy) with the capture listener on a free port. */
async function startWithCaptureListener(env: Record<string, string> = {}) {
  return startApp({ env: { TRUST_PROXY: 'true', CAPTURE_PORT: '0', ...env }, listen: true });
}

function generateCertificate(directory: string, name: string): { cert: string; key: string } {
  const cert = join(directory, `${name}-cert.pem`);
  const key = join(directory, `${name}-key.pem`);
  const result = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=DNS:localhost',
      '-days',
      '1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8' },
  );
  if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
  return { cert, key };
}

const opensslInstalled = spawnSync('openssl', ['version']).status === 0;
if (!opensslInstalled)
  console.warn('capture-listener: HTTPS tests skipped, the openssl binary is not on the PATH');

describe('the capture listener records the request head as the sender wrote it', () => {
  it('keeps header order, case and repeats, the raw path and query and the body bytes, over a raw socket', async () => {
    const { app } = await startWithCaptureListener();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const port = capturePortOf(app);
    const body = binaryBody();
    const sent = senderHeaders(port);

    const captureId = captureIdOf(await sendRaw(port, requestBytes(endpoint.token, sent, body)));
    const capture = await getCapture(app, captureId, account.headers);

    expect(capture.method).toBe('PROPFIND');
    expect(capture.path).toBe('/a%2Fb/c%20d');
    expect(capture.query).toBe('x=1&y=%20&x=2&empty=');
    expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(body));
    // Exactly the sender's head, in its order and case, X-Forwarded-* and Connection included: no proxy
    // added or replaced them here, whatever TRUST_PROXY says.
    expect(capture.headers).toEqual([
      ...sent,
      ['Content-Length', String(body.length)],
      ['Connection', 'close'],
    ]);
    expect(capture.remoteAddress, 'the socket, not the X-Forwarded-For the sender wrote').toBe(
      SENDER_ADDRESS,
    );
  });

  it('closes a connection past CAPTURE_MAX_CONNECTIONS at once, and serves again when one is free', async () => {
    const { app } = await startWithCaptureListener({ CAPTURE_MAX_CONNECTIONS: '1' });
    const port = capturePortOf(app);
    const first = netConnect(port, '127.0.0.1');
    await once(first, 'connect');
    const second = netConnect(port, '127.0.0.1');
    let secondGotData = false;
    second.on('data', () => {
      secondGotData = true;
    });
    await once(second, 'close');
    expect(secondGotData).toBe(false);
    first.destroy();
    await once(first, 'close');
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    // The server counts the first connection as closed a moment after the client sees it close.
    let answer = '';
    for (let attempt = 0; attempt < 50 && answer === ''; attempt++) {
      answer = await sendRaw(port, requestBytes(endpoint.token, senderHeaders(port), Buffer.from('x')));
      if (answer === '') await new Promise((resolve) => setTimeout(resolve, 20));
    }
    expect(statusOf(answer)).toBe(200);
  });

  it('records all of 1,500 headers on either port, where Node would keep only the first 1,000', async () => {
    const { app } = await startWithCaptureListener();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const body = Buffer.from('many headers');
    for (const port of [capturePortOf(app), mainPortOf(app)]) {
      const sent: [string, string][] = [
        ['Host', `127.0.0.1:${port}`],
        ...Array.from({ length: 1500 }, (_, index): [string, string] => [`x-${index % 7}`, String(index)]),
        ['X-Last', 'still here'],
      ];
      const captureId = captureIdOf(await sendRaw(port, requestBytes(endpoint.token, sent, body)));
      const capture = await getCapture(app, captureId, account.headers);
      expect(capture.headers).toHaveLength(sent.length + 2);
      expect(capture.headers.slice(0, sent.length)).toEqual(sent);
    }
  });

  it('still takes the same request on the main port, where TRUST_PROXY=true means a proxy is in front', async () => {
    const { app } = await startWithCaptureListener();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const port = mainPortOf(app);
    const body = binaryBody();
    const sent = senderHeaders(port);

    const captureId = captureIdOf(await sendRaw(port, requestBytes(endpoint.token, sent, body)));
    const capture = await getCapture(app, captureId, account.headers);

    expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(body));
    expect(capture.path).toBe('/a%2Fb/c%20d');
    expect(capture.query).toBe('x=1&y=%20&x=2&empty=');
    // As before this listener existed: the proxy's X-Forwarded-* are left out and its client is the address.
    expect(capture.headers).toEqual([
      ...sent.filter(([name]) => !name.toLowerCase().startsWith('x-forwarded-')),
      ['Content-Length', String(body.length)],
      ['Connection', 'close'],
    ]);
    expect(capture.remoteAddress).toBe('203.0.113.9');
  });

  it('does not let X-Forwarded-For choose the address the unknown-token limit counts', async () => {
    const { app } = await startWithCaptureListener();
    const port = capturePortOf(app);
    const statuses: number[] = [];
    for (let index = 0; index < 121; index++) {
      const response = await sendRaw(
        port,
        Buffer.from(
          `POST /h/guess-${index} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 198.51.100.${index % 250}\r\n` +
            'Content-Length: 1\r\nConnection: close\r\n\r\nx',
          'latin1',
        ),
      );
      statuses.push(statusOf(response));
    }
    expect(
      statuses.slice(0, 120).every((status) => status === 404),
      statuses.join(','),
    ).toBe(true);
    expect(statuses[120], 'one socket address, whatever the header claims').toBe(429);
  });
});

describe('the capture listener serves capture URLs only', () => {
  it('answers 404 in the studio envelope for everything else, without running any other route', async () => {
    const { app } = await startWithCaptureListener();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const port = capturePortOf(app);
    const internal = `Bearer ${'i'.repeat(64)}`;
    const json = (value: unknown) => JSON.stringify(value);
    const requests: { method: string; target: string; headers?: Record<string, string>; body?: string }[] = [
      { method: 'GET', target: '/' },
      { method: 'GET', target: '/livez' },
      { method: 'GET', target: '/readyz' },
      { method: 'GET', target: '/health' },
      { method: 'GET', target: '/docs' },
      { method: 'GET', target: '/docs/json' },
      { method: 'GET', target: '/v1/endpoints', headers: account.headers },
      {
        method: 'POST',
        target: '/v1/endpoints',
        headers: { ...account.headers, 'content-type': 'application/json' },
        body: json({ name: 'made through the capture port' }),
      },
      {
        method: 'POST',
        target: '/v1/signup',
        headers: { 'content-type': 'application/json' },
        body: json({ email: 'signup-via-capture@example.com' }),
      },
      {
        method: 'POST',
        target: '/internal/accounts',
        headers: { authorization: internal, 'content-type': 'application/json' },
        body: json({ email: 'internal-via-capture@example.com', plan: 'pro' }),
      },
      {
        method: 'GET',
        target: '/internal/accounts?email=x@example.com',
        headers: { authorization: internal },
      },
      { method: 'GET', target: '/h' },
      { method: 'GET', target: '/h/' },
      { method: 'POST', target: `/H/${endpoint.token}`, body: 'x' },
      { method: 'POST', target: `/hx/${endpoint.token}`, body: 'x' },
      { method: 'POST', target: `//h/${endpoint.token}`, body: 'x' },
      { method: 'POST', target: `/%68/${endpoint.token}`, body: 'x' },
      { method: 'OPTIONS', target: '*' },
    ];
    for (const request of requests) {
      const body = request.body ?? '';
      const head =
        `${request.method} ${request.target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n` +
        Object.entries(request.headers ?? {})
          .map(([name, value]) => `${name}: ${value}\r\n`)
          .join('') +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;
      const response = await sendRaw(port, Buffer.from(head, 'utf8'));
      const what = `${request.method} ${request.target}`;
      expect(statusOf(response), `${what}:\n${response}`).toBe(404);
      const envelope = JSON.parse(bodyOf(response)) as {
        error: { code: string; message: string; requestId: string };
      };
      expect(envelope.error.code, what).toBe('not_found');
      expect(envelope.error.message, what).toBe('This port serves capture URLs only: /h/<token>');
      expect(response, what).toContain(`x-request-id: ${envelope.error.requestId}`);
    }

    // Nothing any of those routes would have done happened.
    const list = await app.inject({ method: 'GET', url: '/v1/endpoints', headers: account.headers });
    expect((list.json() as { items: { id: string }[] }).items.map((item) => item.id)).toEqual([endpoint.id]);
    expect(app.billing.repository.findAccountByEmail('signup-via-capture@example.com')).toBeNull();
    expect(app.billing.repository.findAccountByEmail('internal-via-capture@example.com')).toBeNull();
    const captures = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/captures`,
      headers: account.headers,
    });
    expect((captures.json() as { items: unknown[] }).items, 'none of them was captured either').toEqual([]);
  });

  it('captures a sub-path with dot segments as a sub-path, never as the route it spells', async () => {
    const { app } = await startWithCaptureListener();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const response = await sendRaw(
      capturePortOf(app),
      Buffer.from(
        `GET /h/${endpoint.token}/../../v1/endpoints HTTP/1.1\r\nHost: x\r\nAuthorization: ${account.headers.authorization}\r\nConnection: close\r\n\r\n`,
        'latin1',
      ),
    );
    const capture = await getCapture(app, captureIdOf(response), account.headers);
    expect(capture.path).toBe('/../../v1/endpoints');
  });
});

describe('a capture on the capture listener goes through the same app as one on the main port', () => {
  it('answers 413 past CAPTURE_BODY_LIMIT, with a Content-Length and chunked', async () => {
    const { app } = await startWithCaptureListener({ CAPTURE_BODY_LIMIT: '1024' });
    const endpoint = await createEndpoint(app, signUp(app).headers);
    const port = capturePortOf(app);
    const declared = await sendRaw(
      port,
      Buffer.from(`POST /h/${endpoint.token} HTTP/1.1\r\nHost: x\r\nContent-Length: 1025\r\n\r\n`, 'latin1'),
    );
    expect(statusOf(declared), declared).toBe(413);
    expect(bodyOf(declared)).toContain('capture limit of 1024 bytes (CAPTURE_BODY_LIMIT)');

    const chunk = Buffer.alloc(1025, 0x61);
    const chunked = await sendRaw(
      port,
      Buffer.concat([
        Buffer.from(
          `POST /h/${endpoint.token} HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`,
          'latin1',
        ),
        Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1'),
        chunk,
        Buffer.from('\r\n0\r\n\r\n', 'latin1'),
      ]),
    );
    expect(statusOf(chunked), chunked).toBe(413);
  });

  it("answers with the endpoint's custom response and pushes the capture to the live stream", async () => {
    const { app } = await startWithCaptureListener();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers, {
      name: 'custom',
      response: { status: 202, headers: { 'x-answer': 'custom' }, body: 'accepted', delayMs: 0 },
    });
    const stream = openStream(
      `http://127.0.0.1:${mainPortOf(app)}/v1/endpoints/${endpoint.id}/stream`,
      account.headers,
    );
    await stream.ready;
    const response = await sendRaw(
      capturePortOf(app),
      Buffer.from(
        `POST /h/${endpoint.token}/live HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nConnection: close\r\n\r\nlive`,
        'latin1',
      ),
    );
    expect(statusOf(response), response).toBe(202);
    expect(response.toLowerCase()).toContain('x-answer: custom');
    expect(bodyOf(response)).toBe('accepted');
    await stream.waitFor(1);
    expect(stream.events[0]?.data).toMatchObject({ path: '/live', bodyText: 'live' });
  });

  it('logs no token and no query from the capture port, even at trace level', async () => {
    const directory = tempDirectory();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(chunk.toString('utf8'));
        done();
      },
    });
    const logger = pino(
      { ...loggerOptions({ service: 'webhookvault', level: 'trace', urlSecrets }), level: 'trace' },
      sink,
    );
    const app = await buildApp(
      loadConfig(testEnvironment(directory, { CAPTURE_PORT: '0', TRUST_PROXY: 'true' })),
      { logger, background: false },
    );
    onCleanup(() => app.close());
    await app.listen({ host: '127.0.0.1', port: 0 });
    const endpoint = await createEndpoint(app, signUp(app).headers);
    const canary = `canary${randomBytes(8).toString('hex')}`;
    const port = capturePortOf(app);
    captureIdOf(
      await sendRaw(
        port,
        Buffer.from(
          `POST /h/${endpoint.token}/p?${canary}=1 HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nConnection: close\r\n\r\nx`,
          'latin1',
        ),
      ),
    );
    // An unknown token's 404 and a non-capture URL's 404 too.
    await sendRaw(
      port,
      Buffer.from(`GET /h/unknown${canary} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'),
    );
    await sendRaw(
      port,
      Buffer.from(`GET /other?${canary} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, 'latin1'),
    );
    const log = lines.join('');
    expect(log).toContain(`capture listener on http://127.0.0.1:${port}`);
    expect(log).not.toContain(endpoint.token);
    expect(log).not.toContain(canary);
  });
});

describe('capture URLs handed out', () => {
  it('use WEBHOOKVAULT_CAPTURE_URL when set, and carry directUrl', async () => {
    const { app } = await startApp({ env: { WEBHOOKVAULT_CAPTURE_URL: 'https://hooks.example.com/' } });
    const endpoint = (await createEndpoint(app, signUp(app).headers)) as {
      token: string;
      url: string;
      directUrl?: string;
    };
    expect(endpoint.url).toBe(`https://hooks.example.com/h/${endpoint.token}`);
    expect(endpoint.directUrl).toBe(`https://hooks.example.com/h/${endpoint.token}`);
  });

  it('keep WEBHOOKVAULT_PUBLIC_URL first when both are set, with the capture listener URL as directUrl', async () => {
    const { app } = await startApp({
      env: {
        WEBHOOKVAULT_PUBLIC_URL: 'http://localhost:8080/webhookvault',
        WEBHOOKVAULT_CAPTURE_URL: 'http://localhost:4105',
      },
    });
    const account = signUp(app);
    const endpoint = (await createEndpoint(app, account.headers)) as {
      id: string;
      token: string;
      url: string;
      directUrl?: string;
    };
    expect(endpoint.url).toBe(`http://localhost:8080/webhookvault/h/${endpoint.token}`);
    expect(endpoint.directUrl).toBe(`http://localhost:4105/h/${endpoint.token}`);
    const again = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}`,
      headers: account.headers,
    });
    expect(again.json()).toMatchObject({ url: endpoint.url, directUrl: endpoint.directUrl });
  });

  it('are built from the request host, without directUrl, when neither is set', async () => {
    const { app } = await startApp();
    const response = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: { ...signUp(app).headers, host: 'vault.example' },
      payload: { name: 'plain' },
    });
    const endpoint = response.json() as { token: string; url: string };
    expect(endpoint.url).toBe(`http://vault.example/h/${endpoint.token}`);
    expect(endpoint).not.toHaveProperty('directUrl');
  });

  it("accepts the studio supervisor's values, CAPTURE_PORT=4105 and WEBHOOKVAULT_CAPTURE_URL=http://localhost:4105", () => {
    const config = loadConfig(
      testEnvironment('/tmp/unused', {
        CAPTURE_PORT: '4105',
        WEBHOOKVAULT_CAPTURE_URL: 'http://localhost:4105',
      }),
    );
    expect(config.CAPTURE_PORT).toBe(4105);
    expect(config.WEBHOOKVAULT_CAPTURE_URL).toBe('http://localhost:4105');
    expect(config.CAPTURE_HOST, 'unset: the listener binds HOST').toBeUndefined();
  });
});

describe('the capture listener in /health', () => {
  it('passes with its port while listening and fails (503 on /readyz) once it is not', async () => {
    const { app } = await startWithCaptureListener();
    const healthy = await app.inject({ method: 'GET', url: '/health' });
    const checks = (
      healthy.json() as { checks: Record<string, { status: string; observedValue?: number }[]> }
    ).checks;
    expect(checks['capture:listener']).toEqual([
      expect.objectContaining({ status: 'pass', observedValue: capturePortOf(app), observedUnit: 'port' }),
    ]);

    await new Promise<void>((resolve) => app.captureListener.server?.close(() => resolve()));
    const broken = await app.inject({ method: 'GET', url: '/health' });
    const failing = (broken.json() as { checks: Record<string, { status: string; output?: string }[]> })
      .checks;
    expect(failing['capture:listener']).toEqual([
      expect.objectContaining({
        status: 'fail',
        output: 'the capture listener (CAPTURE_PORT=0) is not listening',
      }),
    ]);
    expect((await app.inject({ method: 'GET', url: '/readyz' })).statusCode).toBe(503);
  });

  it('has no capture:listener check when CAPTURE_PORT is unset', async () => {
    const { app } = await startApp();
    const health = await app.inject({ method: 'GET', url: '/health' });
    expect(Object.keys((health.json() as { checks: object }).checks)).not.toContain('capture:listener');
    expect(app.captureListener.configured).toBe(false);
  });

  it('refuses to start when its port is taken, naming the variables', async () => {
    const { app: holder } = await startWithCaptureListener();
    const taken = String(capturePortOf(holder));
    const directory = tempDirectory();
    const app = await buildApp(loadConfig(testEnvironment(directory, { CAPTURE_PORT: taken })), {
      background: false,
    });
    onCleanup(() => app.close());
    await expect(app.listen({ host: '127.0.0.1', port: 0 })).rejects.toThrow(
      `the capture listener cannot listen on 127.0.0.1:${taken} (CAPTURE_HOST, CAPTURE_PORT)`,
    );
  });
});

describe('closing the app', () => {
  it('stops both listeners, lets the captures in flight on each finish and store, then closes', async () => {
    const directory = tempDirectory();
    const { app } = await startApp({
      directory,
      env: { TRUST_PROXY: 'true', CAPTURE_PORT: '0' },
      listen: true,
    });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const capturePort = capturePortOf(app);
    const mainPort = mainPortOf(app);

    // An idle keep-alive connection to the capture port must not hold the close up.
    const idle = openRaw(capturePort);
    idle.write(`POST /h/${endpoint.token}/idle HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nidle`);
    await idle.waitFor('"captureId"');

    // Two captures in flight: the head is in and Node has answered 100 Continue (it does so as it hands the
    // request to the app), the body is not. The one on the main port says `Connection: close` itself: the main
    // port (service-kit's server) does not end a keep-alive connection whose answer was in flight at close, so
    // app.close() would wait for the client or the keep-alive timeout there. The capture port ends it.
    const inFlight = [capturePort, mainPort].map((port) => {
      const connection = openRaw(port);
      connection.write(
        `POST /h/${endpoint.token}/in-flight-${port} HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n` +
          `${port === mainPort ? 'Connection: close\r\n' : ''}Content-Length: 9\r\n\r\n`,
      );
      return connection;
    });
    await Promise.all(inFlight.map((connection) => connection.waitFor('100 Continue')));

    const closed = app.close();
    for (const connection of inFlight) connection.write('in flight');
    const [captureAnswer, mainAnswer] = await Promise.all(inFlight.map((connection) => connection.ended));
    await closed;
    await idle.ended;
    for (const answer of [captureAnswer, mainAnswer]) expect(answer).toContain('"captureId"');
    // The capture port made the answer in flight the last on its connection, though the client kept it alive.
    expect(captureAnswer).toContain('HTTP/1.1 200 OK\r\nconnection: close\r\n');

    // Neither port takes connections any more.
    for (const port of [capturePort, mainPort]) {
      const refused = await new Promise<string>((resolve) => {
        const socket = netConnect({ host: '127.0.0.1', port });
        socket.on('connect', () => {
          socket.destroy();
          resolve('connected');
        });
        socket.on('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? 'error'));
      });
      expect(refused, `port ${port}`).toBe('ECONNREFUSED');
    }

    // Both captures were committed before the database closed.
    const reopened = await startApp({ directory });
    const list = await reopened.app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/captures`,
      headers: account.headers,
    });
    const paths = (list.json() as { items: { path: string }[] }).items.map((item) => item.path).sort();
    expect(paths).toEqual([`/idle`, `/in-flight-${capturePort}`, `/in-flight-${mainPort}`].sort());
  });
});

describe.skipIf(!opensslInstalled)('the capture listener over HTTPS', () => {
  it('serves the configured certificate and records the request head exactly', async () => {
    const directory = tempDirectory();
    const pair = generateCertificate(directory, 'capture');
    const { app } = await startWithCaptureListener({
      CAPTURE_TLS_CERT_FILE: pair.cert,
      CAPTURE_TLS_KEY_FILE: pair.key,
    });
    expect(app.captureListener.url()).toBe(`https://127.0.0.1:${capturePortOf(app)}`);
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const body = binaryBody();
    const sent = senderHeaders(capturePortOf(app));
    // Verified against the generated certificate as the only CA: the handshake fails unless it is the one served.
    const response = await sendRaw(capturePortOf(app), requestBytes(endpoint.token, sent, body), {
      ca: readFileSync(pair.cert),
    });
    const capture = await getCapture(app, captureIdOf(response), account.headers);
    expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(body));
    expect(capture.headers).toEqual([
      ...sent,
      ['Content-Length', String(body.length)],
      ['Connection', 'close'],
    ]);
    expect(capture.remoteAddress).toBe('127.0.0.1');
  });

  it('serves a renewed certificate to new connections after reloadCertificates (SIGHUP)', async () => {
    const directory = tempDirectory();
    const first = generateCertificate(directory, 'first');
    const { app } = await startWithCaptureListener({
      CAPTURE_TLS_CERT_FILE: first.cert,
      CAPTURE_TLS_KEY_FILE: first.key,
    });
    const port = capturePortOf(app);
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port,
          servername: 'localhost',
          rejectUnauthorized: false,
        });
        socket.on('secureConnect', () => {
          resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
          socket.destroy();
        });
        socket.on('error', reject);
      });
    const before = await served();
    expect(before).toBe(new X509Certificate(readFileSync(first.cert)).fingerprint256);

    const renewed = generateCertificate(directory, 'renewed');
    writeFileSync(first.cert, readFileSync(renewed.cert));
    writeFileSync(first.key, readFileSync(renewed.key));
    expect(app.captureListener.reloadCertificates()).toBe(true);
    expect(await served()).toBe(new X509Certificate(readFileSync(renewed.cert)).fingerprint256);

    // A broken pair is refused and the current certificate kept.
    writeFileSync(first.key, 'not a key');
    expect(app.captureListener.reloadCertificates()).toBe(false);
    expect(await served()).toBe(new X509Certificate(readFileSync(renewed.cert)).fingerprint256);
  });
});

describe.skipIf(!opensslInstalled)('the real server (src/server.ts)', () => {
  it('opens the HTTPS capture listener, reloads its certificate on SIGHUP and drains on SIGTERM', {
    timeout: 30_000,
  }, async () => {
    const directory = tempDirectory();
    const first = generateCertificate(directory, 'first');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        ...process.env,
        ...testEnvironment(directory, {
          PORT: '0',
          CAPTURE_PORT: '0',
          CAPTURE_TLS_CERT_FILE: first.cert,
          CAPTURE_TLS_KEY_FILE: first.key,
        }),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    onCleanup(() => {
      if (child.exitCode === null) child.kill('SIGKILL');
    });
    let output = '';
    const waiters: { pattern: RegExp; resolve: (match: RegExpExecArray) => void }[] = [];
    const onOutput = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      for (const waiter of [...waiters]) {
        const match = waiter.pattern.exec(output);
        if (match) {
          waiters.splice(waiters.indexOf(waiter), 1);
          waiter.resolve(match);
        }
      }
    };
    child.stdout.on('data', onOutput);
    child.stderr.on('data', onOutput);
    const exited = new Promise<number | null>((resolve) => child.on('exit', resolve));
    const waitFor = (pattern: RegExp) =>
      Promise.race([
        new Promise<RegExpExecArray>((resolve) => {
          const match = pattern.exec(output);
          if (match) resolve(match);
          else waiters.push({ pattern, resolve });
        }),
        exited.then((code) => {
          throw new Error(`server exited with ${code}:\n${output}`);
        }),
      ]);

    const capturePort = Number((await waitFor(/capture listener on https:\/\/127\.0\.0\.1:(\d+)/))[1]);
    await waitFor(/Server listening at http:\/\/127\.0\.0\.1:\d+/);
    const served = () =>
      new Promise<string>((resolve, reject) => {
        const socket = tlsConnect({
          host: '127.0.0.1',
          port: capturePort,
          servername: 'localhost',
          rejectUnauthorized: false,
        });
        socket.on('secureConnect', () => {
          resolve(socket.getPeerX509Certificate()?.fingerprint256 ?? '');
          socket.destroy();
        });
        socket.on('error', reject);
      });
    expect(await served()).toBe(new X509Certificate(readFileSync(first.cert)).fingerprint256);

    const renewed = generateCertificate(directory, 'renewed');
    writeFileSync(first.cert, readFileSync(renewed.cert));
    writeFileSync(first.key, readFileSync(renewed.key));
    child.kill('SIGHUP');
    await waitFor(/certificate reloaded/);
    expect(await served()).toBe(new X509Certificate(readFileSync(renewed.cert)).fingerprint256);

    child.kill('SIGTERM');
    expect(await exited, output).toBe(0);
    expect(output).toContain('webhookvault closed');
  });
});
