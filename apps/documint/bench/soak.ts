/**
 * Soak: many distinct invoices through the Typst engine (each with its own number, lines and amounts, so
 * Typst's caches see new documents all the time), measuring resident memory of the API process plus its
 * Typst workers after a warm-up and at the end.
 *
 *   npx tsx bench/soak.ts                 # 10,000 documents, 4 in flight
 *   SOAK_DOCUMENTS=2000 npx tsx bench/soak.ts
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { invoiceSample } from '../src/templates/invoice';

const total = Number(process.env.SOAK_DOCUMENTS ?? 10_000);
const inFlight = Number(process.env.SOAK_CONCURRENCY ?? 4);
const warmup = Math.min(1000, Math.floor(total / 10));

const dataDir = mkdtempSync(join(tmpdir(), 'documint-soak-'));
const app = await buildApp(
  loadConfig({
    INTERNAL_TOKEN: 's'.repeat(64),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    TYPST_WORKERS: process.env.TYPST_WORKERS ?? '2',
    TYPST_MAX_DOCUMENTS_PER_WORKER: process.env.TYPST_MAX_DOCUMENTS_PER_WORKER ?? '5000',
  }),
  { logger: false },
);
await app.ready();
const { account } = app.billing.repository.createAccount('soak@example.com', 'business');

const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(1);
/** RSS of a process as the kernel reports it now (the pool's own figure only updates after a document). */
function processRss(pid: number): number {
  try {
    const line = readFileSync(`/proc/${pid}/status`, 'utf8').match(/VmRSS:\s+(\d+) kB/);
    return line?.[1] ? Number(line[1]) * 1024 : 0;
  } catch {
    return 0; // exited between listing and reading
  }
}
const rss = () => {
  const workers = app.documint.typst.stats().workerPids.reduce((sum, pid) => sum + processRss(pid), 0);
  return { api: process.memoryUsage().rss, workers, total: process.memoryUsage().rss + workers };
};
// Sampled through the run: a worker's RSS depends on where it is in its cycle, so the peaks of the first and
// second halves say more about growth than two single readings.
const samples: { at: number; total: number }[] = [];

function invoice(index: number) {
  const lines = 1 + (index % 12);
  return {
    ...invoiceSample,
    number: `SOAK-${index}`,
    items: Array.from({ length: lines }, (_, line) => ({
      description: `Service ${index}-${line} ${'x'.repeat(index % 17)}`,
      quantity: 1 + ((index + line) % 5),
      unitPrice: 10 + ((index * 7 + line) % 900) / 10,
      vatRate: [0, 5.5, 10, 20][(index + line) % 4],
    })),
  };
}

let next = 0;
let failures = 0;
async function runUntil(limit: number) {
  await Promise.all(
    Array.from({ length: inFlight }, async () => {
      while (next < limit) {
        const index = next++;
        try {
          // The whole path the API takes for a stored document, minus HTTP parsing.
          await app.documint.documents.createNow(account, { template: 'invoice', data: invoice(index) });
        } catch (error) {
          failures += 1;
          if (failures < 5) console.error(error);
        }
      }
    }),
  );
}

const started = performance.now();
await runUntil(warmup);
await app.documint.typst.replacementsSettled();
global.gc?.();
const start = rss();
const sampler = setInterval(() => samples.push({ at: next, total: rss().total }), 500);
await runUntil(total);
clearInterval(sampler);
await app.documint.typst.replacementsSettled();
global.gc?.();
const end = rss();
const half = warmup + (total - warmup) / 2;
const peak = (list: typeof samples) => Math.max(...list.map((sample) => sample.total));
const firstHalfPeak = peak(samples.filter((sample) => sample.at < half));
const secondHalfPeak = peak(samples.filter((sample) => sample.at >= half));
const seconds = (performance.now() - started) / 1000;
const stats = app.documint.typst.stats();
console.log(
  `\nDocuMint soak — ${total} distinct invoices (${warmup} warm-up), ${inFlight} in flight, ${seconds.toFixed(1)} s (${(total / seconds).toFixed(0)} docs/s), ${failures} failures`,
);
console.log(
  `RSS after warm-up: API ${mb(start.api)} MB + workers ${mb(start.workers)} MB = ${mb(start.total)} MB`,
);
console.log(`RSS at the end:    API ${mb(end.api)} MB + workers ${mb(end.workers)} MB = ${mb(end.total)} MB`);
console.log(
  `change: ${(((end.total - start.total) / start.total) * 100).toFixed(1)}% (goal: within 10%); workers recycled ${stats.recycled} times`,
);
console.log(
  `peak total RSS, first half: ${mb(firstHalfPeak)} MB; second half: ${mb(secondHalfPeak)} MB (${(((secondHalfPeak - firstHalfPeak) / firstHalfPeak) * 100).toFixed(1)}%)`,
);
await app.close();
rmSync(dataDir, { recursive: true, force: true });
