import { AppError } from '@studio/service-kit';

/**
 * The studio's 429, with `retry-after` in whole seconds. The billing package has the same helper but does not
 * export it (see the report), so it is repeated here with the same wording.
 */
export function rateLimitedError(max: number, window: string, ttlMs: number): AppError {
  const retryAfter = Math.max(1, Math.ceil(ttlMs / 1000));
  return new AppError(
    'rate_limited',
    `Rate limit of ${max} requests per ${window} reached; retry in ${retryAfter} s`,
    undefined,
    { 'retry-after': String(retryAfter) },
  );
}
