import { describe, expect, it } from 'vitest';
import { plans } from '../src/plans';
import { type Harness, startFlagBit } from './harness';

const allowance = plans.plans.free.limits.evaluationsPerMonth!;

/** Spends all but `left` of the account's monthly evaluations, as if its SDKs had used them. */
async function spendAllBut(harness: Harness, key: string, left: number) {
  const account = await harness.admin(key, 'GET', '/v1/account');
  const accountId = account.json().accountId as string;
  harness.app.billing.countUsage(accountId, 'evaluationsPerMonth', allowance - left);
  return accountId;
}

const sdk = (harness: Harness, token: string, method: 'GET' | 'POST', url: string, payload?: unknown) =>
  harness.app.inject({
    method,
    url,
    headers: { authorization: token },
    ...(payload === undefined ? {} : { payload: payload as object }),
  });

describe('the monthly evaluation allowance on SDK routes', () => {
  it('answers 402 on the frontend API and OFREP once the month is spent, naming the plan and the reset', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'paid' });
    const frontend = await harness.token(key, 'frontend');
    await spendAllBut(harness, key, 2);

    expect((await sdk(harness, frontend, 'GET', '/api/frontend?userId=a')).statusCode).toBe(200);
    expect((await sdk(harness, frontend, 'POST', '/ofrep/v1/evaluate/flags', {})).statusCode).toBe(200);

    for (const [method, url] of [
      ['GET', '/api/frontend?userId=a'],
      ['POST', '/api/frontend'],
      ['POST', '/ofrep/v1/evaluate/flags/paid'],
      ['POST', '/ofrep/v1/evaluate/flags'],
    ] as const) {
      const response = await sdk(harness, frontend, method, url, method === 'POST' ? {} : undefined);
      expect(response.statusCode, `${method} ${url}`).toBe(402);
      const { error } = response.json();
      expect(error.code).toBe('plan_limit_reached');
      expect(error.message).toContain(`The free plan allows ${allowance} evaluationsPerMonth`);
      expect(error.message).toContain('resets 2026-12-01');
    }

    // The allowance is monthly: the next month serves again.
    harness.clock.now = new Date('2026-12-01T00:00:01.000Z');
    expect((await sdk(harness, frontend, 'GET', '/api/frontend?userId=a')).statusCode).toBe(200);
  });

  it('keeps serving backend SDKs over the allowance, so running customer apps keep their flags', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'server-side' });
    const backend = await harness.token(key, 'backend');
    await spendAllBut(harness, key, 0);

    const features = await sdk(harness, backend, 'GET', '/api/client/features');
    expect(features.statusCode).toBe(200);
    expect(features.json().features.map((f: { name: string }) => f.name)).toEqual(['server-side']);
    expect((await sdk(harness, backend, 'GET', '/api/client/delta')).statusCode).toBe(200);
    const metrics = await sdk(harness, backend, 'POST', '/api/client/metrics', {
      appName: 'checkout',
      bucket: { start: 0, stop: 1, toggles: { 'server-side': { yes: 1, no: 0 } } },
    });
    expect(metrics.statusCode).toBe(202);
    // OFREP evaluates on the server, so it is metered whichever token asks.
    expect((await sdk(harness, backend, 'POST', '/ofrep/v1/evaluate/flags', {})).statusCode).toBe(402);
  });

  it("does not charge one account's spent allowance to another account", async () => {
    const harness = await startFlagBit();
    const spent = await harness.signup();
    const other = await harness.signup();
    await spendAllBut(harness, spent, 0);
    const spentToken = await harness.token(spent, 'frontend');
    const otherToken = await harness.token(other, 'frontend');
    expect((await sdk(harness, spentToken, 'GET', '/api/frontend')).statusCode).toBe(402);
    expect((await sdk(harness, otherToken, 'GET', '/api/frontend')).statusCode).toBe(200);
  });
});
