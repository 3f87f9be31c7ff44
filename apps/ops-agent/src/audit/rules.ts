import type { HealthReport } from '@studio/health';
import { z } from 'zod';

/**
 * AUDIT_RULES: conditions on a field of a product's health report, on top of the built-in ones (contract
 * kept, report status, response time). A field is a dotted path into the report body, e.g.
 * `checks.sqlite:writeRate.0.observedValue` or `releaseId`. Example:
 *   [{"product":"*","field":"checks.sqlite:writeRate.0.observedValue","max":150,"status":"warn"},
 *    {"product":"cronping","field":"releaseId","equals":"2026-11-24","status":"fail"}]
 */
export const auditRuleSchema = z
  .object({
    product: z.string().default('*'),
    field: z.string().min(1),
    max: z.number().optional(),
    min: z.number().optional(),
    equals: z.union([z.string(), z.number(), z.boolean()]).optional(),
    status: z.enum(['warn', 'fail']).default('fail'),
  })
  .strict()
  .refine((rule) => rule.max !== undefined || rule.min !== undefined || rule.equals !== undefined, {
    message: 'each rule needs max, min or equals',
  });
export type AuditRule = z.infer<typeof auditRuleSchema>;

export const auditRulesSchema = z.array(auditRuleSchema);

export function parseAuditRules(json: string): AuditRule[] {
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    throw new Error(`is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = auditRulesSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(
      `is invalid: ${parsed.error.issues.map((issue) => `${issue.path.join('.') || '(root)'}: ${issue.message}`).join('; ')}`,
    );
  }
  return parsed.data;
}

function read(report: HealthReport, field: string): unknown {
  let value: unknown = report;
  for (const part of field.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[part];
  }
  return value;
}

/** The rules this report breaks, each as a status and a sentence naming the field and the limit. */
export function breakRules(
  product: string,
  report: HealthReport,
  rules: AuditRule[],
): Array<{ status: 'warn' | 'fail'; reason: string }> {
  const broken: Array<{ status: 'warn' | 'fail'; reason: string }> = [];
  for (const rule of rules) {
    if (rule.product !== '*' && rule.product !== product) continue;
    const value = read(report, rule.field);
    if (rule.equals !== undefined) {
      if (value !== rule.equals)
        broken.push({
          status: rule.status,
          reason: `${rule.field} is ${JSON.stringify(value)}, expected ${JSON.stringify(rule.equals)}`,
        });
      continue;
    }
    if (typeof value !== 'number') {
      broken.push({
        status: rule.status,
        reason: `${rule.field} is ${value === undefined ? 'missing' : JSON.stringify(value)}, expected a number`,
      });
      continue;
    }
    if (rule.max !== undefined && value > rule.max)
      broken.push({ status: rule.status, reason: `${rule.field} is ${value}, above ${rule.max}` });
    if (rule.min !== undefined && value < rule.min)
      broken.push({ status: rule.status, reason: `${rule.field} is ${value}, below ${rule.min}` });
  }
  return broken;
}
