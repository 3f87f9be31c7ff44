import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { checksumOf, defineMigrations, loadMigrationDirectory, MigrationError } from '../src/migrations';
import { createPostsSql, createUsersSql, ledgerOf, tableNames, workspace } from './harness';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

/** 002 inserts into 001's table, so it only works when applied after it. */
const appMigrationFiles = {
  '001_create_users.sql': createUsersSql,
  '002_seed_admin.sql': "INSERT INTO users (email) VALUES ('admin@example.com');",
};

/** Catches what `fn` throws, so several properties of one error can be asserted with context. */
function errorFrom(fn: () => unknown): Error {
  try {
    fn();
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the call to throw, but it returned');
}

describe('loading migration files', () => {
  it('reads NNN_name.sql files in numeric order and ignores files that are not .sql', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      '002_seed_admin.sql': appMigrationFiles['002_seed_admin.sql'],
      '001_create_users.sql': createUsersSql,
      'README.md': 'how to write a migration',
    });
    const set = loadMigrationDirectory('app', dir);
    expect(set.scope).toBe('app');
    expect(set.migrations.map((m) => [m.version, m.name, m.source])).toEqual([
      [1, 'create_users', join(dir, '001_create_users.sql')],
      [2, 'seed_admin', join(dir, '002_seed_admin.sql')],
    ]);
  });

  it.each([
    ['001-create-users.sql', 'dashes instead of underscores'],
    ['1_create_users.sql', 'fewer than three digits'],
    ['001_Create_Users.sql', 'capital letters'],
    ['create_users.sql', 'no number'],
  ])('refuses a migration file named %s (%s), naming the file', (fileName) => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', { [fileName]: createUsersSql });
    const error = errorFrom(() => loadMigrationDirectory('app', dir));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain(join(dir, fileName));
    expect(error.message).toContain('NNN_snake_case.sql');
  });

  it('refuses a gap in the numbering, naming the file after the gap', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      '001_create_users.sql': createUsersSql,
      '003_create_posts.sql': createPostsSql,
    });
    const error = errorFrom(() => loadMigrationDirectory('app', dir));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain(join(dir, '003_create_posts.sql'));
    expect(error.message).toContain('version 2 was expected');
  });

  it('refuses a numbering that does not start at 1', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', { '002_create_users.sql': createUsersSql });
    expect(() => loadMigrationDirectory('app', dir)).toThrow('version 1 was expected');
  });

  it('refuses two migrations with the same number', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      '001_create_users.sql': createUsersSql,
      '001_create_posts.sql': createPostsSql,
    });
    expect(() => loadMigrationDirectory('app', dir)).toThrow(/without gaps or repeats/);
  });

  it('refuses a migrations directory that does not exist, naming the scope and path', () => {
    const ws = workspace();
    const missing = ws.path('no-such-folder');
    const error = errorFrom(() => loadMigrationDirectory('app', missing));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain('app');
    expect(error.message).toContain(missing);
  });

  it('numbers inline migrations from 1 and names them by scope', () => {
    const set = defineMigrations('billing', [
      { name: 'create_invoices', sql: 'CREATE TABLE invoices (id INTEGER PRIMARY KEY);' },
      { name: 'create_payments', sql: 'CREATE TABLE payments (id INTEGER PRIMARY KEY);' },
    ]);
    expect(set.migrations.map((m) => [m.version, m.source])).toEqual([
      [1, 'billing:001_create_invoices'],
      [2, 'billing:002_create_payments'],
    ]);
  });

  it('ignores line endings in checksums, so a CRLF checkout is not an edited migration', () => {
    expect(checksumOf('CREATE TABLE a (id INTEGER);\r\nCREATE TABLE b (id INTEGER);\r\n')).toBe(
      checksumOf('CREATE TABLE a (id INTEGER);\nCREATE TABLE b (id INTEGER);\n'),
    );
    expect(checksumOf('CREATE TABLE a (id INTEGER);')).not.toBe(checksumOf('CREATE TABLE a (id TEXT);'));
  });
});

describe('applying migrations', () => {
  it('applies migrations in numeric order, each recorded with the sha256 of its SQL', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', appMigrationFiles);
    const db = ws.open({ migrations: [loadMigrationDirectory('app', dir)] });

    expect(db.appliedAtOpen).toEqual([join(dir, '001_create_users.sql'), join(dir, '002_seed_admin.sql')]);
    expect(db.sqlite.prepare('SELECT email FROM users').all(), '002 ran on the table 001 created').toEqual([
      { email: 'admin@example.com' },
    ]);
    expect(ledgerOf(db)).toEqual([
      { scope: 'app', version: 1, name: 'create_users', checksum: sha256(createUsersSql) },
      {
        scope: 'app',
        version: 2,
        name: 'seed_admin',
        checksum: sha256(appMigrationFiles['002_seed_admin.sql']),
      },
    ]);
    expect(db.migrationStatus()).toEqual({ applied: 2, expected: 2, pending: [] });
  });

  it('applies nothing twice when the database is opened again', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', appMigrationFiles);
    ws.open({ migrations: [loadMigrationDirectory('app', dir)] }).close();

    const reopened = ws.open({ migrations: [loadMigrationDirectory('app', dir)] });
    expect(reopened.appliedAtOpen, 'nothing is pending on the second open').toEqual([]);
    expect(ledgerOf(reopened)).toHaveLength(2);
    expect(
      reopened.sqlite.prepare('SELECT count(*) AS n FROM users').get(),
      'the seed row of 002 was inserted once',
    ).toEqual({ n: 1 });
  });

  it('applies only the new migration when one is added after the first open', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', appMigrationFiles);
    ws.open({ migrations: [loadMigrationDirectory('app', dir)] }).close();
    writeFileSync(join(dir, '003_create_posts.sql'), createPostsSql);

    const db = ws.open({ migrations: [loadMigrationDirectory('app', dir)] });
    expect(db.appliedAtOpen).toEqual([join(dir, '003_create_posts.sql')]);
    expect(ledgerOf(db).map((row) => row.version)).toEqual([1, 2, 3]);
  });

  it('rolls back only the failing migration, keeps the earlier ones and names the file', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      ...appMigrationFiles,
      // The first statement succeeds, the second fails: the whole file must roll back.
      '003_create_posts.sql': `${createPostsSql}\nINSERT INTO no_such_table VALUES (1);`,
    });
    const file = ws.path('app.sqlite');
    const error = errorFrom(() => ws.open({ file, migrations: [loadMigrationDirectory('app', dir)] }));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain(join(dir, '003_create_posts.sql'));
    expect(error.message).toContain('rolled back');
    expect(error.message).toContain('no such table: no_such_table');

    writeFileSync(join(dir, '003_create_posts.sql'), createPostsSql);
    const db = ws.open({ file, migrations: [loadMigrationDirectory('app', dir)] });
    expect(db.appliedAtOpen, '001 and 002 survived the failure; only 003 was left to apply').toEqual([
      join(dir, '003_create_posts.sql'),
    ]);
    expect(db.sqlite.prepare('SELECT email FROM users').all()).toEqual([{ email: 'admin@example.com' }]);
  });

  it('leaves no trace of a failing migration in the schema or the ledger', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      ...appMigrationFiles,
      '003_create_posts.sql': `${createPostsSql}\nINSERT INTO no_such_table VALUES (1);`,
    });
    expect(() => ws.open({ migrations: [loadMigrationDirectory('app', dir)] })).toThrow(MigrationError);

    // Opened without migrations of its own, only to look: the ledger's scope is then unknown, so read raw.
    const raw = ws.rawConnection(ws.path('app.sqlite'));
    const tables = raw.prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name").all();
    expect(tables, 'posts from the failed 003 was rolled back').toEqual([
      { name: '_migrations' },
      { name: 'users' },
    ]);
    expect(raw.prepare('SELECT version FROM _migrations ORDER BY version').all()).toEqual([
      { version: 1 },
      { version: 2 },
    ]);
  });

  it('refuses to start when an applied migration file was changed, naming the file', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', appMigrationFiles);
    ws.open({ migrations: [loadMigrationDirectory('app', dir)] }).close();
    writeFileSync(
      join(dir, '001_create_users.sql'),
      'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT);',
    );

    const error = errorFrom(() => ws.open({ migrations: [loadMigrationDirectory('app', dir)] }));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain(join(dir, '001_create_users.sql'));
    expect(error.message).toContain('was changed after it was applied');
  });

  it('accepts an applied migration whose only change is CRLF line endings', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      '001_create_users.sql': 'CREATE TABLE users (\n  id INTEGER\n);\n',
    });
    ws.open({ migrations: [loadMigrationDirectory('app', dir)] }).close();
    writeFileSync(join(dir, '001_create_users.sql'), 'CREATE TABLE users (\r\n  id INTEGER\r\n);\r\n');
    expect(ws.open({ migrations: [loadMigrationDirectory('app', dir)] }).appliedAtOpen).toEqual([]);
  });

  it('refuses a database migrated by a newer build', () => {
    const ws = workspace();
    const dir = ws.migrationDir('migrations', {
      ...appMigrationFiles,
      '003_create_posts.sql': createPostsSql,
      '004_index_posts.sql': 'CREATE INDEX posts_by_user ON posts (user_id);',
    });
    ws.open({ migrations: [loadMigrationDirectory('app', dir)] }).close();
    rmSync(join(dir, '004_index_posts.sql'));

    const error = errorFrom(() => ws.open({ migrations: [loadMigrationDirectory('app', dir)] }));
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain('was migrated by a newer build');
    expect(error.message).toContain('app migration 4 (index_posts) is applied');
    expect(error.message).toContain('knows only up to 3');
  });

  it("refuses a database holding another app's migrations", () => {
    const ws = workspace();
    const file = ws.path('app.sqlite');
    ws.open({
      file,
      migrations: [defineMigrations('cronping', [{ name: 'create_checks', sql: createUsersSql }])],
    }).close();

    const error = errorFrom(() =>
      ws.open({
        file,
        migrations: [defineMigrations('flagbit', [{ name: 'create_flags', sql: createUsersSql }])],
      }),
    );
    expect(error).toBeInstanceOf(MigrationError);
    expect(error.message).toContain('holds migrations of "cronping"');
    expect(error.message).toContain('it knows flagbit');
    expect(error.message).toContain(file);
  });

  it('applies an inline set and a directory set side by side, each numbered in its own scope', () => {
    const ws = workspace();
    const billing = defineMigrations('billing', [
      { name: 'create_invoices', sql: 'CREATE TABLE invoices (id INTEGER PRIMARY KEY, user_id INTEGER);' },
      { name: 'add_amount', sql: 'ALTER TABLE invoices ADD COLUMN amount_cents INTEGER NOT NULL DEFAULT 0;' },
    ]);
    const dir = ws.migrationDir('migrations', appMigrationFiles);
    const db = ws.open({ migrations: [billing, loadMigrationDirectory('app', dir)] });

    expect(db.appliedAtOpen).toEqual([
      'billing:001_create_invoices',
      'billing:002_add_amount',
      join(dir, '001_create_users.sql'),
      join(dir, '002_seed_admin.sql'),
    ]);
    expect(ledgerOf(db).map((row) => `${row.scope}:${row.version}:${row.name}`)).toEqual([
      'app:1:create_users',
      'app:2:seed_admin',
      'billing:1:create_invoices',
      'billing:2:add_amount',
    ]);
    expect(tableNames(db)).toEqual(['_migrations', 'invoices', 'users']);
    expect(db.migrationStatus()).toEqual({ applied: 4, expected: 4, pending: [] });
  });

  it('names a failing inline migration by scope and number', () => {
    const ws = workspace();
    const billing = defineMigrations('billing', [
      { name: 'create_invoices', sql: 'CREATE TABLE invoices (id INTEGER PRIMARY KEY);' },
      { name: 'broken', sql: 'ALTER TABLE no_such_table ADD COLUMN x INTEGER;' },
    ]);
    expect(() => ws.open({ migrations: [billing] })).toThrow(
      'migration billing:002_broken failed and was rolled back',
    );
  });
});
