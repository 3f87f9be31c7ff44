import { z } from 'zod';

export const planNames = ['free', 'pro', 'business'] as const;
export const planNameSchema = z.enum(planNames);
export type PlanName = z.infer<typeof planNameSchema>;

/** Limits every product's plans carry; a product adds its own (checks, renders per month, …). */
export const baseLimitsSchema = z.object({
  requestsPerMinute: z.number().int().positive(),
});

export interface PlanCatalog {
  product: string;
  plans: Record<PlanName, { title: string; monthlyPriceUsd: number; limits: Record<string, number> }>;
  /** Limits counted per calendar month (UTC) rather than as a current total, e.g. rendersPerMonth. */
  monthlyLimits: string[];
}

/**
 * Plans are data, validated once at start: a catalog with a missing plan, a negative limit or a limit one
 * plan has and another lacks is a start-up error, not a surprise at the first upgrade.
 */
export function definePlanCatalog<Shape extends z.ZodRawShape>(
  product: string,
  limitsShape: Shape,
  plans: unknown,
  monthlyLimits: (keyof Shape & string)[] = [],
): PlanCatalog {
  // The product's own shape may allow any number; a negative limit is never meant, whatever it says.
  const limits = baseLimitsSchema
    .extend(limitsShape)
    .strict()
    .superRefine((values, ctx) => {
      for (const [name, value] of Object.entries(values as Record<string, unknown>)) {
        if (typeof value !== 'number' || !(value >= 0)) {
          ctx.addIssue({ code: 'custom', path: [name], message: 'must be a number >= 0' });
        }
      }
    });
  const catalogSchema = z.object({
    free: z.object({ title: z.string().min(1), monthlyPriceUsd: z.number().min(0), limits }),
    pro: z.object({ title: z.string().min(1), monthlyPriceUsd: z.number().min(0), limits }),
    business: z.object({ title: z.string().min(1), monthlyPriceUsd: z.number().min(0), limits }),
  });
  const parsed = catalogSchema.safeParse(plans);
  if (!parsed.success) {
    const problems = parsed.error.issues
      .map((issue) => `${issue.path.join('.')}: ${issue.message}`)
      .join('; ');
    throw new Error(`plan catalog of ${product} is invalid: ${problems}`);
  }
  return {
    product,
    plans: parsed.data as PlanCatalog['plans'],
    monthlyLimits,
  };
}
