import { nextCronFire } from '../schedule';

/**
 * The check state machine, as pure functions of a check's stored fields and the time: the ping ingest, the
 * deadline scheduler and the API all read states through here, so they cannot disagree.
 *
 * Stored statuses are new, up, down and paused; `grace` and `started` are derived from the time and the
 * last start. A check goes down when `alert_after` passes: the expected ping plus the grace for an up
 * check, or the start of a run plus `max_runtime` (or the grace) while a run is in progress.
 */

export type StoredStatus = 'new' | 'up' | 'down' | 'paused';
export type CheckStatus = StoredStatus | 'grace' | 'started';
export type PingKind = 'success' | 'start' | 'fail' | 'log' | 'ign';

export interface CheckTiming {
  kind: 'simple' | 'cron';
  timeout: number;
  schedule: string;
  tz: string;
  grace: number;
  minDuration: number | null;
  failureTolerance: number;
  maxRuntime: number | null;
  manualResume: boolean;
  methods: '' | 'POST';
}

export interface CheckState {
  status: StoredStatus;
  nPings: number;
  lastPing: number | null;
  lastStart: number | null;
  lastStartRid: string | null;
  lastDuration: number | null;
  consecutiveFailures: number;
  alertAfter: number | null;
}

export type CheckRecord = CheckTiming & CheckState;

export interface PingEvent {
  kind: PingKind;
  method: string;
  rid: string | null;
}

export interface Flip {
  oldStatus: StoredStatus;
  newStatus: StoredStatus;
  reason: string;
  /** Whether the flip alerts: any change to down, and down → up. new → up and resumes stay quiet. */
  notify: boolean;
}

export interface PingOutcome {
  state: CheckState;
  /** The kind recorded for the ping (a ping to a manually paused check is ignored). */
  kind: PingKind;
  /** Run duration in ms when this ping finished a run that started with the same rid. */
  duration: number | null;
  flip: Flip | null;
}

/** When the next ping is expected after `from`, or null for a cron expression that never fires again. */
export function nextExpected(check: CheckTiming, from: number): number | null {
  if (check.kind === 'simple') return from + check.timeout * 1000;
  return nextCronFire(check.schedule, check.tz, from);
}

/** The moment the check goes down unless a ping arrives first. */
export function deadlineOf(check: CheckTiming, state: CheckState): number | null {
  if (state.status === 'paused' || state.status === 'down') return null;
  let deadline: number | null = null;
  if (state.status === 'up' && state.lastPing !== null) {
    const expected = nextExpected(check, state.lastPing);
    if (expected !== null) deadline = expected + check.grace * 1000;
  }
  if (state.lastStart !== null) {
    const runDeadline = state.lastStart + (check.maxRuntime ?? check.grace) * 1000;
    deadline = deadline === null ? runDeadline : Math.min(deadline, runDeadline);
  }
  return deadline;
}

function flipTo(oldStatus: StoredStatus, newStatus: StoredStatus, reason: string): Flip | null {
  if (oldStatus === newStatus) return null;
  const notify = newStatus === 'down' || (newStatus === 'up' && oldStatus === 'down');
  return { oldStatus, newStatus, reason, notify };
}

export function applyPing(check: CheckRecord, event: PingEvent, now: number): PingOutcome {
  let kind = event.kind;
  if (check.status === 'paused' && check.manualResume) kind = 'ign';
  if (check.methods === 'POST' && event.method !== 'POST') kind = 'ign';

  const state: CheckState = {
    status: check.status,
    nPings: check.nPings + 1,
    lastPing: check.lastPing,
    lastStart: check.lastStart,
    lastStartRid: check.lastStartRid,
    lastDuration: check.lastDuration,
    consecutiveFailures: check.consecutiveFailures,
    alertAfter: check.alertAfter,
  };
  let duration: number | null = null;
  let flip: Flip | null = null;

  if (kind === 'start') {
    state.lastStart = now;
    state.lastStartRid = event.rid;
  } else if (kind === 'success' || kind === 'fail') {
    state.lastPing = now;
    if (state.lastStart !== null && state.lastStartRid === event.rid) {
      duration = now - state.lastStart;
      state.lastStart = null;
      state.lastStartRid = null;
    }
    state.lastDuration = duration;
    const tooShort = check.minDuration !== null && duration !== null && duration < check.minDuration * 1000;
    const failed = kind === 'fail' || tooShort;
    let newStatus: StoredStatus;
    let reason: string;
    if (failed) {
      state.consecutiveFailures += 1;
      reason = tooShort && kind !== 'fail' ? 'min_duration' : 'fail';
      if (state.consecutiveFailures > check.failureTolerance) newStatus = 'down';
      // A tolerated failure still proves the job ran: the check stays up, but it does not recover a down one.
      else newStatus = check.status === 'down' ? 'down' : 'up';
    } else {
      state.consecutiveFailures = 0;
      newStatus = 'up';
      reason = 'success';
    }
    flip = flipTo(check.status, newStatus, reason);
    state.status = newStatus;
  }
  state.alertAfter = deadlineOf(check, state);
  return { state, kind, duration, flip };
}

/** What the API shows: the stored status, refined by the time (grace, started, an overdue deadline). */
export function currentStatus(check: CheckRecord, now: number): CheckStatus {
  if (check.status === 'paused' || check.status === 'down') return check.status;
  if (check.alertAfter !== null && now >= check.alertAfter) return 'down';
  if (check.lastStart !== null) return 'started';
  if (check.status === 'new') return 'new';
  if (check.lastPing !== null) {
    const expected = nextExpected(check, check.lastPing);
    if (expected !== null && now >= expected) return 'grace';
  }
  return 'up';
}
