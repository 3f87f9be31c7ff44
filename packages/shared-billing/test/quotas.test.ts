import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { buildBillingApp, expectError, expectStatus } from './harness';

interface AccountBody {
  plan: string;
  limits: Record<string, number>;
  usage: Record<string, number>;
  usagePeriod: string;
}

function storedUsage(sqlite: Database.Database, accountId: string) {
  return Object.fromEntries(
    (
      sqlite
        .prepare('SELECT metric, period, count FROM usage_counters WHERE account_id = ?')
        .all(accountId) as { metric: string; period: string; count: number }[]
    ).map((row) => [`${row.metric}@${row.period}`, row.count]),
  );
}

describe('current-total limits (assertBelowLimit)', () => {
  it('answers 402 plan_limit_reached naming the plan and the limit once the plan allowance is used', async () => {
    // free: widgets 2.
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/widgets'), 201);
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/widgets'), 201);

    const error = expectError(
      await harness.call(account.apiKey, 'POST', '/v1/widgets'),
      402,
      'plan_limit_reached',
    );
    expect(error.message, 'names the plan, the allowance, the limit and the current count').toBe(
      'The free plan allows 2 widgets; this account has 2. Upgrade the plan to go further.',
    );

    expectStatus(
      await harness.internal('PUT', `/internal/accounts/${account.accountId}/plan`, { plan: 'pro' }),
      200,
    );
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/widgets'), 201);
  });

  it('throws a start-up style error naming the product for a limit the catalog lacks', async () => {
    const harness = await buildBillingApp();
    const { accountId } = await harness.createAccount('free');
    const account = harness.app.billing.repository.findAccount(accountId);
    if (!account) throw new Error(`account ${accountId} was not stored`);
    expect(() => harness.app.billing.assertBelowLimit(account, 'gizmos', 0)).toThrow(
      'plan catalog of testprod has no limit named gizmos',
    );
    expect(() => harness.app.billing.consumeMonthly(account, 'gizmosPerMonth')).toThrow(
      'plan catalog of testprod has no limit named gizmosPerMonth',
    );
  });
});

describe('monthly limits (consumeMonthly)', () => {
  it("answers 402 once the month's allowance is spent and shows the usage on the account", async () => {
    // free: rendersPerMonth 3.
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 2 }), 201);
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 1 }), 201);

    const error = expectError(
      await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 1 }),
      402,
      'plan_limit_reached',
    );
    expect(error.message).toMatch(
      /^The free plan allows 3 rendersPerMonth; 3 used this month \(resets \d{4}-\d\d-01\)\. Upgrade the plan to go further\.$/,
    );

    const body = expectStatus<AccountBody>(await harness.call(account.apiKey, 'GET', '/v1/account'), 200);
    expect(body.usage.rendersPerMonth, JSON.stringify(body.usage)).toBe(3);
  });

  it('starts a fresh allowance when the calendar month turns, by the injected clock', async () => {
    let today = new Date('2026-11-30T23:59:00Z');
    const harness = await buildBillingApp({ now: () => today });
    const account = await harness.createAccount('free');
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 3 }), 201);
    const refused = expectError(
      await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 1 }),
      402,
      'plan_limit_reached',
    );
    expect(refused.message).toContain('resets 2026-12-01');

    today = new Date('2026-12-01T00:00:30Z');
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 1 }), 201);
    expect(harness.app.billing.usageOf(account.accountId).rendersPerMonth).toBe(1);
    harness.app.billing.flushUsage();
    const rows = harness.app.database.sqlite
      .prepare(
        "SELECT period, count FROM usage_counters WHERE account_id = ? AND metric = 'rendersPerMonth' ORDER BY period",
      )
      .all(account.accountId);
    expect(rows).toEqual([
      { period: '2026-11', count: 3 },
      { period: '2026-12', count: 1 },
    ]);
  });

  it('refuses a request larger than what is left without counting any of it', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 2 }), 201);

    const error = expectError(
      await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 2 }),
      402,
      'plan_limit_reached',
    );
    expect(error.message).toContain('2 used this month');
    expect(
      harness.app.billing.usageOf(account.accountId).rendersPerMonth,
      'the refused request cost nothing',
    ).toBe(2);
    expectStatus(await harness.call(account.apiKey, 'POST', '/v1/renders', { pages: 1 }), 201);
  });

  it('rejects fractional and negative amounts, which would corrupt the count', async () => {
    const harness = await buildBillingApp();
    const { accountId } = await harness.createAccount('free');
    const account = harness.app.billing.repository.findAccount(accountId);
    if (!account) throw new Error(`account ${accountId} was not stored`);
    for (const amount of [-1, 1.5, Number.NaN]) {
      expect(
        () => harness.app.billing.consumeMonthly(account, 'rendersPerMonth', amount),
        `amount ${amount}`,
      ).toThrow(/whole non-negative amounts/);
      expect(() => harness.app.billing.countUsage(accountId, 'exports', amount), `amount ${amount}`).toThrow(
        /whole non-negative amounts/,
      );
    }
    expect(harness.app.billing.usageOf(accountId), 'nothing was counted').toEqual({});
  });

  it('keeps counting the month across a restart, from what was written to SQLite', async () => {
    const first = await buildBillingApp();
    const account = await first.createAccount('free');
    expectStatus(await first.call(account.apiKey, 'POST', '/v1/renders', { pages: 3 }), 201);
    // No explicit flush: closing the app writes what is buffered.
    await first.close();

    const onDisk = new Database(first.databaseFile, { readonly: true });
    try {
      const usage = storedUsage(onDisk, account.accountId);
      expect(
        Object.entries(usage).filter(([metric]) => metric.startsWith('rendersPerMonth@')),
        JSON.stringify(usage),
      ).toEqual([[expect.stringMatching(/^rendersPerMonth@\d{4}-\d\d$/), 3]]);
    } finally {
      onDisk.close();
    }

    const restarted = await buildBillingApp({ dataDir: first.dataDir });
    expectError(
      await restarted.call(account.apiKey, 'POST', '/v1/renders', { pages: 1 }),
      402,
      'plan_limit_reached',
    );
  });
});

describe('usage counting', () => {
  it('counts requests per account, shows them on the account and persists them on flush', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const other = await harness.createAccount('pro');
    const { sqlite } = harness.app.database;
    for (let i = 0; i < 3; i++) expectStatus(await harness.call(account.apiKey, 'GET', '/v1/ping'), 200);
    expectStatus(await harness.call(other.apiKey, 'GET', '/v1/ping'), 200);

    expect(storedUsage(sqlite, account.accountId), 'usage is buffered until a flush').toEqual({});
    harness.app.billing.flushUsage();

    const body = expectStatus<AccountBody>(await harness.call(account.apiKey, 'GET', '/v1/account'), 200);
    expect(body.usage, 'the account shows the flushed count').toEqual({ requests: 3 });
    expect(storedUsage(sqlite, account.accountId), 'SQLite holds the flushed count').toEqual({
      [`requests@${body.usagePeriod}`]: 3,
    });
    expect(storedUsage(sqlite, other.accountId), "another account's requests are its own").toEqual({
      [`requests@${body.usagePeriod}`]: 1,
    });

    harness.app.billing.flushUsage();
    expect(storedUsage(sqlite, account.accountId), 'the next flush adds the GET /v1/account').toEqual({
      [`requests@${body.usagePeriod}`]: 4,
    });
    harness.app.billing.flushUsage();
    expect(storedUsage(sqlite, account.accountId), 'a flush with nothing new adds nothing').toEqual({
      [`requests@${body.usagePeriod}`]: 4,
    });
  });

  it('keeps buffered usage when a flush fails and writes it with the next one', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const { sqlite } = harness.app.database;
    for (let i = 0; i < 2; i++) expectStatus(await harness.call(account.apiKey, 'GET', '/v1/ping'), 200);

    // Takes the table away so the write fails, as a locked or full disk would.
    sqlite.exec('ALTER TABLE usage_counters RENAME TO usage_counters_away');
    expect(() => harness.app.billing.flushUsage()).toThrow(/usage_counters/);
    sqlite.exec('ALTER TABLE usage_counters_away RENAME TO usage_counters');
    expect(harness.app.billing.usageOf(account.accountId), 'the counts are still in memory').toEqual({
      requests: 2,
    });

    harness.app.billing.flushUsage();
    expect(Object.values(storedUsage(sqlite, account.accountId)), 'nothing was lost').toEqual([2]);
  });
});

describe('per-account rate limit', () => {
  it('answers 429 after requestsPerMinute requests, and an upgrade raises the limit', async () => {
    // free: 5 requests per minute; pro: 50.
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    for (let i = 1; i <= 5; i++) {
      const response = await harness.call(account.apiKey, 'GET', '/v1/ping');
      expectStatus(response, 200);
      expect(response.headers['x-ratelimit-remaining'], `request ${i}`).toBe(String(5 - i));
    }

    const limited = await harness.call(account.apiKey, 'GET', '/v1/ping');
    const error = expectError(limited, 429, 'rate_limited');
    expect(error.message).toMatch(/^Rate limit of 5 requests per minute reached; retry in \d+ s$/);
    expect(
      Number(limited.headers['retry-after']),
      `retry-after ${limited.headers['retry-after']}`,
    ).toBeGreaterThan(0);

    expectStatus(
      await harness.internal('PUT', `/internal/accounts/${account.accountId}/plan`, { plan: 'pro' }),
      200,
    );
    const upgraded = await harness.call(account.apiKey, 'GET', '/v1/ping');
    expectStatus(upgraded, 200);
    expect(upgraded.headers['x-ratelimit-limit'], 'the pro allowance applies at once').toBe('50');
  });

  it('shares one allowance across all keys of an account but not across accounts', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('free');
    const secondKey = await harness.createKey(account.accountId);
    const neighbour = await harness.createAccount('free');
    for (let i = 0; i < 5; i++) {
      const key = i % 2 === 0 ? account.apiKey : secondKey.apiKey;
      expectStatus(await harness.call(key, 'GET', '/v1/ping'), 200);
    }

    expectError(await harness.call(secondKey.apiKey, 'GET', '/v1/ping'), 429, 'rate_limited');
    expectError(await harness.call(account.apiKey, 'GET', '/v1/ping'), 429, 'rate_limited');
    expectStatus(await harness.call(neighbour.apiKey, 'GET', '/v1/ping'), 200);
  });

  it('limits failed key checks per address, so keys cannot be guessed at full speed', async () => {
    const harness = await buildBillingApp({ anonymousRequestsPerMinute: 3 });
    const account = await harness.createAccount('pro');
    const guess = (remoteAddress: string) =>
      harness.app.inject({
        method: 'GET',
        url: '/v1/account',
        headers: { authorization: 'Bearer tp_guess' },
        remoteAddress,
      });
    for (let i = 0; i < 3; i++) expectError(await guess('192.0.2.50'), 401, 'unauthorized');

    const limited = await guess('192.0.2.50');
    const error = expectError(limited, 429, 'rate_limited');
    expect(error.message).toMatch(/^Rate limit of 3 requests per minute reached/);
    expect(limited.headers['retry-after'], 'tells the client when to come back').toMatch(/^\d+$/);

    expectError(await guess('192.0.2.51'), 401, 'unauthorized');
    const valid = await harness.app.inject({
      method: 'GET',
      url: '/v1/account',
      headers: { authorization: `Bearer ${account.apiKey}` },
      remoteAddress: '192.0.2.50',
    });
    expectStatus(valid, 200);
  });
});
