import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DatabaseOpenError, isBusyError } from '../src/database';
import { addUser, emailsIn, workspace } from './harness';

describe('opening a database', () => {
  it('creates the data directory and the file when neither exists yet', () => {
    const ws = workspace();
    const file = ws.path('data', 'nested', 'app.sqlite');
    const db = ws.open({ file });
    expect(existsSync(file), `${file} should have been created`).toBe(true);
    expect(db.file).toBe(file);
    expect(db.open).toBe(true);
    expect(db.appliedAtOpen, 'a new file gets every migration').toHaveLength(2);
  });

  it('puts WAL, foreign keys, FULL synchronous and a 5s busy timeout in effect by default', () => {
    const db = workspace().open();
    expect(db.sqlite.pragma('journal_mode', { simple: true }), 'journal_mode').toBe('wal');
    expect(db.sqlite.pragma('foreign_keys', { simple: true }), 'foreign_keys').toBe(1);
    expect(db.sqlite.pragma('synchronous', { simple: true }), 'synchronous FULL is 2').toBe(2);
    expect(db.sqlite.pragma('busy_timeout', { simple: true }), 'busy_timeout').toBe(5000);
  });

  it('applies the synchronous level and busy timeout it is given', () => {
    const db = workspace().open({ synchronous: 'NORMAL', busyTimeoutMs: 250 });
    expect(db.sqlite.pragma('synchronous', { simple: true }), 'synchronous NORMAL is 1').toBe(1);
    expect(db.sqlite.pragma('busy_timeout', { simple: true }), 'busy_timeout').toBe(250);
  });

  it('enforces foreign keys on writes', () => {
    const db = workspace().open();
    const insertOrphan = db.transaction(() =>
      db.sqlite.prepare('INSERT INTO posts (user_id, title) VALUES (?, ?)').run(999, 'orphan'),
    );
    expect(insertOrphan).toThrow(/FOREIGN KEY constraint failed/);
  });

  it('refuses a file that is not a SQLite database, naming it and leaving it untouched', () => {
    const ws = workspace();
    const file = ws.path('notes.sqlite');
    writeFileSync(file, 'shopping list: milk, eggs\n');
    expect(() => ws.open({ file })).toThrow(DatabaseOpenError);
    expect(() => ws.open({ file })).toThrow(`${file} is not a SQLite database`);
    expect(readFileSync(file, 'utf8'), 'the text file keeps its content').toBe('shopping list: milk, eggs\n');
    expect(readdirSync(ws.dir), 'no -wal or -shm file was created next to it').toEqual(['notes.sqlite']);
  });

  it('refuses a text file shorter than the SQLite header', () => {
    const ws = workspace();
    const file = ws.path('tiny.sqlite');
    writeFileSync(file, 'hi');
    expect(() => ws.open({ file })).toThrow(`${file} is not a SQLite database`);
    expect(readFileSync(file, 'utf8')).toBe('hi');
  });

  it('refuses a directory where the database file should be', () => {
    const ws = workspace();
    const file = ws.path('app.sqlite');
    mkdirSync(file);
    expect(() => ws.open({ file })).toThrow(`${file} is not a file`);
  });

  it('refuses a file with the SQLite header but garbage after it, naming the file', () => {
    const ws = workspace();
    const file = ws.path('garbage.sqlite');
    writeFileSync(
      file,
      Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(8192, 0x5a)]),
    );
    expect(() => ws.open({ file })).toThrow(DatabaseOpenError);
    expect(() => ws.open({ file })).toThrow(file);
  });

  it('accepts a zero-length file as a database SQLite has not written yet', () => {
    const ws = workspace();
    const file = ws.path('app.sqlite');
    writeFileSync(file, '');
    const db = ws.open({ file });
    expect(db.appliedAtOpen, 'the empty file is migrated like a new one').toHaveLength(2);
    expect(readFileSync(file).subarray(0, 15).toString('latin1'), 'SQLite wrote its header').toBe(
      'SQLite format 3',
    );
  });

  it('keeps data across close and reopen', () => {
    const ws = workspace();
    const first = ws.open();
    addUser(first, 'ada@example.com');
    first.close();
    expect(first.open, 'close() closes the handle').toBe(false);
    expect(() => first.close(), 'closing twice is harmless').not.toThrow();
    expect(emailsIn(ws.open())).toEqual(['ada@example.com']);
  });
});

describe('write counters', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('starts with no writes, no busy errors and no latency', () => {
    const stats = workspace().open().stats();
    expect(stats).toMatchObject({
      writeTransactions: 0,
      writeRatePerSecond: 0,
      busyErrors: 0,
      lastWriteLatencyMs: null,
    });
  });

  it('counts each write transaction, its rate per second and the last latency', () => {
    const db = workspace().open();
    addUser(db, 'a@example.com');
    addUser(db, 'b@example.com');
    addUser(db, 'c@example.com');
    const stats = db.stats();
    expect(stats.writeTransactions, JSON.stringify(stats)).toBe(3);
    expect(stats.writeRatePerSecond, 'three writes averaged over 60 seconds').toBeCloseTo(3 / 60, 10);
    expect(stats.lastWriteLatencyMs, JSON.stringify(stats)).toEqual(expect.any(Number));
    expect(stats.lastWriteLatencyMs ?? -1).toBeGreaterThanOrEqual(0);
  });

  it('returns the wrapped function result and passes its arguments through', () => {
    const db = workspace().open();
    const add = db.transaction((email: string, suffix: string) => {
      db.sqlite.prepare('INSERT INTO users (email) VALUES (?)').run(`${email}${suffix}`);
      return 'inserted';
    });
    expect(add('ada', '@example.com')).toBe('inserted');
    expect(emailsIn(db)).toEqual(['ada@example.com']);
  });

  it('rolls back a transaction that throws and does not count it as a write', () => {
    const db = workspace().open();
    const failing = db.transaction(() => {
      db.sqlite.prepare('INSERT INTO users (email) VALUES (?)').run('ghost@example.com');
      throw new Error('validation failed half-way');
    });
    expect(failing).toThrow('validation failed half-way');
    expect(emailsIn(db), 'the insert was rolled back').toEqual([]);
    expect(db.stats().writeTransactions).toBe(0);
    expect(db.stats().busyErrors, 'an ordinary error is not contention').toBe(0);
  });

  it('forgets writes older than a minute in the write rate but keeps them in the total', () => {
    vi.useFakeTimers({ toFake: ['Date'] });
    vi.setSystemTime(new Date('2030-01-01T00:00:00Z'));
    const db = workspace().open();
    addUser(db, 'a@example.com');
    addUser(db, 'b@example.com');
    vi.setSystemTime(new Date('2030-01-01T00:00:30Z'));
    addUser(db, 'c@example.com');
    expect(db.stats().writeRatePerSecond, 'all three are in the last minute').toBeCloseTo(3 / 60, 10);

    vi.setSystemTime(new Date('2030-01-01T00:01:00Z'));
    expect(db.stats().writeRatePerSecond, 'the two writes at :00 left the window').toBeCloseTo(1 / 60, 10);

    vi.setSystemTime(new Date('2030-01-01T00:05:00Z'));
    const idle = db.stats();
    expect(idle.writeRatePerSecond, 'nothing written in the last minute').toBe(0);
    expect(idle.writeTransactions, 'the total since start is kept').toBe(3);
  });

  it('counts a SQLITE_BUSY when another connection holds the write lock, and writes again once it is released', () => {
    const ws = workspace();
    const db = ws.open({ busyTimeoutMs: 1 });
    const other = ws.rawConnection(db.file);
    other.exec('BEGIN IMMEDIATE');

    let busy: unknown;
    try {
      addUser(db, 'blocked@example.com');
    } catch (error) {
      busy = error;
    }
    expect(busy, 'the write should have failed on the lock').toBeInstanceOf(Error);
    expect((busy as { code?: string }).code).toBe('SQLITE_BUSY');
    expect(isBusyError(busy)).toBe(true);
    expect(db.stats()).toMatchObject({ busyErrors: 1, writeTransactions: 0 });

    other.exec('ROLLBACK');
    addUser(db, 'after@example.com');
    expect(db.stats()).toMatchObject({ busyErrors: 1, writeTransactions: 1 });
    expect(emailsIn(db)).toEqual(['after@example.com']);
  });

  it('counts a busy error noted outside transaction()', () => {
    const db = workspace().open();
    db.noteBusy();
    expect(db.stats().busyErrors).toBe(1);
  });

  it('tells busy and locked errors apart from others', () => {
    expect(isBusyError(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }))).toBe(true);
    expect(isBusyError(Object.assign(new Error('locked'), { code: 'SQLITE_LOCKED' }))).toBe(true);
    expect(isBusyError(Object.assign(new Error('constraint'), { code: 'SQLITE_CONSTRAINT' }))).toBe(false);
    expect(isBusyError(new Error('no code'))).toBe(false);
    expect(isBusyError(null)).toBe(false);
  });

  it('reports the size of the WAL file', () => {
    const db = workspace().open();
    addUser(db, 'a@example.com');
    const walBytes = db.stats().walBytes;
    expect(walBytes, 'the commit is in the WAL until a checkpoint').toBe(statSync(`${db.file}-wal`).size);
    expect(walBytes).toBeGreaterThan(0);
  });
});
