import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grantedPlan } from '../src/billing/billing';
import { admin, startAgent, tempDir } from './harness';
import { checkoutCompletedEvent, PRICES, signed, stripeEnv, subscriptionEvent } from './stripe-helpers';

/** mulberry32: a seeded generator, so a failure names a seed that reproduces it. */
function random(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type PriceId = keyof typeof PRICES;
const priceIds = Object.keys(PRICES) as PriceId[];

function generate(seed: number, lifecycles: number) {
  const rand = random(seed);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)] as T;
  const events: object[] = [];
  const finals: Array<{ product: string; accountId: string; status: string; plan: string }> = [];
  const base = Math.floor(Date.parse('2026-11-01T00:00:00Z') / 1000);
  for (let i = 0; i < lifecycles; i += 1) {
    // One account in ten holds a second subscription: its plan is the best of the two.
    const accountIndex = i > 0 && rand() < 0.1 ? Math.floor(rand() * i) : i;
    const accountId = `acct_${accountIndex}`;
    let priceId = pick(priceIds);
    // An account's subscriptions are all for one product here, so the expected plan is per product/account.
    const product = accountIndex % 2 === 0 ? 'cronping' : 'flagbit';
    if (PRICES[priceId].product !== product)
      priceId = product === 'flagbit' ? 'price_flagbitPro' : 'price_cronpingPro';
    const subscriptionId = `sub_${i}`;
    let t = base + i * 1000;
    let status = pick(['active', 'trialing', 'incomplete']);
    const lifecycle: object[] = [
      subscriptionEvent({
        type: 'customer.subscription.created',
        subscriptionId,
        status,
        created: t,
        priceId,
        product,
        accountId,
      }),
    ];
    if (status !== 'incomplete' && rand() < 0.7) {
      lifecycle.push(
        checkoutCompletedEvent({
          subscriptionId,
          created: t,
          product,
          plan: PRICES[priceId].plan,
          accountId,
          priceId,
        }),
      );
      status = status === 'trialing' ? 'trialing' : 'active';
    }
    const updates = Math.floor(rand() * 5);
    for (let u = 0; u < updates; u += 1) {
      t += 1 + Math.floor(rand() * 100);
      status = pick(['active', 'active', 'past_due', 'unpaid', 'trialing']);
      const samePrice = PRICES[priceId].product;
      priceId = pick(priceIds.filter((candidate) => PRICES[candidate].product === samePrice));
      lifecycle.push(
        subscriptionEvent({
          type: 'customer.subscription.updated',
          subscriptionId,
          status,
          created: t,
          priceId,
          product,
          accountId,
        }),
      );
    }
    if (rand() < 0.4) {
      t += 1 + Math.floor(rand() * 100);
      status = 'canceled';
      lifecycle.push(
        subscriptionEvent({
          type: 'customer.subscription.deleted',
          subscriptionId,
          status,
          created: t,
          priceId,
          product,
          accountId,
        }),
      );
    }
    finals.push({ product, accountId, status, plan: PRICES[priceId].plan });
    for (const event of lifecycle) {
      events.push(event);
      // Stripe delivers at least once: some events come twice or three times.
      while (rand() < 0.3) events.push(event);
    }
  }
  for (let i = events.length - 1; i > 0; i -= 1) {
    const j = Math.floor(rand() * (i + 1));
    [events[i], events[j]] = [events[j] as object, events[i] as object];
  }
  const expected = new Map<string, string>();
  const byAccount = new Map<string, Array<{ status: string; plan: string }>>();
  for (const final of finals) {
    const key = `${final.product}/${final.accountId}`;
    byAccount.set(key, [...(byAccount.get(key) ?? []), final]);
  }
  for (const [key, subscriptions] of byAccount) expected.set(key, grantedPlan(subscriptions));
  return { events, expected };
}

describe('Stripe lifecycles, shuffled and duplicated', () => {
  it('end in exactly the entitlements the final Stripe state implies (1,000 lifecycles)', async () => {
    const seed = 20261124;
    const { events, expected } = generate(seed, 1000);
    // tmpfs when there is one: thousands of fsync'd commits are the slow part, and durability is not under test.
    const dataDir = existsSync('/dev/shm') ? tempDir('ops-agent-property-', '/dev/shm') : tempDir();
    const { app, clock } = await startAgent({ ...stripeEnv(), DATA_DIR: dataDir });
    const timestamp = Math.floor(clock.now().getTime() / 1000);
    for (const event of events) {
      const { payload, headers } = signed(event, timestamp);
      const response = await app.inject({ method: 'POST', url: '/stripe/webhook', headers, payload });
      expect(response.statusCode, `seed ${seed}: ${response.body}`).toBe(200);
    }
    await app.ops.settled();
    const state = (await app.inject({ method: 'GET', url: '/billing/events', headers: admin })).json();
    const actual = new Map<string, string>(
      state.entitlements.map((row: { product: string; accountId: string; plan: string }) => [
        `${row.product}/${row.accountId}`,
        row.plan,
      ]),
    );
    const mismatches = [...expected].filter(([key, plan]) => actual.get(key) !== plan);
    expect(mismatches.slice(0, 5), `seed ${seed}: ${mismatches.length} accounts differ`).toEqual([]);
    expect(actual.size).toBe(expected.size);
    // What the products will be told: one pending plan per account, equal to its entitlement.
    const pending = app.ops.repo.pendingOutbox().map((row) => JSON.parse(row.payload));
    const told = new Map(
      pending.map((p: { product: string; accountId: string; plan: string }) => [
        `${p.product}/${p.accountId}`,
        p.plan,
      ]),
    );
    expect([...expected].filter(([key, plan]) => told.get(key) !== plan)).toEqual([]);
  }, 60_000);
});
