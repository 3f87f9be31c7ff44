import { ConfigError } from '@studio/service-kit';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

const base = { INTERNAL_TOKEN: 'i'.repeat(64), DATA_DIR: '/tmp/webhookvault-config-test' };

function issuesOf(environment: Record<string, string>) {
  try {
    loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) return error.issues;
    throw error;
  }
  throw new Error('expected loadConfig to refuse this environment');
}

describe('webhookvault config', () => {
  it('decodes a 32-byte base64 encryption key', () => {
    const key = Buffer.alloc(32, 5);
    expect(
      loadConfig({ ...base, WEBHOOKVAULT_ENCRYPTION_KEY: key.toString('base64') })
        .WEBHOOKVAULT_ENCRYPTION_KEY,
    ).toEqual(key);
  });

  it('names an encryption key of the wrong byte length, with its length and the one it needs', () => {
    const issues = issuesOf({ ...base, WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(16, 1).toString('base64') });
    expect(issues).toEqual([
      {
        variable: 'WEBHOOKVAULT_ENCRYPTION_KEY',
        message: expect.stringContaining('decodes to 16 bytes; it must be base64 of exactly 32 bytes'),
      },
    ]);
  });

  it('refuses a missing encryption key instead of generating one', () => {
    expect(issuesOf(base)).toEqual([
      { variable: 'WEBHOOKVAULT_ENCRYPTION_KEY', message: expect.stringContaining('is required') },
    ]);
  });

  it('refuses an encryption key set to an empty string', () => {
    expect(issuesOf({ ...base, WEBHOOKVAULT_ENCRYPTION_KEY: '' })[0]).toMatchObject({
      variable: 'WEBHOOKVAULT_ENCRYPTION_KEY',
      message: expect.stringContaining('is set but empty'),
    });
  });
});
