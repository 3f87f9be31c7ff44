import type { ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import type { Context } from '../../evaluation/types';
import type { SdkPrincipal } from '../../sdk-tokens';
import { metricsBody, recordMetrics, sdkRouteConfig, sdkSecurity } from './client';
import { buildContext } from './context';

const toggleSchema = z.object({
  name: z.string(),
  enabled: z.boolean(),
  impressionData: z.boolean(),
  variant: z.object({
    name: z.string(),
    enabled: z.boolean(),
    feature_enabled: z.boolean().optional(),
    payload: z.object({ type: z.string(), value: z.string() }).optional(),
  }),
});
const togglesResponse = z.object({ toggles: z.array(toggleSchema) });

/**
 * Unleash's frontend API: the flags enabled for one context, evaluated here, with their variants. Only
 * enabled flags are listed, as Unleash does. The body is built as a string and sent as is: the response
 * schema documents it, and skipping the per-request serializer is most of this route's speed.
 */
export function registerFrontendRoutes(app: ServiceInstance) {
  const { snapshots } = app.flagbit;

  const evaluateAll = (principal: SdkPrincipal, context: Context): string => {
    // Each answer is one evaluation request against the plan's monthly allowance; once it is spent the answer
    // is 402 `plan_limit_reached`, naming the plan, the usage and the reset date. unleash-proxy-client treats
    // a non-OK answer as a failed fetch: it keeps the toggles it already has (memory, storage, bootstrap) and
    // keeps polling, so a page already loaded keeps its flags, a new one falls back to the defaults in code,
    // and everything resumes without a client change once the plan is upgraded or the month turns.
    app.billing.consumeMonthly(principal.account, 'evaluationsPerMonth');
    const snapshot = snapshots.get(principal.accountId, principal.environment);
    if (!snapshot) return '{"toggles":[]}';
    const engine = snapshot.engine;
    const toggles: string[] = [];
    for (const name of engine.names) {
      const evaluation = engine.evaluate(name, context);
      if (!evaluation?.enabled) continue;
      // A flag on without a variant always serialises the same: that string is built once per snapshot.
      const constant = evaluation.variant.enabled ? undefined : snapshot.enabledToggleJson.get(name);
      toggles.push(
        constant ??
          JSON.stringify({
            name,
            enabled: true,
            variant: evaluation.variant,
            impressionData: evaluation.impressionData,
          }),
      );
    }
    return `{"toggles":[${toggles.join(',')}]}`;
  };

  app.get(
    '/api/frontend',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['frontend'],
        summary: 'Flags enabled for a context given in the query (userId, sessionId, properties[name]=…)',
        security: sdkSecurity,
        querystring: z.record(z.string(), z.union([z.string(), z.array(z.string())])),
        response: { 200: togglesResponse },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['frontend']);
      const body = evaluateAll(principal, buildContext(request.query, request.ip));
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  app.post(
    '/api/frontend',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['frontend'],
        summary: 'Flags enabled for the context in the body: {"context": {...}}',
        security: sdkSecurity,
        body: z.object({ context: z.record(z.string(), z.unknown()).default({}) }),
        response: { 200: togglesResponse },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['frontend']);
      const body = evaluateAll(principal, buildContext(request.body.context, request.ip));
      return reply.type('application/json; charset=utf-8').send(body as never);
    },
  );

  // Unleash's frontend SDK (unleash-proxy-client) posts its counts to `<url>/client/metrics` with the client
  // API's bucket shape ({appName, instanceId, bucket: {start, stop, toggles: {name: {yes, no, variants}}}}):
  // stored like backend metrics, per flag, environment and app, and read through GET /api/admin/metrics.
  // They are not billed: FlagBit meters the evaluations it serves itself (evaluationsPerMonth).
  app.post(
    '/api/frontend/client/metrics',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['frontend'],
        summary: 'A frontend SDK reports how often each flag was evaluated, and to what',
        security: sdkSecurity,
        body: metricsBody,
        response: { 200: z.null() },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['frontend']);
      recordMetrics(app, principal, request.body);
      return reply.code(200).send(null);
    },
  );

  // The frontend SDK announces itself here; accepted so it does not log errors (instances are not listed).
  app.post(
    '/api/frontend/client/register',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['frontend'],
        summary: 'Accepted for frontend SDKs',
        security: sdkSecurity,
        body: z.unknown(),
        response: { 200: z.null() },
      },
    },
    async (request, reply) => {
      await app.flagbit.authenticateSdk(request, ['frontend']);
      return reply.code(200).send(null);
    },
  );
}
