import { describe, expect, it } from 'vitest';
import { createEndpoint, signUp, startApp, startReceiver } from './harness';

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

  describe('holds a forwarded capture while its delivery is not final', () => {
    type Started = Awaited<ReturnType<typeof startApp>>;

    /**
     * A free endpoint (1 day, 100 captures) whose first capture is forwarded to a receiver that fails until
     * `healthy()`; the rule is then deleted and 100 newer captures arrive, so the forwarded one is past both
     * the count and (after the clock moves a day) the age limit.
     */
    async function forwardedCaptureOutlivingItsPlan({ app, clock }: Started) {
      let healthy = false;
      const receiver = await startReceiver(() => ({ status: healthy ? 200 : 500 }));
      const account = signUp(app, 'free');
      const endpoint = await createEndpoint(app, account.headers);
      const rule = await app.inject({
        method: 'POST',
        url: `/v1/endpoints/${endpoint.id}/forwarding`,
        headers: account.headers,
        payload: { targetUrl: receiver.url },
      });
      expect(rule.statusCode, rule.body).toBe(201);
      const forwarded = await app.inject({
        method: 'POST',
        url: `/h/${endpoint.token}/forwarded`,
        payload: 'f',
      });
      const captureId = forwarded.json().captureId as string;
      await app.webhookvault.deliveries.runDue();
      const removed = await app.inject({
        method: 'DELETE',
        url: `/v1/forwarding/${rule.json().id}`,
        headers: account.headers,
      });
      expect(removed.statusCode, removed.body).toBe(204);
      clock.advance(DAY_MS + 1000);
      const captureMore = async (count: number) => {
        for (let index = 0; index < count; index++) {
          await app.inject({ method: 'POST', url: `/h/${endpoint.token}/${index}`, payload: 'x' });
        }
      };
      await captureMore(100);
      const captureExists = async () =>
        (await app.inject({ method: 'GET', url: `/v1/captures/${captureId}`, headers: account.headers }))
          .statusCode === 200;
      const deliveries = async () =>
        (
          await app.inject({
            method: 'GET',
            url: `/v1/endpoints/${endpoint.id}/deliveries`,
            headers: account.headers,
          })
        ).json().items as { id: string; status: string }[];
      return { account, captureExists, captureMore, deliveries, heal: () => (healthy = true) };
    }

    it('while the delivery is pending a retry, then prunes it once the delivery succeeds', async () => {
      const started = await startApp();
      const { app } = started;
      const setup = await forwardedCaptureOutlivingItsPlan(started);
      expect((await setup.deliveries())[0]?.status).toBe('pending');
      expect(app.webhookvault.retention.runOnce()).toBe(0);
      expect(await setup.captureExists()).toBe(true);
      setup.heal();
      await app.webhookvault.deliveries.runDue();
      expect((await setup.deliveries())[0]?.status).toBe('succeeded');
      expect(app.webhookvault.retention.runOnce()).toBe(1);
      expect(await setup.captureExists()).toBe(false);
    });

    it('while the delivery is dead-lettered, then prunes it once a retry succeeds', async () => {
      const started = await startApp();
      const { app, clock } = started;
      const setup = await forwardedCaptureOutlivingItsPlan(started);
      for (let attempt = 1; attempt < 8; attempt++) {
        clock.advance(36_000_000);
        await app.webhookvault.deliveries.runDue();
      }
      const [dead] = await setup.deliveries();
      expect(dead?.status).toBe('dead');
      // The 100 newer captures aged out meanwhile (no delivery holds them); the dead-lettered one stays.
      expect(app.webhookvault.retention.runOnce()).toBe(100);
      expect(await setup.captureExists()).toBe(true);
      await setup.captureMore(100);
      expect(app.webhookvault.retention.runOnce()).toBe(0);
      expect(await setup.captureExists()).toBe(true);
      setup.heal();
      const retried = await app.inject({
        method: 'POST',
        url: `/v1/deliveries/${dead?.id}/retry`,
        headers: setup.account.headers,
      });
      expect(retried.statusCode, retried.body).toBe(202);
      await app.webhookvault.deliveries.runDue();
      expect((await setup.deliveries())[0]?.status).toBe('succeeded');
      expect(app.webhookvault.retention.runOnce()).toBe(1);
      expect(await setup.captureExists()).toBe(false);
    });
  });
});
