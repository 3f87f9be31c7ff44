import { closeSync, existsSync, openSync, readSync, renameSync } from 'node:fs';
import { resolve } from 'node:path';
import Database from 'better-sqlite3';
import { DatabaseOpenError } from './database';
import { type MigrationSet, verifyApplied } from './migrations';

/**
 * Restores `backupFile` into `targetFile` through SQLite's backup API, page by page under SQLite's own
 * locks, instead of copying files over a live database (which would tear the WAL). The backup is checked
 * first: a corrupt file, or one this build cannot run, is refused before the target is touched.
 */
export async function restoreDatabase(options: {
  backupFile: string;
  targetFile: string;
  migrations: MigrationSet[];
}): Promise<void> {
  const backupFile = resolve(options.backupFile);
  const targetFile = resolve(options.targetFile);
  if (!existsSync(backupFile)) throw new DatabaseOpenError(`backup file ${backupFile} does not exist`);
  let source: Database.Database;
  try {
    source = new Database(backupFile, { readonly: true, fileMustExist: true });
    source.pragma('schema_version');
  } catch (error) {
    throw new DatabaseOpenError(
      `${backupFile} is not a readable SQLite database: ${(error as Error).message}`,
    );
  }
  try {
    const integrity = (source.pragma('integrity_check') as { integrity_check: string }[]).map(
      (r) => r.integrity_check,
    );
    if (integrity.join() !== 'ok') {
      throw new DatabaseOpenError(
        `${backupFile} fails PRAGMA integrity_check: ${integrity.slice(0, 3).join('; ')}`,
      );
    }
    // Every file a studio service has opened carries the ledger. Without it this is an empty file (a backup
    // that was never written, `touch`ed, or truncated to nothing) or another program's database, and
    // restoring it would silently replace the service's data with nothing.
    const ledger = source
      .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'")
      .get();
    if (!ledger) {
      throw new DatabaseOpenError(
        `${backupFile} has no _migrations ledger, so it is not a backup of this service's database; refusing to restore it`,
      );
    }
    verifyApplied(source, options.migrations, backupFile);
    setAsideUnusableTarget(targetFile);
    try {
      await source.backup(targetFile);
    } catch (error) {
      throw new DatabaseOpenError(`cannot restore into ${targetFile}: ${(error as Error).message}`);
    }
  } finally {
    source.close();
  }
}

/**
 * The backup API writes into the target as a database, so a target that is not one (overwritten, truncated,
 * corrupt) would stop the restore it needs. Such a file is renamed aside with its -wal and -shm, never
 * deleted; so are a -wal and -shm left without their database, which SQLite would otherwise replay into the
 * restored file.
 */
function setAsideUnusableTarget(targetFile: string): void {
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const companions = ['-wal', '-shm'].map((suffix) => `${targetFile}${suffix}`);
  if (existsSync(targetFile)) {
    // A file without SQLite's header is not a damaged database but something else at the wrong path: the
    // restore refuses it below, untouched.
    if (!hasSqliteHeader(targetFile) || passesQuickCheck(targetFile)) return;
  }
  for (const file of [targetFile, ...companions]) {
    if (existsSync(file)) renameSync(file, `${file}.unusable-${stamp}`);
  }
}

function passesQuickCheck(file: string): boolean {
  try {
    const database = new Database(file, { fileMustExist: true });
    try {
      return database.pragma('quick_check', { simple: true }) === 'ok';
    } finally {
      database.close();
    }
  } catch {
    return false;
  }
}

function hasSqliteHeader(file: string): boolean {
  const header = Buffer.alloc(16);
  const descriptor = openSync(file, 'r');
  try {
    readSync(descriptor, header, 0, 16, 0);
  } finally {
    closeSync(descriptor);
  }
  return header.toString('latin1') === 'SQLite format 3\0';
}
