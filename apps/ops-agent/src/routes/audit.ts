import { AppError, type ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import { productHistory } from '../audit/audit';
import { configuredProducts } from '../config';
import { adminSecurity, auditReportSchema, errors, incidentSchema } from './schemas';

export function registerAuditRoutes(app: ServiceInstance) {
  const { ops } = app;
  const guarded = { onRequest: app.requireAdmin };

  app.post(
    '/audit',
    {
      ...guarded,
      schema: {
        tags: ['audit'],
        summary: 'Run an audit now and return its report',
        security: adminSecurity,
        response: { 200: auditReportSchema, ...errors(401) },
      },
    },
    async () => (await ops.audit()).report,
  );

  app.get(
    '/audit/latest',
    {
      ...guarded,
      schema: {
        tags: ['audit'],
        security: adminSecurity,
        response: { 200: auditReportSchema, ...errors(401, 404) },
      },
    },
    async () => {
      const report = ops.repo.latestAudit();
      if (!report) throw new AppError('not_found', 'No audit has run yet: POST /audit runs one');
      return report as z.infer<typeof auditReportSchema>;
    },
  );

  app.get(
    '/incidents',
    {
      ...guarded,
      schema: {
        tags: ['audit'],
        security: adminSecurity,
        querystring: z.object({ status: z.enum(['open', 'resolved']).optional() }),
        response: { 200: z.object({ items: z.array(incidentSchema) }), ...errors(400, 401) },
      },
    },
    async (request) => ({
      items: ops.repo
        .listIncidents()
        .filter((incident) => !request.query.status || incident.status === request.query.status)
        .map((incident) => ({ ...incident, timeline: ops.repo.incidentEvents(incident.id) })),
    }),
  );

  const windowSchema = z.object({
    checks: z.number(),
    uptimePercent: z.number().nullable(),
    p95ResponseTimeMs: z.number().nullable(),
  });
  app.get(
    '/products',
    {
      ...guarded,
      schema: {
        tags: ['audit'],
        summary: 'Configured products with uptime and p95 response time over 24 h, 7 d and 30 d',
        security: adminSecurity,
        response: {
          200: z.object({
            items: z.array(
              z.object({
                name: z.string(),
                url: z.string(),
                lastStatus: z.enum(['pass', 'warn', 'fail']).nullable(),
                lastError: z.string().nullable(),
                windows: z.object({ '24h': windowSchema, '7d': windowSchema, '30d': windowSchema }),
              }),
            ),
          }),
          ...errors(401),
        },
      },
    },
    async () => ({
      items: configuredProducts(ops.config).map(({ name, url }) => {
        const state = ops.repo.productState(name);
        return {
          name,
          url,
          lastStatus: state.lastStatus,
          lastError: state.lastReason,
          windows: productHistory(ops.repo, name, ops.clock.now()).windows,
        };
      }),
    }),
  );
}
