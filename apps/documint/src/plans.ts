import { definePlanCatalog } from '@studio/shared-billing';
import { z } from 'zod';

// rendersPerMonth counts every rendered document (sync, async and previews), checked before rendering.
export const plans = definePlanCatalog(
  'documint',
  {
    templates: z.number().int().positive(),
    rendersPerMonth: z.number().int().positive(),
    /** Days a stored document (metadata and PDF) is kept before it is deleted. */
    retentionDays: z.number().int().positive(),
  },
  {
    free: {
      title: 'Free',
      monthlyPriceUsd: 0,
      limits: { requestsPerMinute: 60, templates: 5, rendersPerMonth: 100, retentionDays: 7 },
    },
    pro: {
      title: 'Pro',
      monthlyPriceUsd: 19,
      limits: { requestsPerMinute: 600, templates: 100, rendersPerMonth: 10_000, retentionDays: 30 },
    },
    business: {
      title: 'Business',
      monthlyPriceUsd: 79,
      limits: { requestsPerMinute: 3000, templates: 1000, rendersPerMonth: 100_000, retentionDays: 365 },
    },
  },
  ['rendersPerMonth'],
);
