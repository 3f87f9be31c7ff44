import { join } from 'node:path';
import {
  isDatabaseCommand,
  type MigrationSet,
  runDatabaseCommand,
  type SynchronousLevel,
} from '@studio/shared-db';
import type { FastifyBaseLogger, FastifyInstance } from 'fastify';
import { ConfigError, loadDataDirectory, type ServiceConfig } from './config';
import { createLogger } from './logger';

export interface DatabaseSpec {
  fileName: string;
  migrations: MigrationSet[];
  synchronous?: SynchronousLevel;
}

export interface ServiceEntry<Config extends ServiceConfig> {
  name: string;
  /** Reads the process environment (each app's config module does, with its zod schema). */
  loadConfig(): Config;
  database: DatabaseSpec;
  buildApp(config: Config, options: { logger: FastifyBaseLogger }): Promise<FastifyInstance>;
  /** Patterns whose first group is a secret inside request URLs (ping keys, capture tokens). */
  urlSecrets?: RegExp[];
  /** How long in-flight requests may take to finish on SIGTERM before the process exits anyway. */
  shutdownTimeoutMs?: number;
}

/** Reads config or stops the process with a message naming every bad variable. */
export function loadConfigOrExit<Config>(load: () => Config): Config {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`${error.message}\n`);
      process.exit(78); // EX_CONFIG: a supervisor can tell a configuration error from a crash.
    }
    throw error;
  }
}

/**
 * An app's command line: `<app>` runs the server, `<app> db:migrate|db:backup <file>|db:restore <file>|db:check`
 * works on its SQLite file (these need only DATA_DIR, not the service's secrets).
 */
export async function runServiceCli<Config extends ServiceConfig>(
  entry: ServiceEntry<Config>,
  args = process.argv.slice(2),
): Promise<void> {
  if (isDatabaseCommand(args[0])) {
    const DATA_DIR = loadConfigOrExit(() => loadDataDirectory(entry.name));
    const code = await runDatabaseCommand(args, {
      service: entry.name,
      file: join(DATA_DIR, entry.database.fileName),
      migrations: entry.database.migrations,
    });
    process.exit(code);
  }
  if (args.length > 0) {
    process.stderr.write(
      `usage: ${entry.name} [db:migrate | db:backup <file> | db:restore <file> | db:check]\nunknown argument: ${args[0]}\n`,
    );
    process.exit(64);
  }
  await runService(entry);
}

/**
 * The one place a service listens. On SIGTERM/SIGINT readiness turns 503 first, then Fastify stops
 * accepting, lets in-flight requests finish and runs every onClose hook (the database closes last).
 */
export async function runService<Config extends ServiceConfig>(
  entry: ServiceEntry<Config>,
): Promise<FastifyInstance> {
  const config = loadConfigOrExit(() => entry.loadConfig());
  const logger = createLogger({ service: entry.name, level: config.LOG_LEVEL, urlSecrets: entry.urlSecrets });
  let app: FastifyInstance;
  try {
    app = await entry.buildApp(config, { logger });
    await app.listen({ host: config.HOST, port: config.PORT });
  } catch (error) {
    logger.fatal({ err: error }, `${entry.name} failed to start: ${(error as Error).message}`);
    process.exit(1);
  }

  let closing = false;
  const shutdown = async (signal: string) => {
    if (closing) return;
    closing = true;
    logger.info({ signal }, `${entry.name} shutting down`);
    const timeout = setTimeout(() => {
      logger.error(`${entry.name} did not finish closing in time; exiting`);
      process.exit(1);
    }, entry.shutdownTimeoutMs ?? 10_000);
    timeout.unref();
    try {
      app.health.beginDrain();
      await app.close();
      logger.info(`${entry.name} closed`);
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, `${entry.name} failed to close cleanly`);
      process.exit(1);
    }
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
  return app;
}
