import { generateWebhookSecret } from '@studio/service-kit/outbound';
import type { StudioDatabase } from '@studio/shared-db';
import { generateApiKey, hashApiKey, randomId, sameHash } from './api-keys';
import type { PlanName } from './plans';

export type AccountStatus = 'active' | 'suspended';

export interface Account {
  id: string;
  email: string;
  plan: PlanName;
  status: AccountStatus;
  webhookSecret: string;
  createdAt: string;
}

export interface ApiKeySummary {
  id: string;
  displayPrefix: string;
  readOnly: boolean;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

export interface ResolvedKey {
  keyId: string;
  readOnly: boolean;
  account: Account;
}

interface AccountRow {
  id: string;
  email: string;
  plan: PlanName;
  status: AccountStatus;
  webhook_secret: string;
  created_at: string;
}

interface KeyRow extends AccountRow {
  key_id: string;
  hash: Buffer;
  read_only: number;
}

const toAccount = (row: AccountRow): Account => ({
  id: row.id,
  email: row.email,
  plan: row.plan,
  status: row.status,
  webhookSecret: row.webhook_secret,
  createdAt: row.created_at,
});

export class DuplicateEmailError extends Error {
  constructor(readonly accountId: string) {
    super('an account with this email already exists');
  }
}

export function currentPeriod(now = new Date()): string {
  return now.toISOString().slice(0, 7);
}

/** All SQL of accounts, keys and usage. Every statement is prepared once; every write is a counted transaction. */
export function createBillingRepository(database: StudioDatabase, keyPrefix: string) {
  const { sqlite } = database;
  const accountColumns = 'id, email, plan, status, webhook_secret, created_at';
  const insertAccount = sqlite.prepare(
    `INSERT INTO accounts (id, email, plan, status, webhook_secret, created_at, updated_at)
     VALUES (@id, @email, @plan, 'active', @webhookSecret, @now, @now)`,
  );
  const selectAccount = sqlite.prepare(`SELECT ${accountColumns} FROM accounts WHERE id = ?`);
  const selectAccountByEmail = sqlite.prepare(`SELECT ${accountColumns} FROM accounts WHERE email = ?`);
  const updatePlan = sqlite.prepare('UPDATE accounts SET plan = ?, updated_at = ? WHERE id = ?');
  const updateStatus = sqlite.prepare('UPDATE accounts SET status = ?, updated_at = ? WHERE id = ?');
  const updateWebhookSecret = sqlite.prepare(
    'UPDATE accounts SET webhook_secret = ?, updated_at = ? WHERE id = ?',
  );
  const insertKey = sqlite.prepare(
    `INSERT INTO api_keys (id, account_id, hash, display_prefix, read_only, created_at)
     VALUES (?, ?, ?, ?, ?, ?)`,
  );
  const selectByKeyHash = sqlite.prepare(
    `SELECT a.id, a.email, a.plan, a.status, a.webhook_secret, a.created_at, k.id AS key_id, k.hash, k.read_only
     FROM api_keys k JOIN accounts a ON a.id = k.account_id
     WHERE k.hash = ? AND k.revoked_at IS NULL`,
  );
  const selectKeys = sqlite.prepare(
    `SELECT id, display_prefix, read_only, created_at, last_used_at, revoked_at
     FROM api_keys WHERE account_id = ? ORDER BY created_at, id`,
  );
  const revokeKeyStatement = sqlite.prepare(
    'UPDATE api_keys SET revoked_at = ? WHERE id = ? AND account_id = ? AND revoked_at IS NULL',
  );
  const touchKey = sqlite.prepare('UPDATE api_keys SET last_used_at = ? WHERE id = ?');
  const addUsage = sqlite.prepare(
    `INSERT INTO usage_counters (account_id, metric, period, count) VALUES (?, ?, ?, ?)
     ON CONFLICT (account_id, metric, period) DO UPDATE SET count = count + excluded.count`,
  );
  const selectUsage = sqlite.prepare(
    'SELECT metric, count FROM usage_counters WHERE account_id = ? AND period = ?',
  );

  const issueKey = (accountId: string, readOnly: boolean, now: string) => {
    const apiKey = generateApiKey(keyPrefix, readOnly);
    const id = randomId('key');
    insertKey.run(
      id,
      accountId,
      hashApiKey(apiKey),
      apiKey.slice(0, keyPrefix.length + (readOnly ? 8 : 5)),
      readOnly ? 1 : 0,
      now,
    );
    return { id, apiKey, readOnly };
  };

  const createAccountTx = database.transaction((email: string, plan: PlanName) => {
    const existing = selectAccountByEmail.get(email) as AccountRow | undefined;
    if (existing) throw new DuplicateEmailError(existing.id);
    const now = new Date().toISOString();
    const id = randomId('acc');
    insertAccount.run({ id, email, plan, webhookSecret: generateWebhookSecret(), now });
    const key = issueKey(id, false, now);
    return { account: toAccount(selectAccount.get(id) as AccountRow), apiKey: key.apiKey };
  });
  const createKeyTx = database.transaction((accountId: string, readOnly: boolean) =>
    issueKey(accountId, readOnly, new Date().toISOString()),
  );
  const setPlanTx = database.transaction(
    (accountId: string, plan: PlanName) =>
      updatePlan.run(plan, new Date().toISOString(), accountId).changes > 0,
  );
  const setStatusTx = database.transaction(
    (accountId: string, status: AccountStatus) =>
      updateStatus.run(status, new Date().toISOString(), accountId).changes > 0,
  );
  const rotateSecretTx = database.transaction((accountId: string) => {
    const secret = generateWebhookSecret();
    return updateWebhookSecret.run(secret, new Date().toISOString(), accountId).changes > 0 ? secret : null;
  });
  const revokeKeyTx = database.transaction(
    (accountId: string, keyId: string) =>
      revokeKeyStatement.run(new Date().toISOString(), keyId, accountId).changes > 0,
  );
  const flushTx = database.transaction(
    (usage: [string, string, string, number][], touched: [string, string][]) => {
      for (const [accountId, metric, period, count] of usage) addUsage.run(accountId, metric, period, count);
      for (const [keyId, at] of touched) touchKey.run(at, keyId);
    },
  );

  return {
    /** Creates an account with its first read-write key; the key is returned here and never again. */
    createAccount: (email: string, plan: PlanName) => createAccountTx(email, plan),
    findAccount: (accountId: string) => {
      const row = selectAccount.get(accountId) as AccountRow | undefined;
      return row ? toAccount(row) : null;
    },
    findAccountByEmail: (email: string) => {
      const row = selectAccountByEmail.get(email) as AccountRow | undefined;
      return row ? toAccount(row) : null;
    },
    setPlan: (accountId: string, plan: PlanName) => setPlanTx(accountId, plan),
    setStatus: (accountId: string, status: AccountStatus) => setStatusTx(accountId, status),
    rotateWebhookSecret: (accountId: string) => rotateSecretTx(accountId),
    createKey: (accountId: string, readOnly: boolean) => createKeyTx(accountId, readOnly),
    revokeKey: (accountId: string, keyId: string) => revokeKeyTx(accountId, keyId),
    listKeys: (accountId: string): ApiKeySummary[] =>
      (selectKeys.all(accountId) as Record<string, unknown>[]).map((row) => ({
        id: row.id as string,
        displayPrefix: row.display_prefix as string,
        readOnly: row.read_only === 1,
        createdAt: row.created_at as string,
        lastUsedAt: (row.last_used_at as string | null) ?? null,
        revokedAt: (row.revoked_at as string | null) ?? null,
      })),
    /**
     * Finds the live key whose SHA-256 matches. The lookup is by hash (the index never sees the key), and the
     * final comparison is constant-time so the match itself leaks no timing.
     */
    resolveKey: (presented: string): ResolvedKey | null => {
      const hash = hashApiKey(presented);
      const row = selectByKeyHash.get(hash) as KeyRow | undefined;
      if (!row || !sameHash(row.hash, hash)) return null;
      return { keyId: row.key_id, readOnly: row.read_only === 1, account: toAccount(row) };
    },
    usage: (accountId: string, period = currentPeriod()): Record<string, number> =>
      Object.fromEntries(
        (selectUsage.all(accountId, period) as { metric: string; count: number }[]).map((r) => [
          r.metric,
          r.count,
        ]),
      ),
    flushUsage: (usage: [string, string, string, number][], touched: [string, string][]) =>
      flushTx(usage, touched),
  };
}

export type BillingRepository = ReturnType<typeof createBillingRepository>;
