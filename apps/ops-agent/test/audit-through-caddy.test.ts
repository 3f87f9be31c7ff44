import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../src/owner/password';
import { admin, onCleanup, startAgent, startProduct } from './harness';

const caddyfile = fileURLToPath(new URL('../../../infra/Caddyfile', import.meta.url));
const hasCaddy = spawnSync('caddy', ['version']).status === 0;
if (!hasCaddy && process.env.CI === 'true') throw new Error('caddy is required under CI=true');

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** The studio's own Caddyfile, with its upstreams pointed at this test's servers. */
async function startCaddy(upstreams: Record<string, string>): Promise<string> {
  const port = await freePort();
  const child: ChildProcess = spawn('caddy', ['run', '--config', caddyfile, '--adapter', 'caddyfile'], {
    env: { ...process.env, CADDY_ADDRESS: `http://127.0.0.1:${port}`, CADDY_ADMIN: 'off', ...upstreams },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  onCleanup(
    () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  );
  const url = `http://127.0.0.1:${port}`;
  // Bounded readiness poll on Caddy's own health route: waits for a process to start, not for time.
  for (let attempt = 0; attempt < 200; attempt += 1) {
    if (child.exitCode !== null) throw new Error(`caddy exited: ${stderr}`);
    try {
      if ((await fetch(`${url}/caddy/health`)).status === 200) return url;
    } catch {
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
  throw new Error(`caddy did not start: ${stderr}`);
}

describe.skipIf(!hasCaddy)('the audit through Caddy', () => {
  it('checks each product directly and through the proxy, and fails one the proxy cannot reach', async () => {
    const cronping = await startProduct('cronping');
    const flagbit = await startProduct('flagbit');
    const deadPort = await freePort();
    const caddy = await startCaddy({
      CRONPING_UPSTREAM: cronping.url.replace('http://', ''),
      FLAGBIT_UPSTREAM: `127.0.0.1:${deadPort}`,
    });
    const { app } = await startAgent({
      CRONPING_URL: cronping.url,
      FLAGBIT_URL: flagbit.url,
      CADDY_URL: caddy,
    });

    const report = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json();
    const [viaCaddyOk, viaCaddyBroken] = report.products;
    expect(viaCaddyOk.name).toBe('cronping');
    expect(viaCaddyOk.status, JSON.stringify(viaCaddyOk)).not.toBe('fail');
    expect(viaCaddyOk.caddy.status).not.toBe('fail');
    expect(viaCaddyBroken.name).toBe('flagbit');
    expect(viaCaddyBroken.status).toBe('fail');
    expect(viaCaddyBroken.caddy.status).toBe('fail');
    expect(viaCaddyBroken.error).toMatch(/^through Caddy: .*HTTP 502/);
  });

  it('serves the owner’s page behind Caddy at /ops/: redirects, forms and the session cookie stay under the prefix', async () => {
    const password = 'owner password behind caddy';
    const { url: agentUrl } = await startAgent(
      { OWNER_PASSWORD_HASH: await hashPassword(password, { N: 1024, r: 8, p: 1 }), TRUST_PROXY: 'true' },
      { listen: true },
    );
    const caddy = await startCaddy({ OPS_AGENT_UPSTREAM: agentUrl.replace('http://', '') });
    const get = (path: string, cookie = '') =>
      fetch(new URL(path, caddy), { redirect: 'manual', headers: { cookie } });

    const home = await get('/ops/');
    expect(home.status).toBe(303);
    const loginUrl = new URL(home.headers.get('location')!, `${caddy}/ops/`);
    expect(loginUrl.pathname).toBe('/ops/login');
    const loginPage = await get(loginUrl.pathname);
    const loginCookie = loginPage.headers.get('set-cookie')!.split(';')[0]!;
    expect(loginPage.headers.get('set-cookie')).not.toMatch(/Path=\//);
    const html = await loginPage.text();
    const action = new URL(/<form method="post" action="([^"]+)"/.exec(html)![1]!, loginUrl);
    expect(action.pathname).toBe('/ops/login');
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;

    const loggedIn = await fetch(action, {
      method: 'POST',
      redirect: 'manual',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: loginCookie, origin: caddy },
      body: new URLSearchParams({ csrf, password }).toString(),
    });
    expect(loggedIn.status).toBe(303);
    expect(new URL(loggedIn.headers.get('location')!, action).pathname).toBe('/ops/');
    const session = loggedIn.headers
      .getSetCookie()
      .find((line) => line.startsWith('ops_session='))!
      .split(';')[0]!;
    const dashboard = await get('/ops/', session);
    expect(dashboard.status).toBe(200);
    expect(await dashboard.text()).toContain('Studio operations');
  });
});
