-- Audits: one row per run, with the report as JSON; one row per product check for the uptime history.
CREATE TABLE audits (
  id TEXT PRIMARY KEY,
  started_at TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
  report TEXT NOT NULL
);
CREATE INDEX audits_started_at ON audits (started_at);

CREATE TABLE product_checks (
  id INTEGER PRIMARY KEY,
  audit_id TEXT NOT NULL REFERENCES audits (id) ON DELETE CASCADE,
  product TEXT NOT NULL,
  via TEXT NOT NULL CHECK (via IN ('direct', 'caddy')),
  status TEXT NOT NULL CHECK (status IN ('pass', 'warn', 'fail')),
  response_time_ms REAL,
  checked_at TEXT NOT NULL
);
CREATE INDEX product_checks_product_time ON product_checks (product, checked_at);

-- Consecutive failures/successes per product: what the thresholds are counted on.
CREATE TABLE product_state (
  product TEXT PRIMARY KEY,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  consecutive_successes INTEGER NOT NULL DEFAULT 0,
  last_status TEXT,
  last_reason TEXT
);

CREATE TABLE incidents (
  id TEXT PRIMARY KEY,
  product TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('open', 'resolved')),
  opened_at TEXT NOT NULL,
  resolved_at TEXT,
  reason TEXT NOT NULL
);
-- At most one open incident per product: "opened once" is a constraint, not a hope.
CREATE UNIQUE INDEX incidents_one_open ON incidents (product) WHERE status = 'open';

CREATE TABLE incident_events (
  id INTEGER PRIMARY KEY,
  incident_id TEXT NOT NULL REFERENCES incidents (id) ON DELETE CASCADE,
  at TEXT NOT NULL,
  kind TEXT NOT NULL,
  message TEXT NOT NULL
);

-- Durable outbox: provisioning calls to the products and alerts, retried until accepted.
CREATE TABLE outbox (
  id TEXT PRIMARY KEY,
  kind TEXT NOT NULL CHECK (kind IN ('provision', 'alert')),
  -- Coalescing key: a newer entitlement for the same product/account replaces a pending one.
  dedupe_key TEXT,
  payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL,
  delivered_at TEXT
);
CREATE UNIQUE INDEX outbox_pending_key ON outbox (dedupe_key) WHERE delivered_at IS NULL AND dedupe_key IS NOT NULL;
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE delivered_at IS NULL;

-- Stripe inbox: every event id, written in the same transaction as its effect.
CREATE TABLE stripe_events (
  id TEXT PRIMARY KEY,
  type TEXT NOT NULL,
  created INTEGER NOT NULL,
  received_at TEXT NOT NULL,
  summary TEXT NOT NULL
);
CREATE INDEX stripe_events_received ON stripe_events (received_at);

-- The latest known state of each subscription, ordered by the event's own time, not by arrival.
CREATE TABLE subscriptions (
  id TEXT PRIMARY KEY,
  product TEXT,
  account_id TEXT,
  price_id TEXT,
  plan TEXT,
  status TEXT NOT NULL,
  version INTEGER NOT NULL,
  updated_at TEXT NOT NULL
);
CREATE INDEX subscriptions_account ON subscriptions (product, account_id);

-- What each product account is entitled to, as last derived from its subscriptions.
CREATE TABLE entitlements (
  product TEXT NOT NULL,
  account_id TEXT NOT NULL,
  plan TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  PRIMARY KEY (product, account_id)
);

CREATE TABLE posts (
  id TEXT PRIMARY KEY,
  slug TEXT NOT NULL UNIQUE,
  title TEXT NOT NULL,
  markdown TEXT NOT NULL,
  html TEXT NOT NULL,
  tags TEXT NOT NULL DEFAULT '[]',
  status TEXT NOT NULL CHECK (status IN ('draft', 'published', 'failed')),
  ghost_id TEXT,
  url TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL,
  published_at TEXT
);

CREATE TABLE queue_items (
  id TEXT PRIMARY KEY,
  post_id TEXT NOT NULL REFERENCES posts (id) ON DELETE CASCADE,
  kind TEXT NOT NULL CHECK (kind IN ('crosspost', 'newsletter')),
  channel TEXT NOT NULL,
  title TEXT NOT NULL,
  body TEXT NOT NULL,
  status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'sent', 'ready_by_hand')),
  external_id TEXT,
  external_url TEXT,
  last_error TEXT,
  created_at TEXT NOT NULL,
  decided_at TEXT
);
CREATE UNIQUE INDEX queue_items_post_channel ON queue_items (post_id, channel);

CREATE TABLE cycles (
  id TEXT PRIMARY KEY,
  day TEXT NOT NULL,
  started_at TEXT NOT NULL,
  finished_at TEXT,
  status TEXT NOT NULL,
  actions TEXT NOT NULL DEFAULT '[]'
);
CREATE INDEX cycles_day ON cycles (day);

CREATE TABLE owner_settings (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
);

CREATE TABLE sessions (
  id_hash BLOB PRIMARY KEY,
  csrf_token TEXT NOT NULL,
  second_factor_done INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
