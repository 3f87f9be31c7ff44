import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { checkHealth } from '@studio/health';
import { afterAll, describe, expect, it } from 'vitest';
import {
  freePort,
  type RunningProcess,
  repositoryRoot,
  startProcess,
  studioApps,
  studioEnvironment,
  tempDirectory,
  waitForOk,
} from './studio-harness';

// These run the bundles `npm start` runs (apps/<app>/dist/server.js, built by turbo before this test), so a
// dependency that breaks when bundled fails here rather than in production.
const entryOf = (app: string) => join(repositoryRoot, 'apps', app, 'dist', 'server.js');
const dataDir = tempDirectory('servers');
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe.each(studioApps)('the $name server', ({ name }) => {
  it('starts, passes its health contract, and closes gracefully on SIGTERM', async () => {
    expect(existsSync(entryOf(name)), `${entryOf(name)} is missing: build the apps first`).toBe(true);
    const port = await freePort();
    const server: RunningProcess = startProcess(process.execPath, [entryOf(name)], {
      ...studioEnvironment(join(dataDir, name)),
      PORT: String(port),
    });
    try {
      await waitForOk(`http://127.0.0.1:${port}/readyz`, server);
      const health = await checkHealth(`http://127.0.0.1:${port}/health`);
      expect(health.ok, JSON.stringify(health)).toBe(true);
      const docs = await fetch(`http://127.0.0.1:${port}/docs`);
      expect(docs.status, 'the Swagger UI page is served from the bundle').toBe(200);
      expect(await docs.text()).toContain('swagger');
    } finally {
      server.child.kill('SIGTERM');
    }
    const { code } = await server.exited;
    expect(code, server.output()).toBe(0);
    expect(server.output()).toContain(`${name} closed`);
    expect(existsSync(join(dataDir, name, `${name}.sqlite`))).toBe(true);
  });

  it('refuses to start when INTERNAL_TOKEN is set but empty, naming the variable', async () => {
    const server = startProcess(process.execPath, [entryOf(name)], {
      ...studioEnvironment(join(dataDir, `${name}-empty`)),
      PORT: String(await freePort()),
      INTERNAL_TOKEN: '',
    });
    const { code } = await server.exited;
    expect(code).toBe(78);
    expect(server.output()).toContain('INTERNAL_TOKEN is set but empty');
  });

  it('backs up, checks and restores its database from the command line', async () => {
    const env = studioEnvironment(join(dataDir, `${name}-cli`));
    const run = async (...args: string[]) => {
      const cli = startProcess(process.execPath, [entryOf(name), ...args], env);
      const { code } = await cli.exited;
      return { code, output: cli.output() };
    };
    expect((await run('db:migrate')).code).toBe(0);
    const backupFile = join(dataDir, `${name}-backup.sqlite`);
    const backup = await run('db:backup', backupFile);
    expect(backup.code, backup.output).toBe(0);
    expect(existsSync(backupFile)).toBe(true);
    const check = await run('db:check');
    expect(check.code, check.output).toBe(0);
    expect(check.output).toContain(': ok');
    const restore = await run('db:restore', backupFile);
    expect(restore.code, restore.output).toBe(0);
    const unknown = await run('db:frobnicate');
    expect(unknown.code).not.toBe(0);
  });
});
