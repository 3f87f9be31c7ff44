import { randomBytes, randomUUID } from 'node:crypto';
import type { StudioDatabase } from '@studio/shared-db';
import type { CheckRecord, CheckState, PingKind, StoredStatus } from './monitor/state';

/** Every SQL statement of CronPing, prepared once. Writes run inside the callers' `database.transaction`. */

/** healthchecks' keyword filtering: comma-separated, case-sensitive keywords (see monitor/keywords.ts). */
export interface KeywordFilter {
  filterSubject: boolean;
  filterBody: boolean;
  startKw: string;
  successKw: string;
  failureKw: string;
}

export interface Check extends CheckRecord, KeywordFilter {
  id: number;
  code: string;
  accountId: string;
  name: string;
  slug: string;
  tags: string;
  description: string;
  badgeKey: string;
  createdAt: number;
}

export interface CheckFields extends KeywordFilter {
  name: string;
  slug: string;
  tags: string;
  description: string;
  kind: 'simple' | 'cron';
  timeout: number;
  schedule: string;
  tz: string;
  grace: number;
  manualResume: boolean;
  methods: '' | 'POST';
  minDuration: number | null;
  failureTolerance: number;
  maxRuntime: number | null;
}

export interface PingRecord {
  checkId: number;
  n: number;
  created: number;
  kind: PingKind;
  scheme: string;
  remoteAddr: string;
  method: string;
  ua: string;
  body: Buffer | null;
  exitstatus: number | null;
  rid: string | null;
  duration: number | null;
}

export interface FlipRecord {
  created: number;
  oldStatus: StoredStatus;
  newStatus: StoredStatus;
  reason: string;
}

export type ChannelKind = 'webhook' | 'slack' | 'email';

export interface Channel {
  id: string;
  accountId: string;
  name: string;
  kind: ChannelKind;
  target: string;
  createdAt: number;
}

export interface Notification {
  id: number;
  accountId: string;
  channelId: string;
  checkCode: string;
  event: 'down' | 'up';
  payload: string;
  messageId: string;
  attempts: number;
  nextAttemptAt: number;
  kind: ChannelKind;
  target: string;
}

interface CheckRow {
  id: number;
  code: string;
  account_id: string;
  name: string;
  slug: string;
  tags: string;
  description: string;
  kind: 'simple' | 'cron';
  timeout: number;
  schedule: string;
  tz: string;
  grace: number;
  manual_resume: number;
  methods: '' | 'POST';
  min_duration: number | null;
  failure_tolerance: number;
  max_runtime: number | null;
  filter_subject: number;
  filter_body: number;
  start_kw: string;
  success_kw: string;
  failure_kw: string;
  status: StoredStatus;
  n_pings: number;
  last_ping: number | null;
  last_start: number | null;
  last_start_rid: string | null;
  last_duration: number | null;
  consecutive_failures: number;
  alert_after: number | null;
  badge_key: string;
  created_at: number;
}

const toCheck = (row: CheckRow): Check => ({
  id: row.id,
  code: row.code,
  accountId: row.account_id,
  name: row.name,
  slug: row.slug,
  tags: row.tags,
  description: row.description,
  kind: row.kind,
  timeout: row.timeout,
  schedule: row.schedule,
  tz: row.tz,
  grace: row.grace,
  manualResume: row.manual_resume === 1,
  methods: row.methods,
  minDuration: row.min_duration,
  failureTolerance: row.failure_tolerance,
  maxRuntime: row.max_runtime,
  filterSubject: row.filter_subject === 1,
  filterBody: row.filter_body === 1,
  startKw: row.start_kw,
  successKw: row.success_kw,
  failureKw: row.failure_kw,
  status: row.status,
  nPings: row.n_pings,
  lastPing: row.last_ping,
  lastStart: row.last_start,
  lastStartRid: row.last_start_rid,
  lastDuration: row.last_duration,
  consecutiveFailures: row.consecutive_failures,
  alertAfter: row.alert_after,
  badgeKey: row.badge_key,
  createdAt: row.created_at,
});

const fieldParams = (fields: CheckFields) => ({
  name: fields.name,
  slug: fields.slug,
  tags: fields.tags,
  description: fields.description,
  kind: fields.kind,
  timeout: fields.timeout,
  schedule: fields.schedule,
  tz: fields.tz,
  grace: fields.grace,
  manualResume: fields.manualResume ? 1 : 0,
  methods: fields.methods,
  minDuration: fields.minDuration,
  failureTolerance: fields.failureTolerance,
  maxRuntime: fields.maxRuntime,
  filterSubject: fields.filterSubject ? 1 : 0,
  filterBody: fields.filterBody ? 1 : 0,
  startKw: fields.startKw,
  successKw: fields.successKw,
  failureKw: fields.failureKw,
});

const stateParams = (state: CheckState) => ({
  status: state.status,
  nPings: state.nPings,
  lastPing: state.lastPing,
  lastStart: state.lastStart,
  lastStartRid: state.lastStartRid,
  lastDuration: state.lastDuration,
  consecutiveFailures: state.consecutiveFailures,
  alertAfter: state.alertAfter,
});

/** A ping key: 22 characters of URL-safe base64, the shape of healthchecks' ping keys. */
const newPingKey = () => randomBytes(16).toString('base64url');

export function createCronpingRepository(database: StudioDatabase) {
  const { sqlite } = database;
  // 64 MiB of page cache instead of SQLite's 2 MiB: the ping index takes inserts for every active check at
  // once, and its hot pages should stay in memory rather than be re-read from the OS on every commit.
  sqlite.pragma('cache_size = -65536');
  const statements = {
    selectAccountKeys: sqlite.prepare('SELECT ping_key, badge_key FROM account_keys WHERE account_id = ?'),
    insertAccountKeys: sqlite.prepare(
      'INSERT OR IGNORE INTO account_keys (account_id, ping_key, badge_key) VALUES (?, ?, ?)',
    ),
    accountByPingKey: sqlite.prepare('SELECT account_id FROM account_keys WHERE ping_key = ?').pluck(),
    accountByBadgeKey: sqlite.prepare('SELECT account_id FROM account_keys WHERE badge_key = ?').pluck(),
    checkByCode: sqlite.prepare('SELECT * FROM checks WHERE code = ?'),
    checkById: sqlite.prepare('SELECT * FROM checks WHERE id = ?'),
    checkByBadgeKey: sqlite.prepare('SELECT * FROM checks WHERE badge_key = ?'),
    checksBySlug: sqlite.prepare(
      'SELECT * FROM checks WHERE account_id = ? AND slug = ? ORDER BY id LIMIT 2',
    ),
    checksOfAccount: sqlite.prepare('SELECT * FROM checks WHERE account_id = ? ORDER BY id'),
    countChecks: sqlite.prepare('SELECT count(*) FROM checks WHERE account_id = ?').pluck(),
    insertCheck: sqlite.prepare(
      `INSERT INTO checks (code, account_id, name, slug, tags, description, kind, timeout, schedule, tz, grace,
         manual_resume, methods, min_duration, failure_tolerance, max_runtime, filter_subject, filter_body,
         start_kw, success_kw, failure_kw, badge_key, created_at)
       VALUES (@code, @accountId, @name, @slug, @tags, @description, @kind, @timeout, @schedule, @tz, @grace,
         @manualResume, @methods, @minDuration, @failureTolerance, @maxRuntime, @filterSubject, @filterBody,
         @startKw, @successKw, @failureKw, @badgeKey, @now)`,
    ),
    updateFields: sqlite.prepare(
      `UPDATE checks SET name = @name, slug = @slug, tags = @tags, description = @description, kind = @kind,
         timeout = @timeout, schedule = @schedule, tz = @tz, grace = @grace, manual_resume = @manualResume,
         methods = @methods, min_duration = @minDuration, failure_tolerance = @failureTolerance,
         max_runtime = @maxRuntime, filter_subject = @filterSubject, filter_body = @filterBody,
         start_kw = @startKw, success_kw = @successKw, failure_kw = @failureKw
       WHERE id = @id`,
    ),
    updateState: sqlite.prepare(
      `UPDATE checks SET status = @status, n_pings = @nPings, last_ping = @lastPing, last_start = @lastStart,
         last_start_rid = @lastStartRid, last_duration = @lastDuration,
         consecutive_failures = @consecutiveFailures, alert_after = @alertAfter
       WHERE id = @id`,
    ),
    deleteCheck: sqlite.prepare('DELETE FROM checks WHERE id = ?'),
    insertPing: sqlite.prepare(
      `INSERT INTO pings (check_id, n, created, kind, scheme, remote_addr, method, ua, body, exitstatus, rid, duration)
       VALUES (@checkId, @n, @created, @kind, @scheme, @remoteAddr, @method, @ua, @body, @exitstatus, @rid, @duration)`,
    ),
    prunePings: sqlite.prepare('DELETE FROM pings WHERE check_id = ? AND n <= ?'),
    listPings: sqlite.prepare(
      `SELECT check_id, n, created, kind, scheme, remote_addr, method, ua, NULL AS body, length(body) AS body_size,
         exitstatus, rid, duration
       FROM pings WHERE check_id = ? ORDER BY n DESC LIMIT ?`,
    ),
    pingBody: sqlite.prepare('SELECT body FROM pings WHERE check_id = ? AND n = ?').pluck(),
    insertFlip: sqlite.prepare(
      'INSERT INTO flips (check_id, created, old_status, new_status, reason) VALUES (?, ?, ?, ?, ?)',
    ),
    listFlips: sqlite.prepare(
      `SELECT created, old_status, new_status, reason FROM flips
       WHERE check_id = ? AND created >= ? AND created < ? ORDER BY id DESC LIMIT 1000`,
    ),
    insertChannel: sqlite.prepare(
      'INSERT INTO channels (id, account_id, name, kind, target, created_at) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    channelsOfAccount: sqlite.prepare('SELECT * FROM channels WHERE account_id = ? ORDER BY created_at, id'),
    updateChannel: sqlite.prepare(
      'UPDATE channels SET name = ?, kind = ?, target = ? WHERE id = ? AND account_id = ?',
    ),
    // check_channels and the channel's undelivered notifications go with it (ON DELETE CASCADE).
    deleteChannel: sqlite.prepare('DELETE FROM channels WHERE id = ? AND account_id = ?'),
    channelIdsOfCheck: sqlite
      .prepare('SELECT channel_id FROM check_channels WHERE check_id = ? ORDER BY channel_id')
      .pluck(),
    clearCheckChannels: sqlite.prepare('DELETE FROM check_channels WHERE check_id = ?'),
    addCheckChannel: sqlite.prepare(
      'INSERT OR IGNORE INTO check_channels (check_id, channel_id) VALUES (?, ?)',
    ),
    addChannelToAllChecks: sqlite.prepare(
      'INSERT OR IGNORE INTO check_channels (check_id, channel_id) SELECT id, ? FROM checks WHERE account_id = ?',
    ),
    insertNotification: sqlite.prepare(
      `INSERT INTO notifications (account_id, channel_id, check_code, event, payload, message_id, next_attempt_at, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
    ),
    dueNotifications: sqlite.prepare(
      `SELECT n.id, n.account_id, n.channel_id, n.check_code, n.event, n.payload, n.message_id, n.attempts,
         n.next_attempt_at, c.kind, c.target
       FROM notifications n JOIN channels c ON c.id = n.channel_id
       WHERE n.state = 'pending' AND n.next_attempt_at <= ? ORDER BY n.next_attempt_at LIMIT ?`,
    ),
    nextNotificationDue: sqlite
      .prepare("SELECT min(next_attempt_at) FROM notifications WHERE state = 'pending'")
      .pluck(),
    markDelivered: sqlite.prepare(
      "UPDATE notifications SET state = 'delivered', attempts = attempts + 1, last_error = NULL WHERE id = ?",
    ),
    markRetry: sqlite.prepare(
      'UPDATE notifications SET attempts = attempts + 1, next_attempt_at = ?, last_error = ? WHERE id = ?',
    ),
    markFailed: sqlite.prepare(
      "UPDATE notifications SET state = 'failed', attempts = attempts + 1, last_error = ? WHERE id = ?",
    ),
    notificationsOfCheck: sqlite.prepare(
      `SELECT event, state, attempts, last_error, channel_id FROM notifications
       WHERE check_code = ? ORDER BY id`,
    ),
    earliestDeadline: sqlite
      .prepare('SELECT min(alert_after) FROM checks WHERE alert_after IS NOT NULL')
      .pluck(),
    overdueChecks: sqlite.prepare(
      'SELECT * FROM checks WHERE alert_after IS NOT NULL AND alert_after <= ? ORDER BY alert_after LIMIT ?',
    ),
    countOverdueChecks: sqlite
      .prepare('SELECT count(*) FROM checks WHERE alert_after IS NOT NULL AND alert_after < ?')
      .pluck(),
    countOverdueNotifications: sqlite
      .prepare("SELECT count(*) FROM notifications WHERE state = 'pending' AND next_attempt_at < ?")
      .pluck(),
    postponeOverdue: sqlite.prepare(
      'UPDATE checks SET alert_after = @now + grace * 1000 WHERE alert_after IS NOT NULL AND alert_after < @now',
    ),
  };

  const ensureAccountKeys = database.transaction((accountId: string) => {
    statements.insertAccountKeys.run(accountId, newPingKey(), randomUUID());
    return statements.selectAccountKeys.get(accountId) as { ping_key: string; badge_key: string };
  });

  return {
    /** The account's ping key and badge key, created on first use. */
    accountKeys(accountId: string): { pingKey: string; badgeKey: string } {
      const row = (statements.selectAccountKeys.get(accountId) ?? ensureAccountKeys(accountId)) as {
        ping_key: string;
        badge_key: string;
      };
      return { pingKey: row.ping_key, badgeKey: row.badge_key };
    },
    accountByPingKey: (pingKey: string) =>
      (statements.accountByPingKey.get(pingKey) as string | undefined) ?? null,
    accountByBadgeKey: (badgeKey: string) =>
      (statements.accountByBadgeKey.get(badgeKey) as string | undefined) ?? null,

    checkByCode(code: string): Check | null {
      const row = statements.checkByCode.get(code) as CheckRow | undefined;
      return row ? toCheck(row) : null;
    },
    checkById(id: number): Check | null {
      const row = statements.checkById.get(id) as CheckRow | undefined;
      return row ? toCheck(row) : null;
    },
    checkByBadgeKey(badgeKey: string): Check | null {
      const row = statements.checkByBadgeKey.get(badgeKey) as CheckRow | undefined;
      return row ? toCheck(row) : null;
    },
    /** The account's check with this code; another account's check is as absent as a missing one. */
    checkOfAccount(accountId: string, code: string): Check | null {
      const row = statements.checkByCode.get(code) as CheckRow | undefined;
      return row && row.account_id === accountId ? toCheck(row) : null;
    },
    /** At most two: enough to tell "one" from "ambiguous". */
    checksBySlug: (accountId: string, slug: string) =>
      (statements.checksBySlug.all(accountId, slug) as CheckRow[]).map(toCheck),
    checksOfAccount: (accountId: string) =>
      (statements.checksOfAccount.all(accountId) as CheckRow[]).map(toCheck),
    countChecks: (accountId: string) => statements.countChecks.get(accountId) as number,

    /** Inserts a check and returns it; call inside a transaction. */
    insertCheck(accountId: string, fields: CheckFields, now: number): Check {
      const result = statements.insertCheck.run({
        ...fieldParams(fields),
        code: randomUUID(),
        accountId,
        badgeKey: randomUUID(),
        now,
      });
      return toCheck(statements.checkById.get(result.lastInsertRowid) as CheckRow);
    },
    updateFields: (id: number, fields: CheckFields) =>
      statements.updateFields.run({ ...fieldParams(fields), id }),
    updateState: (id: number, state: CheckState) => statements.updateState.run({ ...stateParams(state), id }),
    deleteCheck: (id: number) => statements.deleteCheck.run(id),

    insertPing: (ping: PingRecord) => statements.insertPing.run(ping),
    /** Deletes the pings numbered `upToN` and below. */
    prunePings: (checkId: number, upToN: number) => statements.prunePings.run(checkId, upToN),
    listPings: (checkId: number, limit: number) =>
      (statements.listPings.all(checkId, limit) as Record<string, unknown>[]).map((row) => ({
        n: row.n as number,
        created: row.created as number,
        kind: row.kind as PingKind,
        scheme: row.scheme as string,
        remoteAddr: row.remote_addr as string,
        method: row.method as string,
        ua: row.ua as string,
        bodySize: (row.body_size as number | null) ?? 0,
        exitstatus: row.exitstatus as number | null,
        rid: row.rid as string | null,
        duration: row.duration as number | null,
      })),
    pingBody: (checkId: number, n: number) => (statements.pingBody.get(checkId, n) as Buffer | null) ?? null,

    insertFlip: (checkId: number, flip: FlipRecord) =>
      statements.insertFlip.run(checkId, flip.created, flip.oldStatus, flip.newStatus, flip.reason),
    listFlips: (checkId: number, fromMs: number, toMs: number): FlipRecord[] =>
      (statements.listFlips.all(checkId, fromMs, toMs) as Record<string, unknown>[]).map((row) => ({
        created: row.created as number,
        oldStatus: row.old_status as StoredStatus,
        newStatus: row.new_status as StoredStatus,
        reason: row.reason as string,
      })),

    insertChannel(channel: Channel) {
      statements.insertChannel.run(
        channel.id,
        channel.accountId,
        channel.name,
        channel.kind,
        channel.target,
        channel.createdAt,
      );
    },
    channelsOfAccount: (accountId: string) =>
      (statements.channelsOfAccount.all(accountId) as Record<string, unknown>[]).map(
        (row): Channel => ({
          id: row.id as string,
          accountId: row.account_id as string,
          name: row.name as string,
          kind: row.kind as ChannelKind,
          target: row.target as string,
          createdAt: row.created_at as number,
        }),
      ),
    /** Changes a channel of this account; false when the account has no such channel. */
    updateChannel: (accountId: string, channel: Pick<Channel, 'id' | 'name' | 'kind' | 'target'>) =>
      statements.updateChannel.run(channel.name, channel.kind, channel.target, channel.id, accountId)
        .changes > 0,
    /** Deletes a channel of this account; false when the account has no such channel. */
    deleteChannel: (accountId: string, channelId: string) =>
      statements.deleteChannel.run(channelId, accountId).changes > 0,
    channelIdsOfCheck: (checkId: number) => statements.channelIdsOfCheck.all(checkId) as string[],
    setCheckChannels(checkId: number, channelIds: string[]) {
      statements.clearCheckChannels.run(checkId);
      for (const channelId of channelIds) statements.addCheckChannel.run(checkId, channelId);
    },
    addChannelToAllChecks: (channelId: string, accountId: string) =>
      statements.addChannelToAllChecks.run(channelId, accountId),

    insertNotification(input: {
      accountId: string;
      channelId: string;
      checkCode: string;
      event: 'down' | 'up';
      payload: string;
      messageId: string;
      now: number;
    }) {
      statements.insertNotification.run(
        input.accountId,
        input.channelId,
        input.checkCode,
        input.event,
        input.payload,
        input.messageId,
        input.now,
        input.now,
      );
    },
    dueNotifications: (now: number, limit: number) =>
      (statements.dueNotifications.all(now, limit) as Record<string, unknown>[]).map(
        (row): Notification => ({
          id: row.id as number,
          accountId: row.account_id as string,
          channelId: row.channel_id as string,
          checkCode: row.check_code as string,
          event: row.event as 'down' | 'up',
          payload: row.payload as string,
          messageId: row.message_id as string,
          attempts: row.attempts as number,
          nextAttemptAt: row.next_attempt_at as number,
          kind: row.kind as ChannelKind,
          target: row.target as string,
        }),
      ),
    nextNotificationDue: () => (statements.nextNotificationDue.get() as number | null) ?? null,
    markDelivered: (id: number) => statements.markDelivered.run(id),
    markRetry: (id: number, nextAttemptAt: number, error: string) =>
      statements.markRetry.run(nextAttemptAt, error, id),
    markFailed: (id: number, error: string) => statements.markFailed.run(error, id),
    notificationsOfCheck: (code: string) =>
      statements.notificationsOfCheck.all(code) as {
        event: string;
        state: string;
        attempts: number;
        last_error: string | null;
        channel_id: string;
      }[],

    earliestDeadline: () => (statements.earliestDeadline.get() as number | null) ?? null,
    overdueChecks: (now: number, limit: number) =>
      (statements.overdueChecks.all(now, limit) as CheckRow[]).map(toCheck),
    countOverdueChecks: (before: number) => statements.countOverdueChecks.get(before) as number,
    countOverdueNotifications: (before: number) => statements.countOverdueNotifications.get(before) as number,
    /** After our own outage: every deadline already missed gets one grace window from now. */
    postponeOverdue: (now: number) => statements.postponeOverdue.run({ now }).changes,
  };
}

export type CronpingRepository = ReturnType<typeof createCronpingRepository>;
