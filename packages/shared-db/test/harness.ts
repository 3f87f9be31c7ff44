import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { onTestFinished } from 'vitest';
import { type OpenDatabaseOptions, openDatabase, type StudioDatabase } from '../src/database';
import { defineMigrations, type MigrationSet } from '../src/migrations';

export const createUsersSql = 'CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE);';
export const createPostsSql = `CREATE TABLE posts (
  id INTEGER PRIMARY KEY,
  user_id INTEGER NOT NULL REFERENCES users (id),
  title TEXT NOT NULL
);`;

/** The app schema most tests run on: `posts.user_id` references `users`, so foreign keys matter. */
export function usersAndPosts(): MigrationSet {
  return defineMigrations('app', [
    { name: 'create_users', sql: createUsersSql },
    { name: 'create_posts', sql: createPostsSql },
  ]);
}

export interface Workspace {
  dir: string;
  path(...parts: string[]): string;
  /** Opens a StudioDatabase (default file `app.sqlite`, default migrations `usersAndPosts()`), closed after the test. */
  open(options?: Partial<OpenDatabaseOptions>): StudioDatabase;
  /** A plain second connection to the same file, as another process would hold it; closed after the test. */
  rawConnection(file: string): Database.Database;
  /** Writes `NNN_name.sql` files into a fresh folder and returns the folder. */
  migrationDir(name: string, files: Record<string, string>): string;
}

/** A fresh temp directory for one test; every handle it opened is closed and the directory removed afterwards. */
export function workspace(): Workspace {
  const dir = mkdtempSync(join(tmpdir(), 'shared-db-test-'));
  const handles: { close(): unknown }[] = [];
  onTestFinished(() => {
    for (const handle of handles.reverse()) handle.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const path = (...parts: string[]) => join(dir, ...parts);
  return {
    dir,
    path,
    open(options = {}) {
      const db = openDatabase({ file: path('app.sqlite'), migrations: [usersAndPosts()], ...options });
      handles.push(db);
      return db;
    },
    rawConnection(file) {
      const connection = new Database(file);
      handles.push(connection);
      return connection;
    },
    migrationDir(name, files) {
      const folder = path(name);
      mkdirSync(folder, { recursive: true });
      for (const [fileName, sql] of Object.entries(files)) writeFileSync(join(folder, fileName), sql);
      return folder;
    },
  };
}

/** Adds a user through `transaction()`, as a repository would, and returns its id. */
export function addUser(db: StudioDatabase, email: string): number {
  const insert = db.sqlite.prepare('INSERT INTO users (email) VALUES (?)');
  return db.transaction(() => Number(insert.run(email).lastInsertRowid))();
}

export function addPost(db: StudioDatabase, userId: number, title: string): number {
  const insert = db.sqlite.prepare('INSERT INTO posts (user_id, title) VALUES (?, ?)');
  return db.transaction(() => Number(insert.run(userId, title).lastInsertRowid))();
}

export function emailsIn(db: StudioDatabase): string[] {
  return (db.sqlite.prepare('SELECT email FROM users ORDER BY id').all() as { email: string }[]).map(
    (row) => row.email,
  );
}

export function ledgerOf(
  db: StudioDatabase,
): { scope: string; version: number; name: string; checksum: string }[] {
  return db.sqlite
    .prepare('SELECT scope, version, name, checksum FROM _migrations ORDER BY scope, version')
    .all() as { scope: string; version: number; name: string; checksum: string }[];
}

export function tableNames(db: StudioDatabase): string[] {
  return (
    db.sqlite
      .prepare(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
      )
      .all() as { name: string }[]
  ).map((row) => row.name);
}

/** The file's bytes, to show an operation left it exactly as it was. */
export function bytesOf(file: string): Buffer {
  return readFileSync(file);
}
