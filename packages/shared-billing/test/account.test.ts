import { describe, expect, it } from 'vitest';
import { buildBillingApp, expectError, expectStatus, testCatalog } from './harness';

interface AccountBody {
  accountId: string;
  email: string;
  plan: string;
  status: string;
  limits: Record<string, number>;
  usage: Record<string, number>;
  usagePeriod: string;
  webhookSecret: string;
}

describe('GET /v1/account', () => {
  it('resolves each key to its own account with plan, limits, usage and webhook secret', async () => {
    const harness = await buildBillingApp();
    const alice = await harness.createAccount('free');
    const bob = await harness.createAccount('pro');
    const bobsReadOnly = await harness.createKey(bob.accountId, true);

    const cases = [
      { label: "Alice's key", key: alice.apiKey, expected: alice },
      { label: "Bob's key", key: bob.apiKey, expected: bob },
      { label: "Bob's read-only key", key: bobsReadOnly.apiKey, expected: bob },
    ];
    const secrets = new Map<string, string>();
    for (const { label, key, expected } of cases) {
      const body = expectStatus<AccountBody>(await harness.call(key, 'GET', '/v1/account'), 200);
      expect(body, label).toMatchObject({
        accountId: expected.accountId,
        email: expected.email,
        plan: expected.plan,
        status: 'active',
        limits: testCatalog.plans[expected.plan].limits,
      });
      expect(Object.keys(body), label).toEqual(
        expect.arrayContaining(['accountId', 'email', 'plan', 'status', 'limits', 'usage', 'webhookSecret']),
      );
      expect(typeof body.usage, label).toBe('object');
      expect(body.usagePeriod, `${label}: the period is a UTC month`).toMatch(/^\d{4}-\d\d$/);
      expect(body.webhookSecret, `${label}: a Standard Webhooks secret`).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
      const earlier = secrets.get(expected.accountId);
      if (earlier) expect(body.webhookSecret, `${label}: one secret per account`).toBe(earlier);
      secrets.set(expected.accountId, body.webhookSecret);
    }
    expect(secrets.get(alice.accountId), 'accounts never share a webhook secret').not.toBe(
      secrets.get(bob.accountId),
    );
  });

  it('adds the product fields from accountExtras', async () => {
    const harness = await buildBillingApp({ accountExtras: (account) => ({ region: `eu-${account.plan}` }) });
    const account = await harness.createAccount('pro');
    const body = expectStatus<AccountBody & { region: string }>(
      await harness.call(account.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(body.region).toBe('eu-pro');
  });
});

describe('POST /v1/account/webhook-secret', () => {
  it("rotates the account's webhook secret and leaves other accounts' secrets alone", async () => {
    const harness = await buildBillingApp();
    const alice = await harness.createAccount('pro');
    const bob = await harness.createAccount('pro');
    const secretOf = async (key: string) =>
      expectStatus<AccountBody>(await harness.call(key, 'GET', '/v1/account'), 200).webhookSecret;
    const aliceBefore = await secretOf(alice.apiKey);
    const bobBefore = await secretOf(bob.apiKey);

    const rotated = expectStatus<{ webhookSecret: string }>(
      await harness.call(alice.apiKey, 'POST', '/v1/account/webhook-secret'),
      200,
    );

    expect(rotated.webhookSecret).toMatch(/^whsec_/);
    expect(rotated.webhookSecret, 'a rotation issues a new secret').not.toBe(aliceBefore);
    expect(await secretOf(alice.apiKey), 'the account now signs with the new secret').toBe(
      rotated.webhookSecret,
    );
    expect(await secretOf(bob.apiKey), "Bob's secret is untouched").toBe(bobBefore);
  });

  it('refuses to rotate without a valid key', async () => {
    const harness = await buildBillingApp();
    expectError(
      await harness.app.inject({ method: 'POST', url: '/v1/account/webhook-secret' }),
      401,
      'unauthorized',
    );
  });
});

describe('OpenAPI docs', () => {
  it('document the customer routes and hide the internal contract', async () => {
    const harness = await buildBillingApp();
    const docs = expectStatus<{ paths: Record<string, Record<string, unknown>> }>(
      await harness.app.inject({ method: 'GET', url: '/docs/json' }),
      200,
    );
    const paths = Object.keys(docs.paths);
    expect(paths, 'customer routes are documented').toEqual(
      expect.arrayContaining(['/v1/signup', '/v1/account', '/v1/account/keys', '/v1/account/keys/{keyId}']),
    );
    expect(
      paths.filter((path) => path.startsWith('/internal')),
      'internal routes never reach the public docs',
    ).toEqual([]);
    expect(docs.paths['/v1/account/keys']?.post, 'the optional body still documents').toBeDefined();
  });
});
