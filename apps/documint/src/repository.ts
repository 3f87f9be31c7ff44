import { randomBytes } from 'node:crypto';
import type { StudioDatabase } from '@studio/shared-db';
import type { Engine, OutputFormat } from './rendering/renderer';

export type VersionStatus = 'draft' | 'published';
export type DocumentStatus = 'queued' | 'succeeded' | 'failed';

export interface TemplateRecord {
  id: string;
  accountId: string;
  name: string;
  engine: Engine;
  createdAt: string;
}

export interface TemplateVersionRecord {
  templateId: string;
  version: number;
  status: VersionStatus;
  source: string;
  schema: Record<string, unknown>;
  createdAt: string;
  publishedAt: string | null;
}

export interface DocumentRecord {
  id: string;
  accountId: string;
  template: string;
  templateVersion: number | null;
  engine: Engine;
  format: OutputFormat;
  status: DocumentStatus;
  pages: number | null;
  bytes: number | null;
  sha256: string | null;
  error: string | null;
  callbackUrl: string | null;
  pendingRequest: string | null;
  createdAt: string;
  completedAt: string | null;
}

/** A callback waiting in the outbox: its message is fixed, only the attempt bookkeeping changes. */
export interface OutboxEntry {
  documentId: string;
  accountId: string;
  url: string;
  messageId: string;
  payload: string;
  attempts: number;
  nextAttemptAt: string;
}

interface OutboxRow {
  document_id: string;
  account_id: string;
  url: string;
  message_id: string;
  payload: string;
  attempts: number;
  next_attempt_at: string;
}

export interface AssetRecord {
  id: string;
  accountId: string;
  name: string | null;
  contentType: string;
  bytes: number;
  sha256: string;
  createdAt: string;
}

interface AssetRow {
  id: string;
  account_id: string;
  name: string | null;
  content_type: string;
  bytes: number;
  sha256: string;
  created_at: string;
}

const toAsset = (row: AssetRow): AssetRecord => ({
  id: row.id,
  accountId: row.account_id,
  name: row.name,
  contentType: row.content_type,
  bytes: row.bytes,
  sha256: row.sha256,
  createdAt: row.created_at,
});

export const newId = (prefix: string) => `${prefix}_${randomBytes(12).toString('base64url')}`;

interface TemplateRow {
  id: string;
  account_id: string;
  name: string;
  engine: Engine;
  created_at: string;
}
interface VersionRow {
  template_id: string;
  version: number;
  status: VersionStatus;
  source: string;
  schema: string;
  created_at: string;
  published_at: string | null;
}
interface DocumentRow {
  id: string;
  account_id: string;
  template: string;
  template_version: number | null;
  engine: Engine;
  format: OutputFormat;
  status: DocumentStatus;
  pages: number | null;
  bytes: number | null;
  sha256: string | null;
  error: string | null;
  callback_url: string | null;
  pending_request: string | null;
  created_at: string;
  completed_at: string | null;
}

const toTemplate = (row: TemplateRow): TemplateRecord => ({
  id: row.id,
  accountId: row.account_id,
  name: row.name,
  engine: row.engine,
  createdAt: row.created_at,
});
const toVersion = (row: VersionRow): TemplateVersionRecord => ({
  templateId: row.template_id,
  version: row.version,
  status: row.status,
  source: row.source,
  schema: JSON.parse(row.schema) as Record<string, unknown>,
  createdAt: row.created_at,
  publishedAt: row.published_at,
});
const toDocument = (row: DocumentRow): DocumentRecord => ({
  id: row.id,
  accountId: row.account_id,
  template: row.template,
  templateVersion: row.template_version,
  engine: row.engine,
  format: row.format,
  status: row.status,
  pages: row.pages,
  bytes: row.bytes,
  sha256: row.sha256,
  error: row.error,
  callbackUrl: row.callback_url,
  pendingRequest: row.pending_request,
  createdAt: row.created_at,
  completedAt: row.completed_at,
});

/** All of DocuMint's SQL. Statements are prepared once; every read is scoped to the account. */
export function createDocumintRepository(database: StudioDatabase) {
  const { sqlite } = database;
  const insertTemplate = sqlite.prepare(
    'INSERT INTO templates (id, account_id, name, engine, created_at) VALUES (?, ?, ?, ?, ?)',
  );
  const insertVersion = sqlite.prepare(
    `INSERT INTO template_versions (template_id, version, status, source, schema, created_at)
     VALUES (?, ?, 'draft', ?, ?, ?)`,
  );
  const selectTemplate = sqlite.prepare<[string, string], TemplateRow>(
    'SELECT * FROM templates WHERE id = ? AND account_id = ?',
  );
  const selectTemplates = sqlite.prepare<[string], TemplateRow>(
    'SELECT * FROM templates WHERE account_id = ? ORDER BY created_at, id',
  );
  const countTemplates = sqlite.prepare<[string], { count: number }>(
    'SELECT count(*) AS count FROM templates WHERE account_id = ?',
  );
  const selectVersions = sqlite.prepare<[string], VersionRow>(
    'SELECT * FROM template_versions WHERE template_id = ? ORDER BY version',
  );
  const selectVersion = sqlite.prepare<[string, number], VersionRow>(
    'SELECT * FROM template_versions WHERE template_id = ? AND version = ?',
  );
  const selectLatestPublished = sqlite.prepare<[string], VersionRow>(
    `SELECT * FROM template_versions WHERE template_id = ? AND status = 'published' ORDER BY version DESC LIMIT 1`,
  );
  const selectMaxVersion = sqlite.prepare<[string], { version: number | null }>(
    'SELECT max(version) AS version FROM template_versions WHERE template_id = ?',
  );
  const publishVersion = sqlite.prepare(
    `UPDATE template_versions SET status = 'published', published_at = ?
     WHERE template_id = ? AND version = ? AND status = 'draft'`,
  );
  const deleteTemplateStatement = sqlite.prepare('DELETE FROM templates WHERE id = ? AND account_id = ?');

  const insertDocument = sqlite.prepare(
    `INSERT INTO documents (id, account_id, template, template_version, engine, format, status, pages, bytes,
       sha256, error, callback_url, pending_request, created_at, completed_at)
     VALUES (@id, @accountId, @template, @templateVersion, @engine, @format, @status, @pages, @bytes,
       @sha256, @error, @callbackUrl, @pendingRequest, @createdAt, @completedAt)`,
  );
  const completeDocument = sqlite.prepare(
    `UPDATE documents SET status = @status, pages = @pages, bytes = @bytes, sha256 = @sha256, error = @error,
       pending_request = NULL, completed_at = @completedAt WHERE id = @id`,
  );
  const selectDocument = sqlite.prepare<[string, string], DocumentRow>(
    'SELECT * FROM documents WHERE id = ? AND account_id = ?',
  );
  const selectDocumentById = sqlite.prepare<[string], DocumentRow>('SELECT * FROM documents WHERE id = ?');
  const selectDocumentsPage = sqlite.prepare<[string, string, string, string, number], DocumentRow>(
    `SELECT * FROM documents WHERE account_id = ? AND (created_at < ? OR (created_at = ? AND id < ?))
     ORDER BY created_at DESC, id DESC LIMIT ?`,
  );
  const selectQueued = sqlite.prepare<[], DocumentRow>(
    `SELECT * FROM documents WHERE status = 'queued' ORDER BY created_at`,
  );
  const deleteDocumentStatement = sqlite.prepare('DELETE FROM documents WHERE id = ? AND account_id = ?');
  const selectExpired = sqlite.prepare<[string, string, number], DocumentRow>(
    `SELECT * FROM documents WHERE account_id = ? AND created_at < ? AND status != 'queued' LIMIT ?`,
  );
  const selectAccountsWithDocuments = sqlite.prepare<[], { account_id: string; plan: string }>(
    'SELECT DISTINCT d.account_id, a.plan FROM documents d JOIN accounts a ON a.id = d.account_id',
  );
  const insertAttempt = sqlite.prepare(
    `INSERT INTO callback_attempts (document_id, attempt, message_id, status, ok, error, attempted_at)
     VALUES (@documentId, @attempt, @messageId, @status, @ok, @error, @attemptedAt)`,
  );
  const selectAttempts = sqlite.prepare<
    [string],
    {
      attempt: number;
      message_id: string;
      status: number | null;
      ok: number;
      error: string | null;
      attempted_at: string;
    }
  >('SELECT * FROM callback_attempts WHERE document_id = ? ORDER BY attempt');

  const insertOutbox = sqlite.prepare(
    `INSERT INTO callback_outbox (document_id, account_id, url, message_id, payload, state, attempts,
       next_attempt_at, created_at, updated_at)
     VALUES (@documentId, @accountId, @url, @messageId, @payload, 'pending', 0, @nextAttemptAt, @now, @now)`,
  );
  const selectDueOutbox = sqlite.prepare<[string, number], OutboxRow>(
    `SELECT document_id, account_id, url, message_id, payload, attempts, next_attempt_at FROM callback_outbox
     WHERE state = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at, document_id LIMIT ?`,
  );
  const updateOutbox = sqlite.prepare(
    `UPDATE callback_outbox SET state = @state, attempts = @attempts, next_attempt_at = @nextAttemptAt,
       last_error = @lastError, updated_at = @now WHERE document_id = @documentId`,
  );
  const selectOutboxState = sqlite.prepare<
    [string],
    {
      state: 'pending' | 'delivered' | 'exhausted';
      attempts: number;
      next_attempt_at: string;
      message_id: string;
    }
  >('SELECT state, attempts, next_attempt_at, message_id FROM callback_outbox WHERE document_id = ?');
  const countPendingOutbox = sqlite.prepare<[], { count: number }>(
    `SELECT count(*) AS count FROM callback_outbox WHERE state = 'pending'`,
  );
  const countOverdueOutbox = sqlite.prepare<[string], { count: number }>(
    `SELECT count(*) AS count FROM callback_outbox WHERE state = 'pending' AND next_attempt_at < ?`,
  );

  const insertAsset = sqlite.prepare(
    `INSERT INTO assets (id, account_id, name, content_type, bytes, sha256, created_at)
     VALUES (@id, @accountId, @name, @contentType, @bytes, @sha256, @createdAt)`,
  );
  const selectAsset = sqlite.prepare<[string, string], AssetRow>(
    'SELECT * FROM assets WHERE id = ? AND account_id = ?',
  );
  const selectAssets = sqlite.prepare<[string], AssetRow>(
    'SELECT * FROM assets WHERE account_id = ? ORDER BY created_at, id',
  );
  const countAssets = sqlite.prepare<[string], { count: number }>(
    'SELECT count(*) AS count FROM assets WHERE account_id = ?',
  );
  const deleteAssetStatement = sqlite.prepare('DELETE FROM assets WHERE id = ? AND account_id = ?');
  const saveAsset = database.transaction((asset: AssetRecord) => {
    insertAsset.run(asset);
  });
  const removeAsset = database.transaction(
    (id: string, accountId: string) => deleteAssetStatement.run(id, accountId).changes > 0,
  );

  const createTemplate = database.transaction(
    (input: {
      accountId: string;
      name: string;
      engine: Engine;
      source: string;
      schema: string;
      now: string;
    }) => {
      const id = newId('tpl');
      insertTemplate.run(id, input.accountId, input.name, input.engine, input.now);
      insertVersion.run(id, 1, input.source, input.schema, input.now);
      return { id, version: 1 };
    },
  );
  const addVersion = database.transaction(
    (input: { templateId: string; source: string; schema: string; now: string }) => {
      const version = (selectMaxVersion.get(input.templateId)?.version ?? 0) + 1;
      insertVersion.run(input.templateId, version, input.source, input.schema, input.now);
      return version;
    },
  );
  const publish = database.transaction((templateId: string, version: number, now: string) => {
    publishVersion.run(now, templateId, version);
    const row = selectVersion.get(templateId, version);
    return row ? toVersion(row) : null;
  });
  const removeTemplate = database.transaction(
    (id: string, accountId: string) => deleteTemplateStatement.run(id, accountId).changes > 0,
  );
  const saveDocument = database.transaction((document: DocumentRecord) => {
    insertDocument.run(document);
  });
  /**
   * Marks the document rendered or failed and, when it has a callback, queues that callback in the outbox in
   * the same transaction: either both happen or neither does.
   */
  const finishDocument = database.transaction(
    (
      update: {
        id: string;
        status: DocumentStatus;
        pages: number | null;
        bytes: number | null;
        sha256: string | null;
        error: string | null;
        completedAt: string;
      },
      callback?: Omit<OutboxEntry, 'attempts'>,
    ) => {
      // A document deleted while it rendered has nothing left to announce.
      const changed = completeDocument.run(update).changes > 0;
      if (callback && changed) insertOutbox.run({ ...callback, now: update.completedAt });
    },
  );
  const removeDocument = database.transaction(
    (id: string, accountId: string) => deleteDocumentStatement.run(id, accountId).changes > 0,
  );
  /** One delivery attempt and the outbox row's next state, together. */
  const recordAttempt = database.transaction(
    (
      attempt: {
        documentId: string;
        attempt: number;
        messageId: string;
        status: number | null;
        ok: number;
        error: string | null;
        attemptedAt: string;
      },
      next: { state: 'pending' | 'delivered' | 'exhausted'; nextAttemptAt: string },
    ) => {
      insertAttempt.run(attempt);
      updateOutbox.run({
        documentId: attempt.documentId,
        state: next.state,
        attempts: attempt.attempt,
        nextAttemptAt: next.nextAttemptAt,
        lastError: attempt.error,
        now: attempt.attemptedAt,
      });
    },
  );

  return {
    saveAsset,
    removeAsset,
    findAsset: (id: string, accountId: string) => {
      const row = selectAsset.get(id, accountId);
      return row ? toAsset(row) : null;
    },
    listAssets: (accountId: string) => selectAssets.all(accountId).map(toAsset),
    countAssets: (accountId: string) => countAssets.get(accountId)?.count ?? 0,
    createTemplate,
    addVersion,
    publish,
    removeTemplate,
    findTemplate: (id: string, accountId: string) => {
      const row = selectTemplate.get(id, accountId);
      return row ? toTemplate(row) : null;
    },
    listTemplates: (accountId: string) => selectTemplates.all(accountId).map(toTemplate),
    countTemplates: (accountId: string) => countTemplates.get(accountId)?.count ?? 0,
    versions: (templateId: string) => selectVersions.all(templateId).map(toVersion),
    findVersion: (templateId: string, version: number) => {
      const row = selectVersion.get(templateId, version);
      return row ? toVersion(row) : null;
    },
    latestPublished: (templateId: string) => {
      const row = selectLatestPublished.get(templateId);
      return row ? toVersion(row) : null;
    },
    saveDocument,
    finishDocument,
    removeDocument,
    findDocument: (id: string, accountId: string) => {
      const row = selectDocument.get(id, accountId);
      return row ? toDocument(row) : null;
    },
    /** Unscoped: only for signed download links, whose signature names the document. */
    findDocumentById: (id: string) => {
      const row = selectDocumentById.get(id);
      return row ? toDocument(row) : null;
    },
    listDocuments: (accountId: string, limit: number, before?: { createdAt: string; id: string }) =>
      selectDocumentsPage
        .all(accountId, before?.createdAt ?? '9999', before?.createdAt ?? '9999', before?.id ?? '', limit)
        .map(toDocument),
    queuedDocuments: () => selectQueued.all().map(toDocument),
    expiredDocuments: (accountId: string, createdBefore: string, limit: number) =>
      selectExpired.all(accountId, createdBefore, limit).map(toDocument),
    accountsWithDocuments: () => selectAccountsWithDocuments.all(),
    recordAttempt,
    /** Callbacks due at `now` (every account: the delivery loop reads the account from each row). */
    dueCallbacks: (now: string, limit: number): OutboxEntry[] =>
      selectDueOutbox.all(now, limit).map((row) => ({
        documentId: row.document_id,
        accountId: row.account_id,
        url: row.url,
        messageId: row.message_id,
        payload: row.payload,
        attempts: row.attempts,
        nextAttemptAt: row.next_attempt_at,
      })),
    /** The document's callback in the outbox; callers have already checked the document is the account's. */
    callbackDelivery: (documentId: string) => {
      const row = selectOutboxState.get(documentId);
      if (!row) return null;
      return {
        state: row.state,
        attempts: row.attempts,
        nextAttemptAt: row.state === 'pending' ? row.next_attempt_at : null,
        messageId: row.message_id,
      };
    },
    pendingCallbacks: () => countPendingOutbox.get()?.count ?? 0,
    /** Pending callbacks whose attempt was due before `before`: the delivery loop is not keeping up. */
    overdueCallbacks: (before: string) => countOverdueOutbox.get(before)?.count ?? 0,
    callbackAttempts: (documentId: string) =>
      selectAttempts.all(documentId).map((row) => ({
        attempt: row.attempt,
        messageId: row.message_id,
        status: row.status,
        ok: row.ok === 1,
        error: row.error,
        attemptedAt: row.attempted_at,
      })),
  };
}

export type DocumintRepository = ReturnType<typeof createDocumintRepository>;
