import { describe, expect, it } from 'vitest';
import { startApp, T0 } from './harness';

describe('ping API (healthchecks-compatible)', () => {
  it('answers GET, HEAD and POST pings with "OK", CORS * and the Ping-Body-Limit header', async () => {
    const { signup, createCheck, ping, api } = await startApp({ PING_BODY_LIMIT: '1000' });
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey, { name: 'backup' });

    for (const method of ['GET', 'POST', 'HEAD'] as const) {
      const response = await ping(uuid, { method });
      expect(response.statusCode, method).toBe(200);
      if (method !== 'HEAD') expect(response.body, method).toBe('OK');
      expect(response.headers['access-control-allow-origin'], method).toBe('*');
      expect(response.headers['ping-body-limit'], method).toBe('1000');
      expect(response.headers['content-type'], method).toMatch(/^text\/plain/);
    }
    const check = (await api(apiKey).get(`/api/v3/checks/${uuid}`)).json();
    expect(check).toMatchObject({ n_pings: 3, status: 'up', last_ping: '2026-01-05T10:00:00+00:00' });
    const pings = (await api(apiKey).get(`/api/v3/checks/${uuid}/pings/`)).json().pings;
    expect(pings.map((p: { method: string }) => p.method)).toEqual(['HEAD', 'POST', 'GET']);
  });

  it('records start, fail, log and exit statuses, and measures the run duration paired by rid', async () => {
    const { signup, createCheck, ping, api, clock } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    const rid = '0b6a2f0e-8d9c-4f5e-9a1b-2c3d4e5f6a7b';

    expect((await ping(`${uuid}/start?rid=${rid}`)).body).toBe('OK');
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json()).toMatchObject({
      status: 'started',
      started: true,
    });
    clock.advance(42_000);
    expect((await ping(`${uuid}/0?rid=${rid}`)).body).toBe('OK');
    let check = (await api(apiKey).get(`/api/v3/checks/${uuid}`)).json();
    expect(check).toMatchObject({ status: 'up', started: false, last_duration: 42 });

    expect((await ping(`${uuid}/log`, { method: 'POST', payload: 'progress 50%' })).body).toBe('OK');
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json().status).toBe('up');
    expect((await ping(`${uuid}/3`)).body).toBe('OK');
    check = (await api(apiKey).get(`/api/v3/checks/${uuid}`)).json();
    expect(check.status).toBe('down');
    expect((await ping(`${uuid}/fail`)).statusCode).toBe(200);

    const pings = (await api(apiKey).get(`/api/v3/checks/${uuid}/pings/`)).json().pings;
    expect(pings.map((p: { type: string }) => p.type)).toEqual(['fail', 'fail', 'log', 'success', 'start']);
    expect(pings[1]).toMatchObject({ exitstatus: 3 });
    expect(pings[3]).toMatchObject({ rid, duration: 42, exitstatus: 0 });
  });

  it("refuses an exit status over 255 and a malformed rid with healthchecks' plain-text 400s", async () => {
    const { signup, createCheck, ping } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    const tooBig = await ping(`${uuid}/256`);
    expect([tooBig.statusCode, tooBig.body]).toEqual([400, 'invalid url format']);
    const badRid = await ping(`${uuid}?rid=not-a-uuid`);
    expect([badRid.statusCode, badRid.body]).toEqual([400, 'invalid uuid format']);
  });

  it('answers "not found" for an unknown check, a malformed path and another form of nonsense', async () => {
    const { ping } = await startApp();
    for (const path of [
      '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f',
      '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f/start',
      'not-a-uuid',
      'somekey/Bad_Slug!',
      'a/b/c/d',
    ]) {
      const response = await ping(path);
      expect([response.statusCode, response.body], path).toEqual([404, 'not found']);
    }
  });

  it('stores the request body up to PING_BODY_LIMIT bytes, with address, method and user agent', async () => {
    const { signup, createCheck, ping, api } = await startApp({ PING_BODY_LIMIT: '10' });
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    await ping(uuid, {
      method: 'POST',
      payload: 'hello world, this is long',
      headers: { 'content-type': 'application/json', 'user-agent': 'runitor/1.2' },
    });
    const [stored] = (await api(apiKey).get(`/api/v3/checks/${uuid}/pings/`)).json().pings;
    expect(stored).toMatchObject({
      method: 'POST',
      ua: 'runitor/1.2',
      remote_addr: '127.0.0.1',
      scheme: 'http',
    });
    const body = await api(apiKey).get(`/api/v3/checks/${uuid}/pings/1/body`);
    expect([body.statusCode, body.body]).toEqual([200, 'hello worl']);
  });

  it('pings by ping key and slug, creates on ?create=1 with 201 "Created", and reports ambiguous slugs', async () => {
    const { signup, createCheck, ping, api } = await startApp();
    const { apiKey, pingKey } = await signup();
    expect(pingKey).toMatch(/^[A-Za-z0-9_-]{22}$/);

    const missing = await ping(`${pingKey}/nightly-db`);
    expect([missing.statusCode, missing.body]).toEqual([404, 'not found']);
    const created = await ping(`${pingKey}/nightly-db/start?create=1`);
    expect([created.statusCode, created.body]).toEqual([201, 'Created']);
    const again = await ping(`${pingKey}/nightly-db?create=1`);
    expect([again.statusCode, again.body]).toEqual([200, 'OK']);
    const checks = (await api(apiKey).get('/api/v3/checks/?slug=nightly-db')).json().checks;
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: 'nightly-db', slug: 'nightly-db', n_pings: 2, status: 'up' });

    await createCheck(apiKey, { name: 'dup 1', slug: 'dup' });
    await createCheck(apiKey, { name: 'dup 2', slug: 'dup' });
    const ambiguous = await ping(`${pingKey}/dup/fail`);
    expect([ambiguous.statusCode, ambiguous.body]).toEqual([409, 'ambiguous slug']);

    const wrongKey = await ping('AAAAAAAAAAAAAAAAAAAAAA/nightly-db?create=1');
    expect([wrongKey.statusCode, wrongKey.body]).toEqual([404, 'not found']);
  });

  it('on the slug form records /log, exit statuses, HEAD and POST, and pairs start and finish by rid', async () => {
    const { signup, createCheck, ping, api, clock } = await startApp({ PING_BODY_LIMIT: '1000' });
    const { apiKey, pingKey } = await signup();
    const { uuid } = await createCheck(apiKey, { name: 'etl', slug: 'etl' });
    const rid = '1c2d3e4f-5a6b-4c7d-8e9f-a0b1c2d3e4f5';

    expect((await ping(`${pingKey}/etl/start?rid=${rid}`)).body).toBe('OK');
    clock.advance(30_000);
    expect((await ping(`${pingKey}/etl/0?rid=${rid}`)).body).toBe('OK');
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json()).toMatchObject({
      status: 'up',
      last_duration: 30,
    });
    const log = await ping(`${pingKey}/etl/log`, { method: 'POST', payload: 'step 2 of 3' });
    expect([log.statusCode, log.body, log.headers['ping-body-limit']]).toEqual([200, 'OK', '1000']);
    const head = await ping(`${pingKey}/etl`, { method: 'HEAD' });
    expect([head.statusCode, head.headers['access-control-allow-origin']]).toEqual([200, '*']);
    expect((await ping(`${pingKey}/etl/7`, { method: 'POST' })).body).toBe('OK');
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json().status).toBe('down');

    const pings = (await api(apiKey).get(`/api/v3/checks/${uuid}/pings/`)).json().pings;
    expect(pings.map((p: { type: string; method: string }) => [p.type, p.method])).toEqual([
      ['fail', 'POST'],
      ['success', 'HEAD'],
      ['log', 'POST'],
      ['success', 'GET'],
      ['start', 'GET'],
    ]);
    expect(pings[0]).toMatchObject({ exitstatus: 7 });
    expect(pings[3]).toMatchObject({ rid, duration: 30, exitstatus: 0 });
    const body = await api(apiKey).get(`/api/v3/checks/${uuid}/pings/3/body`);
    expect([body.statusCode, body.body]).toEqual([200, 'step 2 of 3']);
  });

  it('on the slug form answers 404 or 409 before the 400 for a bad exit status or rid, as healthchecks does', async () => {
    const { signup, createCheck, ping, api } = await startApp();
    const { apiKey, pingKey } = await signup();
    const { uuid } = await createCheck(apiKey, { name: 'etl', slug: 'etl' });
    await createCheck(apiKey, { name: 'dup 1', slug: 'dup' });
    await createCheck(apiKey, { name: 'dup 2', slug: 'dup' });
    const answer = async (path: string) => {
      const response = await ping(path);
      return [response.statusCode, response.body];
    };

    // A known slug: the 400s, and nothing recorded.
    expect(await answer(`${pingKey}/etl/256`)).toEqual([400, 'invalid url format']);
    expect(await answer(`${pingKey}/etl?rid=not-a-uuid`)).toEqual([400, 'invalid uuid format']);
    expect(await answer(`${pingKey}/etl/start?rid=not-a-uuid`)).toEqual([400, 'invalid uuid format']);
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json()).toMatchObject({
      n_pings: 0,
      status: 'new',
    });

    // An unknown slug (no ?create=1), an unknown ping key, a shared slug: looked up first.
    expect(await answer(`${pingKey}/missing/256`)).toEqual([404, 'not found']);
    expect(await answer(`${pingKey}/missing?rid=bad`)).toEqual([404, 'not found']);
    expect(await answer('AAAAAAAAAAAAAAAAAAAAAA/etl/256')).toEqual([404, 'not found']);
    expect(await answer('AAAAAAAAAAAAAAAAAAAAAA/etl/256?create=1')).toEqual([404, 'not found']);
    expect(await answer(`${pingKey}/dup/256`)).toEqual([409, 'ambiguous slug']);
    expect(await answer(`${pingKey}/dup?rid=bad`)).toEqual([409, 'ambiguous slug']);

    // With ?create=1 healthchecks creates the check, then refuses the ping: 400, a new check, no ping.
    expect(await answer(`${pingKey}/fresh/256?create=1`)).toEqual([400, 'invalid url format']);
    const fresh = (await api(apiKey).get('/api/v3/checks/?slug=fresh')).json().checks;
    expect(fresh).toHaveLength(1);
    expect(fresh[0]).toMatchObject({ slug: 'fresh', n_pings: 0, status: 'new' });
    expect(await answer(`${pingKey}/fresh?rid=bad&create=1`)).toEqual([400, 'invalid uuid format']);
    expect((await api(apiKey).get('/api/v3/checks/?slug=fresh')).json().checks).toHaveLength(1);

    // Another account's ping key never reaches this account's checks.
    const other = await signup();
    expect(await answer(`${other.pingKey}/etl/256`)).toEqual([404, 'not found']);
  });

  it('ignores a GET ping on a POST-only check, and a ping to a manually paused check', async () => {
    const { signup, createCheck, ping, api } = await startApp();
    const { apiKey } = await signup();
    const postOnly = await createCheck(apiKey, { methods: 'POST' });
    expect((await ping(postOnly.uuid)).body).toBe('OK');
    expect((await api(apiKey).get(`/api/v3/checks/${postOnly.uuid}`)).json().status).toBe('new');

    const manual = await createCheck(apiKey, { manual_resume: true });
    await api(apiKey).post(`/api/v3/checks/${manual.uuid}/pause`);
    await ping(manual.uuid);
    const check = (await api(apiKey).get(`/api/v3/checks/${manual.uuid}`)).json();
    expect(check).toMatchObject({ status: 'paused', n_pings: 1 });
    const [ignored] = (await api(apiKey).get(`/api/v3/checks/${manual.uuid}/pings/`)).json().pings;
    expect(ignored.type).toBe('ign');
  });

  it('is not subject to the per-account rate limit', async () => {
    const { signup, createCheck, ping } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    const answers = await Promise.all(Array.from({ length: 150 }, () => ping(uuid)));
    expect(new Set(answers.map((answer) => answer.statusCode))).toEqual(new Set([200]));
  });

  it('acknowledges a ping only once it is committed: a fresh process on the same file sees it', async () => {
    const first = await startApp();
    const { apiKey } = await first.signup();
    const { uuid } = await first.createCheck(apiKey);
    const answers = await Promise.all(Array.from({ length: 50 }, () => first.ping(uuid)));
    expect(answers.every((answer) => answer.statusCode === 200)).toBe(true);
    const file = first.app.database.file;
    // Read through a second connection before closing the first: the rows must already be on disk.
    const Database = (await import('better-sqlite3')).default;
    const reader = new Database(file, { readonly: true });
    const count = reader.prepare('SELECT count(*) AS n FROM pings').get() as { n: number };
    reader.close();
    expect(count.n).toBe(50);
    expect(T0).toBeGreaterThan(0);
  });

  it('serves pings and the management API over a real socket', async () => {
    const { app, signup, createCheck } = await startApp();
    const { apiKey, pingKey } = await signup();
    const { uuid } = await createCheck(apiKey, { name: 'socket' });
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { port } = app.server.address() as { port: number };
    const base = `http://127.0.0.1:${port}`;

    const posted = await fetch(`${base}/ping/${uuid}/start?rid=0b6a2f0e-8d9c-4f5e-9a1b-2c3d4e5f6a7b`, {
      method: 'POST',
      body: 'starting',
    });
    expect([posted.status, await posted.text()]).toEqual([200, 'OK']);
    const head = await fetch(`${base}/ping/${uuid}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('access-control-allow-origin')).toBe('*');
    const created = await fetch(`${base}/ping/${pingKey}/from-socket?create=1`);
    expect([created.status, await created.text()]).toEqual([201, 'Created']);

    const listed = await fetch(`${base}/api/v3/checks/`, { headers: { 'x-api-key': apiKey } });
    const { checks } = (await listed.json()) as { checks: { name: string; n_pings: number }[] };
    expect(checks.map((check) => [check.name, check.n_pings])).toEqual([
      ['socket', 2],
      ['from-socket', 1],
    ]);
  });

  it('group-commits concurrent pings: many acknowledged pings share a few transactions', async () => {
    const { app, signup, createCheck, ping, api } = await startApp();
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    const before = app.database.stats().writeTransactions;
    const answers = await Promise.all(Array.from({ length: 200 }, () => ping(uuid)));
    const transactions = app.database.stats().writeTransactions - before;
    expect(answers.every((answer) => answer.body === 'OK')).toBe(true);
    expect(transactions, `${transactions} transactions for 200 pings`).toBeLessThan(20);
    expect((await api(apiKey).get(`/api/v3/checks/${uuid}`)).json().n_pings).toBe(200);
  });

  it('moves WAL checkpoints off the event loop while running, and hands them back on close', async () => {
    const { app, signup, createCheck, ping, close } = await startApp({ WAL_CHECKPOINT_INTERVAL_MS: '50' });
    const { apiKey } = await signup();
    const { uuid } = await createCheck(apiKey);
    expect(app.database.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const answers = await Promise.all(Array.from({ length: 100 }, () => ping(uuid)));
    expect(answers.every((answer) => answer.statusCode === 200)).toBe(true);
    const sqlite = app.database.sqlite;
    await close();
    expect(sqlite.open).toBe(false);
  });
});
