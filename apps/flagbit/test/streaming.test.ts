import { once } from 'node:events';
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
