import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, env, parseConfig, serviceConfigShape } from '../src/config';

const token = 'a'.repeat(64);
const schema = z.object({
  ...serviceConfigShape(4102),
  STRIPE_WEBHOOK_SECRET: env.string('the whsec_… signing secret of the Stripe endpoint'),
  VAULT_KEY: env.base64Key(32),
});
const validKey = Buffer.alloc(32, 7).toString('base64');

function configErrorOf(environment: Record<string, string | undefined>): ConfigError {
  try {
    parseConfig('testsvc', schema, environment);
  } catch (error) {
    if (error instanceof ConfigError) return error;
    throw error;
  }
  throw new Error('expected parseConfig to throw a ConfigError');
}

describe('parseConfig', () => {
  it('applies defaults for unset variables and parses typed values', () => {
    const config = parseConfig('testsvc', schema, {
      INTERNAL_TOKEN: token,
      STRIPE_WEBHOOK_SECRET: 'whsec_abc',
      VAULT_KEY: validKey,
      PORT: '5000',
      TRUST_PROXY: 'true',
    });
    expect(config.PORT).toBe(5000);
    expect(config.HOST).toBe('127.0.0.1');
    expect(config.DATA_DIR).toBe('./data');
    expect(config.TRUST_PROXY).toBe(true);
    expect(config.VAULT_KEY).toEqual(Buffer.alloc(32, 7));
  });

  it('refuses a secret set to an empty string instead of falling back, naming the variable', () => {
    const error = configErrorOf({ INTERNAL_TOKEN: token, STRIPE_WEBHOOK_SECRET: '', VAULT_KEY: validKey });
    expect(error.issues).toEqual([
      {
        variable: 'STRIPE_WEBHOOK_SECRET',
        message: expect.stringContaining('is set but empty'),
      },
    ]);
    expect(error.message).toContain('STRIPE_WEBHOOK_SECRET is set but empty');
    expect(error.message).toContain('the whsec_… signing secret of the Stripe endpoint');
  });

  it('refuses an empty value even for a variable that has a default', () => {
    const error = configErrorOf({
      INTERNAL_TOKEN: token,
      STRIPE_WEBHOOK_SECRET: 'x',
      VAULT_KEY: validKey,
      PORT: '',
    });
    expect(error.issues.map((issue) => issue.variable)).toEqual(['PORT']);
    expect(error.issues[0]?.message).toContain('never used, not even as the default');
  });

  it('treats whitespace-only values as empty', () => {
    const error = configErrorOf({ INTERNAL_TOKEN: '   ', STRIPE_WEBHOOK_SECRET: 'x', VAULT_KEY: validKey });
    expect(error.issues[0]).toMatchObject({
      variable: 'INTERNAL_TOKEN',
      message: expect.stringContaining('empty'),
    });
  });

  it('names a key of the wrong byte length with its length and the length it needs', () => {
    const shortKey = Buffer.alloc(24, 1).toString('base64');
    const error = configErrorOf({ INTERNAL_TOKEN: token, STRIPE_WEBHOOK_SECRET: 'x', VAULT_KEY: shortKey });
    expect(error.issues).toEqual([
      {
        variable: 'VAULT_KEY',
        message: expect.stringMatching(/decodes to 24 bytes; it must be base64 of exactly 32 bytes/),
      },
    ]);
  });

  it('names a key that is not base64 at all', () => {
    const error = configErrorOf({
      INTERNAL_TOKEN: token,
      STRIPE_WEBHOOK_SECRET: 'x',
      VAULT_KEY: 'not base64!',
    });
    expect(error.issues[0]).toMatchObject({
      variable: 'VAULT_KEY',
      message: expect.stringContaining('is not base64'),
    });
  });

  it('refuses an internal token shorter than 32 bytes and says how long it is', () => {
    const error = configErrorOf({ INTERNAL_TOKEN: 'short', STRIPE_WEBHOOK_SECRET: 'x', VAULT_KEY: validKey });
    expect(error.issues[0]).toMatchObject({
      variable: 'INTERNAL_TOKEN',
      message: expect.stringContaining('is 5 bytes long; it needs at least 32 bytes'),
    });
  });

  it('reports every bad variable at once, required ones included', () => {
    const error = configErrorOf({ PORT: 'eighty', VAULT_KEY: validKey, LOG_LEVEL: 'loud' });
    expect(error.issues.map((issue) => issue.variable).sort()).toEqual([
      'INTERNAL_TOKEN',
      'LOG_LEVEL',
      'PORT',
      'STRIPE_WEBHOOK_SECRET',
    ]);
    expect(error.issues.find((issue) => issue.variable === 'INTERNAL_TOKEN')?.message).toContain(
      'is required',
    );
    expect(error.message.split('\n')[0]).toBe('testsvc: invalid configuration');
  });

  it('ignores variables the schema does not declare', () => {
    const config = parseConfig('testsvc', schema, {
      INTERNAL_TOKEN: token,
      STRIPE_WEBHOOK_SECRET: 'x',
      VAULT_KEY: validKey,
      UNRELATED: '',
    });
    expect(config).not.toHaveProperty('UNRELATED');
  });
});

describe('OUTBOUND_ALLOWLIST', () => {
  it('is checked at start, so a malformed entry names the variable before anything is sent', () => {
    const error = configErrorOf({
      INTERNAL_TOKEN: token,
      STRIPE_WEBHOOK_SECRET: 'x',
      VAULT_KEY: validKey,
      OUTBOUND_ALLOWLIST: '127.0.0.1,10.0.0.0/99',
    });
    expect(error.issues).toEqual([
      { variable: 'OUTBOUND_ALLOWLIST', message: expect.stringContaining('10.0.0.0/99') },
    ]);
  });

  it('accepts hosts and CIDRs', () => {
    const config = parseConfig('testsvc', schema, {
      INTERNAL_TOKEN: token,
      STRIPE_WEBHOOK_SECRET: 'x',
      VAULT_KEY: validKey,
      OUTBOUND_ALLOWLIST: 'localhost, 127.0.0.1, fd00::/8',
    });
    expect(config.OUTBOUND_ALLOWLIST).toBe('localhost, 127.0.0.1, fd00::/8');
  });
});

describe('env.url', () => {
  it('accepts http(s) URLs without a trailing slash and refuses other schemes', () => {
    const urls = z.object({ TARGET: env.url() });
    expect(parseConfig('t', urls, { TARGET: 'https://example.com/api/' }).TARGET).toBe(
      'https://example.com/api',
    );
    expect(() => parseConfig('t', urls, { TARGET: 'ftp://example.com' })).toThrow(
      /TARGET must be an http\(s\) URL/,
    );
  });
});
