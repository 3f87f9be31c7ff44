import { createHmac, hkdfSync, timingSafeEqual } from 'node:crypto';
import type { Clock } from './clock';

/**
 * Short-lived tokens for the SSE stream. A browser's `EventSource` cannot send an Authorization header, and an
 * API key in a URL would end up in browser history, proxies and access logs; so an API-key holder asks for a
 * token that opens one endpoint's stream of one account for five minutes, and passes it as `?token=`.
 *
 * Format: `wvst1.<base64url("<accountId>:<endpointId>:<expiresMs>")>.<base64url(HMAC-SHA256)>`, the MAC over
 * everything before the last dot. The MAC key is derived with HKDF from WEBHOOKVAULT_ENCRYPTION_KEY (its own
 * `info`, so it is never the encryption key itself): no new variable to configure, and rotating the encryption
 * key invalidates outstanding stream tokens, which costs a browser one token request at most.
 * Trade-off: a token is not revoked with the API key that asked for it; it simply expires within 5 minutes.
 * It only opens a stream; it is checked once, when the stream is opened, so an open stream outlives it, as an
 * EventSource reconnecting after expiry needs a new token.
 */

export const STREAM_TOKEN_TTL_MS = 5 * 60_000;
const VERSION = 'wvst1';

export interface StreamGrant {
  accountId: string;
  endpointId: string;
  expiresMs: number;
}

export type StreamTokenCheck =
  | { ok: true; grant: StreamGrant }
  | { ok: false; reason: 'malformed' | 'bad_signature' | 'expired' };

export class StreamTokens {
  private readonly key: Buffer;

  constructor(
    secret: Buffer,
    private readonly clock: Clock,
  ) {
    this.key = Buffer.from(hkdfSync('sha256', secret, 'webhookvault', 'webhookvault stream token v1', 32));
  }

  issue(accountId: string, endpointId: string): { token: string; expiresMs: number } {
    const expiresMs = this.clock.now() + STREAM_TOKEN_TTL_MS;
    const signed = `${VERSION}.${Buffer.from(`${accountId}:${endpointId}:${expiresMs}`, 'utf8').toString('base64url')}`;
    return { token: `${signed}.${this.mac(signed).toString('base64url')}`, expiresMs };
  }

  check(token: string): StreamTokenCheck {
    const parts = token.split('.');
    if (parts.length !== 3 || parts[0] !== VERSION) return { ok: false, reason: 'malformed' };
    const [, payload = '', macText = ''] = parts;
    const presented = Buffer.from(macText, 'base64url');
    const expected = this.mac(`${VERSION}.${payload}`);
    // Compared before anything of the payload is trusted; equal length first, as timingSafeEqual requires.
    if (presented.length !== expected.length || !timingSafeEqual(presented, expected)) {
      return { ok: false, reason: 'bad_signature' };
    }
    const fields = Buffer.from(payload, 'base64url').toString('utf8').split(':');
    const [accountId, endpointId, expiresText] = fields;
    const expiresMs = Number(expiresText);
    if (fields.length !== 3 || !accountId || !endpointId || !Number.isSafeInteger(expiresMs)) {
      return { ok: false, reason: 'malformed' };
    }
    if (this.clock.now() >= expiresMs) return { ok: false, reason: 'expired' };
    return { ok: true, grant: { accountId, endpointId, expiresMs } };
  }

  private mac(signed: string): Buffer {
    return createHmac('sha256', this.key).update(signed, 'utf8').digest();
  }
}
