import { describe, expect, it } from 'vitest';
import { startApp } from './harness';

/** healthchecks' clients may send the key as `api_key` in the JSON body instead of the X-Api-Key header. */
async function setup() {
  const harness = await startApp();
  const account = await harness.signup();
  const withBody = (method: 'GET' | 'POST' | 'DELETE', url: string, payload: Record<string, unknown>) =>
    harness.app.inject({ method, url, payload });
  return { ...harness, account, withBody };
}

describe('legacy api_key in the JSON body', () => {
  it('creates, updates, pauses and deletes a check with a read-write key in the body', async () => {
    const { account, withBody, api } = await setup();
    const created = await withBody('POST', '/api/v1/checks/', { api_key: account.apiKey, name: 'legacy' });
    expect(created.statusCode, created.body).toBe(201);
    const { uuid } = created.json() as { uuid: string };
    expect(created.json()).not.toHaveProperty('api_key');
    const updated = await withBody('POST', `/api/v1/checks/${uuid}`, { api_key: account.apiKey, grace: 120 });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json().grace).toBe(120);
    const paused = await withBody('POST', `/api/v3/checks/${uuid}/pause`, { api_key: account.apiKey });
    expect(paused.statusCode, paused.body).toBe(200);
    expect(paused.json().status).toBe('paused');
    const deleted = await withBody('DELETE', `/api/v3/checks/${uuid}`, { api_key: account.apiKey });
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect((await api(account.apiKey).get('/api/v3/checks/')).json().checks).toHaveLength(0);
  });

  it('creates a channel with the key in the body', async () => {
    const { account, withBody } = await setup();
    const response = await withBody('POST', '/api/v3/channels/', {
      api_key: account.apiKey,
      name: 'ops',
      kind: 'email',
      email: 'ops@example.com',
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toEqual({ id: expect.any(String), name: 'ops', kind: 'email' });
  });

  it('answers a read-only key in the body 401 on every write, as healthchecks does', async () => {
    const { account, withBody, createCheck, api } = await setup();
    const { uuid } = await createCheck(account.apiKey, { name: 'ro' });
    const write = await withBody('POST', '/api/v3/checks/', { api_key: account.readOnlyKey, name: 'x' });
    expect(write.statusCode).toBe(401);
    expect(write.json()).toEqual({ error: 'wrong api key' });
    const remove = await withBody('DELETE', `/api/v3/checks/${uuid}`, { api_key: account.readOnlyKey });
    expect(remove.statusCode).toBe(401);
    const pause = await withBody('POST', `/api/v3/checks/${uuid}/pause`, { api_key: account.readOnlyKey });
    expect(pause.statusCode).toBe(401);
    const check = (await api(account.apiKey).get(`/api/v3/checks/${uuid}`)).json();
    expect(check.status, 'nothing changed').toBe('new');
    expect((await api(account.apiKey).get('/api/v3/checks/')).json().checks).toHaveLength(1);
  });

  it('reads no body on GET (Fastify does not parse GET bodies): GET routes need the header', async () => {
    const { account, withBody } = await setup();
    const listed = await withBody('GET', '/api/v3/checks/', { api_key: account.apiKey });
    expect(listed.statusCode).toBe(401);
    expect(listed.json()).toEqual({ error: 'missing api key' });
  });

  it('answers a wrong or missing body key as healthchecks does', async () => {
    const { withBody } = await setup();
    const wrong = await withBody('POST', '/api/v3/checks/', { api_key: 'cp_not-a-key', name: 'x' });
    expect(wrong.statusCode).toBe(401);
    expect(wrong.json()).toEqual({ error: 'wrong api key' });
    const missing = await withBody('POST', '/api/v3/checks/', { name: 'x' });
    expect(missing.statusCode).toBe(401);
    expect(missing.json()).toEqual({ error: 'missing api key' });
    const notString = await withBody('POST', '/api/v3/checks/', { api_key: 42, name: 'x' });
    expect(notString.statusCode).toBe(401);
  });

  it('lets the header win: a wrong header is refused even with a valid body key', async () => {
    const { account, app } = await setup();
    const response = await app.inject({
      method: 'POST',
      url: '/api/v3/checks/',
      headers: { 'x-api-key': 'cp_wrong' },
      payload: { api_key: account.apiKey, name: 'x' },
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toEqual({ error: 'wrong api key' });
    // A read-only header stays read-only whatever the body carries.
    const readOnly = await app.inject({
      method: 'POST',
      url: '/api/v3/checks/',
      headers: { 'x-api-key': account.readOnlyKey },
      payload: { api_key: account.apiKey, name: 'x' },
    });
    expect(readOnly.statusCode).toBe(401);
  });

  it("answers 404 for another account's check when its key comes in the body", async () => {
    const { account, signup, withBody, createCheck, api } = await setup();
    const intruder = await signup();
    const { uuid } = await createCheck(account.apiKey, { name: 'mine' });
    for (const [method, url] of [
      ['POST', `/api/v3/checks/${uuid}`],
      ['POST', `/api/v3/checks/${uuid}/pause`],
      ['DELETE', `/api/v3/checks/${uuid}`],
    ] as const) {
      const response = await withBody(method, url, { api_key: intruder.apiKey });
      expect(response.statusCode, `${method} ${url}`).toBe(404);
    }
    expect((await api(account.apiKey).get(`/api/v3/checks/${uuid}`)).json().name).toBe('mine');
  });
});

describe("bodies sent as healthchecks' documented curl examples send them", () => {
  it('reads a JSON body sent as application/x-www-form-urlencoded (curl --data) as JSON', async () => {
    const { account, app } = await setup();
    const created = await app.inject({
      method: 'POST',
      url: '/api/v3/checks/',
      headers: { 'x-api-key': account.apiKey, 'content-type': 'application/x-www-form-urlencoded' },
      payload: '{"name": "backups", "tags": "prod www", "timeout": 3600, "grace": 60}',
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'backups', tags: 'prod www', timeout: 3600, grace: 60 });
  });

  it("answers a body that is not JSON with healthchecks' parse error, whatever its content type", async () => {
    const { account, app } = await setup();
    const refused = await app.inject({
      method: 'POST',
      url: '/api/v3/checks/',
      headers: { 'x-api-key': account.apiKey, 'content-type': 'text/plain' },
      payload: 'name=backups',
    });
    expect(refused.statusCode).toBe(400);
    expect(refused.json()).toEqual({ error: 'could not parse request body' });
  });
});
