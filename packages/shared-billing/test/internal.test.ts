import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  type BillingHarness,
  buildBillingApp,
  expectError,
  expectStatus,
  randomEmail,
  testCatalog,
} from './harness';

interface InternalAccount {
  accountId: string;
  email: string;
  plan: string;
  status: string;
  usage: Record<string, number>;
}

function internalRoutes(accountId: string): [string, string, object?][] {
  return [
    ['POST', '/internal/accounts', { email: randomEmail(), plan: 'pro' }],
    ['GET', `/internal/accounts?email=${encodeURIComponent('someone@example.com')}`],
    ['GET', `/internal/accounts/${accountId}`],
    ['PUT', `/internal/accounts/${accountId}/plan`, { plan: 'business' }],
    ['POST', `/internal/accounts/${accountId}/suspend`],
    ['POST', `/internal/accounts/${accountId}/resume`],
    ['POST', `/internal/accounts/${accountId}/keys`, { readOnly: true }],
  ];
}

async function statusOf(harness: BillingHarness, accountId: string) {
  return expectStatus<InternalAccount>(await harness.internal('GET', `/internal/accounts/${accountId}`), 200);
}

describe('the internal token', () => {
  it('treats a request that came through a proxy as unknown, even with the right token', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    for (const header of ['x-forwarded-for', 'forwarded']) {
      const response = await harness.app.inject({
        method: 'GET',
        url: `/internal/accounts/${account.accountId}`,
        headers: { authorization: `Bearer ${harness.internalToken}`, [header]: '203.0.113.9' },
      });
      expectError(response, 404, 'not_found');
    }
  });

  it('guards every internal route: no token, a wrong token or a customer key get 401', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    const wrongTokens: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['a wrong token of the right shape', { authorization: `Bearer ${randomBytes(32).toString('hex')}` }],
      [
        'the token with its last character changed',
        { authorization: `Bearer ${harness.internalToken.slice(0, -1)}x` },
      ],
      ['a prefix of the token', { authorization: `Bearer ${harness.internalToken.slice(0, 32)}` }],
      ['a customer API key', { authorization: `Bearer ${account.apiKey}` }],
      ['the token without the Bearer scheme', { authorization: harness.internalToken }],
    ];

    for (const [method, url, payload] of internalRoutes(account.accountId)) {
      for (const [label, headers] of wrongTokens) {
        const response = await harness.app.inject({
          method: method as 'GET',
          url,
          headers,
          ...(payload ? { payload } : {}),
        });
        const error = expectError(response, 401, 'unauthorized');
        expect(error.message, `${method} ${url} with ${label}`).toBe('Missing or invalid internal token');
      }
    }

    const after = await statusOf(harness, account.accountId);
    expect(after, 'no rejected call changed the account').toMatchObject({ plan: 'free', status: 'active' });
  });
});

describe('POST /internal/accounts', () => {
  it('creates an account on the given plan whose key works at once', async () => {
    const harness = await buildBillingApp();
    const email = randomEmail();
    const created = expectStatus<{ accountId: string; apiKey: string; plan: string }>(
      await harness.internal('POST', '/internal/accounts', { email, plan: 'business' }),
      201,
    );
    expect(Object.keys(created).sort()).toEqual(['accountId', 'apiKey', 'plan']);
    expect(created.plan).toBe('business');

    const account = expectStatus<{ accountId: string; email: string; plan: string; limits: object }>(
      await harness.call(created.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(account).toMatchObject({
      accountId: created.accountId,
      email,
      plan: 'business',
      limits: testCatalog.plans.business.limits,
    });
  });

  it('answers 409 for an email that already has an account, whatever its case', async () => {
    const harness = await buildBillingApp();
    const existing = await harness.createAccount('free');
    const error = expectError(
      await harness.internal('POST', '/internal/accounts', {
        email: existing.email.toUpperCase(),
        plan: 'pro',
      }),
      409,
      'conflict',
    );
    expect(error.message, 'the ops-agent learns which account holds the email').toContain(existing.accountId);
  });

  it('rejects an invalid plan or email with a 400 naming the field', async () => {
    const harness = await buildBillingApp();
    const badPlan = expectError(
      await harness.internal('POST', '/internal/accounts', { email: randomEmail(), plan: 'platinum' }),
      400,
      'validation_failed',
    );
    expect(badPlan.details?.map((detail) => detail.path)).toEqual(['/body/plan']);
    expect(badPlan.message).toContain('body.plan');

    const badEmail = expectError(
      await harness.internal('POST', '/internal/accounts', { email: 'nobody', plan: 'pro' }),
      400,
      'validation_failed',
    );
    expect(badEmail.details?.map((detail) => detail.path)).toEqual(['/body/email']);
  });
});

describe('GET /internal/accounts', () => {
  it('returns accountId, email, plan, status and usage of one account', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    expectStatus(await harness.call(account.apiKey, 'GET', '/v1/ping'), 200);

    const body = await statusOf(harness, account.accountId);
    expect(body, 'exactly the contract fields').toEqual({
      accountId: account.accountId,
      email: account.email,
      plan: 'pro',
      status: 'active',
      usage: { requests: 1 },
    });
  });

  it('finds an account by email, case-insensitively, and answers an empty list for an unknown one', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');

    const found = expectStatus<{ items: InternalAccount[] }>(
      await harness.internal(
        'GET',
        `/internal/accounts?email=${encodeURIComponent(account.email.toUpperCase())}`,
      ),
      200,
    );
    expect(found.items.map((item) => item.accountId)).toEqual([account.accountId]);

    const missing = expectStatus<{ items: InternalAccount[] }>(
      await harness.internal('GET', `/internal/accounts?email=${encodeURIComponent(randomEmail())}`),
      200,
    );
    expect(missing.items).toEqual([]);

    const invalid = expectError(
      await harness.internal('GET', '/internal/accounts?email=nope'),
      400,
      'validation_failed',
    );
    expect(invalid.details?.map((detail) => detail.path)).toEqual(['/query/email']);
  });

  it('answers 404 for an unknown account on every account route', async () => {
    const harness = await buildBillingApp();
    const unknown = 'acc_doesnotexist';
    const routes: [string, string, object?][] = [
      ['GET', `/internal/accounts/${unknown}`],
      ['PUT', `/internal/accounts/${unknown}/plan`, { plan: 'pro' }],
      ['POST', `/internal/accounts/${unknown}/suspend`],
      ['POST', `/internal/accounts/${unknown}/resume`],
      ['POST', `/internal/accounts/${unknown}/keys`, { readOnly: false }],
    ];
    for (const [method, url, payload] of routes) {
      const error = expectError(await harness.internal(method as 'GET', url, payload), 404, 'not_found');
      expect(error.message, `${method} ${url}`).toBe(`Account ${unknown} not found`);
    }
  });
});

describe('PUT /internal/accounts/:id/plan', () => {
  it('changes the plan, and the account sees the new limits', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');

    const changed = expectStatus<InternalAccount>(
      await harness.internal('PUT', `/internal/accounts/${account.accountId}/plan`, { plan: 'business' }),
      200,
    );
    expect(changed).toMatchObject({ accountId: account.accountId, plan: 'business', status: 'active' });

    const seen = expectStatus<{ plan: string; limits: object }>(
      await harness.call(account.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(seen).toMatchObject({ plan: 'business', limits: testCatalog.plans.business.limits });
  });

  it('rejects an unknown plan with a 400 naming body.plan and leaves the plan alone', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const error = expectError(
      await harness.internal('PUT', `/internal/accounts/${account.accountId}/plan`, { plan: 'enterprise' }),
      400,
      'validation_failed',
    );
    expect(error.details?.map((detail) => detail.path)).toEqual(['/body/plan']);
    expect((await statusOf(harness, account.accountId)).plan).toBe('pro');
  });
});

describe('suspend and resume', () => {
  it('suspends an account so every one of its keys gets 403, and resuming restores them', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const readOnly = await harness.createKey(account.accountId, true);
    const neighbour = await harness.createAccount('pro');

    const suspended = expectStatus<InternalAccount>(
      await harness.internal('POST', `/internal/accounts/${account.accountId}/suspend`),
      200,
    );
    expect(suspended.status).toBe('suspended');

    for (const [key, method, url] of [
      [account.apiKey, 'GET', '/v1/account'],
      [account.apiKey, 'POST', '/v1/widgets'],
      [readOnly.apiKey, 'GET', '/v1/account/keys'],
    ] as const) {
      const error = expectError(await harness.call(key, method, url), 403, 'account_suspended');
      expect(error.message, `${method} ${url}`).toMatch(/suspended/);
    }
    expectStatus(await harness.call(neighbour.apiKey, 'GET', '/v1/account'), 200);

    const resumed = expectStatus<InternalAccount>(
      await harness.internal('POST', `/internal/accounts/${account.accountId}/resume`),
      200,
    );
    expect(resumed.status).toBe('active');
    const seen = expectStatus<{ status: string }>(
      await harness.call(account.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(seen.status).toBe('active');
    expectStatus(await harness.call(readOnly.apiKey, 'GET', '/v1/account/keys'), 200);
  });
});

describe('POST /internal/accounts/:id/keys', () => {
  it('issues a read-only key on request and a read-write key by default', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');

    const readOnly = expectStatus<{ id: string; apiKey: string; readOnly: boolean }>(
      await harness.internal('POST', `/internal/accounts/${account.accountId}/keys`, { readOnly: true }),
      201,
    );
    expect(readOnly.readOnly).toBe(true);
    expect(readOnly.apiKey).toMatch(/^tp_ro_/);
    const seen = expectStatus<{ accountId: string }>(
      await harness.call(readOnly.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(seen.accountId).toBe(account.accountId);
    expectError(await harness.call(readOnly.apiKey, 'POST', '/v1/widgets'), 403, 'read_only_key');

    for (const [label, payload] of [
      ['no body', undefined],
      ['an empty object', {}],
    ] as const) {
      const readWrite = expectStatus<{ apiKey: string; readOnly: boolean }>(
        await harness.internal('POST', `/internal/accounts/${account.accountId}/keys`, payload),
        201,
      );
      expect(readWrite.readOnly, label).toBe(false);
      expectStatus(await harness.call(readWrite.apiKey, 'POST', '/v1/widgets'), 201);
    }
  });
});
