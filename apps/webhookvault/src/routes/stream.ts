import { notFound, type ServiceInstance } from '@studio/service-kit';
import { accountOf } from '@studio/shared-billing';
import { z } from 'zod';
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
  const { repository, store } = app.webhookvault;
  // Open streams never go idle, so the server could not finish closing while one is connected: end them first.
  const open = new Set<{ end(): void }>();
  app.addHook('preClose', async () => {
    for (const stream of open) stream.end();
  });

  app.get(
    '/v1/endpoints/:id/stream',
    {
      onRequest: app.requireAccount,
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
          lastEventId: z
            .string()
            .regex(/^\d{1,15}$/)
            .optional(),
        }),
        response: { 200: z.string(), ...errorResponses },
      },
    },
    async (request, reply) => {
      const endpoint = repository.findEndpoint(accountOf(request).id, request.params.id);
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
