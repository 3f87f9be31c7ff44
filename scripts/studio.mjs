#!/usr/bin/env node
// `npm start` ends here: runs every built app on its fixed port with its SQLite file under ./data, and Caddy
// in front on :8080 when the binary is installed. Development secrets the apps require are generated once
// into data/.studio-secrets.json (mode 0600) — generated here, never defaulted in the apps' code.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dataDir = join(root, 'data');
mkdirSync(dataDir, { recursive: true });

export const apps = [
  { name: 'ops-agent', port: 4100, prefix: '/ops' },
  { name: 'documint', port: 4101, prefix: '/documint' },
  { name: 'cronping', port: 4102, prefix: '/cronping' },
  { name: 'flagbit', port: 4103, prefix: '/flagbit' },
  { name: 'webhookvault', port: 4104, prefix: '/webhookvault' },
];

const generators = {
  INTERNAL_TOKEN: () => randomBytes(32).toString('hex'),
  WEBHOOKVAULT_ENCRYPTION_KEY: () => randomBytes(32).toString('base64'),
  OPS_ADMIN_TOKEN: () => randomBytes(32).toString('hex'),
  OPS_VAULT_KEY: () => randomBytes(32).toString('base64'),
};

function loadSecrets() {
  const file = join(dataDir, '.studio-secrets.json');
  const stored = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  let changed = false;
  for (const [name, generate] of Object.entries(generators)) {
    if (stored[name] === undefined) {
      stored[name] = generate();
      changed = true;
    }
  }
  if (changed) {
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  // A variable the operator set wins, even when it is empty: the app then refuses to start and names it,
  // instead of this script quietly papering over the mistake.
  const secrets = {};
  for (const name of Object.keys(generators)) secrets[name] = process.env[name] ?? stored[name];
  return secrets;
}

const secrets = loadSecrets();
const children = [];
let stopping = false;

function stopAll(code) {
  if (stopping) return;
  stopping = true;
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM');
  const deadline = setTimeout(() => process.exit(code), 15_000);
  deadline.unref();
  const wait = () =>
    children.every((c) => c.exitCode !== null || c.signalCode !== null)
      ? process.exit(code)
      : setTimeout(wait, 100);
  wait();
}

// One pid file per process, so the ops-agent's audit can tell which service processes are running.
const runDir = join(dataDir, 'run');
mkdirSync(runDir, { recursive: true });
for (const stale of readdirSync(runDir))
  if (stale.endsWith('.pid')) rmSync(join(runDir, stale), { force: true });

function start(name, command, args, env) {
  const child = spawn(command, args, { cwd: root, env: { ...process.env, ...env }, stdio: 'inherit' });
  if (child.pid) writeFileSync(join(runDir, `${name}.pid`), `${child.pid}\n`);
  child.on('exit', (code, signal) => {
    if (stopping) return;
    console.error(`studio: ${name} exited (${signal ?? `code ${code}`}); stopping the studio`);
    stopAll(code || 1);
  });
  children.push(child);
  return child;
}

const caddy = spawnSync('caddy', ['version'], { encoding: 'utf8' });
const caddyAddress = process.env.CADDY_ADDRESS ?? 'http://:8080';
const caddyPort = /:(\d+)$/.exec(caddyAddress)?.[1] ?? '8080';

// The ops-agent audits and provisions the products at their own ports (and through Caddy when it runs).
const opsAgentEnvironment = {
  DOCUMINT_URL: 'http://127.0.0.1:4101',
  CRONPING_URL: 'http://127.0.0.1:4102',
  FLAGBIT_URL: 'http://127.0.0.1:4103',
  WEBHOOKVAULT_URL: 'http://127.0.0.1:4104',
  SERVICE_PID_DIR: runDir,
  ...(caddy.status === 0 ? { CADDY_URL: `http://127.0.0.1:${caddyPort}` } : {}),
};

for (const app of apps) {
  const entry = join(root, 'apps', app.name, 'dist', 'server.js');
  if (!existsSync(entry)) {
    console.error(`studio: ${entry} is missing; build first (npm start builds everything)`);
    process.exit(1);
  }
  start(app.name, process.execPath, [entry], {
    HOST: process.env.HOST ?? '127.0.0.1',
    PORT: String(app.port),
    DATA_DIR: join(dataDir, app.name),
    ...secrets,
    ...(app.name === 'ops-agent' ? opsAgentEnvironment : {}),
  });
}

if (caddy.status === 0) {
  start('caddy', 'caddy', ['run', '--config', join(root, 'infra', 'Caddyfile'), '--adapter', 'caddyfile'], {
    CADDY_ADDRESS: caddyAddress,
  });
} else {
  console.log(
    'studio: caddy is not installed, so nothing listens on :8080; the apps answer on their own ports (apt-get install caddy to add it)',
  );
}

async function waitUntilReady(app) {
  for (let attempt = 0; attempt < 100 && !stopping; attempt++) {
    try {
      const response = await fetch(`http://127.0.0.1:${app.port}/readyz`);
      if (response.status === 200) return true;
    } catch {}
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return false;
}

const ready = await Promise.all(apps.map(waitUntilReady));
if (!stopping) {
  console.log('\nstudio: up');
  apps.forEach((app, index) => {
    const via = caddy.status === 0 ? `  (via Caddy: http://localhost:8080${app.prefix}/)` : '';
    console.log(
      `  ${app.name.padEnd(13)} http://127.0.0.1:${app.port}  ${ready[index] ? 'ready' : 'NOT READY'}${via}`,
    );
  });
  console.log('  secrets for development: data/.studio-secrets.json\n');
}

process.on('SIGINT', () => stopAll(0));
process.on('SIGTERM', () => stopAll(0));
