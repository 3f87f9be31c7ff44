-- WebhookVault: endpoints, encrypted captures, forwarding rules and the delivery outbox.
-- Captured data (path, query, headers, body, remote address) lives only inside `payload`, sealed with
-- AES-256-GCM; the plaintext columns hold what listing and retention need (method, size, times).

CREATE TABLE endpoints (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  token TEXT NOT NULL UNIQUE,
  response_json TEXT,
  verify_scheme TEXT,
  verify_key_id TEXT,
  verify_nonce BLOB,
  verify_secret BLOB,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX endpoints_by_account ON endpoints (account_id, created_at);

CREATE TABLE captures (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  method TEXT NOT NULL,
  size INTEGER NOT NULL,
  received_ms INTEGER NOT NULL,
  verification_status TEXT NOT NULL,
  verification_reason TEXT,
  key_id TEXT NOT NULL,
  nonce BLOB NOT NULL,
  payload BLOB NOT NULL
) STRICT;
CREATE INDEX captures_by_endpoint ON captures (endpoint_id, seq);
CREATE INDEX captures_by_time ON captures (received_ms);
CREATE INDEX captures_by_key ON captures (key_id);

CREATE TABLE forwarding_rules (
  id TEXT PRIMARY KEY,
  endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  target_url TEXT NOT NULL,
  preserve_path INTEGER NOT NULL DEFAULT 0,
  enabled INTEGER NOT NULL DEFAULT 1,
  disabled_reason TEXT,
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX forwarding_rules_by_endpoint ON forwarding_rules (endpoint_id);

CREATE TABLE deliveries (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL,
  endpoint_id TEXT NOT NULL REFERENCES endpoints(id) ON DELETE CASCADE,
  capture_id TEXT NOT NULL REFERENCES captures(id) ON DELETE CASCADE,
  rule_id TEXT REFERENCES forwarding_rules(id) ON DELETE SET NULL,
  kind TEXT NOT NULL,
  target_url TEXT NOT NULL,
  preserve_path INTEGER NOT NULL,
  status TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0,
  max_attempts INTEGER NOT NULL,
  next_attempt_ms INTEGER,
  last_status_code INTEGER,
  last_error TEXT,
  created_ms INTEGER NOT NULL,
  updated_ms INTEGER NOT NULL
) STRICT;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_ms);
CREATE INDEX deliveries_by_endpoint ON deliveries (endpoint_id, created_ms);

CREATE TABLE delivery_attempts (
  delivery_id TEXT NOT NULL REFERENCES deliveries(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  started_ms INTEGER NOT NULL,
  duration_ms INTEGER NOT NULL,
  status_code INTEGER,
  error TEXT,
  PRIMARY KEY (delivery_id, attempt)
) STRICT;
