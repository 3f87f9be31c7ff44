import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { generateApiKey, hashApiKey, secretsEqual } from '../src/api-keys';
import { buildBillingApp, expectError, expectStatus } from './harness';

interface KeySummary {
  id: string;
  displayPrefix: string;
  readOnly: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

const unauthorized = { code: 'unauthorized', message: 'Missing or invalid API key' };

describe('API key storage', () => {
  it('stores only the SHA-256 of a key: the raw key is in no row and no byte of the database', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const second = await harness.createKey(account.accountId, true);
    // Write usage and last-used times too, so every table has rows when it is searched.
    expectStatus(await harness.call(account.apiKey, 'GET', '/v1/account'), 200);
    harness.app.billing.flushUsage();

    const { sqlite } = harness.app.database;
    const stored = sqlite
      .prepare('SELECT id, hash FROM api_keys WHERE account_id = ? ORDER BY id')
      .all(account.accountId) as { id: string; hash: Buffer }[];
    const expectedHashes = [account.apiKey, second.apiKey].map((key) =>
      createHash('sha256').update(key, 'utf8').digest('hex'),
    );
    expect(
      stored.map((row) => row.hash.toString('hex')).sort(),
      'api_keys.hash holds the SHA-256 of each issued key',
    ).toEqual([...expectedHashes].sort());

    const tables = (
      sqlite.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as { name: string }[]
    ).map((row) => row.name);
    expect(tables, 'the billing tables exist').toEqual(expect.arrayContaining(['accounts', 'api_keys']));
    for (const table of tables) {
      for (const row of sqlite.prepare(`SELECT * FROM "${table}"`).all() as Record<string, unknown>[]) {
        for (const [column, value] of Object.entries(row)) {
          for (const key of [account.apiKey, second.apiKey]) {
            const text = Buffer.isBuffer(value) ? value.toString('latin1') : String(value);
            expect(text.includes(key), `${table}.${column} must not contain a raw API key`).toBe(false);
            expect(
              text.includes(key.slice(-16)),
              `${table}.${column} must not contain the key's secret part`,
            ).toBe(false);
          }
        }
      }
    }

    for (const file of [harness.databaseFile, `${harness.databaseFile}-wal`]) {
      if (!existsSync(file)) continue;
      const bytes = readFileSync(file);
      for (const key of [account.apiKey, second.apiKey]) {
        expect(bytes.includes(Buffer.from(key)), `${file} must not contain a raw API key`).toBe(false);
      }
    }
  });

  it('issues keys as <prefix>_<base62> and read-only keys as <prefix>_ro_<base62>', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const readOnly = await harness.createKey(account.accountId, true);

    expect(account.apiKey, 'a read-write key').toMatch(/^tp_[0-9A-Za-z]{33}$/);
    expect(readOnly.apiKey, 'a read-only key').toMatch(/^tp_ro_[0-9A-Za-z]{33}$/);
    expect(generateApiKey('cp', false), 'another product keeps its own prefix').toMatch(
      /^cp_[0-9A-Za-z]{33}$/,
    );
  });

  it('hashes with SHA-256 and compares secrets of any length without throwing', () => {
    expect(hashApiKey('tp_abc').toString('hex')).toBe(createHash('sha256').update('tp_abc').digest('hex'));
    expect(secretsEqual('same-secret', 'same-secret')).toBe(true);
    expect(secretsEqual('short', 'a-much-longer-secret'), 'different lengths are simply unequal').toBe(false);
    expect(secretsEqual('', randomBytes(32).toString('hex'))).toBe(false);
  });
});

describe('key checks', () => {
  it('answers a missing, malformed, unknown or revoked key with one identical 401', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const revoked = await harness.createKey(account.accountId);
    expectStatus(await harness.call(account.apiKey, 'DELETE', `/v1/account/keys/${revoked.id}`), 204);

    const attempts: [string, Record<string, string>][] = [
      ['no Authorization header', {}],
      ['a Basic scheme', { authorization: `Basic ${Buffer.from('user:pass').toString('base64')}` }],
      ['an empty bearer token', { authorization: 'Bearer ' }],
      ['two tokens', { authorization: `Bearer ${account.apiKey} extra` }],
      ['the key without a scheme', { authorization: account.apiKey }],
      ['an unknown key of the right shape', { authorization: `Bearer ${generateApiKey('tp', false)}` }],
      ['a revoked key', { authorization: `Bearer ${revoked.apiKey}` }],
    ];
    for (const [label, headers] of attempts) {
      const response = await harness.app.inject({ method: 'GET', url: '/v1/account', headers });
      const error = expectError(response, 401, 'unauthorized');
      expect({ code: error.code, message: error.message }, label).toEqual(unauthorized);
      expect(error.details, `${label}: no details that could hint which check failed`).toBeUndefined();
    }

    expectStatus(await harness.call(account.apiKey, 'GET', '/v1/account'), 200);
  });

  it('accepts the bearer scheme in any case', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const response = await harness.app.inject({
      method: 'GET',
      url: '/v1/account',
      headers: { authorization: `bearer ${account.apiKey}` },
    });
    expectStatus(response, 200);
  });

  it('lets a read-only key read but answers 403 read_only_key to any write', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const readOnly = await harness.createKey(account.accountId, true);

    const seen = expectStatus<{ accountId: string }>(
      await harness.call(readOnly.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(seen.accountId).toBe(account.accountId);
    expectStatus(await harness.call(readOnly.apiKey, 'GET', '/v1/account/keys'), 200);

    const writes: [string, string, object?][] = [
      ['POST', '/v1/account/keys', { readOnly: false }],
      ['POST', '/v1/account/webhook-secret'],
      ['DELETE', `/v1/account/keys/${readOnly.id}`],
      ['POST', '/v1/widgets'],
    ];
    for (const [method, url, payload] of writes) {
      const error = expectError(
        await harness.call(readOnly.apiKey, method as 'POST', url, payload),
        403,
        'read_only_key',
      );
      expect(error.message, `${method} ${url}`).toMatch(/read-only/);
    }

    const keys = expectStatus<{ items: KeySummary[] }>(
      await harness.call(account.apiKey, 'GET', '/v1/account/keys'),
      200,
    );
    expect(
      keys.items.filter((key) => key.revokedAt === null).length,
      'the read-only key neither created nor revoked a key',
    ).toBe(2);
  });
});

describe('/v1/account/keys', () => {
  it('shows a new key once: the list carries prefixes only', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');

    const created = expectStatus<{ id: string; apiKey: string; readOnly: boolean }>(
      await harness.call(account.apiKey, 'POST', '/v1/account/keys', { readOnly: true }),
      201,
    );
    expect(created.readOnly).toBe(true);
    expect(created.apiKey).toMatch(/^tp_ro_/);
    const defaulted = expectStatus<{ id: string; apiKey: string; readOnly: boolean }>(
      await harness.call(account.apiKey, 'POST', '/v1/account/keys'),
      201,
    );
    expect(defaulted.readOnly, 'a POST without a body issues a read-write key').toBe(false);

    const listing = await harness.call(account.apiKey, 'GET', '/v1/account/keys');
    const { items } = expectStatus<{ items: KeySummary[] }>(listing, 200);
    expect(items.map((item) => item.id).sort()).toEqual(
      expect.arrayContaining([created.id, defaulted.id].sort()),
    );
    expect(items).toHaveLength(3);
    for (const key of [account.apiKey, created.apiKey, defaulted.apiKey]) {
      expect(listing.body.includes(key), 'the listing never repeats a full key').toBe(false);
      expect(listing.body.includes(key.slice(-20)), 'nor its secret part').toBe(false);
    }
    const readOnlyItem = items.find((item) => item.id === created.id);
    expect(readOnlyItem?.displayPrefix, 'read-only prefix: tp_ro_ and 4 characters').toBe(
      created.apiKey.slice(0, 10),
    );
    const readWriteItem = items.find((item) => item.id === defaulted.id);
    expect(readWriteItem?.displayPrefix, 'read-write prefix: tp_ and 4 characters').toBe(
      defaulted.apiKey.slice(0, 7),
    );
    expect(readWriteItem).toMatchObject({ readOnly: false, lastUsedAt: null, revokedAt: null });
  });

  it('records when a key was last used once usage is flushed', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const unused = await harness.createKey(account.accountId);
    expectStatus(await harness.call(account.apiKey, 'GET', '/v1/account'), 200);
    harness.app.billing.flushUsage();

    const { items } = expectStatus<{ items: KeySummary[] }>(
      await harness.call(account.apiKey, 'GET', '/v1/account/keys'),
      200,
    );
    const used = items.find((item) => item.id !== unused.id);
    expect(used?.lastUsedAt, JSON.stringify(items)).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(items.find((item) => item.id === unused.id)?.lastUsedAt, 'a key never presented').toBeNull();
  });

  it('revokes a key: it stops working at once and the listing shows when', async () => {
    const harness = await buildBillingApp();
    const account = await harness.createAccount('pro');
    const doomed = await harness.createKey(account.accountId);
    expectStatus(await harness.call(doomed.apiKey, 'GET', '/v1/account'), 200);

    const revoked = await harness.call(account.apiKey, 'DELETE', `/v1/account/keys/${doomed.id}`);
    expectStatus(revoked, 204);
    expect(revoked.body, '204 has no body').toBe('');

    expectError(await harness.call(doomed.apiKey, 'GET', '/v1/account'), 401, 'unauthorized');
    const { items } = expectStatus<{ items: KeySummary[] }>(
      await harness.call(account.apiKey, 'GET', '/v1/account/keys'),
      200,
    );
    expect(items.find((item) => item.id === doomed.id)?.revokedAt, JSON.stringify(items)).toMatch(/^\d{4}-/);

    expectError(
      await harness.call(account.apiKey, 'DELETE', `/v1/account/keys/${doomed.id}`),
      404,
      'not_found',
    );
  });

  it("answers 404 when an account tries to revoke another account's key, and the key keeps working", async () => {
    const harness = await buildBillingApp();
    const alice = await harness.createAccount('pro');
    const bob = await harness.createAccount('pro');
    const bobsSecondKey = await harness.createKey(bob.accountId);

    const error = expectError(
      await harness.call(alice.apiKey, 'DELETE', `/v1/account/keys/${bobsSecondKey.id}`),
      404,
      'not_found',
    );
    expect(error.message).toBe('API key not found');

    const seen = expectStatus<{ accountId: string }>(
      await harness.call(bobsSecondKey.apiKey, 'GET', '/v1/account'),
      200,
    );
    expect(seen.accountId, "Bob's key still opens Bob's account").toBe(bob.accountId);
    const aliceKeys = expectStatus<{ items: KeySummary[] }>(
      await harness.call(alice.apiKey, 'GET', '/v1/account/keys'),
      200,
    );
    expect(
      aliceKeys.items.map((item) => item.id),
      "Alice's listing never shows Bob's keys",
    ).not.toContain(bobsSecondKey.id);
  });
});
