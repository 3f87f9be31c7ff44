import { parseConfig, serviceConfigShape } from '@studio/service-kit';
import { z } from 'zod';

export const configSchema = z.object({
  ...serviceConfigShape(4101),
});

export type Config = z.output<typeof configSchema>;

export function loadConfig(environment: Record<string, string | undefined>): Config {
  return parseConfig('documint', configSchema, environment);
}
