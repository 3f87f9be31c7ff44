import { describe, expect, it } from 'vitest';
import { startFlagBit } from './harness';

describe('the admin API', () => {
  it('starts every account with project default and environments development and production', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const projects = await admin(key, 'GET', '/api/admin/projects');
    expect(projects.statusCode, projects.body).toBe(200);
    expect(projects.json().projects.map((p: { id: string }) => p.id)).toEqual(['default']);
    const environments = await admin(key, 'GET', '/api/admin/environments');
    expect(
      environments
        .json()
        .environments.map((e: { name: string }) => e.name)
        .sort(),
    ).toEqual(['development', 'production']);
  });

  it('creates a flag, turns it on with a rollout and variants, and serves it in the environment export', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const created = await admin(key, 'POST', '/api/admin/flags', {
      name: 'new-checkout',
      description: 'Checkout v2',
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(
      created.json().environments.map((e: { name: string; enabled: boolean }) => [e.name, e.enabled]),
    ).toEqual([
      ['development', false],
      ['production', false],
    ]);
    const strategy = await admin(
      key,
      'POST',
      '/api/admin/flags/new-checkout/environments/development/strategies',
      {
        name: 'flexibleRollout',
        parameters: { rollout: 50, stickiness: 'userId' },
        constraints: [{ contextName: 'country', operator: 'IN', values: ['NO', 'SE'] }],
      },
    );
    expect(strategy.statusCode, strategy.body).toBe(201);
    expect(strategy.json().parameters).toEqual({
      rollout: '50',
      stickiness: 'userId',
      groupId: 'new-checkout',
    });
    const on = await admin(key, 'PATCH', '/api/admin/flags/new-checkout/environments/development', {
      enabled: true,
    });
    expect(on.statusCode, on.body).toBe(200);
    const variants = await admin(
      key,
      'PUT',
      '/api/admin/flags/new-checkout/environments/development/variants',
      {
        variants: [
          { name: 'blue', payload: { type: 'json', value: '{"color":"blue"}' } },
          { name: 'red', weightType: 'fix', weight: 200 },
          { name: 'green' },
        ],
      },
    );
    expect(variants.statusCode, variants.body).toBe(200);
    expect(variants.json().variants.map((v: { weight: number }) => v.weight)).toEqual([400, 200, 400]);

    const exported = await admin(key, 'GET', '/api/admin/environments/development/export');
    expect(exported.statusCode).toBe(200);
    const document = exported.json();
    expect(document.version).toBe(2);
    expect(document.features).toHaveLength(1);
    expect(document.features[0]).toMatchObject({
      name: 'new-checkout',
      enabled: true,
      project: 'default',
      strategies: [{ name: 'flexibleRollout', constraints: [{ contextName: 'country', operator: 'IN' }] }],
    });
    const production = (await admin(key, 'GET', '/api/admin/environments/production/export')).json();
    expect(production.features[0]).toMatchObject({ name: 'new-checkout', enabled: false, strategies: [] });
  });

  it('refuses authored values the SDKs would only tolerate: unknown operators, bad regex, semver and CIDR', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    await admin(key, 'POST', '/api/admin/flags', { name: 'strict' });
    const url = '/api/admin/flags/strict/environments/development/strategies';
    const cases = [
      { contextName: 'userId', operator: 'STR_MATCHES', values: ['a'] },
      { contextName: 'userId', operator: 'REGEX', value: '(unclosed' },
      { contextName: 'version', operator: 'SEMVER_GT', value: 'one.two' },
      { contextName: 'remoteAddress', operator: 'IN_CIDR', values: ['10.0.0.0/33'] },
      { contextName: 'age', operator: 'NUM_GT', value: 'old' },
      { contextName: 'currentTime', operator: 'DATE_AFTER', value: 'tomorrow' },
      { contextName: 'userId', operator: 'IN', values: [] },
    ];
    for (const constraint of cases) {
      const response = await admin(key, 'POST', url, { name: 'default', constraints: [constraint] });
      expect(response.statusCode, JSON.stringify(constraint)).toBe(400);
      expect(response.json().error.code).toBe('validation_failed');
    }
    const badRollout = await admin(key, 'POST', url, {
      name: 'flexibleRollout',
      parameters: { rollout: 150 },
    });
    expect(badRollout.statusCode).toBe(400);
    expect(badRollout.json().error.details[0].path).toContain('rollout');
    const missingSegment = await admin(key, 'POST', url, { name: 'default', segments: [42] });
    expect(missingSegment.statusCode).toBe(400);
    const unknownStrategy = await admin(key, 'POST', url, { name: 'myCustomStrategy' });
    expect(unknownStrategy.statusCode).toBe(400);
    const badFlagName = await admin(key, 'POST', '/api/admin/flags', { name: 'has space' });
    expect(badFlagName.statusCode).toBe(400);
    const duplicate = await admin(key, 'POST', '/api/admin/flags', { name: 'strict' });
    expect(duplicate.statusCode).toBe(409);
  });

  it('validates dependencies: the parent must exist, in the same project, one level deep', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    expect(
      (await admin(key, 'POST', '/api/admin/flags', { name: 'child', dependencies: [{ feature: 'nope' }] }))
        .statusCode,
    ).toBe(400);
    await admin(key, 'POST', '/api/admin/flags', { name: 'parent' });
    const child = await admin(key, 'POST', '/api/admin/flags', {
      name: 'child',
      dependencies: [{ feature: 'parent' }],
    });
    expect(child.statusCode, child.body).toBe(201);
    const grandchild = await admin(key, 'POST', '/api/admin/flags', {
      name: 'grandchild',
      dependencies: [{ feature: 'child' }],
    });
    expect(grandchild.statusCode).toBe(400);
    expect((await admin(key, 'DELETE', '/api/admin/flags/parent')).statusCode).toBe(409);
  });

  it('manages segments per environment and refuses to delete one in use', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const segment = await admin(key, 'POST', '/api/admin/environments/development/segments', {
      name: 'beta-testers',
      constraints: [{ contextName: 'userId', operator: 'IN', values: ['1', '2'] }],
    });
    expect(segment.statusCode, segment.body).toBe(201);
    const id = segment.json().id as number;
    await admin(key, 'POST', '/api/admin/flags', { name: 'beta' });
    const strategy = await admin(key, 'POST', '/api/admin/flags/beta/environments/development/strategies', {
      name: 'default',
      segments: [id],
    });
    expect(strategy.statusCode, strategy.body).toBe(201);
    expect(
      (await admin(key, 'DELETE', `/api/admin/environments/development/segments/${id}`)).statusCode,
    ).toBe(409);
    const exported = (await admin(key, 'GET', '/api/admin/environments/development/export')).json();
    expect(exported.segments).toEqual([
      {
        id,
        name: 'beta-testers',
        constraints: [{ contextName: 'userId', operator: 'IN', values: ['1', '2'] }],
      },
    ]);
  });

  it('records every change in the audit log, newest first, with who, when, before and after', async () => {
    const harness = await startFlagBit();
    const { signup, admin } = harness;
    const key = await signup();
    await admin(key, 'POST', '/api/admin/flags', { name: 'audited' });
    harness.clock.advance(60_000);
    await admin(key, 'PATCH', '/api/admin/flags/audited/environments/production', { enabled: true });
    const events = await admin(key, 'GET', '/api/admin/events?limit=10');
    expect(events.statusCode).toBe(200);
    const [latest, first] = events.json().events;
    expect(latest).toMatchObject({
      action: 'flag-enabled',
      resource: 'flag:audited',
      environment: 'production',
      before: { enabled: false },
      after: { enabled: true },
      createdAt: '2026-11-24T10:01:00.000Z',
    });
    expect(latest.actor).toMatch(/^key:key_/);
    expect(first).toMatchObject({
      action: 'flag-created',
      after: { name: 'audited' },
      createdAt: '2026-11-24T10:00:00.000Z',
    });
  });

  it('creates, renames and deletes a project, refusing default and a project that still has flags', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const latest = async () => (await admin(key, 'GET', '/api/admin/events?limit=1')).json().events[0];
    const created = await admin(key, 'POST', '/api/admin/projects', { id: 'mobile', name: 'Mobile' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ id: 'mobile', name: 'Mobile', description: '' });
    expect(await latest()).toMatchObject({
      action: 'project-created',
      resource: 'project:mobile',
      after: { id: 'mobile', name: 'Mobile' },
    });
    expect(
      (await admin(key, 'POST', '/api/admin/projects', { id: 'mobile', name: 'Again' })).statusCode,
    ).toBe(409);
    const invalid = await admin(key, 'POST', '/api/admin/projects', { id: 'has space', name: '' });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('validation_failed');

    const renamed = await admin(key, 'PATCH', '/api/admin/projects/mobile', {
      description: 'iOS and Android',
    });
    expect(renamed.statusCode, renamed.body).toBe(200);
    expect(renamed.json()).toMatchObject({ id: 'mobile', name: 'Mobile', description: 'iOS and Android' });
    expect(await latest()).toMatchObject({
      action: 'project-updated',
      resource: 'project:mobile',
      before: { description: '' },
      after: { description: 'iOS and Android' },
    });

    const flag = await admin(key, 'POST', '/api/admin/flags', { name: 'app-dark-mode', project: 'mobile' });
    expect(flag.statusCode, flag.body).toBe(201);
    expect(flag.json().project).toBe('mobile');
    const exported = (await admin(key, 'GET', '/api/admin/environments/development/export')).json();
    expect(exported.features).toMatchObject([{ name: 'app-dark-mode', project: 'mobile' }]);
    expect(
      (await admin(key, 'POST', '/api/admin/flags', { name: 'orphan', project: 'nope' })).statusCode,
    ).toBe(404);

    const busy = await admin(key, 'DELETE', '/api/admin/projects/mobile');
    expect(busy.statusCode).toBe(409);
    expect(busy.json().error.code).toBe('conflict');
    const defaultProject = await admin(key, 'DELETE', '/api/admin/projects/default');
    expect(defaultProject.statusCode).toBe(409);
    expect(defaultProject.json().error.message).toContain('default');

    expect((await admin(key, 'DELETE', '/api/admin/flags/app-dark-mode')).statusCode).toBe(204);
    expect((await admin(key, 'DELETE', '/api/admin/projects/mobile')).statusCode).toBe(204);
    expect(await latest()).toMatchObject({
      action: 'project-deleted',
      resource: 'project:mobile',
      before: { id: 'mobile' },
    });
    expect(
      (await admin(key, 'GET', '/api/admin/projects')).json().projects.map((p: { id: string }) => p.id),
    ).toEqual(['default']);
    expect((await admin(key, 'DELETE', '/api/admin/projects/mobile')).statusCode).toBe(404);
  });

  it('adds a new environment to every flag, disabled, and deletes it again', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const latest = async () => (await admin(key, 'GET', '/api/admin/events?limit=1')).json().events[0];
    await admin(key, 'POST', '/api/admin/flags', { name: 'existing' });
    await admin(key, 'PATCH', '/api/admin/flags/existing/environments/development', { enabled: true });
    const created = await admin(key, 'POST', '/api/admin/environments', { name: 'staging' });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json()).toMatchObject({ name: 'staging' });
    expect(await latest()).toMatchObject({
      action: 'environment-created',
      resource: 'environment:staging',
      environment: 'staging',
      after: { name: 'staging' },
    });
    const flag = (await admin(key, 'GET', '/api/admin/flags/existing')).json();
    expect(flag.environments.map((e: { name: string; enabled: boolean }) => [e.name, e.enabled])).toEqual([
      ['development', true],
      ['production', false],
      ['staging', false],
    ]);
    const exported = (await admin(key, 'GET', '/api/admin/environments/staging/export')).json();
    expect(exported.features).toMatchObject([{ name: 'existing', enabled: false, strategies: [] }]);
    expect((await admin(key, 'POST', '/api/admin/environments', { name: 'staging' })).statusCode).toBe(409);
    const invalid = await admin(key, 'POST', '/api/admin/environments', { name: 'bad name', extra: 1 });
    expect(invalid.statusCode).toBe(400);
    expect(invalid.json().error.code).toBe('validation_failed');

    expect((await admin(key, 'DELETE', '/api/admin/environments/staging')).statusCode).toBe(204);
    expect(await latest()).toMatchObject({
      action: 'environment-deleted',
      resource: 'environment:staging',
      environment: 'staging',
      before: { name: 'staging' },
    });
    const after = (await admin(key, 'GET', '/api/admin/flags/existing')).json();
    expect(after.environments.map((e: { name: string }) => e.name)).toEqual(['development', 'production']);
    expect((await admin(key, 'GET', '/api/admin/environments/staging/export')).statusCode).toBe(404);
    expect((await admin(key, 'DELETE', '/api/admin/environments/staging')).statusCode).toBe(404);
  });

  it('changes flag metadata and dependencies, recording before and after', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    await admin(key, 'POST', '/api/admin/flags', { name: 'parent' });
    await admin(key, 'POST', '/api/admin/flags', { name: 'child' });
    const changed = await admin(key, 'PATCH', '/api/admin/flags/child', {
      type: 'experiment',
      description: 'An experiment',
      impressionData: true,
      stale: true,
      dependencies: [{ feature: 'parent', variants: ['blue'] }],
    });
    expect(changed.statusCode, changed.body).toBe(200);
    expect(changed.json()).toMatchObject({
      name: 'child',
      type: 'experiment',
      description: 'An experiment',
      impressionData: true,
      stale: true,
      dependencies: [{ feature: 'parent', variants: ['blue'] }],
    });
    const [event] = (await admin(key, 'GET', '/api/admin/events?limit=1')).json().events;
    expect(event).toMatchObject({
      action: 'flag-updated',
      resource: 'flag:child',
      before: { type: 'release', stale: false, dependencies: [] },
      after: { type: 'experiment', stale: true, dependencies: [{ feature: 'parent' }] },
    });
    const exported = (await admin(key, 'GET', '/api/admin/environments/development/export')).json();
    expect(exported.features.find((f: { name: string }) => f.name === 'child')).toMatchObject({
      type: 'experiment',
      stale: true,
      impressionData: true,
      dependencies: [{ feature: 'parent', variants: ['blue'] }],
    });
    const cleared = await admin(key, 'PATCH', '/api/admin/flags/child', { dependencies: [] });
    expect(cleared.statusCode, cleared.body).toBe(200);
    expect(cleared.json()).toMatchObject({ type: 'experiment', dependencies: [] });
    expect((await admin(key, 'DELETE', '/api/admin/flags/parent')).statusCode).toBe(204);
    expect((await admin(key, 'PATCH', '/api/admin/flags/child', { type: 'nonsense' })).statusCode).toBe(400);
  });

  it('replaces and removes a strategy, and replaces a segment, each with its audit entry', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const latest = async () => (await admin(key, 'GET', '/api/admin/events?limit=1')).json().events[0];
    await admin(key, 'POST', '/api/admin/flags', { name: 'rollout' });
    const base = '/api/admin/flags/rollout/environments/development/strategies';
    const first = (await admin(key, 'POST', base, { name: 'default' })).json();
    const replaced = await admin(key, 'PUT', `${base}/${first.id}`, {
      name: 'flexibleRollout',
      parameters: { rollout: 30 },
      sortOrder: 5,
    });
    expect(replaced.statusCode, replaced.body).toBe(200);
    expect(replaced.json()).toMatchObject({
      id: first.id,
      name: 'flexibleRollout',
      sortOrder: 5,
      parameters: { rollout: '30', groupId: 'rollout' },
    });
    expect(await latest()).toMatchObject({
      action: 'strategy-updated',
      resource: `flag:rollout/strategy:${first.id}`,
      environment: 'development',
      before: { name: 'default' },
      after: { name: 'flexibleRollout', sortOrder: 5 },
    });
    const flag = (await admin(key, 'GET', '/api/admin/flags/rollout')).json();
    expect(flag.environments[0].strategies).toMatchObject([{ id: first.id, name: 'flexibleRollout' }]);
    expect((await admin(key, 'PUT', `${base}/missing`, { name: 'default' })).statusCode).toBe(404);

    expect((await admin(key, 'DELETE', `${base}/${first.id}`)).statusCode).toBe(204);
    expect(await latest()).toMatchObject({
      action: 'strategy-removed',
      resource: `flag:rollout/strategy:${first.id}`,
      environment: 'development',
      before: { name: 'flexibleRollout' },
    });
    expect((await admin(key, 'GET', '/api/admin/flags/rollout')).json().environments[0].strategies).toEqual(
      [],
    );
    expect((await admin(key, 'DELETE', `${base}/${first.id}`)).statusCode).toBe(404);

    const segment = (
      await admin(key, 'POST', '/api/admin/environments/development/segments', {
        name: 'beta',
        constraints: [{ contextName: 'userId', operator: 'IN', values: ['1'] }],
      })
    ).json();
    const updated = await admin(key, 'PUT', `/api/admin/environments/development/segments/${segment.id}`, {
      name: 'beta-2',
      description: 'wider',
      constraints: [{ contextName: 'userId', operator: 'IN', values: ['1', '2'] }],
    });
    expect(updated.statusCode, updated.body).toBe(200);
    expect(updated.json()).toMatchObject({ id: segment.id, name: 'beta-2', description: 'wider' });
    expect(await latest()).toMatchObject({
      action: 'segment-updated',
      resource: `segment:${segment.id}`,
      environment: 'development',
      before: { name: 'beta' },
      after: { name: 'beta-2' },
    });
    const segments = (await admin(key, 'GET', '/api/admin/environments/development/segments')).json()
      .segments;
    expect(segments).toMatchObject([
      { id: segment.id, name: 'beta-2', constraints: [{ values: ['1', '2'] }] },
    ]);
  });

  it('answers 401 without a key and shows nothing of another account (404)', async () => {
    const { app, signup, admin } = await startFlagBit();
    const alice = await signup();
    const bob = await signup();
    await admin(alice, 'POST', '/api/admin/flags', { name: 'alice-only' });
    const segment = await admin(alice, 'POST', '/api/admin/environments/development/segments', {
      name: 's',
      constraints: [{ contextName: 'userId', operator: 'IN', values: ['1'] }],
    });
    expect((await app.inject({ method: 'GET', url: '/api/admin/flags' })).statusCode).toBe(401);
    expect((await admin(bob, 'GET', '/api/admin/flags/alice-only')).statusCode).toBe(404);
    expect(
      (await admin(bob, 'PATCH', '/api/admin/flags/alice-only/environments/development', { enabled: true }))
        .statusCode,
    ).toBe(404);
    expect((await admin(bob, 'DELETE', '/api/admin/flags/alice-only')).statusCode).toBe(404);
    expect(
      (
        await admin(bob, 'PUT', `/api/admin/environments/development/segments/${segment.json().id}`, {
          name: 'x',
          constraints: [],
        })
      ).statusCode,
    ).toBe(404);
    expect((await admin(bob, 'GET', '/api/admin/flags')).json().flags).toEqual([]);
    expect((await admin(bob, 'GET', '/api/admin/events')).json().events).toEqual([]);
    const aliceTokens = await admin(alice, 'POST', '/api/admin/tokens', {
      type: 'backend',
      environment: 'development',
    });
    expect((await admin(bob, 'DELETE', `/api/admin/tokens/${aliceTokens.json().id}`)).statusCode).toBe(404);
    expect((await admin(alice, 'GET', '/api/admin/flags/alice-only')).statusCode).toBe(200);
  });

  it('creates SDK tokens in Unleash format, shows each secret once, and revokes them', async () => {
    const { signup, admin } = await startFlagBit();
    const key = await signup();
    const created = await admin(key, 'POST', '/api/admin/tokens', {
      type: 'frontend',
      environment: 'production',
    });
    expect(created.statusCode, created.body).toBe(201);
    expect(created.json().secret).toMatch(/^\*:production\.[0-9a-f]{56}$/);
    const listed = (await admin(key, 'GET', '/api/admin/tokens')).json().tokens;
    expect(listed).toHaveLength(1);
    expect(JSON.stringify(listed)).not.toContain(created.json().secret);
    expect(
      (await admin(key, 'POST', '/api/admin/tokens', { type: 'frontend', environment: 'staging' }))
        .statusCode,
    ).toBe(404);
    expect(
      (await admin(key, 'POST', '/api/admin/tokens', { type: 'admin', environment: 'production' }))
        .statusCode,
    ).toBe(400);
    expect((await admin(key, 'DELETE', `/api/admin/tokens/${created.json().id}`)).statusCode).toBe(204);
  });
});
