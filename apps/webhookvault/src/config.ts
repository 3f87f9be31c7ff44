import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

const KEY_BYTES = 32;

/**
 * Keys that were current before a rotation: comma-separated base64 keys of exactly 32 bytes each, kept only to
 * read records written with them until `webhookvault keys:rotate` has re-encrypted everything.
 */
const previousKeys = z
  .string()
  .transform((value, ctx) => {
    const keys: Buffer[] = [];
    for (const [index, raw] of value.split(',').entries()) {
      const entry = raw.trim();
      const key = /^[A-Za-z0-9+/_-]+={0,2}$/.test(entry)
        ? Buffer.from(entry, entry.includes('-') || entry.includes('_') ? 'base64url' : 'base64')
        : undefined;
      if (key === undefined || key.length !== KEY_BYTES) {
        ctx.addIssue({
          code: 'custom',
          message: `entry ${index + 1} ${key === undefined ? 'is not base64' : `decodes to ${key.length} bytes`}; each entry must be base64 of exactly ${KEY_BYTES} bytes`,
        });
        return z.NEVER;
      }
      keys.push(key);
    }
    return keys;
  })
  .optional()
  .describe(`comma-separated base64 keys of exactly ${KEY_BYTES} bytes each`);

export const configSchema = z.object({
  ...serviceConfigShape(4104),
  WEBHOOKVAULT_ENCRYPTION_KEY: env.base64Key(KEY_BYTES),
  WEBHOOKVAULT_PREVIOUS_KEYS: previousKeys,
  CAPTURE_BODY_LIMIT: env.int(25 * 1024 * 1024, { min: 1 }),
  /** The public base of capture URLs (e.g. https://studio.example/webhookvault); defaults to the request's host. */
  WEBHOOKVAULT_PUBLIC_URL: env.url('the public base URL of capture links').optional(),
  RETENTION_INTERVAL_MS: env.int(60_000, { min: 1000 }),
  DELIVERY_POLL_MS: env.int(1000, { min: 10 }),
  /**
   * FULL (default) fsyncs the WAL at every commit: an acknowledged capture survives a power loss. NORMAL
   * fsyncs only at checkpoints: an acknowledged capture still survives a crash or kill -9 of the process, but
   * the last commits before a power loss can be lost; in exchange capture throughput roughly doubles here.
   */
  WEBHOOKVAULT_SQLITE_SYNCHRONOUS: z.enum(['FULL', 'NORMAL']).default('FULL').describe('FULL or NORMAL'),
});

export type Config = z.output<typeof configSchema>;

// The process environment is read here and nowhere else; tests pass their own.
export function loadConfig(environment: Record<string, string | undefined> = process.env): Config {
  return parseConfig('webhookvault', configSchema, environment);
}
