import { fileURLToPath } from 'node:url';
import type { DatabaseSpec } from '@studio/service-kit';
import { billingMigrations } from '@studio/shared-billing';
import { loadMigrationDirectory } from '@studio/shared-db';

// src/ and dist/ are siblings of migrations/, so this path holds for the sources and for the bundle.
const migrationsDirectory = fileURLToPath(new URL('../migrations', import.meta.url));

export const database: DatabaseSpec = {
  fileName: 'flagbit.sqlite',
  migrations: [billingMigrations, loadMigrationDirectory('flagbit', migrationsDirectory)],
};
