import { once } from 'node:events';
import { InMemStorageProvider, Unleash } from 'unleash-client';
import { describe, expect, it } from 'vitest';
import { type Harness, startFlagBit } from './harness';

async function seedCheckout(harness: Harness, key: string) {
  const { admin } = harness;
  await admin(key, 'POST', '/api/admin/flags', { name: 'checkout' });
  await admin(key, 'POST', '/api/admin/flags/checkout/environments/development/strategies', {
    name: 'flexibleRollout',
    parameters: { rollout: 40, stickiness: 'default' },
    constraints: [{ contextName: 'country', operator: 'IN', values: ['NO', 'SE'] }],
  });
  await admin(key, 'PUT', '/api/admin/flags/checkout/environments/development/variants', {
    variants: [{ name: 'blue', payload: { type: 'string', value: 'b' } }, { name: 'red' }],
  });
  await admin(key, 'PATCH', '/api/admin/flags/checkout/environments/development', { enabled: true });
  await admin(key, 'POST', '/api/admin/flags', { name: 'dark-mode' });
}

function sdk(base: string, token: string, extra: Record<string, unknown> = {}) {
  const unleash = new Unleash({
    appName: 'checkout-service',
    instanceId: 'test-1',
    url: `${base}/api/`,
    customHeaders: { Authorization: token },
    refreshInterval: 60_000,
    metricsInterval: 60_000,
    storageProvider: new InMemStorageProvider(),
    ...extra,
  });
  unleash.on('error', () => {});
  unleash.on('warn', () => {});
  return unleash;
}

describe('the unmodified unleash-client Node SDK against a real FlagBit server', () => {
  it('fetches, evaluates like the frontend API, registers and reports metrics', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seedCheckout(harness, key);
    const backend = await harness.token(key, 'backend');
    const frontend = await harness.token(key, 'frontend');
    const base = await harness.listen();

    const unleash = sdk(base, backend);
    const registered = once(unleash, 'registered');
    await once(unleash, 'synchronized');
    await registered;
    try {
      expect(
        unleash
          .getFeatureToggleDefinitions()
          .map((f) => f.name)
          .sort(),
      ).toEqual(['checkout', 'dark-mode']);
      expect(unleash.isEnabled('dark-mode')).toBe(false);
      expect(unleash.isEnabled('checkout', { userId: '1', properties: { country: 'DK' } })).toBe(false);
      // The SDK (evaluating in-process) and FlagBit's frontend API (evaluating on the server) agree per user.
      let enabledCount = 0;
      for (let n = 0; n < 60; n++) {
        const context = { userId: `user-${n}`, properties: { country: 'NO' } };
        const sdkEnabled = unleash.isEnabled('checkout', context);
        const sdkVariant = unleash.getVariant('checkout', context);
        const served = await harness.app.inject({
          method: 'GET',
          url: `/api/frontend?userId=user-${n}&properties[country]=NO`,
          headers: { authorization: frontend },
        });
        const toggle = served.json().toggles.find((t: { name: string }) => t.name === 'checkout');
        expect(Boolean(toggle), `user-${n}`).toBe(sdkEnabled);
        if (toggle) {
          enabledCount += 1;
          expect(toggle.variant.name, `user-${n}`).toBe(sdkVariant.name);
        }
      }
      expect(enabledCount).toBeGreaterThan(5);
      expect(enabledCount).toBeLessThan(55);

      unleash.isEnabled('dark-mode');
      unleash.getVariant('checkout', { userId: 'user-1', properties: { country: 'NO' } });
      const sent = once(unleash, 'sent');
      await unleash.flushMetrics();
      await sent;
      const metrics = await harness.admin(key, 'GET', '/api/admin/metrics');
      const checkout = metrics.json().flags.find((f: { name: string }) => f.name === 'checkout');
      expect(checkout.environment).toBe('development');
      expect(checkout.yes + checkout.no).toBeGreaterThanOrEqual(121);
      expect(checkout.apps[0].appName).toBe('checkout-service');
      expect(metrics.json().instances).toEqual([
        expect.objectContaining({
          appName: 'checkout-service',
          instanceId: 'test-1',
          environment: 'development',
        }),
      ]);
    } finally {
      unleash.destroy();
    }
  });

  it('serves the SDK in delta polling mode from /api/client/delta', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seedCheckout(harness, key);
    const backend = await harness.token(key, 'backend');
    const base = await harness.listen();
    const unleash = sdk(base, backend, {
      disableMetrics: true,
      experimentalMode: { type: 'polling', format: 'delta' },
    });
    try {
      await once(unleash, 'synchronized');
      expect(
        unleash
          .getFeatureToggleDefinitions()
          .map((f) => f.name)
          .sort(),
      ).toEqual(['checkout', 'dark-mode']);
      expect(unleash.isEnabled('checkout', { userId: 'user-3', properties: { country: 'DK' } })).toBe(false);
    } finally {
      unleash.destroy();
    }
    const first = await harness.app.inject({
      method: 'GET',
      url: '/api/client/delta',
      headers: { authorization: backend },
    });
    expect(first.json().events[0].type).toBe('hydration');
    const again = await harness.app.inject({
      method: 'GET',
      url: '/api/client/delta',
      headers: { authorization: backend, 'if-none-match': first.headers.etag as string },
    });
    expect(again.statusCode).toBe(304);
  });

  it('answers 304 to If-None-Match with the current ETag, and a new ETag after a change', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seedCheckout(harness, key);
    const backend = await harness.token(key, 'backend');
    const first = await harness.app.inject({
      method: 'GET',
      url: '/api/client/features',
      headers: { authorization: backend },
    });
    expect(first.statusCode).toBe(200);
    const etag = first.headers.etag as string;
    expect(etag).toMatch(/^".+"$/);
    const again = await harness.app.inject({
      method: 'GET',
      url: '/api/client/features',
      headers: { authorization: backend, 'if-none-match': etag },
    });
    expect(again.statusCode).toBe(304);
    await harness.admin(key, 'PATCH', '/api/admin/flags/dark-mode/environments/development', {
      enabled: true,
    });
    const changed = await harness.app.inject({
      method: 'GET',
      url: '/api/client/features',
      headers: { authorization: backend, 'if-none-match': etag },
    });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('keeps tokens to their account, environment and kind', async () => {
    const harness = await startFlagBit();
    const alice = await harness.signup();
    const bob = await harness.signup();
    await seedCheckout(harness, alice);
    const bobBackend = await harness.token(bob, 'backend');
    const aliceProduction = await harness.token(alice, 'backend', 'production');
    const aliceFrontend = await harness.token(alice, 'frontend');
    const get = (authorization?: string) =>
      harness.app.inject({
        method: 'GET',
        url: '/api/client/features',
        headers: authorization ? { authorization } : {},
      });
    expect((await get()).statusCode).toBe(401);
    expect((await get('*:development.not-a-token')).statusCode).toBe(401);
    expect((await get(aliceFrontend)).statusCode).toBe(403);
    expect((await get(bobBackend)).json().features).toEqual([]);
    const production = (await get(aliceProduction)).json().features;
    expect(production.find((f: { name: string }) => f.name === 'checkout').enabled).toBe(false);
    const tokens = (await harness.admin(alice, 'GET', '/api/admin/tokens')).json().tokens;
    const productionId = tokens.find((t: { environment: string }) => t.environment === 'production').id;
    await harness.admin(alice, 'DELETE', `/api/admin/tokens/${productionId}`);
    expect((await get(aliceProduction)).statusCode).toBe(401);
  });

  it('is not limited by the account request limiter, but repeated bad tokens are', async () => {
    const harness = await startFlagBit({ SDK_FAILED_TOKENS_PER_MINUTE: '3' });
    const key = await harness.signup();
    const backend = await harness.token(key, 'backend');
    for (let n = 0; n < 700; n++) {
      const response = await harness.app.inject({
        method: 'GET',
        url: '/api/client/features',
        headers: { authorization: backend },
      });
      if (response.statusCode !== 200) throw new Error(`request ${n}: ${response.statusCode}`);
    }
    const statuses: number[] = [];
    for (let n = 0; n < 5; n++) {
      statuses.push(
        (
          await harness.app.inject({
            method: 'GET',
            url: '/api/client/features',
            headers: { authorization: 'bad' },
          })
        ).statusCode,
      );
    }
    expect(statuses).toEqual([401, 401, 401, 429, 429]);
  });
});
