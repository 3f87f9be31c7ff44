import { AppError, type ServiceInstance, type ZodTypeProvider } from '@studio/service-kit';
import { z } from 'zod';
import { planNameSchema } from '../plans';
import type { BillingPluginOptions } from '../plugin';
import { rateLimitedResponse } from '../rate-limit';
import { DuplicateEmailError } from '../repository';

export const emailSchema = z.email({ message: 'must be a valid email address' }).max(254);

const keySummarySchema = z.object({
  id: z.string(),
  displayPrefix: z.string(),
  readOnly: z.boolean(),
  createdAt: z.string(),
  lastUsedAt: z.string().nullable(),
  revokedAt: z.string().nullable(),
});

export const accountResponseSchema = z.looseObject({
  accountId: z.string(),
  email: z.string(),
  plan: planNameSchema,
  status: z.enum(['active', 'suspended']),
  limits: z.record(z.string(), z.number()),
  usage: z.record(z.string(), z.number()),
  usagePeriod: z.string(),
  webhookSecret: z.string(),
});

const newKeySchema = z.object({ id: z.string(), apiKey: z.string(), readOnly: z.boolean() });

/** Self-serve routes every product shares: signup, the account, its keys and its webhook secret. */
export function registerAccountRoutes(app: ServiceInstance, options: BillingPluginOptions) {
  const { billing } = app;

  app.post(
    '/v1/signup',
    {
      schema: {
        tags: ['account'],
        summary: 'Create a free account and its first API key (shown once)',
        body: z.object({ email: emailSchema }),
        response: {
          201: z.object({ accountId: z.string(), apiKey: z.string(), plan: z.literal('free') }),
        },
      },
      config: {
        rateLimit: {
          max: options.signupsPerHour ?? 10,
          timeWindow: '1 hour',
          keyGenerator: (request) => request.ip,
          errorResponseBuilder: rateLimitedResponse('hour'),
        },
      },
    },
    async (request, reply) => {
      try {
        const { account, apiKey } = billing.repository.createAccount(request.body.email, 'free');
        return reply.code(201).send({ accountId: account.id, apiKey, plan: 'free' as const });
      } catch (error) {
        if (error instanceof DuplicateEmailError) {
          throw new AppError('conflict', 'An account with this email already exists');
        }
        throw error;
      }
    },
  );

  app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    scope.addHook('onRequest', scope.requireAccount);

    scope.get(
      '/v1/account',
      {
        schema: {
          tags: ['account'],
          summary: 'The account behind this API key: plan, limits, usage and webhook signing secret',
          security: [{ bearerAuth: [] }],
          response: { 200: accountResponseSchema },
        },
      },
      async (request) => {
        const account = request.principal!.account;
        // Product fields first, so no product can shadow the shared contract's fields.
        return {
          ...options.accountExtras?.(account),
          accountId: account.id,
          email: account.email,
          plan: account.plan,
          status: account.status,
          limits: billing.limitsFor(account),
          usage: billing.usageOf(account.id),
          usagePeriod: new Date().toISOString().slice(0, 7),
          webhookSecret: account.webhookSecret,
        };
      },
    );

    scope.post(
      '/v1/account/webhook-secret',
      {
        schema: {
          tags: ['account'],
          summary: 'Rotate the secret that signs every webhook sent to this account',
          security: [{ bearerAuth: [] }],
          response: { 200: z.object({ webhookSecret: z.string() }) },
        },
      },
      async (request) => {
        const secret = billing.repository.rotateWebhookSecret(request.principal!.account.id);
        if (!secret) throw new AppError('not_found', 'Account not found');
        return { webhookSecret: secret };
      },
    );

    scope.get(
      '/v1/account/keys',
      {
        schema: {
          tags: ['account'],
          summary: 'List API keys (prefixes only: keys are stored hashed)',
          security: [{ bearerAuth: [] }],
          response: { 200: z.object({ items: z.array(keySummarySchema) }) },
        },
      },
      async (request) => ({ items: billing.repository.listKeys(request.principal!.account.id) }),
    );

    scope.post(
      '/v1/account/keys',
      {
        schema: {
          tags: ['account'],
          summary: 'Create an API key (shown once)',
          security: [{ bearerAuth: [] }],
          // Fastify hands a POST without a body to the validator as null, which `.default()` does not cover.
          body: z.object({ readOnly: z.boolean().default(false) }).nullish(),
          response: { 201: newKeySchema },
        },
      },
      async (request, reply) => {
        const key = billing.repository.createKey(
          request.principal!.account.id,
          request.body?.readOnly ?? false,
        );
        return reply.code(201).send({ id: key.id, apiKey: key.apiKey, readOnly: key.readOnly });
      },
    );

    scope.delete(
      '/v1/account/keys/:keyId',
      {
        schema: {
          tags: ['account'],
          summary: 'Revoke an API key',
          security: [{ bearerAuth: [] }],
          params: z.object({ keyId: z.string().min(1) }),
          response: { 204: z.null() },
        },
      },
      async (request, reply) => {
        if (!billing.repository.revokeKey(request.principal!.account.id, request.params.keyId)) {
          throw new AppError('not_found', 'API key not found');
        }
        return reply.code(204).send(null);
      },
    );
  });
}
