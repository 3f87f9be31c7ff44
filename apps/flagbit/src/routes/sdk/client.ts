import { AppError, type ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import type { ClientFeatures } from '../../evaluation/types';
import type { SdkPrincipal } from '../../sdk-tokens';

const sdkSecurity = [{ sdkToken: [] }];
// SDK traffic is exempt from the per-account request limiter: see plugins/flagbit.ts for how bad tokens are limited.
const sdkRouteConfig = { rateLimit: false } as const;

const registerBody = z.looseObject({
  appName: z.string().min(1).max(255),
  instanceId: z.string().min(1).max(255).default('unknown'),
  sdkVersion: z.string().max(255).optional(),
  strategies: z.array(z.string().max(255)).max(100).default([]),
  started: z.union([z.string(), z.number()]).optional(),
  interval: z.number().int().min(0).optional(),
});

export const metricsBody = z.looseObject({
  appName: z.string().min(1).max(255),
  instanceId: z.string().max(255).optional(),
  bucket: z.looseObject({
    start: z.union([z.string(), z.number()]).optional(),
    stop: z.union([z.string(), z.number()]).optional(),
    toggles: z.record(
      z.string().max(255),
      z.looseObject({
        yes: z.number().int().min(0).default(0),
        no: z.number().int().min(0).default(0),
        variants: z.record(z.string().max(255), z.number().int().min(0)).optional(),
      }),
    ),
  }),
});

export type MetricsBody = z.output<typeof metricsBody>;

/**
 * The Unleash client API, for backend SDKs with a backend token as the bare `Authorization` header.
 *
 * Not metered against `evaluationsPerMonth`, and never refused for it: backend SDKs evaluate in the
 * customer's own process, so these routes serve a document (one read per poll or stream), not evaluations.
 * Refusing them would not save FlagBit work but would break customers' running apps: the Node SDK keeps its
 * last state on an error, but every instance started afterwards (a deploy, an autoscale) would come up with
 * no flags at all and answer every `isEnabled` with false. The allowance bounds what FlagBit evaluates
 * itself (the frontend API and OFREP, which answer 402 once it is spent).
 */
export function registerClientRoutes(app: ServiceInstance) {
  const { snapshots, repository, store } = app.flagbit;

  app.get(
    '/api/client/features',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['client'],
        summary: "The environment's flags for server-side SDKs (ETag / If-None-Match → 304)",
        security: sdkSecurity,
        querystring: z.looseObject({ project: z.string().optional(), namePrefix: z.string().optional() }),
        response: { 200: z.unknown(), 304: z.null() },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend']);
      const snapshot = snapshots.get(principal.accountId, principal.environment);
      if (!snapshot) throw new AppError('unauthorized', 'Missing or invalid API token');
      const { project, namePrefix } = request.query;
      reply.type('application/json; charset=utf-8');
      if (!project && !namePrefix) {
        reply.header('etag', snapshot.etag);
        if (request.headers['if-none-match'] === snapshot.etag) return reply.code(304).send(null);
        return reply.send(snapshot.body);
      }
      // Filtered reads are rare (SDKs configured with a project or prefix): computed, not cached.
      const document: ClientFeatures = {
        ...snapshot.document,
        features: snapshot.document.features.filter(
          (f) => (!project || f.project === project) && (!namePrefix || f.name.startsWith(namePrefix)),
        ),
      };
      return reply.send(JSON.stringify(document));
    },
  );

  app.get(
    '/api/client/delta',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['client'],
        summary: 'Delta polling: the environment as one hydration event (ETag / If-None-Match → 304)',
        security: sdkSecurity,
        response: { 200: z.unknown(), 304: z.null() },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend']);
      const snapshot = snapshots.get(principal.accountId, principal.environment);
      if (!snapshot) throw new AppError('unauthorized', 'Missing or invalid API token');
      // A hydration is always a correct delta (the SDK replaces its state with it); unchanged state is a 304.
      reply.header('etag', snapshot.etag).type('application/json; charset=utf-8');
      if (request.headers['if-none-match'] === snapshot.etag) return reply.code(304).send(null);
      const { features, segments = [] } = snapshot.document;
      return reply.send(
        JSON.stringify({ events: [{ type: 'hydration', eventId: snapshot.revision, features, segments }] }),
      );
    },
  );

  app.post(
    '/api/client/register',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['client'],
        summary: 'An SDK instance announces itself',
        security: sdkSecurity,
        body: registerBody,
        response: { 202: z.null() },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend']);
      const body = request.body;
      const write = repository.transaction(() =>
        repository.registerInstance({
          accountId: principal.accountId,
          environment: principal.environment,
          appName: body.appName,
          instanceId: body.instanceId,
          sdkVersion: body.sdkVersion ?? null,
          strategies: JSON.stringify(body.strategies),
          started: body.started === undefined ? null : String(body.started),
          interval: body.interval ?? null,
          now: store.now(),
        }),
      );
      write();
      return reply.code(202).send(null);
    },
  );

  app.post(
    '/api/client/metrics',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['client'],
        summary: 'An SDK reports how often each flag was evaluated, and to what',
        security: sdkSecurity,
        body: metricsBody,
        response: { 202: z.null() },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend']);
      recordMetrics(app, principal, request.body);
      return reply.code(202).send(null);
    },
  );
}

/**
 * Stores one metrics bucket (yes/no and variant counts per flag) for the token's environment. Backend SDKs
 * and Unleash's frontend SDK (unleash-proxy-client, `POST /api/frontend/client/metrics`) send the same shape.
 */
export function recordMetrics(app: ServiceInstance, principal: SdkPrincipal, body: MetricsBody) {
  const { repository, store } = app.flagbit;
  const { appName, bucket } = body;
  const now = store.now();
  const write = repository.transaction(() => {
    for (const [flag, counts] of Object.entries(bucket.toggles)) {
      repository.addFlagMetric(
        principal.accountId,
        principal.environment,
        flag,
        appName,
        counts.yes,
        counts.no,
        now,
      );
      for (const [variant, count] of Object.entries(counts.variants ?? {})) {
        if (count > 0)
          repository.addVariantMetric(
            principal.accountId,
            principal.environment,
            flag,
            appName,
            variant,
            count,
          );
      }
    }
  });
  write();
}

export { sdkRouteConfig, sdkSecurity };
