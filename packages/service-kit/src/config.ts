import { z } from 'zod';
import { parseOutboundAllowlist } from './outbound/ssrf-guard';

/**
 * Config is read from the environment once, at start, through one zod schema per app.
 *
 * The rule that shapes this module: a variable set to an empty string is an error, never a value and never a
 * silent fallback to a default. An empty interpolation in a compose file once overrode a correct webhook
 * secret; the service started, and every webhook failed signature checks for reasons nobody could see.
 */

export interface ConfigIssue {
  variable: string;
  message: string;
}

export class ConfigError extends Error {
  constructor(
    readonly service: string,
    readonly issues: ConfigIssue[],
  ) {
    super(
      `${service}: invalid configuration\n${issues.map((issue) => `  - ${issue.variable} ${issue.message}`).join('\n')}`,
    );
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

/**
 * Parses `env` with `schema`, whose keys are the variable names. Every problem is reported at once, each
 * naming its variable and what it expected.
 */
export function parseConfig<Shape extends z.ZodRawShape>(
  service: string,
  schema: z.ZodObject<Shape>,
  env: Env,
): z.output<z.ZodObject<Shape>> {
  const issues: ConfigIssue[] = [];
  const input: Env = {};
  for (const variable of Object.keys(schema.shape)) {
    const value = env[variable];
    if (value === undefined) continue;
    if (value.trim() === '') {
      const expected = (schema.shape[variable] as z.ZodType | undefined)?.description;
      issues.push({
        variable,
        message: `is set but empty; an empty value is never used, not even as the default: unset it or set it to ${expected ?? 'a value'}`,
      });
      continue;
    }
    input[variable] = value;
  }
  const result = schema.safeParse(input);
  if (!result.success) {
    for (const issue of result.error.issues) {
      const variable = String(issue.path[0] ?? '(config)');
      if (issues.some((known) => known.variable === variable)) continue;
      const expected = (schema.shape[variable] as z.ZodType | undefined)?.description;
      const message =
        issue.code === 'invalid_type' && input[variable] === undefined
          ? `is required: set it to ${expected ?? 'a value'}`
          : `${issue.message}${expected && !issue.message.includes(expected) ? ` (expected ${expected})` : ''}`;
      issues.push({ variable, message });
    }
  }
  if (issues.length > 0) throw new ConfigError(service, issues);
  return (result as { data: z.output<z.ZodObject<Shape>> }).data;
}

/** Builders for environment values: each carries a description that error messages quote. */
export const env = {
  string: (description = 'a non-empty string') => z.string().describe(description),

  port: (fallback: number) =>
    z
      .string()
      .regex(/^\d{1,5}$/, 'must be a TCP port number')
      .transform(Number)
      .pipe(z.number().int().min(0).max(65535))
      .default(fallback)
      .describe('a TCP port number (0-65535)'),

  int: (fallback: number, { min = 0, max = Number.MAX_SAFE_INTEGER } = {}) =>
    z
      .string()
      .regex(/^-?\d+$/, 'must be an integer')
      .transform(Number)
      .pipe(z.number().int().min(min).max(max))
      .default(fallback)
      .describe(`an integer between ${min} and ${max}`),

  number: (fallback: number, { min = 0 } = {}) =>
    z
      .string()
      .regex(/^\d+(\.\d+)?$/, 'must be a number')
      .transform(Number)
      .pipe(z.number().min(min))
      .default(fallback)
      .describe(`a number >= ${min}`),

  boolean: (fallback: boolean) =>
    z
      .enum(['true', 'false', '1', '0'], { message: 'must be true or false' })
      .transform((value) => value === 'true' || value === '1')
      .default(fallback)
      .describe('true or false'),

  url: (description = 'an http(s) URL') =>
    z
      .string()
      .refine((value) => URL.canParse(value) && /^https?:$/.test(new URL(value).protocol), {
        message: `must be ${description}`,
      })
      .transform((value) => value.replace(/\/+$/, ''))
      .describe(description),

  logLevel: () =>
    z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('one of fatal, error, warn, info, debug, trace, silent'),

  /** A shared secret compared as text (bearer tokens): only a minimum length. */
  token: (minBytes: number) =>
    z
      .string()
      .superRefine((value, ctx) => {
        const bytes = Buffer.byteLength(value, 'utf8');
        if (bytes < minBytes) {
          ctx.addIssue({
            code: 'custom',
            message: `is ${bytes} bytes long; it needs at least ${minBytes} bytes (generate one with: openssl rand -hex ${minBytes})`,
          });
        }
      })
      .describe(`a secret of at least ${minBytes} bytes`),

  /**
   * A binary key given as base64: decoded and checked for its exact length, so a key of the wrong size is
   * reported against this variable instead of surfacing later as an unrelated cipher error.
   */
  base64Key: (bytes: number) =>
    z
      .string()
      .transform((value, ctx) => {
        const normalized = value.trim();
        if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(normalized)) {
          ctx.addIssue({
            code: 'custom',
            message: `is not base64; it must be base64 of exactly ${bytes} bytes`,
          });
          return z.NEVER;
        }
        const key = Buffer.from(
          normalized,
          normalized.includes('-') || normalized.includes('_') ? 'base64url' : 'base64',
        );
        if (key.length !== bytes) {
          ctx.addIssue({
            code: 'custom',
            message: `decodes to ${key.length} bytes; it must be base64 of exactly ${bytes} bytes (generate one with: openssl rand -base64 ${bytes})`,
          });
          return z.NEVER;
        }
        return key;
      })
      .describe(`base64 of exactly ${bytes} bytes`),
};

/**
 * The variables every service reads. Thresholds for the SQLite headroom probes live here too so an operator
 * tunes them the same way in every app.
 */
export function serviceConfigShape(defaultPort: number) {
  return {
    HOST: env.string('an interface address such as 127.0.0.1 or 0.0.0.0').default('127.0.0.1'),
    PORT: env.port(defaultPort),
    DATA_DIR: env.string('a directory path for the SQLite file').default('./data'),
    INTERNAL_TOKEN: env.token(32),
    LOG_LEVEL: env.logLevel(),
    OUTBOUND_ALLOWLIST: env
      .string('comma-separated hosts or CIDRs')
      .superRefine((value, ctx) => {
        try {
          parseOutboundAllowlist(value);
        } catch (error) {
          ctx.addIssue({
            code: 'custom',
            message: (error as Error).message.replace(/^OUTBOUND_ALLOWLIST /, ''),
          });
        }
      })
      .optional(),
    TRUST_PROXY: env.boolean(false),
    RELEASE_ID: env.string('a release identifier such as a git commit').optional(),
    SQLITE_WRITE_RATE_WARN: env.number(200),
    SQLITE_BUSY_WARN: env.int(1),
    SQLITE_WAL_WARN_BYTES: env.int(256 * 1024 * 1024),
    DISK_WARN_PERCENT: env.number(85),
    DISK_FAIL_PERCENT: env.number(95),
    MEMORY_WARN_BYTES: env.int(1024 * 1024 * 1024),
    EVENTLOOP_WARN_MS: env.number(200),
  };
}

export const baseServiceConfigSchema = z.object(serviceConfigShape(0));
export type ServiceConfig = z.output<typeof baseServiceConfigSchema>;

/** DATA_DIR alone, for the database commands, which must not need the service's secrets. */
export function loadDataDirectory(
  service: string,
  environment: Record<string, string | undefined> = process.env,
): string {
  return parseConfig(service, z.object({ DATA_DIR: serviceConfigShape(0).DATA_DIR }), environment).DATA_DIR;
}
