import { describe, expect, it } from 'vitest';
import { createEndpoint, signUp, startApp, startReceiver } from './harness';

describe('endpoints API', () => {
  it('creates, lists, reads, changes and deletes an endpoint with an unguessable token', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const created = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: { ...account.headers, host: 'vault.example' },
      payload: { name: 'stripe test', verify: { scheme: 'stripe', secret: 'whsec_abc' } },
    });
    expect(created.statusCode, created.body).toBe(201);
    const endpoint = created.json();
    expect(endpoint.token).toMatch(/^[0-9A-Za-z]{33}$/);
    expect(endpoint.url).toBe(`http://vault.example/h/${endpoint.token}`);
    expect(endpoint.verify).toEqual({ scheme: 'stripe' });
    expect(JSON.stringify(endpoint)).not.toContain('whsec_abc');

    const list = await app.inject({ method: 'GET', url: '/v1/endpoints', headers: account.headers });
    expect(list.json().items.map((item: { id: string }) => item.id)).toEqual([endpoint.id]);

    const patched = await app.inject({
      method: 'PATCH',
      url: `/v1/endpoints/${endpoint.id}`,
      headers: account.headers,
      payload: { name: 'renamed', verify: null, response: { status: 201, body: 'made' } },
    });
    expect(patched.statusCode, patched.body).toBe(200);
    expect(patched.json()).toMatchObject({
      name: 'renamed',
      verify: null,
      response: { status: 201, headers: {}, body: 'made', delayMs: 0 },
    });
    const capture = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(capture.statusCode).toBe(201);

    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/endpoints/${endpoint.id}`,
      headers: account.headers,
    });
    expect(removed.statusCode).toBe(204);
    const gone = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(gone.statusCode).toBe(404);
  });

  it('refuses a bad body, a missing key, and endpoints past the plan limit', async () => {
    const { app } = await startApp();
    const account = signUp(app, 'free');
    const invalid = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: account.headers,
      payload: { name: '', response: { status: 99 } },
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('validation_failed');
    const badSecret = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: account.headers,
      payload: { name: 'x', verify: { scheme: 'standard-webhooks', secret: 'whsec_***' } },
    });
    expect(badSecret.statusCode).toBe(400);
    const framing = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: account.headers,
      payload: { name: 'x', response: { headers: { 'Content-Length': '5' } } },
    });
    expect(framing.statusCode).toBe(400);
    const anonymous = await app.inject({ method: 'POST', url: '/v1/endpoints', payload: { name: 'x' } });
    expect(anonymous.statusCode).toBe(401);
    for (let index = 0; index < 3; index++) await createEndpoint(app, account.headers);
    const fourth = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: account.headers,
      payload: { name: 'x' },
    });
    expect(fourth.statusCode).toBe(402);
  });

  it("gives another account's key a 404 for every endpoint and capture route", async () => {
    const { app } = await startApp();
    const owner = signUp(app);
    const stranger = signUp(app);
    const endpoint = await createEndpoint(app, owner.headers);
    const captured = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'mine' });
    const captureId = captured.json().captureId as string;
    const receiver = await startReceiver(() => ({ status: 500 }));
    const rule = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${endpoint.id}/forwarding`,
      headers: owner.headers,
      payload: { targetUrl: receiver.url },
    });
    const replayed = await app.inject({
      method: 'POST',
      url: `/v1/captures/${captureId}/replay`,
      headers: owner.headers,
      payload: { targetUrl: receiver.url },
    });
    const deliveryId = replayed.json().id as string;
    const routes: [string, string, unknown?][] = [
      ['GET', `/v1/endpoints/${endpoint.id}/forwarding`],
      ['DELETE', `/v1/forwarding/${rule.json().id}`],
      ['POST', `/v1/endpoints/${endpoint.id}/replay`, { targetUrl: 'http://127.0.0.1:9/' }],
      ['GET', `/v1/deliveries/${deliveryId}`],
      ['POST', `/v1/deliveries/${deliveryId}/retry`],
      ['GET', `/v1/endpoints/${endpoint.id}`],
      ['PATCH', `/v1/endpoints/${endpoint.id}`, { name: 'stolen' }],
      ['DELETE', `/v1/endpoints/${endpoint.id}`],
      ['GET', `/v1/endpoints/${endpoint.id}/captures`],
      ['GET', `/v1/endpoints/${endpoint.id}/deliveries`],
      ['POST', `/v1/endpoints/${endpoint.id}/forwarding`, { targetUrl: 'http://127.0.0.1:9/' }],
      ['GET', `/v1/endpoints/${endpoint.id}/stream`],
      ['GET', `/v1/captures/${captureId}`],
      ['GET', `/v1/captures/${captureId}/curl`],
      ['GET', `/v1/captures/${captureId}/har`],
      ['POST', `/v1/captures/${captureId}/replay`, { targetUrl: 'http://127.0.0.1:9/' }],
      ['DELETE', `/v1/captures/${captureId}`],
    ];
    for (const [method, url, payload] of routes) {
      const response = await app.inject({
        method: method as 'GET',
        url,
        headers: stranger.headers,
        ...(payload ? { payload: payload as object } : {}),
      });
      expect(response.statusCode, `${method} ${url}: ${response.body}`).toBe(404);
    }
    const list = await app.inject({ method: 'GET', url: '/v1/endpoints', headers: stranger.headers });
    expect(list.json().items).toEqual([]);
    const still = await app.inject({
      method: 'GET',
      url: `/v1/captures/${captureId}`,
      headers: owner.headers,
    });
    expect(still.json().bodyText).toBe('mine');
  });
});

describe('inspecting captures', () => {
  it('pages newest first with a cursor and filters by method, path, header, body text and time', async () => {
    const { app, clock } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    for (let index = 0; index < 7; index++) {
      clock.advance(1000);
      await app.inject({
        method: index % 2 === 0 ? 'POST' : 'PUT',
        url: `/h/${endpoint.token}/item/${index}?n=${index}`,
        headers: { 'x-index': String(index), 'content-type': 'text/plain' },
        payload: `payload number ${index}`,
      });
    }
    const url = `/v1/endpoints/${endpoint.id}/captures`;
    const first = await app.inject({ method: 'GET', url: `${url}?limit=3`, headers: account.headers });
    expect(first.json().items.map((item: { path: string }) => item.path)).toEqual([
      '/item/6',
      '/item/5',
      '/item/4',
    ]);
    const second = await app.inject({
      method: 'GET',
      url: `${url}?limit=3&cursor=${first.json().nextCursor}`,
      headers: account.headers,
    });
    expect(second.json().items.map((item: { path: string }) => item.path)).toEqual([
      '/item/3',
      '/item/2',
      '/item/1',
    ]);
    const third = await app.inject({
      method: 'GET',
      url: `${url}?limit=3&cursor=${second.json().nextCursor}`,
      headers: account.headers,
    });
    expect(third.json()).toMatchObject({ items: [{ path: '/item/0' }], nextCursor: null });

    const filtered = async (query: string) =>
      (await app.inject({ method: 'GET', url: `${url}?${query}`, headers: account.headers }))
        .json()
        .items.map((item: { path: string }) => item.path);
    expect(await filtered('method=put')).toEqual(['/item/5', '/item/3', '/item/1']);
    expect(await filtered('path=item/2')).toEqual(['/item/2']);
    expect(await filtered('header=x-index:4')).toEqual(['/item/4']);
    expect(await filtered('q=number%205')).toEqual(['/item/5']);
    const since = new Date(Date.parse('2026-11-24T10:00:05.000Z')).toISOString();
    expect(await filtered(`since=${since}`)).toEqual(['/item/6', '/item/5', '/item/4']);
    expect(await filtered(`until=${since}`)).toEqual(['/item/3', '/item/2', '/item/1', '/item/0']);
  });

  it('returns one capture with the fixed fields, exports cURL and HAR, and deletes it', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const captured = await app.inject({
      method: 'POST',
      url: `/h/${endpoint.token}/hook?x=1&y=it%27s`,
      headers: { 'content-type': 'application/json', 'x-custom': "it's" },
      payload: '{"a":1}',
    });
    const id = captured.json().captureId as string;
    const one = await app.inject({ method: 'GET', url: `/v1/captures/${id}`, headers: account.headers });
    expect(Object.keys(one.json()).sort()).toEqual(
      [
        'id',
        'endpointId',
        'method',
        'path',
        'query',
        'headers',
        'bodyBase64',
        'bodyText',
        'size',
        'remoteAddress',
        'receivedAt',
        'verification',
      ].sort(),
    );
    expect(one.json()).toMatchObject({
      id,
      endpointId: endpoint.id,
      method: 'POST',
      path: '/hook',
      query: 'x=1&y=it%27s',
      bodyBase64: Buffer.from('{"a":1}').toString('base64'),
      bodyText: '{"a":1}',
      size: 7,
      receivedAt: '2026-11-24T10:00:00.000Z',
      verification: { status: 'not_configured' },
    });

    const curl = await app.inject({
      method: 'GET',
      url: `/v1/captures/${id}/curl`,
      headers: account.headers,
    });
    expect(curl.headers['content-type']).toContain('text/plain');
    expect(curl.body).toContain("curl -X 'POST'");
    expect(curl.body).toContain(`/h/${endpoint.token}/hook?x=1&y=it%27s'`);
    expect(curl.body).toContain("-H 'x-custom: it'\\''s'");
    expect(curl.body).toContain(`--data-binary '{"a":1}'`);
    expect(curl.body).not.toMatch(/content-length/i);

    const har = await app.inject({ method: 'GET', url: `/v1/captures/${id}/har`, headers: account.headers });
    const entry = har.json().log.entries[0];
    expect(har.json().log.version).toBe('1.2');
    expect(entry.request).toMatchObject({
      method: 'POST',
      postData: { mimeType: 'application/json', text: '{"a":1}' },
      queryString: [
        { name: 'x', value: '1' },
        { name: 'y', value: 'it%27s' },
      ],
      bodySize: 7,
    });

    const removed = await app.inject({
      method: 'DELETE',
      url: `/v1/captures/${id}`,
      headers: account.headers,
    });
    expect(removed.statusCode).toBe(204);
    const missing = await app.inject({ method: 'GET', url: `/v1/captures/${id}`, headers: account.headers });
    expect(missing.statusCode).toBe(404);
  });

  it('exports a binary body through base64 in cURL and HAR', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const body = Buffer.from([0, 1, 2, 255, 254]);
    const captured = await app.inject({
      method: 'PUT',
      url: `/h/${endpoint.token}`,
      headers: { 'content-type': 'application/octet-stream' },
      payload: body,
    });
    const id = captured.json().captureId as string;
    const one = await app.inject({ method: 'GET', url: `/v1/captures/${id}`, headers: account.headers });
    expect(one.json().bodyText).toBeUndefined();
    const curl = await app.inject({
      method: 'GET',
      url: `/v1/captures/${id}/curl`,
      headers: account.headers,
    });
    expect(curl.body).toContain(`printf '%s' '${body.toString('base64')}' | base64 -d | curl`);
    const har = await app.inject({ method: 'GET', url: `/v1/captures/${id}/har`, headers: account.headers });
    expect(har.json().log.entries[0].request.postData).toEqual({
      mimeType: 'application/octet-stream',
      text: body.toString('base64'),
      encoding: 'base64',
    });
  });

  it('counts captures against the monthly plan allowance and answers 402 past it', async () => {
    const { app } = await startApp();
    const account = signUp(app, 'free');
    const endpoint = await createEndpoint(app, account.headers);
    app.billing.countUsage(account.accountId, 'capturesPerMonth', 999);
    const last = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(last.statusCode).toBe(200);
    const over = await app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(over.statusCode).toBe(402);
  });
});
