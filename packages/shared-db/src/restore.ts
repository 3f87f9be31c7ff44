import { existsSync } from 'node:fs';
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
    try {
      await source.backup(targetFile);
    } catch (error) {
      throw new DatabaseOpenError(`cannot restore into ${targetFile}: ${(error as Error).message}`);
    }
  } finally {
    source.close();
  }
}
