import { defineMigrations } from '@studio/shared-db';

/**
 * The accounts, keys and usage tables every product carries in its own database. Inline SQL rather than
 * files: apps are bundled, and a package's .sql files would not travel with the bundle.
 */
export const billingMigrations = defineMigrations('billing', [
  {
    name: 'accounts_keys_usage',
    sql: `
CREATE TABLE accounts (
  id TEXT PRIMARY KEY,
  email TEXT NOT NULL COLLATE NOCASE UNIQUE,
  plan TEXT NOT NULL CHECK (plan IN ('free', 'pro', 'business')),
  status TEXT NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
  webhook_secret TEXT NOT NULL,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;

CREATE TABLE api_keys (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  hash BLOB NOT NULL UNIQUE,
  display_prefix TEXT NOT NULL,
  read_only INTEGER NOT NULL DEFAULT 0 CHECK (read_only IN (0, 1)),
  created_at TEXT NOT NULL,
  last_used_at TEXT,
  revoked_at TEXT
) STRICT;
CREATE INDEX api_keys_by_account ON api_keys(account_id);

CREATE TABLE usage_counters (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  metric TEXT NOT NULL,
  period TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, metric, period)
) STRICT, WITHOUT ROWID;
`,
  },
]);
