import { AppError, notFound, type ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { z } from 'zod';
import type { StreamGrant } from '../stream-token';
import { publicBaseUrl } from './endpoints';
import { errorResponses, idParams } from './schemas';

const HEARTBEAT_MS = 15_000;
const BATCH = 100;

/**
 * Live captures as server-sent events. Each event's id is the capture's sequence number, so a client that
 * reconnects with `Last-Event-ID` (EventSource does this by itself) first receives everything it missed, read
 * from the database, then live events. The database is the only source: a notification only says "endpoint X
 * has new captures", and the stream reads past its last sent id, so nothing is skipped or sent twice.
 */
export async function streamRoutes(app: ServiceInstance) {
  const { repository, store, streamTokens, config } = app.webhookvault;
  // The grant a `?token=` carried, per request (an API key's principal lives on request.principal instead).
  const grants = new WeakMap<FastifyRequest, StreamGrant>();

  // A read-only key may watch a stream, so it may ask for a token to watch it from a browser: the POST creates
  // nothing that is stored.
  const readerAuth = app.billing.authenticate({ allowReadOnlyWrites: true });
  app.post(
    '/v1/endpoints/:id/stream-token',
    {
      onRequest: readerAuth,
      schema: {
        security: [{ bearerAuth: [] }],
        tags: ['captures'],
        summary: "A token that opens this endpoint's SSE stream for 5 minutes, for EventSource (?token=)",
        params: idParams,
        response: {
          201: z.object({ token: z.string(), expiresAt: z.string(), streamUrl: z.string() }),
          ...errorResponses,
        },
      },
    },
    async (request, reply) => {
      const account = accountOf(request);
      const endpoint = repository.findEndpoint(account.id, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      const { token, expiresMs } = streamTokens.issue(account.id, endpoint.id);
      const base = publicBaseUrl(request, config.WEBHOOKVAULT_PUBLIC_URL);
      return reply.code(201).send({
        token,
        expiresAt: new Date(expiresMs).toISOString(),
        streamUrl: `${base}/v1/endpoints/${endpoint.id}/stream?token=${encodeURIComponent(token)}`,
      });
    },
  );

  // `?token=` (EventSource) or `Authorization: Bearer <api key>`; a token that fails is refused outright rather
  // than falling back to the header, so a client learns its token is bad.
  const streamAuth = async (request: FastifyRequest, reply: FastifyReply) => {
    const token = (request.query as { token?: unknown }).token;
    if (token === undefined) return app.requireAccount(request, reply);
    if (typeof token !== 'string') throw new AppError('unauthorized', 'Invalid stream token');
    const checked = streamTokens.check(token);
    if (!checked.ok) {
      throw new AppError(
        'unauthorized',
        checked.reason === 'expired'
          ? 'The stream token has expired; ask POST /v1/endpoints/:id/stream-token for a new one'
          : 'Invalid stream token',
      );
    }
    const account = app.billing.repository.findAccount(checked.grant.accountId);
    if (account === null) throw new AppError('unauthorized', 'Invalid stream token');
    if (account.status === 'suspended') {
      throw new AppError('account_suspended', 'This account is suspended; contact support to resume it');
    }
    grants.set(request, checked.grant);
  };
  // Open streams never go idle, so the server could not finish closing while one is connected: end them first.
  const open = new Set<{ end(): void }>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end();
  });

  app.get(
    '/v1/endpoints/:id/stream',
    {
      onRequest: streamAuth,
      schema: {
        security: [{ bearerAuth: [] }],
        tags: ['captures'],
        summary: 'Server-sent events: one `capture` event per new capture; resume with Last-Event-ID',
        params: idParams,
        headers: z.looseObject({
          'last-event-id': z
            .string()
            .regex(/^\d{1,15}$/)
            .optional(),
        }),
        querystring: z.object({
          token: z.string().max(512).optional(),
          lastEventId: z
            .string()
            .regex(/^\d{1,15}$/)
            .optional(),
        }),
        response: { 200: z.string(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const grant = grants.get(request);
      // A token opens only the endpoint it was issued for: any other id is answered as if it did not exist,
      // like another account's endpoint under an API key.
      if (grant !== undefined && grant.endpointId !== request.params.id) throw notFound('Endpoint');
      const accountId = grant?.accountId ?? accountOf(request).id;
      const endpoint = repository.findEndpoint(accountId, request.params.id);
      if (endpoint === null) throw notFound('Endpoint');
      let lastSeq = Number(request.headers['last-event-id'] ?? request.query.lastEventId ?? 0);
      if (
        lastSeq === 0 &&
        request.headers['last-event-id'] === undefined &&
        request.query.lastEventId === undefined
      ) {
        // A fresh subscriber starts from now, not from the whole history.
        lastSeq =
          repository.capturesPage({
            endpointId: endpoint.id,
            beforeSeq: Number.MAX_SAFE_INTEGER,
            limit: 1,
            method: null,
            sinceMs: null,
            untilMs: null,
          })[0]?.seq ?? 0;
      }

      reply.hijack();
      const raw = reply.raw;
      raw.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-store',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      raw.write('retry: 2000\n\n');

      let sending = false;
      let again = false;
      const sendNew = () => {
        if (sending) {
          again = true;
          return;
        }
        sending = true;
        try {
          do {
            again = false;
            for (;;) {
              const rows = repository.capturesAfter(endpoint.id, lastSeq, BATCH);
              for (const row of rows) {
                raw.write(`id: ${row.seq}\nevent: capture\ndata: ${JSON.stringify(store.view(row))}\n\n`);
                lastSeq = row.seq;
              }
              if (rows.length < BATCH) break;
            }
          } while (again);
        } catch (error) {
          request.log.error({ err: error }, 'SSE stream failed');
          raw.destroy();
        } finally {
          sending = false;
        }
      };
      const onCommitted = (endpointId: string) => {
        if (endpointId === endpoint.id) sendNew();
      };
      store.committed.on('endpoint', onCommitted);
      const heartbeat = setInterval(() => raw.write(': keep-alive\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      open.add(raw);
      raw.on('close', () => {
        clearInterval(heartbeat);
        store.committed.off('endpoint', onCommitted);
        open.delete(raw);
      });
      sendNew();
    },
  );
}
