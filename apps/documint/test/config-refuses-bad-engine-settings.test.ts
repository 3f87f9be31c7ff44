import { describe, expect, it } from 'vitest';
import { loadConfig } from '../src/config';

const base = { INTERNAL_TOKEN: 'i'.repeat(64), DATA_DIR: '/tmp/documint-config-test' };

describe('DocuMint configuration', () => {
  it('has working defaults for both engines', () => {
    const config = loadConfig(base);
    expect(config).toMatchObject({
      TYPST_WORKERS: 2,
      TYPST_MAX_DOCUMENTS_PER_WORKER: 5000,
      CHROMIUM_PATH: '/usr/bin/chromium',
      CHROMIUM_PAGES: 2,
    });
  });

  it('refuses an empty CHROMIUM_PATH and zero Typst workers, naming each variable', () => {
    expect(() => loadConfig({ ...base, CHROMIUM_PATH: '', TYPST_WORKERS: '0' })).toThrow(
      /CHROMIUM_PATH is set but empty[\s\S]*TYPST_WORKERS/,
    );
  });

  it('refuses a PUBLIC_URL that is not an http(s) URL', () => {
    expect(() => loadConfig({ ...base, PUBLIC_URL: 'ftp://files.example' })).toThrow(/PUBLIC_URL/);
    expect(loadConfig({ ...base, PUBLIC_URL: 'https://api.example.com/documint/' }).PUBLIC_URL).toBe(
      'https://api.example.com/documint',
    );
  });
});
