/**
 * Forwarding throughput: N captures are taken in (autocannon, fixed amount), each forwarded through the durable
 * outbox and the SSRF-guarded client to a local receiver; prints deliveries per second from the first capture
 * to the last delivery, next to the rate the same receiver takes requests from autocannon directly.
 *
 *   npx tsx bench/forwarding-throughput.ts                 # 5000 captures
 *   BENCH_CAPTURES=20000 npx tsx bench/forwarding-throughput.ts
 *   WEBHOOKVAULT_SQLITE_SYNCHRONOUS=NORMAL npx tsx bench/forwarding-throughput.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

const captures = Number(process.env.BENCH_CAPTURES ?? 5000);
const synchronous = process.env.WEBHOOKVAULT_SQLITE_SYNCHRONOUS ?? 'FULL';
const body = JSON.stringify({ type: 'order.created', data: 'x'.repeat(980) });

let received = 0;
let onAll: (() => void) | undefined;
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204).end();
    received += 1;
    if (received === captures && onAll) onAll();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`;

const direct = await autocannon({
  url: receiverUrl,
  method: 'POST',
  connections: 16,
  amount: captures,
  workers: 1,
  body,
});
received = 0;

const directory = mkdtempSync(join(tmpdir(), 'webhookvault-bench-'));
try {
  const app = await buildApp(
    loadConfig({
      INTERNAL_TOKEN: 'i'.repeat(64),
      DATA_DIR: directory,
      WEBHOOKVAULT_ENCRYPTION_KEY: Buffer.alloc(32, 1).toString('base64'),
      OUTBOUND_ALLOWLIST: '127.0.0.1',
      LOG_LEVEL: 'silent',
      WEBHOOKVAULT_SQLITE_SYNCHRONOUS: synchronous,
    }),
  );
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { apiKey } = app.billing.repository.createAccount('bench@example.com', 'business');
  const headers = { authorization: `Bearer ${apiKey}` };
  const endpoint = (
    await app.inject({ method: 'POST', url: '/v1/endpoints', headers, payload: { name: 'bench' } })
  ).json() as { id: string; token: string };
  await app.inject({
    method: 'POST',
    url: `/v1/endpoints/${endpoint.id}/forwarding`,
    headers,
    payload: { targetUrl: receiverUrl },
  });
  const allDelivered = new Promise<void>((resolve) => {
    onAll = resolve;
  });
  const started = performance.now();
  const port = (app.server.address() as AddressInfo).port;
  await autocannon({
    url: `http://127.0.0.1:${port}/h/${endpoint.token}`,
    method: 'POST',
    connections: 16,
    amount: captures,
    workers: 1,
    headers: { 'content-type': 'application/json' },
    body,
  });
  const captured = performance.now() - started;
  await allDelivered;
  const elapsed = performance.now() - started;
  const succeeded = (
    app.database.sqlite.prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'succeeded'").get() as {
      n: number;
    }
  ).n;
  await app.close();
  console.log(
    `forwarding throughput, ${captures} captures of ~1 kB, local receiver, synchronous=${synchronous}`,
  );
  console.table({
    // The run finishes inside one of autocannon's one-second samples, so its average would just repeat the
    // amount: the rate is the total over the run's own duration.
    'receiver, direct (autocannon)': {
      perSecond: Math.round(direct.requests.total / direct.duration),
      seconds: direct.duration.toFixed(2),
    },
    'captures taken in': {
      perSecond: Math.round(captures / (captured / 1000)),
      seconds: (captured / 1000).toFixed(2),
    },
    'captured → forwarded (end to end)': {
      perSecond: Math.round(captures / (elapsed / 1000)),
      seconds: (elapsed / 1000).toFixed(2),
    },
  });
  console.log(`receiver got ${received}, deliveries recorded succeeded: ${succeeded}`);
} finally {
  receiver.close();
  rmSync(directory, { recursive: true, force: true });
}
