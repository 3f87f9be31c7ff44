import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repositoryRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export const studioApps = [
  { name: 'ops-agent', prefix: '/ops', hasAccounts: false },
  { name: 'documint', prefix: '/documint', hasAccounts: true },
  { name: 'cronping', prefix: '/cronping', hasAccounts: true },
  { name: 'flagbit', prefix: '/flagbit', hasAccounts: true },
  { name: 'webhookvault', prefix: '/webhookvault', hasAccounts: true },
] as const;

export const internalToken = 'e2e-internal-token-'.padEnd(64, 'x');

export function studioEnvironment(dataDir: string): Record<string, string> {
  return {
    INTERNAL_TOKEN: internalToken,
    DATA_DIR: dataDir,
    WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 3).toString('base64'),
    OPS_ADMIN_TOKEN: 'e2e-ops-admin-token-'.padEnd(64, 'y'),
    OPS_VAULT_KEY: Buffer.alloc(32, 4).toString('base64'),
    LOG_LEVEL: 'info',
  };
}

export function tempDirectory(label: string): string {
  return mkdtempSync(join(tmpdir(), `studio-${label}-`));
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (!address || typeof address === 'string') return reject(new Error('no port'));
      server.close(() => resolve(address.port));
    });
  });
}

export function caddyAvailable(): boolean {
  return spawnSync('caddy', ['version']).status === 0;
}

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startProcess(command: string, args: string[], env: Record<string, string>): RunningProcess {
  const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => output, exited };
}

/** Polls until `url` answers 200, the process exits, or `attempts` run out. */
export async function waitForOk(url: string, process?: RunningProcess, attempts = 150): Promise<void> {
  let exited = false;
  void process?.exited.then(() => {
    exited = true;
  });
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (exited) throw new Error(`process exited before ${url} answered:\n${process?.output()}`);
    try {
      const response = await fetch(url);
      if (response.status === 200) return;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${url} never answered 200:\n${process?.output() ?? ''}`);
}
