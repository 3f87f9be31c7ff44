import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@studio/service-kit';
import { afterAll, describe, expect, it } from 'vitest';
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

describe('capture listener config', () => {
  const key = { WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 5).toString('base64') };
  const directory = mkdtempSync(join(tmpdir(), 'webhookvault-config-tls-'));
  afterAll(() => rmSync(directory, { recursive: true, force: true }));
  const opensslInstalled = spawnSync('openssl', ['version']).status === 0;

  function certificatePair(name: string) {
    const cert = join(directory, `${name}-cert.pem`);
    const keyFile = join(directory, `${name}-key.pem`);
    const result = spawnSync('openssl', [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-subj',
      '/CN=localhost',
      '-days',
      '1',
      '-keyout',
      keyFile,
      '-out',
      cert,
    ]);
    if (result.status !== 0) throw new Error(`openssl failed: ${result.stderr}`);
    return { cert, key: keyFile };
  }

  it('leaves the capture listener off when CAPTURE_PORT is unset', () => {
    const config = loadConfig({ ...base, ...key });
    expect(config.CAPTURE_PORT).toBeUndefined();
    expect(config.WEBHOOKVAULT_CAPTURE_URL).toBeUndefined();
  });

  it('names a bad CAPTURE_PORT, an empty one, and one equal to PORT', () => {
    expect(issuesOf({ ...base, ...key, CAPTURE_PORT: 'http' })).toEqual([
      { variable: 'CAPTURE_PORT', message: expect.stringContaining('must be a TCP port number') },
    ]);
    expect(issuesOf({ ...base, ...key, CAPTURE_PORT: '' })).toEqual([
      { variable: 'CAPTURE_PORT', message: expect.stringContaining('is set but empty') },
    ]);
    expect(issuesOf({ ...base, ...key, PORT: '4104', CAPTURE_PORT: '4104' })).toEqual([
      { variable: 'CAPTURE_PORT', message: expect.stringContaining('the same as PORT') },
    ]);
  });

  it('names a WEBHOOKVAULT_CAPTURE_URL that is not an http(s) URL', () => {
    expect(issuesOf({ ...base, ...key, WEBHOOKVAULT_CAPTURE_URL: 'hooks.example.com' })).toEqual([
      {
        variable: 'WEBHOOKVAULT_CAPTURE_URL',
        message: expect.stringContaining('must be the public base URL'),
      },
    ]);
  });

  it('names a certificate file that is missing', () => {
    const missing = join(directory, 'missing.pem');
    expect(
      issuesOf({
        ...base,
        ...key,
        CAPTURE_PORT: '4105',
        CAPTURE_TLS_CERT_FILE: missing,
        CAPTURE_TLS_KEY_FILE: missing,
      }),
    ).toEqual([
      { variable: 'CAPTURE_TLS_CERT_FILE', message: expect.stringContaining(`cannot be read: ENOENT`) },
      { variable: 'CAPTURE_TLS_KEY_FILE', message: expect.stringContaining(`cannot be read: ENOENT`) },
    ]);
  });

  it('names a file that is not PEM', () => {
    const junk = join(directory, 'junk.pem');
    writeFileSync(junk, 'not a certificate');
    const issues = issuesOf({
      ...base,
      ...key,
      CAPTURE_PORT: '4105',
      CAPTURE_TLS_CERT_FILE: junk,
      CAPTURE_TLS_KEY_FILE: junk,
    });
    expect(issues.map((issue) => issue.variable)).toEqual(['CAPTURE_TLS_CERT_FILE', 'CAPTURE_TLS_KEY_FILE']);
    expect(issues[0]?.message).toContain(`${junk} is not a PEM certificate`);
    expect(issues[1]?.message).toContain(`${junk} is not a PEM private key`);
  });

  it.skipIf(!opensslInstalled)(
    'needs the certificate and the key together, and CAPTURE_PORT with them',
    () => {
      const pair = certificatePair('alone');
      expect(issuesOf({ ...base, ...key, CAPTURE_PORT: '4105', CAPTURE_TLS_CERT_FILE: pair.cert })).toEqual([
        {
          variable: 'CAPTURE_TLS_KEY_FILE',
          message: expect.stringContaining('is required when CAPTURE_TLS_CERT_FILE is set'),
        },
      ]);
      expect(issuesOf({ ...base, ...key, CAPTURE_PORT: '4105', CAPTURE_TLS_KEY_FILE: pair.key })).toEqual([
        {
          variable: 'CAPTURE_TLS_CERT_FILE',
          message: expect.stringContaining('is required when CAPTURE_TLS_KEY_FILE is set'),
        },
      ]);
      expect(
        issuesOf({ ...base, ...key, CAPTURE_TLS_CERT_FILE: pair.cert, CAPTURE_TLS_KEY_FILE: pair.key }),
      ).toEqual([
        { variable: 'CAPTURE_TLS_CERT_FILE', message: expect.stringContaining('CAPTURE_PORT is not') },
      ]);
      expect(issuesOf({ ...base, ...key, CAPTURE_HOST: '0.0.0.0' })).toEqual([
        { variable: 'CAPTURE_HOST', message: expect.stringContaining('CAPTURE_PORT is not') },
      ]);
      const config = loadConfig({
        ...base,
        ...key,
        CAPTURE_PORT: '4105',
        CAPTURE_TLS_CERT_FILE: pair.cert,
        CAPTURE_TLS_KEY_FILE: pair.key,
      });
      expect(config.CAPTURE_TLS_CERT_FILE).toBe(pair.cert);
    },
  );

  it.skipIf(!opensslInstalled)("refuses a key that is not the certificate's", () => {
    const one = certificatePair('one');
    const other = certificatePair('other');
    expect(
      issuesOf({
        ...base,
        ...key,
        CAPTURE_PORT: '4105',
        CAPTURE_TLS_CERT_FILE: one.cert,
        CAPTURE_TLS_KEY_FILE: other.key,
      }),
    ).toEqual([
      {
        variable: 'CAPTURE_TLS_KEY_FILE',
        message: `${other.key} is not the private key of the certificate in ${one.cert} (CAPTURE_TLS_CERT_FILE)`,
      },
    ]);
  });

  it('stops the real server with exit code 78 and a message naming a missing certificate file', async () => {
    const missing = join(directory, 'no-such-cert.pem');
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
      env: {
        ...process.env,
        ...base,
        ...key,
        DATA_DIR: directory,
        PORT: '0',
        CAPTURE_PORT: '0',
        CAPTURE_TLS_CERT_FILE: missing,
        CAPTURE_TLS_KEY_FILE: missing,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString('utf8');
    });
    const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
    expect(code, stderr).toBe(78);
    expect(stderr).toContain(
      `  - CAPTURE_TLS_CERT_FILE cannot be read: ENOENT: no such file or directory, open '${missing}'`,
    );
  });
});
