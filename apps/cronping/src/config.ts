import { env, parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

export const configSchema = z.object({
  ...serviceConfigShape(4102),
  PING_BODY_LIMIT: env.int(100_000, { min: 0, max: 10 * 1024 * 1024 }),
});

export type Config = z.output<typeof configSchema>;

export function loadConfig(environment: Record<string, string | undefined>): Config {
  return parseConfig('cronping', configSchema, environment);
}
