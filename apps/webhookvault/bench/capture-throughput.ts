/**
 * Capture throughput: encrypted 1 kB captures against a bare Fastify route, in the same run, on this machine.
 * Load comes from autocannon in a worker thread; the servers share the main thread's event loop one at a time.
 *
 *   npx tsx bench/capture-throughput.ts            # 10 s per target
 *   BENCH_SECONDS=60 npx tsx bench/capture-throughput.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

const seconds = Number(process.env.BENCH_SECONDS ?? 10);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 50);
const body = JSON.stringify({ type: 'invoice.paid', data: 'x'.repeat(1024 - 40) }).slice(0, 1024);

async function load(url: string) {
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    workers: 1,
    headers: { 'content-type': 'application/json' },
    body,
  });
  return {
    requestsPerSecond: Math.round(result.requests.average),
    // "Sustained": the slowest one-second sample of the run, not only its average.
    slowestSecond: result.requests.min,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
  };
}

// The machine is shared: the load average before and after says how noisy the figures are.
const loadAverage = () =>
  loadavg()
    .map((value) => value.toFixed(2))
    .join(', ');
const loadBefore = loadAverage();
const directory = mkdtempSync(join(tmpdir(), 'webhookvault-bench-'));
try {
  const bare = Fastify();
  bare.post('/bare', async () => ({ ok: true }));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const bareResult = await load(`http://127.0.0.1:${(bare.server.address() as AddressInfo).port}/bare`);
  await bare.close();

  const vault: Record<string, Awaited<ReturnType<typeof load>>> = {};
  const lost: string[] = [];
  // The main port (behind Caddy in the studio) with both synchronous modes, and the studio's own setting:
  // captures sent to the capture listener (CAPTURE_PORT), which the studio hands out as directUrl.
  const targets = [
    { synchronous: 'FULL', via: 'main port' },
    { synchronous: 'NORMAL', via: 'main port' },
    { synchronous: 'FULL', via: 'capture listener' },
  ] as const;
  for (const { synchronous, via } of targets) {
    const label = `${synchronous}, ${via}`;
    const app = await buildApp(
      loadConfig({
        INTERNAL_TOKEN: 'i'.repeat(64),
        DATA_DIR: join(directory, label.replace(/\W+/g, '-')),
        ...(via === 'capture listener' ? { CAPTURE_PORT: '0' } : {}),
        WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
        WEBHOOKVAULT_SQLITE_SYNCHRONOUS: synchronous,
        LOG_LEVEL: 'silent',
        // No retention pass during the run: it would delete captures past the plan's per-endpoint count and
        // make the stored count meaningless.
        RETENTION_INTERVAL_MS: '3600000',
      }),
    );
    await app.listen({ host: '127.0.0.1', port: 0 });
    const { apiKey } = app.billing.repository.createAccount('bench@example.com', 'business');
    const created = await app.inject({
      method: 'POST',
      url: '/v1/endpoints',
      headers: { authorization: `Bearer ${apiKey}` },
      payload: { name: 'bench' },
    });
    const { token, id } = created.json() as { token: string; id: string };
    const port =
      via === 'capture listener'
        ? app.captureListener.address()!.port
        : (app.server.address() as AddressInfo).port;
    const result = await load(`http://127.0.0.1:${port}/h/${token}`);
    const stored = (
      app.database.sqlite.prepare('SELECT count(*) AS n FROM captures WHERE endpoint_id = ?').get(id) as {
        n: number;
      }
    ).n;
    await app.close();
    vault[`WebhookVault capture, ${label}`] = result;
    lost.push(
      `${label}: ratio to bare ${(result.requestsPerSecond / bareResult.requestsPerSecond).toFixed(2)}, acknowledged ${result.ok}, stored ${stored}, lost ${Math.max(0, result.ok - stored)}`,
    );
  }

  console.log(
    `capture throughput (encrypted), ${seconds} s per target, ${connections} connections, 1 kB JSON body`,
  );
  console.table({ 'bare Fastify route': bareResult, ...vault });
  for (const line of lost) console.log(line);
  console.log('(stored can exceed acknowledged by the requests still in flight when a run stopped)');
  console.log(`load average (1, 5, 15 min): before ${loadBefore}, after ${loadAverage()}`);
} finally {
  rmSync(directory, { recursive: true, force: true });
}
