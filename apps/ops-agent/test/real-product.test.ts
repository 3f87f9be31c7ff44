import type { AddressInfo } from 'node:net';
import { buildApp as buildCronping } from 'cronping/src/app';
import { loadConfig as loadCronpingConfig } from 'cronping/src/config';
import { describe, expect, it } from 'vitest';
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
