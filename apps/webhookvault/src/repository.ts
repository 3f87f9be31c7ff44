import type { StudioDatabase } from '@studio/shared-db';
import type { Sealed } from './vault';

/** All of WebhookVault's SQL. Statements are prepared once; every write is a counted transaction. */

export type VerifyScheme = 'stripe' | 'github' | 'shopify' | 'standard-webhooks';
export type VerificationStatus = 'verified' | 'failed' | 'not_configured';
export type DeliveryStatus = 'pending' | 'succeeded' | 'failed' | 'dead';
export type DeliveryKind = 'forward' | 'replay';

export interface CustomResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
  delayMs: number;
}

export interface EndpointRow {
  id: string;
  accountId: string;
  name: string;
  token: string;
  response: CustomResponse | null;
  verify: { scheme: VerifyScheme; secret: Sealed } | null;
  createdAt: string;
  updatedAt: string;
}

export interface CaptureRow {
  seq: number;
  id: string;
  endpointId: string;
  accountId: string;
  method: string;
  size: number;
  receivedMs: number;
  verificationStatus: VerificationStatus;
  verificationReason: string | null;
  sealed: Sealed;
}

export interface NewCapture extends Omit<CaptureRow, 'seq'> {}

export interface ForwardingRule {
  id: string;
  endpointId: string;
  accountId: string;
  targetUrl: string;
  preservePath: boolean;
  enabled: boolean;
  disabledReason: string | null;
  createdAt: string;
}

export interface DeliveryRow {
  id: string;
  accountId: string;
  endpointId: string;
  captureId: string;
  ruleId: string | null;
  kind: DeliveryKind;
  targetUrl: string;
  preservePath: boolean;
  status: DeliveryStatus;
  attempts: number;
  maxAttempts: number;
  nextAttemptMs: number | null;
  lastStatusCode: number | null;
  lastError: string | null;
  createdMs: number;
  updatedMs: number;
}

export interface AttemptRow {
  attempt: number;
  startedMs: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
}

interface RawEndpoint {
  id: string;
  account_id: string;
  name: string;
  token: string;
  response_json: string | null;
  verify_scheme: string | null;
  verify_key_id: string | null;
  verify_nonce: Buffer | null;
  verify_secret: Buffer | null;
  created_at: string;
  updated_at: string;
}

interface RawCapture {
  seq: number;
  id: string;
  endpoint_id: string;
  account_id: string;
  method: string;
  size: number;
  received_ms: number;
  verification_status: string;
  verification_reason: string | null;
  key_id: string;
  nonce: Buffer;
  payload: Buffer;
}

interface RawRule {
  id: string;
  endpoint_id: string;
  account_id: string;
  target_url: string;
  preserve_path: number;
  enabled: number;
  disabled_reason: string | null;
  created_at: string;
}

interface RawDelivery {
  id: string;
  account_id: string;
  endpoint_id: string;
  capture_id: string;
  rule_id: string | null;
  kind: string;
  target_url: string;
  preserve_path: number;
  status: string;
  attempts: number;
  max_attempts: number;
  next_attempt_ms: number | null;
  last_status_code: number | null;
  last_error: string | null;
  created_ms: number;
  updated_ms: number;
}

const toEndpoint = (row: RawEndpoint): EndpointRow => ({
  id: row.id,
  accountId: row.account_id,
  name: row.name,
  token: row.token,
  response: row.response_json ? (JSON.parse(row.response_json) as CustomResponse) : null,
  verify:
    row.verify_scheme && row.verify_key_id && row.verify_nonce && row.verify_secret
      ? {
          scheme: row.verify_scheme as VerifyScheme,
          secret: { keyId: row.verify_key_id, nonce: row.verify_nonce, ciphertext: row.verify_secret },
        }
      : null,
  createdAt: row.created_at,
  updatedAt: row.updated_at,
});

const toCapture = (row: RawCapture): CaptureRow => ({
  seq: row.seq,
  id: row.id,
  endpointId: row.endpoint_id,
  accountId: row.account_id,
  method: row.method,
  size: row.size,
  receivedMs: row.received_ms,
  verificationStatus: row.verification_status as VerificationStatus,
  verificationReason: row.verification_reason,
  sealed: { keyId: row.key_id, nonce: row.nonce, ciphertext: row.payload },
});

const toRule = (row: RawRule): ForwardingRule => ({
  id: row.id,
  endpointId: row.endpoint_id,
  accountId: row.account_id,
  targetUrl: row.target_url,
  preservePath: row.preserve_path === 1,
  enabled: row.enabled === 1,
  disabledReason: row.disabled_reason,
  createdAt: row.created_at,
});

const toDelivery = (row: RawDelivery): DeliveryRow => ({
  id: row.id,
  accountId: row.account_id,
  endpointId: row.endpoint_id,
  captureId: row.capture_id,
  ruleId: row.rule_id,
  kind: row.kind as DeliveryKind,
  targetUrl: row.target_url,
  preservePath: row.preserve_path === 1,
  status: row.status as DeliveryStatus,
  attempts: row.attempts,
  maxAttempts: row.max_attempts,
  nextAttemptMs: row.next_attempt_ms,
  lastStatusCode: row.last_status_code,
  lastError: row.last_error,
  createdMs: row.created_ms,
  updatedMs: row.updated_ms,
});

export interface NewDelivery {
  id: string;
  accountId: string;
  endpointId: string;
  captureId: string;
  ruleId: string | null;
  kind: DeliveryKind;
  targetUrl: string;
  preservePath: boolean;
  maxAttempts: number;
  nextAttemptMs: number;
  nowMs: number;
}

export interface AttemptOutcome {
  deliveryId: string;
  attempt: number;
  startedMs: number;
  durationMs: number;
  statusCode: number | null;
  error: string | null;
  status: DeliveryStatus;
  nextAttemptMs: number | null;
  nowMs: number;
  /** Set when a 410 Gone disables the forwarding rule. */
  disableRule?: { ruleId: string; reason: string };
}

export function createVaultRepository(database: StudioDatabase) {
  const { sqlite } = database;
  const endpointColumns =
    'id, account_id, name, token, response_json, verify_scheme, verify_key_id, verify_nonce, verify_secret, created_at, updated_at';
  const captureColumns =
    'seq, id, endpoint_id, account_id, method, size, received_ms, verification_status, verification_reason, key_id, nonce, payload';

  const insertEndpoint = sqlite.prepare(
    `INSERT INTO endpoints (${endpointColumns})
     VALUES (@id, @accountId, @name, @token, @responseJson, @verifyScheme, @verifyKeyId, @verifyNonce, @verifySecret, @now, @now)`,
  );
  const selectEndpoints = sqlite.prepare(
    `SELECT ${endpointColumns} FROM endpoints WHERE account_id = ? ORDER BY created_at, id`,
  );
  const selectEndpoint = sqlite.prepare(
    `SELECT ${endpointColumns} FROM endpoints WHERE account_id = ? AND id = ?`,
  );
  const selectEndpointByToken = sqlite.prepare(`SELECT ${endpointColumns} FROM endpoints WHERE token = ?`);
  const countEndpointsStatement = sqlite.prepare('SELECT count(*) AS n FROM endpoints WHERE account_id = ?');
  const updateEndpointStatement = sqlite.prepare(
    `UPDATE endpoints SET name = @name, response_json = @responseJson, verify_scheme = @verifyScheme,
       verify_key_id = @verifyKeyId, verify_nonce = @verifyNonce, verify_secret = @verifySecret, updated_at = @now
     WHERE account_id = @accountId AND id = @id`,
  );
  const deleteEndpointStatement = sqlite.prepare('DELETE FROM endpoints WHERE account_id = ? AND id = ?');

  const insertCapture = sqlite.prepare(
    `INSERT INTO captures (id, endpoint_id, account_id, method, size, received_ms, verification_status,
       verification_reason, key_id, nonce, payload)
     VALUES (@id, @endpointId, @accountId, @method, @size, @receivedMs, @verificationStatus,
       @verificationReason, @keyId, @nonce, @payload)`,
  );
  const selectCapturesPage = sqlite.prepare(
    `SELECT ${captureColumns} FROM captures
     WHERE endpoint_id = @endpointId AND seq < @beforeSeq
       AND (@method IS NULL OR method = @method)
       AND (@sinceMs IS NULL OR received_ms >= @sinceMs)
       AND (@untilMs IS NULL OR received_ms < @untilMs)
     ORDER BY seq DESC LIMIT @limit`,
  );
  const selectCapturesAfter = sqlite.prepare(
    `SELECT ${captureColumns} FROM captures WHERE endpoint_id = ? AND seq > ? ORDER BY seq LIMIT ?`,
  );
  const selectCapture = sqlite.prepare(
    `SELECT ${captureColumns} FROM captures WHERE account_id = ? AND id = ?`,
  );
  const selectCaptureById = sqlite.prepare(`SELECT ${captureColumns} FROM captures WHERE id = ?`);
  const deleteCaptureStatement = sqlite.prepare('DELETE FROM captures WHERE account_id = ? AND id = ?');
  const selectCapturesWithOtherKey = sqlite.prepare(
    `SELECT ${captureColumns} FROM captures WHERE key_id != ? LIMIT ?`,
  );
  const updateCaptureSeal = sqlite.prepare(
    'UPDATE captures SET key_id = ?, nonce = ?, payload = ? WHERE seq = ?',
  );
  const selectEndpointsWithOtherKey = sqlite.prepare(
    `SELECT ${endpointColumns} FROM endpoints WHERE verify_key_id IS NOT NULL AND verify_key_id != ?`,
  );
  const updateEndpointSeal = sqlite.prepare(
    'UPDATE endpoints SET verify_key_id = ?, verify_nonce = ?, verify_secret = ? WHERE id = ?',
  );

  const selectRetentionTargets = sqlite.prepare(
    `SELECT e.id AS endpointId, a.plan AS plan FROM endpoints e JOIN accounts a ON a.id = e.account_id`,
  );
  // A capture whose delivery is not final yet (pending, including awaiting a retry, or dead-lettered) is
  // held: deleting it would cascade to the delivery and break at-least-once forwarding and the dead-letter
  // list. It becomes deletable once its deliveries are succeeded or failed (rule disabled by 410), or the
  // dead letter is retried to success or deleted.
  const notHeldByDelivery = `NOT EXISTS (SELECT 1 FROM deliveries d
       WHERE d.capture_id = captures.id AND d.status IN ('pending', 'dead'))`;
  const deleteCapturesBefore = sqlite.prepare(
    `DELETE FROM captures WHERE endpoint_id = ? AND received_ms < ? AND ${notHeldByDelivery}`,
  );
  const deleteCapturesBeyond = sqlite.prepare(
    `DELETE FROM captures WHERE endpoint_id = @endpointId AND seq <= (
       SELECT seq FROM captures WHERE endpoint_id = @endpointId ORDER BY seq DESC LIMIT 1 OFFSET @keep)
       AND ${notHeldByDelivery}`,
  );

  const ruleColumns =
    'id, endpoint_id, account_id, target_url, preserve_path, enabled, disabled_reason, created_at';
  const insertRule = sqlite.prepare(
    `INSERT INTO forwarding_rules (id, endpoint_id, account_id, target_url, preserve_path, enabled, created_at)
     VALUES (@id, @endpointId, @accountId, @targetUrl, @preservePath, 1, @now)`,
  );
  const selectRules = sqlite.prepare(
    `SELECT ${ruleColumns} FROM forwarding_rules WHERE endpoint_id = ? ORDER BY created_at, id`,
  );
  const selectEnabledRules = sqlite.prepare(
    `SELECT ${ruleColumns} FROM forwarding_rules WHERE endpoint_id = ? AND enabled = 1`,
  );
  const selectRule = sqlite.prepare(
    `SELECT ${ruleColumns} FROM forwarding_rules WHERE account_id = ? AND id = ?`,
  );
  const deleteRuleStatement = sqlite.prepare('DELETE FROM forwarding_rules WHERE account_id = ? AND id = ?');
  const disableRuleStatement = sqlite.prepare(
    'UPDATE forwarding_rules SET enabled = 0, disabled_reason = ? WHERE id = ?',
  );

  const deliveryColumns =
    'id, account_id, endpoint_id, capture_id, rule_id, kind, target_url, preserve_path, status, attempts, max_attempts, next_attempt_ms, last_status_code, last_error, created_ms, updated_ms';
  const insertDeliveryStatement = sqlite.prepare(
    `INSERT INTO deliveries (id, account_id, endpoint_id, capture_id, rule_id, kind, target_url, preserve_path,
       status, attempts, max_attempts, next_attempt_ms, created_ms, updated_ms)
     VALUES (@id, @accountId, @endpointId, @captureId, @ruleId, @kind, @targetUrl, @preservePath,
       'pending', 0, @maxAttempts, @nextAttemptMs, @nowMs, @nowMs)`,
  );
  const selectDelivery = sqlite.prepare(
    `SELECT ${deliveryColumns} FROM deliveries WHERE account_id = ? AND id = ?`,
  );
  const selectDeliveryById = sqlite.prepare(`SELECT ${deliveryColumns} FROM deliveries WHERE id = ?`);
  const selectDeliveries = sqlite.prepare(
    `SELECT ${deliveryColumns} FROM deliveries
     WHERE endpoint_id = @endpointId AND (@status IS NULL OR status = @status)
     ORDER BY created_ms DESC, id DESC LIMIT @limit`,
  );
  const selectDue = sqlite.prepare(
    `SELECT ${deliveryColumns} FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= ?
     ORDER BY next_attempt_ms LIMIT ?`,
  );
  const selectOverdue = sqlite.prepare(
    "SELECT count(*) AS n, min(next_attempt_ms) AS oldest FROM deliveries WHERE status = 'pending' AND next_attempt_ms <= ?",
  );
  const selectNextDue = sqlite.prepare(
    "SELECT min(next_attempt_ms) AS next FROM deliveries WHERE status = 'pending'",
  );
  const insertAttempt = sqlite.prepare(
    `INSERT INTO delivery_attempts (delivery_id, attempt, started_ms, duration_ms, status_code, error)
     VALUES (@deliveryId, @attempt, @startedMs, @durationMs, @statusCode, @error)`,
  );
  const updateDeliveryAfterAttempt = sqlite.prepare(
    `UPDATE deliveries SET status = @status, attempts = @attempt, next_attempt_ms = @nextAttemptMs,
       last_status_code = @statusCode, last_error = @error, updated_ms = @nowMs WHERE id = @deliveryId`,
  );
  const selectAttempts = sqlite.prepare(
    `SELECT attempt, started_ms AS startedMs, duration_ms AS durationMs, status_code AS statusCode, error
     FROM delivery_attempts WHERE delivery_id = ? ORDER BY attempt`,
  );
  const requeueStatement = sqlite.prepare(
    `UPDATE deliveries SET status = 'pending', max_attempts = attempts + @extra, next_attempt_ms = @nowMs,
       updated_ms = @nowMs WHERE account_id = @accountId AND id = @id AND status IN ('dead', 'failed')`,
  );

  // Every capture looks its endpoint up by token; endpoints change only through this module (in this
  // process), so the cache is exact: cleared on any endpoint update or delete. Bounded by its size.
  const endpointsByToken = new Map<string, EndpointRow>();
  const MAX_CACHED_ENDPOINTS = 10_000;

  const insertCapturesTx = database.transaction(
    (
      captures: NewCapture[],
      deliveriesFor: (capture: NewCapture, rules: ForwardingRule[]) => NewDelivery[],
    ) => {
      const created: NewDelivery[] = [];
      const seqs: number[] = [];
      // A batch is mostly one endpoint's captures: its forwarding rules are read once per batch, not per row.
      const rulesOf = new Map<string, ForwardingRule[]>();
      for (const capture of captures) {
        const result = insertCapture.run({
          id: capture.id,
          endpointId: capture.endpointId,
          accountId: capture.accountId,
          method: capture.method,
          size: capture.size,
          receivedMs: capture.receivedMs,
          verificationStatus: capture.verificationStatus,
          verificationReason: capture.verificationReason,
          keyId: capture.sealed.keyId,
          nonce: capture.sealed.nonce,
          payload: capture.sealed.ciphertext,
        });
        seqs.push(Number(result.lastInsertRowid));
        let rules = rulesOf.get(capture.endpointId);
        if (rules === undefined) {
          rules = (selectEnabledRules.all(capture.endpointId) as RawRule[]).map(toRule);
          rulesOf.set(capture.endpointId, rules);
        }
        for (const delivery of rules.length > 0 ? deliveriesFor(capture, rules) : []) {
          insertDeliveryStatement.run({ ...delivery, preservePath: delivery.preservePath ? 1 : 0 });
          created.push(delivery);
        }
      }
      return { seqs, deliveries: created };
    },
  );

  return {
    createEndpoint: database.transaction(
      (input: {
        id: string;
        accountId: string;
        name: string;
        token: string;
        response: CustomResponse | null;
        verify: { scheme: VerifyScheme; secret: Sealed } | null;
        now: string;
      }) => {
        insertEndpoint.run({
          id: input.id,
          accountId: input.accountId,
          name: input.name,
          token: input.token,
          responseJson: input.response ? JSON.stringify(input.response) : null,
          verifyScheme: input.verify?.scheme ?? null,
          verifyKeyId: input.verify?.secret.keyId ?? null,
          verifyNonce: input.verify?.secret.nonce ?? null,
          verifySecret: input.verify?.secret.ciphertext ?? null,
          now: input.now,
        });
      },
    ),
    listEndpoints: (accountId: string) => (selectEndpoints.all(accountId) as RawEndpoint[]).map(toEndpoint),
    findEndpoint: (accountId: string, id: string) => {
      const row = selectEndpoint.get(accountId, id) as RawEndpoint | undefined;
      return row ? toEndpoint(row) : null;
    },
    findEndpointByToken: (token: string) => {
      const cached = endpointsByToken.get(token);
      if (cached) return cached;
      const row = selectEndpointByToken.get(token) as RawEndpoint | undefined;
      if (!row) return null;
      const endpoint = toEndpoint(row);
      if (endpointsByToken.size >= MAX_CACHED_ENDPOINTS) endpointsByToken.clear();
      endpointsByToken.set(token, endpoint);
      return endpoint;
    },
    countEndpoints: (accountId: string) => (countEndpointsStatement.get(accountId) as { n: number }).n,
    updateEndpoint: database.transaction((endpoint: EndpointRow, now: string) => {
      endpointsByToken.clear();
      updateEndpointStatement.run({
        id: endpoint.id,
        accountId: endpoint.accountId,
        name: endpoint.name,
        responseJson: endpoint.response ? JSON.stringify(endpoint.response) : null,
        verifyScheme: endpoint.verify?.scheme ?? null,
        verifyKeyId: endpoint.verify?.secret.keyId ?? null,
        verifyNonce: endpoint.verify?.secret.nonce ?? null,
        verifySecret: endpoint.verify?.secret.ciphertext ?? null,
        now,
      });
    }),
    deleteEndpoint: database.transaction((accountId: string, id: string) => {
      endpointsByToken.clear();
      return deleteEndpointStatement.run(accountId, id).changes > 0;
    }),

    /** Inserts a batch of captures in one transaction, with an outbox delivery per enabled forwarding rule. */
    insertCaptures: (
      captures: NewCapture[],
      deliveriesFor: (capture: NewCapture, rules: ForwardingRule[]) => NewDelivery[],
    ) => insertCapturesTx(captures, deliveriesFor),
    capturesPage: (query: {
      endpointId: string;
      beforeSeq: number;
      limit: number;
      method: string | null;
      sinceMs: number | null;
      untilMs: number | null;
    }) => (selectCapturesPage.all(query) as RawCapture[]).map(toCapture),
    capturesAfter: (endpointId: string, afterSeq: number, limit: number) =>
      (selectCapturesAfter.all(endpointId, afterSeq, limit) as RawCapture[]).map(toCapture),
    findCapture: (accountId: string, id: string) => {
      const row = selectCapture.get(accountId, id) as RawCapture | undefined;
      return row ? toCapture(row) : null;
    },
    findCaptureById: (id: string) => {
      const row = selectCaptureById.get(id) as RawCapture | undefined;
      return row ? toCapture(row) : null;
    },
    deleteCapture: database.transaction(
      (accountId: string, id: string) => deleteCaptureStatement.run(accountId, id).changes > 0,
    ),

    capturesSealedWithOtherKey: (keyId: string, limit: number) =>
      (selectCapturesWithOtherKey.all(keyId, limit) as RawCapture[]).map(toCapture),
    resealCaptures: database.transaction((updates: { seq: number; sealed: Sealed }[]) => {
      for (const { seq, sealed } of updates)
        updateCaptureSeal.run(sealed.keyId, sealed.nonce, sealed.ciphertext, seq);
    }),
    endpointsSealedWithOtherKey: (keyId: string) =>
      (selectEndpointsWithOtherKey.all(keyId) as RawEndpoint[]).map(toEndpoint),
    resealEndpointSecret: database.transaction((id: string, sealed: Sealed) => {
      endpointsByToken.clear();
      updateEndpointSeal.run(sealed.keyId, sealed.nonce, sealed.ciphertext, id);
    }),

    retentionTargets: () => selectRetentionTargets.all() as { endpointId: string; plan: string }[],
    /** Deletes an endpoint's captures older than `cutoffMs` and all but its newest `keep`. */
    applyRetention: database.transaction((endpointId: string, cutoffMs: number, keep: number) => {
      const byAge = deleteCapturesBefore.run(endpointId, cutoffMs).changes;
      const byCount = deleteCapturesBeyond.run({ endpointId, keep }).changes;
      return byAge + byCount;
    }),

    createRule: database.transaction(
      (rule: {
        id: string;
        endpointId: string;
        accountId: string;
        targetUrl: string;
        preservePath: boolean;
        now: string;
      }) => {
        insertRule.run({ ...rule, preservePath: rule.preservePath ? 1 : 0 });
      },
    ),
    listRules: (endpointId: string) => (selectRules.all(endpointId) as RawRule[]).map(toRule),
    findRule: (accountId: string, id: string) => {
      const row = selectRule.get(accountId, id) as RawRule | undefined;
      return row ? toRule(row) : null;
    },
    deleteRule: database.transaction(
      (accountId: string, id: string) => deleteRuleStatement.run(accountId, id).changes > 0,
    ),

    insertDeliveries: database.transaction((list: NewDelivery[]) => {
      for (const delivery of list) {
        insertDeliveryStatement.run({ ...delivery, preservePath: delivery.preservePath ? 1 : 0 });
      }
    }),
    findDelivery: (accountId: string, id: string) => {
      const row = selectDelivery.get(accountId, id) as RawDelivery | undefined;
      return row ? toDelivery(row) : null;
    },
    findDeliveryById: (id: string) => {
      const row = selectDeliveryById.get(id) as RawDelivery | undefined;
      return row ? toDelivery(row) : null;
    },
    listDeliveries: (endpointId: string, status: DeliveryStatus | null, limit: number) =>
      (selectDeliveries.all({ endpointId, status, limit }) as RawDelivery[]).map(toDelivery),
    dueDeliveries: (nowMs: number, limit: number) =>
      (selectDue.all(nowMs, limit) as RawDelivery[]).map(toDelivery),
    overdueDeliveries: (beforeMs: number) =>
      selectOverdue.get(beforeMs) as { n: number; oldest: number | null },
    nextDueMs: () => (selectNextDue.get() as { next: number | null }).next,
    /** Records attempts (several at once under load: one transaction, one fsync). */
    recordAttempts: database.transaction((outcomes: AttemptOutcome[]) => {
      for (const outcome of outcomes) {
        insertAttempt.run(outcome);
        updateDeliveryAfterAttempt.run(outcome);
        if (outcome.disableRule)
          disableRuleStatement.run(outcome.disableRule.reason, outcome.disableRule.ruleId);
      }
    }),
    attemptsOf: (deliveryId: string) => selectAttempts.all(deliveryId) as AttemptRow[],
    /** Puts a dead or failed delivery back in the outbox for `extra` more attempts, starting now. */
    requeueDelivery: database.transaction(
      (accountId: string, id: string, extra: number, nowMs: number) =>
        requeueStatement.run({ accountId, id, extra, nowMs }).changes > 0,
    ),
  };
}

export type VaultRepository = ReturnType<typeof createVaultRepository>;
