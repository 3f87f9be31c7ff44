import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { openDatabase, type StudioDatabase } from './database';
import type { MigrationSet } from './migrations';
import { restoreDatabase } from './restore';

export const databaseCommands = ['db:migrate', 'db:backup', 'db:restore', 'db:check'] as const;

export function isDatabaseCommand(argument: string | undefined): boolean {
  return databaseCommands.includes(argument as (typeof databaseCommands)[number]);
}

interface Output {
  out(line: string): void;
  err(line: string): void;
}

const consoleOutput: Output = {
  out: (line) => process.stdout.write(`${line}\n`),
  err: (line) => process.stderr.write(`${line}\n`),
};

/**
 * For commands that read the database: a missing file is an error (a wrong DATA_DIR must not be reported
 * as a healthy empty database), and pending migrations are left for `db:migrate` or the service's start.
 */
function openExisting(file: string, migrations: MigrationSet[]): StudioDatabase {
  if (!existsSync(file)) throw new Error(`${file} does not exist`);
  return openDatabase({ file, migrations, applyMigrations: false });
}

/**
 * `<app> db:migrate | db:backup <file> | db:restore <file> | db:check`, shared by every app's entry.
 * Returns the process exit code.
 */
export async function runDatabaseCommand(
  args: string[],
  target: { service: string; file: string; migrations: MigrationSet[] },
  output: Output = consoleOutput,
): Promise<number> {
  const [command, argument] = args;
  const file = resolve(target.file);
  try {
    switch (command) {
      case 'db:migrate': {
        const db = openDatabase({ file, migrations: target.migrations });
        const applied = db.appliedAtOpen;
        db.close();
        output.out(applied.length ? `applied ${applied.join(', ')}` : `${file} is up to date`);
        return 0;
      }
      case 'db:backup': {
        if (!argument) throw new Error(`usage: ${target.service} db:backup <file>`);
        // A backup is taken as the file is, typically just before an upgrade: migrating first would
        // leave no copy of the pre-upgrade data.
        const db = openExisting(file, target.migrations);
        try {
          await db.backup(argument);
        } finally {
          db.close();
        }
        output.out(`backed up ${file} to ${resolve(argument)}`);
        return 0;
      }
      case 'db:restore': {
        if (!argument) throw new Error(`usage: ${target.service} db:restore <file>`);
        await restoreDatabase({ backupFile: argument, targetFile: file, migrations: target.migrations });
        output.out(
          `restored ${resolve(argument)} into ${file}; restart ${target.service} so it starts from the restored data`,
        );
        return 0;
      }
      case 'db:check': {
        const db = openExisting(file, target.migrations);
        let problems: string[];
        try {
          problems = db.integrityCheck();
        } finally {
          db.close();
        }
        if (problems.length === 0) {
          output.out(`${file}: ok`);
          return 0;
        }
        for (const problem of problems) output.err(`${file}: ${problem}`);
        return 1;
      }
      default:
        throw new Error(
          `unknown command ${command}; expected one of db:migrate, db:backup <file>, db:restore <file>, db:check`,
        );
    }
  } catch (error) {
    output.err(`${target.service} ${command}: ${(error as Error).message}`);
    return 1;
  }
}
