import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceSample } from '../src/templates/invoice';
import { type Harness, pdfTool, startHarness } from './harness';
import { startReceiver, verifySignature } from './receiver';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({}, { callbackDelaysMs: [0, 0, 0] });
});
afterAll(() => harness.close());

describe('async documents', () => {
  it('answers 202 at once, renders in the background and sends a signed success callback', async () => {
    const receiver = startReceiver();
    const base = await receiver.listen();
    try {
      const { auth, accountId } = harness.account();
      const response = await harness.app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: auth,
        payload: {
          template: 'invoice',
          data: invoiceSample,
          async: true,
          callbackUrl: `${base}/hooks/documint`,
        },
      });
      expect(response.statusCode, response.body).toBe(202);
      const { id, status } = response.json();
      expect(status).toBe('queued');
      await receiver.waitFor(1);
      const [callback] = receiver.received;
      const secret = harness.app.billing.repository.findAccount(accountId)!.webhookSecret;
      expect(verifySignature(secret, callback!)).toBe(true);
      const payload = JSON.parse(callback!.body);
      expect(payload).toMatchObject({
        type: 'document.succeeded',
        data: { id, status: 'succeeded', pages: 1 },
      });
      const pdf = await harness.app.inject({
        method: 'GET',
        url: new URL(payload.data.url).pathname + new URL(payload.data.url).search,
      });
      expect(pdfTool('pdftotext', pdf.rawPayload)).toContain('INV-2026-0042');
      const meta = await harness.app.inject({ method: 'GET', url: `/v1/documents/${id}`, headers: auth });
      expect(meta.json().status).toBe('succeeded');
    } finally {
      await receiver.close();
    }
  });

  it('sends a failure callback when rendering fails, and retries a refused delivery with the same webhook-id', async () => {
    const receiver = startReceiver([500, 503]);
    const base = await receiver.listen();
    try {
      const { auth } = harness.account();
      const template = await harness.app.inject({
        method: 'POST',
        url: '/v1/templates',
        headers: auth,
        payload: { name: 'Broken', engine: 'typst', source: '#panic("boom")', schema: { type: 'object' } },
      });
      const response = await harness.app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: auth,
        payload: {
          template: template.json().id,
          version: 1,
          data: {},
          async: true,
          callbackUrl: `${base}/failed`,
        },
      });
      expect(response.statusCode, response.body).toBe(202);
      await receiver.waitFor(3);
      await harness.app.documint.documents.idle();
      const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
      expect(ids.size).toBe(1);
      const payload = JSON.parse(receiver.received[2]!.body);
      expect(payload).toMatchObject({
        type: 'document.failed',
        data: { status: 'failed', error: expect.stringMatching(/boom/) },
      });
      const meta = await harness.app.inject({
        method: 'GET',
        url: `/v1/documents/${response.json().id}`,
        headers: auth,
      });
      expect(meta.json()).toMatchObject({
        status: 'failed',
        url: null,
        callbacks: [
          { attempt: 1, status: 500, ok: false },
          { attempt: 2, status: 503, ok: false },
          { attempt: 3, status: 200, ok: true },
        ],
      });
    } finally {
      await receiver.close();
    }
  });

  it('answers 422 at once for invalid data, async or not, and sends nothing', async () => {
    const receiver = startReceiver();
    const base = await receiver.listen();
    try {
      const { auth } = harness.account();
      const response = await harness.app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: auth,
        payload: { template: 'invoice', data: { number: 'x' }, async: true, callbackUrl: `${base}/x` },
      });
      expect(response.statusCode).toBe(422);
      expect(response.json().error.details.length).toBeGreaterThan(3);
      await harness.app.documint.documents.idle();
      expect(receiver.received).toEqual([]);
    } finally {
      await receiver.close();
    }
  });

  it('refuses a callback URL the SSRF guard blocks', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: {
        template: 'invoice',
        data: invoiceSample,
        async: true,
        callbackUrl: 'http://169.254.169.254/latest',
      },
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.details[0].path).toBe('/callbackUrl');
  });
});
