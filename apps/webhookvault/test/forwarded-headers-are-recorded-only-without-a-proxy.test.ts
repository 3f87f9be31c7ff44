import { describe, expect, it } from 'vitest';
import { createEndpoint, getCapture, signUp, startApp } from './harness';

async function captureWithForwardedHeaders(trustProxy: 'true' | 'false') {
  const { app } = await startApp({ env: { TRUST_PROXY: trustProxy } });
  const account = signUp(app);
  const endpoint = await createEndpoint(app, account.headers);
  const captured = await app.inject({
    method: 'POST',
    url: `/h/${endpoint.token}`,
    remoteAddress: '127.0.0.1',
    headers: {
      'x-forwarded-for': '198.51.100.7',
      'X-Forwarded-Proto': 'https',
      'x-forwarded-host': 'hooks.example',
      'x-forwarded-port': '443',
      'x-sender': 'kept',
    },
    payload: 'body',
  });
  expect(captured.statusCode, captured.body).toBe(200);
  const { captureId } = captured.json() as { captureId: string };
  return getCapture(app, captureId, account.headers);
}

describe('X-Forwarded-* headers in a capture', () => {
  it('leaves out the three the proxy sets and records the forwarded address when TRUST_PROXY is true', async () => {
    const capture = await captureWithForwardedHeaders('true');
    const names = capture.headers.map(([name]) => name.toLowerCase());
    expect(names).not.toContain('x-forwarded-for');
    expect(names).not.toContain('x-forwarded-proto');
    expect(names).not.toContain('x-forwarded-host');
    // Only the three Caddy writes are the proxy's; any other header, X-Forwarded-Port included, is the sender's.
    expect(names).toContain('x-forwarded-port');
    expect(names).toContain('x-sender');
    expect(capture.remoteAddress).toBe('198.51.100.7');
  });

  it('records every header as sent, and the socket address, when TRUST_PROXY is false', async () => {
    const capture = await captureWithForwardedHeaders('false');
    const recorded = capture.headers.map(([name, value]) => [name.toLowerCase(), value]);
    expect(recorded).toEqual(
      expect.arrayContaining([
        ['x-forwarded-for', '198.51.100.7'],
        ['x-forwarded-proto', 'https'],
        ['x-forwarded-host', 'hooks.example'],
      ]),
    );
    expect(capture.remoteAddress).toBe('127.0.0.1');
  });
});
