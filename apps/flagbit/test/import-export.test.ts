import { describe, expect, it } from 'vitest';
import { startFlagBit } from './harness';

const document = {
  version: 2,
  features: [
    {
      name: 'imported.rollout',
      type: 'release',
      description: 'from Unleash',
      project: 'default',
      enabled: true,
      stale: false,
      impressionData: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '100', stickiness: 'default', groupId: 'imported.rollout' },
          constraints: [
            {
              contextName: 'appName',
              operator: 'IN',
              values: ['web'],
              inverted: false,
              caseInsensitive: false,
            },
          ],
          segments: [1],
        },
      ],
      variants: [
        {
          name: 'a',
          weight: 1000,
          weightType: 'variable',
          stickiness: 'default',
          payload: { type: 'string', value: 'A' },
        },
      ],
    },
    {
      name: 'imported.odd',
      enabled: true,
      strategies: [
        {
          name: 'default',
          constraints: [
            { contextName: 'userId', operator: 'STR_MATCHES', values: ['x'] },
            { contextName: 'userId', operator: 'REGEX', value: '(broken' },
          ],
          segments: [99],
        },
      ],
      dependencies: [{ feature: 'missing.parent' }],
    },
  ],
  segments: [
    { id: 1, name: 'web-app', constraints: [{ contextName: 'appName', operator: 'IN', values: ['web'] }] },
  ],
};

describe('import and export in the client-features format', () => {
  it('imports a document as given, names tolerated oddities as warnings, evaluates them as the SDKs do, and exports it back', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/flags', { name: 'pre-existing' });
    const imported = await harness.admin(key, 'POST', '/api/admin/environments/production/import', document);
    expect(imported.statusCode, imported.body).toBe(200);
    const answer = imported.json();
    expect(answer).toMatchObject({ environment: 'production', flags: 2, segments: 1 });
    const messages = answer.warnings.map((w: { message: string }) => w.message).join('\n');
    expect(messages).toContain('unknown operator STR_MATCHES');
    expect(messages).toContain('invalid regex (broken');
    expect(messages).toContain('segment 99 does not exist');
    expect(messages).toContain('parent flag missing.parent does not exist');

    const exported = (await harness.admin(key, 'GET', '/api/admin/environments/production/export')).json();
    expect(exported.segments).toEqual(document.segments);
    expect(exported.features.map((f: { name: string }) => f.name)).toEqual([
      'imported.odd',
      'imported.rollout',
    ]);
    const odd = exported.features.find((f: { name: string }) => f.name === 'imported.odd');
    expect(odd.strategies).toEqual(document.features[1]?.strategies);
    expect(odd.dependencies).toEqual([{ feature: 'missing.parent' }]);
    const rollout = exported.features.find((f: { name: string }) => f.name === 'imported.rollout');
    expect(rollout).toMatchObject({ ...document.features[0] });

    const frontend = await harness.token(key, 'frontend', 'production');
    const toggles = await harness.app.inject({
      method: 'GET',
      url: '/api/frontend?appName=web&userId=7',
      headers: { authorization: frontend },
    });
    expect(toggles.json().toggles).toEqual([
      {
        name: 'imported.rollout',
        enabled: true,
        impressionData: true,
        variant: { name: 'a', enabled: true, feature_enabled: true, payload: { type: 'string', value: 'A' } },
      },
    ]);
    // The pre-existing flag left production (it was not in the document) but stays in development.
    const development = (
      await harness.admin(key, 'GET', '/api/admin/environments/development/export')
    ).json();
    expect(development.features.map((f: { name: string }) => f.name).sort()).toEqual([
      'imported.odd',
      'imported.rollout',
      'pre-existing',
    ]);
    const events = (await harness.admin(key, 'GET', '/api/admin/events?limit=2')).json().events.slice(1);
    expect(events[0]).toMatchObject({ action: 'environment-imported', environment: 'production' });
  });

  it('leaves out a disabled strategy, as Unleash never serves one, and names it in the warnings', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    const withDisabled = {
      version: 2,
      features: [
        {
          name: 'switched.off.rule',
          enabled: true,
          strategies: [
            { name: 'default', disabled: true },
            { name: 'userWithId', parameters: { userIds: '42' } },
          ],
        },
      ],
    };
    const imported = await harness.admin(
      key,
      'POST',
      '/api/admin/environments/production/import',
      withDisabled,
    );
    expect(imported.statusCode, imported.body).toBe(200);
    expect(imported.json().warnings).toEqual([
      {
        path: '/features/0/strategies/0',
        message: expect.stringContaining('strategy default is disabled'),
      },
    ]);
    const frontend = await harness.token(key, 'frontend', 'production');
    const toggles = async (userId: string) =>
      (
        await harness.app.inject({
          method: 'GET',
          url: `/api/frontend?appName=web&userId=${userId}`,
          headers: { authorization: frontend },
        })
      ).json().toggles as { name: string }[];
    expect(await toggles('7'), 'the disabled default strategy enables nobody').toEqual([]);
    expect((await toggles('42')).map((toggle) => toggle.name)).toEqual(['switched.off.rule']);
  });

  it('refuses a document that breaks the schema, listing each problem, and changes nothing', async () => {
    const harness = await startFlagBit();
    const key = await harness.signup();
    await harness.admin(key, 'POST', '/api/admin/environments/development/import', document);
    const before = (await harness.admin(key, 'GET', '/api/admin/environments/development/export')).body;
    const broken = {
      version: '2',
      features: [
        { name: 'no-enabled', strategies: [] },
        { name: 'bad-strategies', enabled: true, strategies: [{ parameters: {} }] },
        { name: 'bad-variant', enabled: true, strategies: [], variants: [{ name: 'v', weight: 'heavy' }] },
      ],
      segments: [{ id: 'one', constraints: [] }],
    };
    const response = await harness.admin(key, 'POST', '/api/admin/environments/development/import', broken);
    expect(response.statusCode).toBe(400);
    const details = response.json().error.details.map((d: { path: string }) => d.path);
    expect(details).toEqual(
      expect.arrayContaining([
        '/body/version',
        '/body/features/0/enabled',
        '/body/features/1/strategies/0/name',
        '/body/features/2/variants/0/weight',
        '/body/segments/0/id',
      ]),
    );
    expect((await harness.admin(key, 'GET', '/api/admin/environments/development/export')).body).toBe(before);
  });

  it("imports only into the caller's own environments", async () => {
    const harness = await startFlagBit();
    const alice = await harness.signup();
    const bob = await harness.signup();
    await harness.admin(alice, 'POST', '/api/admin/environments/development/import', document);
    expect(
      (await harness.admin(bob, 'GET', '/api/admin/environments/development/export')).json().features,
    ).toEqual([]);
    expect(
      (await harness.admin(bob, 'POST', '/api/admin/environments/staging/import', document)).statusCode,
    ).toBe(404);
  });
});
