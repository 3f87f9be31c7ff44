import { describe, expect, it } from 'vitest';
import { type Harness, startFlagBit } from './harness';

async function seed(harness: Harness, key: string) {
  const { admin } = harness;
  await admin(key, 'POST', '/api/admin/flags', { name: 'nordic', impressionData: true });
  await admin(key, 'POST', '/api/admin/flags/nordic/environments/development/strategies', {
    name: 'default',
    constraints: [{ contextName: 'country', operator: 'IN', values: ['NO', 'SE'] }],
  });
  await admin(key, 'PATCH', '/api/admin/flags/nordic/environments/development', { enabled: true });
  await admin(key, 'POST', '/api/admin/flags', { name: 'office-only' });
  await admin(key, 'POST', '/api/admin/flags/office-only/environments/development/strategies', {
    name: 'remoteAddress',
    parameters: { IPs: '10.0.0.0/8' },
  });
  await admin(key, 'PATCH', '/api/admin/flags/office-only/environments/development', { enabled: true });
  await admin(key, 'POST', '/api/admin/flags', { name: 'off' });
}

describe('the Unleash frontend API', () => {
  it('lists only the flags enabled for the context, from the query or a POST body', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    const token = await harness.token(key, 'frontend');
    const get = (query: string) =>
      harness.app.inject({ method: 'GET', url: `/api/frontend${query}`, headers: { authorization: token } });
    const names = (body: { toggles: { name: string }[] }) => body.toggles.map((t) => t.name);

    expect(names((await get('?properties[country]=NO')).json())).toEqual(['nordic']);
    // An unknown top-level field is a property, as in Unleash's createContext.
    expect(names((await get('?country=SE')).json())).toEqual(['nordic']);
    expect(names((await get('?country=DK')).json())).toEqual([]);
    expect(names((await get('?remoteAddress=10.1.2.3')).json())).toEqual(['office-only']);
    const nordic = (await get('?country=NO')).json().toggles[0];
    expect(nordic).toEqual({
      name: 'nordic',
      enabled: true,
      impressionData: true,
      variant: { name: 'disabled', enabled: false, feature_enabled: true },
    });

    const posted = await harness.app.inject({
      method: 'POST',
      url: '/api/frontend',
      headers: { authorization: token },
      payload: { context: { userId: '7', remoteAddress: '10.9.9.9', properties: { country: 'SE' } } },
    });
    expect(posted.statusCode).toBe(200);
    expect(names(posted.json()).sort()).toEqual(['nordic', 'office-only']);
  });

  it('uses the caller address as remoteAddress by default', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    const token = await harness.token(key, 'frontend');
    const response = await harness.app.inject({
      method: 'GET',
      url: '/api/frontend',
      headers: { authorization: token },
      remoteAddress: '10.20.30.40',
    });
    expect(response.json().toggles.map((t: { name: string }) => t.name)).toEqual(['office-only']);
  });

  it('refuses backend tokens, missing tokens and tokens of another environment see other flags', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    const other = await harness.signup();
    await seed(harness, key);
    const backend = await harness.token(key, 'backend');
    const production = await harness.token(key, 'frontend', 'production');
    const otherAccount = await harness.token(other, 'frontend');
    const get = (authorization?: string) =>
      harness.app.inject({
        method: 'GET',
        url: '/api/frontend?country=NO',
        headers: authorization ? { authorization } : {},
      });
    expect((await get()).statusCode).toBe(401);
    expect((await get(backend)).statusCode).toBe(403);
    expect((await get(production)).json().toggles).toEqual([]);
    expect((await get(otherAccount)).json().toggles).toEqual([]);
  });

  it('closes cleanly while streaming clients are connected', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    const backend = await harness.token(key, 'backend');
    const base = await harness.listen();
    const response = await fetch(`${base}/api/client/streaming`, { headers: { authorization: backend } });
    const reader = response.body!.getReader();
    await reader.read();
    await harness.app.close();
    // The server ended the stream: the client reads to its end instead of hanging.
    for (;;) {
      const { done } = await reader.read();
      if (done) break;
    }
    expect(harness.app.server.listening).toBe(false);
  });

  it("stores the frontend SDK's metrics and shows them in GET /api/admin/metrics, for its own account only", async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    const otherKey = await harness.signup();
    await seed(harness, key);
    const token = await harness.token(key, 'frontend');
    // The shape unleash-proxy-client posts to `<url>/client/metrics`.
    const post = (authorization: string, payload: unknown) =>
      harness.app.inject({
        method: 'POST',
        url: '/api/frontend/client/metrics',
        headers: { authorization },
        payload: payload as object,
      });
    const bucket = {
      appName: 'web-shop',
      instanceId: 'browser-1',
      bucket: {
        start: '2026-11-24T09:59:00.000Z',
        stop: '2026-11-24T10:00:00.000Z',
        toggles: { nordic: { yes: 3, no: 1, variants: { disabled: 4 } } },
      },
    };
    expect((await post(token, bucket)).statusCode).toBe(200);
    expect((await post(token, { appName: 'web-shop' })).statusCode, 'a bucket is required').toBe(400);
    expect((await post(await harness.token(key, 'backend'), bucket)).statusCode).toBe(403);

    const metrics = (await harness.admin(key, 'GET', '/api/admin/metrics')).json();
    expect(metrics.flags).toEqual([
      {
        name: 'nordic',
        environment: 'development',
        yes: 3,
        no: 1,
        variants: { disabled: 4 },
        apps: [{ appName: 'web-shop', yes: 3, no: 1, lastSeen: '2026-11-24T10:00:00.000Z' }],
      },
    ]);
    expect((await harness.admin(otherKey, 'GET', '/api/admin/metrics')).json().flags).toEqual([]);
  });
});
