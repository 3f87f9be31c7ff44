/**
 * Profiling aid for the capture path (not a benchmark: no bare baseline). Runs 15 s of FULL captures so that
 *   node --cpu-prof --cpu-prof-dir=/tmp/wv-prof --import tsx bench/profile-capture.ts
 * writes a profile of the main thread, where the server runs (autocannon runs in its own worker thread).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const body = JSON.stringify({ type: 'invoice.paid', data: 'x'.repeat(1024 - 40) }).slice(0, 1024);
const directory = mkdtempSync(join(tmpdir(), 'webhookvault-profile-'));
try {
  const app = await buildApp(
    loadConfig({
      INTERNAL_TOKEN: 'i'.repeat(64),
      DATA_DIR: directory,
      WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      LOG_LEVEL: 'silent',
      RETENTION_INTERVAL_MS: '3600000',
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { apiKey } = app.billing.repository.createAccount('profile@example.com', 'business');
  const created = await app.inject({
    method: 'POST',
    url: '/v1/endpoints',
    headers: { authorization: `Bearer ${apiKey}` },
    payload: { name: 'profile' },
  });
  const { token } = created.json() as { token: string };
  const result = await autocannon({
    url: `http://127.0.0.1:${(app.server.address() as AddressInfo).port}/h/${token}`,
    method: 'POST',
    connections: 50,
    duration: seconds,
    workers: 1,
    headers: { 'content-type': 'application/json' },
    body,
  });
  console.log(`${Math.round(result.requests.average)} req/s, p99 ${result.latency.p99} ms`);
  await app.close();
} finally {
  rmSync(directory, { recursive: true, force: true });
}
