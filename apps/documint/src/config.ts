import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

export const configSchema = z.object({
  ...serviceConfigShape(4101),
  /** Where signed download URLs point; unset → the request's own scheme and host. */
  PUBLIC_URL: env.url('the public base URL of DocuMint, e.g. https://api.example.com/documint').optional(),
  TYPST_WORKERS: env.int(2, { min: 1, max: 64 }),
  TYPST_MAX_DOCUMENTS_PER_WORKER: env.int(5000, { min: 1 }),
  TYPST_WORKER_MAX_RSS_BYTES: env.int(384 * 1024 * 1024, { min: 32 * 1024 * 1024 }),
  RENDER_TIMEOUT_MS: env.int(20_000, { min: 100 }),
  RENDER_QUEUE_LIMIT: env.int(200, { min: 1 }),
  CHROMIUM_PATH: env.string('the path of a Chromium binary').default('/usr/bin/chromium'),
  CHROMIUM_PAGES: env.int(2, { min: 1, max: 16 }),
  MAX_BODY_BYTES: env.int(8 * 1024 * 1024, { min: 64 * 1024 }),
  CALLBACK_TIMEOUT_MS: env.int(10_000, { min: 100 }),
  CALLBACK_POLL_INTERVAL_MS: env.int(1000, { min: 50 }),
  RETENTION_SWEEP_INTERVAL_MS: env.int(3_600_000, { min: 1000 }),
});

export type Config = z.output<typeof configSchema>;

// The process environment is read here and nowhere else; tests pass their own.
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  return parseConfig('documint', configSchema, environment);
}
