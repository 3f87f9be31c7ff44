import { definePlanCatalog } from '@studio/shared-billing';
import { z } from 'zod';

export const plans = definePlanCatalog(
  'webhookvault',
  { endpoints: z.number().int().positive(), capturesPerMonth: z.number().int().positive() },
  {
    free: {
      title: 'Free',
      monthlyPriceUsd: 0,
      limits: { requestsPerMinute: 60, endpoints: 3, capturesPerMonth: 1000 },
    },
    pro: {
      title: 'Pro',
      monthlyPriceUsd: 12,
      limits: { requestsPerMinute: 600, endpoints: 50, capturesPerMonth: 100_000 },
    },
    business: {
      title: 'Business',
      monthlyPriceUsd: 49,
      limits: { requestsPerMinute: 3000, endpoints: 500, capturesPerMonth: 2_000_000 },
    },
  },
  ['capturesPerMonth'],
);
