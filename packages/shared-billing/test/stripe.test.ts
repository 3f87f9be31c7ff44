import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { parsePriceMap, planForPrice, StripeSignatureError, verifyStripeWebhook } from '../src/stripe';

const secret = 'whsec_test_5d8a1f0c2b7e4a9d';
const signedAt = 1_760_000_000; // Unix seconds; every check below runs on a clock injected relative to it.
const at = (seconds: number) => new Date(seconds * 1000);

const payload = JSON.stringify({
  id: 'evt_1PjTest',
  object: 'event',
  type: 'checkout.session.completed',
  data: { object: { id: 'cs_test_1', object: 'checkout.session', customer_email: 'ada@example.com' } },
});

function signed(body = payload, options: { secret?: string; timestamp?: number } = {}) {
  return Stripe.webhooks.generateTestHeaderString({
    payload: body,
    secret: options.secret ?? secret,
    timestamp: options.timestamp ?? signedAt,
  });
}

function signatureErrorOf(run: () => unknown): StripeSignatureError {
  try {
    run();
  } catch (error) {
    expect(error, String(error)).toBeInstanceOf(StripeSignatureError);
    return error as StripeSignatureError;
  }
  throw new Error('expected a StripeSignatureError, but the webhook verified');
}

describe('verifyStripeWebhook', () => {
  it('verifies a payload signed by the stripe package and returns the event', () => {
    const header = signed();
    for (const rawBody of [payload, Buffer.from(payload)]) {
      const event = verifyStripeWebhook({ rawBody, signatureHeader: header, secret, now: at(signedAt + 5) });
      expect(event.id, `raw body as ${typeof rawBody}`).toBe('evt_1PjTest');
      expect(event.type).toBe('checkout.session.completed');
    }
  });

  it('rejects a tampered body', () => {
    const tampered = payload.replace('ada@example.com', 'eve@example.com');
    const error = signatureErrorOf(() =>
      verifyStripeWebhook({ rawBody: tampered, signatureHeader: signed(), secret, now: at(signedAt) }),
    );
    expect(error.message).toMatch(
      /^Stripe signature check failed: No signatures found matching the expected signature/,
    );
    expect(error.code).toBe('stripe_signature_invalid');
    expect(error.name).toBe('StripeSignatureError');
  });

  it('rejects a re-serialised body, which is not the bytes Stripe signed', () => {
    const reserialised = JSON.stringify(JSON.parse(payload), null, 2);
    const error = signatureErrorOf(() =>
      verifyStripeWebhook({ rawBody: reserialised, signatureHeader: signed(), secret, now: at(signedAt) }),
    );
    expect(error.message).toMatch(/No signatures found matching the expected signature/);
  });

  it('rejects a signature made with another secret', () => {
    const header = signed(payload, { secret: 'whsec_someone_else' });
    const error = signatureErrorOf(() =>
      verifyStripeWebhook({ rawBody: payload, signatureHeader: header, secret, now: at(signedAt) }),
    );
    expect(error.message).toMatch(/No signatures found matching the expected signature/);
  });

  it('rejects a missing or repeated Stripe-Signature header', () => {
    for (const signatureHeader of [undefined, '', [signed(), signed()]]) {
      const error = signatureErrorOf(() =>
        verifyStripeWebhook({ rawBody: payload, signatureHeader, secret, now: at(signedAt) }),
      );
      expect(error.message, `header ${JSON.stringify(signatureHeader)}`).toBe(
        'missing or repeated Stripe-Signature header',
      );
    }
  });

  it('rejects a header that carries no signature', () => {
    const error = signatureErrorOf(() =>
      verifyStripeWebhook({ rawBody: payload, signatureHeader: `t=${signedAt}`, secret, now: at(signedAt) }),
    );
    expect(error.message).toMatch(/^Stripe signature check failed: /);
  });

  it('rejects a signature older than the tolerance (300 s by default, or the one given)', () => {
    const header = signed();
    expect(
      verifyStripeWebhook({ rawBody: payload, signatureHeader: header, secret, now: at(signedAt + 299) }).id,
      'inside the default tolerance',
    ).toBe('evt_1PjTest');

    const stale = signatureErrorOf(() =>
      verifyStripeWebhook({ rawBody: payload, signatureHeader: header, secret, now: at(signedAt + 301) }),
    );
    expect(stale.message).toBe('Stripe signature check failed: Timestamp outside the tolerance zone');

    const strict = signatureErrorOf(() =>
      verifyStripeWebhook({
        rawBody: payload,
        signatureHeader: header,
        secret,
        toleranceSeconds: 60,
        now: at(signedAt + 61),
      }),
    );
    expect(strict.message).toMatch(/Timestamp outside the tolerance zone/);
  });
});

describe('parsePriceMap', () => {
  it('parses STRIPE_PRICES into product and plan per price', () => {
    const prices = parsePriceMap(
      JSON.stringify({
        price_1CronPro: { product: 'cronping', plan: 'pro' },
        price_1DocBiz: { product: 'documint', plan: 'business' },
      }),
    );
    expect(prices.price_1CronPro).toEqual({ product: 'cronping', plan: 'pro' });
  });

  it('names STRIPE_PRICES when the text is not JSON', () => {
    expect(() => parsePriceMap('{price_1: pro}')).toThrow(/^STRIPE_PRICES is not valid JSON: /);
  });

  it('names STRIPE_PRICES and the bad key when a key is not a price id', () => {
    expect(() => parsePriceMap(JSON.stringify({ prod_1Cron: { product: 'cronping', plan: 'pro' } }))).toThrow(
      /^STRIPE_PRICES is invalid: .*prod_1Cron.*price ids/,
    );
  });

  it('names STRIPE_PRICES and the price whose product or plan is unknown', () => {
    expect(() =>
      parsePriceMap(
        JSON.stringify({
          price_1Good: { product: 'flagbit', plan: 'pro' },
          price_1Bad: { product: 'flagbit', plan: 'platinum' },
        }),
      ),
    ).toThrow(/^STRIPE_PRICES is invalid: price_1Bad\.plan: /);
    expect(() => parsePriceMap(JSON.stringify({ price_1Bad: { product: 'nope', plan: 'pro' } }))).toThrow(
      /^STRIPE_PRICES is invalid: price_1Bad\.product: /,
    );
  });

  it('rejects an empty map and a non-object, naming the variable it was given', () => {
    expect(() => parsePriceMap('{}')).toThrow(
      'STRIPE_PRICES is invalid: (root): must map at least one price',
    );
    expect(() => parsePriceMap('[]', 'STRIPE_PRICES_TEST')).toThrow(
      /^STRIPE_PRICES_TEST is invalid: \(root\): /,
    );
  });
});

describe('planForPrice', () => {
  const prices = parsePriceMap(
    JSON.stringify({
      price_1CronPro: { product: 'cronping', plan: 'pro' },
      price_1VaultBiz: { product: 'webhookvault', plan: 'business' },
    }),
  );

  it('maps a known price to its product and plan', () => {
    expect(planForPrice(prices, 'price_1CronPro')).toEqual({ product: 'cronping', plan: 'pro' });
    expect(planForPrice(prices, 'price_1VaultBiz')).toEqual({ product: 'webhookvault', plan: 'business' });
  });

  it('answers undefined for an unknown price, including names Object.prototype carries', () => {
    for (const priceId of ['price_1Unknown', 'constructor', 'toString', '__proto__', 'hasOwnProperty']) {
      expect(planForPrice(prices, priceId), priceId).toBeUndefined();
    }
  });
});
