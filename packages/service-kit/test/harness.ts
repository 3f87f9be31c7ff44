import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { z } from 'zod';
import { createServiceApp, type ServiceAppOptions } from '../src/app';
import { parseConfig, serviceConfigShape } from '../src/config';

const directories: string[] = [];
afterEach(() => {
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

export function tempDataDir(): string {
  const directory = mkdtempSync(join(tmpdir(), 'service-kit-'));
  directories.push(directory);
  return directory;
}

export function testConfig(overrides: Record<string, string> = {}) {
  return parseConfig('testsvc', z.object(serviceConfigShape(0)), {
    INTERNAL_TOKEN: 'i'.repeat(64),
    DATA_DIR: tempDataDir(),
    ...overrides,
  });
}

export function buildTestService(options: Partial<ServiceAppOptions> = {}) {
  return createServiceApp({
    config: testConfig(),
    service: { id: 'testsvc', title: 'Test service', description: 'A service under test', version: '1.2.3' },
    database: { fileName: 'testsvc.sqlite', migrations: [] },
    ...options,
  });
}
