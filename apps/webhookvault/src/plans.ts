import { definePlanCatalog } from '@studio/shared-billing';
import { z } from 'zod';

export const plans = definePlanCatalog(
  'webhookvault',
  {
    endpoints: z.number().int().positive(),
    capturesPerMonth: z.number().int().positive(),
    /** Captures older than this are deleted by the retention job. */
    captureRetentionDays: z.number().int().positive(),
    /** Only the newest this many captures of an endpoint are kept. */
    capturesKeptPerEndpoint: z.number().int().positive(),
    forwardingRulesPerEndpoint: z.number().int().positive(),
  },
  {
    free: {
      title: 'Free',
      monthlyPriceUsd: 0,
      limits: {
        requestsPerMinute: 60,
        endpoints: 3,
        capturesPerMonth: 1000,
        captureRetentionDays: 1,
        capturesKeptPerEndpoint: 100,
        forwardingRulesPerEndpoint: 1,
      },
    },
    pro: {
      title: 'Pro',
      monthlyPriceUsd: 12,
      limits: {
        requestsPerMinute: 600,
        endpoints: 50,
        capturesPerMonth: 100_000,
        captureRetentionDays: 30,
        capturesKeptPerEndpoint: 10_000,
        forwardingRulesPerEndpoint: 5,
      },
    },
    business: {
      title: 'Business',
      monthlyPriceUsd: 49,
      limits: {
        requestsPerMinute: 3000,
        endpoints: 500,
        capturesPerMonth: 2_000_000,
        captureRetentionDays: 90,
        capturesKeptPerEndpoint: 100_000,
        forwardingRulesPerEndpoint: 20,
      },
    },
  },
  ['capturesPerMonth'],
);
