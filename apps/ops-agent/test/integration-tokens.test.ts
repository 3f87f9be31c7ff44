import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../src/clock';
import { hashPassword } from '../src/owner/password';
import { GHOST_ADMIN_API_KEY, GHOST_SECRET_HEX, startFakeGhost } from './ghost-fake';
import { admin, startAgent } from './harness';

const PASSWORD = 'owner password for token tests';
const ownerHash = await hashPassword(PASSWORD, { N: 1024, r: 8, p: 1 });

type App = Awaited<ReturnType<typeof startAgent>>['app'];

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const csrfIn = (body: string) => /name="csrf" value="([^"]+)"/.exec(body)?.[1] ?? '';
const cookieOf = (response: { headers: Record<string, unknown> }, name: string) => {
  const raw = response.headers['set-cookie'];
  const list = Array.isArray(raw) ? raw : raw ? [String(raw)] : [];
  return list.map((line) => line.split(';')[0]!).find((pair) => pair.startsWith(`${name}=`));
};

/** Logs the owner in; returns a poster for the page's forms carrying the session and its CSRF token. */
async function owner(app: App) {
  const loginPage = await app.inject({ method: 'GET', url: '/login' });
  const loginCookie = cookieOf(loginPage, 'ops_login_csrf')!;
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie },
    payload: form({ csrf: csrfIn(loginPage.body), password: PASSWORD }),
  });
  const session = cookieOf(login, 'ops_session')!;
  const page = () => app.inject({ method: 'GET', url: '/', headers: { cookie: session } });
  const csrf = csrfIn((await page()).body);
  const post = (url: string, fields: Record<string, string>, headers: Record<string, string> = {}) =>
    app.inject({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: session, ...headers },
      payload: form({ csrf, ...fields }),
    });
  return { page, post, csrf, session };
}

/** Every byte SQLite has on disk for the agent: the database, its WAL and shared memory. */
function databaseBytes(dataDir: string): Buffer {
  return Buffer.concat(
    readdirSync(dataDir)
      .filter((name) => name.startsWith('ops-agent.sqlite'))
      .map((name) => readFileSync(join(dataDir, name))),
  );
}

async function setup(extra: Record<string, string> = {}) {
  const clock = manualClock('2026-11-24T10:00:00.000Z');
  const ghost = await startFakeGhost(clock);
  const agent = await startAgent(
    { GHOST_URL: ghost.url, OWNER_PASSWORD_HASH: ownerHash, ...extra },
    { clock },
  );
  let drafts = 0;
  const publishDraft = async () => {
    drafts += 1;
    const created = await agent.app.inject({
      method: 'POST',
      url: '/posts',
      headers: admin,
      payload: { title: `Stored keys ${drafts}`, markdown: '# Sealed\n\nAt rest.' },
    });
    expect(created.statusCode, created.body).toBe(201);
    return agent.app.inject({ method: 'POST', url: `/posts/${created.json().id}/publish`, headers: admin });
  };
  return { ghost, ...agent, publishDraft };
}

describe('integration tokens stored from the owner’s page', () => {
  it('seals a Ghost Admin API key stored on the page, never writes it in plaintext, and publishes with it', async () => {
    const { app, config, ghost, publishDraft } = await setup();
    // GHOST_URL alone: Ghost waits for its key.
    const before = await publishDraft();
    expect(before.statusCode).toBe(503);
    expect(before.json().error.message).toMatch(/GHOST_ADMIN_API_KEY or the key on the owner page/);

    const { post, page } = await owner(app);
    const stored = await post('/ui-token', { name: 'GHOST_ADMIN_API_KEY', value: GHOST_ADMIN_API_KEY });
    expect(stored.statusCode, stored.body).toBe(303);
    expect(decodeURIComponent(String(stored.headers.location))).toMatch(/Ghost Admin API key stored/);

    const bytes = databaseBytes(config.DATA_DIR);
    expect(bytes.length).toBeGreaterThan(0);
    expect(bytes.includes(GHOST_ADMIN_API_KEY)).toBe(false);
    expect(bytes.includes(GHOST_SECRET_HEX)).toBe(false);
    expect(bytes.includes(Buffer.from(GHOST_SECRET_HEX, 'hex'))).toBe(false);
    const sealed = app.ops.repo.setting('token:GHOST_ADMIN_API_KEY');
    expect(sealed).toMatch(/^v1\./);

    // The page says where the key comes from, never what it is.
    const html = (await page()).body;
    expect(html).toContain('stored, sealed');
    expect(html).not.toContain(GHOST_SECRET_HEX);

    const published = await publishDraft();
    expect(published.statusCode, published.body).toBe(200);
    // The fake Ghost verified the JWT against the secret: the stored key signed it.
    expect(ghost.requests.some((request) => request.method === 'POST')).toBe(true);
    const audit = await app.inject({ method: 'POST', url: '/audit', headers: admin });
    expect(audit.json().integrations.ghost).toBe('configured');
  });

  it('refuses a token form without the session’s CSRF token or from another origin, storing nothing', async () => {
    const { app } = await setup();
    const { post, session } = await owner(app);
    const noToken = await app.inject({
      method: 'POST',
      url: '/ui-token',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: session },
      payload: form({ csrf: 'forged', name: 'GHOST_ADMIN_API_KEY', value: GHOST_ADMIN_API_KEY }),
    });
    expect(noToken.statusCode).toBe(403);
    const crossSite = await post(
      '/ui-token',
      { name: 'GHOST_ADMIN_API_KEY', value: GHOST_ADMIN_API_KEY },
      { origin: 'https://evil.example' },
    );
    expect(crossSite.statusCode).toBe(403);
    const anonymous = await app.inject({
      method: 'POST',
      url: '/ui-token',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      payload: form({ csrf: 'x', name: 'GHOST_ADMIN_API_KEY', value: GHOST_ADMIN_API_KEY }),
    });
    expect(anonymous.statusCode).toBe(303);
    expect(anonymous.headers.location).toBe('login');
    const unknown = await post('/ui-token', { name: 'STRIPE_SECRET_KEY', value: 'sk_live_whatever' });
    expect(unknown.statusCode).toBe(400);
    expect(app.ops.tokens.source('GHOST_ADMIN_API_KEY')).toBe('not set');
    expect(app.ops.repo.setting('token:STRIPE_SECRET_KEY')).toBeUndefined();
  });

  it('lets the environment win: a set variable is used and the page will not store over it', async () => {
    const { app, publishDraft } = await setup({ GHOST_ADMIN_API_KEY });
    const { post, page } = await owner(app);
    const refused = await post('/ui-token', { name: 'GHOST_ADMIN_API_KEY', value: 'abcdef01:abcdef0123' });
    expect(decodeURIComponent(String(refused.headers.location))).toMatch(
      /GHOST_ADMIN_API_KEY is set in the environment, which takes precedence/,
    );
    expect(app.ops.tokens.source('GHOST_ADMIN_API_KEY')).toBe('environment');
    expect((await page()).body).toContain('from the environment (takes precedence)');
    expect((await publishDraft()).statusCode).toBe(200);
  });

  it('refuses a malformed key, and removing a stored key turns the integration off again', async () => {
    const { app, publishDraft } = await setup();
    const { post } = await owner(app);
    const malformed = await post('/ui-token', { name: 'GHOST_ADMIN_API_KEY', value: 'not-a-ghost-key' });
    expect(decodeURIComponent(String(malformed.headers.location))).toMatch(
      /Ghost Admin API key must be <id>:<hex secret>/,
    );
    expect(app.ops.tokens.source('GHOST_ADMIN_API_KEY')).toBe('not set');

    await post('/ui-token', { name: 'GHOST_ADMIN_API_KEY', value: GHOST_ADMIN_API_KEY });
    expect((await publishDraft()).statusCode).toBe(200);
    const removed = await post('/ui-token-remove', { name: 'GHOST_ADMIN_API_KEY' });
    expect(removed.statusCode).toBe(303);
    expect(app.ops.tokens.source('GHOST_ADMIN_API_KEY')).toBe('not set');
    expect((await publishDraft()).statusCode).toBe(503);
  });

  it('binds each sealed token to its name: a value moved to another slot does not open', async () => {
    const { app } = await setup();
    const { post } = await owner(app);
    await post('/ui-token', { name: 'DEVTO_API_KEY', value: 'devto-key-12345' });
    expect(app.ops.tokens.get('DEVTO_API_KEY')).toBe('devto-key-12345');
    const sealed = app.ops.repo.setting('token:DEVTO_API_KEY')!;
    app.ops.repo.transaction(() => app.ops.repo.putSetting('token:PLAUSIBLE_API_KEY', sealed))();
    expect(() => app.ops.tokens.get('PLAUSIBLE_API_KEY')).toThrow(/cannot open the sealed value/);
  });
});
