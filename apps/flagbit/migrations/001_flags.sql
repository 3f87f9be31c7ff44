-- FlagBit's model. Strategy, variant, constraint and dependency definitions are stored as the JSON the
-- client-features format carries: an imported document keeps values the SDKs tolerate (an unknown operator,
-- a bad regex) exactly as given, and the snapshot builder serves them back byte for byte.

CREATE TABLE projects (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  id TEXT NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, id)
) STRICT, WITHOUT ROWID;

CREATE TABLE environments (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  -- Bumped by every write that changes what the environment serves: the streaming event id.
  revision INTEGER NOT NULL DEFAULT 0,
  created_at TEXT NOT NULL,
  PRIMARY KEY (account_id, name)
) STRICT, WITHOUT ROWID;

CREATE TABLE flags (
  account_id TEXT NOT NULL,
  name TEXT NOT NULL,
  project_id TEXT NOT NULL,
  type TEXT NOT NULL DEFAULT 'release',
  description TEXT,
  impression_data INTEGER NOT NULL DEFAULT 0 CHECK (impression_data IN (0, 1)),
  stale INTEGER NOT NULL DEFAULT 0 CHECK (stale IN (0, 1)),
  -- JSON array of {feature, enabled?, variants?}, or NULL when the flag has no parents.
  dependencies TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (account_id, name),
  FOREIGN KEY (account_id, project_id) REFERENCES projects(account_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX flags_by_project ON flags(account_id, project_id);

CREATE TABLE flag_environments (
  account_id TEXT NOT NULL,
  flag_name TEXT NOT NULL,
  environment TEXT NOT NULL,
  enabled INTEGER NOT NULL DEFAULT 0 CHECK (enabled IN (0, 1)),
  -- JSON array of variant definitions.
  variants TEXT NOT NULL DEFAULT '[]',
  PRIMARY KEY (account_id, flag_name, environment),
  FOREIGN KEY (account_id, flag_name) REFERENCES flags(account_id, name) ON DELETE CASCADE,
  FOREIGN KEY (account_id, environment) REFERENCES environments(account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;
CREATE INDEX flag_environments_by_environment ON flag_environments(account_id, environment);

CREATE TABLE strategies (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  flag_name TEXT NOT NULL,
  environment TEXT NOT NULL,
  sort_order INTEGER NOT NULL,
  -- JSON: {name, parameters?, constraints?, segments?, variants?} as the client-features format has it.
  definition TEXT NOT NULL,
  FOREIGN KEY (account_id, flag_name, environment)
    REFERENCES flag_environments(account_id, flag_name, environment) ON DELETE CASCADE
) STRICT;
CREATE INDEX strategies_by_flag ON strategies(account_id, environment, flag_name, sort_order);

CREATE TABLE segments (
  account_id TEXT NOT NULL,
  environment TEXT NOT NULL,
  id INTEGER NOT NULL,
  name TEXT NOT NULL,
  description TEXT NOT NULL DEFAULT '',
  -- JSON array of constraints.
  constraints TEXT NOT NULL,
  PRIMARY KEY (account_id, environment, id),
  FOREIGN KEY (account_id, environment) REFERENCES environments(account_id, name) ON DELETE CASCADE
) STRICT, WITHOUT ROWID;

CREATE TABLE sdk_tokens (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  type TEXT NOT NULL CHECK (type IN ('backend', 'frontend')),
  environment TEXT NOT NULL,
  hash BLOB NOT NULL UNIQUE,
  display_prefix TEXT NOT NULL,
  created_at TEXT NOT NULL,
  revoked_at TEXT,
  FOREIGN KEY (account_id, environment) REFERENCES environments(account_id, name) ON DELETE CASCADE
) STRICT;
CREATE INDEX sdk_tokens_by_account ON sdk_tokens(account_id);

CREATE TABLE audit_events (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  resource TEXT NOT NULL,
  environment TEXT,
  before TEXT,
  after TEXT,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX audit_events_by_account ON audit_events(account_id, id);

CREATE TABLE client_instances (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  environment TEXT NOT NULL,
  app_name TEXT NOT NULL,
  instance_id TEXT NOT NULL,
  sdk_version TEXT,
  strategies TEXT NOT NULL DEFAULT '[]',
  started TEXT,
  interval_ms INTEGER,
  last_seen TEXT NOT NULL,
  PRIMARY KEY (account_id, environment, app_name, instance_id)
) STRICT, WITHOUT ROWID;

CREATE TABLE flag_metrics (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  environment TEXT NOT NULL,
  flag_name TEXT NOT NULL,
  app_name TEXT NOT NULL,
  yes INTEGER NOT NULL DEFAULT 0,
  no INTEGER NOT NULL DEFAULT 0,
  last_seen TEXT NOT NULL,
  PRIMARY KEY (account_id, environment, flag_name, app_name)
) STRICT, WITHOUT ROWID;

CREATE TABLE variant_metrics (
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  environment TEXT NOT NULL,
  flag_name TEXT NOT NULL,
  app_name TEXT NOT NULL,
  variant TEXT NOT NULL,
  count INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (account_id, environment, flag_name, app_name, variant)
) STRICT, WITHOUT ROWID;
