import type { errorResponseBuilderContext } from '@fastify/rate-limit';
import { AppError } from '@studio/service-kit';

/** The 429 every limiter answers with, in the envelope, with `retry-after` in whole seconds. */
export function rateLimitedError(max: number, window: string, ttlMs: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError(
    'rate_limited',
    `Rate limit of ${max} requests per ${window} reached; retry in ${retryAfter} s`,
    undefined,
    { 'retry-after': String(retryAfter) },
  );
}

/**
 * An `errorResponseBuilder` for a limiter whose window is `window` ("minute", "hour"). The window is named
 * here because the context @fastify/rate-limit passes carries only the time left (`after`), not the window.
 */
export function rateLimitedResponse(window: string) {
  return (_request: unknown, context: errorResponseBuilderContext): AppError =>
    rateLimitedError(context.max, window, context.ttl);
}
