import { execFile } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { promisify } from 'node:util';
import { loggerOptions } from '@studio/service-kit';
import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { buildApp } from '../src/app';
import { ManualClock } from '../src/clock';
import { loadConfig } from '../src/config';
import { urlSecrets } from '../src/log-redaction';
import { createVaultRepository } from '../src/repository';
import { rotateKeys } from '../src/rotate';
import { UnknownKeyError, Vault } from '../src/vault';
import {
  createEndpoint,
  onCleanup,
  START_MS,
  signUp,
  startApp,
  tempDirectory,
  testEnvironment,
} from './harness';

const run = promisify(execFile);
const CANARY = 'CANARY-7f3a9c-do-not-store';

function filesContaining(directory: string, needle: string): string[] {
  return readdirSync(directory)
    .filter((name) => name.includes('.sqlite'))
    .filter((name) => readFileSync(join(directory, name)).includes(Buffer.from(needle)));
}

describe('encryption at rest', () => {
  it('never writes a captured body, header value, path or query in plaintext to the database, its WAL or the logs', async () => {
    const directory = tempDirectory();
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _encoding, callback) {
        lines.push(String(chunk));
        callback();
      },
    });
    const logger = pino(
      { ...loggerOptions({ service: 'webhookvault', level: 'trace', urlSecrets }), level: 'trace' },
      sink,
    );
    const app = await buildApp(loadConfig(testEnvironment(directory)), {
      logger,
      clock: new ManualClock(START_MS),
      background: false,
    });
    onCleanup(() => app.close());
    await app.ready();
    const account = signUp(app);
    const endpoint = await createEndpoint(app, account.headers, {
      name: 'canary',
      verify: { scheme: 'github', secret: `${CANARY}-secret` },
    });
    for (let index = 0; index < 20; index++) {
      const response = await app.inject({
        method: 'POST',
        url: `/h/${endpoint.token}/${CANARY}-path?token=${CANARY}-query`,
        headers: { 'x-canary': `${CANARY}-header`, 'content-type': 'application/json' },
        payload: JSON.stringify({ secret: `${CANARY}-body`, index }),
      });
      expect(response.statusCode).toBe(200);
    }
    const files = readdirSync(directory).filter((name) => name.includes('.sqlite'));
    expect(files).toContain('webhookvault.sqlite-wal');
    expect(filesContaining(directory, CANARY)).toEqual([]);
    // The captures are readable through the API, so the data is there, only sealed.
    const list = await app.inject({
      method: 'GET',
      url: `/v1/endpoints/${endpoint.id}/captures`,
      headers: account.headers,
    });
    expect(list.json().items).toHaveLength(20);
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.filter((line) => line.includes(CANARY))).toEqual([]);
    await app.close();
    expect(filesContaining(directory, CANARY)).toEqual([]);
  });

  it('seals each record with a fresh nonce and binds it to its record id', () => {
    const vault = new Vault(Buffer.alloc(32, 1));
    const first = vault.sealText('same text', 'cap_1');
    const second = vault.sealText('same text', 'cap_1');
    expect(first.nonce.equals(second.nonce)).toBe(false);
    expect(first.ciphertext.equals(second.ciphertext)).toBe(false);
    expect(vault.openText(first, 'cap_1')).toBe('same text');
    expect(() => vault.openText(first, 'cap_2')).toThrow();
  });

  it('reads records of a previous key and re-encrypts them all with the current key on rotation', async () => {
    const directory = tempDirectory();
    const oldKey = Buffer.alloc(32, 1);
    const newKey = Buffer.alloc(32, 2);
    const first = await startApp({
      directory,
      env: { WEBHOOKVAULT_ENCRYPTION_KEY: oldKey.toString('base64') },
    });
    const account = signUp(first.app);
    const endpoint = await createEndpoint(first.app, account.headers, {
      name: 'rotating',
      verify: { scheme: 'shopify', secret: 'shpss_secret' },
    });
    const captured = await first.app.inject({
      method: 'POST',
      url: `/h/${endpoint.token}`,
      payload: 'before rotation',
    });
    const captureId = captured.json().captureId as string;
    await first.app.close();

    const second = await startApp({
      directory,
      env: {
        WEBHOOKVAULT_ENCRYPTION_KEY: newKey.toString('base64'),
        WEBHOOKVAULT_PREVIOUS_KEYS: oldKey.toString('base64'),
      },
    });
    const before = await second.app.inject({
      method: 'GET',
      url: `/v1/captures/${captureId}`,
      headers: account.headers,
    });
    expect(before.json().bodyText).toBe('before rotation');
    const vault = new Vault(newKey, [oldKey]);
    expect(rotateKeys(createVaultRepository(second.app.database), vault)).toEqual({
      captures: 1,
      endpoints: 1,
    });
    expect(rotateKeys(createVaultRepository(second.app.database), vault)).toEqual({
      captures: 0,
      endpoints: 0,
    });
    await second.app.close();

    // The old key is gone from the environment; everything still reads, and verification still works.
    const third = await startApp({
      directory,
      env: { WEBHOOKVAULT_ENCRYPTION_KEY: newKey.toString('base64') },
    });
    const after = await third.app.inject({
      method: 'GET',
      url: `/v1/captures/${captureId}`,
      headers: account.headers,
    });
    expect(after.json().bodyText).toBe('before rotation');
    const signed = await third.app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'x' });
    expect(signed.statusCode).toBe(200);
  });

  it('names the missing key when a record was sealed with a key that is not configured', () => {
    const sealed = new Vault(Buffer.alloc(32, 1)).sealText('x', 'id');
    expect(() => new Vault(Buffer.alloc(32, 2)).openText(sealed, 'id')).toThrow(UnknownKeyError);
    expect(() => new Vault(Buffer.alloc(32, 2)).openText(sealed, 'id')).toThrow(/WEBHOOKVAULT_PREVIOUS_KEYS/);
  });

  it('refuses a previous key of the wrong length, naming the variable and the entry', () => {
    expect(() =>
      loadConfig(
        testEnvironment('/tmp/unused', {
          WEBHOOKVAULT_PREVIOUS_KEYS: `${Buffer.alloc(32).toString('base64')},${Buffer.alloc(16).toString('base64')}`,
        }),
      ),
    ).toThrow(
      /WEBHOOKVAULT_PREVIOUS_KEYS entry 2 decodes to 16 bytes; each entry must be base64 of exactly 32 bytes/,
    );
  });

  it('rotates from the command line: webhookvault keys:rotate', async () => {
    const directory = tempDirectory();
    const oldKey = Buffer.alloc(32, 3);
    const newKey = Buffer.alloc(32, 4);
    const first = await startApp({
      directory,
      env: { WEBHOOKVAULT_ENCRYPTION_KEY: oldKey.toString('base64') },
    });
    const account = signUp(first.app);
    const endpoint = await createEndpoint(first.app, account.headers);
    await first.app.inject({ method: 'POST', url: `/h/${endpoint.token}`, payload: 'cli' });
    await first.app.close();
    const { stdout } = await run(process.execPath, ['--import', 'tsx', 'src/server.ts', 'keys:rotate'], {
      env: {
        ...process.env,
        ...testEnvironment(directory, {
          WEBHOOKVAULT_ENCRYPTION_KEY: newKey.toString('base64'),
          WEBHOOKVAULT_PREVIOUS_KEYS: oldKey.toString('base64'),
        }),
      },
    });
    expect(stdout).toContain('re-encrypted 1 captures and 0 endpoint secrets');
  });
});
