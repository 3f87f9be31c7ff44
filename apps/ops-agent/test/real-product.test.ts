import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp as buildCronping } from 'cronping/src/app';
import { loadConfig as loadCronpingConfig } from 'cronping/src/config';
import { buildApp as buildDocumint } from 'documint/src/app';
import { loadConfig as loadDocumintConfig } from 'documint/src/config';
import { buildApp as buildFlagbit } from 'flagbit/src/app';
import { loadConfig as loadFlagbitConfig } from 'flagbit/src/config';
import { describe, expect, it } from 'vitest';
import { buildApp as buildWebhookvault } from 'webhookvault/src/app';
import { loadConfig as loadWebhookvaultConfig } from 'webhookvault/src/config';
import { admin, INTERNAL_TOKEN, onCleanup, startAgent, tempDir } from './harness';
import { closedPort, T0, writeState } from './state-files';
import { signed, stripeEnv, subscriptionEvent } from './stripe-helpers';

/** The real CronPing app, in-process on a real socket, restartable on the same port and database. */
async function startCronping() {
  const dataDir = tempDir('cronping-real-');
  let app: Awaited<ReturnType<typeof buildCronping>> | undefined;
  let port = 0;
  const start = async () => {
    app = await buildCronping(
      loadCronpingConfig({
        INTERNAL_TOKEN,
        DATA_DIR: dataDir,
        MEMORY_WARN_BYTES: String(2 ** 40),
        // The shared machine is busy: a late event loop is not what this test is about.
        EVENTLOOP_WARN_MS: '100000',
      }),
      {
        logger: false,
      },
    );
    await app.listen({ host: '127.0.0.1', port });
    port = (app.server.address() as AddressInfo).port;
  };
  const stop = async () => {
    await app?.close();
    app = undefined;
  };
  await start();
  onCleanup(stop);
  return { url: `http://127.0.0.1:${port}`, start, stop };
}

describe('against the real CronPing app', () => {
  it('audits it, sees it stop mid-test, and gets a paid plan to it once it is back', async () => {
    const cronping = await startCronping();
    const created = await fetch(`${cronping.url}/internal/accounts`, {
      method: 'POST',
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ email: 'real@example.com', plan: 'free' }),
    });
    expect(created.status).toBe(201);
    const { accountId } = (await created.json()) as { accountId: string };
    const { app, clock } = await startAgent({ ...stripeEnv(), CRONPING_URL: cronping.url });

    const up = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json();
    expect(up.products[0].name).toBe('cronping');
    expect(up.products[0].status, JSON.stringify(up.products[0])).not.toBe('fail');
    expect(Object.keys(up.products[0].checks)).toEqual(
      expect.arrayContaining(['sqlite:responseTime', 'disk:utilization']),
    );

    await cronping.stop();
    const down = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json();
    expect(down.products[0].status).toBe('fail');

    const event = subscriptionEvent({
      type: 'customer.subscription.created',
      subscriptionId: 'sub_real',
      status: 'active',
      created: Math.floor(clock.now().getTime() / 1000),
      priceId: 'price_cronpingPro',
      product: 'cronping',
      accountId,
    });
    const { payload, headers } = signed(event, Math.floor(clock.now().getTime() / 1000));
    expect((await app.inject({ method: 'POST', url: '/stripe/webhook', headers, payload })).statusCode).toBe(
      200,
    );
    await app.ops.settled();

    await cronping.start();
    clock.advance(60_000);
    await app.inject({ method: 'POST', url: '/audit', headers: admin });
    const account = await fetch(`${cronping.url}/internal/accounts/${accountId}`, {
      headers: { authorization: `Bearer ${INTERNAL_TOKEN}` },
    });
    expect(((await account.json()) as { plan: string }).plan).toBe('pro');
  });
});

interface Listening {
  listen(options: { host: string; port: number }): Promise<unknown>;
  close(): Promise<unknown>;
  server: { address(): unknown };
}

/** The shared machine is busy: a late event loop or a big process is not what this test is about. */
const calmEnv = (dataDir: string) => ({
  INTERNAL_TOKEN,
  DATA_DIR: dataDir,
  MEMORY_WARN_BYTES: String(2 ** 40),
  EVENTLOOP_WARN_MS: '100000',
  DISK_WARN_PERCENT: '99',
  DISK_FAIL_PERCENT: '100',
});

/** One real product app, in-process on a real socket, restartable on the same port and database. */
async function startReal(name: string, build: (dataDir: string) => Promise<Listening>) {
  const dataDir = tempDir(`${name}-real-`);
  let app: Listening | undefined;
  let port = 0;
  const start = async () => {
    app = await build(dataDir);
    await app.listen({ host: '127.0.0.1', port });
    port = (app.server.address() as AddressInfo).port;
  };
  const stop = async () => {
    await app?.close();
    app = undefined;
  };
  await start();
  onCleanup(stop);
  return { url: `http://127.0.0.1:${port}`, start, stop };
}

describe('against all four real product apps', () => {
  it('audits them, opens an incident for FlagBit stopped mid-test after the threshold, and resolves it after restart', async () => {
    const [documint, cronping, flagbit, webhookvault] = await Promise.all([
      startReal('documint', (dataDir) =>
        buildDocumint(loadDocumintConfig({ ...calmEnv(dataDir), TYPST_WORKERS: '1', CHROMIUM_PAGES: '1' }), {
          logger: false,
        }),
      ),
      startReal('cronping', (dataDir) =>
        buildCronping(loadCronpingConfig(calmEnv(dataDir)), { logger: false }),
      ),
      startReal('flagbit', (dataDir) => buildFlagbit(loadFlagbitConfig(calmEnv(dataDir)), { logger: false })),
      startReal('webhookvault', (dataDir) =>
        buildWebhookvault(
          loadWebhookvaultConfig({
            ...calmEnv(dataDir),
            WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64'),
          }),
          { logger: false, background: false },
        ),
      ),
    ]);
    const { app, clock } = await startAgent({
      DOCUMINT_URL: documint.url,
      CRONPING_URL: cronping.url,
      FLAGBIT_URL: flagbit.url,
      WEBHOOKVAULT_URL: webhookvault.url,
      AUDIT_FAILURE_THRESHOLD: '2',
      AUDIT_RECOVERY_THRESHOLD: '2',
    });
    type Report = {
      products: Array<{ name: string; status: string; error?: string; checks: Record<string, unknown> }>;
      incidents: { opened: string[]; resolved: string[] };
    };
    const audit = async (): Promise<Report> => {
      clock.advance(30_000);
      return (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json() as Report;
    };
    const statusOf = (report: Report) => Object.fromEntries(report.products.map((p) => [p.name, p.status]));
    const others = ['documint', 'cronping', 'webhookvault'];

    const up = await audit();
    expect(up.products.map((p) => p.name)).toEqual(['documint', 'cronping', 'flagbit', 'webhookvault']);
    for (const product of up.products) {
      expect(product.status, JSON.stringify(product)).not.toBe('fail');
      expect(Object.keys(product.checks)).toEqual(expect.arrayContaining(['sqlite:responseTime']));
    }

    await flagbit.stop();
    const firstFailure = await audit();
    expect(statusOf(firstFailure).flagbit).toBe('fail');
    expect(firstFailure.incidents.opened).toEqual([]);
    const secondFailure = await audit();
    expect(statusOf(secondFailure).flagbit).toBe('fail');
    expect(secondFailure.incidents.opened).toHaveLength(1);
    for (const name of others) expect(statusOf(secondFailure)[name], name).not.toBe('fail');

    await flagbit.start();
    const recovering = await audit();
    expect(statusOf(recovering).flagbit).not.toBe('fail');
    expect(recovering.incidents.resolved).toEqual([]);
    const recovered = await audit();
    expect(recovered.incidents.resolved).toEqual(secondFailure.incidents.opened);
    for (const name of others) expect(statusOf(recovered)[name], name).not.toBe('fail');

    const incidents = (await app.inject({ method: 'GET', url: '/incidents', headers: admin })).json();
    expect(JSON.stringify(incidents)).toContain('flagbit');
  });
});

/**
 * The real WebhookVault server started as its own process with a 16-byte key, the way `npm start` would: it
 * exits with code 78 and its config error. The state file records it as the supervisor does (failed, the
 * output, the reason); only the recording is done here, the exit and the output are real.
 */
async function webhookvaultRefusingItsKey(runDir: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', fileURLToPath(new URL('../../webhookvault/src/server.ts', import.meta.url))],
    {
      env: {
        PATH: process.env.PATH,
        INTERNAL_TOKEN,
        DATA_DIR: tempDir('webhookvault-78-'),
        PORT: String(await closedPort()),
        WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(16, 1).toString('base64'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let output = '';
  for (const stream of [child.stdout, child.stderr]) {
    stream.setEncoding('utf8');
    stream.on('data', (chunk: string) => {
      output = (output + chunk).slice(-2048);
    });
  }
  const [code, signal] = (await once(child, 'exit')) as [number | null, NodeJS.Signals | null];
  const lines = output.trim().split('\n').slice(-3).join(' | ');
  writeState(runDir, {
    name: 'webhookvault',
    state: 'failed',
    lastExit: { code, signal, at: '2026-11-24T10:00:02.000Z', output: output.trim() },
    reason: `exited with code ${code} (configuration error) at start: ${lines}`,
  });
  return { code, output };
}

describe('which product is down and why, against real product apps', () => {
  it('reports WebhookVault, whose real process exited 78 on a 16-byte key, down with its config error while real CronPing and FlagBit pass', async () => {
    const runDir = tempDir('run-');
    const [cronping, flagbit, refused] = await Promise.all([
      startReal('cronping', (dataDir) =>
        buildCronping(loadCronpingConfig(calmEnv(dataDir)), { logger: false }),
      ),
      startReal('flagbit', (dataDir) => buildFlagbit(loadFlagbitConfig(calmEnv(dataDir)), { logger: false })),
      webhookvaultRefusingItsKey(runDir),
    ]);
    expect(refused.code, refused.output).toBe(78);
    expect(refused.output).toContain('WEBHOOKVAULT_ENCRYPTION_KEY');
    // CronPing and FlagBit run in this process: their pid is this process's.
    for (const name of ['cronping', 'flagbit']) {
      writeFileSync(join(runDir, `${name}.pid`), `${process.pid}\n`);
      writeState(runDir, { name, state: 'running', pid: process.pid, startedAt: T0 });
    }
    const { app, clock } = await startAgent({
      SERVICE_PID_DIR: runDir,
      CRONPING_URL: cronping.url,
      FLAGBIT_URL: flagbit.url,
      // Where WebhookVault would listen: nothing does.
      WEBHOOKVAULT_URL: `http://127.0.0.1:${await closedPort()}`,
      AUDIT_FAILURE_THRESHOLD: '2',
      DISK_WARN_PERCENT: '99',
      DISK_FAIL_PERCENT: '100',
    });
    type Report = {
      products: Array<{ name: string; status: string; error?: string }>;
      host: { status: string; services?: Array<{ name: string; state?: string; error?: string }> };
      incidents: { opened: string[] };
    };
    const audit = async (): Promise<Report> => {
      clock.advance(30_000);
      return (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json() as Report;
    };
    const expected =
      'webhookvault: down: the process failed at start (exit code 78): WEBHOOKVAULT_ENCRYPTION_KEY decodes to 16 bytes; it must be base64 of exactly 32 bytes (generate one with: openssl rand -base64 32)';

    const first = await audit();
    const webhookvault = first.products.find((product) => product.name === 'webhookvault');
    expect(webhookvault?.status).toBe('fail');
    expect(webhookvault?.error?.startsWith(`${expected} (health check: `), webhookvault?.error).toBe(true);
    expect(webhookvault?.error).toMatch(/ECONNREFUSED/);
    for (const name of ['cronping', 'flagbit']) {
      const product = first.products.find((candidate) => candidate.name === name);
      expect(product?.status, JSON.stringify(product)).not.toBe('fail');
    }
    expect(first.host.services?.find((service) => service.name === 'webhookvault')).toMatchObject({
      state: 'failed',
      error: expect.stringMatching(
        /^webhookvault: failed: exited with code 78 \(configuration error\) at start: .*WEBHOOKVAULT_ENCRYPTION_KEY decodes to 16 bytes/,
      ),
    });

    const second = await audit();
    expect(second.incidents.opened).toHaveLength(1);
    const incidents = (await app.inject({ method: 'GET', url: '/incidents', headers: admin })).json() as {
      items: Array<{ product: string; status: string; reason: string }>;
    };
    const product = incidents.items.find((incident) => incident.product === 'webhookvault');
    expect(product?.status).toBe('open');
    expect(product?.reason.startsWith(expected), product?.reason).toBe(true);
    const processIncident = incidents.items.find((incident) => incident.product === 'process:webhookvault');
    expect(processIncident?.status, 'the supervisor gave up: open at once').toBe('open');
    expect(incidents.items.map((incident) => incident.product).sort()).toEqual([
      'process:webhookvault',
      'webhookvault',
    ]);
  });
});
