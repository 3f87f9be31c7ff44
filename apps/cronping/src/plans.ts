import { definePlanCatalog } from '@studio/shared-billing';
import { z } from 'zod';

export const plans = definePlanCatalog(
  'cronping',
  { checks: z.number().int().positive() },
  {
    free: { title: 'Free', monthlyPriceUsd: 0, limits: { requestsPerMinute: 60, checks: 20 } },
    pro: { title: 'Pro', monthlyPriceUsd: 9, limits: { requestsPerMinute: 600, checks: 500 } },
    business: { title: 'Business', monthlyPriceUsd: 49, limits: { requestsPerMinute: 3000, checks: 5000 } },
  },
  [],
);
