import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createOutboundClient,
  generateWebhookSecret,
  newMessageId,
  parseOutboundAllowlist,
  sendSignedWebhook,
  signWebhook,
} from '../../src/outbound';
import { type ReceivedRequest, startTestServer, type TestServer } from './harness';

// A fixed clock: signatures are made at this instant and verified with Date pinned to it, since
// Webhook.verify rejects timestamps more than five minutes from its idea of now.
const SIGNED_AT = new Date('2025-03-01T12:00:00.000Z');

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

async function receiver(status = 204): Promise<TestServer> {
  const server = await startTestServer((_, res) => res.writeHead(status).end());
  cleanups.push(() => server.close());
  return server;
}

function loopbackClient() {
  const client = createOutboundClient({ allowlist: parseOutboundAllowlist('127.0.0.1') });
  cleanups.push(() => client.close());
  return client;
}

function signatureHeaders(request: ReceivedRequest): Record<string, string> {
  const {
    'webhook-id': id,
    'webhook-timestamp': timestamp,
    'webhook-signature': signature,
  } = request.headers;
  return {
    'webhook-id': String(id),
    'webhook-timestamp': String(timestamp),
    'webhook-signature': String(signature),
  };
}

function verifyAt(at: Date, secret: string, body: string, headers: Record<string, string>): unknown {
  vi.setSystemTime(at);
  return new Webhook(secret).verify(body, headers);
}

describe('generateWebhookSecret', () => {
  it('returns whsec_ followed by base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+={0,2}$/);
    expect(Buffer.from(secret.slice('whsec_'.length), 'base64')).toHaveLength(32);
  });

  it('returns a different secret each time', () => {
    expect(generateWebhookSecret()).not.toBe(generateWebhookSecret());
  });
});

describe('newMessageId', () => {
  it('returns a distinct msg_-prefixed id each time', () => {
    const first = newMessageId();
    expect(first).toMatch(/^msg_[A-Za-z0-9_-]{22}$/);
    expect(newMessageId()).not.toBe(first);
  });
});

describe('signWebhook', () => {
  it('produces Standard Webhooks headers that Webhook.verify accepts', () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ type: 'check.down', data: { checkId: 'chk_1' } });
    const headers = signWebhook({ secret, messageId: 'msg_1', timestamp: SIGNED_AT, body });

    expect(headers['webhook-id']).toBe('msg_1');
    expect(headers['webhook-timestamp']).toBe(String(SIGNED_AT.getTime() / 1000));
    expect(headers['webhook-signature']).toMatch(/^v1,[A-Za-z0-9+/]+={0,2}$/);
    expect(verifyAt(SIGNED_AT, secret, body, { ...headers })).toEqual({
      type: 'check.down',
      data: { checkId: 'chk_1' },
    });
  });

  it('makes a signature that fails verification once the body is tampered with', () => {
    const secret = generateWebhookSecret();
    const body = JSON.stringify({ amount: 10 });
    const headers = signWebhook({ secret, messageId: 'msg_1', timestamp: SIGNED_AT, body });
    expect(() => verifyAt(SIGNED_AT, secret, JSON.stringify({ amount: 1000 }), { ...headers })).toThrow(
      WebhookVerificationError,
    );
  });

  it('makes a signature that fails verification with another secret', () => {
    const body = '{}';
    const headers = signWebhook({
      secret: generateWebhookSecret(),
      messageId: 'msg_1',
      timestamp: SIGNED_AT,
      body,
    });
    expect(() => verifyAt(SIGNED_AT, generateWebhookSecret(), body, { ...headers })).toThrow(
      WebhookVerificationError,
    );
  });
});

describe('sendSignedWebhook', () => {
  it('POSTs the JSON payload with a signature the receiver can verify', async () => {
    const target = await receiver();
    const secret = generateWebhookSecret();
    const result = await sendSignedWebhook({
      client: loopbackClient(),
      url: `${target.origin}/hooks`,
      secret,
      payload: { type: 'doc.rendered', data: { id: 'doc_1' } },
      timestamp: SIGNED_AT,
    });

    expect(result).toMatchObject({ status: 204, ok: true });
    expect(result.error).toBeUndefined();
    expect(result.messageId).toMatch(/^msg_/);
    const [delivered] = target.requests;
    expect(delivered?.method).toBe('POST');
    expect(delivered?.headers['content-type']).toBe('application/json');
    expect(delivered?.headers['webhook-id']).toBe(result.messageId);
    expect(delivered?.body).toBe('{"type":"doc.rendered","data":{"id":"doc_1"}}');
    expect(verifyAt(SIGNED_AT, secret, delivered?.body ?? '', signatureHeaders(delivered!))).toEqual({
      type: 'doc.rendered',
      data: { id: 'doc_1' },
    });
  });

  it('keeps webhook-id on a retry that passes the first messageId, so the receiver can dedupe', async () => {
    const target = await receiver(503);
    const client = loopbackClient();
    const secret = generateWebhookSecret();
    const payload = { type: 'check.down' };
    const retriedAt = new Date(SIGNED_AT.getTime() + 60_000);

    const first = await sendSignedWebhook({
      client,
      url: target.origin,
      secret,
      payload,
      timestamp: SIGNED_AT,
    });
    const retry = await sendSignedWebhook({
      client,
      url: target.origin,
      secret,
      payload,
      messageId: first.messageId,
      timestamp: retriedAt,
    });

    expect(retry.messageId).toBe(first.messageId);
    const [firstRequest, retryRequest] = target.requests;
    expect(retryRequest?.headers['webhook-id']).toBe(firstRequest?.headers['webhook-id']);
    expect(retryRequest?.headers['webhook-timestamp']).toBe(String(retriedAt.getTime() / 1000));
    expect(() =>
      verifyAt(retriedAt, secret, retryRequest?.body ?? '', signatureHeaders(retryRequest!)),
    ).not.toThrow();
  });

  it('reports a non-2xx answer as a failed delivery with the status', async () => {
    const target = await receiver(500);
    const result = await sendSignedWebhook({
      client: loopbackClient(),
      url: target.origin,
      secret: generateWebhookSecret(),
      payload: {},
    });
    expect(result).toMatchObject({ status: 500, ok: false, error: 'receiver answered 500' });
  });

  it('reports a refused target as a failed delivery without throwing', async () => {
    const client = createOutboundClient({ allowlist: parseOutboundAllowlist(undefined) });
    cleanups.push(() => client.close());
    const result = await sendSignedWebhook({
      client,
      url: 'http://169.254.169.254/latest/meta-data/',
      secret: generateWebhookSecret(),
      payload: {},
    });
    expect(result).toMatchObject({ status: null, ok: false });
    expect(result.error).toMatch(/^refusing to connect to 169\.254\.169\.254 \(linkLocal\)/);
  });
});
