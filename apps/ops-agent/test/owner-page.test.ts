import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from 'otplib';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../src/owner/password';
import { createVault } from '../src/owner/vault';
import { admin, startAgent, tempDir, VAULT_KEY } from './harness';
import { T0, writeState } from './state-files';

const PASSWORD = 'owner password for tests';
const ownerHash = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 });

type Agent = Awaited<ReturnType<typeof startAgent>>;

function cookiesFrom(response: { headers: Record<string, unknown> }): Record<string, string> {
  const raw = response.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
  return Object.fromEntries(list.map((line) => line.split(';')[0]!.split('=') as [string, string]));
}
const cookieHeader = (cookies: Record<string, string>) =>
  Object.entries(cookies)
    .map(([name, value]) => `${name}=${value}`)
    .join('; ');
const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const formHeaders = (cookies: Record<string, string>, extra: Record<string, string> = {}) => ({
  'content-type': 'application/x-www-form-urlencoded',
  cookie: cookieHeader(cookies),
  ...extra,
});
const csrfIn = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';

async function login(app: Agent['app'], password = PASSWORD) {
  const page = await app.inject({ method: 'GET', url: '/login' });
  const cookies = cookiesFrom(page);
  const response = await app.inject({
    method: 'POST',
    url: '/login',
    headers: formHeaders(cookies),
    payload: form({ csrf: csrfIn(page.body), password }),
  });
  return { response, session: cookiesFrom(response).ops_session };
}

async function dashboard(app: Agent['app'], session: string) {
  return app.inject({ method: 'GET', url: '/', headers: { cookie: `ops_session=${session}` } });
}

describe('the owner’s page', () => {
  it('sends a visitor without a session to the login form', async () => {
    const { app } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash });
    const response = await app.inject({ method: 'GET', url: '/' });
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('login');
  });

  it('logs the owner in with the password, with an HttpOnly SameSite=Strict session cookie', async () => {
    const { app } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash });
    const { response, session } = await login(app);
    expect(response.statusCode).toBe(303);
    expect(response.headers.location).toBe('./');
    expect(String(response.headers['set-cookie'])).toMatch(/ops_session=[^;]+;.*HttpOnly.*SameSite=Strict/);
    const page = await dashboard(app, session!);
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Studio operations');
    expect(page.headers['content-security-policy']).toContain("default-src 'none'");
  });

  it('refuses a wrong password, and throttles after five failures', async () => {
    const { app } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash });
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const { response, session } = await login(app, 'not the password');
      expect(response.statusCode).toBe(401);
      expect(session).toBeUndefined();
    }
    const { response } = await login(app);
    expect(response.statusCode).toBe(429);
  });

  it('refuses a form without its CSRF token or from another origin', async () => {
    const { app } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash });
    const { session } = await login(app);
    const page = await dashboard(app, session!);
    const cookies = { ops_session: session! };
    const noToken = await app.inject({
      method: 'POST',
      url: '/ui-audit',
      headers: formHeaders(cookies),
      payload: form({ csrf: 'forged' }),
    });
    expect(noToken.statusCode).toBe(403);
    const crossSite = await app.inject({
      method: 'POST',
      url: '/ui-audit',
      headers: formHeaders(cookies, { origin: 'https://evil.example' }),
      payload: form({ csrf: csrfIn(page.body) }),
    });
    expect(crossSite.statusCode).toBe(403);
    const good = await app.inject({
      method: 'POST',
      url: '/ui-audit',
      headers: formHeaders(cookies),
      payload: form({ csrf: csrfIn(page.body) }),
    });
    expect(good.statusCode).toBe(303);
    expect((await app.inject({ method: 'GET', url: '/audit/latest', headers: admin })).statusCode).toBe(200);
  });

  it('escapes what it shows: a draft titled with markup renders as text', async () => {
    const { app } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash });
    const post = (
      await app.inject({
        method: 'POST',
        url: '/posts',
        headers: admin,
        payload: { title: '<script>alert(1)</script>', slug: 'xss', markdown: 'body' },
      })
    ).json();
    await app.inject({
      method: 'POST',
      url: `/posts/${post.id}/crosspost`,
      headers: admin,
      payload: { channels: ['x'] },
    });
    const { session } = await login(app);
    const page = await dashboard(app, session!);
    expect(page.body).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(page.body).not.toContain('<script>');
  });

  it('shows the service processes of the last audit (state, pid, restarts, last exit, reason), escaped', async () => {
    const pidDir = tempDir('run-');
    writeFileSync(join(pidDir, 'cronping.pid'), `${process.pid}\n`);
    writeState(pidDir, { name: 'cronping', state: 'running', pid: process.pid, startedAt: T0 });
    writeState(pidDir, {
      name: 'webhookvault',
      state: 'failed',
      lastExit: {
        code: 78,
        signal: null,
        at: '2026-11-24T09:59:00.000Z',
        output: 'WEBHOOKVAULT_ENCRYPTION_KEY <img src=x onerror=alert(1)> is wrong\n',
      },
      reason: 'exited with code 78 (configuration error) at start: <script>alert(2)</script>',
    });
    const { app } = await startAgent({
      OWNER_PASSWORD_HASH: ownerHash,
      SERVICE_PID_DIR: pidDir,
      DISK_WARN_PERCENT: '99',
      DISK_FAIL_PERCENT: '100',
    });
    await app.inject({ method: 'POST', url: '/audit', headers: admin });
    const { session } = await login(app);
    const page = (await dashboard(app, session!)).body;
    const row = (name: string) => new RegExp(`<tr data-service="${name}"[^]*?</tr>`).exec(page)?.[0] ?? '';
    expect(row('cronping')).toContain('data-state="running"');
    expect(row('cronping')).toContain(`<td>${process.pid}</td>`);
    const failed = row('webhookvault');
    expect(failed).toContain('data-state="failed"');
    expect(failed).toContain('exited with code 78 at 2026-11-24T09:59:00.000Z');
    expect(failed).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(failed).toContain('&lt;script&gt;alert(2)&lt;/script&gt;');
    expect(page).not.toContain('<script>');
    expect(page).not.toContain('<img');
  });

  it('says login is off when OWNER_PASSWORD_HASH is unset', async () => {
    const { app } = await startAgent();
    const response = await app.inject({ method: 'GET', url: '/login' });
    expect(response.statusCode).toBe(503);
    expect(response.body).toContain('OWNER_PASSWORD_HASH');
  });

  it('turns on a TOTP second factor sealed with OPS_VAULT_KEY, then asks for a code at login and refuses a replay', async () => {
    const { app, clock } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash });
    const { session } = await login(app);
    const cookies = { ops_session: session! };
    let page = await dashboard(app, session!);
    await app.inject({
      method: 'POST',
      url: '/ui-totp-setup',
      headers: formHeaders(cookies),
      payload: form({ csrf: csrfIn(page.body) }),
    });
    page = await dashboard(app, session!);
    const secret = /data-totp-secret>([A-Z2-7]+)</.exec(page.body)?.[1];
    expect(secret).toBeDefined();
    const epoch = () => Math.floor(clock.now().getTime() / 1000);
    const confirm = await app.inject({
      method: 'POST',
      url: '/ui-totp-confirm',
      headers: formHeaders(cookies),
      payload: form({ csrf: csrfIn(page.body), code: await generate({ secret: secret!, epoch: epoch() }) }),
    });
    expect(decodeURIComponent(String(confirm.headers.location))).toContain('Second factor on');
    // Stored sealed, never in clear.
    const sealed = app.ops.repo.setting('totp_secret')!;
    expect(sealed).not.toContain(secret);
    expect(createVault(Buffer.from(VAULT_KEY, 'base64')).open(sealed, 'owner-totp-secret')).toBe(secret);

    clock.advance(60_000);
    const second = await login(app);
    expect(second.response.headers.location).toBe('totp');
    expect((await dashboard(app, second.session!)).headers.location).toBe('totp');
    const totpForm = await app.inject({
      method: 'GET',
      url: '/totp',
      headers: { cookie: `ops_session=${second.session}` },
    });
    const code = await generate({ secret: secret!, epoch: epoch() });
    const wrong = await app.inject({
      method: 'POST',
      url: '/totp',
      headers: formHeaders({ ops_session: second.session! }),
      payload: form({ csrf: csrfIn(totpForm.body), code: code === '000000' ? '111111' : '000000' }),
    });
    expect(wrong.statusCode).toBe(401);
    const right = await app.inject({
      method: 'POST',
      url: '/totp',
      headers: formHeaders({ ops_session: second.session! }),
      payload: form({ csrf: csrfIn(totpForm.body), code }),
    });
    expect(right.statusCode).toBe(303);
    expect((await dashboard(app, second.session!)).statusCode).toBe(200);

    const third = await login(app);
    const replay = await app.inject({
      method: 'POST',
      url: '/totp',
      headers: formHeaders({ ops_session: third.session! }),
      payload: form({
        csrf: csrfIn(
          (
            await app.inject({
              method: 'GET',
              url: '/totp',
              headers: { cookie: `ops_session=${third.session}` },
            })
          ).body,
        ),
        code,
      }),
    });
    expect(replay.statusCode).toBe(401);
  });

  it('expires a session after SESSION_TTL_HOURS', async () => {
    const { app, clock } = await startAgent({ OWNER_PASSWORD_HASH: ownerHash, SESSION_TTL_HOURS: '1' });
    const { session } = await login(app);
    clock.advance(3600 * 1000 + 1);
    expect((await dashboard(app, session!)).headers.location).toBe('login');
  });
});
