import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '@studio/service-kit/testing';

export { freePort };

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

export function caddyAvailable(): boolean {
  return spawnSync('caddy', ['version']).status === 0;
}

/** The real caddy on the studio's Caddyfile, admin API off, its certificates and autosave under `dataDir`. */
export function startCaddy(dataDir: string, environment: Record<string, string>): RunningProcess {
  return startProcess(
    'caddy',
    ['run', '--config', join(repositoryRoot, 'infra', 'Caddyfile'), '--adapter', 'caddyfile'],
    { CADDY_ADMIN: 'off', HOME: dataDir, XDG_DATA_HOME: dataDir, XDG_CONFIG_HOME: dataDir, ...environment },
  );
}

export interface RunningProcess {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export function startProcess(
  command: string,
  args: string[],
  env: Record<string, string>,
  options: { ownProcessGroup?: boolean } = {},
): RunningProcess {
  const child = spawn(command, args, {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.ownProcessGroup === true,
  });
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

export interface RunningStudio {
  process: RunningProcess;
  dataDir: string;
  runDir: string;
  ports: Record<(typeof studioApps)[number]['name'], number>;
  /** Caddy's base URL, when the studio runs Caddy. */
  caddyUrl?: string;
  environment: Record<string, string>;
  url(app: (typeof studioApps)[number]['name']): string;
  secrets(): Record<string, string>;
  state(name: string): ServiceState;
  /** Runs `node scripts/studio.mjs <args>` against this studio's data directory. */
  command(args: string[]): { status: number | null; stdout: string; stderr: string };
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface ServiceState {
  name: string;
  state: 'starting' | 'running' | 'backoff' | 'failed' | 'stopped';
  pid: number | null;
  restarts: number;
  lastExit: { code: number | null; signal: string | null; at: string; output: string } | null;
  reason: string | null;
}

/**
 * Runs the real `npm start` supervisor (scripts/studio.mjs, on the built apps) on free ports with its own
 * data directory, and waits until it prints that it is supervising.
 */
export async function startStudio(
  label: string,
  options: { environment?: Record<string, string>; again?: RunningStudio } = {},
): Promise<RunningStudio> {
  // `again`: start a new supervisor on a stopped studio's data directory and ports.
  const dataDir = options.again?.dataDir ?? tempDirectory(label);
  const ports = options.again?.ports ?? ({} as RunningStudio['ports']);
  if (!options.again) for (const app of studioApps) ports[app.name] = await freePort();
  const caddyPort = options.again?.caddyUrl ? Number(new URL(options.again.caddyUrl).port) : await freePort();
  const capturePort = options.again
    ? Number(options.again.environment.WEBHOOKVAULT_CAPTURE_PORT)
    : await freePort();
  const withCaddy = caddyAvailable();
  const environment: Record<string, string> = {
    STUDIO_DATA_DIR: dataDir,
    CADDY_ADDRESS: `http://127.0.0.1:${caddyPort}`,
    CADDY_ADMIN: 'off',
    STUDIO_CADDY: withCaddy ? 'auto' : 'off',
    HOME: dataDir,
    XDG_DATA_HOME: dataDir,
    XDG_CONFIG_HOME: dataDir,
    LOG_LEVEL: 'warn',
    WEBHOOKVAULT_CAPTURE_PORT: String(capturePort),
    ...Object.fromEntries(
      studioApps.map((app) => [`${app.name.toUpperCase().replace('-', '_')}_PORT`, String(ports[app.name])]),
    ),
    ...options.environment,
  };
  const script = join(repositoryRoot, 'scripts', 'studio.mjs');
  // Its own process group, as in a terminal, so that stop() can press Ctrl-C: SIGINT to every process at once.
  const studio = startProcess(process.execPath, [script], environment, { ownProcessGroup: true });
  for (let attempt = 0; attempt < 600 && !studio.output().includes('supervising;'); attempt++) {
    if (studio.child.exitCode !== null) throw new Error(`the studio exited:\n${studio.output()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  if (!studio.output().includes('supervising;'))
    throw new Error(`the studio never came up:\n${studio.output()}`);
  const runDir = join(dataDir, 'run');
  return {
    process: studio,
    dataDir,
    runDir,
    ports,
    ...(withCaddy ? { caddyUrl: `http://127.0.0.1:${caddyPort}` } : {}),
    environment,
    url: (app) => `http://127.0.0.1:${ports[app]}`,
    secrets: () => JSON.parse(readFileSync(join(dataDir, '.studio-secrets.json'), 'utf8')),
    state: (name) => JSON.parse(readFileSync(join(runDir, `${name}.state.json`), 'utf8')),
    command: (args) => {
      const result = spawnSync(process.execPath, [script, ...args], {
        env: { ...process.env, ...environment },
        encoding: 'utf8',
        timeout: 120_000,
      });
      return { status: result.status, stdout: result.stdout, stderr: result.stderr };
    },
    stop: async () => {
      if (studio.child.exitCode === null && studio.child.signalCode === null)
        process.kill(-studio.child.pid!, 'SIGINT');
      return studio.exited;
    },
  };
}

/** Polls `probe` until it returns a value other than undefined; fails naming `what` after `attempts`. */
export async function eventually<T>(
  what: string,
  probe: () => Promise<T | undefined> | T | undefined,
  attempts = 300,
) {
  let last: unknown;
  for (let attempt = 0; attempt < attempts; attempt++) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`${what} did not happen${last ? `: ${(last as Error).message}` : ''}`);
}

export interface HttpsAnswer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** An HTTPS request to 127.0.0.1 for `host` (SNI and Host), trusting only the given root certificate. */
export function httpsGet(port: number, host: string, path: string, ca: string): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: '127.0.0.1',
        port,
        path,
        servername: host,
        headers: { host: `${host}:${port}` },
        ca,
        agent: false,
      },
      (response) => {
        let body = '';
        response.setEncoding('utf8');
        response.on('data', (chunk: string) => {
          body += chunk;
        });
        response.on('end', () =>
          resolve({ status: response.statusCode ?? 0, headers: response.headers, body }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end();
  });
}
