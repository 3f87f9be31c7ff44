import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

export const configSchema = z.object({
  ...serviceConfigShape(4103),
  /** Failed SDK token checks allowed per client address per minute (SDK routes skip the account limiter). */
  SDK_FAILED_TOKENS_PER_MINUTE: env.int(120, { min: 1, max: 1_000_000 }),
  /** Milliseconds between heartbeat comments on /api/client/streaming (the Node SDK times out after 60 s). */
  STREAMING_HEARTBEAT_MS: env.int(30_000, { min: 1000, max: 55_000 }),
  /** Revisions of changes kept per environment so a reconnecting stream gets only what it missed. */
  STREAMING_HISTORY_REVISIONS: env.int(200, { min: 1, max: 100_000 }),
});

export type Config = z.output<typeof configSchema>;

// The process environment is read here and nowhere else; tests pass their own.
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  return parseConfig('flagbit', configSchema, environment);
}
