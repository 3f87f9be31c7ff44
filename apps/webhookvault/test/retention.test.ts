import { describe, expect, it } from 'vitest';
import { createEndpoint, signUp, startApp } from './harness';

const DAY_MS = 86_400_000;

describe('retention', () => {
  it("deletes captures older than the plan's retention days", async () => {
    const { app, clock } = await startApp();
    const account = signUp(app, 'free');
    const endpoint = await createEndpoint(app, account.headers);
    await app.inject({ method: 'POST', url: `/h/${endpoint.token}/old`, payload: 'old' });
    clock.advance(DAY_MS - 1000);
    await app.inject({ method: 'POST', url: `/h/${endpoint.token}/recent`, payload: 'recent' });
    clock.advance(1001);
    expect(app.webhookvault.retention.runOnce()).toBe(1);
    const list = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/captures`,
      headers: account.headers,
    });
    expect(list.json().items.map((item: { path: string }) => item.path)).toEqual(['/recent']);
  });

  it('keeps only the newest captures an endpoint is allowed, per plan', async () => {
    const { app } = await startApp();
    const free = signUp(app, 'free');
    const pro = signUp(app, 'pro');
    const freeEndpoint = await createEndpoint(app, free.headers);
    const proEndpoint = await createEndpoint(app, pro.headers);
    for (let index = 0; index < 103; index++) {
      await app.inject({ method: 'POST', url: `/h/${freeEndpoint.token}/${index}`, payload: 'x' });
      await app.inject({ method: 'POST', url: `/h/${proEndpoint.token}/${index}`, payload: 'x' });
    }
    expect(app.webhookvault.retention.runOnce()).toBe(3);
    const page = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${freeEndpoint.id}/captures?limit=100`,
      headers: free.headers,
    });
    expect(page.json().items).toHaveLength(100);
    expect(page.json().items[99].path).toBe('/3');
    expect(page.json().nextCursor).toBeNull();
    expect(app.webhookvault.retention.runOnce()).toBe(0);
  });
});
