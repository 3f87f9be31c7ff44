import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { freePort } from '@studio/service-kit/testing';
import { describe, expect, it } from 'vitest';
import { hashPassword } from '../src/owner/password';
import { admin, onCleanup, startAgent, startProduct } from './harness';

const caddyfile = fileURLToPath(new URL('../../../infra/Caddyfile', import.meta.url));
const hasCaddy = spawnSync('caddy', ['version']).status === 0;
if (!hasCaddy && process.env.CI === 'true') throw new Error('caddy is required under CI=true');

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

  it('keeps the owner’s page and the automation API off Caddy, which forwards only the Stripe webhook', async () => {
    const password = 'owner password behind caddy';
    const { url: agentUrl } = await startAgent(
      { OWNER_PASSWORD_HASH: await hashPassword(password, { N: 1024, r: 8, p: 1 }), TRUST_PROXY: 'true' },
      { listen: true },
    );
    const caddy = await startCaddy({ OPS_AGENT_UPSTREAM: agentUrl.replace('http://', '') });
    for (const path of ['/ops/', '/ops/login', '/ops/audit/latest', '/ops/incidents', '/ops/health']) {
      const response = await fetch(new URL(path, caddy), { redirect: 'manual' });
      expect([path, response.status]).toEqual([path, 404]);
    }
    // On its own port (an SSH tunnel on the VPS) the page is there.
    expect((await fetch(`${agentUrl}/`, { redirect: 'manual' })).status).toBe(303);
    // Stripe reaches its webhook: an unsigned body is the agent's own 400 (or 503 without Stripe configured).
    const webhook = await fetch(`${caddy}/ops/stripe/webhook`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    expect([400, 503]).toContain(webhook.status);
    const answer = (await webhook.json()) as { error: { requestId: string } };
    expect(answer.error.requestId).toBeTruthy();
  });
});
