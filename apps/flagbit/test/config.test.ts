import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

const base = { INTERNAL_TOKEN: 'i'.repeat(64), DATA_DIR: '/tmp/flagbit-config-test' };

describe('FlagBit configuration', () => {
  it('defaults the SDK limits and the streaming heartbeat', () => {
    const config = loadConfig(base);
    expect(config.PORT).toBe(4103);
    expect(config.SDK_FAILED_TOKENS_PER_MINUTE).toBe(120);
    expect(config.STREAMING_HEARTBEAT_MS).toBe(30_000);
    expect(config.STREAMING_HISTORY_REVISIONS).toBe(200);
  });

  it('refuses an empty value instead of falling back to the default, naming the variable', () => {
    expect(() => loadConfig({ ...base, STREAMING_HEARTBEAT_MS: '' })).toThrow(
      /STREAMING_HEARTBEAT_MS is set but empty/,
    );
  });

  it('refuses a heartbeat the Node SDK would time out before', () => {
    expect(() => loadConfig({ ...base, STREAMING_HEARTBEAT_MS: '90000' })).toThrow(/STREAMING_HEARTBEAT_MS/);
    expect(() => loadConfig({ ...base, STREAMING_HISTORY_REVISIONS: '0' })).toThrow(
      /STREAMING_HISTORY_REVISIONS/,
    );
    expect(() => loadConfig({ ...base, SDK_FAILED_TOKENS_PER_MINUTE: 'many' })).toThrow(
      /SDK_FAILED_TOKENS_PER_MINUTE/,
    );
  });
});
