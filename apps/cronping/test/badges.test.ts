import { describe, expect, it } from 'vitest';
import { startApp, T0 } from './harness';

describe('badges', () => {
  it('serves SVG, JSON and shields.io endpoint badges per check and per tag', async () => {
    const { signup, createCheck, ping, api, app, clock } = await startApp();
    const { apiKey } = await signup();
    const web = await createCheck(apiKey, { name: 'web', tags: 'prod', timeout: 60, grace: 60 });
    const db = await createCheck(apiKey, { name: 'db', tags: 'prod', timeout: 3600, grace: 60 });
    await ping(web.uuid);
    await ping(db.uuid);

    const svg = await app.inject({ method: 'GET', url: new URL(web.badge_url as string).pathname });
    expect(svg.statusCode).toBe(200);
    expect(svg.headers['content-type']).toMatch(/^image\/svg\+xml/);
    expect(svg.body).toMatch(/<svg[^>]*aria-label="web: up"/);

    const badges = (await api(apiKey).get('/api/v3/badges/')).json().badges;
    expect(Object.keys(badges).sort()).toEqual(['*', 'prod']);
    const path = (url: string) => new URL(url).pathname;

    clock.set(T0 + 90_000); // web is late (in its grace period)
    expect((await app.inject({ method: 'GET', url: path(badges.prod.json3) })).json()).toEqual({
      status: 'late',
      total: 2,
      grace: 1,
      down: 0,
    });
    expect((await app.inject({ method: 'GET', url: path(badges.prod.json) })).json().status).toBe('up');
    clock.set(T0 + 121_000);
    app.monitor.scheduler.tick();
    expect((await app.inject({ method: 'GET', url: path(badges['*'].shields) })).json()).toEqual({
      schemaVersion: 1,
      label: 'cronping',
      message: 'down',
      color: 'critical',
    });
    const unknown = await app.inject({ method: 'GET', url: '/badge/nope/2/prod.svg' });
    expect(unknown.statusCode).toBe(404);
  });
});
