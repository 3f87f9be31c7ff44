import { definePlanCatalog } from '@studio/shared-billing';
import { z } from 'zod';

/** `checks`: checks per account; `pingHistory`: pings kept per check (the oldest are pruned). */
export const plans = definePlanCatalog(
  'cronping',
  { checks: z.number().int().positive(), pingHistory: z.number().int().positive() },
  {
    free: {
      title: 'Free',
      monthlyPriceUsd: 0,
      limits: { requestsPerMinute: 60, checks: 20, pingHistory: 100 },
    },
    pro: {
      title: 'Pro',
      monthlyPriceUsd: 9,
      limits: { requestsPerMinute: 600, checks: 500, pingHistory: 1000 },
    },
    business: {
      title: 'Business',
      monthlyPriceUsd: 49,
      limits: { requestsPerMinute: 3000, checks: 5000, pingHistory: 1000 },
    },
  },
  [],
);
