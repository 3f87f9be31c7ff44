import { existsSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { isDatabaseCommand, runDatabaseCommand } from '../src/cli';
import { defineMigrations, type MigrationSet } from '../src/migrations';
import {
  addUser,
  createPostsSql,
  createUsersSql,
  emailsIn,
  usersAndPosts,
  type Workspace,
  workspace,
} from './harness';

/** Runs one command against `file` with output captured, as an app's entry would. */
async function run(
  args: string[],
  file: string,
  migrations: MigrationSet[] = [usersAndPosts()],
): Promise<{ code: number; out: string[]; err: string[]; transcript: string }> {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runDatabaseCommand(
    args,
    { service: 'cronping', file, migrations },
    {
      out: (line) => out.push(line),
      err: (line) => err.push(line),
    },
  );
  return { code, out, err, transcript: `exit ${code}\nout: ${out.join('\n')}\nerr: ${err.join('\n')}` };
}

/** A migrated database holding one user, closed so the commands open it as a separate process would. */
function seededDatabase(ws: Workspace): string {
  const db = ws.open();
  addUser(db, 'ada@example.com');
  db.close();
  return db.file;
}

const onlyUsers = () => defineMigrations('app', [{ name: 'create_users', sql: createUsersSql }]);

describe('database commands', () => {
  it('recognises the four commands and nothing else', () => {
    for (const command of ['db:migrate', 'db:backup', 'db:restore', 'db:check'])
      expect(isDatabaseCommand(command), command).toBe(true);
    for (const other of ['db:drop', 'migrate', '', undefined])
      expect(isDatabaseCommand(other), String(other)).toBe(false);
  });

  it('db:migrate applies pending migrations, then reports the file is up to date', async () => {
    const ws = workspace();
    const file = ws.path('data', 'cronping.sqlite');
    const first = await run(['db:migrate'], file);
    expect(first.code, first.transcript).toBe(0);
    expect(first.out).toEqual(['applied app:001_create_users, app:002_create_posts']);

    const second = await run(['db:migrate'], file);
    expect(second.code, second.transcript).toBe(0);
    expect(second.out).toEqual([`${file} is up to date`]);
  });

  it('db:migrate exits 1 naming the service and the failing migration', async () => {
    const ws = workspace();
    const broken = defineMigrations('app', [{ name: 'broken', sql: 'ALTER TABLE nowhere ADD COLUMN x;' }]);
    const result = await run(['db:migrate'], ws.path('cronping.sqlite'), [broken]);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err.join('\n')).toContain('cronping db:migrate: migration app:001_broken failed');
  });

  it('db:backup writes a backup of the database and names both files', async () => {
    const ws = workspace();
    const file = seededDatabase(ws);
    const backupFile = ws.path('backups', 'cronping-backup.sqlite');
    const result = await run(['db:backup', backupFile], file);
    expect(result.code, result.transcript).toBe(0);
    expect(result.out).toEqual([`backed up ${file} to ${backupFile}`]);
    expect(emailsIn(ws.open({ file: backupFile })), 'the backup holds the data').toEqual(['ada@example.com']);
  });

  it('db:backup without a file prints the usage and exits 1', async () => {
    const ws = workspace();
    const file = ws.path('cronping.sqlite');
    const result = await run(['db:backup'], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err).toEqual(['cronping db:backup: usage: cronping db:backup <file>']);
    expect(existsSync(file), 'no database is created just to print the usage').toBe(false);
  });

  it('db:backup refuses to overwrite an existing backup', async () => {
    const ws = workspace();
    const file = seededDatabase(ws);
    const backupFile = ws.path('backup.sqlite');
    expect((await run(['db:backup', backupFile], file)).code).toBe(0);
    const again = await run(['db:backup', backupFile], file);
    expect(again.code, again.transcript).toBe(1);
    expect(again.err.join('\n')).toContain('already exists');
  });

  it('db:backup copies the database as it is, without applying the migrations this build adds', async () => {
    const ws = workspace();
    const older = ws.open({ migrations: [onlyUsers()] });
    addUser(older, 'ada@example.com');
    older.close();

    // The new build's backup, taken before its first start, must hold the pre-upgrade data.
    const backupFile = ws.path('pre-upgrade.sqlite');
    const result = await run(['db:backup', backupFile], older.file, [usersAndPosts()]);
    expect(result.code, result.transcript).toBe(0);
    const original = ws.open({ migrations: [onlyUsers()] });
    expect(original.appliedAtOpen, 'the database itself was not migrated').toEqual([]);
    original.close();
    const backup = ws.open({ file: backupFile, migrations: [onlyUsers()] });
    expect(backup.migrationStatus(), 'the backup holds the pre-upgrade schema').toEqual({
      applied: 1,
      expected: 1,
      pending: [],
    });
  });

  it('db:backup of a database that does not exist exits 1 and creates nothing', async () => {
    const ws = workspace();
    const file = ws.path('wrong-data-dir', 'cronping.sqlite');
    const result = await run(['db:backup', ws.path('backup.sqlite')], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err.join('\n')).toContain(`${file} does not exist`);
    expect(existsSync(file), 'the missing database was not created').toBe(false);
    expect(existsSync(ws.path('backup.sqlite')), 'no empty backup was written').toBe(false);
  });

  it('db:restore brings back the backed-up rows and says to restart the service', async () => {
    const ws = workspace();
    const file = seededDatabase(ws);
    const backupFile = ws.path('backup.sqlite');
    expect((await run(['db:backup', backupFile], file)).code).toBe(0);
    const db = ws.open({ file });
    addUser(db, 'after-backup@example.com');
    db.close();

    const result = await run(['db:restore', backupFile], file);
    expect(result.code, result.transcript).toBe(0);
    expect(result.out).toEqual([
      `restored ${backupFile} into ${file}; restart cronping so it starts from the restored data`,
    ]);
    expect(emailsIn(ws.open({ file }))).toEqual(['ada@example.com']);
  });

  it('db:restore without a file prints the usage and exits 1', async () => {
    const result = await run(['db:restore'], workspace().path('cronping.sqlite'));
    expect(result.code, result.transcript).toBe(1);
    expect(result.err).toEqual(['cronping db:restore: usage: cronping db:restore <file>']);
  });

  it('db:restore of a backup from a newer build exits 1 and leaves the data alone', async () => {
    const ws = workspace();
    const file = seededDatabase(ws);
    const newer = ws.open({
      file: ws.path('newer.sqlite'),
      migrations: [
        defineMigrations('app', [
          { name: 'create_users', sql: createUsersSql },
          { name: 'create_posts', sql: createPostsSql },
          { name: 'index_posts', sql: 'CREATE INDEX posts_by_user ON posts (user_id);' },
        ]),
      ],
    });
    await newer.backup(ws.path('newer-backup.sqlite'));

    const result = await run(['db:restore', ws.path('newer-backup.sqlite')], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err.join('\n')).toContain('was migrated by a newer build');
    expect(emailsIn(ws.open({ file }))).toEqual(['ada@example.com']);
  });

  it('db:check exits 0 and says ok on a healthy database', async () => {
    const ws = workspace();
    const file = seededDatabase(ws);
    const result = await run(['db:check'], file);
    expect(result.code, result.transcript).toBe(0);
    expect(result.out).toEqual([`${file}: ok`]);
  });

  it('db:check exits 1 and lists each foreign-key violation', async () => {
    const ws = workspace();
    const file = seededDatabase(ws);
    const shell = ws.rawConnection(file);
    shell.pragma('foreign_keys = OFF');
    shell.prepare('INSERT INTO posts (user_id, title) VALUES (?, ?)').run(404, 'orphan');
    shell.close();

    const result = await run(['db:check'], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err).toEqual([`${file}: foreign key: posts row 1 points at a missing users`]);
  });

  it('db:check refuses a file that is not a SQLite database', async () => {
    const ws = workspace();
    const file = ws.path('cronping.sqlite');
    writeFileSync(file, 'not a database');
    const result = await run(['db:check'], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err.join('\n')).toContain(`${file} is not a SQLite database`);
  });

  it('db:check of a database that does not exist exits 1 instead of reporting an empty file as ok', async () => {
    const ws = workspace();
    const file = ws.path('wrong-data-dir', 'cronping.sqlite');
    const result = await run(['db:check'], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err).toEqual([`cronping db:check: ${file} does not exist`]);
    expect(existsSync(file), 'the missing database was not created').toBe(false);
  });

  it('db:check does not apply pending migrations', async () => {
    const ws = workspace();
    ws.open({ migrations: [onlyUsers()] }).close();
    const result = await run(['db:check'], ws.path('app.sqlite'), [usersAndPosts()]);
    expect(result.code, result.transcript).toBe(0);
    expect(ws.open({ migrations: [onlyUsers()] }).appliedAtOpen, 'still on the old schema').toEqual([]);
  });

  it('exits 1 on an unknown command, listing the known ones', async () => {
    const ws = workspace();
    const file = ws.path('cronping.sqlite');
    const result = await run(['db:frobnicate'], file);
    expect(result.code, result.transcript).toBe(1);
    expect(result.err).toEqual([
      'cronping db:frobnicate: unknown command db:frobnicate; expected one of db:migrate, db:backup <file>, db:restore <file>, db:check',
    ]);
    expect(existsSync(file), 'an unknown command touches no database').toBe(false);
  });

  it('exits 1 when no command is given', async () => {
    const result = await run([], workspace().path('cronping.sqlite'));
    expect(result.code, result.transcript).toBe(1);
    expect(result.err.join('\n')).toContain('unknown command');
  });
});
