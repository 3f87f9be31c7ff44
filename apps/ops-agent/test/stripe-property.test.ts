import { existsSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { entitlementOf } from '../src/billing/billing';
import { admin, startAgent, tempDir } from './harness';
import {
  checkoutCompletedEvent,
  invoiceEvent,
  PRICES,
  signed,
  stripeEnv,
  subscriptionEvent,
} from './stripe-helpers';

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
    const updated = (next: string) =>
      subscriptionEvent({
        type: 'customer.subscription.updated',
        subscriptionId,
        status: next,
        created: t,
        priceId,
        product,
        accountId,
      });
    const invoice = (type: 'invoice.paid' | 'invoice.payment_failed') =>
      invoiceEvent({ type, subscriptionId, created: t, product, accountId });
    // Stripe sends "customer.subscription.updated" with each dunning transition, but an endpoint may lose one
    // (or not subscribe to it): then only the invoice events tell the story.
    const maybeUpdated = (next: string) => {
      if (rand() < 0.7) lifecycle.push(updated(next));
    };
    const steps = Math.floor(rand() * 5);
    for (let u = 0; u < steps; u += 1) {
      t += 1 + Math.floor(rand() * 100);
      if ((status === 'active' || status === 'trialing') && rand() < 0.35) {
        // Dunning: the renewal fails, Stripe retries (each retry that fails is another invoice event)...
        status = 'past_due';
        lifecycle.push(invoice('invoice.payment_failed'));
        maybeUpdated(status);
        const retries = Math.floor(rand() * 3);
        for (let r = 0; r < retries; r += 1) {
          t += 1 + Math.floor(rand() * 100);
          lifecycle.push(invoice('invoice.payment_failed'));
        }
        const outcome = rand();
        if (outcome < 0.4) {
          // ...and a retry succeeds,
          t += 1 + Math.floor(rand() * 100);
          status = 'active';
          lifecycle.push(invoice('invoice.paid'));
          maybeUpdated(status);
        } else if (outcome < 0.8) {
          // ...or they run out and the subscription is left unpaid (suspended), maybe paid for later,
          t += 1 + Math.floor(rand() * 100);
          status = 'unpaid';
          lifecycle.push(updated(status));
          if (rand() < 0.5) {
            t += 1 + Math.floor(rand() * 100);
            status = 'active';
            lifecycle.push(invoice('invoice.paid'));
            maybeUpdated(status);
          }
        }
        // ...or the story goes on past_due (still in the grace period), or a cancellation below ends it.
        continue;
      }
      status = pick(['active', 'active', 'past_due', 'unpaid', 'trialing']);
      const samePrice = PRICES[priceId].product;
      priceId = pick(priceIds.filter((candidate) => PRICES[candidate].product === samePrice));
      lifecycle.push(updated(status));
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
  const expected = new Map<string, { plan: string; status: string }>();
  const byAccount = new Map<string, Array<{ status: string; plan: string }>>();
  for (const final of finals) {
    const key = `${final.product}/${final.accountId}`;
    byAccount.set(key, [...(byAccount.get(key) ?? []), final]);
  }
  // The oracle is Stripe's final subscription status alone (no invoice hints): what the agent pieced together
  // from shuffled, duplicated, partly missing events must match it.
  for (const [key, subscriptions] of byAccount) expected.set(key, entitlementOf(subscriptions));
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
    const actual = new Map<string, { plan: string; status: string }>(
      state.entitlements.map((row: { product: string; accountId: string; plan: string; status: string }) => [
        `${row.product}/${row.accountId}`,
        { plan: row.plan, status: row.status },
      ]),
    );
    const mismatches = [...expected].filter(([key, want]) => {
      const got = actual.get(key);
      return got?.plan !== want.plan || got.status !== want.status;
    });
    expect(mismatches.slice(0, 5), `seed ${seed}: ${mismatches.length} accounts differ`).toEqual([]);
    expect(actual.size).toBe(expected.size);
    // What the products will be told: one pending plan per account, equal to its entitlement.
    const pending = app.ops.repo.pendingOutbox().map((row) => JSON.parse(row.payload));
    const told = new Map(
      pending.map((p: { product: string; accountId: string; plan: string; status: string }) => [
        `${p.product}/${p.accountId}`,
        p,
      ]),
    );
    expect(
      [...expected].filter(
        ([key, want]) => told.get(key)?.plan !== want.plan || told.get(key)?.status !== want.status,
      ),
    ).toEqual([]);
    // The lifecycles do reach every state: a grace period, a suspension, a recovery.
    const statuses = new Set([...expected.values()].map((want) => `${want.plan}/${want.status}`));
    expect(statuses).toContain('free/suspended');
    expect(statuses).toContain('pro/active');
    expect(events.some((event) => (event as { type: string }).type === 'invoice.paid')).toBe(true);
  }, 60_000);
});
