import { describe, expect, it } from 'vitest';
import { assertValidCron, nextCronFire, previewCron, ScheduleError } from '../src/schedule';

const fires = (expression: string, tz: string, afterIso: string, count: number) =>
  previewCron(expression, tz, Date.parse(afterIso), count).map((ms) =>
    new Date(ms).toISOString().slice(0, 16),
  );

describe('cron schedules with Debian cron semantics', () => {
  it('ORs day-of-month and day-of-week when both are restricted', () => {
    // The 13th, or any Friday.
    expect(fires('0 0 13 * 5', 'UTC', '2026-02-01T00:00:00Z', 4)).toEqual([
      '2026-02-06T00:00',
      '2026-02-13T00:00',
      '2026-02-20T00:00',
      '2026-02-27T00:00',
    ]);
    expect(fires('0 0 1 * 1', 'UTC', '2026-01-30T00:00:00Z', 2)).toEqual([
      '2026-02-01T00:00',
      '2026-02-02T00:00',
    ]);
  });

  it('ANDs them when either field starts with * (a step over * is still a wildcard to cron)', () => {
    // Odd days of the month that are Mondays: croner alone answers "odd days OR Mondays" here.
    expect(fires('0 0 */2 * 1', 'UTC', '2026-01-01T00:00:00Z', 3)).toEqual([
      '2026-01-05T00:00',
      '2026-01-19T00:00',
      '2026-02-09T00:00',
    ]);
    expect(fires('0 0 * * 1', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-05T00:00']);
  });

  it('supports L, #, names, ranges, steps and lists', () => {
    expect(fires('0 0 L * *', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2026-01-31T00:00',
      '2026-02-28T00:00',
    ]);
    expect(fires('0 9 * * 5#2', 'UTC', '2026-01-01T00:00:00Z', 2)).toEqual([
      '2026-01-09T09:00',
      '2026-02-13T09:00',
    ]);
    expect(fires('0 9 * * 5L', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-30T09:00']);
    expect(fires('30 8 * jan,FEB mon-wed', 'UTC', '2026-01-31T00:00:00Z', 3)).toEqual([
      '2026-02-02T08:30',
      '2026-02-03T08:30',
      '2026-02-04T08:30',
    ]);
    expect(fires('0-30/15 1,3 * * *', 'UTC', '2026-01-01T00:00:00Z', 4)).toEqual([
      '2026-01-01T01:00',
      '2026-01-01T01:15',
      '2026-01-01T01:30',
      '2026-01-01T03:00',
    ]);
    expect(fires('0 0 * * 7', 'UTC', '2026-01-01T00:00:00Z', 1)).toEqual(['2026-01-04T00:00']);
  });

  it('rejects what cron rejects, naming the problem', () => {
    expect(() => assertValidCron('0 0 * * * *')).toThrow(ScheduleError);
    expect(() => assertValidCron('0 0 * *')).toThrow(/exactly 5 fields/);
    expect(() => assertValidCron('61 * * * *')).toThrow(ScheduleError);
    expect(() => assertValidCron('0 0 * * 8')).toThrow(ScheduleError);
    expect(() => assertValidCron('0 0 30 2 *')).toThrow(/never fires/);
    expect(() => nextCronFire('0 0 * * *', 'Mars/Olympus', 0)).toThrow(/not a valid timezone/);
  });
});

describe('cron schedules across daylight-saving changes', () => {
  it('runs a fixed-time job in a DST gap once, at the first valid minute (Europe/Berlin)', () => {
    // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist.
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-03-28T12:00:00Z', 3)).toEqual([
      '2026-03-29T01:00', // 03:00 CEST
      '2026-03-30T00:30', // 02:30 CEST
      '2026-03-31T00:30',
    ]);
  });

  it('runs a fixed-time job in a DST overlap once (Europe/Berlin)', () => {
    // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens twice.
    expect(fires('30 2 * * *', 'Europe/Berlin', '2026-10-24T12:00:00Z', 2)).toEqual([
      '2026-10-25T00:30',
      '2026-10-26T01:30',
    ]);
  });

  it('lets wildcard-hour jobs follow the wall clock: skipped in the gap, twice in the overlap', () => {
    expect(fires('30 * * * *', 'Europe/Berlin', '2026-03-28T23:45:00Z', 3)).toEqual([
      '2026-03-29T00:30', // 01:30 CET
      '2026-03-29T01:30', // 03:30 CEST: 02:30 never happened
      '2026-03-29T02:30',
    ]);
    expect(fires('30 * * * *', 'Europe/Berlin', '2026-10-24T23:45:00Z', 3)).toEqual([
      '2026-10-25T00:30', // 02:30 CEST
      '2026-10-25T01:30', // 02:30 CET
      '2026-10-25T02:30',
    ]);
    expect(fires('*/20 2 * * *', 'Europe/Berlin', '2026-03-28T23:45:00Z', 1)).toEqual(['2026-03-30T00:00']);
  });

  it('treats a stepped range without * as fixed-time, as Debian cron does', () => {
    // 0-40/20 is 0,20,40: fixed-time, so the whole hour that does not exist runs once at 03:00 CEST.
    expect(fires('0-40/20 2 * * *', 'Europe/Berlin', '2026-03-28T23:45:00Z', 2)).toEqual([
      '2026-03-29T01:00',
      '2026-03-30T00:00',
    ]);
    // ...and runs once, not twice, in the overlap.
    expect(fires('0-40/20 2 * * *', 'Europe/Berlin', '2026-10-24T23:45:00Z', 4)).toEqual([
      '2026-10-25T00:00',
      '2026-10-25T00:20',
      '2026-10-25T00:40',
      '2026-10-26T01:00',
    ]);
  });

  it('handles America/New_York (gap at 02:00, overlap at 01:00)', () => {
    expect(fires('0 2 * * *', 'America/New_York', '2026-03-08T00:00:00Z', 2)).toEqual([
      '2026-03-08T07:00', // 03:00 EDT
      '2026-03-09T06:00',
    ]);
    expect(fires('30 1 * * *', 'America/New_York', '2026-11-01T00:00:00Z', 2)).toEqual([
      '2026-11-01T05:30', // 01:30 EDT, the first of two
      '2026-11-02T06:30',
    ]);
  });

  it('handles the 30-minute DST shift of Australia/Lord_Howe', () => {
    // 2026-10-04 02:00 +10:30 jumps to 02:30 +11: 02:15 does not exist.
    expect(fires('15 2 * * *', 'Australia/Lord_Howe', '2026-10-03T00:00:00Z', 2)).toEqual([
      '2026-10-03T15:30', // 02:30 +11, the first valid minute
      '2026-10-04T15:15',
    ]);
    // 2026-04-05 02:00 +11 falls back to 01:30 +10:30: 01:45 happens twice, the job runs once.
    expect(fires('45 1 * * *', 'Australia/Lord_Howe', '2026-04-04T00:00:00Z', 2)).toEqual([
      '2026-04-04T14:45',
      '2026-04-05T15:15',
    ]);
    expect(fires('*/30 * * * *', 'Australia/Lord_Howe', '2026-04-04T14:00:00Z', 4)).toEqual([
      '2026-04-04T14:30', // 01:30 +11
      '2026-04-04T15:00', // 01:30 +10:30 again: wall clock
      '2026-04-04T15:30',
      '2026-04-04T16:00',
    ]);
  });

  it('handles a southern-hemisphere zone (Australia/Sydney)', () => {
    // 2026-10-04 02:00 AEST jumps to 03:00 AEDT.
    expect(fires('30 2 * * *', 'Australia/Sydney', '2026-10-03T00:00:00Z', 2)).toEqual([
      '2026-10-03T16:00', // 03:00 AEDT
      '2026-10-04T15:30',
    ]);
  });
});
