import { rmSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { invoiceSample } from '../src/templates/invoice';
import { type Harness, startHarness } from './harness';
import { startReceiver, verifySignature } from './receiver';

// First attempt at once, one retry a minute later: the retry is due only once the test clock says so.
const delays = { callbackDelaysMs: [0, 60_000] };
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function queueDocument(harness: Harness, callbackUrl: string) {
  const { auth, accountId } = harness.account();
  const response = await harness.app.inject({
    method: 'POST',
    url: '/v1/documents',
    headers: auth,
    payload: { template: 'invoice', data: invoiceSample, async: true, callbackUrl },
  });
  expect(response.statusCode, response.body).toBe(202);
  return { auth, accountId, id: response.json().id as string };
}

describe('callbacks are kept in a durable outbox', () => {
  it('retries a refused callback after a restart on the same data directory, with the same webhook-id', async () => {
    const receiver = startReceiver([500]);
    const base = await receiver.listen();
    cleanup.push(() => receiver.close());
    const first = await startHarness({}, delays);
    cleanup.push(async () => rmSync(first.dataDir, { recursive: true, force: true }));
    const { auth, accountId, id } = await queueDocument(first, `${base}/hooks`);
    await receiver.waitFor(1);
    const refusedId = () => receiver.received[0]!.headers['webhook-id'];
    await first.app.documint.documents.idle();
    const before = await first.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth });
    expect(before.json().callbacks).toMatchObject([{ attempt: 1, status: 500, ok: false }]);
    expect(before.json().callbackDelivery).toEqual({
      state: 'pending',
      attempts: 1,
      nextAttemptAt: '2026-11-24T10:01:00.000Z',
      messageId: refusedId(),
    });
    await first.close({ keepData: true });

    const second = await startHarness({}, delays, first);
    cleanup.push(() => second.close({ keepData: true }));
    await second.app.documint.documents.idle();
    expect(receiver.received, 'the retry is not due yet').toHaveLength(1);
    const health = await second.app.inject({ method: 'GET', url: '/health' });
    expect(health.json().checks['callbacks:outbox'][0]).toMatchObject({
      status: 'pass',
      observedValue: 1,
      observedUnit: 'pending callbacks',
    });

    second.clock.advance(60_000);
    await second.app.documint.documents.deliverDue();
    expect(receiver.received).toHaveLength(2);
    const [refused, delivered] = receiver.received;
    expect(delivered!.headers['webhook-id']).toBe(refused!.headers['webhook-id']);
    expect(delivered!.body, 'every attempt sends the same message').toBe(refused!.body);
    expect(delivered!.headers['webhook-timestamp'], 'signed afresh').not.toBe(
      refused!.headers['webhook-timestamp'],
    );
    const secret = second.app.billing.repository.findAccount(accountId)!.webhookSecret;
    expect(verifySignature(secret, delivered!)).toBe(true);
    expect(JSON.parse(delivered!.body)).toMatchObject({ type: 'document.succeeded', data: { id } });

    const after = await second.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth });
    expect(after.json().callbacks).toMatchObject([
      { attempt: 1, status: 500, ok: false },
      { attempt: 2, status: 200, ok: true },
    ]);
    expect(after.json().callbackDelivery).toMatchObject({
      state: 'delivered',
      attempts: 2,
      nextAttemptAt: null,
    });
    second.clock.advance(3_600_000);
    await second.app.documint.documents.deliverDue();
    expect(receiver.received, 'a delivered callback is not sent again').toHaveLength(2);
  });

  it('sends, as the next process starts, a callback that was queued but never attempted', async () => {
    const receiver = startReceiver();
    const base = await receiver.listen();
    cleanup.push(() => receiver.close());
    // The first attempt waits a minute, so the first process finishes the document and stops before it.
    const slow = { callbackDelaysMs: [60_000, 60_000] };
    const first = await startHarness({}, slow);
    cleanup.push(async () => rmSync(first.dataDir, { recursive: true, force: true }));
    const { auth, id } = await queueDocument(first, `${base}/late`);
    await first.app.documint.documents.idle();
    const finished = await first.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth });
    expect(finished.json()).toMatchObject({ status: 'succeeded', callbacks: [] });
    await first.close({ keepData: true });
    expect(receiver.received).toHaveLength(0);

    first.clock.advance(60_000);
    const second = await startHarness({}, slow, first);
    cleanup.push(() => second.close({ keepData: true }));
    await receiver.waitFor(1);
    await second.app.documint.documents.idle();
    expect(JSON.parse(receiver.received[0]!.body)).toMatchObject({ data: { id, status: 'succeeded' } });
    const meta = await second.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth });
    expect(meta.json().callbacks).toMatchObject([{ attempt: 1, status: 200, ok: true }]);
  });

  it('stops retrying once the delays are exhausted and records every attempt', async () => {
    const receiver = startReceiver([503, 503, 503]);
    const base = await receiver.listen();
    cleanup.push(() => receiver.close());
    // No background poll during the test: only the explicit deliverDue() below sends the retry.
    const harness = await startHarness({ CALLBACK_POLL_INTERVAL_MS: '3600000' }, delays);
    cleanup.push(() => harness.close());
    const { auth, id } = await queueDocument(harness, `${base}/down`);
    await receiver.waitFor(1);
    await harness.app.documint.documents.idle();
    harness.clock.advance(7 * 60_000);
    const health = await harness.app.inject({ method: 'GET', url: '/health' });
    expect(health.statusCode, 'a late callback does not make the service unhealthy').toBe(200);
    expect(health.json().checks['callbacks:outbox'][0]).toMatchObject({
      status: 'warn',
      output: '1 pending, 1 overdue by more than 5 minutes',
    });
    await harness.app.documint.documents.deliverDue();
    harness.clock.advance(3_600_000);
    await harness.app.documint.documents.deliverDue();
    expect(receiver.received).toHaveLength(2);
    const meta = await harness.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth });
    expect(meta.json().callbacks).toMatchObject([
      { attempt: 1, status: 503, ok: false },
      { attempt: 2, status: 503, ok: false },
    ]);
    expect(meta.json().callbackDelivery).toMatchObject({
      state: 'exhausted',
      attempts: 2,
      nextAttemptAt: null,
    });
  });
});
