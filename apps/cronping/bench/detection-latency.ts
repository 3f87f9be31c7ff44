/**
 * Detection latency with many active checks: how long after its deadline a check is marked down (the
 * moment its alert is queued). Inserts BENCH_CHECKS checks (default 100,000) whose deadlines fall at
 * random in the next BENCH_SPREAD_SECONDS (default 30), with the real clock, and reads the scheduler's
 * lag samples once all went down. There is no bare-route ratio here: this measures the scheduler only.
 *
 *   npx tsx bench/detection-latency.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { defaultCheckFields } from '../src/monitor/ingest';

const checkCount = Number(process.env.BENCH_CHECKS ?? 100_000);
const spreadSeconds = Number(process.env.BENCH_SPREAD_SECONDS ?? 30);
const leadSeconds = 10;

const dataDir = mkdtempSync(join(tmpdir(), 'cronping-detect-'));
const app = await buildApp(
  loadConfig({ INTERNAL_TOKEN: 'b'.repeat(64), DATA_DIR: dataDir, LOG_LEVEL: 'silent' }),
  { logger: false },
);
const { account } = app.billing.repository.createAccount('bench@example.com', 'business');
const { repository } = app.monitor;
const insertStart = Date.now();
const checks = app.database.transaction(() =>
  Array.from({ length: checkCount }, (_, index) =>
    repository.insertCheck(account.id, defaultCheckFields(`job-${index}`), insertStart),
  ),
)();
// Deadlines are set in a second pass, from a time taken after the inserts, so that none has passed by the
// time the scheduler starts (a passed one would get the start-up grace window instead).
const start = Date.now();
app.database.transaction(() => {
  for (const check of checks) {
    const deadline = start + leadSeconds * 1000 + Math.floor(Math.random() * spreadSeconds * 1000);
    // An up check whose last ping was one period + grace before its deadline.
    repository.updateState(check.id, {
      status: 'up',
      nPings: 1,
      lastPing: deadline - (check.timeout + check.grace) * 1000,
      lastStart: null,
      lastStartRid: null,
      lastDuration: null,
      consecutiveFailures: 0,
      alertAfter: deadline,
    });
  }
})();
console.log(
  `detection latency: ${checkCount} active checks, deadlines spread over ${spreadSeconds} s (set up in ${Date.now() - insertStart} ms; shared 2-core machine: noisy)`,
);
await app.ready(); // starts the scheduler
const { lagSamples } = app.monitor.scheduler;
const deadlineEnd = start + (leadSeconds + spreadSeconds + 5) * 1000;
while (Date.now() < deadlineEnd && repository.earliestDeadline() !== null) {
  await new Promise((resolve) => setTimeout(resolve, 250));
}
const sorted = [...lagSamples].sort((a, b) => a - b);
const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
const pending = repository.earliestDeadline() === null ? 0 : 'some';
console.log(
  `samples ${sorted.length}    p50 ${at(0.5)} ms   p99 ${at(0.99)} ms   max ${sorted.at(-1)} ms   still pending: ${pending}`,
);
await app.close();
rmSync(dataDir, { recursive: true, force: true });
