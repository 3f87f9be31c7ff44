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
    verifyApplied(source, options.migrations, backupFile);
    await source.backup(resolve(options.targetFile));
  } finally {
    source.close();
  }
}
