import { createHash, randomBytes } from 'node:crypto';
import { request as httpRequest } from 'node:http';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import type { CaptureView } from '../src/capture/store';
import { baseUrlOf, createEndpoint, getCapture, signUp, startApp } from './harness';

const sha256 = (data: Buffer) => createHash('sha256').update(data).digest('hex');

/** Sends one request over a real socket with headers exactly as given (order, case, repeats). */
function send(
  url: string,
  options: { method: string; headers: [string, string][]; body?: Buffer; chunked?: boolean },
): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    // Headers given as a flat list are sent exactly as listed, so Host has to be among them.
    const flat = [['Host', new URL(url).host], ...options.headers].flat();
    const request = httpRequest(url, {
      method: options.method,
      headers: flat as unknown as Record<string, string>,
    });
    request.on('response', (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () =>
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString() }),
      );
    });
    request.on('error', reject);
    if (options.body && options.chunked) {
      // Two writes without a Content-Length: Node sends Transfer-Encoding: chunked.
      const half = Math.floor(options.body.length / 2);
      request.write(options.body.subarray(0, half));
      request.end(options.body.subarray(half));
    } else request.end(options.body);
  });
}

/** Header order, case and repeats, and the raw path and query, as sent by the near-limit cases. */
function expectOrderedHeadersAndRawQuery(capture: CaptureView, label: string) {
  expect(capture.path, label).toBe('/near%20limit');
  expect(capture.query, label).toBe('b=2&a=1&a=%ZZ');
  expect(capture.headers.map(([name]) => name).slice(0, 5), label).toEqual([
    'Host',
    'X-First',
    'Content-Type',
    'x-repeat',
    'X-Repeat',
  ]);
  expect(
    capture.headers.filter(([name]) => name.toLowerCase() === 'x-repeat').map(([, value]) => value),
    label,
  ).toEqual(['a', 'b']);
}

describe('capture', () => {
  it('records binary, empty, gzip, multipart bodies byte for byte with headers in received order', async () => {
    const { app } = await startApp({ listen: true });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const base = `${baseUrlOf(app)}/h/${endpoint.token}`;
    const boundary = 'xYzZY';
    const multipart = Buffer.concat([
      Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.bin"\r\n\r\n`),
      randomBytes(300),
      Buffer.from(`\r\n--${boundary}--\r\n`),
    ]);
    const cases: { name: string; body: Buffer; type?: string; extra?: [string, string][] }[] = [
      { name: 'binary', body: randomBytes(4096) },
      { name: 'empty', body: Buffer.alloc(0) },
      {
        name: 'gzip',
        body: gzipSync(Buffer.from('{"hello":"world"}')),
        extra: [['Content-Encoding', 'gzip']],
      },
      { name: 'multipart', body: multipart, type: `multipart/form-data; boundary=${boundary}` },
      { name: 'invalid content type', body: Buffer.from('x=1'), type: 'not a media type' },
    ];
    for (const testCase of cases) {
      const headers: [string, string][] = [
        ['X-First', 'one'],
        ['Content-Type', testCase.type ?? 'application/octet-stream'],
        ['x-repeat', 'a'],
        ['X-Repeat', 'b'],
        ...(testCase.extra ?? []),
        ['Content-Length', String(testCase.body.length)],
      ];
      const answer = await send(`${base}/deep/path%20x?b=2&a=1&a=%ZZ`, {
        method: 'POST',
        headers,
        body: testCase.body,
      });
      expect(answer.status, `${testCase.name}: ${answer.body}`).toBe(200);
      const { captureId } = JSON.parse(answer.body) as { captureId: string };
      const capture = await getCapture(app, captureId, account.headers);
      expect(sha256(Buffer.from(capture.bodyBase64, 'base64')), testCase.name).toBe(sha256(testCase.body));
      expect(capture.size).toBe(testCase.body.length);
      expect(capture.path).toBe('/deep/path%20x');
      expect(capture.query).toBe('b=2&a=1&a=%ZZ');
      expect(capture.method).toBe('POST');
      expect(capture.remoteAddress).toBe('127.0.0.1');
      const names = capture.headers.map(([name]) => name);
      expect(names.slice(0, 5), testCase.name).toEqual([
        'Host',
        'X-First',
        'Content-Type',
        'x-repeat',
        'X-Repeat',
      ]);
      expect(capture.headers.filter(([name]) => name.toLowerCase() === 'x-repeat').map(([, v]) => v)).toEqual(
        ['a', 'b'],
      );
    }
  });

  it('captures WebDAV and other non-standard methods, and a GET or DELETE that carries a body', async () => {
    const { app } = await startApp({ listen: true });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const base = `${baseUrlOf(app)}/h/${endpoint.token}`;
    for (const method of ['PROPFIND', 'MKCOL', 'PURGE', 'REPORT', 'GET', 'DELETE', 'OPTIONS', 'QUERY']) {
      const body = Buffer.from(`body of ${method}`);
      const answer = await send(`${base}/m`, {
        method,
        headers: [['Content-Length', String(body.length)]],
        body,
      });
      expect(answer.status, `${method}: ${answer.body}`).toBe(200);
      const capture = await getCapture(
        app,
        (JSON.parse(answer.body) as { captureId: string }).captureId,
        account.headers,
      );
      expect(capture.method).toBe(method);
      expect(capture.bodyText).toBe(`body of ${method}`);
    }
    const head = await send(base, { method: 'HEAD', headers: [] });
    expect(head.status).toBe(200);
  });

  it('accepts a body of exactly the limit and refuses one byte more with a 413 naming the limit, chunked or not', async () => {
    const { app } = await startApp({ listen: true, env: { CAPTURE_BODY_LIMIT: '65536' } });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const url = `${baseUrlOf(app)}/h/${endpoint.token}`;
    const exact = randomBytes(65536);
    const ordered: [string, string][] = [
      ['X-First', 'one'],
      ['Content-Type', 'application/octet-stream'],
      ['x-repeat', 'a'],
      ['X-Repeat', 'b'],
    ];
    for (const chunked of [false, true]) {
      const ok = await send(`${url}/near%20limit?b=2&a=1&a=%ZZ`, {
        method: 'PUT',
        headers: chunked ? ordered : [...ordered, ['Content-Length', String(exact.length)]],
        body: exact,
        chunked,
      });
      expect(ok.status, ok.body).toBe(200);
      const capture = await getCapture(
        app,
        (JSON.parse(ok.body) as { captureId: string }).captureId,
        account.headers,
      );
      expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(exact));
      expectOrderedHeadersAndRawQuery(capture, `chunked=${chunked}`);
      const over = Buffer.concat([exact, Buffer.from('!')]);
      const refused = await send(url, {
        method: 'PUT',
        headers: chunked ? [] : [['Content-Length', String(over.length)]],
        body: over,
        chunked,
      });
      expect(refused.status, `chunked=${chunked}`).toBe(413);
      expect(JSON.parse(refused.body).error.message).toContain('65536 bytes');
    }
  });

  it('captures a body of the full default 25 MiB limit', async () => {
    const { app } = await startApp({ listen: true });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const body = randomBytes(25 * 1024 * 1024);
    const answer = await send(`${baseUrlOf(app)}/h/${endpoint.token}/near%20limit?b=2&a=1&a=%ZZ`, {
      method: 'POST',
      headers: [
        ['X-First', 'one'],
        ['Content-Type', 'application/octet-stream'],
        ['x-repeat', 'a'],
        ['X-Repeat', 'b'],
        ['Content-Length', String(body.length)],
      ],
      body,
    });
    expect(answer.status, answer.body).toBe(200);
    const capture = await getCapture(
      app,
      (JSON.parse(answer.body) as { captureId: string }).captureId,
      account.headers,
    );
    expect(sha256(Buffer.from(capture.bodyBase64, 'base64'))).toBe(sha256(body));
    expectOrderedHeadersAndRawQuery(capture, '25 MiB');
  });

  it('answers with the endpoint custom response', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers, {
      name: 'custom',
      response: {
        status: 202,
        headers: { 'x-reply': 'yes', 'content-type': 'text/plain' },
        body: 'accepted',
      },
    });
    const response = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(response.statusCode).toBe(202);
    expect(response.headers['x-reply']).toBe('yes');
    expect(response.body).toBe('accepted');
  });

  it("waits the custom response's delayMs before answering, with the capture already stored", async () => {
    const events: string[] = [];
    let release = () => {};
    const sleeps: number[] = [];
    const sleep = (ms: number) =>
      new Promise<void>((resolve) => {
        sleeps.push(ms);
        events.push('sleep started');
        release = () => {
          events.push('sleep released');
          resolve();
        };
      });
    const { app } = await startApp({ sleep });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers, {
      name: 'slow',
      response: { status: 202, headers: {}, body: 'later', delayMs: 1500 },
    });
    const answered = app
      .inject({ method: 'POST', url: `/h/${endpoint.token}/slow`, payload: 'x' })
      .then((response) => {
        events.push('answered');
        return response;
      });
    while (sleeps.length === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    expect(sleeps).toEqual([1500]);
    // The capture is taken before the wait: it is listed while the answer is still held back.
    const list = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/captures`,
      headers: account.headers,
    });
    expect(list.json().items.map((item: { path: string }) => item.path)).toEqual(['/slow']);
    expect(events).toEqual(['sleep started']);
    release();
    const response = await answered;
    expect(events).toEqual(['sleep started', 'sleep released', 'answered']);
    expect(response.statusCode).toBe(202);
    expect(response.body).toBe('later');
  });

  it('answers 404 for an unknown token, and 429 to an address that keeps trying unknown tokens', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const statuses: number[] = [];
    for (let index = 0; index < 121; index++) {
      statuses.push(
        (await app.inject({ method: 'POST', url: `/h/guess-${index}`, payload: 'x' })).statusCode,
      );
    }
    expect(statuses.slice(0, 120).every((status) => status === 404)).toBe(true);
    expect(statuses[120]).toBe(429);
    // Known tokens are not limited per address: they count against the owner's monthly captures.
    const known = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(known.statusCode).toBe(200);
  });
});
