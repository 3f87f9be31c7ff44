-- CronPing's own tables. Times are integer milliseconds since the Unix epoch (UTC): they are compared and
-- indexed on the hot paths (deadlines), and are formatted as ISO 8601 only at the API edge.

-- Per-account keys that are not API keys: the ping key of the slug URLs and the badge key of the public
-- tag badges. Created on first use.
CREATE TABLE account_keys (
  account_id TEXT PRIMARY KEY REFERENCES accounts(id) ON DELETE CASCADE,
  ping_key TEXT NOT NULL UNIQUE,
  badge_key TEXT NOT NULL UNIQUE
) STRICT;

CREATE TABLE checks (
  id INTEGER PRIMARY KEY,
  code TEXT NOT NULL UNIQUE,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL DEFAULT '',
  slug TEXT NOT NULL DEFAULT '',
  tags TEXT NOT NULL DEFAULT '',
  description TEXT NOT NULL DEFAULT '',
  kind TEXT NOT NULL DEFAULT 'simple' CHECK (kind IN ('simple', 'cron')),
  timeout INTEGER NOT NULL DEFAULT 86400,
  schedule TEXT NOT NULL DEFAULT '* * * * *',
  tz TEXT NOT NULL DEFAULT 'UTC',
  grace INTEGER NOT NULL DEFAULT 3600,
  manual_resume INTEGER NOT NULL DEFAULT 0 CHECK (manual_resume IN (0, 1)),
  methods TEXT NOT NULL DEFAULT '' CHECK (methods IN ('', 'POST')),
  min_duration INTEGER,
  failure_tolerance INTEGER NOT NULL DEFAULT 0,
  max_runtime INTEGER,
  status TEXT NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'up', 'down', 'paused')),
  n_pings INTEGER NOT NULL DEFAULT 0,
  last_ping INTEGER,
  last_start INTEGER,
  last_start_rid TEXT,
  last_duration INTEGER,
  consecutive_failures INTEGER NOT NULL DEFAULT 0,
  -- The moment this check goes down unless a ping arrives first; NULL when nothing is pending.
  alert_after INTEGER,
  badge_key TEXT NOT NULL UNIQUE,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX checks_by_account ON checks(account_id, id);
CREATE INDEX checks_by_slug ON checks(account_id, slug);
-- The scheduler's one query: the earliest pending deadline, and every check past it.
CREATE INDEX checks_by_deadline ON checks(alert_after) WHERE alert_after IS NOT NULL;

CREATE TABLE pings (
  id INTEGER PRIMARY KEY,
  check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,
  n INTEGER NOT NULL,
  created INTEGER NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('success', 'start', 'fail', 'log', 'ign')),
  scheme TEXT NOT NULL,
  remote_addr TEXT NOT NULL,
  method TEXT NOT NULL,
  ua TEXT NOT NULL,
  body BLOB,
  exitstatus INTEGER,
  rid TEXT,
  duration INTEGER
) STRICT;
CREATE UNIQUE INDEX pings_by_check ON pings(check_id, n);

CREATE TABLE flips (
  id INTEGER PRIMARY KEY,
  check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,
  created INTEGER NOT NULL,
  old_status TEXT NOT NULL,
  new_status TEXT NOT NULL,
  reason TEXT NOT NULL
) STRICT;
CREATE INDEX flips_by_check ON flips(check_id, id);

CREATE TABLE channels (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  kind TEXT NOT NULL CHECK (kind IN ('webhook', 'slack', 'email')),
  target TEXT NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX channels_by_account ON channels(account_id);

CREATE TABLE check_channels (
  check_id INTEGER NOT NULL REFERENCES checks(id) ON DELETE CASCADE,
  channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
  PRIMARY KEY (check_id, channel_id)
) STRICT, WITHOUT ROWID;
CREATE INDEX check_channels_by_channel ON check_channels(channel_id);

-- The alert outbox: written in the transaction that flips a check, delivered (and retried) afterwards, so
-- an alert is never lost to a crash between the flip and the delivery.
CREATE TABLE notifications (
  id INTEGER PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  channel_id TEXT NOT NULL REFERENCES channels(id) ON DELETE CASCADE,
  check_code TEXT NOT NULL,
  event TEXT NOT NULL CHECK (event IN ('down', 'up')),
  payload TEXT NOT NULL,
  message_id TEXT NOT NULL,
  state TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at INTEGER NOT NULL,
  last_error TEXT,
  created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX notifications_due ON notifications(next_attempt_at) WHERE state = 'pending';
