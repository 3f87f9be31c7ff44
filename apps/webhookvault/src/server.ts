#!/usr/bin/env node
import { join } from 'node:path';
import { loadConfigOrExit, runServiceCli } from '@studio/service-kit';
import { openDatabase } from '@studio/shared-db';
import { buildApp } from './app';
import { loadConfig } from './config';
import { database } from './database';
import { urlSecrets } from './log-redaction';
import { createVaultRepository } from './repository';
import { rotateKeys } from './rotate';
import { Vault } from './vault';

const [command] = process.argv.slice(2);

if (command === 'keys:rotate') {
  // Run with the new key in WEBHOOKVAULT_ENCRYPTION_KEY and the old ones in WEBHOOKVAULT_PREVIOUS_KEYS; once it
  // reports done, the old keys can be dropped from the environment.
  const config = loadConfigOrExit(() => loadConfig());
  const studioDatabase = openDatabase({
    file: join(config.DATA_DIR, database.fileName),
    migrations: database.migrations,
    synchronous: database.synchronous,
  });
  try {
    const vault = new Vault(config.WEBHOOKVAULT_ENCRYPTION_KEY, config.WEBHOOKVAULT_PREVIOUS_KEYS ?? []);
    const result = rotateKeys(createVaultRepository(studioDatabase), vault);
    process.stdout.write(
      `webhookvault keys:rotate: re-encrypted ${result.captures} captures and ${result.endpoints} endpoint secrets with key ${vault.currentKeyId}\n`,
    );
  } catch (error) {
    process.stderr.write(`webhookvault keys:rotate failed: ${(error as Error).message}\n`);
    process.exitCode = 1;
  } finally {
    studioDatabase.close();
  }
} else {
  await runServiceCli({
    name: 'webhookvault',
    loadConfig,
    database,
    buildApp: async (config, options) => {
      const app = await buildApp(config, options);
      // Renewed certificates: `kill -HUP <pid>` makes the capture listener read its PEM files again (new
      // connections get the new pair). Only with TLS configured, so SIGHUP otherwise keeps its default (exit).
      if (config.CAPTURE_TLS_CERT_FILE !== undefined) {
        process.on('SIGHUP', () => app.captureListener.reloadCertificates());
      }
      return app;
    },
    urlSecrets,
  });
}
