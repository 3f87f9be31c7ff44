import { OFREPWebProvider } from '@openfeature/ofrep-web-provider';
import { OpenFeature, ProviderEvents } from '@openfeature/web-sdk';
import { afterEach, describe, expect, it } from 'vitest';
import { startFlagBit } from './harness';

afterEach(async () => {
  await OpenFeature.clearProviders();
});

describe('OFREP bulk evaluation with the public OpenFeature web provider', () => {
  it('loads every flag in one bulk call, revalidates with If-None-Match (304) and picks up a change', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'beta-users' });
    await harness.admin(key, 'POST', '/api/admin/flags/beta-users/environments/development/strategies', {
      name: 'userWithId',
      parameters: { userIds: 'alice' },
    });
    await harness.admin(key, 'PATCH', '/api/admin/flags/beta-users/environments/development', {
      enabled: true,
    });
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'new-nav' });
    const token = await harness.token(key, 'frontend');
    const base = await harness.listen();

    const statuses: number[] = [];
    let notModified: () => void = () => {};
    const firstNotModified = new Promise<void>((resolve) => {
      notModified = resolve;
    });
    const recordingFetch: typeof fetch = async (input, init) => {
      const response = await fetch(input, init);
      statuses.push(response.status);
      if (response.status === 304) notModified();
      return response;
    };
    await OpenFeature.setContext({ targetingKey: 'alice' });
    const provider = new OFREPWebProvider({
      baseUrl: base,
      headers: [['Authorization', token]],
      cacheMode: 'disabled',
      pollInterval: 20,
      fetchImplementation: recordingFetch,
    });
    await OpenFeature.setProviderAndWait(provider);
    const client = OpenFeature.getClient();
    expect(client.getBooleanDetails('beta-users', false)).toMatchObject({
      value: true,
      reason: 'TARGETING_MATCH',
    });
    expect(client.getBooleanDetails('new-nav', true)).toMatchObject({ value: false, reason: 'DISABLED' });

    // Polls revalidate with the ETag until something changes; then the provider announces the change.
    const changed = new Promise<void>((resolve) =>
      client.addHandler(ProviderEvents.ConfigurationChanged, () => resolve()),
    );
    await firstNotModified;
    await harness.admin(key, 'PATCH', '/api/admin/flags/new-nav/environments/development', { enabled: true });
    await changed;
    expect(client.getBooleanValue('new-nav', false)).toBe(true);
    expect(statuses[0]).toBe(200);
  });

  it("gives the caller's default, reason DISABLED, for a disabled flag with variants", async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'theme' });
    await harness.admin(key, 'POST', '/api/admin/flags/theme/environments/development/strategies', {
      name: 'default',
    });
    await harness.admin(key, 'PUT', '/api/admin/flags/theme/environments/development/variants', {
      variants: [
        { name: 'dark', weightType: 'fix', weight: 1000, payload: { type: 'string', value: 'dark' } },
      ],
    });
    const token = await harness.token(key, 'frontend');
    const base = await harness.listen();
    await OpenFeature.setContext({ targetingKey: 'alice' });
    await OpenFeature.setProviderAndWait(
      new OFREPWebProvider({ baseUrl: base, headers: [['Authorization', token]], cacheMode: 'disabled' }),
    );
    const details = OpenFeature.getClient().getStringDetails('theme', 'light');
    expect(details).toMatchObject({ value: 'light', reason: 'DISABLED' });
    expect(details.errorCode, 'a disabled flag is not an error').toBeUndefined();
  });
});
