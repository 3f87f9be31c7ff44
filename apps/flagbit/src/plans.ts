import { definePlanCatalog } from '@studio/shared-billing';
import { z } from 'zod';

export const plans = definePlanCatalog(
  'flagbit',
  { flags: z.number().int().positive(), evaluationsPerMonth: z.number().int().positive() },
  {
    free: {
      title: 'Free',
      monthlyPriceUsd: 0,
      limits: { requestsPerMinute: 600, flags: 25, evaluationsPerMonth: 1_000_000 },
    },
    pro: {
      title: 'Pro',
      monthlyPriceUsd: 29,
      limits: { requestsPerMinute: 6000, flags: 500, evaluationsPerMonth: 50_000_000 },
    },
    business: {
      title: 'Business',
      monthlyPriceUsd: 99,
      limits: { requestsPerMinute: 30_000, flags: 5000, evaluationsPerMonth: 1_000_000_000 },
    },
  },
  ['evaluationsPerMonth'],
);
