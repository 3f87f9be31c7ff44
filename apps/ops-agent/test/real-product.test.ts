import type { AddressInfo } from 'node:net';
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
