import { describe, expect, it } from 'vitest';
import { buildBillingApp, expectError, expectStatus, keyPrefix, randomEmail } from './harness';

describe('POST /v1/signup', () => {
  it('creates a free account and returns its id and first API key', async () => {
    const harness = await buildBillingApp();
    const email = randomEmail();

    const body = expectStatus<{ accountId: string; apiKey: string; plan: string }>(
      await harness.signup(email),
      201,
    );

    expect(Object.keys(body).sort(), 'the signup answer has exactly these fields').toEqual([
      'accountId',
      'apiKey',
      'plan',
    ]);
    expect(body.plan).toBe('free');
    expect(body.accountId, 'account ids carry the acc_ prefix').toMatch(/^acc_[0-9A-Za-z]+$/);
    expect(body.apiKey, `keys carry the product prefix ${keyPrefix}_`).toMatch(/^tp_[0-9A-Za-z]+$/);

    const account = expectStatus<{ accountId: string; email: string; plan: string }>(
      await harness.call(body.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(account, 'the new key opens the new account').toMatchObject({
      accountId: body.accountId,
      email,
      plan: 'free',
    });
  });

  it('rejects an invalid email with a 400 envelope naming body.email', async () => {
    const harness = await buildBillingApp();

    for (const payload of [{ email: 'not-an-email' }, { email: '' }, {}]) {
      const error = expectError(
        await harness.app.inject({ method: 'POST', url: '/v1/signup', payload }),
        400,
        'validation_failed',
      );
      const context = `payload ${JSON.stringify(payload)}: ${JSON.stringify(error)}`;
      expect(error.message, context).toContain('body.email');
      expect(
        error.details?.map((detail) => detail.path),
        context,
      ).toEqual(['/body/email']);
    }
  });

  it('rejects a second signup with the same email, whatever its case', async () => {
    const harness = await buildBillingApp();
    const email = randomEmail('Ada');
    expectStatus(await harness.signup(email, '203.0.113.10'), 201);

    for (const [attempt, address] of [
      [email, '203.0.113.11'],
      [email.toUpperCase(), '203.0.113.12'],
      [email.toLowerCase(), '203.0.113.13'],
    ] as const) {
      const error = expectError(await harness.signup(attempt, address), 409, 'conflict');
      expect(error.message, `signup as ${attempt}`).toBe('An account with this email already exists');
      expect(JSON.stringify(error), 'a public 409 never reveals the existing account id').not.toContain(
        'acc_',
      );
    }
  });

  it('limits signups per client address and answers 429 with retry-after', async () => {
    // The harness allows 3 signups per address per hour.
    const harness = await buildBillingApp();
    const address = '198.51.100.7';
    for (let attempt = 1; attempt <= 3; attempt++) {
      expectStatus(await harness.signup(randomEmail(), address), 201);
    }

    const limited = await harness.signup(randomEmail(), address);
    const error = expectError(limited, 429, 'rate_limited');
    expect(error.message, 'the message names the allowance and its window').toMatch(
      /^Rate limit of 3 requests per hour reached; retry in \d+ s$/,
    );
    const retryAfter = Number(limited.headers['retry-after']);
    expect(retryAfter, `retry-after header: ${limited.headers['retry-after']}`).toBeGreaterThan(0);
    expect(retryAfter, 'retry-after stays within the hour window').toBeLessThanOrEqual(3600);

    expectStatus(await harness.signup(randomEmail(), '198.51.100.8'), 201);
  });
});
