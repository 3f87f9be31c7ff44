-- Callbacks waiting to be delivered. A row is written in the same transaction that marks its document
-- succeeded or failed, so a crash between the two cannot lose the callback; the delivery loop reads due rows
-- (also after a restart). The payload and webhook-id are fixed when the row is written: every retry sends
-- the same message, which is what lets receivers dedupe on webhook-id.
CREATE TABLE callback_outbox (
  document_id TEXT PRIMARY KEY REFERENCES documents(id) ON DELETE CASCADE,
  account_id TEXT NOT NULL,
  url TEXT NOT NULL,
  message_id TEXT NOT NULL,
  payload TEXT NOT NULL,
  state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'exhausted')),
  attempts INTEGER NOT NULL DEFAULT 0,
  next_attempt_at TEXT NOT NULL,
  last_error TEXT,
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL
) STRICT;
CREATE INDEX callback_outbox_due ON callback_outbox (next_attempt_at) WHERE state = 'pending';
