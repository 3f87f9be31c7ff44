import { redactUrl } from '@studio/service-kit';
import { describe, expect, it } from 'vitest';
import { urlSecrets } from '../src/log-redaction';
import { STREAM_TOKEN_TTL_MS } from '../src/stream-token';
import { baseUrlOf, createEndpoint, openStream, START_MS, signUp, startApp } from './harness';

type App = Awaited<ReturnType<typeof startApp>>['app'];

async function issueToken(app: App, headers: Record<string, string>, endpointId: string) {
  const response = await app.inject({
    method: 'POST',
    url: `/v1/endpoints/${endpointId}/stream-token`,
    headers,
  });
  expect(response.statusCode, response.body).toBe(201);
  return response.json() as { token: string; expiresAt: string; streamUrl: string };
}

function streamWithToken(app: App, endpointId: string, token: string) {
  return app.inject({
    method: 'GET',
    url: `/v1/endpoints/${endpointId}/stream?token=${encodeURIComponent(token)}`,
  });
}

describe('stream tokens for EventSource', () => {
  it('opens the live stream over a real socket with ?token= and no Authorization header', async () => {
    const { app } = await startApp({ listen: true });
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const issued = await issueToken(app, account.headers, endpoint.id);
    expect(issued.expiresAt).toBe(new Date(START_MS + STREAM_TOKEN_TTL_MS).toISOString());
    expect(issued.streamUrl).toContain(`/v1/endpoints/${endpoint.id}/stream?token=`);

    const stream = openStream(
      `${baseUrlOf(app)}/v1/endpoints/${endpoint.id}/stream?token=${encodeURIComponent(issued.token)}`,
      {},
    );
    await stream.ready;
    expect(stream.status()).toBe(200);
    await app.inject({ method: 'POST', url: `/h/${endpoint.token}/via-token`, payload: 'hello' });
    await stream.waitFor(1);
    expect(stream.events[0]?.data.path).toBe('/via-token');
  });

  it('lets a read-only key ask for a token, and refuses a request without a key', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const keyResponse = await app.inject({
      method: 'POST',
      url: '/v1/account/keys',
      headers: account.headers,
      payload: { readOnly: true },
    });
    expect(keyResponse.statusCode, keyResponse.body).toBe(201);
    const readOnlyKey = (keyResponse.json() as { apiKey?: string }).apiKey;
    expect(readOnlyKey, keyResponse.body).toBeTypeOf('string');
    await issueToken(app, { authorization: `Bearer ${readOnlyKey}` }, endpoint.id);

    const anonymous = await app.inject({ method: 'POST', url: `/v1/endpoints/${endpoint.id}/stream-token` });
    expect(anonymous.statusCode).toBe(401);
  });

  it('accepts a token until five minutes have passed, then answers 401 saying it expired', async () => {
    const { app, clock } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const { token } = await issueToken(app, account.headers, endpoint.id);

    clock.advance(STREAM_TOKEN_TTL_MS - 1);
    // An accepted stream never ends, so acceptance is read through an id the token is not for: 404 means the
    // token passed (a refused token answers 401 before the endpoint is looked at).
    const stillValid = await streamWithToken(app, 'ep_doesnotexist', token);
    expect(stillValid.statusCode, stillValid.body).toBe(404);

    clock.advance(1);
    const expired = await streamWithToken(app, endpoint.id, token);
    expect(expired.statusCode).toBe(401);
    expect(expired.json().error.message).toMatch(/expired/);
  });

  it('refuses a tampered, truncated or foreign-key token with 401', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const other = await createEndpoint(app, account.headers, { name: 'other' });
    const { token } = await issueToken(app, account.headers, endpoint.id);
    const [version, payload, mac] = token.split('.') as [string, string, string];

    // The same payload claiming another endpoint of the same account, with the original MAC.
    const [accountId, , expires] = Buffer.from(payload, 'base64url').toString('utf8').split(':');
    const swapped = Buffer.from(`${accountId}:${other.id}:${expires}`).toString('base64url');
    // A later expiry with the original MAC.
    const extended = Buffer.from(`${accountId}:${endpoint.id}:${Number(expires) + 3_600_000}`).toString(
      'base64url',
    );
    const flippedMac = `${mac.slice(0, -2)}${mac.endsWith('AA') ? 'BB' : 'AA'}`;
    const candidates = [
      `${version}.${swapped}.${mac}`,
      `${version}.${extended}.${mac}`,
      `${version}.${payload}.${flippedMac}`,
      `${version}.${payload}`,
      `${version}.${payload}.`,
      `wvst2.${payload}.${mac}`,
      '',
      'not-a-token',
    ];
    for (const candidate of candidates) {
      for (const id of [endpoint.id, other.id]) {
        const response = await streamWithToken(app, id, candidate);
        expect(response.statusCode, `${candidate} on ${id}: ${response.body}`).toBe(401);
      }
    }

    // A token made with another encryption key (another deployment) does not verify here.
    const { app: elsewhere } = await startApp({
      env: { WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 9).toString('base64') },
    });
    const foreignAccount = signUp(elsewhere);
    const foreignEndpoint = await createEndpoint(elsewhere, foreignAccount.headers);
    const foreign = await issueToken(elsewhere, foreignAccount.headers, foreignEndpoint.id);
    const forged = `${version}.${foreign.token.split('.')[1]}.${foreign.token.split('.')[2]}`;
    const reused = Buffer.from(`${accountId}:${endpoint.id}:${expires}`).toString('base64url');
    expect((await streamWithToken(app, endpoint.id, forged)).statusCode).toBe(401);
    expect(
      (await streamWithToken(app, endpoint.id, `${version}.${reused}.${foreign.token.split('.')[2]}`))
        .statusCode,
    ).toBe(401);
  });

  it("never opens another endpoint or another account's stream with a valid token", async () => {
    const { app } = await startApp();
    const owner = signUp(app);
    const stranger = signUp(app);
    const ownerEndpoint = await createEndpoint(app, owner.headers);
    const ownerOther = await createEndpoint(app, owner.headers, { name: 'second' });
    const strangerEndpoint = await createEndpoint(app, stranger.headers);

    // The stranger cannot even ask for a token for the owner's endpoint.
    const refused = await app.inject({
      method: 'POST',
      url: `/v1/endpoints/${ownerEndpoint.id}/stream-token`,
      headers: stranger.headers,
    });
    expect(refused.statusCode).toBe(404);

    const { token } = await issueToken(app, owner.headers, ownerEndpoint.id);
    for (const id of [ownerOther.id, strangerEndpoint.id]) {
      const response = await streamWithToken(app, id, token);
      expect(response.statusCode, `token of ${ownerEndpoint.id} on ${id}`).toBe(404);
    }
    // The stranger's token for their own endpoint does not open the owner's.
    const strangerToken = await issueToken(app, stranger.headers, strangerEndpoint.id);
    expect((await streamWithToken(app, ownerEndpoint.id, strangerToken.token)).statusCode).toBe(404);

    // A deleted endpoint is gone for its outstanding tokens too.
    const deleted = await app.inject({
      method: 'DELETE',
      url: `/v1/endpoints/${ownerEndpoint.id}`,
      headers: owner.headers,
    });
    expect(deleted.statusCode).toBe(204);
    expect((await streamWithToken(app, ownerEndpoint.id, token)).statusCode).toBe(404);
  });

  it('keeps the token out of logged URLs, wherever it sits in the query', () => {
    for (const url of [
      '/v1/endpoints/ep_1/stream?token=wvst1.secret.mac',
      '/v1/endpoints/ep_1/stream?lastEventId=5&token=wvst1.secret.mac&x=1',
    ]) {
      const logged = redactUrl(url, urlSecrets);
      expect(logged, logged).not.toContain('wvst1.secret.mac');
      expect(logged).toContain('token=[redacted]');
    }
  });

  it('refuses a valid token once its account is suspended', async () => {
    const { app } = await startApp();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers);
    const { token } = await issueToken(app, account.headers, endpoint.id);
    app.billing.repository.setStatus(account.accountId, 'suspended');
    expect((await streamWithToken(app, endpoint.id, token)).statusCode).toBe(403);
  });
});
