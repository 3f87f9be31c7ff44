#!/usr/bin/env node
// `npm start` ends here. Commands:
//   node scripts/studio.mjs                     run the studio in the foreground (supervised; Ctrl-C stops it)
//   node scripts/studio.mjs status              every process's state, from the supervisor's state files
//   node scripts/studio.mjs backup [dir]        online backup of every app's database (default data/backups/<time>)
//   node scripts/studio.mjs restore <app> <file>  stop the app (when the studio runs), restore its database, start it
//   node scripts/studio.mjs stop|start <app>    stop one process of the running studio (it stays down) or start it
// Development secrets are generated once into <data>/.studio-secrets.json (mode 0600) — here, never as
// defaults in the apps' code — and a demo customer is seeded on first start.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request as httpRequest } from 'node:http';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { Supervisor } from './supervisor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const products = ['documint', 'cronping', 'flagbit', 'webhookvault'];
const appNames = ['ops-agent', ...products];
const defaultPorts = { 'ops-agent': 4100, documint: 4101, cronping: 4102, flagbit: 4103, webhookvault: 4104 };
const prefixes = {
  'ops-agent': '/ops',
  documint: '/documint',
  cronping: '/cronping',
  flagbit: '/flagbit',
  webhookvault: '/webhookvault',
};
const portVariable = (app) => `${app.toUpperCase().replace('-', '_')}_PORT`;

// The supervisor's own settings, validated like every app's: an empty or malformed value stops it (exit 78)
// with one line per variable naming what it expected.
const text = (fallback) => z.string().default(fallback).describe('a non-empty string');
const choice = (values, fallback) => z.enum(values).default(fallback).describe(values.join(' or '));
const integer = (fallback, min, max) =>
  z.coerce.number().int().min(min).max(max).default(fallback).describe(`an integer from ${min} to ${max}`);
const configSchema = z.object({
  STUDIO_DATA_DIR: text(join(root, 'data')),
  HOST: text('127.0.0.1'),
  CADDY_ADDRESS: text('http://:8080'),
  STUDIO_CADDY: choice(['auto', 'off'], 'auto'),
  STUDIO_SEED_DEMO: choice(['true', 'false'], 'true'),
  STUDIO_RESTART_DELAY_MS: integer(1000, 10, 600_000),
  STUDIO_RESTART_MAX_DELAY_MS: integer(30_000, 10, 3_600_000),
  STUDIO_MAX_RESTARTS: integer(10, 1, 1000),
  STUDIO_READY_TIMEOUT_MS: integer(60_000, 1000, 600_000),
  // WebhookVault's own capture listener: senders reach it without a proxy, so their header order survives.
  WEBHOOKVAULT_CAPTURE_PORT: integer(4105, 1, 65_535),
  ...Object.fromEntries(appNames.map((app) => [portVariable(app), integer(defaultPorts[app], 1, 65_535)])),
});

function loadStudioConfig() {
  const problems = [];
  // An empty value is a mistake (an unset default would hide it), never the default.
  for (const name of Object.keys(configSchema.shape)) {
    if (process.env[name] === '')
      problems.push(
        `${name} is set but empty: unset it or set it to ${configSchema.shape[name].description}`,
      );
  }
  const parsed = configSchema.safeParse(
    Object.fromEntries(Object.keys(configSchema.shape).map((name) => [name, process.env[name] || undefined])),
  );
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = String(issue.path[0]);
      problems.push(`${name} must be ${configSchema.shape[name].description}, got "${process.env[name]}"`);
    }
  }
  if (problems.length === 0) return parsed.data;
  console.error(`studio: invalid configuration\n${problems.map((line) => `  - ${line}`).join('\n')}`);
  process.exit(78);
}

const config = loadStudioConfig();
const dataDir = resolve(config.STUDIO_DATA_DIR);
const runDir = join(dataDir, 'run');
const controlSocket = join(runDir, 'supervisor.sock');
const portOf = (app) => config[portVariable(app)];
const entryOf = (app) => join(root, 'apps', app, 'dist', 'server.js');
const say = (line) => process.stdout.write(`studio       │ ${line}\n`);

const generators = {
  INTERNAL_TOKEN: () => randomBytes(32).toString('hex'),
  WEBHOOKVAULT_ENCRYPTION_KEY: () => randomBytes(32).toString('base64'),
  OPS_ADMIN_TOKEN: () => randomBytes(32).toString('hex'),
  OPS_VAULT_KEY: () => randomBytes(32).toString('base64'),
  OWNER_PASSWORD: () => randomBytes(12).toString('base64url'),
};

/**
 * How the studio reaches its Caddy. A plain-HTTP address with a port (the default `http://:8080`, or
 * `http://127.0.0.1:8080`) is reachable on loopback: Caddy's /caddy/health says it is ready, the audit goes
 * through it, and customers reach each product under its path prefix. Host names (production, HTTPS) have no
 * such local address: readiness comes from Caddy's admin API when it is on, the audit through Caddy needs
 * CADDY_URL from the operator, and each product is at the root of its own host (`<PRODUCT>_HOST`).
 */
function caddyAccess(address) {
  const port = /^http:\/\/[^,\s/]*:(\d+)$/.exec(address.trim())?.[1];
  if (port) {
    return {
      localUrl: `http://127.0.0.1:${port}`,
      readyUrl: `http://127.0.0.1:${port}/caddy/health`,
      productUrl: (app) => `http://localhost:${port}${prefixes[app]}`,
    };
  }
  const admin = process.env.CADDY_ADMIN ?? 'localhost:2019';
  const httpsPort = process.env.CADDY_HTTPS_PORT;
  const portSuffix = httpsPort && httpsPort !== '443' ? `:${httpsPort}` : '';
  const hostVariable = (app) => (app === 'ops-agent' ? 'OPS_HOST' : `${app.toUpperCase()}_HOST`);
  return {
    localUrl: undefined,
    readyUrl: admin === 'off' ? undefined : `http://${admin}/config/`,
    productUrl: (app) =>
      `https://${process.env[hostVariable(app)] ?? `${app === 'ops-agent' ? 'ops' : app}.localhost`}${portSuffix}`,
  };
}

/** Reads the stored secrets, generating the missing ones; returns them and the names generated now. */
function loadSecrets() {
  const file = join(dataDir, '.studio-secrets.json');
  const stored = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : {};
  const generated = [];
  for (const [name, generate] of Object.entries(generators)) {
    if (stored[name] === undefined) {
      stored[name] = generate();
      generated.push(name);
    }
  }
  const hashMissing = generated.includes('OWNER_PASSWORD') || stored.OWNER_PASSWORD_HASH === undefined;
  if (hashMissing) stored.OWNER_PASSWORD_HASH = hashOwnerPassword(stored.OWNER_PASSWORD);
  if (generated.length > 0 || hashMissing) {
    writeFileSync(file, `${JSON.stringify(stored, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  // A variable the operator set wins, even when it is empty: the app then refuses to start and names it,
  // instead of this script quietly papering over the mistake.
  const secrets = {};
  for (const name of [...Object.keys(generators), 'OWNER_PASSWORD_HASH']) {
    secrets[name] = process.env[name] ?? stored[name];
  }
  return { secrets, generated, file };
}

/** The ops-agent's own hasher, so the format and cost are the ones it verifies. */
function hashOwnerPassword(password) {
  const result = spawnSync(process.execPath, [entryOf('ops-agent'), 'hash-password'], {
    input: `${password}\n`,
    encoding: 'utf8',
    env: { ...process.env, DATA_DIR: join(dataDir, 'ops-agent') },
  });
  if (result.status !== 0) throw new Error(`ops-agent hash-password failed: ${result.stderr}`);
  return result.stdout.trim();
}

function requireBuilt() {
  for (const app of appNames) {
    if (!existsSync(entryOf(app))) {
      console.error(`studio: ${entryOf(app)} is missing; build first (npm start builds everything)`);
      process.exit(1);
    }
  }
}

/** Talks to a running supervisor over its control socket; undefined when no studio is running. */
function control(method, path) {
  return new Promise((resolvePromise) => {
    const request = httpRequest({ socketPath: controlSocket, method, path }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk) => {
        body += chunk;
      });
      response.on('end', () =>
        resolvePromise({ status: response.statusCode, body: JSON.parse(body || '{}') }),
      );
    });
    request.on('error', () => resolvePromise(undefined));
    request.end();
  });
}

function databaseCommand(app, args) {
  return spawnSync(process.execPath, [entryOf(app), ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATA_DIR: join(dataDir, app) },
  });
}

async function backupCommand(target) {
  requireBuilt();
  const directory = resolve(
    target ?? join(dataDir, 'backups', new Date().toISOString().replace(/[:.]/g, '-')),
  );
  mkdirSync(directory, { recursive: true });
  let failed = false;
  for (const app of appNames) {
    const result = databaseCommand(app, ['db:backup', join(directory, `${app}.sqlite`)]);
    process.stdout.write(result.stdout);
    process.stderr.write(result.stderr);
    if (result.status !== 0) failed = true;
  }
  console.log(
    failed ? `studio: some backups failed (see above)` : `studio: every database backed up into ${directory}`,
  );
  process.exit(failed ? 1 : 0);
}

async function restoreCommand(app, file) {
  if (!appNames.includes(app) || !file) {
    console.error(`usage: node scripts/studio.mjs restore <${appNames.join('|')}> <backup file>`);
    process.exit(64);
  }
  requireBuilt();
  // The app must not hold its database open while the file is replaced, so a running studio stops it first.
  const stopped = await control('POST', `/services/${app}/stop`);
  if (stopped) console.log(`studio: stopped ${app}`);
  const result = databaseCommand(app, ['db:restore', resolve(file)]);
  process.stdout.write(result.stdout);
  process.stderr.write(result.stderr);
  if (stopped) {
    const started = await control('POST', `/services/${app}/start`);
    console.log(
      started?.body?.ready
        ? `studio: ${app} started again and is ready`
        : `studio: ${app} did not become ready`,
    );
    if (!started?.body?.ready) process.exit(1);
  } else {
    console.log(`studio: no running studio found; ${app} starts from the restored data next time`);
  }
  process.exit(result.status ?? 1);
}

/** Stops or starts one process of the running studio; a stopped one stays stopped until started. */
async function serviceCommand(action, name) {
  const answer = await control('POST', `/services/${name}/${action}`);
  if (!answer) {
    console.error('studio: no running studio found (is npm start running?)');
    process.exit(1);
  }
  if (answer.status !== 200) {
    console.error(`studio: unknown service ${name}`);
    process.exit(64);
  }
  console.log(
    `studio: ${name} is ${answer.body.state}${action === 'start' && !answer.body.ready ? ' (not ready)' : ''}`,
  );
  process.exit(action === 'start' && !answer.body.ready ? 1 : 0);
}

function statusCommand() {
  const files = existsSync(runDir) ? readdirSync(runDir).filter((name) => name.endsWith('.state.json')) : [];
  if (files.length === 0) {
    console.log('studio: no state files; the studio has not run here');
    return;
  }
  for (const file of files.sort()) {
    const state = JSON.parse(readFileSync(join(runDir, file), 'utf8'));
    const exit = state.lastExit
      ? ` last exit ${state.lastExit.signal ?? `code ${state.lastExit.code}`} at ${state.lastExit.at}`
      : '';
    console.log(
      `${state.name.padEnd(13)} ${state.state.padEnd(9)} pid ${String(state.pid ?? '-').padEnd(8)} restarts ${state.restarts}${exit}${state.reason ? `\n  ${state.reason}` : ''}`,
    );
  }
}

/** The supervisor's control socket: `restore` stops and starts one app through it. */
function serveControl(supervisor) {
  rmSync(controlSocket, { force: true });
  const server = createServer(async (request, response) => {
    const send = (status, body) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const match = /^\/services\/([a-z-]+)\/(stop|start)$/.exec(request.url ?? '');
    if (request.method !== 'POST' || !match || !supervisor.services.has(match[1])) {
      return send(404, { error: 'unknown control request' });
    }
    const service = supervisor.get(match[1]);
    if (match[2] === 'stop') {
      await service.stop();
      return send(200, { state: service.state });
    }
    service.start();
    const ready = await service.waitReady(config.STUDIO_READY_TIMEOUT_MS);
    return send(200, { state: service.state, ready });
  });
  server.listen(controlSocket, () => chmodSync(controlSocket, 0o600));
  return server;
}

/** First start only: one free account per product for a demo customer, the keys printed once. */
async function seedDemoCustomer(secrets) {
  const file = join(dataDir, '.studio-demo.json');
  const demo = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { email: 'demo@studio.localhost' };
  const created = {};
  for (const product of products) {
    if (demo[product]) continue;
    try {
      const response = await fetch(`http://127.0.0.1:${portOf(product)}/internal/accounts`, {
        method: 'POST',
        headers: { authorization: `Bearer ${secrets.INTERNAL_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({ email: demo.email, plan: 'free' }),
      });
      const body = await response.json();
      if (response.status === 201) {
        demo[product] = { accountId: body.accountId, apiKey: body.apiKey };
        created[product] = demo[product];
      } else {
        say(`demo customer not seeded in ${product}: ${response.status} ${body?.error?.message ?? ''}`);
      }
    } catch (error) {
      say(`demo customer not seeded in ${product}: ${error.message}`);
    }
  }
  if (Object.keys(created).length > 0) {
    writeFileSync(file, `${JSON.stringify(demo, null, 2)}\n`, { mode: 0o600 });
    chmodSync(file, 0o600);
  }
  return created;
}

async function run() {
  requireBuilt();
  mkdirSync(dataDir, { recursive: true });
  mkdirSync(runDir, { recursive: true });
  for (const stale of readdirSync(runDir)) {
    if (stale.endsWith('.pid') || stale.endsWith('.state.json')) rmSync(join(runDir, stale), { force: true });
  }
  const { secrets, generated, file: secretsFile } = loadSecrets();
  const caddyInstalled = config.STUDIO_CADDY === 'auto' && spawnSync('caddy', ['version']).status === 0;
  const caddy = caddyAccess(config.CADDY_ADDRESS);

  const supervisor = new Supervisor({
    runDir,
    policy: {
      initialDelayMs: config.STUDIO_RESTART_DELAY_MS,
      maxDelayMs: config.STUDIO_RESTART_MAX_DELAY_MS,
      stableAfterMs: 60_000,
      maxRestarts: config.STUDIO_MAX_RESTARTS,
      windowMs: 10 * 60_000,
    },
  });
  const appEnvironment = (app) => ({
    ...process.env,
    HOST: config.HOST,
    PORT: String(portOf(app)),
    DATA_DIR: join(dataDir, app),
    // Behind Caddy the client's address comes from X-Forwarded-For; the apps listen on loopback only.
    ...(caddyInstalled && process.env.TRUST_PROXY === undefined ? { TRUST_PROXY: 'true' } : {}),
    INTERNAL_TOKEN: secrets.INTERNAL_TOKEN,
  });
  // The URLs the products hand out (ping URLs, capture URLs, document links) point where customers reach
  // them: through Caddy when it runs. CronPing and DocuMint both call theirs PUBLIC_URL, so the operator sets
  // CRONPING_PUBLIC_URL / DOCUMINT_PUBLIC_URL / WEBHOOKVAULT_PUBLIC_URL here and each app gets its own.
  const publicUrl = (product) =>
    caddyInstalled ? caddy.productUrl(product) : `http://127.0.0.1:${portOf(product)}`;
  const publicUrlVariable = {
    documint: 'PUBLIC_URL',
    cronping: 'PUBLIC_URL',
    webhookvault: 'WEBHOOKVAULT_PUBLIC_URL',
  };
  const webhookvaultEnvironment = () => ({
    WEBHOOKVAULT_ENCRYPTION_KEY: secrets.WEBHOOKVAULT_ENCRYPTION_KEY,
    CAPTURE_PORT: process.env.CAPTURE_PORT ?? String(config.WEBHOOKVAULT_CAPTURE_PORT),
    WEBHOOKVAULT_CAPTURE_URL:
      process.env.WEBHOOKVAULT_CAPTURE_URL ?? `http://localhost:${config.WEBHOOKVAULT_CAPTURE_PORT}`,
  });
  for (const product of products) {
    const variable = publicUrlVariable[product];
    supervisor.add({
      name: product,
      command: process.execPath,
      args: [entryOf(product)],
      env: {
        ...appEnvironment(product),
        ...(variable
          ? { [variable]: process.env[`${product.toUpperCase()}_PUBLIC_URL`] ?? publicUrl(product) }
          : {}),
        ...(product === 'webhookvault' ? webhookvaultEnvironment() : {}),
      },
      readyUrl: `http://127.0.0.1:${portOf(product)}/readyz`,
    });
  }
  supervisor.add({
    name: 'ops-agent',
    command: process.execPath,
    args: [entryOf('ops-agent')],
    env: {
      ...appEnvironment('ops-agent'),
      OPS_ADMIN_TOKEN: secrets.OPS_ADMIN_TOKEN,
      OPS_VAULT_KEY: secrets.OPS_VAULT_KEY,
      OWNER_PASSWORD_HASH: secrets.OWNER_PASSWORD_HASH,
      SERVICE_PID_DIR: runDir,
      ...Object.fromEntries(
        products.map((product) => [`${product.toUpperCase()}_URL`, `http://127.0.0.1:${portOf(product)}`]),
      ),
      // The audit through Caddy: its local listener, or the operator's CADDY_URL (a production setup with host
      // names has no plain-HTTP local address to derive).
      ...(caddyInstalled && caddy.localUrl && process.env.CADDY_URL === undefined
        ? { CADDY_URL: caddy.localUrl }
        : {}),
    },
    readyUrl: `http://127.0.0.1:${portOf('ops-agent')}/readyz`,
  });
  if (caddyInstalled) {
    supervisor.add({
      name: 'caddy',
      command: 'caddy',
      args: ['run', '--config', join(root, 'infra', 'Caddyfile'), '--adapter', 'caddyfile'],
      env: {
        ...process.env,
        CADDY_ADDRESS: config.CADDY_ADDRESS,
        ...Object.fromEntries(
          appNames.map((app) => [
            `${app.toUpperCase().replace('-', '_')}_UPSTREAM`,
            `127.0.0.1:${portOf(app)}`,
          ]),
        ),
      },
      ...(caddy.readyUrl ? { readyUrl: caddy.readyUrl } : {}),
    });
  }

  const controlServer = serveControl(supervisor);
  let stopping;
  const stop = (signal) => {
    stopping ??= (async () => {
      say(`${signal}: stopping every process`);
      await supervisor.stopAll();
      controlServer.close();
      rmSync(controlSocket, { force: true });
      say('stopped');
      process.exit(0);
    })();
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));

  // Products first, then the ops-agent that audits and provisions them, then Caddy in front of all of them.
  say(`starting ${products.join(', ')}`);
  await supervisor.startGroup(products, config.STUDIO_READY_TIMEOUT_MS);
  say('starting ops-agent');
  await supervisor.startGroup(['ops-agent'], config.STUDIO_READY_TIMEOUT_MS);
  if (caddyInstalled) {
    say('starting caddy');
    await supervisor.startGroup(['caddy'], config.STUDIO_READY_TIMEOUT_MS);
  } else {
    say('caddy is not installed (or STUDIO_CADDY=off): the apps answer on their own ports only');
  }
  if (stopping) return;

  const demo = config.STUDIO_SEED_DEMO === 'true' ? await seedDemoCustomer(secrets) : {};
  printSummary({ supervisor, caddyInstalled, caddy, generated, secrets, secretsFile, demo });
  say(`supervising; status: node scripts/studio.mjs status; Ctrl-C stops everything`);
}

function printSummary({ supervisor, caddyInstalled, caddy, generated, secrets, secretsFile, demo }) {
  const lines = ['', 'the studio is up:'];
  for (const app of appNames) {
    const service = supervisor.get(app);
    const via = caddyInstalled && app !== 'ops-agent' ? `   via Caddy ${caddy.productUrl(app)}/` : '';
    lines.push(`  ${app.padEnd(13)} http://127.0.0.1:${portOf(app)}  ${service.state}${via}`);
  }
  lines.push(
    `  WebhookVault's direct capture URLs (exact header order, no proxy): ${process.env.WEBHOOKVAULT_CAPTURE_URL ?? `http://localhost:${config.WEBHOOKVAULT_CAPTURE_PORT}`}/h/<token>`,
  );
  if (generated.length > 0) {
    lines.push('', `first start: generated these secrets (stored in ${secretsFile}, mode 600; shown once):`);
    for (const name of generated) lines.push(`  ${name}=${secrets[name]}`);
    lines.push(
      `  the owner's page: http://127.0.0.1:${portOf('ops-agent')}/ (password: OWNER_PASSWORD above)`,
    );
  }
  if (Object.keys(demo).length > 0) {
    lines.push(
      '',
      'demo customer demo@studio.localhost, one free account per product (keys shown once; kept in data/.studio-demo.json):',
    );
    for (const [product, account] of Object.entries(demo))
      lines.push(`  ${product.padEnd(13)} ${account.apiKey}`);
    lines.push('  first try: see "First try" in README.md');
  }
  process.stdout.write(`${lines.join('\n')}\n\n`);
}

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case undefined:
  case 'run':
    await run();
    break;
  case 'status':
    statusCommand();
    break;
  case 'backup':
    await backupCommand(rest[0]);
    break;
  case 'restore':
    await restoreCommand(rest[0], rest[1]);
    break;
  case 'stop':
  case 'start':
    await serviceCommand(command, rest[0]);
    break;
  default:
    console.error(
      'usage: node scripts/studio.mjs [run | status | backup [dir] | restore <app> <file> | stop <app> | start <app>]',
    );
    process.exit(64);
}
