import { z } from 'zod';
import { serviceStates } from '../audit/services';

/** Response schemas shared by the JSON API routes (the OpenAPI document at /docs is built from them). */
export const healthStatus = z.enum(['pass', 'warn', 'fail']);

export const auditReportSchema = z.object({
  id: z.string(),
  status: healthStatus,
  startedAt: z.string(),
  finishedAt: z.string(),
  products: z.array(
    z.object({
      name: z.string(),
      status: healthStatus,
      responseTimeMs: z.number().nullable(),
      checks: z.record(
        z.string(),
        z.object({
          status: healthStatus,
          observedValue: z.unknown().optional(),
          observedUnit: z.string().optional(),
          output: z.string().optional(),
        }),
      ),
      error: z.string().optional(),
      caddy: z
        .object({ status: healthStatus, responseTimeMs: z.number().nullable(), error: z.string().optional() })
        .optional(),
      uptimeSeconds: z.number().optional(),
      restarted: z.boolean().optional(),
    }),
  ),
  host: z.object({
    status: healthStatus,
    memory: z.object({ totalBytes: z.number(), freeBytes: z.number(), usedPercent: z.number() }),
    disk: z.object({ path: z.string(), usedPercent: z.number().nullable(), error: z.string().optional() }),
    loadAverage: z.array(z.number()),
    /** Absent when SERVICE_PID_DIR is not configured (and in reports stored before it existed). */
    services: z
      .array(
        z.object({
          name: z.string(),
          pid: z.number().nullable(),
          running: z.boolean(),
          error: z.string().optional(),
          // From the supervisor's `<name>.state.json`: absent with pid files alone and in older reports.
          state: z.enum(serviceStates).optional(),
          restarts: z.number().optional(),
          startedAt: z.string().nullable().optional(),
          lastExit: z
            .object({
              code: z.number().nullable(),
              signal: z.string().nullable(),
              at: z.string(),
              output: z.string(),
            })
            .nullable()
            .optional(),
          nextStartAt: z.string().nullable().optional(),
          reason: z.string().nullable().optional(),
          restartedSinceLastAudit: z.boolean().optional(),
          restartsSinceLastAudit: z.number().optional(),
        }),
      )
      .optional(),
    servicesError: z.string().optional(),
  }),
  blog: z.object({
    status: z.enum(['pass', 'warn', 'fail', 'not configured']),
    sitemapPosts: z.number().optional(),
    publishedPosts: z.number().optional(),
    error: z.string().optional(),
  }),
  integrations: z.record(z.string(), z.string()),
  incidents: z.object({ opened: z.array(z.string()), resolved: z.array(z.string()) }),
});

export const incidentSchema = z.object({
  id: z.string(),
  product: z.string(),
  status: z.enum(['open', 'resolved']),
  openedAt: z.string(),
  resolvedAt: z.string().nullable(),
  reason: z.string(),
  timeline: z.array(z.object({ at: z.string(), kind: z.string(), message: z.string() })),
});

export const queueItemSchema = z.object({
  id: z.string(),
  postId: z.string(),
  kind: z.enum(['crosspost', 'newsletter']),
  channel: z.string(),
  title: z.string(),
  body: z.string(),
  status: z.enum(['pending', 'approved', 'rejected', 'sent', 'ready_by_hand']),
  externalId: z.string().nullable(),
  externalUrl: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  decidedAt: z.string().nullable(),
});

export const postSchema = z.object({
  id: z.string(),
  slug: z.string(),
  title: z.string(),
  markdown: z.string(),
  html: z.string(),
  tags: z.array(z.string()),
  status: z.enum(['draft', 'published', 'failed']),
  ghostId: z.string().nullable(),
  url: z.string().nullable(),
  error: z.string().nullable(),
  createdAt: z.string(),
  publishedAt: z.string().nullable(),
});

export const errorSchema = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string(),
    details: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  }),
});

/** The error statuses a route can answer, each with the studio's envelope, for the OpenAPI document. */
export function errors<const Code extends 400 | 401 | 404 | 409 | 422 | 429 | 502 | 503>(...codes: Code[]) {
  return Object.fromEntries(codes.map((code) => [code, errorSchema])) as Record<Code, typeof errorSchema>;
}

export const adminSecurity = [{ bearerAuth: [] }];
