import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type BetterSqlite3 from 'better-sqlite3';

export interface Migration {
  version: number;
  name: string;
  /** Where the SQL came from, named in error messages (a file path, or `<scope>:<version>` for inline SQL). */
  source: string;
  sql: string;
  checksum: string;
}

/** One numbered sequence of migrations: an app's own, or a shared package's (billing). */
export interface MigrationSet {
  scope: string;
  migrations: Migration[];
}

export class MigrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MigrationError';
  }
}

const fileNamePattern = /^(\d{3,})_([a-z0-9_]+)\.sql$/;

export function checksumOf(sql: string): string {
  // Line endings are normalised so a checkout with CRLF does not look like an edited migration.
  return createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
}

function checkSequence(scope: string, migrations: Migration[]): MigrationSet {
  const sorted = [...migrations].sort((a, b) => a.version - b.version);
  sorted.forEach((migration, index) => {
    if (migration.version !== index + 1) {
      throw new MigrationError(
        `migrations of ${scope} must be numbered 1, 2, 3… without gaps or repeats: found ${migration.source} where version ${index + 1} was expected`,
      );
    }
  });
  return { scope, migrations: sorted };
}

/** Reads `NNN_name.sql` files from a directory, in numeric order. */
export function loadMigrationDirectory(scope: string, directory: string): MigrationSet {
  let names: string[];
  try {
    names = readdirSync(directory);
  } catch (error) {
    throw new MigrationError(
      `cannot read the migrations of ${scope} at ${directory}: ${(error as Error).message}`,
    );
  }
  const migrations = names
    .filter((name) => name.endsWith('.sql'))
    .map((name) => {
      const match = fileNamePattern.exec(name);
      if (!match) {
        throw new MigrationError(`migration file ${join(directory, name)} must be named NNN_snake_case.sql`);
      }
      const sql = readFileSync(join(directory, name), 'utf8');
      return {
        version: Number(match[1]),
        name: match[2]!,
        source: join(directory, name),
        sql,
        checksum: checksumOf(sql),
      };
    });
  return checkSequence(scope, migrations);
}

/** Migrations shipped inside a package's code, so bundling an app cannot leave their files behind. */
export function defineMigrations(scope: string, list: { name: string; sql: string }[]): MigrationSet {
  return checkSequence(
    scope,
    list.map((entry, index) => ({
      version: index + 1,
      name: entry.name,
      source: `${scope}:${String(index + 1).padStart(3, '0')}_${entry.name}`,
      sql: entry.sql,
      checksum: checksumOf(entry.sql),
    })),
  );
}

interface AppliedRow {
  scope: string;
  version: number;
  name: string;
  checksum: string;
}

export interface MigrationStatus {
  applied: number;
  expected: number;
  pending: string[];
}

const ledgerDdl = `CREATE TABLE IF NOT EXISTS _migrations (
  scope TEXT NOT NULL,
  version INTEGER NOT NULL,
  name TEXT NOT NULL,
  checksum TEXT NOT NULL,
  applied_at TEXT NOT NULL,
  PRIMARY KEY (scope, version)
)`;

function appliedRows(sqlite: BetterSqlite3.Database): AppliedRow[] {
  const exists = sqlite
    .prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = '_migrations'")
    .get();
  if (!exists) return [];
  return sqlite.prepare('SELECT scope, version, name, checksum FROM _migrations').all() as AppliedRow[];
}

/**
 * Refuses a database this code cannot safely run against: one migrated by a newer build, by another app,
 * or whose applied migrations were edited afterwards.
 */
export function verifyApplied(sqlite: BetterSqlite3.Database, sets: MigrationSet[], file: string): void {
  const byScope = new Map(sets.map((set) => [set.scope, set]));
  for (const row of appliedRows(sqlite)) {
    const set = byScope.get(row.scope);
    if (!set) {
      throw new MigrationError(
        `${file} holds migrations of "${row.scope}", which this service does not know (it knows ${[...byScope.keys()].join(', ')}): is DATA_DIR pointing at another app's data?`,
      );
    }
    const migration = set.migrations.find((m) => m.version === row.version);
    if (!migration) {
      throw new MigrationError(
        `${file} was migrated by a newer build: ${row.scope} migration ${row.version} (${row.name}) is applied, but this code knows only up to ${set.migrations.length}. Upgrade the service instead of running older code on this database.`,
      );
    }
    if (migration.checksum !== row.checksum) {
      throw new MigrationError(
        `migration ${migration.source} was changed after it was applied to ${file} (recorded checksum ${row.checksum.slice(0, 12)}…, file now ${migration.checksum.slice(0, 12)}…): restore the file and add a new migration instead`,
      );
    }
  }
}

/** Applies pending migrations in order, each in its own transaction, recording its checksum. */
export function applyMigrations(
  sqlite: BetterSqlite3.Database,
  sets: MigrationSet[],
  file: string,
): string[] {
  sqlite.exec(ledgerDdl);
  verifyApplied(sqlite, sets, file);
  const done = new Set(appliedRows(sqlite).map((row) => `${row.scope}:${row.version}`));
  const record = sqlite.prepare(
    'INSERT INTO _migrations (scope, version, name, checksum, applied_at) VALUES (?, ?, ?, ?, ?)',
  );
  const appliedNow: string[] = [];
  for (const set of sets) {
    for (const migration of set.migrations) {
      if (done.has(`${set.scope}:${migration.version}`)) continue;
      try {
        sqlite
          .transaction(() => {
            sqlite.exec(migration.sql);
            record.run(
              set.scope,
              migration.version,
              migration.name,
              migration.checksum,
              new Date().toISOString(),
            );
          })
          .immediate();
      } catch (error) {
        throw new MigrationError(
          `migration ${migration.source} failed and was rolled back: ${(error as Error).message}`,
        );
      }
      appliedNow.push(migration.source);
    }
  }
  return appliedNow;
}

export function migrationStatus(sqlite: BetterSqlite3.Database, sets: MigrationSet[]): MigrationStatus {
  const done = new Set(appliedRows(sqlite).map((row) => `${row.scope}:${row.version}`));
  const all = sets.flatMap((set) =>
    set.migrations.map((m) => ({ key: `${set.scope}:${m.version}`, source: m.source })),
  );
  const pending = all.filter((m) => !done.has(m.key)).map((m) => m.source);
  return { applied: all.length - pending.length, expected: all.length, pending };
}
