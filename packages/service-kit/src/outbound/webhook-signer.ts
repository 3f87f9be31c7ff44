import { randomBytes } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import type { OutboundClient } from './ssrf-guard';

/**
 * Standard Webhooks (https://www.standardwebhooks.com/) signing, via the reference `standardwebhooks` library
 * so receivers can verify with any Standard Webhooks or Svix SDK. The signed content is
 * `${webhook-id}.${webhook-timestamp}.${body}`, HMAC-SHA256 with the base64-decoded secret.
 */

const SECRET_PREFIX = 'whsec_';
const SECRET_BYTES = 32;
// A receiver's error page can be long HTML; a delivery record keeps only its start.
const MAX_ERROR_LENGTH = 300;

export interface WebhookSignatureHeaders {
  'webhook-id': string;
  /** Unix seconds. */
  'webhook-timestamp': string;
  /** `v1,<base64 HMAC-SHA256>`. */
  'webhook-signature': string;
}

/** A new signing secret: `whsec_` + base64 of 32 random bytes, the format Standard Webhooks SDKs accept. */
export function generateWebhookSecret(): string {
  return `${SECRET_PREFIX}${randomBytes(SECRET_BYTES).toString('base64')}`;
}

/** A new message id: `msg_` + 128 random bits (base64url). */
export function newMessageId(): string {
  return `msg_${randomBytes(16).toString('base64url')}`;
}

export function signWebhook(input: {
  secret: string;
  messageId: string;
  timestamp: Date;
  body: string;
}): WebhookSignatureHeaders {
  const signature = new Webhook(input.secret).sign(input.messageId, input.timestamp, input.body);
  return {
    'webhook-id': input.messageId,
    'webhook-timestamp': String(Math.floor(input.timestamp.getTime() / 1000)),
    'webhook-signature': signature,
  };
}

export interface SendSignedWebhookInput {
  client: OutboundClient;
  url: string | URL;
  secret: string;
  /** Serialised with JSON.stringify; the exact bytes sent are the bytes signed. */
  payload: object;
  /**
   * Pass the id of the first attempt when retrying the same event: receivers dedupe on `webhook-id`, so a
   * retry must keep it. Omit it for a new event and store the returned `messageId` for later retries.
   */
  messageId?: string;
  /** When the attempt is signed; defaults to now. Each attempt, retries included, gets a fresh timestamp
   * because receivers reject signatures older than a few minutes. */
  timestamp?: Date;
  timeoutMs?: number;
}

export interface WebhookDeliveryResult {
  messageId: string;
  /** The receiver's HTTP status, or null when no response arrived (refused, timed out, connection error). */
  status: number | null;
  /** True only for a 2xx; a 3xx is not followed and counts as a failure. */
  ok: boolean;
  durationMs: number;
  /** Why the delivery failed, truncated; absent when ok. */
  error?: string;
}

/**
 * POSTs a signed JSON webhook through the SSRF-guarded client. Delivery failures (refused address, timeout,
 * connection error, non-2xx answer) are returned, not thrown, so callers can record the attempt and retry.
 */
export async function sendSignedWebhook(input: SendSignedWebhookInput): Promise<WebhookDeliveryResult> {
  const messageId = input.messageId ?? newMessageId();
  const body = JSON.stringify(input.payload);
  const headers = signWebhook({
    secret: input.secret,
    messageId,
    timestamp: input.timestamp ?? new Date(),
    body,
  });

  const startedAt = performance.now();
  try {
    const response = await input.client.request(input.url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body,
      timeoutMs: input.timeoutMs,
    });
    const ok = response.status >= 200 && response.status < 300;
    return {
      messageId,
      status: response.status,
      ok,
      durationMs: response.durationMs,
      ...(ok ? {} : { error: describeFailedStatus(response.status, response.body) }),
    };
  } catch (error) {
    return {
      messageId,
      status: null,
      ok: false,
      durationMs: Math.round(performance.now() - startedAt),
      error: truncate(error instanceof Error ? error.message : String(error)),
    };
  }
}

function describeFailedStatus(status: number, body: Buffer): string {
  if (status >= 300 && status < 400) return `receiver answered ${status}; redirects are not followed`;
  const text = body.toString('utf8').trim();
  return truncate(text === '' ? `receiver answered ${status}` : `receiver answered ${status}: ${text}`);
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}
