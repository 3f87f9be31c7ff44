import type { StudioDatabase } from '@studio/shared-db';

/**
 * All of the ops-agent's SQL. Statements are prepared once, here; every write runs inside
 * `database.transaction` (the callers compose several of these calls into one transaction where an effect
 * and its record must land together, e.g. a Stripe event and the entitlement it changes).
 */

export type HealthStatus = 'pass' | 'warn' | 'fail';

export interface IncidentRow {
  id: string;
  product: string;
  status: 'open' | 'resolved';
  openedAt: string;
  resolvedAt: string | null;
  reason: string;
}

export interface ProductStateRow {
  product: string;
  consecutiveFailures: number;
  consecutiveSuccesses: number;
  lastStatus: HealthStatus | null;
  lastReason: string | null;
  lastUptimeSeconds: number | null;
  /** Service processes only: the supervisor's restart count at the last audit. */
  lastRestarts: number | null;
}

export interface OutboxRow {
  id: string;
  kind: 'provision' | 'alert';
  dedupeKey: string | null;
  payload: string;
  attempts: number;
  nextAttemptAt: string;
  lastError: string | null;
  createdAt: string;
  deliveredAt: string | null;
}

export interface SubscriptionRow {
  id: string;
  product: string | null;
  accountId: string | null;
  priceId: string | null;
  plan: string | null;
  status: string;
  version: number;
  /** The latest invoice outcome (`invoice.paid` / `invoice.payment_failed`) and its event's `created`. */
  invoiceOutcome: 'paid' | 'failed' | null;
  invoiceVersion: number | null;
  updatedAt: string;
}

export interface EntitlementRow {
  product: string;
  accountId: string;
  plan: string;
  status: 'active' | 'suspended';
}

export interface PostRow {
  id: string;
  slug: string;
  title: string;
  markdown: string;
  html: string;
  tags: string;
  status: 'draft' | 'published' | 'failed';
  ghostId: string | null;
  url: string | null;
  lastError: string | null;
  createdAt: string;
  publishedAt: string | null;
}

export type QueueStatus = 'pending' | 'approved' | 'rejected' | 'sent' | 'ready_by_hand';

export interface QueueItemRow {
  id: string;
  postId: string;
  kind: 'crosspost' | 'newsletter';
  channel: string;
  title: string;
  body: string;
  status: QueueStatus;
  externalId: string | null;
  externalUrl: string | null;
  lastError: string | null;
  createdAt: string;
  decidedAt: string | null;
}

export interface CycleRow {
  id: string;
  day: string;
  startedAt: string;
  finishedAt: string | null;
  status: string;
  actions: string;
}

export interface SessionRow {
  idHash: Buffer;
  csrfToken: string;
  secondFactorDone: number;
  createdAt: string;
  expiresAt: string;
}

export function createRepository(database: StudioDatabase) {
  const db = database.sqlite;
  const s = {
    insertAudit: db.prepare('INSERT INTO audits (id, started_at, status, report) VALUES (?, ?, ?, ?)'),
    latestAudit: db.prepare('SELECT report FROM audits ORDER BY started_at DESC, rowid DESC LIMIT 1'),
    recentAudits: db.prepare(
      'SELECT id, started_at AS startedAt, status FROM audits ORDER BY started_at DESC, rowid DESC LIMIT ?',
    ),
    insertCheck: db.prepare(
      'INSERT INTO product_checks (audit_id, product, via, status, response_time_ms, checked_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    pruneChecks: db.prepare('DELETE FROM product_checks WHERE checked_at < ?'),
    pruneAudits: db.prepare('DELETE FROM audits WHERE started_at < ?'),
    checksSince: db.prepare(
      `SELECT status, response_time_ms AS responseTimeMs, checked_at AS checkedAt FROM product_checks
       WHERE product = ? AND via = 'direct' AND checked_at >= ? ORDER BY checked_at`,
    ),
    productState: db.prepare(
      `SELECT product, consecutive_failures AS consecutiveFailures, consecutive_successes AS consecutiveSuccesses,
              last_status AS lastStatus, last_reason AS lastReason, last_uptime_seconds AS lastUptimeSeconds,
              last_restarts AS lastRestarts
       FROM product_state WHERE product = ?`,
    ),
    upsertProductState: db.prepare(
      `INSERT INTO product_state (product, consecutive_failures, consecutive_successes, last_status, last_reason,
         last_uptime_seconds, last_restarts)
       VALUES (@product, @consecutiveFailures, @consecutiveSuccesses, @lastStatus, @lastReason, @lastUptimeSeconds,
         @lastRestarts)
       ON CONFLICT (product) DO UPDATE SET consecutive_failures = excluded.consecutive_failures,
         consecutive_successes = excluded.consecutive_successes, last_status = excluded.last_status,
         last_reason = excluded.last_reason,
         last_uptime_seconds = coalesce(excluded.last_uptime_seconds, product_state.last_uptime_seconds),
         last_restarts = coalesce(excluded.last_restarts, product_state.last_restarts)`,
    ),
    openIncident: db.prepare(
      `SELECT id, product, status, opened_at AS openedAt, resolved_at AS resolvedAt, reason FROM incidents
       WHERE product = ? AND status = 'open'`,
    ),
    insertIncident: db.prepare(
      `INSERT INTO incidents (id, product, status, opened_at, reason) VALUES (?, ?, 'open', ?, ?)`,
    ),
    resolveIncident: db.prepare(`UPDATE incidents SET status = 'resolved', resolved_at = ? WHERE id = ?`),
    listIncidents: db.prepare(
      `SELECT id, product, status, opened_at AS openedAt, resolved_at AS resolvedAt, reason FROM incidents
       ORDER BY opened_at DESC, rowid DESC LIMIT ?`,
    ),
    insertIncidentEvent: db.prepare(
      'INSERT INTO incident_events (incident_id, at, kind, message) VALUES (?, ?, ?, ?)',
    ),
    incidentEvents: db.prepare(
      'SELECT at, kind, message FROM incident_events WHERE incident_id = ? ORDER BY id',
    ),

    insertOutbox: db.prepare(
      `INSERT INTO outbox (id, kind, dedupe_key, payload, next_attempt_at, created_at)
       VALUES (@id, @kind, @dedupeKey, @payload, @nextAttemptAt, @createdAt)
       ON CONFLICT (dedupe_key) WHERE delivered_at IS NULL AND dedupe_key IS NOT NULL
       DO UPDATE SET payload = excluded.payload, next_attempt_at = excluded.next_attempt_at, attempts = 0`,
    ),
    dueOutbox: db.prepare(
      `SELECT id, kind, dedupe_key AS dedupeKey, payload, attempts, next_attempt_at AS nextAttemptAt,
              last_error AS lastError, created_at AS createdAt, delivered_at AS deliveredAt
       FROM outbox WHERE delivered_at IS NULL AND next_attempt_at <= ? ORDER BY created_at, rowid LIMIT ?`,
    ),
    pendingByKey: db.prepare(
      `SELECT id, kind, dedupe_key AS dedupeKey, payload, attempts, next_attempt_at AS nextAttemptAt,
         last_error AS lastError, created_at AS createdAt, delivered_at AS deliveredAt
       FROM outbox WHERE delivered_at IS NULL AND dedupe_key = ?`,
    ),
    pendingOutbox: db.prepare(
      `SELECT id, kind, dedupe_key AS dedupeKey, payload, attempts, next_attempt_at AS nextAttemptAt,
              last_error AS lastError, created_at AS createdAt, delivered_at AS deliveredAt
       FROM outbox WHERE delivered_at IS NULL ORDER BY created_at, rowid`,
    ),
    // The payload check keeps a delivery from marking done a row that a newer entitlement replaced meanwhile.
    markDelivered: db.prepare(
      'UPDATE outbox SET delivered_at = ?, attempts = attempts + 1 WHERE id = ? AND payload = ?',
    ),
    markFailed: db.prepare(
      'UPDATE outbox SET attempts = attempts + 1, last_error = ?, next_attempt_at = ? WHERE id = ? AND payload = ?',
    ),

    insertStripeEvent: db.prepare(
      'INSERT OR IGNORE INTO stripe_events (id, type, created, received_at, summary) VALUES (?, ?, ?, ?, ?)',
    ),
    setStripeEventSummary: db.prepare('UPDATE stripe_events SET summary = ? WHERE id = ?'),
    recentStripeEvents: db.prepare(
      `SELECT id, type, created, received_at AS receivedAt, summary FROM stripe_events
       ORDER BY received_at DESC, rowid DESC LIMIT ?`,
    ),
    subscription: db.prepare(
      `SELECT id, product, account_id AS accountId, price_id AS priceId, plan, status, version,
         invoice_outcome AS invoiceOutcome, invoice_version AS invoiceVersion, updated_at AS updatedAt
       FROM subscriptions WHERE id = ?`,
    ),
    upsertSubscription: db.prepare(
      `INSERT INTO subscriptions (id, product, account_id, price_id, plan, status, version, invoice_outcome,
         invoice_version, updated_at)
       VALUES (@id, @product, @accountId, @priceId, @plan, @status, @version, @invoiceOutcome, @invoiceVersion,
         @updatedAt)
       ON CONFLICT (id) DO UPDATE SET product = excluded.product, account_id = excluded.account_id,
         price_id = excluded.price_id, plan = excluded.plan, status = excluded.status, version = excluded.version,
         invoice_outcome = excluded.invoice_outcome, invoice_version = excluded.invoice_version,
         updated_at = excluded.updated_at`,
    ),
    subscriptionsOf: db.prepare(
      `SELECT id, product, account_id AS accountId, price_id AS priceId, plan, status, version,
         invoice_outcome AS invoiceOutcome, invoice_version AS invoiceVersion, updated_at AS updatedAt
       FROM subscriptions WHERE product = ? AND account_id = ?`,
    ),
    entitlement: db.prepare('SELECT plan, status FROM entitlements WHERE product = ? AND account_id = ?'),
    upsertEntitlement: db.prepare(
      `INSERT INTO entitlements (product, account_id, plan, status, updated_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT (product, account_id) DO UPDATE SET plan = excluded.plan, status = excluded.status,
         updated_at = excluded.updated_at`,
    ),
    allEntitlements: db.prepare(
      'SELECT product, account_id AS accountId, plan, status FROM entitlements ORDER BY product, account_id',
    ),

    insertPost: db.prepare(
      `INSERT INTO posts (id, slug, title, markdown, html, tags, status, created_at)
       VALUES (@id, @slug, @title, @markdown, @html, @tags, 'draft', @createdAt)`,
    ),
    postById: db.prepare(
      `SELECT id, slug, title, markdown, html, tags, status, ghost_id AS ghostId, url, last_error AS lastError,
              created_at AS createdAt, published_at AS publishedAt FROM posts WHERE id = ?`,
    ),
    postBySlug: db.prepare('SELECT id FROM posts WHERE slug = ?'),
    listPosts: db.prepare(
      `SELECT id, slug, title, markdown, html, tags, status, ghost_id AS ghostId, url, last_error AS lastError,
              created_at AS createdAt, published_at AS publishedAt FROM posts ORDER BY created_at DESC, rowid DESC`,
    ),
    countPublished: db.prepare(`SELECT count(*) AS n FROM posts WHERE status = 'published'`),
    markPublished: db.prepare(
      `UPDATE posts SET status = 'published', ghost_id = ?, url = ?, published_at = ?, last_error = NULL WHERE id = ?`,
    ),
    markPostFailed: db.prepare(
      `UPDATE posts SET status = 'failed', last_error = ?, ghost_id = coalesce(?, ghost_id) WHERE id = ?`,
    ),

    insertQueueItem: db.prepare(
      `INSERT INTO queue_items (id, post_id, kind, channel, title, body, status, created_at)
       VALUES (@id, @postId, @kind, @channel, @title, @body, 'pending', @createdAt)
       ON CONFLICT (post_id, channel) DO NOTHING`,
    ),
    queueItem: db.prepare(
      `SELECT id, post_id AS postId, kind, channel, title, body, status, external_id AS externalId,
              external_url AS externalUrl, last_error AS lastError, created_at AS createdAt, decided_at AS decidedAt
       FROM queue_items WHERE id = ?`,
    ),
    queueItemByPostChannel: db.prepare('SELECT id FROM queue_items WHERE post_id = ? AND channel = ?'),
    listQueue: db.prepare(
      `SELECT id, post_id AS postId, kind, channel, title, body, status, external_id AS externalId,
              external_url AS externalUrl, last_error AS lastError, created_at AS createdAt, decided_at AS decidedAt
       FROM queue_items ORDER BY created_at, rowid`,
    ),
    approvedQueue: db.prepare(
      `SELECT id FROM queue_items WHERE status = 'approved' ORDER BY decided_at, rowid LIMIT ?`,
    ),
    setQueueStatus: db.prepare(
      `UPDATE queue_items SET status = @status, decided_at = coalesce(@decidedAt, decided_at),
         external_id = coalesce(@externalId, external_id), external_url = coalesce(@externalUrl, external_url),
         last_error = @lastError WHERE id = @id`,
    ),
    editQueueItem: db.prepare(
      `UPDATE queue_items SET title = ?, body = ? WHERE id = ? AND status = 'pending'`,
    ),

    insertCycle: db.prepare(
      'INSERT INTO cycles (id, day, started_at, status, actions) VALUES (?, ?, ?, ?, ?)',
    ),
    finishCycle: db.prepare('UPDATE cycles SET finished_at = ?, status = ?, actions = ? WHERE id = ?'),
    cyclesOnDay: db.prepare(`SELECT count(*) AS n FROM cycles WHERE day = ? AND status != 'skipped'`),
    recentCycles: db.prepare(
      `SELECT id, day, started_at AS startedAt, finished_at AS finishedAt, status, actions FROM cycles
       ORDER BY started_at DESC, rowid DESC LIMIT ?`,
    ),

    setting: db.prepare('SELECT value FROM owner_settings WHERE key = ?'),
    putSetting: db.prepare(
      'INSERT INTO owner_settings (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value',
    ),
    deleteSetting: db.prepare('DELETE FROM owner_settings WHERE key = ?'),
    insertSession: db.prepare(
      'INSERT INTO sessions (id_hash, csrf_token, second_factor_done, created_at, expires_at) VALUES (?, ?, ?, ?, ?)',
    ),
    session: db.prepare(
      `SELECT id_hash AS idHash, csrf_token AS csrfToken, second_factor_done AS secondFactorDone,
              created_at AS createdAt, expires_at AS expiresAt FROM sessions WHERE id_hash = ? AND expires_at > ?`,
    ),
    completeSecondFactor: db.prepare('UPDATE sessions SET second_factor_done = 1 WHERE id_hash = ?'),
    deleteSession: db.prepare('DELETE FROM sessions WHERE id_hash = ?'),
    deleteExpiredSessions: db.prepare('DELETE FROM sessions WHERE expires_at <= ?'),
  };

  const write = <Args extends unknown[], Result>(fn: (...args: Args) => Result) => database.transaction(fn);

  return {
    /** Runs `fn` in one write transaction (nested calls join the outer one). */
    transaction: write,

    // ---- audits and incidents
    insertAudit(id: string, startedAt: string, status: HealthStatus, report: unknown) {
      s.insertAudit.run(id, startedAt, status, JSON.stringify(report));
    },
    latestAudit(): unknown | undefined {
      const row = s.latestAudit.get() as { report: string } | undefined;
      return row ? JSON.parse(row.report) : undefined;
    },
    recentAudits(limit: number) {
      return s.recentAudits.all(limit) as Array<{ id: string; startedAt: string; status: HealthStatus }>;
    },
    insertCheck(
      auditId: string,
      product: string,
      via: 'direct' | 'caddy',
      status: HealthStatus,
      responseTimeMs: number | null,
      at: string,
    ) {
      s.insertCheck.run(auditId, product, via, status, responseTimeMs, at);
    },
    /** Drops history older than `before` (the 30-day window is all the page and the API read). */
    pruneHistory(before: string) {
      s.pruneChecks.run(before);
      s.pruneAudits.run(before);
    },
    checksSince(product: string, since: string) {
      return s.checksSince.all(product, since) as Array<{
        status: HealthStatus;
        responseTimeMs: number | null;
        checkedAt: string;
      }>;
    },
    productState(product: string): ProductStateRow {
      return (
        (s.productState.get(product) as ProductStateRow | undefined) ?? {
          product,
          consecutiveFailures: 0,
          consecutiveSuccesses: 0,
          lastStatus: null,
          lastReason: null,
          lastUptimeSeconds: null,
          lastRestarts: null,
        }
      );
    },
    saveProductState(state: ProductStateRow) {
      s.upsertProductState.run(state);
    },
    openIncident(product: string) {
      return s.openIncident.get(product) as IncidentRow | undefined;
    },
    insertIncident(id: string, product: string, openedAt: string, reason: string) {
      s.insertIncident.run(id, product, openedAt, reason);
    },
    resolveIncident(id: string, at: string) {
      s.resolveIncident.run(at, id);
    },
    listIncidents(limit = 200) {
      return s.listIncidents.all(limit) as IncidentRow[];
    },
    addIncidentEvent(incidentId: string, at: string, kind: string, message: string) {
      s.insertIncidentEvent.run(incidentId, at, kind, message);
    },
    incidentEvents(incidentId: string) {
      return s.incidentEvents.all(incidentId) as Array<{ at: string; kind: string; message: string }>;
    },

    // ---- outbox
    enqueue(row: {
      id: string;
      kind: OutboxRow['kind'];
      dedupeKey: string | null;
      payload: unknown;
      at: string;
    }) {
      s.insertOutbox.run({
        id: row.id,
        kind: row.kind,
        dedupeKey: row.dedupeKey,
        payload: JSON.stringify(row.payload),
        nextAttemptAt: row.at,
        createdAt: row.at,
      });
    },
    dueOutbox(now: string, limit: number) {
      return s.dueOutbox.all(now, limit) as OutboxRow[];
    },
    pendingOutbox() {
      return s.pendingOutbox.all() as OutboxRow[];
    },
    markDelivered(row: OutboxRow, at: string) {
      s.markDelivered.run(at, row.id, row.payload);
    },
    markFailed(row: OutboxRow, error: string, nextAttemptAt: string) {
      s.markFailed.run(error, nextAttemptAt, row.id, row.payload);
    },

    // ---- Stripe
    /** False when the event id was already recorded: the caller's effect must not run again. */
    recordStripeEvent(id: string, type: string, created: number, at: string, summary: string): boolean {
      return s.insertStripeEvent.run(id, type, created, at, summary).changes === 1;
    },
    setStripeEventSummary(id: string, summary: string) {
      s.setStripeEventSummary.run(summary, id);
    },
    recentStripeEvents(limit: number) {
      return s.recentStripeEvents.all(limit) as Array<{
        id: string;
        type: string;
        created: number;
        receivedAt: string;
        summary: string;
      }>;
    },
    subscription(id: string) {
      return s.subscription.get(id) as SubscriptionRow | undefined;
    },
    saveSubscription(row: SubscriptionRow) {
      s.upsertSubscription.run(row);
    },
    subscriptionsOf(product: string, accountId: string) {
      return s.subscriptionsOf.all(product, accountId) as SubscriptionRow[];
    },
    entitlement(product: string, accountId: string) {
      return s.entitlement.get(product, accountId) as Pick<EntitlementRow, 'plan' | 'status'> | undefined;
    },
    saveEntitlement(entitlement: EntitlementRow, at: string) {
      const { product, accountId, plan, status } = entitlement;
      s.upsertEntitlement.run(product, accountId, plan, status, at);
    },
    allEntitlements() {
      return s.allEntitlements.all() as EntitlementRow[];
    },
    /** The undelivered outbox row with this coalescing key, if any. */
    pendingByKey(dedupeKey: string) {
      return s.pendingByKey.get(dedupeKey) as OutboxRow | undefined;
    },

    // ---- content
    insertPost(row: Pick<PostRow, 'id' | 'slug' | 'title' | 'markdown' | 'html' | 'tags' | 'createdAt'>) {
      s.insertPost.run(row);
    },
    post(id: string) {
      return s.postById.get(id) as PostRow | undefined;
    },
    postIdBySlug(slug: string) {
      return (s.postBySlug.get(slug) as { id: string } | undefined)?.id;
    },
    listPosts() {
      return s.listPosts.all() as PostRow[];
    },
    countPublished() {
      return (s.countPublished.get() as { n: number }).n;
    },
    markPublished(id: string, ghostId: string, url: string, at: string) {
      s.markPublished.run(ghostId, url, at, id);
    },
    markPostFailed(id: string, error: string, ghostId: string | null) {
      s.markPostFailed.run(error, ghostId, id);
    },
    insertQueueItem(
      row: Pick<QueueItemRow, 'id' | 'postId' | 'kind' | 'channel' | 'title' | 'body' | 'createdAt'>,
    ) {
      s.insertQueueItem.run(row);
      return (s.queueItemByPostChannel.get(row.postId, row.channel) as { id: string }).id;
    },
    queueItem(id: string) {
      return s.queueItem.get(id) as QueueItemRow | undefined;
    },
    listQueue() {
      return s.listQueue.all() as QueueItemRow[];
    },
    approvedQueueIds(limit: number) {
      return (s.approvedQueue.all(limit) as Array<{ id: string }>).map((row) => row.id);
    },
    setQueueStatus(update: {
      id: string;
      status: QueueStatus;
      decidedAt?: string;
      externalId?: string;
      externalUrl?: string;
      lastError?: string;
    }) {
      s.setQueueStatus.run({
        id: update.id,
        status: update.status,
        decidedAt: update.decidedAt ?? null,
        externalId: update.externalId ?? null,
        externalUrl: update.externalUrl ?? null,
        lastError: update.lastError ?? null,
      });
    },
    editQueueItem(id: string, title: string, body: string) {
      return s.editQueueItem.run(title, body, id).changes === 1;
    },

    // ---- cycles
    insertCycle(id: string, day: string, startedAt: string, status: string, actions: unknown[]) {
      s.insertCycle.run(id, day, startedAt, status, JSON.stringify(actions));
    },
    finishCycle(id: string, at: string, status: string, actions: unknown[]) {
      s.finishCycle.run(at, status, JSON.stringify(actions), id);
    },
    cyclesOnDay(day: string) {
      return (s.cyclesOnDay.get(day) as { n: number }).n;
    },
    recentCycles(limit: number) {
      return s.recentCycles.all(limit) as CycleRow[];
    },

    // ---- owner
    setting(key: string) {
      return (s.setting.get(key) as { value: string } | undefined)?.value;
    },
    putSetting(key: string, value: string) {
      s.putSetting.run(key, value);
    },
    deleteSetting(key: string) {
      s.deleteSetting.run(key);
    },
    insertSession(row: SessionRow) {
      s.insertSession.run(row.idHash, row.csrfToken, row.secondFactorDone, row.createdAt, row.expiresAt);
    },
    session(idHash: Buffer, now: string) {
      return s.session.get(idHash, now) as SessionRow | undefined;
    },
    completeSecondFactor(idHash: Buffer) {
      s.completeSecondFactor.run(idHash);
    },
    deleteSession(idHash: Buffer) {
      s.deleteSession.run(idHash);
    },
    deleteExpiredSessions(now: string) {
      s.deleteExpiredSessions.run(now);
    },
  };
}

export type Repository = ReturnType<typeof createRepository>;
