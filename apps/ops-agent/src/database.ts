import { fileURLToPath } from 'node:url';
import type { DatabaseSpec } from '@studio/service-kit';
import { loadMigrationDirectory } from '@studio/shared-db';

// src/ and dist/ are siblings of migrations/, so this path holds for the sources and for the bundle.
const migrationsDirectory = fileURLToPath(new URL('../migrations', import.meta.url));

// The ops-agent has no customer accounts, so no billing tables: only its own audit and content data.
export const database: DatabaseSpec = {
  fileName: 'ops-agent.sqlite',
  migrations: [loadMigrationDirectory('ops-agent', migrationsDirectory)],
};
