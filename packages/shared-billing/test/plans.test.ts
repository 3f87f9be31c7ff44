import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { definePlanCatalog } from '../src/plans';

const checksShape = { checks: z.number().int().positive() };
const plan = (requestsPerMinute: number, checks: number, extra: Record<string, number> = {}) => ({
  title: 'A plan',
  monthlyPriceUsd: 0,
  limits: { requestsPerMinute, checks, ...extra },
});

describe('definePlanCatalog', () => {
  it('returns the validated plans and the monthly limits', () => {
    const catalog = definePlanCatalog(
      'cronping',
      { ...checksShape, pingsPerMonth: z.number().int().nonnegative() },
      {
        free: plan(60, 20, { pingsPerMonth: 1000 }),
        pro: plan(600, 500, { pingsPerMonth: 100_000 }),
        business: plan(3000, 5000, { pingsPerMonth: 1_000_000 }),
      },
      ['pingsPerMonth'],
    );
    expect(catalog.product).toBe('cronping');
    expect(catalog.plans.pro.limits).toEqual({ requestsPerMinute: 600, checks: 500, pingsPerMonth: 100_000 });
    expect(catalog.monthlyLimits).toEqual(['pingsPerMonth']);
  });

  it('rejects a catalog with a missing plan, naming the product and the plan', () => {
    expect(() =>
      definePlanCatalog('cronping', checksShape, { free: plan(60, 20), pro: plan(600, 500) }),
    ).toThrow(/^plan catalog of cronping is invalid: business: /);
  });

  it('rejects a negative limit, naming the product and the limit', () => {
    expect(() =>
      definePlanCatalog('cronping', checksShape, {
        free: plan(-1, 20),
        pro: plan(600, 500),
        business: plan(3000, 5000),
      }),
    ).toThrow(/^plan catalog of cronping is invalid: free\.limits\.requestsPerMinute: /);
    // Even when the product's own shape forgot to forbid it.
    expect(() =>
      definePlanCatalog(
        'flagbit',
        { flags: z.number() },
        {
          free: { title: 'Free', monthlyPriceUsd: 0, limits: { requestsPerMinute: 60, flags: 10 } },
          pro: { title: 'Pro', monthlyPriceUsd: 9, limits: { requestsPerMinute: 600, flags: -5 } },
          business: {
            title: 'Business',
            monthlyPriceUsd: 49,
            limits: { requestsPerMinute: 3000, flags: 1000 },
          },
        },
      ),
    ).toThrow('plan catalog of flagbit is invalid: pro.limits.flags: must be a number >= 0');
  });

  it('rejects a limit key the product does not declare, naming the product and the key', () => {
    expect(() =>
      definePlanCatalog('cronping', checksShape, {
        free: plan(60, 20),
        pro: plan(600, 500, { monitors: 3 }),
        business: plan(3000, 5000),
      }),
    ).toThrow(/^plan catalog of cronping is invalid: pro\.limits: .*"monitors"/);
  });

  it('rejects a limit one plan has and another lacks', () => {
    expect(() =>
      definePlanCatalog('cronping', checksShape, {
        free: plan(60, 20),
        pro: plan(600, 500),
        business: { title: 'Business', monthlyPriceUsd: 49, limits: { requestsPerMinute: 3000 } },
      }),
    ).toThrow(/^plan catalog of cronping is invalid: business\.limits\.checks: /);
  });

  it('rejects a negative price and an empty title', () => {
    expect(() =>
      definePlanCatalog('documint', checksShape, {
        free: { ...plan(60, 20), title: '' },
        pro: { ...plan(600, 500), monthlyPriceUsd: -9 },
        business: plan(3000, 5000),
      }),
    ).toThrow(/plan catalog of documint is invalid: free\.title: .*; pro\.monthlyPriceUsd: /);
  });
});
