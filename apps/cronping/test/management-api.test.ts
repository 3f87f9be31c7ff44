import { describe, expect, it } from 'vitest';
import { startApp } from './harness';

describe('management API (healthchecks /api/v1|v2|v3)', () => {
  it("creates a check and returns healthchecks' fields", async () => {
    const { signup, api } = await startApp();
    const { apiKey } = await signup();
    const response = await api(apiKey).post('/api/v3/checks/', {
      name: 'Backups',
      slug: 'backups',
      tags: 'prod db',
      desc: 'nightly dump',
      timeout: 3600,
      grace: 60,
    });
    expect(response.statusCode, response.body).toBe(201);
    const check = response.json();
    const uuid = check.uuid as string;
    expect(uuid).toMatch(/^[0-9a-f-]{36}$/);
    expect(check).toEqual({
      name: 'Backups',
      slug: 'backups',
      tags: 'prod db',
      desc: 'nightly dump',
      grace: 60,
      n_pings: 0,
      status: 'new',
      started: false,
      last_ping: null,
      next_ping: null,
      manual_resume: false,
      methods: '',
      subject: '',
      subject_fail: '',
      start_kw: '',
      success_kw: '',
      failure_kw: '',
      filter_subject: false,
      filter_body: false,
      badge_url: expect.stringMatching(/^https:\/\/cronping\.test\/b\/2\/[0-9a-f-]+\.svg$/),
      last_duration: null,
      min_duration: null,
      failure_tolerance: 0,
      max_runtime: null,
      uuid,
      ping_url: `https://cronping.test/ping/${uuid}`,
      update_url: `https://cronping.test/api/v3/checks/${uuid}`,
      pause_url: `https://cronping.test/api/v3/checks/${uuid}/pause`,
      resume_url: `https://cronping.test/api/v3/checks/${uuid}/resume`,
      channels: '',
      timeout: 3600,
    });
  });

  it('lists checks filtered by tag and slug, and upserts with "unique"', async () => {
    const { signup, api, createCheck } = await startApp();
    const { apiKey } = await signup();
    await createCheck(apiKey, { name: 'a', slug: 'a', tags: 'prod web' });
    await createCheck(apiKey, { name: 'b', slug: 'b', tags: 'prod' });
    await createCheck(apiKey, { name: 'c', slug: 'c', tags: 'dev web' });
    const names = async (query: string) =>
      (await api(apiKey).get(`/api/v3/checks/${query}`)).json().checks.map((c: { name: string }) => c.name);
    expect(await names('')).toEqual(['a', 'b', 'c']);
    expect(await names('?tag=prod')).toEqual(['a', 'b']);
    expect(await names('?tag=prod&tag=web')).toEqual(['a']);
    expect(await names('?slug=c')).toEqual(['c']);

    const again = await api(apiKey).post('/api/v3/checks/', { name: 'b', unique: ['name'], timeout: 120 });
    expect(again.statusCode).toBe(200);
    expect(again.json()).toMatchObject({ name: 'b', timeout: 120 });
    expect(await names('')).toHaveLength(3);
  });

  it('generates the slug from the name in v1 and v2, not in v3', async () => {
    const { signup, api } = await startApp();
    const { apiKey } = await signup();
    expect((await api(apiKey).post('/api/v1/checks/', { name: 'My Nightly Job!' })).json().slug).toBe(
      'my-nightly-job',
    );
    expect((await api(apiKey).post('/api/v2/checks/', { name: 'Crème brûlée' })).json().slug).toBe(
      'creme-brulee',
    );
    expect((await api(apiKey).post('/api/v3/checks/', { name: 'My Nightly Job!' })).json().slug).toBe('');
    const v1 = (await api(apiKey).get('/api/v1/checks/')).json().checks[0];
    expect(v1.update_url).toMatch(/\/api\/v1\/checks\//);
  });

  it('updates, pauses and deletes a check', async () => {
    const { signup, api, createCheck } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey, { name: 'x' });
    const updated = await api(apiKey).post(`/api/v3/checks/${uuid}`, {
      schedule: '*/5 * * * *',
      tz: 'Europe/Riga',
      grace: 120,
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({
      schedule: '*/5 * * * *',
      tz: 'Europe/Riga',
      grace: 120,
      name: 'x',
    });
    expect((await api(apiKey).post(`/api/v3/checks/${uuid}/pause`)).json().status).toBe('paused');
    const deleted = await api(apiKey).delete(`/api/v3/checks/${uuid}`);
    expect([deleted.statusCode, deleted.json().uuid]).toEqual([200, uuid]);
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).statusCode).toBe(404);
  });

  it('answers errors in healthchecks\' {"error": "..."} form', async () => {
    const { signup, api, createCheck, app } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    const cases: [unknown, string][] = [
      [{ timeout: 59 }, 'json validation error: timeout is too small'],
      [{ timeout: 31536001 }, 'json validation error: timeout is too large'],
      [{ timeout: '60' }, 'json validation error: timeout is not a number'],
      [{ name: 5 }, 'json validation error: name is not a string'],
      [{ name: 'x'.repeat(101) }, 'json validation error: name is too long'],
      [{ slug: 'Not OK' }, 'json validation error: slug does not match pattern'],
      [
        { schedule: '61 * * * *' },
        'json validation error: schedule is not a valid cron or OnCalendar expression',
      ],
      [{ tz: 'Mars/Base' }, 'json validation error: tz is not a valid timezone'],
      [{ manual_resume: 'yes' }, 'json validation error: manual_resume is not a boolean'],
      [{ methods: 'GET' }, 'json validation error: methods has unexpected value'],
      [{ unique: ['color'] }, "json validation error: an item in 'unique' has unexpected value"],
      [{ channels: 'nope' }, 'invalid channel identifier: nope'],
      [{ channels: ',nope' }, 'empty channel identifier'],
    ];
    for (const [body, error] of cases) {
      const response = await api(apiKey).post('/api/v3/checks/', body);
      expect([response.statusCode, response.json()], JSON.stringify(body)).toEqual([400, { error }]);
    }
    const badJson = await app.inject({
      method: 'POST',
      url: '/api/v3/checks/',
      headers: { 'x-api-key': apiKey, 'content-type': 'application/json' },
      payload: '{not json',
    });
    expect([badJson.statusCode, badJson.json()]).toEqual([400, { error: 'could not parse request body' }]);
    const unknown = await api(apiKey).get('/api/v3/checks/6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f');
    expect([unknown.statusCode, unknown.json()]).toEqual([404, { error: 'not found' }]);
    const noRoute = await api(apiKey).get('/api/v3/nothing-here');
    expect([noRoute.statusCode, noRoute.json()]).toEqual([404, { error: 'not found' }]);
    expect((await api(apiKey).post(`/api/v3/checks/${uuid}`, { grace: 1 })).json()).toEqual({
      error: 'json validation error: grace is too small',
    });
  });

  it('answers 401 "missing api key" and "wrong api key"', async () => {
    const { app } = await startApp();
    const missing = await app.inject({ method: 'GET', url: '/api/v3/checks/' });
    expect([missing.statusCode, missing.json()]).toEqual([401, { error: 'missing api key' }]);
    const wrong = await app.inject({
      method: 'GET',
      url: '/api/v3/checks/',
      headers: { 'x-api-key': 'cp_nope' },
    });
    expect([wrong.statusCode, wrong.json()]).toEqual([401, { error: 'wrong api key' }]);
    const status = await app.inject({ method: 'GET', url: '/api/v3/status/' });
    expect([status.statusCode, status.body]).toEqual([200, 'OK']);
  });

  it('lets a read-only key read checks by unique_key but not write, nor see ping URLs', async () => {
    const { signup, api, createCheck } = await startApp();
    const { apiKey, readOnlyKey } = await signup();
    const { uuid } = await createCheck(apiKey, { name: 'ro', tags: 't' });
    const [listed] = (await api(readOnlyKey).get('/api/v3/checks/')).json().checks;
    expect(listed.uuid).toBeUndefined();
    expect(listed.ping_url).toBeUndefined();
    expect(listed.unique_key).toMatch(/^[0-9a-f]{40}$/);
    const byKey = await api(readOnlyKey).get(`/api/v3/checks/${listed.unique_key}`);
    expect([byKey.statusCode, byKey.json().name]).toEqual([200, 'ro']);
    expect((await api(readOnlyKey).get(`/api/v3/checks/${listed.unique_key}/flips/`)).statusCode).toBe(200);

    for (const [method, url] of [
      ['post', '/api/v3/checks/'],
      ['post', `/api/v3/checks/${uuid}`],
      ['post', `/api/v3/checks/${uuid}/pause`],
      ['delete', `/api/v3/checks/${uuid}`],
      ['get', `/api/v3/checks/${uuid}/pings/`],
      ['get', '/api/v3/channels/'],
    ] as const) {
      const response =
        method === 'post' ? await api(readOnlyKey).post(url, {}) : await api(readOnlyKey)[method](url);
      expect([response.statusCode, response.json()], `${method} ${url}`).toEqual([
        401,
        { error: 'wrong api key' },
      ]);
    }
  });

  it("keeps tenants apart: another account's check is 404 everywhere", async () => {
    const { signup, api, createCheck } = await startApp();
    const owner = await signup();
    const other = await signup();
    const { uuid } = await createCheck(owner.apiKey, { name: 'private', slug: 'private' });
    const [listed] = (await api(owner.readOnlyKey).get('/api/v3/checks/')).json().checks;
    for (const url of [
      `/api/v3/checks/${uuid}`,
      `/api/v3/checks/${listed.unique_key}`,
      `/api/v3/checks/${uuid}/pings/`,
      `/api/v3/checks/${uuid}/pings/1/body`,
      `/api/v3/checks/${uuid}/flips/`,
    ]) {
      expect((await api(other.apiKey).get(url)).statusCode, url).toBe(404);
    }
    for (const url of [
      `/api/v3/checks/${uuid}`,
      `/api/v3/checks/${uuid}/pause`,
      `/api/v3/checks/${uuid}/resume`,
    ]) {
      expect((await api(other.apiKey).post(url, {})).statusCode, url).toBe(404);
    }
    expect((await api(other.apiKey).delete(`/api/v3/checks/${uuid}`)).statusCode).toBe(404);
    expect((await api(other.apiKey).get('/api/v3/checks/')).json().checks).toEqual([]);
    expect((await api(owner.apiKey).get(`/api/v3/checks/${uuid}`)).statusCode).toBe(200);
  });

  it('creates channels and assigns them by "*", "", id or name', async () => {
    const { signup, api, createCheck } = await startApp();
    const { apiKey } = await signup();
    const a = (
      await api(apiKey).post('/api/v3/channels/', { name: 'a', kind: 'email', email: 'a@example.com' })
    ).json();
    const b = (
      await api(apiKey).post('/api/v3/channels/', { name: 'b', kind: 'email', email: 'b@example.com' })
    ).json();
    expect(a).toEqual({ id: expect.any(String), name: 'a', kind: 'email' });
    expect((await api(apiKey).get('/api/v3/channels/')).json().channels).toHaveLength(2);
    const all = await createCheck(apiKey, { channels: '*' });
    expect((all.channels as string).split(',').sort()).toEqual([a.id, b.id].sort());
    const byName = await createCheck(apiKey, { channels: 'b' });
    expect(byName.channels).toBe(b.id);
    const byId = await api(apiKey).post(`/api/v3/checks/${byName.uuid}`, { channels: a.id });
    expect(byId.json().channels).toBe(a.id);
    expect((await api(apiKey).post(`/api/v3/checks/${byName.uuid}`, { channels: '' })).json().channels).toBe(
      '',
    );
    const invalid = await api(apiKey).post('/api/v3/channels/', { kind: 'webhook' });
    expect(invalid.statusCode).toBe(400);
  });

  it('previews cron fire times, and says what is wrong with a bad expression', async () => {
    const { signup, api } = await startApp();
    const { apiKey } = await signup();
    const preview = await api(apiKey).get(
      '/api/v3/schedule/preview?schedule=30%202%20*%20*%20*&tz=Europe/Berlin&after=2026-03-28T12:00:00Z&count=2',
    );
    expect(preview.json()).toEqual({
      schedule: '30 2 * * *',
      tz: 'Europe/Berlin',
      next: ['2026-03-29T01:00:00.000Z', '2026-03-30T00:30:00.000Z'],
    });
    const bad = await api(apiKey).get('/api/v3/schedule/preview?schedule=0%200%20*%20*');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatch(/exactly 5 fields/);
    const badTz = await api(apiKey).get(
      '/api/v3/schedule/preview?schedule=*%20*%20*%20*%20*&tz=Nowhere/Land',
    );
    expect([badTz.statusCode, badTz.json()]).toEqual([
      400,
      { error: 'Nowhere/Land is not a valid timezone' },
    ]);
  });

  it('enforces the plan limit on checks, through the API and through ?create=1', async () => {
    const { signup, api, createCheck, ping } = await startApp();
    const { apiKey, pingKey } = await signup();
    for (let index = 0; index < 20; index++) await createCheck(apiKey, { name: `c${index}` });
    const refused = await api(apiKey).post('/api/v3/checks/', { name: 'one too many' });
    expect(refused.statusCode).toBe(403);
    expect(refused.json().error).toMatch(/free plan allows 20 checks/);
    const auto = await ping(`${pingKey}/extra?create=1`);
    expect([auto.statusCode, auto.body]).toEqual([403, 'check limit reached']);
  });

  it("keeps only the plan's ping history per check, pruning the oldest", async () => {
    const { signup, createCheck, ping, api } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    for (let index = 0; index < 105; index++) await ping(uuid, { method: 'POST', payload: `run ${index}` });
    const pings = (await api(apiKey).get(`/api/v3/checks/${uuid}/pings/`)).json().pings;
    expect(pings).toHaveLength(100);
    expect(pings[0].n).toBe(105);
    expect(pings[99].n).toBe(6);
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}/pings/5/body`)).statusCode).toBe(404);
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}/pings/6/body`)).body).toBe('run 5');
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json().n_pings).toBe(105);
  });
});

describe('management API for browsers', () => {
  it('answers CORS preflights and sets CORS headers on answers, errors included', async () => {
    const { app } = await startApp();
    const preflight = await app.inject({ method: 'OPTIONS', url: '/api/v3/checks/' });
    expect(preflight.statusCode).toBe(204);
    expect(preflight.headers['access-control-allow-headers']).toBe('X-Api-Key');
    const denied = await app.inject({ method: 'GET', url: '/api/v3/checks/' });
    expect(denied.headers['access-control-allow-origin']).toBe('*');
  });
});
