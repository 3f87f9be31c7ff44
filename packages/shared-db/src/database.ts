import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import Database from 'better-sqlite3';
import {
  applyMigrations,
  type MigrationSet,
  type MigrationStatus,
  migrationStatus,
  verifyApplied,
} from './migrations';

export type SynchronousLevel = 'FULL' | 'NORMAL';

export interface OpenDatabaseOptions {
  file: string;
  migrations: MigrationSet[];
  /**
   * FULL (the default) fsyncs the WAL on every commit, so an acknowledged write survives a power cut.
   * NORMAL survives a process crash but may lose the last commits on power loss; choose it only where
   * that trade is stated.
   */
  synchronous?: SynchronousLevel;
  busyTimeoutMs?: number;
  /**
   * false opens the file without applying pending migrations (it is still refused if this build cannot run
   * it): `db:backup` and `db:check` must read the file as it is, not upgrade it first. Default true.
   */
  applyMigrations?: boolean;
}

export class DatabaseOpenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DatabaseOpenError';
  }
}

const sqliteHeader = Buffer.from('SQLite format 3\0', 'latin1');

/** A zero-length file is a database SQLite has not written yet; anything else must carry the header. */
function assertIsSqliteFile(file: string): void {
  if (!existsSync(file)) return;
  const stats = statSync(file);
  if (!stats.isFile())
    throw new DatabaseOpenError(`${file} is not a file, so it cannot be a SQLite database`);
  if (stats.size === 0) return;
  const header = Buffer.alloc(16);
  const fd = openSync(file, 'r');
  try {
    readSync(fd, header, 0, 16, 0);
  } finally {
    closeSync(fd);
  }
  if (!header.equals(sqliteHeader)) {
    throw new DatabaseOpenError(
      `${file} is not a SQLite database (its first bytes are not "SQLite format 3"); refusing to open or overwrite it`,
    );
  }
}

const busyCodes = new Set(['SQLITE_BUSY', 'SQLITE_BUSY_SNAPSHOT', 'SQLITE_BUSY_TIMEOUT', 'SQLITE_LOCKED']);

export function isBusyError(error: unknown): boolean {
  return (
    typeof error === 'object' && error !== null && busyCodes.has(String((error as { code?: unknown }).code))
  );
}

export interface DatabaseStats {
  writeTransactions: number;
  /** Write transactions per second, averaged over the last 60 seconds. */
  writeRatePerSecond: number;
  busyErrors: number;
  lastWriteLatencyMs: number | null;
  walBytes: number;
}

/**
 * The one handle an app has on its SQLite file. Repository modules prepare statements on `sqlite` and run
 * every write through `transaction()`, which is what feeds the headroom counters the health probes read.
 */
export class StudioDatabase {
  readonly sqlite: Database.Database;
  readonly file: string;
  readonly migrations: MigrationSet[];
  readonly appliedAtOpen: string[];
  private readonly writeBuckets = new Array<number>(60).fill(0);
  private bucketSecond = 0;
  private writeTransactions = 0;
  private busyErrors = 0;
  private lastWriteLatencyMs: number | null = null;

  constructor(options: OpenDatabaseOptions) {
    this.file = resolve(options.file);
    this.migrations = options.migrations;
    mkdirSync(dirname(this.file), { recursive: true });
    assertIsSqliteFile(this.file);
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    try {
      // The timeout is given here too, so switching to WAL below already waits as long as the caller asked.
      this.sqlite = new Database(this.file, { timeout: busyTimeoutMs });
    } catch (error) {
      throw new DatabaseOpenError(`cannot open ${this.file}: ${(error as Error).message}`);
    }
    try {
      this.sqlite.pragma(`busy_timeout = ${busyTimeoutMs}`);
      this.sqlite.pragma('journal_mode = WAL');
      this.sqlite.pragma('foreign_keys = ON');
      this.sqlite.pragma(`synchronous = ${options.synchronous ?? 'FULL'}`);
      if (options.applyMigrations === false) {
        verifyApplied(this.sqlite, options.migrations, this.file);
        this.appliedAtOpen = [];
      } else {
        this.appliedAtOpen = applyMigrations(this.sqlite, options.migrations, this.file);
      }
    } catch (error) {
      this.sqlite.close();
      if ((error as { code?: string }).code === 'SQLITE_NOTADB') {
        throw new DatabaseOpenError(`${this.file} is not a SQLite database: ${(error as Error).message}`);
      }
      throw error;
    }
  }

  /**
   * Wraps `fn` in a BEGIN IMMEDIATE transaction (the write lock is taken up front, so a busy database fails
   * at BEGIN instead of mid-way) and counts it for the headroom probes.
   */
  transaction<Args extends unknown[], Result>(fn: (...args: Args) => Result): (...args: Args) => Result {
    const wrapped = this.sqlite.transaction(fn);
    return (...args: Args) => {
      const started = performance.now();
      try {
        const result = wrapped.immediate(...args);
        this.recordWrite(performance.now() - started);
        return result;
      } catch (error) {
        if (isBusyError(error)) this.busyErrors += 1;
        throw error;
      }
    };
  }

  private recordWrite(latencyMs: number): void {
    this.writeTransactions += 1;
    this.lastWriteLatencyMs = latencyMs;
    this.rollBuckets();
    this.writeBuckets[this.bucketSecond % 60]! += 1;
  }

  private rollBuckets(): void {
    const nowSecond = Math.floor(Date.now() / 1000);
    if (this.bucketSecond === 0) this.bucketSecond = nowSecond;
    const elapsed = Math.min(nowSecond - this.bucketSecond, 60);
    for (let step = 1; step <= elapsed; step++) this.writeBuckets[(this.bucketSecond + step) % 60] = 0;
    if (nowSecond > this.bucketSecond) this.bucketSecond = nowSecond;
  }

  /** Counts a SQLITE_BUSY seen outside `transaction()` (a read that hit a lock). */
  noteBusy(): void {
    this.busyErrors += 1;
  }

  stats(): DatabaseStats {
    this.rollBuckets();
    const lastMinute = this.writeBuckets.reduce((sum, count) => sum + count, 0);
    let walBytes = 0;
    try {
      walBytes = statSync(`${this.file}-wal`).size;
    } catch {
      walBytes = 0;
    }
    return {
      writeTransactions: this.writeTransactions,
      writeRatePerSecond: lastMinute / 60,
      busyErrors: this.busyErrors,
      lastWriteLatencyMs: this.lastWriteLatencyMs,
      walBytes,
    };
  }

  ping(): void {
    this.sqlite.prepare('SELECT 1').get();
  }

  migrationStatus(): MigrationStatus {
    return migrationStatus(this.sqlite, this.migrations);
  }

  /** Online backup: readers and writers carry on while SQLite copies pages to `destination`. */
  async backup(destination: string): Promise<void> {
    const target = resolve(destination);
    if (existsSync(target))
      throw new DatabaseOpenError(`backup target ${target} already exists; refusing to overwrite it`);
    mkdirSync(dirname(target), { recursive: true });
    await this.sqlite.backup(target);
  }

  integrityCheck(): string[] {
    const integrity = (this.sqlite.pragma('integrity_check') as { integrity_check: string }[]).map(
      (row) => row.integrity_check,
    );
    const foreignKeys = this.sqlite.pragma('foreign_key_check') as {
      table: string;
      rowid: number;
      parent: string;
    }[];
    const problems = integrity.filter((line) => line !== 'ok');
    for (const row of foreignKeys)
      problems.push(`foreign key: ${row.table} row ${row.rowid} points at a missing ${row.parent}`);
    return problems;
  }

  get open(): boolean {
    return this.sqlite.open;
  }

  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }
}

export function openDatabase(options: OpenDatabaseOptions): StudioDatabase {
  return new StudioDatabase(options);
}
