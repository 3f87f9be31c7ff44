import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

export const configSchema = z.object({
  ...serviceConfigShape(4104),
  WEBHOOKVAULT_ENCRYPTION_KEY: env.base64Key(32),
  CAPTURE_BODY_LIMIT: env.int(25 * 1024 * 1024, { min: 1 }),
});

export type Config = z.output<typeof configSchema>;

export function loadConfig(environment: Record<string, string | undefined>): Config {
  return parseConfig('webhookvault', configSchema, environment);
}
