import { once } from 'node:events';
import { createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { describe, expect, it } from 'vitest';
import { startFlagBit } from './harness';

/** Reads server-sent events from a fetch response body, one parsed event per call. */
function sseReader(body: ReadableStream<Uint8Array>) {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  return async function next(): Promise<{ event: string; id: string; data: unknown }> {
    for (;;) {
      const end = buffer.indexOf('\n\n');
      if (end >= 0) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        if (block.startsWith(':')) continue;
        const fields = Object.fromEntries(
          block
            .split('\n')
            .map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
        );
        return { event: fields.event ?? '', id: fields.id ?? '', data: JSON.parse(fields.data ?? 'null') };
      }
      const { value, done } = await reader.read();
      if (done) throw new Error('stream ended');
      buffer += decoder.decode(value, { stream: true });
    }
  };
}

describe('GET /api/client/streaming', () => {
  it("hydrates on connect, then sends each change in the token's environment as delta events", async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'live' });
    const backend = await harness.token(key, 'backend');
    const base = await harness.listen();
    const controller = new AbortController();
    const response = await fetch(`${base}/api/client/streaming`, {
      headers: { authorization: backend },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    const next = sseReader(response.body!);
    const connected = await next();
    expect(connected.event).toBe('unleash-connected');
    expect(connected.data).toMatchObject({
      events: [{ type: 'hydration', features: [{ name: 'live', enabled: false }], segments: [] }],
    });

    await harness.admin(key, 'PATCH', '/api/admin/flags/live/environments/development', { enabled: true });
    const updated = await next();
    expect(updated.event).toBe('unleash-updated');
    expect(Number(updated.id)).toBeGreaterThan(Number(connected.id));
    expect(updated.data).toMatchObject({
      events: [{ type: 'feature-updated', feature: { name: 'live', enabled: true } }],
    });

    // A change in another environment is not this stream's business; the next event is the deletion.
    await harness.admin(key, 'PATCH', '/api/admin/flags/live/environments/production', { enabled: true });
    await harness.admin(key, 'DELETE', '/api/admin/flags/live');
    const removed = await next();
    expect(removed.data).toMatchObject({
      events: [{ type: 'feature-removed', featureName: 'live', project: 'default' }],
    });
    controller.abort();
  });

  it('refuses frontend tokens and missing tokens', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    const frontend = await harness.token(key, 'frontend');
    expect((await harness.app.inject({ method: 'GET', url: '/api/client/streaming' })).statusCode).toBe(401);
    const forbidden = await harness.app.inject({
      method: 'GET',
      url: '/api/client/streaming',
      headers: { authorization: frontend },
    });
    expect(forbidden.statusCode).toBe(403);
  });

  it('keeps the unmodified unleash-client in streaming mode up to date without polling', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'streamed' });
    const backend = await harness.token(key, 'backend');
    const base = await harness.listen();
    const unleash = new Unleash({
      appName: 'streaming-service',
      url: `${base}/api/`,
      customHeaders: { Authorization: backend },
      disableMetrics: true,
      refreshInterval: 60_000,
      storageProvider: new InMemStorageProvider(),
      experimentalMode: { type: 'streaming' },
    });
    unleash.on('error', () => {});
    unleash.on('warn', () => {});
    try {
      await once(unleash, 'synchronized');
      expect(unleash.isEnabled('streamed')).toBe(false);
      const changed = once(unleash, 'changed');
      await harness.admin(key, 'PATCH', '/api/admin/flags/streamed/environments/development', {
        enabled: true,
      });
      await changed;
      expect(unleash.isEnabled('streamed')).toBe(true);
    } finally {
      unleash.destroy();
    }
  });
});

describe('GET /api/client/streaming with Last-Event-ID', () => {
  async function connect(base: string, token: string, lastEventId?: string) {
    const controller = new AbortController();
    const response = await fetch(`${base}/api/client/streaming`, {
      headers: {
        authorization: token,
        ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
      },
      signal: controller.signal,
    });
    expect(response.status, 'stream opened').toBe(200);
    const next = sseReader(response.body!);
    const connected = await next();
    expect(connected.event).toBe('unleash-connected');
    return { connected, next, close: () => controller.abort() };
  }

  it('sends a reconnecting client only the changes it missed, and nothing when it missed none', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'first' });
    const backend = await harness.token(key, 'backend');
    const base = await harness.listen();
    const initial = await connect(base, backend);
    initial.close();

    // While disconnected: one flag enabled, one created, one change elsewhere (not this environment's).
    await harness.admin(key, 'PATCH', '/api/admin/flags/first/environments/development', { enabled: true });
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'second' });
    await harness.admin(key, 'PATCH', '/api/admin/flags/first/environments/production', { enabled: true });

    const resumed = await connect(base, backend, initial.connected.id);
    const events = (resumed.connected.data as { events: { type: string; feature?: { name: string } }[] })
      .events;
    expect(
      events.map((event) => `${event.type}:${event.feature?.name}`),
      'only the missed changes, in order, no hydration',
    ).toEqual(['feature-updated:first', 'feature-updated:second']);
    expect(Number(resumed.connected.id)).toBeGreaterThan(Number(initial.connected.id));

    // Changes after the resume still stream as usual.
    await harness.admin(key, 'DELETE', '/api/admin/flags/second');
    const removed = await resumed.next();
    expect(removed.data).toMatchObject({ events: [{ type: 'feature-removed', featureName: 'second' }] });
    resumed.close();

    const upToDate = await connect(base, backend, removed.id);
    expect(upToDate.connected.data, 'an up-to-date client gets an empty delta').toEqual({ events: [] });
    upToDate.close();
  });

  it('hydrates a client whose id is unknown, malformed, from the future or already trimmed', async () => {
    const harness = await startFlagBit({ STREAMING_HISTORY_REVISIONS: '2' });
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'kept' });
    const backend = await harness.token(key, 'backend');
    const base = await harness.listen();

    // Before any stream connected there is no history: the revision alone is not trusted.
    const first = await connect(base, backend, '3');
    expect(first.connected.data).toMatchObject({ events: [{ type: 'hydration' }] });
    first.close();

    for (const id of ['not-a-number', '-1', '999999']) {
      const other = await connect(base, backend, id);
      expect(other.connected.data, `Last-Event-ID ${id}`).toMatchObject({ events: [{ type: 'hydration' }] });
      other.close();
    }

    // Three changes with two revisions kept: the first one is gone, so the client is hydrated.
    for (const name of ['a', 'b', 'c']) await harness.admin(key, 'POST', '/api/admin/flags', { name });
    const behind = await connect(base, backend, first.connected.id);
    expect(behind.connected.data).toMatchObject({
      events: [
        { type: 'hydration', features: [{ name: 'a' }, { name: 'b' }, { name: 'c' }, { name: 'kept' }] },
      ],
    });
    behind.close();
  });

  it("does not resume one account's stream from another environment's or account's history", async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    const otherKey = await harness.signup();
    const backend = await harness.token(key, 'backend');
    const otherBackend = await harness.token(otherKey, 'backend');
    const base = await harness.listen();
    const mine = await connect(base, backend);
    mine.close();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'private-flag' });
    // The other account presents an id from this account's stream: it gets its own (empty) state.
    const theirs = await connect(base, otherBackend, mine.connected.id);
    expect(JSON.stringify(theirs.connected.data)).not.toContain('private-flag');
    theirs.close();
  });
});

/**
 * A pass-through HTTP proxy in front of FlagBit that records each streaming request's Last-Event-ID and the
 * first SSE block answered to it, and can cut every open stream (a network drop, as the SDK would see it).
 */
async function streamRecordingProxy(target: string) {
  const streams: { lastEventId: string | undefined; firstBlock: Promise<string> }[] = [];
  const open = new Set<ServerResponse>();
  const server = createServer((incoming: IncomingMessage, outgoing: ServerResponse) => {
    const upstream = httpRequest(`${target}${incoming.url}`, {
      method: incoming.method,
      headers: incoming.headers,
    });
    upstream.on('response', (answer) => {
      outgoing.writeHead(answer.statusCode ?? 502, answer.headers);
      if (incoming.url?.startsWith('/api/client/streaming')) {
        open.add(outgoing);
        outgoing.on('close', () => {
          open.delete(outgoing);
          answer.destroy();
        });
        let text = '';
        streams.push({
          lastEventId: incoming.headers['last-event-id'] as string | undefined,
          firstBlock: new Promise((resolve) => {
            answer.on('data', (chunk: Buffer) => {
              text += chunk.toString();
              if (text.includes('\n\n')) resolve(text.slice(0, text.indexOf('\n\n')));
            });
          }),
        });
      }
      answer.pipe(outgoing);
    });
    upstream.on('error', () => outgoing.destroy());
    incoming.pipe(upstream);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    streams,
    cutStreams() {
      for (const response of open) response.destroy();
    },
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

describe('the unmodified unleash-client reconnecting its stream', () => {
  it('resumes with Last-Event-ID and is sent only the changes made while it was cut off', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'before-drop' });
    const backend = await harness.token(key, 'backend');
    const proxy = await streamRecordingProxy(await harness.listen());
    const unleash = new Unleash({
      appName: 'resuming-service',
      url: `${proxy.url}/api/`,
      customHeaders: { Authorization: backend },
      disableMetrics: true,
      refreshInterval: 60_000,
      storageProvider: new InMemStorageProvider(),
      experimentalMode: { type: 'streaming' },
    });
    unleash.on('error', () => {});
    unleash.on('warn', () => {});
    try {
      await once(unleash, 'synchronized');
      const first = proxy.streams[0]!;
      expect(first.lastEventId, 'a first connection has no id').toBeUndefined();
      const firstId = /^id: (\d+)$/m.exec(await first.firstBlock)?.[1];
      expect(firstId).toBeDefined();

      proxy.cutStreams();
      await harness.admin(key, 'POST', '/api/admin/flags', { name: 'during-drop' });
      await harness.admin(key, 'PATCH', '/api/admin/flags/during-drop/environments/development', {
        enabled: true,
      });
      // The SDK's EventSource reconnects by itself (after its retry delay) and applies what it missed.
      while (!unleash.isEnabled('during-drop')) await once(unleash, 'changed');

      const second = proxy.streams[1]!;
      expect(second.lastEventId, 'the SDK presents the last id it saw').toBe(firstId);
      const resumed = await second.firstBlock;
      expect(resumed).toContain('event: unleash-connected');
      expect(resumed, 'no hydration on resume').not.toContain('"hydration"');
      expect(resumed).toContain('"feature-updated"');
      expect(unleash.isEnabled('before-drop'), 'state from before the drop is kept').toBe(false);
      expect(unleash.getFeatureToggleDefinition('before-drop')).toBeDefined();
    } finally {
      unleash.destroy();
      proxy.close();
    }
  }, 20_000);
});
