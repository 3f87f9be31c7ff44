import { createHmac, timingSafeEqual } from 'node:crypto';
import type { VerificationStatus, VerifyScheme } from '../repository';

/**
 * Signature checks on capture, one per provider scheme, over the raw body bytes. Each follows the provider's
 * documented algorithm and is tested to agree with the provider's own library (`stripe`, `standardwebhooks`)
 * on the same inputs; they are written here rather than called because the libraries read the wall clock
 * (standardwebhooks) or parse the body as JSON, and a capture must be judged at its own receive time.
 */

export interface Verification {
  status: VerificationStatus;
  reason?: string;
}

/** Stripe and Standard Webhooks both allow five minutes of clock skew. */
export const TOLERANCE_SECONDS = 300;

function header(headers: readonly [string, string][], name: string): string | undefined {
  const lower = name.toLowerCase();
  return headers.find(([key]) => key.toLowerCase() === lower)?.[1];
}

function hmac(secret: string | Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', secret);
  for (const part of parts) mac.update(part);
  return mac.digest();
}

function sameText(a: string, b: string): boolean {
  const left = Buffer.from(a, 'utf8');
  const right = Buffer.from(b, 'utf8');
  return left.length === right.length && timingSafeEqual(left, right);
}

const failed = (reason: string): Verification => ({ status: 'failed', reason });
const verified: Verification = { status: 'verified' };

/** `Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`, HMAC-SHA256 of `${t}.${body}` with the whsec_ secret. */
function verifyStripe(headers: readonly [string, string][], body: Buffer, secret: string, nowMs: number) {
  const value = header(headers, 'stripe-signature');
  if (value === undefined) return failed('missing Stripe-Signature header');
  let timestamp: number | undefined;
  const signatures: string[] = [];
  for (const item of value.split(',')) {
    const [key, ...rest] = item.split('=');
    const itemValue = rest.join('=');
    if (key === 't') timestamp = Number.parseInt(itemValue, 10);
    else if (key === 'v1') signatures.push(itemValue);
  }
  if (timestamp === undefined || Number.isNaN(timestamp) || signatures.length === 0) {
    return failed('Stripe-Signature has no timestamp or no v1 signature');
  }
  const expected = hmac(secret, `${timestamp}.`, body).toString('hex');
  if (!signatures.some((signature) => sameText(signature, expected))) {
    return failed('no v1 signature matches the body (wrong secret or altered body)');
  }
  if (Math.floor(nowMs / 1000) - timestamp > TOLERANCE_SECONDS) {
    return failed(`timestamp is more than ${TOLERANCE_SECONDS} s old`);
  }
  return verified;
}

/** `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`. */
function verifyGithub(headers: readonly [string, string][], body: Buffer, secret: string) {
  const value = header(headers, 'x-hub-signature-256');
  if (value === undefined) return failed('missing X-Hub-Signature-256 header');
  if (!value.startsWith('sha256=')) return failed('X-Hub-Signature-256 does not start with sha256=');
  const expected = `sha256=${hmac(secret, body).toString('hex')}`;
  return sameText(value.trim(), expected) ? verified : failed('signature does not match the body');
}

/** `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`. */
function verifyShopify(headers: readonly [string, string][], body: Buffer, secret: string) {
  const value = header(headers, 'x-shopify-hmac-sha256');
  if (value === undefined) return failed('missing X-Shopify-Hmac-Sha256 header');
  const expected = hmac(secret, body).toString('base64');
  return sameText(value.trim(), expected) ? verified : failed('signature does not match the body');
}

/**
 * Standard Webhooks: HMAC-SHA256 of `${webhook-id}.${webhook-timestamp}.${body}` with the base64 key after
 * `whsec_`; `webhook-signature` holds space-separated `v1,<base64>` entries (several during a key rotation);
 * the timestamp must be within five minutes either way.
 */
function verifyStandardWebhooks(
  headers: readonly [string, string][],
  body: Buffer,
  secret: string,
  nowMs: number,
) {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatureHeader = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatureHeader) {
    return failed('missing webhook-id, webhook-timestamp or webhook-signature header');
  }
  const timestamp = Number.parseInt(timestampText, 10);
  if (Number.isNaN(timestamp)) return failed('webhook-timestamp is not a number');
  const now = Math.floor(nowMs / 1000);
  if (now - timestamp > TOLERANCE_SECONDS) return failed('webhook-timestamp is too old');
  if (timestamp > now + TOLERANCE_SECONDS) return failed('webhook-timestamp is too far in the future');
  const key = Buffer.from(secret.startsWith('whsec_') ? secret.slice('whsec_'.length) : secret, 'base64');
  const expected = hmac(key, `${id}.${timestamp}.`, body).toString('base64');
  for (const entry of signatureHeader.split(' ')) {
    const [version, signature] = entry.split(',');
    if (version === 'v1' && signature !== undefined && sameText(signature, expected)) return verified;
  }
  return failed('no v1 signature matches the body (wrong secret or altered body)');
}

export function verifySignature(
  config: { scheme: VerifyScheme; secret: string } | null,
  headers: readonly [string, string][],
  body: Buffer,
  nowMs: number,
): Verification {
  if (config === null) return { status: 'not_configured' };
  switch (config.scheme) {
    case 'stripe':
      return verifyStripe(headers, body, config.secret, nowMs);
    case 'github':
      return verifyGithub(headers, body, config.secret);
    case 'shopify':
      return verifyShopify(headers, body, config.secret);
    case 'standard-webhooks':
      return verifyStandardWebhooks(headers, body, config.secret, nowMs);
  }
}
