import type { ServerResponse } from 'node:http';
import { AppError, type ServiceInstance } from '@studio/service-kit';
import { z } from 'zod';
import { sdkRouteConfig, sdkSecurity } from './client';

export interface StreamingOptions {
  /** Comment lines sent this often keep proxies and the SDK's 60 s read timeout from closing an idle stream. */
  heartbeatMs: number;
}

/**
 * `GET /api/client/streaming`: Unleash's streaming protocol as its Node SDK reads it (`StreamingFetcher`):
 * server-sent events, first `unleash-connected` carrying a `hydration` delta event with every flag and
 * segment, then `unleash-updated` carrying `feature-updated` / `feature-removed` / `segment-updated` /
 * `segment-removed` events for each change, each with the environment's revision as the SSE `id`.
 *
 * Resume: the SDK's EventSource (launchdarkly-eventsource) sends the last `id` it saw as `Last-Event-ID`
 * when it reconnects by itself; the SDK deliberately opens a fresh EventSource (no id) when it wants a full
 * re-hydration, because "Unleash will not send a rehydration" to a client that presents one (its
 * StreamingFetcher.forceRehydration). So, as Unleash and Unleash Edge do, a client whose revision the
 * environment's change history still covers gets `unleash-connected` with only the events after it (an
 * empty list when it missed nothing), and any other client (unknown, trimmed, future or malformed id) a
 * hydration. The SDK applies both through the same delta path.
 */
export function registerStreamingRoutes(app: ServiceInstance, options: StreamingOptions) {
  const { snapshots } = app.flagbit;
  const open = new Set<ServerResponse>();

  // Informational: how many SDKs hold a stream open (each is a socket and a listener on every change).
  app.health.addProbe({
    name: 'streaming:connections',
    componentType: 'component',
    critical: false,
    timeoutMs: 100,
    check: () => ({ status: 'pass', observedValue: open.size, observedUnit: 'connections' }),
  });

  app.addHook('preClose', async () => {
    for (const response of open) response.end();
    open.clear();
  });

  app.get(
    '/api/client/streaming',
    {
      config: sdkRouteConfig,
      schema: {
        tags: ['client'],
        summary: 'Server-sent events: the environment hydrated on connect, then every change as it commits',
        security: sdkSecurity,
        response: { 200: z.string().describe('text/event-stream') },
      },
    },
    async (request, reply) => {
      const principal = await app.flagbit.authenticateSdk(request, ['backend']);
      const snapshot = snapshots.get(principal.accountId, principal.environment);
      if (!snapshot) throw new AppError('unauthorized', 'Missing or invalid API token');
      reply.hijack();
      const response = reply.raw;
      response.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
        'x-request-id': request.id,
      });
      const send = (event: string, id: number, data: unknown) => {
        response.write(`event: ${event}\nid: ${id}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      const lastEventId = request.headers['last-event-id'];
      const resumeFrom =
        typeof lastEventId === 'string' && /^\d{1,15}$/.test(lastEventId.trim())
          ? Number(lastEventId.trim())
          : null;
      const missed =
        resumeFrom === null
          ? null
          : snapshots.eventsSince(principal.accountId, principal.environment, resumeFrom, snapshot);
      send('unleash-connected', snapshot.revision, {
        events: missed ?? [
          {
            type: 'hydration',
            eventId: snapshot.revision,
            features: snapshot.document.features,
            segments: snapshot.document.segments ?? [],
          },
        ],
      });
      snapshots.track(principal.accountId, principal.environment, snapshot);
      open.add(response);
      const unsubscribe = snapshots.subscribe(principal.accountId, principal.environment, (events, next) => {
        send('unleash-updated', next.revision, { events });
      });
      const heartbeat = setInterval(() => response.write(': heartbeat\n\n'), options.heartbeatMs);
      heartbeat.unref();
      const cleanup = () => {
        clearInterval(heartbeat);
        unsubscribe();
        open.delete(response);
      };
      response.on('close', cleanup);
      request.raw.on('close', cleanup);
    },
  );
}
