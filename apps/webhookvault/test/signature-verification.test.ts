import { createHmac } from 'node:crypto';
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import Stripe from 'stripe';
import { describe, expect, it } from 'vitest';
import { verifySignature } from '../src/capture/signatures';
import { createEndpoint, START_MS, signUp, startApp } from './harness';

const stripe = new Stripe('sk_test_unused');
const body = (text: string) => Buffer.from(text, 'utf8');

function stripeLibraryAccepts(
  payload: string,
  header: string,
  secret: string,
  receivedAtMs: number,
): boolean {
  try {
    stripe.webhooks.constructEvent(payload, header, secret, 300, undefined, receivedAtMs);
    return true;
  } catch (error) {
    if (error instanceof Stripe.errors.StripeSignatureVerificationError) return false;
    throw error;
  }
}

function standardLibraryAccepts(payload: string, headers: Record<string, string>, secret: string): boolean {
  try {
    new Webhook(secret).verify(payload, headers);
    return true;
  } catch (error) {
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}

describe('signature verification agrees with the providers’ libraries', () => {
  it('Stripe: the same verdict as stripe.webhooks on valid, tampered, re-keyed, stale and multi-signature inputs', () => {
    const secret = 'whsec_test_secret_for_agreement';
    const payload = JSON.stringify({ id: 'evt_1', type: 'invoice.paid', amount: 1200 });
    const now = START_MS;
    const nowSeconds = Math.floor(now / 1000);
    const sign = (options: { payload?: string; secret?: string; timestamp?: number }) =>
      stripe.webhooks.generateTestHeaderString({
        payload: options.payload ?? payload,
        secret: options.secret ?? secret,
        timestamp: options.timestamp ?? nowSeconds,
      });
    const valid = sign({});
    const validSignature = valid.split('v1=')[1]!;
    const cases: { name: string; header: string; payload?: string }[] = [
      { name: 'valid', header: valid },
      { name: 'altered body', header: valid, payload: payload.replace('1200', '1201') },
      { name: 'other secret', header: sign({ secret: 'whsec_other' }) },
      { name: 'ten minutes old', header: sign({ timestamp: nowSeconds - 600 }) },
      { name: 'four minutes old', header: sign({ timestamp: nowSeconds - 240 }) },
      {
        name: 'rotation: a wrong and a right v1',
        header: `t=${nowSeconds},v1=${'0'.repeat(64)},v1=${validSignature}`,
      },
      { name: 'only v0', header: `t=${nowSeconds},v0=${validSignature}` },
      { name: 'no timestamp', header: `v1=${validSignature}` },
      { name: 'garbage', header: 'not a header' },
    ];
    for (const testCase of cases) {
      const sent = testCase.payload ?? payload;
      const library = stripeLibraryAccepts(sent, testCase.header, secret, now);
      const ours = verifySignature(
        { scheme: 'stripe', secret },
        [['Stripe-Signature', testCase.header]],
        body(sent),
        now,
      );
      expect(ours.status, `${testCase.name}: ${ours.reason}`).toBe(library ? 'verified' : 'failed');
    }
  });

  it('Standard Webhooks: the same verdict as the standardwebhooks library, including rotation and ±5 min', () => {
    const secret = `whsec_${Buffer.alloc(32, 11).toString('base64')}`;
    const otherSecret = `whsec_${Buffer.alloc(32, 12).toString('base64')}`;
    const payload = JSON.stringify({ type: 'user.created', id: 42 });
    // The library reads the wall clock, so these inputs are placed minutes away from any tolerance edge.
    const now = Date.now();
    const sign = (key: string, at: number, id = 'msg_1', text = payload) =>
      new Webhook(key).sign(id, new Date(at), text);
    const headers = (signature: string, at = now, id = 'msg_1') => ({
      'webhook-id': id,
      'webhook-timestamp': String(Math.floor(at / 1000)),
      'webhook-signature': signature,
    });
    const cases: { name: string; headers: Record<string, string>; payload?: string }[] = [
      { name: 'valid', headers: headers(sign(secret, now)) },
      { name: 'altered body', headers: headers(sign(secret, now)), payload: `${payload} ` },
      { name: 'other secret', headers: headers(sign(otherSecret, now)) },
      {
        name: 'rotation: old and new signatures',
        headers: headers(`${sign(otherSecret, now)} ${sign(secret, now)}`),
      },
      { name: 'ten minutes old', headers: headers(sign(secret, now - 600_000), now - 600_000) },
      { name: 'ten minutes ahead', headers: headers(sign(secret, now + 600_000), now + 600_000) },
      { name: 'two minutes old', headers: headers(sign(secret, now - 120_000), now - 120_000) },
      { name: 'other message id', headers: headers(sign(secret, now), now, 'msg_2') },
      { name: 'v2 only', headers: headers(sign(secret, now).replace('v1,', 'v2,')) },
      {
        name: 'missing id',
        headers: {
          'webhook-timestamp': String(Math.floor(now / 1000)),
          'webhook-signature': sign(secret, now),
        },
      },
    ];
    for (const testCase of cases) {
      const sent = testCase.payload ?? payload;
      const library = standardLibraryAccepts(sent, testCase.headers, secret);
      const ours = verifySignature(
        { scheme: 'standard-webhooks', secret },
        Object.entries(testCase.headers),
        body(sent),
        now,
      );
      expect(ours.status, `${testCase.name}: ${ours.reason}`).toBe(library ? 'verified' : 'failed');
    }
  });

  it('GitHub: matches the example in GitHub’s documentation', () => {
    const secret = "It's a Secret to Everybody";
    const signature = 'sha256=757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17';
    expect(
      verifySignature(
        { scheme: 'github', secret },
        [['X-Hub-Signature-256', signature]],
        body('Hello, World!'),
        0,
      ),
    ).toEqual({
      status: 'verified',
    });
    expect(
      verifySignature(
        { scheme: 'github', secret },
        [['X-Hub-Signature-256', signature]],
        body('Hello, World?'),
        0,
      ).status,
    ).toBe('failed');
    expect(verifySignature({ scheme: 'github', secret }, [], body('x'), 0)).toEqual({
      status: 'failed',
      reason: 'missing X-Hub-Signature-256 header',
    });
  });

  it('Shopify: base64 HMAC-SHA256 of the raw body', () => {
    const secret = 'shpss_secret';
    const raw = body('{"id":1}');
    const good = createHmac('sha256', secret).update(raw).digest('base64');
    expect(
      verifySignature({ scheme: 'shopify', secret }, [['X-Shopify-Hmac-Sha256', good]], raw, 0).status,
    ).toBe('verified');
    expect(
      verifySignature({ scheme: 'shopify', secret: 'other' }, [['X-Shopify-Hmac-Sha256', good]], raw, 0)
        .status,
    ).toBe('failed');
  });
});

describe('verification on capture', () => {
  it('records verified, failed with the reason, or not configured on each capture', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const secret = 'whsec_endpoint_secret';
    const stripeEndpoint = await createEndpoint(app, account.headers, {
      name: 's',
      verify: { scheme: 'stripe', secret },
    });
    const plain = await createEndpoint(app, account.headers, { name: 'plain' });
    const payload = '{"id":"evt_9"}';
    const header = stripe.webhooks.generateTestHeaderString({
      payload,
      secret,
      timestamp: Math.floor(START_MS / 1000),
    });
    const check = async (token: string, signature: string | undefined, text: string) => {
      const captured = await app.inject({
        method: 'POST',
        url: `/h/${token}`,
        headers: {
          'content-type': 'application/json',
          ...(signature ? { 'stripe-signature': signature } : {}),
        },
        payload: text,
      });
      const id = captured.json().captureId as string;
      return (await app.inject({ method: 'GET', url: `/v1/captures/${id}`, headers: account.headers })).json()
        .verification;
    };
    expect(await check(stripeEndpoint.token, header, payload)).toEqual({ status: 'verified' });
    expect(await check(stripeEndpoint.token, header, '{"id":"evt_X"}')).toEqual({
      status: 'failed',
      reason: 'no v1 signature matches the body (wrong secret or altered body)',
    });
    expect(await check(stripeEndpoint.token, undefined, payload)).toEqual({
      status: 'failed',
      reason: 'missing Stripe-Signature header',
    });
    expect(await check(plain.token, header, payload)).toEqual({ status: 'not_configured' });
  });
});
