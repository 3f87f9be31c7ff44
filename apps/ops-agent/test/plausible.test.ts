import { createOutboundClient, parseOutboundAllowlist } from '@studio/service-kit/outbound';
import { describe, expect, it } from 'vitest';
import { createPlausibleClient } from '../src/content/plausible';
import { json, onCleanup, startReceiver } from './harness';

describe('the Plausible Stats API client', () => {
  it('reads visitors per page from the v1 breakdown endpoint with the bearer key', async () => {
    const plausible = await startReceiver((request, response) => {
      if (request.headers.authorization !== 'Bearer plausible-key')
        return json(response, 401, { error: 'Invalid API key' });
      json(response, 200, {
        results: [
          { page: '/hello-world/', visitors: 42 },
          { page: '/', visitors: 7 },
        ],
      });
    });
    const outbound = createOutboundClient({ allowlist: parseOutboundAllowlist('127.0.0.1') });
    onCleanup(() => outbound.close());
    const client = createPlausibleClient({
      url: plausible.url,
      apiKey: 'plausible-key',
      siteId: 'blog.example',
      outbound,
    });
    const visitors = await client.visitorsByPage();
    expect(visitors.get('/hello-world/')).toBe(42);
    const query = new URL(plausible.requests[0]!.url, 'http://x').searchParams;
    expect(Object.fromEntries(query)).toMatchObject({
      site_id: 'blog.example',
      period: '30d',
      property: 'event:page',
      metrics: 'visitors',
    });
    const wrongKey = createPlausibleClient({
      url: plausible.url,
      apiKey: 'nope',
      siteId: 'blog.example',
      outbound,
    });
    await expect(wrongKey.visitorsByPage()).rejects.toThrow(/Plausible answered 401/);
  });
});
