import { describe, expect, it } from 'vitest';
import { admin, json, startAgent, startProduct, startReceiver } from './harness';
import { checkoutCompletedEvent, invoiceEvent, signed, stripeEnv, subscriptionEvent } from './stripe-helpers';

async function setup() {
  const product = await startProduct('cronping');
  const accountId = await product.createAccount('buyer@example.com');
  const agent = await startAgent({ ...stripeEnv(), CRONPING_URL: product.url });
  const now = () => Math.floor(agent.clock.now().getTime() / 1000);
  const send = async (
    event: object,
    options: { timestamp?: number; secret?: string; tamper?: boolean } = {},
  ) => {
    const { payload, headers } = signed(event, options.timestamp ?? now(), options.secret);
    const response = await agent.app.inject({
      method: 'POST',
      url: '/stripe/webhook',
      headers,
      payload: options.tamper ? payload.replace('"active"', '"trialing"') : payload,
    });
    await agent.app.ops.settled();
    return response;
  };
  const state = async () =>
    (await agent.app.inject({ method: 'GET', url: '/billing/events', headers: admin })).json();
  const sub = (
    type: Parameters<typeof subscriptionEvent>[0]['type'],
    status: string,
    created: number,
    priceId = 'price_cronpingPro',
  ) =>
    subscriptionEvent({
      type,
      subscriptionId: 'sub_1',
      status,
      created,
      priceId,
      product: 'cronping',
      accountId,
    });
  const invoice = (
    type: 'invoice.paid' | 'invoice.payment_failed',
    created: number,
    billingReason?: string,
  ) =>
    invoiceEvent({
      type,
      subscriptionId: 'sub_1',
      created,
      product: 'cronping',
      accountId,
      ...(billingReason ? { billingReason } : {}),
    });
  return { product, accountId, ...agent, now, send, state, sub, invoice };
}

describe('Stripe webhooks', () => {
  it('turns a verified subscription into the plan in the product, over the internal contract', async () => {
    const { product, accountId, send, state, sub, now } = await setup();
    const response = await send(sub('customer.subscription.created', 'active', now()));
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ received: true, duplicate: false });
    expect(await product.planOf(accountId)).toBe('pro');
    const { items, entitlements, outbox } = await state();
    expect(items[0].summary).toBe(`cronping/${accountId} → pro`);
    expect(entitlements).toEqual([{ product: 'cronping', accountId, plan: 'pro', status: 'active' }]);
    expect(outbox).toEqual([]);
  });

  it.each([
    ['a tampered body', { tamper: true }],
    ['a stale timestamp', { timestamp: Math.floor(Date.parse('2026-11-24T09:50:00Z') / 1000) }],
    ['the wrong secret', { secret: 'whsec_someone_else' }],
  ])('refuses %s with 400 and changes nothing', async (_name, options) => {
    const { send, state, sub, now } = await setup();
    const response = await send(sub('customer.subscription.created', 'active', now()), options);
    expect(response.statusCode).toBe(400);
    expect(response.json().error).toMatchObject({ code: 'bad_request', message: 'Invalid Stripe signature' });
    expect(await state()).toMatchObject({ items: [], entitlements: [], outbox: [] });
  });

  it('refuses a webhook without a Stripe-Signature header', async () => {
    const { app, sub, now, state } = await setup();
    const response = await app.inject({
      method: 'POST',
      url: '/stripe/webhook',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify(sub('customer.subscription.created', 'active', now())),
    });
    expect(response.statusCode).toBe(400);
    expect((await state()).items).toEqual([]);
  });

  it('treats a duplicate event id as a no-op', async () => {
    const { send, state, sub, now } = await setup();
    const event = sub('customer.subscription.created', 'active', now());
    expect((await send(event)).json().duplicate).toBe(false);
    expect((await send(event)).json()).toEqual({ received: true, duplicate: true });
    expect((await state()).items).toHaveLength(1);
  });

  it('converges out of order: a cancellation that arrives before an older upgrade wins', async () => {
    const { product, accountId, send, sub, now } = await setup();
    const t = now();
    await send(sub('customer.subscription.deleted', 'canceled', t + 20));
    await send(sub('customer.subscription.updated', 'active', t + 10, 'price_cronpingBusiness'));
    await send(sub('customer.subscription.created', 'active', t));
    expect(await product.planOf(accountId)).toBe('free');
  });

  it('links a subscription to its account from a checkout session that arrives last', async () => {
    const { product, accountId, send, now } = await setup();
    const t = now();
    const orphan = subscriptionEvent({
      type: 'customer.subscription.created',
      subscriptionId: 'sub_2',
      status: 'active',
      created: t,
      priceId: 'price_cronpingPro',
      product: 'cronping',
      accountId,
    });
    // Metadata missing on the subscription: only the checkout session says whose it is.
    (orphan.data.object as { metadata: object }).metadata = {};
    await send(orphan);
    expect(await product.planOf(accountId)).toBe('free');
    await send(
      checkoutCompletedEvent({
        subscriptionId: 'sub_2',
        created: t - 1,
        product: 'cronping',
        plan: 'pro',
        accountId,
        priceId: 'price_cronpingPro',
      }),
    );
    expect(await product.planOf(accountId)).toBe('pro');
  });

  it('delivers a plan change to a product that was down when the payment arrived, once it is back', async () => {
    const { product, accountId, send, sub, now, state, app, clock } = await setup();
    await product.stop();
    expect((await send(sub('customer.subscription.created', 'active', now()))).statusCode).toBe(200);
    const pending = (await state()).outbox;
    expect(pending).toHaveLength(1);
    expect(pending[0].lastError).toMatch(/ECONNREFUSED|other side closed/);

    clock.advance(60_000);
    await app.ops.runOutbox();
    expect((await state()).outbox[0].attempts).toBe(2);

    await product.start();
    clock.advance(10 * 60_000);
    await app.inject({ method: 'POST', url: '/audit', headers: admin });
    expect(await product.planOf(accountId)).toBe('pro');
    expect((await state()).outbox).toEqual([]);
  });

  it('keeps the plan while a payment is retried (past_due), suspends when unpaid, resumes when paid', async () => {
    const { product, accountId, send, state, sub, now, invoice } = await setup();
    const t = now();
    await send(sub('customer.subscription.created', 'active', t));
    expect(await product.planOf(accountId)).toBe('pro');

    // Stripe's dunning: the renewal fails and is retried for days. Only the invoice event arrives here (the
    // subscription's own "updated" is lost): the account keeps its plan during the grace period.
    await send(invoice('invoice.payment_failed', t + 10));
    expect(await product.planOf(accountId)).toBe('pro');
    expect(await product.statusOf(accountId)).toBe('active');

    // Retries exhausted, Stripe leaves the subscription unpaid: free plan and suspended in the product.
    await send(sub('customer.subscription.updated', 'unpaid', t + 20));
    expect(await product.planOf(accountId)).toBe('free');
    expect(await product.statusOf(accountId)).toBe('suspended');
    expect((await state()).entitlements).toEqual([
      { product: 'cronping', accountId, plan: 'free', status: 'suspended' },
    ]);

    // The customer pays: the invoice alone resumes the account with its plan.
    await send(invoice('invoice.paid', t + 30));
    expect(await product.planOf(accountId)).toBe('pro');
    expect(await product.statusOf(accountId)).toBe('active');
    const { items, entitlements, outbox } = await state();
    expect(entitlements).toEqual([{ product: 'cronping', accountId, plan: 'pro', status: 'active' }]);
    expect(outbox).toEqual([]);
    expect(items.map((item: { summary: string }) => item.summary)).toEqual([
      `invoice in_sub_1_${t + 30} paid (900 usd): cronping/${accountId} → pro`,
      `cronping/${accountId} → free, suspended`,
      `invoice in_sub_1_${t + 10} payment failed (900 usd): cronping/${accountId} stays pro`,
      `cronping/${accountId} → pro`,
    ]);
  });

  it('converges on the same dunning story delivered backwards, never suspending a paying account', async () => {
    const { product, accountId, send, sub, now, invoice, app } = await setup();
    const t = now();
    await send(invoice('invoice.paid', t + 30));
    await send(sub('customer.subscription.updated', 'unpaid', t + 20));
    await send(invoice('invoice.payment_failed', t + 10));
    await send(sub('customer.subscription.created', 'active', t));
    expect(await product.planOf(accountId)).toBe('pro');
    expect(await product.statusOf(accountId)).toBe('active');
    expect(app.ops.repo.allEntitlements()).toEqual([
      { product: 'cronping', accountId, plan: 'pro', status: 'active' },
    ]);
  });

  it('drops a subscription canceled by dunning to free without suspending it; a late payment failure changes nothing', async () => {
    const { product, accountId, send, sub, now, invoice } = await setup();
    const t = now();
    await send(sub('customer.subscription.created', 'active', t));
    await send(sub('customer.subscription.deleted', 'canceled', t + 20));
    await send(invoice('invoice.payment_failed', t + 10));
    await send(invoice('invoice.payment_failed', t + 30));
    expect(await product.planOf(accountId)).toBe('free');
    expect(await product.statusOf(accountId)).toBe('active');
  });

  it('ignores a failed first invoice: the subscription stays incomplete, nothing to dun', async () => {
    const { product, accountId, send, sub, now, invoice, state } = await setup();
    const t = now();
    await send(sub('customer.subscription.created', 'incomplete', t));
    const response = await send(invoice('invoice.payment_failed', t + 1, 'subscription_create'));
    expect(response.statusCode).toBe(200);
    expect(await product.planOf(accountId)).toBe('free');
    expect((await state()).items[0].summary).toMatch(/; first invoice$/);
  });

  it('retries a suspension the product could not take, until it does', async () => {
    const { product, accountId, send, sub, now, app, clock, state } = await setup();
    const t = now();
    await send(sub('customer.subscription.created', 'active', t));
    await product.stop();
    await send(sub('customer.subscription.updated', 'unpaid', t + 20));
    expect((await state()).outbox).toHaveLength(1);
    await product.start();
    clock.advance(10 * 60_000);
    await app.ops.runOutbox();
    expect(await product.statusOf(accountId)).toBe('suspended');
    expect((await state()).outbox).toEqual([]);
  });

  it('answers 503 when Stripe is not configured', async () => {
    const { app } = await startAgent();
    const response = await app.inject({
      method: 'POST',
      url: '/stripe/webhook',
      headers: { 'content-type': 'application/json', 'stripe-signature': 't=1,v1=x' },
      payload: '{}',
    });
    expect(response.statusCode).toBe(503);
  });
});

describe('Stripe Checkout', () => {
  it('creates a subscription session through the stripe package, with the account as client_reference_id', async () => {
    const product = await startProduct('cronping');
    const accountId = await product.createAccount('checkout@example.com');
    const stripeApi = await startReceiver((request, response) => {
      if (request.method === 'POST' && request.url === '/v1/checkout/sessions') {
        json(response, 200, {
          id: 'cs_test_123',
          object: 'checkout.session',
          url: 'https://checkout.stripe.com/c/pay/cs_test_123',
        });
      } else json(response, 404, { error: { type: 'invalid_request_error', message: 'no such route' } });
    });
    const { app } = await startAgent({
      ...stripeEnv({ STRIPE_API_URL: stripeApi.url }),
      CRONPING_URL: product.url,
    });
    const body = {
      product: 'cronping',
      plan: 'pro',
      accountId,
      successUrl: 'https://studio.example/ok',
      cancelUrl: 'https://studio.example/no',
    };

    const response = await app.inject({
      method: 'POST',
      url: '/billing/checkout',
      headers: admin,
      payload: body,
    });
    expect(response.statusCode, response.body).toBe(201);
    expect(response.json()).toEqual({
      id: 'cs_test_123',
      url: 'https://checkout.stripe.com/c/pay/cs_test_123',
    });
    const [sent] = stripeApi.requests;
    expect(sent?.headers.authorization).toBe('Bearer sk_test_ops_agent');
    const form = new URLSearchParams(sent?.body);
    expect(form.get('mode')).toBe('subscription');
    expect(form.get('client_reference_id')).toBe(accountId);
    expect(form.get('line_items[0][price]')).toBe('price_cronpingPro');
    expect(form.get('subscription_data[metadata][accountId]')).toBe(accountId);

    const unknown = await app.inject({
      method: 'POST',
      url: '/billing/checkout',
      headers: admin,
      payload: { ...body, accountId: 'acct_nope' },
    });
    expect(unknown.statusCode).toBe(404);
    const noPrice = await app.inject({
      method: 'POST',
      url: '/billing/checkout',
      headers: admin,
      payload: { ...body, plan: 'business', product: 'flagbit' },
    });
    expect(noPrice.statusCode).toBe(400);
    const anonymous = await app.inject({ method: 'POST', url: '/billing/checkout', payload: body });
    expect(anonymous.statusCode).toBe(401);
    expect(stripeApi.requests).toHaveLength(1);
  });
});
