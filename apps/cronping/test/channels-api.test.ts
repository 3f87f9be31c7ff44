import { describe, expect, it } from 'vitest';
import { startApp, startReceiver } from './harness';

async function setup() {
  const harness = await startApp();
  const account = await harness.signup();
  const patch = (key: string, url: string, payload: unknown) =>
    harness.app.inject({ method: 'PATCH', url, headers: { 'x-api-key': key }, payload: payload as object });
  const createChannel = async (body: Record<string, unknown>) => {
    const response = await harness.api(account.apiKey).post('/api/v3/channels/', body);
    expect(response.statusCode, response.body).toBe(201);
    return response.json() as { id: string; name: string; kind: string };
  };
  return { ...harness, account, patch, createChannel };
}

describe('channels: edit and delete (CronPing extension)', () => {
  it('renames a channel and keeps its target when only the name changes', async () => {
    const { account, patch, createChannel, api } = await setup();
    const channel = await createChannel({ name: 'ops', kind: 'email', email: 'ops@example.com' });
    const response = await patch(account.apiKey, `/api/v3/channels/${channel.id}`, { name: 'oncall' });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.json()).toEqual({ id: channel.id, name: 'oncall', kind: 'email' });
    expect((await api(account.apiKey).get('/api/v3/channels/')).json().channels).toEqual([
      { id: channel.id, name: 'oncall', kind: 'email' },
    ]);
  });

  it('delivers alerts to the new URL after the URL is edited', async () => {
    const { account, patch, createChannel, createCheck, ping, app, clock } = await setup();
    const before = await startReceiver();
    const after = await startReceiver();
    const channel = await createChannel({ name: 'hook', kind: 'webhook', url: before.url });
    const edited = await patch(account.apiKey, `/api/v1/channels/${channel.id}`, { url: after.url });
    expect(edited.statusCode, edited.body).toBe(200);
    const check = await createCheck(account.apiKey, { timeout: 60, grace: 60, channels: '*' });
    await ping(`${check.uuid}/fail`);
    clock.advance(1);
    await app.monitor.alerts.runDue();
    expect(before.received).toHaveLength(0);
    expect(after.received, 'the down alert went to the edited URL').toHaveLength(1);
  });

  it('changes the kind only with the target that kind needs', async () => {
    const { account, patch, createChannel } = await setup();
    const receiver = await startReceiver();
    const channel = await createChannel({ name: 'x', kind: 'email', email: 'x@example.com' });
    const url = `/api/v3/channels/${channel.id}`;
    const missing = await patch(account.apiKey, url, { kind: 'slack' });
    expect(missing.statusCode).toBe(400);
    expect(missing.json()).toEqual({ error: 'json validation error: url is required for a slack channel' });
    const slack = await patch(account.apiKey, url, { kind: 'slack', url: receiver.url });
    expect(slack.statusCode, slack.body).toBe(200);
    expect(slack.json()).toEqual({ id: channel.id, name: 'x', kind: 'slack' });
  });

  it('refuses an edited URL that the SSRF guard blocks, and a malformed body', async () => {
    const { account, patch, createChannel, app } = await setup();
    const receiver = await startReceiver();
    const channel = await createChannel({ name: 'hook', kind: 'webhook', url: receiver.url });
    const url = `/api/v3/channels/${channel.id}`;
    const blocked = await patch(account.apiKey, url, { url: 'http://169.254.169.254/latest/meta-data' });
    expect(blocked.statusCode, blocked.body).toBe(400);
    const badKind = await patch(account.apiKey, url, { kind: 'pager' });
    expect(badKind.statusCode).toBe(400);
    expect(badKind.json().error).toMatch(/^json validation error: kind/);
    const notJson = await app.inject({
      method: 'PATCH',
      url,
      headers: { 'x-api-key': account.apiKey, 'content-type': 'application/json' },
      payload: '{',
    });
    expect(notJson.statusCode).toBe(400);
    expect(notJson.json()).toEqual({ error: 'could not parse request body' });
  });

  it('deletes a channel, detaching it from its checks', async () => {
    const { account, createChannel, createCheck, api } = await setup();
    const a = await createChannel({ name: 'a', kind: 'email', email: 'a@example.com' });
    const b = await createChannel({ name: 'b', kind: 'email', email: 'b@example.com' });
    const check = await createCheck(account.apiKey, { channels: '*' });
    const deleted = await api(account.apiKey).delete(`/api/v3/channels/${a.id}`);
    expect(deleted.statusCode, deleted.body).toBe(200);
    expect(deleted.json()).toEqual({ id: a.id, name: 'a', kind: 'email' });
    expect((await api(account.apiKey).get('/api/v3/channels/')).json().channels).toEqual([
      { id: b.id, name: 'b', kind: 'email' },
    ]);
    expect((await api(account.apiKey).get(`/api/v3/checks/${check.uuid}`)).json().channels).toBe(b.id);
    const again = await api(account.apiKey).delete(`/api/v3/channels/${a.id}`);
    expect(again.statusCode).toBe(404);
    expect(again.json()).toEqual({ error: 'not found' });
  });

  it("answers 404 for another account's channel and leaves it unchanged", async () => {
    const { account, signup, patch, createChannel, api } = await setup();
    const intruder = await signup();
    const channel = await createChannel({ name: 'mine', kind: 'email', email: 'me@example.com' });
    const url = `/api/v3/channels/${channel.id}`;
    const edit = await patch(intruder.apiKey, url, { name: 'stolen' });
    expect(edit.statusCode).toBe(404);
    expect(edit.json()).toEqual({ error: 'not found' });
    expect((await api(intruder.apiKey).delete(url)).statusCode).toBe(404);
    expect((await api(account.apiKey).get('/api/v3/channels/')).json().channels).toEqual([
      { id: channel.id, name: 'mine', kind: 'email' },
    ]);
  });

  it('refuses read-only keys and missing keys', async () => {
    const { account, patch, createChannel, api, app } = await setup();
    const channel = await createChannel({ name: 'mine', kind: 'email', email: 'me@example.com' });
    const url = `/api/v3/channels/${channel.id}`;
    const readOnly = await patch(account.readOnlyKey, url, { name: 'x' });
    expect(readOnly.statusCode).toBe(401);
    expect(readOnly.json()).toEqual({ error: 'wrong api key' });
    expect((await api(account.readOnlyKey).delete(url)).statusCode).toBe(401);
    const anonymous = await app.inject({ method: 'DELETE', url });
    expect(anonymous.statusCode).toBe(401);
    expect(anonymous.json()).toEqual({ error: 'missing api key' });
    expect((await api(account.apiKey).get('/api/v3/channels/')).json().channels).toHaveLength(1);
  });
});
