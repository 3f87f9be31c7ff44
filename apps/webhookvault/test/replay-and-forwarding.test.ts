import { randomBytes } from 'node:crypto';
import type { OutboundLookup } from '@studio/service-kit/outbound';
import { describe, expect, it } from 'vitest';
import { createEndpoint, type Received, signUp, startApp, startReceiver } from './harness';

type App = Awaited<ReturnType<typeof startApp>>['app'];

/** The headers a receiver got, minus the ones a proxy recomputes (Host, Content-Length, Connection). */
const withoutRecomputed = (raw: string[]) => {
  const pairs: [string, string][] = [];
  for (let index = 0; index < raw.length; index += 2) pairs.push([raw[index]!, raw[index + 1]!]);
  return pairs.filter(([name]) => !['host', 'content-length', 'connection'].includes(name.toLowerCase()));
};

async function captureOne(
  app: App,
  token: string,
  options: { method?: string; url?: string; body?: Buffer; headers?: Record<string, string> } = {},
) {
  const response = await app.inject({
    method: (options.method ?? 'POST') as 'POST',
    url: `/h/${token}${options.url ?? ''}`,
    headers: options.headers ?? { 'content-type': 'application/json' },
    payload: options.body ?? Buffer.from('{"event":"ping"}'),
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().captureId as string;
}

async function deliveriesOf(app: App, headers: Record<string, string>, endpointId: string, status?: string) {
  const response = await app.inject({
    method: 'GET',
    url: `/v1/endpoints/${endpointId}/deliveries${status ? `?status=${status}` : ''}`,
    headers,
  });
  expect(response.statusCode, response.body).toBe(200);
  return response.json().items as {
    id: string;
    status: string;
    attempts: { attempt: number; statusCode: number | null; error: string | null; startedAt: string }[];
    nextAttemptAt: string | null;
    lastError: string | null;
  }[];
}

describe('replay', () => {
  it('sends the stored method, bytes and headers in order, dropping only hop-by-hop, Host and Content-Length', async () => {
    const { app } = await startApp();
    const receiver = await startReceiver();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const body = randomBytes(2048);
    const captureId = await captureOne(app, endpoint.token, {
      method: 'PATCH',
      url: '/orders/7?a=1&a=2',
      body,
      headers: {
        'content-type': 'application/octet-stream',
        'x-first': '1',
        connection: 'keep-alive, x-hop',
        'x-hop': 'dropped because Connection names it',
        'keep-alive': 'timeout=5',
        'user-agent': 'sender/1.0',
      },
    });
    const replay = await app.inject({
      method: 'POST',
      url: `/v1/captures/${captureId}/replay`,
      headers: account.headers,
      payload: { targetUrl: `${receiver.url}/in` },
    });
    expect(replay.statusCode, replay.body).toBe(201);
    expect(replay.json()).toMatchObject({
      kind: 'replay',
      status: 'succeeded',
      attempts: [{ attempt: 1, statusCode: 200 }],
    });
    const [received] = receiver.received as [Received];
    expect(received.method).toBe('PATCH');
    expect(received.url).toBe('/in');
    expect(received.body.equals(body)).toBe(true);
    const capture = (
      await app.inject({ method: 'GET', url: `/v1/captures/${captureId}`, headers: account.headers })
    ).json();
    const expected = (capture.headers as [string, string][]).filter(
      ([name]) =>
        !['host', 'content-length', 'connection', 'x-hop', 'keep-alive'].includes(name.toLowerCase()),
    );
    expect(withoutRecomputed(received.rawHeaders)).toEqual(expected);
  });

  it('appends the captured sub-path and raw query with preservePath', async () => {
    const { app } = await startApp();
    const receiver = await startReceiver();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const captureId = await captureOne(app, endpoint.token, { url: '/a/b%20c?x=1&y=%ZZ' });
    await app.inject({
      method: 'POST',
      url: `/v1/captures/${captureId}/replay`,
      headers: account.headers,
      payload: { targetUrl: `${receiver.url}/base/?k=v`, preservePath: true },
    });
    expect(receiver.received[0]?.url).toBe('/base/a/b%20c?k=v&x=1&y=%ZZ');
  });

  it('replays a GET with a body and a WebDAV method', async () => {
    const { app } = await startApp();
    const receiver = await startReceiver();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    for (const method of ['GET', 'PROPFIND']) {
      const captureId = await captureOne(app, endpoint.token, {
        method,
        body: Buffer.from(`<${method}/>`),
        headers: {},
      });
      const replay = await app.inject({
        method: 'POST',
        url: `/v1/captures/${captureId}/replay`,
        headers: account.headers,
        payload: { targetUrl: receiver.url },
      });
      expect(replay.json().status, replay.body).toBe('succeeded');
    }
    expect(receiver.received.map((r) => [r.method, r.body.toString()])).toEqual([
      ['GET', '<GET/>'],
      ['PROPFIND', '<PROPFIND/>'],
    ]);
  });
});

describe('forwarding', () => {
  it('delivers every capture, retrying on the schedule with every attempt recorded', async () => {
    const { app, clock } = await startApp();
    const receiver = await startReceiver((_request, index) => ({ status: index < 2 ? 500 : 204 }));
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const rule = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: `${receiver.url}/hook` },
    });
    expect(rule.statusCode, rule.body).toBe(201);
    const captureId = await captureOne(app, endpoint.token);
    const { deliveries } = app.webhookvault;
    await deliveries.runDue();
    let [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery).toMatchObject({
      status: 'pending',
      nextAttemptAt: new Date(clock.now() + 5000).toISOString(),
    });
    clock.advance(4999);
    expect(await deliveries.runDue()).toBe(0);
    clock.advance(1);
    await deliveries.runDue();
    [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery?.nextAttemptAt).toBe(new Date(clock.now() + 300_000).toISOString());
    clock.advance(300_000);
    await deliveries.runDue();
    [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery?.status).toBe('succeeded');
    expect(delivery?.attempts.map((a) => a.statusCode)).toEqual([500, 500, 204]);
    expect(receiver.received).toHaveLength(3);
    for (const received of receiver.received) {
      expect(received).toMatchObject({ method: 'POST', url: '/hook' });
      expect(received.body.toString()).toBe('{"event":"ping"}');
      const stored = (
        await app.inject({ method: 'GET', url: `/v1/captures/${captureId}`, headers: account.headers })
      ).json().headers as [string, string][];
      expect(withoutRecomputed(received.rawHeaders)).toEqual(
        stored.filter(([name]) => !['host', 'content-length'].includes(name.toLowerCase())),
      );
    }
  });

  it('spreads retries by ±20 % jitter', async () => {
    const { retryDelayMs, RETRY_DELAYS_MS } = await import('../src/delivery/worker');
    expect(RETRY_DELAYS_MS).toEqual([
      5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000,
    ]);
    expect(retryDelayMs(1, () => 0)).toBe(4000);
    expect(retryDelayMs(1, () => 0.999999)).toBe(6000);
    expect(retryDelayMs(7, () => 0.5)).toBe(36_000_000);
    expect(retryDelayMs(8, () => 0.5)).toBeNull();
  });

  it('honours Retry-After', async () => {
    const { app, clock } = await startApp();
    const receiver = await startReceiver(() => ({ status: 503, headers: { 'retry-after': '120' } }));
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: receiver.url },
    });
    await captureOne(app, endpoint.token);
    await app.webhookvault.deliveries.runDue();
    const [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery?.nextAttemptAt).toBe(new Date(clock.now() + 120_000).toISOString());
  });

  it('disables the rule on 410 Gone', async () => {
    const { app } = await startApp();
    const receiver = await startReceiver(() => ({ status: 410 }));
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: receiver.url },
    });
    await captureOne(app, endpoint.token);
    await app.webhookvault.deliveries.runDue();
    const rules = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
    });
    expect(rules.json().items[0]).toMatchObject({
      enabled: false,
      disabledReason: expect.stringContaining('410'),
    });
    await captureOne(app, endpoint.token);
    await app.webhookvault.deliveries.runDue();
    expect(await deliveriesOf(app, account.headers, endpoint.id)).toHaveLength(1);
    expect(receiver.received).toHaveLength(1);
  });

  it('moves an exhausted delivery to the dead letters, from where a retry delivers it', async () => {
    const { app, clock } = await startApp();
    let healthy = false;
    const receiver = await startReceiver(() => ({ status: healthy ? 200 : 500 }));
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: receiver.url },
    });
    await captureOne(app, endpoint.token);
    for (let attempt = 0; attempt < 8; attempt++) {
      await app.webhookvault.deliveries.runDue();
      clock.advance(36_000_000);
    }
    const [dead] = await deliveriesOf(app, account.headers, endpoint.id, 'dead');
    expect(dead?.attempts).toHaveLength(8);
    expect(receiver.received).toHaveLength(8);
    healthy = true;
    const retried = await app.inject({
      method: 'POST',
      url: `/v1/deliveries/${dead?.id}/retry`,
      headers: account.headers,
    });
    expect(retried.statusCode, retried.body).toBe(202);
    expect(retried.json().status).toBe('pending');
    await app.webhookvault.deliveries.runDue();
    const [delivered] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivered).toMatchObject({ status: 'succeeded' });
    expect(delivered?.attempts).toHaveLength(9);
    const again = await app.inject({
      method: 'POST',
      url: `/v1/deliveries/${dead?.id}/retry`,
      headers: account.headers,
    });
    expect(again.statusCode).toBe(409);
  });

  it('does not follow a redirect, even to an internal address: it is a failed attempt', async () => {
    const { app } = await startApp();
    const receiver = await startReceiver(() => ({
      status: 302,
      headers: { location: 'http://169.254.169.254/latest/meta-data/' },
    }));
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const captureId = await captureOne(app, endpoint.token);
    const replay = await app.inject({
      method: 'POST',
      url: `/v1/captures/${captureId}/replay`,
      headers: account.headers,
      payload: { targetUrl: receiver.url },
    });
    expect(replay.json()).toMatchObject({
      status: 'dead',
      attempts: [{ statusCode: 302, error: 'receiver answered 302; redirects are not followed' }],
    });
    expect(receiver.received).toHaveLength(1);
  });
});

describe('SSRF guard on replay and forwarding', () => {
  it('refuses every spelling of loopback and internal addresses', async () => {
    // Only the two names meant as names resolve internally; any other name answers a public address, so a
    // numeric spelling that the guard mistook for a name would resolve as public and pass: it must be
    // refused as the literal it is.
    const looked: string[] = [];
    const lookup: OutboundLookup = async (hostname) => {
      looked.push(hostname);
      if (hostname === 'internal.example') return [{ address: '10.0.0.5', family: 4 }];
      if (hostname === 'localhost') return [{ address: '127.0.0.1', family: 4 }];
      return [{ address: '93.184.216.34', family: 4 }];
    };
    const { app } = await startApp({ env: { OUTBOUND_ALLOWLIST: 'allowed.example' }, lookup });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const captureId = await captureOne(app, endpoint.token);
    const targets = [
      'http://127.0.0.1/',
      'http://2130706433/',
      'http://0x7f000001/',
      'http://0177.0.0.1/',
      'http://127.1/',
      'http://0/',
      'http://[::1]/',
      'http://[::ffff:127.0.0.1]/',
      'http://[::ffff:7f00:1]/',
      'http://localhost/',
      'http://169.254.169.254/latest/meta-data/',
      'http://internal.example/',
      'http://100.64.0.1/',
      'file:///etc/passwd',
    ];
    for (const targetUrl of targets) {
      for (const url of [`/v1/captures/${captureId}/replay`, `/v1/endpoints/${endpoint.id}/forwarding`]) {
        const response = await app.inject({
          method: 'POST',
          url,
          headers: account.headers,
          payload: { targetUrl },
        });
        expect(response.statusCode, `${targetUrl} via ${url}: ${response.body}`).toBe(400);
        if (!targetUrl.startsWith('file:'))
          expect(response.json().error.message, targetUrl).not.toMatch(/does not resolve/);
      }
    }
    expect([...new Set(looked)].sort()).toEqual(['internal.example', 'localhost']);
  });

  it('refuses at connect time a target that skipped the check at submission', async () => {
    const receiver = await startReceiver();
    // Every name answers a public address, so the rule is accepted; its stored target is then swapped for
    // internal literals directly in the database, as a row written before the check (or past it) would be.
    const lookup: OutboundLookup = async () => [{ address: '93.184.216.34', family: 4 }];
    const { app } = await startApp({ env: { OUTBOUND_ALLOWLIST: '10.255.255.255' }, lookup });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const rule = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: `http://public.example:${receiver.port}/` },
    });
    expect(rule.statusCode, rule.body).toBe(201);
    const swapTarget = app.database.sqlite.prepare('UPDATE forwarding_rules SET target_url = ? WHERE id = ?');
    const spellings = [
      `http://127.0.0.1:${receiver.port}/`,
      `http://0x7f000001:${receiver.port}/`,
      `http://2130706433:${receiver.port}/`,
      `http://127.1:${receiver.port}/`,
      `http://[::ffff:127.0.0.1]:${receiver.port}/`,
    ];
    for (const targetUrl of spellings) {
      swapTarget.run(targetUrl, rule.json().id);
      await captureOne(app, endpoint.token);
    }
    await app.webhookvault.deliveries.runDue();
    const deliveries = await deliveriesOf(app, account.headers, endpoint.id);
    expect(deliveries).toHaveLength(spellings.length);
    for (const delivery of deliveries) {
      expect(delivery.attempts).toHaveLength(1);
      expect(delivery.attempts[0]?.statusCode).toBeNull();
      expect(delivery.attempts[0]?.error).toMatch(/^refusing to connect to /);
    }
    expect(receiver.received).toHaveLength(0);
  });

  it('records a forwarding receiver redirecting to the metadata address as a failed attempt, never followed', async () => {
    const { app, clock } = await startApp();
    const receiver = await startReceiver(() => ({
      status: 302,
      headers: { location: 'http://169.254.169.254/latest/meta-data/' },
    }));
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const rule = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: `${receiver.url}/hook` },
    });
    expect(rule.statusCode, rule.body).toBe(201);
    await captureOne(app, endpoint.token);
    await app.webhookvault.deliveries.runDue();
    let [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery).toMatchObject({
      status: 'pending',
      attempts: [{ statusCode: 302, error: 'receiver answered 302; redirects are not followed' }],
    });
    expect(receiver.received.map((request) => request.url)).toEqual(['/hook']);
    clock.advance(5000);
    await app.webhookvault.deliveries.runDue();
    [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery?.attempts.map((attempt) => attempt.statusCode)).toEqual([302, 302]);
    expect(receiver.received.map((request) => request.url)).toEqual(['/hook', '/hook']);
  });

  it('checks the address actually connected to when DNS changes its answer after the rule was accepted', async () => {
    const receiver = await startReceiver();
    let queries = 0;
    // First answer: a public address (the rule is accepted); every later answer: loopback (DNS rebinding).
    const lookup: OutboundLookup = async () => {
      queries += 1;
      return queries === 1
        ? [{ address: '93.184.216.34', family: 4 }]
        : [{ address: '127.0.0.1', family: 4 }];
    };
    const { app } = await startApp({ env: { OUTBOUND_ALLOWLIST: '10.255.255.255' }, lookup });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const rule = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: `http://rebinding.example:${receiver.port}/` },
    });
    expect(rule.statusCode, rule.body).toBe(201);
    await captureOne(app, endpoint.token);
    await app.webhookvault.deliveries.runDue();
    const [delivery] = await deliveriesOf(app, account.headers, endpoint.id);
    expect(delivery?.attempts[0]?.error).toMatch(/refusing to connect to 127\.0\.0\.1 \(loopback\)/);
    expect(receiver.received).toHaveLength(0);
    expect(queries).toBeGreaterThanOrEqual(2);
  });
});

describe('bulk replay', () => {
  it('replays the captures that match a filter through the outbox', async () => {
    const { app } = await startApp();
    const receiver = await startReceiver();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    for (const path of ['/orders/1', '/users/1', '/orders/2']) {
      await captureOne(app, endpoint.token, { url: path, body: Buffer.from(path), headers: {} });
    }
    const replay = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/replay`,
      headers: account.headers,
      payload: { targetUrl: receiver.url, preservePath: true, filter: { path: '/orders' } },
    });
    expect(replay.statusCode, replay.body).toBe(202);
    expect(replay.json().count).toBe(2);
    await app.webhookvault.deliveries.runDue();
    expect(receiver.received.map((r) => r.url).sort()).toEqual(['/orders/1', '/orders/2']);
    expect((await deliveriesOf(app, account.headers, endpoint.id, 'succeeded')).length).toBe(2);
  });
});

describe('outbox health', () => {
  it('warns on /health when deliveries are more than a minute overdue', async () => {
    const { app, clock } = await startApp();
    const receiver = await startReceiver();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: account.headers,
      payload: { targetUrl: receiver.url },
    });
    const check = async () =>
      (await app.inject({ method: 'GET', url: '/health' })).json().checks['outbox:overdue'][0];
    await app.webhookvault.deliveries.stop();
    await captureOne(app, endpoint.token);
    expect(await check()).toMatchObject({ status: 'pass', observedValue: 0 });
    clock.advance(61_000);
    expect(await check()).toMatchObject({ status: 'warn', observedValue: 1 });
  });
});
