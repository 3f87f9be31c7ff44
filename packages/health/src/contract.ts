import { z } from 'zod';

/**
 * The studio's health contract: draft-inadarei-api-health-check-06, "Health Check Response Format for
 * HTTP APIs". This schema is the single source of truth; the plugin produces it, the client checks it.
 */

export const HEALTH_MEDIA_TYPE = 'application/health+json';

export const healthStatusSchema = z.enum(['pass', 'warn', 'fail']);
export type HealthStatus = z.infer<typeof healthStatusSchema>;

/**
 * The draft lets both halves of a `checks` key be optional (its own example uses a bare `uptime`).
 * The studio is stricter: every key is `component:measurement` (`sqlite:responseTime`) so dashboards
 * can group by component without guessing.
 */
export const CHECK_KEY_PATTERN = /^[^:\s]+:[^:\s]+$/;

export const checkKeySchema = z
  .string()
  .regex(CHECK_KEY_PATTERN, 'check key must be "component:measurement", e.g. "sqlite:responseTime"');

/** Link relations to URIs (draft section 3.8 / 4.11). */
const linksSchema = z.record(z.string(), z.string());

export const healthCheckEntrySchema = z.object({
  componentId: z.string().optional(),
  /** `component`, `datastore`, `system`, or a URI for a custom type. */
  componentType: z.string().optional(),
  /** Any JSON value; the unit lives in `observedUnit`. */
  observedValue: z.json().optional(),
  observedUnit: z.string().optional(),
  status: healthStatusSchema,
  /** URI templates of the endpoints this component affects. */
  affectedEndpoints: z.array(z.string()).optional(),
  /** RFC 3339 date-time at which `observedValue` was read. */
  time: z.iso.datetime({ offset: true }).optional(),
  /** Raw error output for `warn` and `fail`; the draft says to omit it on `pass`. */
  output: z.string().optional(),
  links: linksSchema.optional(),
});
export type HealthCheckEntry = z.infer<typeof healthCheckEntrySchema>;

export const healthChecksSchema = z.record(checkKeySchema, z.array(healthCheckEntrySchema));
export type HealthChecks = z.infer<typeof healthChecksSchema>;

export const healthReportSchema = z.object({
  status: healthStatusSchema,
  version: z.string().optional(),
  releaseId: z.string().optional(),
  serviceId: z.string().optional(),
  description: z.string().optional(),
  notes: z.array(z.string()).optional(),
  output: z.string().optional(),
  checks: healthChecksSchema.optional(),
  links: linksSchema.optional(),
});
export type HealthReport = z.infer<typeof healthReportSchema>;

/**
 * The draft allows any 2xx-3xx for pass/warn and 4xx-5xx for fail; the studio pins one code each so
 * load balancers, uptime monitors and `checkHealth` agree without configuration. `warn` stays 200:
 * a degraded instance still takes traffic.
 */
export function httpStatusFor(status: HealthStatus): 200 | 503 {
  return status === 'fail' ? 503 : 200;
}
