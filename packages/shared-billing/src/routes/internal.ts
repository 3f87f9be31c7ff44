import { AppError, type ServiceInstance, type ZodTypeProvider } from '@studio/service-kit';
import { z } from 'zod';
import { secretsEqual } from '../api-keys';
import { planNameSchema } from '../plans';
import { type BillingPluginOptions, bearerToken } from '../plugin';
import { DuplicateEmailError } from '../repository';
import { emailSchema } from './account';

const accountIdParams = z.object({ accountId: z.string().min(1) });
const internalAccountSchema = z.object({
  accountId: z.string(),
  email: z.string(),
  plan: planNameSchema,
  status: z.enum(['active', 'suspended']),
  usage: z.record(z.string(), z.number()),
});

/**
 * The provisioning contract the ops-agent calls, identical in every product. Bearer INTERNAL_TOKEN only;
 * Caddy never routes /internal.
 */
export function registerInternalRoutes(app: ServiceInstance, options: BillingPluginOptions) {
  const { billing } = app;
  const describe = (accountId: string) => {
    const account = billing.repository.findAccount(accountId);
    if (!account) throw new AppError('not_found', `Account ${accountId} not found`);
    return {
      accountId: account.id,
      email: account.email,
      plan: account.plan,
      status: account.status,
      usage: billing.usageOf(account.id),
    };
  };

  app.register(async (plain) => {
    const scope = plain.withTypeProvider<ZodTypeProvider>();
    scope.addHook('onRequest', async (request) => {
      // Caddy answers /internal itself; a request that still arrives through a proxy (it carries
      // forwarding headers) means the proxy config regressed, so it is treated as if the route did not exist.
      if (request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined) {
        throw new AppError('not_found', `Route ${request.method} ${request.url.split('?')[0]} not found`);
      }
      const presented = bearerToken(request);
      if (!presented || !secretsEqual(presented, options.internalToken)) {
        throw new AppError('unauthorized', 'Missing or invalid internal token');
      }
    });
    const internal = { tags: ['internal'] };
    const noLimit = { rateLimit: false } as const;

    scope.post(
      '/internal/accounts',
      {
        schema: {
          ...internal,
          body: z.object({ email: emailSchema, plan: planNameSchema }),
          response: { 201: z.object({ accountId: z.string(), apiKey: z.string(), plan: planNameSchema }) },
        },
        config: noLimit,
      },
      async (request, reply) => {
        try {
          const { account, apiKey } = billing.repository.createAccount(request.body.email, request.body.plan);
          return reply.code(201).send({ accountId: account.id, apiKey, plan: account.plan });
        } catch (error) {
          if (error instanceof DuplicateEmailError) {
            throw new AppError('conflict', `An account with this email already exists: ${error.accountId}`);
          }
          throw error;
        }
      },
    );

    scope.get(
      '/internal/accounts',
      {
        schema: {
          ...internal,
          querystring: z.object({ email: emailSchema }),
          response: { 200: z.object({ items: z.array(internalAccountSchema) }) },
        },
        config: noLimit,
      },
      async (request) => {
        const account = billing.repository.findAccountByEmail(request.query.email);
        return { items: account ? [describe(account.id)] : [] };
      },
    );

    scope.get(
      '/internal/accounts/:accountId',
      {
        schema: { ...internal, params: accountIdParams, response: { 200: internalAccountSchema } },
        config: noLimit,
      },
      async (request) => describe(request.params.accountId),
    );

    scope.put(
      '/internal/accounts/:accountId/plan',
      {
        schema: {
          ...internal,
          params: accountIdParams,
          body: z.object({ plan: planNameSchema }),
          response: { 200: internalAccountSchema },
        },
        config: noLimit,
      },
      async (request) => {
        if (!billing.repository.setPlan(request.params.accountId, request.body.plan)) {
          throw new AppError('not_found', `Account ${request.params.accountId} not found`);
        }
        return describe(request.params.accountId);
      },
    );

    for (const [action, status] of [
      ['suspend', 'suspended'],
      ['resume', 'active'],
    ] as const) {
      scope.post(
        `/internal/accounts/:accountId/${action}`,
        {
          schema: { ...internal, params: accountIdParams, response: { 200: internalAccountSchema } },
          config: noLimit,
        },
        async (request) => {
          if (!billing.repository.setStatus(request.params.accountId, status)) {
            throw new AppError('not_found', `Account ${request.params.accountId} not found`);
          }
          return describe(request.params.accountId);
        },
      );
    }

    scope.post(
      '/internal/accounts/:accountId/keys',
      {
        schema: {
          ...internal,
          params: accountIdParams,
          // Nullish: Fastify passes a POST without a body to the validator as null, not undefined.
          body: z.object({ readOnly: z.boolean().optional() }).nullish(),
          response: { 201: z.object({ id: z.string(), apiKey: z.string(), readOnly: z.boolean() }) },
        },
        config: noLimit,
      },
      async (request, reply) => {
        if (!billing.repository.findAccount(request.params.accountId)) {
          throw new AppError('not_found', `Account ${request.params.accountId} not found`);
        }
        const key = billing.repository.createKey(request.params.accountId, request.body?.readOnly ?? false);
        return reply.code(201).send({ id: key.id, apiKey: key.apiKey, readOnly: key.readOnly });
      },
    );
  });
}
