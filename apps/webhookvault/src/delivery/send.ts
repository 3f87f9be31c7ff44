import { OutboundBlockedError, type OutboundClient } from '@studio/service-kit/outbound';
import { type Dispatcher, request } from 'undici';

/**
 * Sends a captured request on: the stored method, body bytes and headers in their order, with only what a
 * proxy must change changed. Hop-by-hop headers (RFC 9110 §7.6.1, and any named in `Connection`) are dropped,
 * Host and Content-Length are recomputed by the HTTP client for the target; nothing is added.
 */

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'host',
  'content-length',
]);

// A receiver's error page can be long; an attempt keeps only the start of the reason.
const MAX_ERROR_LENGTH = 300;
const MAX_RESPONSE_BYTES = 64 * 1024;

export function forwardedHeaders(headers: readonly [string, string][]): string[] {
  const named = new Set(
    headers
      .filter(([name]) => name.toLowerCase() === 'connection')
      .flatMap(([, value]) => value.split(',').map((token) => token.trim().toLowerCase())),
  );
  const flat: string[] = [];
  for (const [name, value] of headers) {
    const lower = name.toLowerCase();
    if (HOP_BY_HOP.has(lower) || named.has(lower)) continue;
    flat.push(name, value);
  }
  return flat;
}

/** The URL a capture goes to: the target as given, or with the captured sub-path and query appended. */
export function targetUrlFor(targetUrl: string, preservePath: boolean, path: string, query: string): string {
  if (!preservePath) return targetUrl;
  const url = new URL(targetUrl);
  const base = `${url.origin}${url.pathname.replace(/\/$/, '')}${path}`;
  const search = [url.search.slice(1), query].filter((part) => part !== '').join('&');
  return search === '' ? base : `${base}?${search}`;
}

export interface SendResult {
  statusCode: number | null;
  durationMs: number;
  error: string | null;
  /** From a `Retry-After` answer (seconds or an HTTP date), in milliseconds from now. */
  retryAfterMs: number | null;
}

export function parseRetryAfter(value: string | string[] | undefined, nowMs: number): number | null {
  const text = Array.isArray(value) ? value[0] : value;
  if (text === undefined) return null;
  if (/^\d+$/.test(text.trim())) return Number(text.trim()) * 1000;
  const date = Date.parse(text);
  return Number.isNaN(date) ? null : Math.max(0, date - nowMs);
}

function truncate(text: string): string {
  return text.length > MAX_ERROR_LENGTH ? `${text.slice(0, MAX_ERROR_LENGTH)}…` : text;
}

export async function sendCaptured(
  client: OutboundClient,
  input: {
    url: string;
    method: string;
    headers: readonly [string, string][];
    body: Buffer;
    timeoutMs: number;
  },
  nowMs: number,
): Promise<SendResult> {
  const started = performance.now();
  const signal = AbortSignal.timeout(input.timeoutMs);
  const elapsed = () => Math.round(performance.now() - started);
  try {
    // The guarded dispatcher checks every address it connects to; `request` is used directly (not the
    // client's helper) because that helper takes headers as an object, which would lose order and repeats.
    const response = await request(input.url, {
      dispatcher: client.dispatcher,
      method: input.method as Dispatcher.HttpMethod,
      headers: forwardedHeaders(input.headers),
      body: input.body.length > 0 || !['GET', 'HEAD'].includes(input.method) ? input.body : undefined,
      signal,
    });
    let received = 0;
    for await (const chunk of response.body) {
      received += (chunk as Buffer).length;
      if (received > MAX_RESPONSE_BYTES) break;
    }
    const status = response.statusCode;
    const ok = status >= 200 && status < 300;
    return {
      statusCode: status,
      durationMs: elapsed(),
      error: ok
        ? null
        : status >= 300 && status < 400
          ? `receiver answered ${status}; redirects are not followed`
          : `receiver answered ${status}`,
      retryAfterMs: ok ? null : parseRetryAfter(response.headers['retry-after'], nowMs),
    };
  } catch (error) {
    const message =
      error instanceof OutboundBlockedError
        ? error.message
        : signal.aborted
          ? `timed out after ${input.timeoutMs} ms`
          : error instanceof Error
            ? `${error.message}${(error as { code?: string }).code ? ` (${(error as { code?: string }).code})` : ''}`
            : String(error);
    return { statusCode: null, durationMs: elapsed(), error: truncate(message), retryAfterMs: null };
  }
}
