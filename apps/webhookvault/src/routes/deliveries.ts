import { AppError, notFound, type ServiceInstance } from '@studio/service-kit';
import { checkOutboundUrl, OutboundBlockedError } from '@studio/service-kit/outbound';
import { accountOf, randomId } from '@studio/shared-billing';
import { z } from 'zod';
import { captureFilterSchema, scanCaptures } from '../capture/filter';
import { FORWARD_MAX_ATTEMPTS } from '../capture/store';

const MAX_BULK_REPLAY = 1000;
const MAX_BULK_SCAN = 20_000;

import type { DeliveryRow, ForwardingRule } from '../repository';
import { deliverySchema, errorResponses, idParams, ruleSchema } from './schemas';

const targetUrlSchema = z
  .string()
  .max(2048)
  .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
    message: 'must be an absolute http(s) URL',
  });

export async function deliveryRoutes(app: ServiceInstance) {
  const { repository, deliveries, clock, allowlist, lookup, store } = app.webhookvault;
  const onRequest = app.requireAccount;
  const security = [{ bearerAuth: [] }];

  const iso = (ms: number) => new Date(ms).toISOString();
  const deliveryView = (delivery: DeliveryRow): z.infer<typeof deliverySchema> => ({
    id: delivery.id,
    endpointId: delivery.endpointId,
    captureId: delivery.captureId,
    ruleId: delivery.ruleId,
    kind: delivery.kind,
    targetUrl: delivery.targetUrl,
    preservePath: delivery.preservePath,
    status: delivery.status,
    attempts: repository.attemptsOf(delivery.id).map((attempt) => ({
      attempt: attempt.attempt,
      startedAt: iso(attempt.startedMs),
      durationMs: attempt.durationMs,
      statusCode: attempt.statusCode,
      error: attempt.error,
    })),
    maxAttempts: delivery.maxAttempts,
    nextAttemptAt:
      delivery.status === 'pending' && delivery.nextAttemptMs !== null ? iso(delivery.nextAttemptMs) : null,
    lastStatusCode: delivery.lastStatusCode,
    lastError: delivery.lastError,
    createdAt: iso(delivery.createdMs),
    updatedAt: iso(delivery.updatedMs),
  });
  const ruleView = (rule: ForwardingRule): z.infer<typeof ruleSchema> => ({
    id: rule.id,
    endpointId: rule.endpointId,
    targetUrl: rule.targetUrl,
    preservePath: rule.preservePath,
    enabled: rule.enabled,
    disabledReason: rule.disabledReason,
    createdAt: rule.createdAt,
  });

  /**
   * Refuses a target the SSRF guard would refuse, at configuration time, so the caller hears it now. Advisory
   * only: DNS can change, so every attempt is checked again on the address it connects to.
   */
  const assertTargetAllowed = async (targetUrl: string) => {
    try {
      await checkOutboundUrl(targetUrl, allowlist, lookup ? { lookup } : {});
    } catch (error) {
      if (error instanceof OutboundBlockedError) throw new AppError('bad_request', error.message);
      throw new AppError('bad_request', `targetUrl does not resolve: ${(error as Error).message}`);
    }
  };

  app.post(
    '/v1/captures/:id/replay',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        summary: 'Send one capture again, byte for byte, to a target URL; answers with the delivery record',
        params: idParams,
        body: z.object({ targetUrl: targetUrlSchema, preservePath: z.boolean().default(false) }),
        response: { 201: deliverySchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const capture = repository.findCapture(account.id, request.params.id);
      if (capture === null) throw notFound('Capture');
      await assertTargetAllowed(request.body.targetUrl);
      const nowMs = clock.now();
      const id = randomId('dlv');
      repository.insertDeliveries([
        {
          id,
          accountId: account.id,
          endpointId: capture.endpointId,
          captureId: capture.id,
          ruleId: null,
          kind: 'replay',
          targetUrl: request.body.targetUrl,
          preservePath: request.body.preservePath,
          // A replay is one attempt made while the caller waits; POST /v1/deliveries/:id/retry sends it again.
          maxAttempts: 1,
          nextAttemptMs: nowMs,
          nowMs,
        },
      ]);
      await deliveries.deliverNow(id);
      return reply.code(201).send(deliveryView(repository.findDelivery(account.id, id)!));
    },
  );

  app.post(
    '/v1/endpoints/:id/replay',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        summary: 'Replay a filtered set of captures (newest first, at most `limit`) through the outbox',
        description:
          'Filters as on the capture list. Each matching capture becomes a replay delivery (one attempt, retried on request), sent in the background; follow them in GET /v1/endpoints/:id/deliveries.',
        params: idParams,
        body: z.object({
          targetUrl: targetUrlSchema,
          preservePath: z.boolean().default(false),
          filter: captureFilterSchema.default({}),
          limit: z.number().int().min(1).max(MAX_BULK_REPLAY).default(100),
        }),
        response: {
          202: z.object({ count: z.number(), deliveryIds: z.array(z.string()) }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const endpoint = repository.findEndpoint(account.id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      await assertTargetAllowed(request.body.targetUrl);
      const { rows } = scanCaptures(repository, (row) => store.open(row), {
        endpointId: endpoint.id,
        beforeSeq: Number.MAX_SAFE_INTEGER,
        filter: request.body.filter,
        limit: request.body.limit,
        maxScanned: MAX_BULK_SCAN,
      });
      const nowMs = clock.now();
      const created = rows.map((row) => ({
        id: randomId('dlv'),
        accountId: account.id,
        endpointId: endpoint.id,
        captureId: row.id,
        ruleId: null,
        kind: 'replay' as const,
        targetUrl: request.body.targetUrl,
        preservePath: request.body.preservePath,
        maxAttempts: 1,
        nextAttemptMs: nowMs,
        nowMs,
      }));
      repository.insertDeliveries(created);
      deliveries.kick();
      return reply
        .code(202)
        .send({ count: created.length, deliveryIds: created.map((delivery) => delivery.id) });
    },
  );

  app.post(
    '/v1/endpoints/:id/forwarding',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        summary: 'Forward every new capture of the endpoint to a target URL (at least once, with retries)',
        params: idParams,
        body: z.object({ targetUrl: targetUrlSchema, preservePath: z.boolean().default(false) }),
        response: { 201: ruleSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const endpoint = repository.findEndpoint(account.id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      app.billing.assertBelowLimit(
        account,
        'forwardingRulesPerEndpoint',
        repository.listRules(endpoint.id).length,
      );
      await assertTargetAllowed(request.body.targetUrl);
      const id = randomId('fwd');
      repository.createRule({
        id,
        endpointId: endpoint.id,
        accountId: account.id,
        targetUrl: request.body.targetUrl,
        preservePath: request.body.preservePath,
        now: new Date(clock.now()).toISOString(),
      });
      return reply.code(201).send(ruleView(repository.findRule(account.id, id)!));
    },
  );

  app.get(
    '/v1/endpoints/:id/forwarding',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        params: idParams,
        response: { 200: z.object({ items: z.array(ruleSchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const endpoint = repository.findEndpoint(accountOf(request).id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      return { items: repository.listRules(endpoint.id).map(ruleView) };
    },
  );

  app.delete(
    '/v1/forwarding/:id',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        params: idParams,
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!repository.deleteRule(accountOf(request).id, request.params.id)) throw notFound('Forwarding rule');
      return reply.code(204).send(null);
    },
  );

  app.get(
    '/v1/endpoints/:id/deliveries',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        summary:
          'Deliveries of the endpoint, newest first, each with every attempt; status=dead lists dead letters',
        params: idParams,
        querystring: z.object({
          status: z.enum(['pending', 'succeeded', 'failed', 'dead']).optional(),
          limit: z.coerce.number().int().min(1).max(100).default(50),
        }),
        response: { 200: z.object({ items: z.array(deliverySchema) }), ...errorResponses },
      },
    },
    async (request) => {
      const endpoint = repository.findEndpoint(accountOf(request).id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      return {
        items: repository
          .listDeliveries(endpoint.id, request.query.status ?? null, request.query.limit)
          .map(deliveryView),
      };
    },
  );

  app.get(
    '/v1/deliveries/:id',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        params: idParams,
        response: { 200: deliverySchema, ...errorResponses },
      },
    },
    async (request) => {
      const delivery = repository.findDelivery(accountOf(request).id, request.params.id);
      if (delivery === null) throw notFound('Delivery');
      return deliveryView(delivery);
    },
  );

  app.post(
    '/v1/deliveries/:id/retry',
    {
      onRequest,
      schema: {
        security,
        tags: ['deliveries'],
        summary:
          'Put a dead or failed delivery back in the outbox for a fresh round of attempts, starting now',
        params: idParams,
        response: { 202: deliverySchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const delivery = repository.findDelivery(account.id, request.params.id);
      if (delivery === null) throw notFound('Delivery');
      const extra = delivery.kind === 'replay' ? 1 : FORWARD_MAX_ATTEMPTS;
      if (!repository.requeueDelivery(account.id, delivery.id, extra, clock.now())) {
        throw new AppError(
          'conflict',
          `Delivery is ${delivery.status}; only dead or failed deliveries can be retried`,
        );
      }
      deliveries.kick();
      return reply.code(202).send(deliveryView(repository.findDelivery(account.id, delivery.id)!));
    },
  );
}
