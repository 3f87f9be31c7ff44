import { describe, expect, it } from 'vitest';
import { admin, onCleanup, startAgent, startProduct } from './harness';

describe('the schedule and the cycle budget', () => {
  it('runs a cycle first, then an audit every interval, deciding from the injected clock', async () => {
    const { app, clock } = await startAgent({ AUDIT_INTERVAL_SECONDS: '30', CYCLES_PER_DAY: '8' });
    expect(await app.scheduler.tick()).toEqual(['cycle']);
    expect(await app.scheduler.tick()).toEqual([]);
    clock.advance(29_999);
    expect(await app.scheduler.tick()).toEqual([]);
    clock.advance(1);
    expect(await app.scheduler.tick()).toEqual(['audit']);
    clock.advance(3 * 3600 * 1000);
    expect(await app.scheduler.tick()).toEqual(['cycle']);
    const cycles = (await app.inject({ method: 'GET', url: '/cycles', headers: admin })).json();
    expect(cycles.usedToday).toBe(2);
    expect(cycles.items[0].actions.map((a: { step: string }) => a.step)).toEqual([
      'start',
      'audit',
      'heartbeat',
      'recovery',
      'pipeline',
    ]);
  });

  it('does not spend a cycle of the budget on a restart soon after the last cycle', async () => {
    const { app, clock, config } = await startAgent({ CYCLES_PER_DAY: '8' });
    expect(await app.scheduler.tick()).toEqual(['cycle']);
    await app.close();
    const { buildApp } = await import('../src/app');
    clock.advance(60_000);
    const restarted = await buildApp(config, { logger: false, clock, startScheduler: false });
    onCleanup(() => restarted.close());
    expect(await restarted.scheduler.tick()).toEqual(['audit']);
    clock.advance(3 * 3600 * 1000);
    expect(await restarted.scheduler.tick()).toEqual(['cycle']);
  });

  it('detects a broken product within one audit interval plus its failure threshold', async () => {
    const product = await startProduct('cronping');
    const { app, clock } = await startAgent({
      CRONPING_URL: product.url,
      AUDIT_INTERVAL_SECONDS: '30',
      AUDIT_FAILURE_THRESHOLD: '2',
    });
    await app.scheduler.tick();
    await product.stop();
    const brokenAt = clock.now().getTime();
    const incidents = async () =>
      (await app.inject({ method: 'GET', url: '/incidents', headers: admin })).json().items;
    while ((await incidents()).length === 0) {
      clock.advance(30_000);
      await app.scheduler.tick();
      expect(clock.now().getTime() - brokenAt).toBeLessThanOrEqual(30_000 * 2);
    }
    expect((await incidents())[0]).toMatchObject({ product: 'cronping', status: 'open' });
  });

  it('refuses a cycle over the day’s budget with 429 and runs again the next UTC day', async () => {
    const { app, clock } = await startAgent({ CYCLES_PER_DAY: '2' });
    for (let i = 0; i < 2; i += 1) {
      const response = await app.inject({ method: 'POST', url: '/cycles', headers: admin });
      expect(response.statusCode, response.body).toBe(200);
      expect(response.json().status).toBe('done');
    }
    const over = await app.inject({ method: 'POST', url: '/cycles', headers: admin });
    expect(over.statusCode).toBe(429);
    expect(over.json().error.message).toMatch(/2 of 2 cycles already ran on 2026-11-24/);
    clock.set('2026-11-25T00:00:01.000Z');
    expect((await app.inject({ method: 'POST', url: '/cycles', headers: admin })).statusCode).toBe(200);
  });
});
