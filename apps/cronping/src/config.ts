import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

export const configSchema = z.object({
  ...serviceConfigShape(4102),
  PING_BODY_LIMIT: env.int(100_000, { min: 0, max: 10 * 1024 * 1024 }),
  /** Base of the URLs the API hands out (ping_url, update_url, badge_url). */
  PUBLIC_URL: env.url('the public http(s) base URL of CronPing').default('http://127.0.0.1:4102'),
  /** SMTP server for email alerts, e.g. smtp://user:pass@mail.example.com:587; unset disables email. */
  SMTP_URL: env.string('an smtp:// or smtps:// URL').optional(),
  SMTP_FROM: env.string('a From address').default('CronPing <alerts@cronping.invalid>'),
  /** Opt-in: WAL checkpoints from a worker thread every this many ms (0, the default: SQLite's own, in-thread). */
  WAL_CHECKPOINT_INTERVAL_MS: env.int(0, { min: 0, max: 60_000 }),
  ALERT_MAX_ATTEMPTS: env.int(8, { min: 1, max: 50 }),
  ALERT_RETRY_BASE_MS: env.int(5_000, { min: 0, max: 3_600_000 }),
  ALERT_TIMEOUT_MS: env.int(10_000, { min: 100, max: 120_000 }),
});

export type Config = z.output<typeof configSchema>;

// The process environment is read here and nowhere else; tests pass their own.
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  return parseConfig('cronping', configSchema, environment);
}
