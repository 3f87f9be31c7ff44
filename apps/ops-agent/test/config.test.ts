import { ConfigError } from '@studio/service-kit';
import { describe, expect, it } from 'vitest';
import { integrationStatus, loadConfig } from '../src/config';
import { hashPassword, parsePasswordHash, verifyPassword } from '../src/owner/password';
import { agentEnv } from './harness';

const messageOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('ops-agent configuration', () => {
  it('reports every unset integration as "not configured", not as an error', () => {
    const config = loadConfig(agentEnv());
    expect(Object.values(integrationStatus(config)).every((state) => state === 'not configured')).toBe(true);
    expect(config.DEVTO_URL).toBe('https://dev.to/api');
    expect(config.CYCLES_PER_DAY).toBe(8);
  });

  it.each([
    'STRIPE_WEBHOOK_SECRET',
    'GHOST_ADMIN_API_KEY',
    'CRONPING_URL',
    'HEARTBEAT_URL',
    'DEVTO_URL',
    'OWNER_PASSWORD_HASH',
    'SERVICE_PID_DIR',
  ])('refuses to start when %s is set but empty, naming it', (variable) => {
    expect(messageOf(() => loadConfig(agentEnv({ [variable]: '' })))).toMatch(
      new RegExp(`${variable} is set but empty`),
    );
  });

  it('names OPS_VAULT_KEY, its length and the 32 bytes it needs when the key is the wrong length', () => {
    const message = messageOf(() =>
      loadConfig(agentEnv({ OPS_VAULT_KEY: Buffer.alloc(16).toString('base64') })),
    );
    expect(message).toMatch(/OPS_VAULT_KEY decodes to 16 bytes; it must be base64 of exactly 32 bytes/);
    expect(message.split('\n')).toHaveLength(2);
  });

  it('requires OPS_ADMIN_TOKEN and OPS_VAULT_KEY', () => {
    const message = messageOf(() =>
      loadConfig(agentEnv({ OPS_ADMIN_TOKEN: undefined, OPS_VAULT_KEY: undefined })),
    );
    expect(message).toMatch(/OPS_ADMIN_TOKEN is required/);
    expect(message).toMatch(/OPS_VAULT_KEY is required/);
  });

  it('refuses half an integration, naming the missing variable', () => {
    const message = messageOf(() => loadConfig(agentEnv({ GHOST_ADMIN_API_KEY: 'abc123:def456' })));
    expect(message).toMatch(/GHOST_URL is required because GHOST_ADMIN_API_KEY is set/);
    const listmonk = messageOf(() => loadConfig(agentEnv({ LISTMONK_URL: 'http://127.0.0.1:9000' })));
    expect(listmonk).toMatch(/LISTMONK_USER is required because LISTMONK_URL is set/);
    // The token can be stored on the owner's page instead, so it is not demanded at start.
    expect(listmonk).not.toMatch(/LISTMONK_TOKEN is required/);
  });

  it('accepts an integration URL whose token is to be stored on the owner page, and reports it not configured until then', () => {
    const config = loadConfig(agentEnv({ GHOST_URL: 'http://127.0.0.1:2368' }));
    expect(config.GHOST_ADMIN_API_KEY).toBeUndefined();
    expect(integrationStatus(config).ghost).toBe('not configured');
    expect(integrationStatus(config, () => true).ghost).toBe('configured');
  });

  it('still refuses a storable token set to an empty string, naming it', () => {
    const message = messageOf(() =>
      loadConfig(agentEnv({ GHOST_URL: 'http://127.0.0.1:2368', GHOST_ADMIN_API_KEY: '' })),
    );
    expect(message).toMatch(/GHOST_ADMIN_API_KEY/);
  });

  it('parses STRIPE_PRICES and names a bad price id', () => {
    const ok = loadConfig(
      agentEnv({
        STRIPE_SECRET_KEY: 'sk_test_x',
        STRIPE_WEBHOOK_SECRET: 'whsec_x',
        STRIPE_PRICES: '{"price_pro1": {"product": "cronping", "plan": "pro"}}',
      }),
    );
    expect(ok.STRIPE_PRICES).toEqual({ price_pro1: { product: 'cronping', plan: 'pro' } });
    expect(
      messageOf(() =>
        loadConfig(
          agentEnv({
            STRIPE_SECRET_KEY: 'sk_test_x',
            STRIPE_WEBHOOK_SECRET: 'whsec_x',
            STRIPE_PRICES: '{"pro": {"product": "cronping", "plan": "pro"}}',
          }),
        ),
      ),
    ).toMatch(/STRIPE_PRICES .*price ids/);
  });

  it('accepts a hash printed by hash-password and verifies the password against it', async () => {
    const hash = await hashPassword('correct horse', { N: 1024, r: 8, p: 1 });
    const config = loadConfig(agentEnv({ OWNER_PASSWORD_HASH: hash }));
    expect(config.OWNER_PASSWORD_HASH?.N).toBe(1024);
    expect(await verifyPassword('correct horse', config.OWNER_PASSWORD_HASH!)).toBe(true);
    expect(await verifyPassword('wrong horse', config.OWNER_PASSWORD_HASH!)).toBe(false);
  });

  it.each([
    ['bcrypt$2b$10$abc', /6 fields/],
    [`scrypt$1000$8$1$c2FsdHNhbHRzYWx0c2FsdA==$${Buffer.alloc(64).toString('base64')}`, /power of 2/],
    [`scrypt$1024$8$1$c2FsdA==$${Buffer.alloc(64).toString('base64')}`, /salt of 4 bytes/],
    [
      `scrypt$1024$8$1$c2FsdHNhbHRzYWx0c2FsdA==$${Buffer.alloc(32).toString('base64')}`,
      /key of 32 bytes.*64 bytes/,
    ],
  ])('refuses the malformed OWNER_PASSWORD_HASH %s, saying what is wrong', (hash, problem) => {
    expect(() => parsePasswordHash(hash)).toThrow(problem);
    expect(messageOf(() => loadConfig(agentEnv({ OWNER_PASSWORD_HASH: hash })))).toMatch(
      /OWNER_PASSWORD_HASH/,
    );
  });
});
