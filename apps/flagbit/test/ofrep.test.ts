import { OFREPProvider } from '@openfeature/ofrep-provider';
import { ErrorCode, OpenFeature } from '@openfeature/server-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { type Harness, startFlagBit } from './harness';

async function seed(harness: Harness, key: string) {
  const { admin } = harness;
  await admin(key, 'POST', '/api/admin/flags', { name: 'beta-users' });
  await admin(key, 'POST', '/api/admin/flags/beta-users/environments/development/strategies', {
    name: 'userWithId',
    parameters: { userIds: 'alice, bob' },
  });
  await admin(key, 'PATCH', '/api/admin/flags/beta-users/environments/development', { enabled: true });
  await admin(key, 'POST', '/api/admin/flags', { name: 'banner' });
  await admin(key, 'POST', '/api/admin/flags/banner/environments/development/strategies', {
    name: 'default',
  });
  await admin(key, 'PUT', '/api/admin/flags/banner/environments/development/variants', {
    variants: [
      {
        name: 'holiday',
        weightType: 'fix',
        weight: 1000,
        payload: { type: 'json', value: '{"color":"red","size":3}' },
      },
    ],
  });
  await admin(key, 'PATCH', '/api/admin/flags/banner/environments/development', { enabled: true });
  await admin(key, 'POST', '/api/admin/flags', { name: 'off-flag' });
}

afterEach(async () => {
  await OpenFeature.clearProviders();
});

describe('OFREP with the public OpenFeature OFREP provider', () => {
  it('evaluates booleans, typed variant payloads, reasons and missing flags through @openfeature/ofrep-provider', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    const token = await harness.token(key, 'backend');
    const base = await harness.listen();
    await OpenFeature.setProviderAndWait(
      new OFREPProvider({ baseUrl: base, headers: [['Authorization', token]] }),
    );
    const client = OpenFeature.getClient();

    const alice = await client.getBooleanDetails('beta-users', false, { targetingKey: 'alice' });
    expect(alice).toMatchObject({ value: true, reason: 'TARGETING_MATCH', variant: 'on' });
    const carol = await client.getBooleanDetails('beta-users', true, { targetingKey: 'carol' });
    expect(carol).toMatchObject({ value: false, reason: 'DEFAULT' });
    const off = await client.getBooleanDetails('off-flag', true, {});
    expect(off).toMatchObject({ value: false, reason: 'DISABLED' });
    const banner = await client.getObjectDetails('banner', {}, { targetingKey: 'anyone' });
    expect(banner).toMatchObject({ value: { color: 'red', size: 3 }, variant: 'holiday', reason: 'SPLIT' });
    const missing = await client.getBooleanDetails('no-such-flag', true, {});
    expect(missing).toMatchObject({ value: true, errorCode: ErrorCode.FLAG_NOT_FOUND, reason: 'ERROR' });
  });

  it('answers the provider 401 for a wrong token, and evaluates with frontend tokens too', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    const frontend = await harness.token(key, 'frontend');
    const base = await harness.listen();
    await OpenFeature.setProviderAndWait(
      new OFREPProvider({ baseUrl: base, headers: [['Authorization', frontend]] }),
    );
    expect(await OpenFeature.getClient().getBooleanValue('beta-users', false, { targetingKey: 'bob' })).toBe(
      true,
    );
    await OpenFeature.setProviderAndWait(
      new OFREPProvider({ baseUrl: base, headers: [['Authorization', 'wrong']] }),
    );
    const denied = await OpenFeature.getClient().getBooleanDetails('beta-users', false, {
      targetingKey: 'bob',
    });
    expect(denied).toMatchObject({ value: false, reason: 'ERROR' });
  });

  it('bulk-evaluates every flag with an ETag, answers 304 for the same context and a new tag after a change', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    const token = await harness.token(key, 'frontend');
    const bulk = (headers: Record<string, string> = {}) =>
      harness.app.inject({
        method: 'POST',
        url: '/ofrep/v1/evaluate/flags',
        headers: { authorization: token, ...headers },
        payload: { context: { targetingKey: 'alice' } },
      });
    const first = await bulk();
    expect(first.statusCode).toBe(200);
    const flags = first.json().flags as { key: string; value: unknown; reason: string }[];
    expect(Object.fromEntries(flags.map((f) => [f.key, f.value]))).toEqual({
      banner: { color: 'red', size: 3 },
      'beta-users': true,
      'off-flag': false,
    });
    const etag = first.headers.etag as string;
    expect((await bulk({ 'if-none-match': etag })).statusCode).toBe(304);
    await harness.admin(key, 'PATCH', '/api/admin/flags/off-flag/environments/development', {
      enabled: true,
    });
    const changed = await bulk({ 'if-none-match': etag });
    expect(changed.statusCode).toBe(200);
    expect(changed.headers.etag).not.toBe(etag);
  });

  it('answers malformed requests with OFREP error codes', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    const token = await harness.token(key, 'backend');
    const invalid = await harness.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/beta-users',
      headers: { authorization: token, 'content-type': 'application/json' },
      payload: '{"context": "not an object"}',
    });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json()).toMatchObject({ key: 'beta-users', errorCode: 'INVALID_CONTEXT' });
    const broken = await harness.app.inject({
      method: 'POST',
      url: '/ofrep/v1/evaluate/flags/beta-users',
      headers: { authorization: token, 'content-type': 'application/json' },
      payload: '{"context": ',
    });
    expect(broken.statusCode).toBe(400);
    expect(broken.json()).toMatchObject({ errorCode: 'PARSE_ERROR' });
  });

  it('answers a disabled flag with variants as a code default (no value), and a disabled boolean flag as false', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await seed(harness, key);
    await harness.admin(key, 'PATCH', '/api/admin/flags/banner/environments/development', { enabled: false });
    const token = await harness.token(key, 'backend');
    const evaluate = (url: string) =>
      harness.app.inject({
        method: 'POST',
        url,
        headers: { authorization: token },
        payload: { context: {} },
      });

    const single = await evaluate('/ofrep/v1/evaluate/flags/banner');
    expect(single.statusCode).toBe(200);
    const banner = single.json();
    expect(banner).toEqual({ key: 'banner', reason: 'DISABLED', metadata: { revision: expect.any(Number) } });
    expect('value' in banner, 'no value: the provider uses the code default').toBe(false);

    const off = (await evaluate('/ofrep/v1/evaluate/flags/off-flag')).json();
    expect(off).toMatchObject({ key: 'off-flag', value: false, variant: 'off', reason: 'DISABLED' });

    const bulk = (await evaluate('/ofrep/v1/evaluate/flags')).json() as { flags: { key: string }[] };
    expect(bulk.flags.find((flag) => flag.key === 'banner')).toEqual(banner);

    // The server provider 0.1.3 predates the code-default schema: it still hands back the caller's default.
    await OpenFeature.setProviderAndWait(
      new OFREPProvider({ baseUrl: await harness.listen(), headers: [['Authorization', token]] }),
    );
    const details = await OpenFeature.getClient().getStringDetails('banner', 'fallback', {});
    expect(details).toMatchObject({ value: 'fallback', reason: 'ERROR', errorCode: 'GENERAL' });
  });
});
