import { Cron } from 'croner';

/**
 * Cron schedules with Debian cron's semantics (the ones healthchecks' cronsim follows), on top of croner:
 *
 * - exactly 5 fields (croner also takes seconds and years; a healthchecks schedule never has them);
 * - day-of-month and day-of-week are ORed, unless either field starts with `*` (then ANDed). croner's own
 *   rule only treats a bare `*` as a wildcard, so `0 0 *\/2 * 1` came out as "odd days OR Mondays" where
 *   cron means "odd days that are Mondays"; we pass `domAndDow` ourselves;
 * - a job is fixed-time (DST gap: runs once at the first valid minute; overlap: runs once) unless its
 *   minute or hour field starts with `*`; croner's `no-wildcard` rule also counts a stepped range such as
 *   `0-40/20` as an interval job, so minute and hour steps that do not start with `*` are expanded into
 *   plain lists before croner sees them.
 */

const MINUTE_OR_HOUR_MAX = [59, 23] as const;
const compiled = new Map<string, Cron>();
const COMPILED_CACHE_LIMIT = 10_000;

export class ScheduleError extends Error {}

function expandSteps(field: string, max: number): string {
  if (field.startsWith('*') || !field.includes('/')) return field;
  return field
    .split(',')
    .map((part) => {
      const match = /^(\d+)(?:-(\d+))?\/(\d+)$/.exec(part);
      if (!match) return part;
      const start = Number(match[1]);
      const end = match[2] === undefined ? max : Number(match[2]);
      const step = Number(match[3]);
      if (step <= 0 || start > end || end > max) return part; // left for croner to reject
      const values: number[] = [];
      for (let value = start; value <= end; value += step) values.push(value);
      return values.join(',');
    })
    .join(',');
}

export function isValidTimezone(tz: string): boolean {
  if (!/^[A-Za-z][A-Za-z0-9_+-]*(\/[A-Za-z0-9_+-]+)*$/.test(tz)) return false;
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

function compile(expression: string, tz: string): Cron {
  const key = `${tz}\u0000${expression}`;
  const cached = compiled.get(key);
  if (cached) return cached;
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 5) throw new ScheduleError('a cron expression has exactly 5 fields');
  if (!isValidTimezone(tz)) throw new ScheduleError(`${tz} is not a valid timezone`);
  const [minute, hour, dom, dow] = [fields[0]!, fields[1]!, fields[2]!, fields[4]!];
  const pattern = [
    expandSteps(minute, MINUTE_OR_HOUR_MAX[0]),
    expandSteps(hour, MINUTE_OR_HOUR_MAX[1]),
    ...fields.slice(2),
  ].join(' ');
  let cron: Cron;
  try {
    cron = new Cron(pattern, {
      timezone: tz,
      paused: true,
      mode: '5-part',
      domAndDow: dom.startsWith('*') || dow.startsWith('*'),
      fixedTimeRule: 'no-wildcard',
    });
  } catch (error) {
    throw new ScheduleError((error as Error).message.replace(/^CronPattern: /, ''));
  }
  if (compiled.size >= COMPILED_CACHE_LIMIT) compiled.clear();
  compiled.set(key, cron);
  return cron;
}

/** The first fire time strictly after `afterMs`, or null when the expression never fires again. */
export function nextCronFire(expression: string, tz: string, afterMs: number): number | null {
  const next = compile(expression, tz).nextRun(new Date(afterMs));
  return next ? next.getTime() : null;
}

/** Throws ScheduleError naming what is wrong, or returns nothing for an expression that fires. */
export function assertValidCron(expression: string, tz = 'UTC'): void {
  if (nextCronFire(expression, tz, Date.UTC(2000, 0, 1)) === null) {
    throw new ScheduleError('the expression never fires');
  }
}

export function previewCron(expression: string, tz: string, afterMs: number, count: number): number[] {
  const fires: number[] = [];
  let cursor = afterMs;
  for (let index = 0; index < count; index++) {
    const next = nextCronFire(expression, tz, cursor);
    if (next === null) break;
    fires.push(next);
    cursor = next;
  }
  return fires;
}
