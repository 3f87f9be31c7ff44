import {
  copyFileSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DatabaseOpenError } from '../src/database';
import { defineMigrations } from '../src/migrations';
import { restoreDatabase } from '../src/restore';
import {
  addPost,
  addUser,
  bytesOf,
  createPostsSql,
  createUsersSql,
  emailsIn,
  usersAndPosts,
  type Workspace,
  workspace,
} from './harness';

/** Awaits `promise` expecting it to reject, and returns the error so several properties can be asserted. */
async function rejectionOf(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}

/** A closed, migrated target database holding one user, whose bytes the refusals must leave alone. */
function closedTarget(ws: Workspace): { file: string; before: Buffer } {
  const db = ws.open({ file: ws.path('target.sqlite') });
  addUser(db, 'keep@example.com');
  db.close();
  const file = ws.path('target.sqlite');
  return { file, before: bytesOf(file) };
}

/** A real backup big enough to span many pages, so truncating it cuts pages off. */
async function multiPageBackup(ws: Workspace): Promise<string> {
  const db = ws.open({ file: ws.path('source.sqlite') });
  const insert = db.sqlite.prepare('INSERT INTO users (email) VALUES (?)');
  db.transaction(() => {
    for (let i = 0; i < 500; i++) insert.run(`user-${i}-${'x'.repeat(80)}@example.com`);
  })();
  const backupFile = ws.path('backup.sqlite');
  await db.backup(backupFile);
  db.close();
  return backupFile;
}

describe('backup and restore', () => {
  it('restores the rows a backup taken while the database was open holds', async () => {
    const ws = workspace();
    const db = ws.open();
    const ada = addUser(db, 'ada@example.com');
    addUser(db, 'grace@example.com');
    addPost(db, ada, 'Notes on the analytical engine');

    const backupFile = ws.path('backups', 'app-backup.sqlite');
    await db.backup(backupFile);
    expect(readFileSync(backupFile).subarray(0, 15).toString('latin1'), 'the backup is a SQLite file').toBe(
      'SQLite format 3',
    );

    db.transaction(() => {
      db.sqlite.prepare('DELETE FROM posts').run();
      db.sqlite.prepare('DELETE FROM users WHERE email = ?').run('grace@example.com');
      db.sqlite.prepare('UPDATE users SET email = ? WHERE id = ?').run('changed@example.com', ada);
    })();
    addUser(db, 'after-backup@example.com');
    db.close();

    await restoreDatabase({ backupFile, targetFile: db.file, migrations: db.migrations });

    const restored = ws.open();
    expect(restored.appliedAtOpen, 'the backup carried its migrations').toEqual([]);
    expect(emailsIn(restored)).toEqual(['ada@example.com', 'grace@example.com']);
    expect(restored.sqlite.prepare('SELECT title FROM posts').all()).toEqual([
      { title: 'Notes on the analytical engine' },
    ]);
    expect(restored.integrityCheck()).toEqual([]);
  });

  it('restores into a new file when the target does not exist yet', async () => {
    const ws = workspace();
    const db = ws.open();
    addUser(db, 'ada@example.com');
    const backupFile = ws.path('backup.sqlite');
    await db.backup(backupFile);

    const target = ws.path('fresh.sqlite');
    await restoreDatabase({ backupFile, targetFile: target, migrations: db.migrations });
    expect(emailsIn(ws.open({ file: target }))).toEqual(['ada@example.com']);
  });

  it('sets a corrupt target aside, never deleting it, and restores into a clean file', async () => {
    const ws = workspace();
    const db = ws.open();
    addUser(db, 'ada@example.com');
    const backupFile = ws.path('backup.sqlite');
    await db.backup(backupFile);
    db.close();
    // Pages after the first overwritten, as a failing disk or a stray write leaves them: the header survives.
    const damaged = readFileSync(db.file);
    damaged.fill(0x5a, 4096);
    writeFileSync(db.file, damaged);

    await restoreDatabase({ backupFile, targetFile: db.file, migrations: db.migrations });

    expect(emailsIn(ws.open())).toEqual(['ada@example.com']);
    const setAside = readdirSync(dirname(db.file)).filter((name) => name.includes('.unusable-'));
    expect(setAside).toHaveLength(1);
    expect(readFileSync(join(dirname(db.file), setAside[0]!))).toEqual(damaged);
  });

  it('sets aside a WAL left without its database, so it is not replayed into the restored file', async () => {
    const ws = workspace();
    const db = ws.open();
    addUser(db, 'ada@example.com');
    const backupFile = ws.path('backup.sqlite');
    await db.backup(backupFile);
    addUser(db, 'written-after-the-backup@example.com');
    const wal = readFileSync(`${db.file}-wal`);
    db.close();
    rmSync(db.file);
    writeFileSync(`${db.file}-wal`, wal);

    await restoreDatabase({ backupFile, targetFile: db.file, migrations: db.migrations });

    const restored = ws.open();
    expect(emailsIn(restored)).toEqual(['ada@example.com']);
    expect(restored.integrityCheck()).toEqual([]);
    expect(
      readdirSync(dirname(db.file)).some(
        (name) => name.endsWith('-wal') === false && name.includes('-wal.unusable-'),
      ),
    ).toBe(true);
  });

  it('refuses to back up over an existing file, naming it and leaving it as it was', async () => {
    const ws = workspace();
    const db = ws.open();
    const existing = ws.path('yesterday.sqlite');
    writeFileSync(existing, 'yesterday’s backup');
    const error = await rejectionOf(db.backup(existing));
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect(error.message).toContain(`backup target ${existing} already exists`);
    expect(readFileSync(existing, 'utf8')).toBe('yesterday’s backup');
  });

  it('refuses to back up onto the database file itself', async () => {
    const db = workspace().open();
    await expect(db.backup(db.file)).rejects.toThrow('already exists');
  });

  it('refuses a backup that does not exist', async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const missing = ws.path('missing.sqlite');
    await expect(
      restoreDatabase({ backupFile: missing, targetFile: file, migrations: [usersAndPosts()] }),
    ).rejects.toThrow(`backup file ${missing} does not exist`);
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it('refuses a backup with the SQLite header but garbage after it, leaving the target untouched', async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const backupFile = ws.path('garbage.sqlite');
    writeFileSync(
      backupFile,
      Buffer.concat([Buffer.from('SQLite format 3\0', 'latin1'), Buffer.alloc(8192, 0x5a)]),
    );

    const error = await rejectionOf(
      restoreDatabase({ backupFile, targetFile: file, migrations: [usersAndPosts()] }),
    );
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect(error.message).toContain(`${backupFile} is not a readable SQLite database`);
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it('refuses a truncated copy of a backup, leaving the target untouched', async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const backupFile = await multiPageBackup(ws);
    const truncated = ws.path('truncated.sqlite');
    copyFileSync(backupFile, truncated);
    truncateSync(truncated, Math.floor(statSync(backupFile).size / 2));

    const error = await rejectionOf(
      restoreDatabase({ backupFile: truncated, targetFile: file, migrations: [usersAndPosts()] }),
    );
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect(error.message).toContain(truncated);
    expect(error.message).toMatch(/malformed|integrity_check/);
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it('refuses an empty backup file instead of restoring nothing over the data', async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const empty = ws.path('empty.sqlite');
    writeFileSync(empty, '');

    const error = await rejectionOf(
      restoreDatabase({ backupFile: empty, targetFile: file, migrations: [usersAndPosts()] }),
    );
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect(error.message).toContain(`${empty} has no _migrations ledger`);
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it('refuses a SQLite file no studio service wrote, leaving the target untouched', async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const foreign = ws.path('foreign.sqlite');
    ws.rawConnection(foreign).exec('CREATE TABLE notes (body TEXT)');

    await expect(
      restoreDatabase({ backupFile: foreign, targetFile: file, migrations: [usersAndPosts()] }),
    ).rejects.toThrow('has no _migrations ledger');
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it('refuses a backup from a newer build, leaving the target untouched', async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const newer = defineMigrations('app', [
      { name: 'create_users', sql: createUsersSql },
      { name: 'create_posts', sql: createPostsSql },
      { name: 'index_posts', sql: 'CREATE INDEX posts_by_user ON posts (user_id);' },
    ]);
    const newerDb = ws.open({ file: ws.path('newer.sqlite'), migrations: [newer] });
    const backupFile = ws.path('newer-backup.sqlite');
    await newerDb.backup(backupFile);

    const error = await rejectionOf(
      restoreDatabase({ backupFile, targetFile: file, migrations: [usersAndPosts()] }),
    );
    expect(error.message).toContain(`${backupFile} was migrated by a newer build`);
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it("refuses another app's backup, leaving the target untouched", async () => {
    const ws = workspace();
    const { file, before } = closedTarget(ws);
    const other = ws.open({
      file: ws.path('other.sqlite'),
      migrations: [
        defineMigrations('flagbit', [{ name: 'create_flags', sql: 'CREATE TABLE flags (key TEXT);' }]),
      ],
    });
    const backupFile = ws.path('other-backup.sqlite');
    await other.backup(backupFile);

    await expect(
      restoreDatabase({ backupFile, targetFile: file, migrations: [usersAndPosts()] }),
    ).rejects.toThrow('holds migrations of "flagbit"');
    expect(bytesOf(file).equals(before), 'the target is untouched').toBe(true);
  });

  it('refuses to restore over a file that is not a SQLite database, naming it and leaving it as it was', async () => {
    const ws = workspace();
    const db = ws.open();
    const backupFile = ws.path('backup.sqlite');
    await db.backup(backupFile);
    const notes = ws.path('notes.txt');
    writeFileSync(notes, 'not a database, and worth keeping\n');

    await expect(
      restoreDatabase({ backupFile, targetFile: notes, migrations: db.migrations }),
    ).rejects.toThrow(`cannot restore into ${notes}`);
    expect(readFileSync(notes, 'utf8')).toBe('not a database, and worth keeping\n');
  });
});

describe('integrity check', () => {
  it('finds no problems in a healthy database', () => {
    const db = workspace().open();
    addPost(db, addUser(db, 'ada@example.com'), 'hello');
    expect(db.integrityCheck()).toEqual([]);
  });

  it('reports rows whose foreign key points at a missing parent', () => {
    const ws = workspace();
    const db = ws.open();
    const ada = addUser(db, 'ada@example.com');
    addPost(db, ada, 'kept');
    // A connection with foreign keys off (a script, the sqlite3 shell's default) can leave orphans behind.
    const shell = ws.rawConnection(db.file);
    shell.pragma('foreign_keys = OFF');
    shell.prepare('DELETE FROM users WHERE id = ?').run(ada);
    const orphanId = Number(
      shell.prepare('INSERT INTO posts (user_id, title) VALUES (?, ?)').run(404, 'orphan').lastInsertRowid,
    );

    expect(db.integrityCheck()).toEqual([
      'foreign key: posts row 1 points at a missing users',
      `foreign key: posts row ${orphanId} points at a missing users`,
    ]);
  });
});
