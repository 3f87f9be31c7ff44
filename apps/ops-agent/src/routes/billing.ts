import { AppError, type ServiceInstance } from '@studio/service-kit';
import { planNameSchema } from '@studio/shared-billing';
import { StripeSignatureError, studioProducts, verifyStripeWebhook } from '@studio/shared-billing/stripe';
import { z } from 'zod';
import type { Billing } from '../billing/billing';
import { configuredProducts } from '../config';
import { requestJson } from '../outbound';
import { adminSecurity, errors } from './schemas';

export function registerBillingRoutes(app: ServiceInstance, billing: Billing) {
  const { ops } = app;

  // Stripe signs the exact bytes it sent, so this route keeps its body as a Buffer: a re-serialised JSON
  // body never verifies. The parser is scoped to this plugin, so other routes still get parsed JSON.
  app.register(async (scope) => {
    scope.removeContentTypeParser('application/json');
    scope.addContentTypeParser('application/json', { parseAs: 'buffer' }, (_request, body, done) =>
      done(null, body),
    );
    scope.post(
      '/stripe/webhook',
      {
        schema: {
          tags: ['billing'],
          summary: 'Stripe webhook endpoint (verified with the Stripe-Signature header over the raw body)',
          response: {
            200: z.object({ received: z.literal(true), duplicate: z.boolean() }),
            ...errors(400, 503),
          },
        },
      },
      async (request) => {
        if (!billing.configured) throw new AppError('service_unavailable', 'Stripe is not configured');
        if (!Buffer.isBuffer(request.body))
          throw new AppError('unsupported_media_type', 'Expected application/json');
        let event: ReturnType<typeof verifyStripeWebhook>;
        try {
          event = verifyStripeWebhook({
            rawBody: request.body,
            signatureHeader: request.headers['stripe-signature'],
            secret: billing.webhookSecret(),
            now: ops.clock.now(),
          });
        } catch (error) {
          if (error instanceof StripeSignatureError) {
            request.log.warn('stripe webhook refused: bad signature');
            throw new AppError('bad_request', 'Invalid Stripe signature');
          }
          throw error;
        }
        const result = billing.handleEvent(event);
        request.log.info(
          { stripeEvent: event.id, type: event.type, duplicate: result.duplicate },
          result.summary,
        );
        // Plan changes go out now when the product is up; the outbox retries later otherwise.
        if (result.queuedChange)
          void ops.runOutbox().catch((error) => request.log.error({ err: error }, 'outbox run failed'));
        return { received: true as const, duplicate: result.duplicate };
      },
    );
  });

  app.post(
    '/billing/checkout',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['billing'],
        summary: 'Create a Stripe Checkout session for a product account and plan',
        security: adminSecurity,
        body: z.object({
          product: z.enum(studioProducts),
          plan: planNameSchema.exclude(['free']),
          accountId: z.string().min(1).max(100),
          successUrl: z.url(),
          cancelUrl: z.url(),
        }),
        response: {
          201: z.object({ id: z.string(), url: z.string().nullable() }),
          ...errors(400, 401, 404, 502, 503),
        },
      },
    },
    async (request, reply) => {
      const { product, accountId } = request.body;
      const target = configuredProducts(ops.config).find((p) => p.name === product);
      if (!target)
        throw new AppError('bad_request', `${product} is not configured (set ${product.toUpperCase()}_URL)`);
      // The account is the client_reference_id every later event carries: check it exists before charging.
      const found = await requestJson(
        ops.outbound,
        `${target.url}/internal/accounts/${encodeURIComponent(accountId)}`,
        {
          headers: { authorization: `Bearer ${ops.config.INTERNAL_TOKEN}` },
        },
      ).catch(() => undefined);
      if (!found) throw new AppError('bad_gateway', `${product} did not answer`);
      if (found.status === 404)
        throw new AppError('not_found', `Account ${accountId} not found in ${product}`);
      if (found.status !== 200) throw new AppError('bad_gateway', `${product} answered ${found.status}`);
      return reply.code(201).send(await billing.createCheckout(request.body));
    },
  );

  app.get(
    '/billing/events',
    {
      onRequest: app.requireAdmin,
      schema: {
        tags: ['billing'],
        security: adminSecurity,
        response: {
          200: z.object({
            items: z.array(
              z.object({
                id: z.string(),
                type: z.string(),
                created: z.number(),
                receivedAt: z.string(),
                summary: z.string(),
              }),
            ),
            entitlements: z.array(
              z.object({
                product: z.string(),
                accountId: z.string(),
                plan: z.string(),
                status: z.enum(['active', 'suspended']),
              }),
            ),
            outbox: z.array(
              z.object({
                id: z.string(),
                kind: z.string(),
                attempts: z.number(),
                nextAttemptAt: z.string(),
                lastError: z.string().nullable(),
              }),
            ),
          }),
          ...errors(401),
        },
      },
    },
    async () => ({
      items: ops.repo.recentStripeEvents(100),
      entitlements: ops.repo.allEntitlements(),
      outbox: ops.repo.pendingOutbox(),
    }),
  );
}
