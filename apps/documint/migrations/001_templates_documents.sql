-- Templates belong to one account; their versions are immutable once written (only draft -> published
-- changes), so a document can always name the exact source it was rendered from.
CREATE TABLE templates (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  name TEXT NOT NULL,
  engine TEXT NOT NULL CHECK (engine IN ('typst', 'chromium')),
  created_at TEXT NOT NULL
) STRICT;
CREATE INDEX templates_by_account ON templates (account_id, created_at);

CREATE TABLE template_versions (
  template_id TEXT NOT NULL REFERENCES templates(id) ON DELETE CASCADE,
  version INTEGER NOT NULL CHECK (version >= 1),
  status TEXT NOT NULL CHECK (status IN ('draft', 'published')),
  source TEXT NOT NULL,
  schema TEXT NOT NULL,
  created_at TEXT NOT NULL,
  published_at TEXT,
  PRIMARY KEY (template_id, version)
) STRICT;

-- Metadata only: the PDF itself is a file under DATA_DIR/documents/<account>/<id>.pdf.
CREATE TABLE documents (
  id TEXT PRIMARY KEY,
  account_id TEXT NOT NULL REFERENCES accounts(id) ON DELETE CASCADE,
  template TEXT NOT NULL,
  template_version INTEGER,
  engine TEXT NOT NULL CHECK (engine IN ('typst', 'chromium')),
  format TEXT NOT NULL CHECK (format IN ('pdf', 'pdf/a-2b', 'factur-x')),
  status TEXT NOT NULL CHECK (status IN ('queued', 'succeeded', 'failed')),
  pages INTEGER,
  bytes INTEGER,
  sha256 TEXT,
  error TEXT,
  callback_url TEXT,
  -- The request of a queued document, so a restart can finish it; cleared once it is rendered.
  pending_request TEXT,
  created_at TEXT NOT NULL,
  completed_at TEXT
) STRICT;
CREATE INDEX documents_by_account ON documents (account_id, created_at, id);
CREATE INDEX documents_by_status ON documents (status) WHERE status = 'queued';

CREATE TABLE callback_attempts (
  document_id TEXT NOT NULL REFERENCES documents(id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  message_id TEXT NOT NULL,
  status INTEGER,
  ok INTEGER NOT NULL CHECK (ok IN (0, 1)),
  error TEXT,
  attempted_at TEXT NOT NULL,
  PRIMARY KEY (document_id, attempt)
) STRICT;
