import { AppError, notFound, type ServiceInstance } from '@studio/service-kit';
import { accountOf, randomId, randomToken } from '@studio/shared-billing';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { Config } from '../config';
import type { EndpointRow } from '../repository';
import { customResponseSchema, endpointSchema, errorResponses, idParams, verifyInputSchema } from './schemas';

export function publicBaseUrl(request: FastifyRequest, configured: string | undefined): string {
  return configured ?? `${request.protocol}://${request.host}`;
}

/**
 * The base of the capture URLs handed out (`url`, and the cURL and HAR exports): WEBHOOKVAULT_PUBLIC_URL when
 * set (the studio's Caddy), else WEBHOOKVAULT_CAPTURE_URL (the capture listener), else the request's own host.
 */
export function captureBaseUrl(request: FastifyRequest, config: Config): string {
  return publicBaseUrl(request, config.WEBHOOKVAULT_PUBLIC_URL ?? config.WEBHOOKVAULT_CAPTURE_URL);
}

export async function endpointRoutes(app: ServiceInstance) {
  const { repository, vault, clock, config } = app.webhookvault;
  const auth = { onRequest: app.requireAccount, schema: { security: [{ bearerAuth: [] }] } };

  const view = (endpoint: EndpointRow, request: FastifyRequest): z.infer<typeof endpointSchema> => ({
    id: endpoint.id,
    name: endpoint.name,
    token: endpoint.token,
    url: `${captureBaseUrl(request, config)}/h/${endpoint.token}`,
    // The capture listener's URL, where header order and case are the sender's (no proxy in between).
    ...(config.WEBHOOKVAULT_CAPTURE_URL
      ? { directUrl: `${config.WEBHOOKVAULT_CAPTURE_URL}/h/${endpoint.token}` }
      : {}),
    response: endpoint.response,
    verify: endpoint.verify ? { scheme: endpoint.verify.scheme } : null,
    createdAt: endpoint.createdAt,
    updatedAt: endpoint.updatedAt,
  });

  const sealVerify = (endpointId: string, verify: z.infer<typeof verifyInputSchema> | null | undefined) =>
    verify ? { scheme: verify.scheme, secret: vault.sealText(verify.secret, endpointId) } : null;

  app.post(
    '/v1/endpoints',
    {
      onRequest: auth.onRequest,
      schema: {
        ...auth.schema,
        tags: ['endpoints'],
        summary: 'Create an endpoint: a capture URL with an optional custom response and signature check',
        body: z.object({
          name: z.string().trim().min(1).max(200),
          response: customResponseSchema.optional(),
          verify: verifyInputSchema.optional(),
        }),
        response: { 201: endpointSchema, ...errorResponses },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      app.billing.assertBelowLimit(account, 'endpoints', repository.countEndpoints(account.id));
      const id = randomId('ep');
      const now = new Date(clock.now()).toISOString();
      repository.createEndpoint({
        id,
        accountId: account.id,
        name: request.body.name,
        // 32 random base62 characters (~190 bits): the token is the only credential of a capture URL.
        token: randomToken(32),
        response: request.body.response ?? null,
        verify: sealVerify(id, request.body.verify),
        now,
      });
      const endpoint = repository.findEndpoint(account.id, id)!;
      return reply.code(201).send(view(endpoint, request));
    },
  );

  app.get(
    '/v1/endpoints',
    {
      onRequest: auth.onRequest,
      schema: {
        ...auth.schema,
        tags: ['endpoints'],
        summary: "List the account's endpoints",
        response: { 200: z.object({ items: z.array(endpointSchema) }), ...errorResponses },
      },
    },
    async (request) => ({
      items: repository.listEndpoints(accountOf(request).id).map((endpoint) => view(endpoint, request)),
    }),
  );

  app.get(
    '/v1/endpoints/:id',
    {
      onRequest: auth.onRequest,
      schema: {
        ...auth.schema,
        tags: ['endpoints'],
        params: idParams,
        response: { 200: endpointSchema, ...errorResponses },
      },
    },
    async (request) => {
      const endpoint = repository.findEndpoint(accountOf(request).id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      return view(endpoint, request);
    },
  );

  app.patch(
    '/v1/endpoints/:id',
    {
      onRequest: auth.onRequest,
      schema: {
        ...auth.schema,
        tags: ['endpoints'],
        summary:
          'Change the name, custom response (null for the default 200) or signature check (null for none)',
        params: idParams,
        body: z.object({
          name: z.string().trim().min(1).max(200).optional(),
          response: customResponseSchema.nullable().optional(),
          verify: verifyInputSchema.nullable().optional(),
        }),
        response: { 200: endpointSchema, ...errorResponses },
      },
    },
    async (request) => {
      const account = accountOf(request);
      const endpoint = repository.findEndpoint(account.id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      const { name, response, verify } = request.body;
      if (name === undefined && response === undefined && verify === undefined) {
        throw new AppError('bad_request', 'Nothing to change: send name, response or verify');
      }
      const updated: EndpointRow = {
        ...endpoint,
        ...(name !== undefined ? { name } : {}),
        ...(response !== undefined ? { response } : {}),
        ...(verify !== undefined ? { verify: sealVerify(endpoint.id, verify) } : {}),
      };
      repository.updateEndpoint(updated, new Date(clock.now()).toISOString());
      return view(repository.findEndpoint(account.id, endpoint.id)!, request);
    },
  );

  app.delete(
    '/v1/endpoints/:id',
    {
      onRequest: auth.onRequest,
      schema: {
        ...auth.schema,
        tags: ['endpoints'],
        summary: 'Delete an endpoint with its captures, forwarding rules and deliveries',
        params: idParams,
        response: { 204: z.null(), ...errorResponses },
      },
    },
    async (request, reply) => {
      if (!repository.deleteEndpoint(accountOf(request).id, request.params.id)) throw notFound('Endpoint');
      return reply.code(204).send(null);
    },
  );
}
