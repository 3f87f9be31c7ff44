import { describe, expect, it } from 'vitest';
import { baseUrlOf, createEndpoint, openStream, signUp, startApp } from './harness';

describe('live stream', () => {
  it('pushes new captures and, on reconnect with Last-Event-ID, sends everything missed first', async () => {
    const { app } = await startApp({ listen: true });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const capture = (path: string) =>
      app.inject({ method: 'POST', url: `/h/${endpoint.token}${path}`, payload: path });
    await capture('/before-subscribing');
    const url = `${baseUrlOf(app)}/v1/endpoints/${endpoint.id}/stream`;
    const first = openStream(url, account.headers);
    await first.ready;
    expect(first.status()).toBe(200);
    await capture('/one');
    await capture('/two');
    await first.waitFor(2);
    expect(first.events.map((event) => event.data.path)).toEqual(['/one', '/two']);
    expect(first.events[1]?.data.bodyText).toBe('/two');
    const lastId = first.events[1]!.id;
    first.close();

    await capture('/missed-1');
    await capture('/missed-2');
    const second = openStream(url, { ...account.headers, 'last-event-id': lastId });
    await second.ready;
    await second.waitFor(2);
    await capture('/live');
    await second.waitFor(3);
    expect(second.events.map((event) => event.data.path)).toEqual(['/missed-1', '/missed-2', '/live']);
    expect(new Set(second.events.map((event) => event.id)).size).toBe(3);
  });

  it("refuses another account's stream", async () => {
    const { app } = await startApp();
    const owner = signUp(app);
    const stranger = signUp(app);
    const endpoint = await createEndpoint(app, owner.headers);
    const response = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/stream`,
      headers: stranger.headers,
    });
    expect(response.statusCode).toBe(404);
  });
});
