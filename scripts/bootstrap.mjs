#!/usr/bin/env node
// The two README commands start here: a fresh machine has only Node and npm, so this script installs the
// exact pnpm pinned in package.json into ./.tools (no corepack, no global install), installs the workspace,
// then runs the studio or the tests. Plain Node, no dependencies: nothing is installed yet when it runs.
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const command = process.argv[2];

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 20 || (major === 20 && minor < 19)) {
  console.error(`studio: Node ${process.versions.node} is too old; Node 20.19 or newer is required.`);
  process.exit(1);
}

const packageManager = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).packageManager;
const pnpmVersion = /^pnpm@(\d+\.\d+\.\d+)$/.exec(packageManager ?? '')?.[1];
if (!pnpmVersion) {
  console.error(
    `studio: package.json "packageManager" must pin an exact pnpm version, found ${packageManager}`,
  );
  process.exit(1);
}

// turbo looks pnpm up on the PATH, so the pinned copy goes first.
const env = {
  ...process.env,
  PATH: `${join(root, '.tools', 'node_modules', '.bin')}${delimiter}${process.env.PATH ?? ''}`,
  TURBO_TELEMETRY_DISABLED: '1',
};

function run(cmd, args, options = {}) {
  const result = spawnSync(cmd, args, { cwd: root, stdio: 'inherit', env, ...options });
  if (result.error) throw result.error;
  if (result.status !== 0) process.exit(result.status ?? 1);
}

const toolsDir = join(root, '.tools');
const pnpmBin = join(toolsDir, 'node_modules', 'pnpm', 'bin', 'pnpm.cjs');
function installedPnpmVersion() {
  try {
    return JSON.parse(readFileSync(join(toolsDir, 'node_modules', 'pnpm', 'package.json'), 'utf8')).version;
  } catch {
    return undefined;
  }
}
if (installedPnpmVersion() !== pnpmVersion) {
  console.log(`studio: installing pnpm ${pnpmVersion} into .tools/`);
  run('npm', [
    'install',
    '--prefix',
    toolsDir,
    '--no-save',
    '--no-audit',
    '--no-fund',
    `pnpm@${pnpmVersion}`,
  ]);
}
const pnpm = (args) => run(process.execPath, [pnpmBin, ...args]);

pnpm(['install', '--frozen-lockfile']);

// Debian packages the tests drive for real: caddy in front of the apps, chromium for DocuMint's HTML engine
// and the ops-agent's page test, qpdf and poppler-utils to check DocuMint's PDFs, openssl to make test
// certificates. Installed when this runs as root with apt-get (CI, a fresh VPS); otherwise named, with the
// command that installs them.
function ensureTestPackages() {
  const needed = {
    caddy: 'caddy',
    chromium: 'chromium',
    qpdf: 'qpdf',
    pdftotext: 'poppler-utils',
    openssl: 'openssl',
  };
  const has = (binary) => spawnSync('sh', ['-c', `command -v ${binary}`], { stdio: 'ignore' }).status === 0;
  const missing = Object.entries(needed)
    .filter(([binary]) => !has(binary))
    .map(([, debianPackage]) => debianPackage);
  if (missing.length === 0) return;
  if (process.getuid?.() === 0 && has('apt-get')) {
    console.log(`studio: installing ${missing.join(', ')} with apt-get`);
    run('apt-get', ['update', '-qq']);
    run('apt-get', ['install', '-y', '-qq', '--no-install-recommends', ...missing], {
      env: { ...env, DEBIAN_FRONTEND: 'noninteractive' },
    });
    return;
  }
  console.warn(
    `studio: the tests need ${missing.join(', ')}, which are not installed: run "sudo apt-get install ${missing.join(' ')}" (tests that need them fail and say so)`,
  );
}

switch (command) {
  case 'start':
    pnpm(['exec', 'turbo', 'run', 'build', '--output-logs=errors-only']);
    {
      // Long-running: signals reach the studio, which stops its apps and Caddy before exiting.
      const studio = spawn(process.execPath, [join(root, 'scripts', 'studio.mjs')], {
        cwd: root,
        stdio: 'inherit',
        env,
      });
      for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => studio.kill(signal));
      studio.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
    }
    break;
  case 'test':
    ensureTestPackages();
    pnpm([
      'exec',
      'turbo',
      'run',
      'lint',
      'lint:root',
      'typecheck',
      'test',
      '--concurrency=2',
      '--continue',
      '--output-logs=full',
    ]);
    break;
  default:
    console.error('usage: node scripts/bootstrap.mjs start|test');
    process.exit(1);
}
