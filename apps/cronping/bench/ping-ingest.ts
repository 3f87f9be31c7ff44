/**
 * Ping ingest benchmark: sustained GET /ping/<uuid> against CronPing (real server on 127.0.0.1, SQLite with
 * synchronous=FULL, every answer sent after its commit), next to a bare Fastify route measured in the same
 * run, with autocannon in a separate process. Then counts the stored pings to prove that every acknowledged ping was committed.
 *
 *   npx tsx bench/ping-ingest.ts            # 60 s per target, 100 connections, 1,000 checks
 *   BENCH_SECONDS=20 BENCH_CONNECTIONS=50 npx tsx bench/ping-ingest.ts
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { defaultCheckFields } from '../src/monitor/ingest';

const seconds = Number(process.env.BENCH_SECONDS ?? 60);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 100);
const checkCount = Number(process.env.BENCH_CHECKS ?? 1000);

interface Figures {
  requestsPerSecond: number;
  p50: number;
  p99: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/** autocannon in a child process: on 2 cores, an in-process load generator would halve the server. */
function run(url: string, paths: string[]): Promise<Figures> {
  const generator = fileURLToPath(new URL('./load-generator.ts', import.meta.url));
  const input = JSON.stringify({ url, seconds, connections, paths });
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', generator, input],
      { maxBuffer: 16 * 1024 * 1024, timeout: (seconds + 60) * 1000 },
      (error, stdout) => (error ? reject(error) : resolve(JSON.parse(stdout) as Figures)),
    );
  });
}

const bare = Fastify({ logger: false });
bare.get('/ping/*', async (_request, reply) => reply.type('text/plain').send('OK'));
await bare.listen({ host: '127.0.0.1', port: 0 });
const bareAddress = bare.server.address();
if (!bareAddress || typeof bareAddress === 'string') throw new Error('no address');

const dataDir = mkdtempSync(join(tmpdir(), 'cronping-bench-'));
const app = await buildApp(
  loadConfig({
    INTERNAL_TOKEN: 'b'.repeat(64),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    WAL_CHECKPOINT_INTERVAL_MS: process.env.WAL_CHECKPOINT_INTERVAL_MS,
  }),
  { logger: false },
);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (!address || typeof address === 'string') throw new Error('no address');

const { account } = app.billing.repository.createAccount('bench@example.com', 'business');
const codes = app.database.transaction(() => {
  const created: string[] = [];
  for (let index = 0; index < checkCount; index++) {
    created.push(
      app.monitor.repository.insertCheck(account.id, defaultCheckFields(`job-${index}`), Date.now()).code,
    );
  }
  return created;
})();
const paths = codes.map((code) => `/ping/${code}`);

console.log(
  `ping ingest: ${seconds} s per target, ${connections} connections, ${checkCount} checks, WAL_CHECKPOINT_INTERVAL_MS=${process.env.WAL_CHECKPOINT_INTERVAL_MS ?? 0} (shared 2-core machine: noisy; load ${loadavg()
    .map((n) => n.toFixed(1))
    .join(' ')})`,
);
const bareFigures = await run(`http://127.0.0.1:${bareAddress.port}`, paths);
const cronpingFigures = await run(`http://127.0.0.1:${address.port}`, paths);
const walBytes = app.database.stats().walBytes;
await app.close();
await bare.close();

const Database = (await import('better-sqlite3')).default;
const reader = new Database(join(dataDir, 'cronping.sqlite'), { readonly: true });
const stored = (reader.prepare('SELECT count(*) AS n FROM pings').get() as { n: number }).n;
const counted = (reader.prepare('SELECT sum(n_pings) AS n FROM checks').get() as { n: number }).n;
reader.close();
rmSync(dataDir, { recursive: true, force: true });

const row = (name: string, f: Figures) =>
  `${name.padEnd(22)} ${f.requestsPerSecond.toFixed(0).padStart(8)} req/s   p50 ${String(f.p50).padStart(3)} ms   p99 ${String(f.p99).padStart(3)} ms   2xx ${f.ok}   non-2xx ${f.non2xx}   errors ${f.errors}   timeouts ${f.timeouts}`;
console.log(row('bare Fastify route', bareFigures));
console.log(row('CronPing /ping/<uuid>', cronpingFigures));
console.log(
  `ratio CronPing / bare: ${(cronpingFigures.requestsPerSecond / bareFigures.requestsPerSecond).toFixed(2)}`,
);
console.log(
  `WAL at the end of the run: ${(walBytes / 1024 / 1024).toFixed(1)} MiB; acknowledged ${cronpingFigures.ok}, stored rows ${stored} (history cap ${checkCount} checks x 1000), n_pings total ${counted}: lost ${Math.max(0, cronpingFigures.ok - counted)}`,
);
