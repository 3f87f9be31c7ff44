/**
 * Forwarding throughput: N captures are taken in (autocannon, fixed amount), each forwarded through the durable
 * outbox and the SSRF-guarded client to a local receiver; prints deliveries per second from the first capture
 * to the last delivery, next to the rate the same receiver takes requests from autocannon directly.
 *
 * Every rate is timed by the servers themselves (first to last answer), not by autocannon: a fixed-amount run
 * only reports on autocannon's one-second tick, so its own duration is rounded up to whole seconds.
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

/** First and last time an event happened, and how often. */
function span() {
  return {
    count: 0,
    first: 0,
    last: 0,
    mark() {
      const now = performance.now();
      if (this.count === 0) this.first = now;
      this.last = now;
      this.count += 1;
    },
    perSecond() {
      return Math.round((this.count - 1) / ((this.last - this.first) / 1000));
    },
  };
}

let received = span();
let onAll: (() => void) | undefined;
const receiver = createServer((request, response) => {
  request.resume();
  request.on('end', () => {
    response.writeHead(204).end();
    received.mark();
    if (received.count === captures && onAll) onAll();
  });
});
await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
const receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/in`;

await autocannon({
  url: receiverUrl,
  method: 'POST',
  connections: 16,
  amount: captures,
  workers: 1,
  body,
});
const direct = received;
received = span();

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
  const taken = span();
  app.server.prependListener('request', (request, response) => {
    if (request.url?.startsWith('/h/')) response.once('finish', () => taken.mark());
  });
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
  await allDelivered;
  const endToEndMs = received.last - taken.first;
  // The receiver answers before the outbox commits the delivery as succeeded: wait for the last commits.
  const countSucceeded = () =>
    (
      app.database.sqlite
        .prepare("SELECT count(*) AS n FROM deliveries WHERE status = 'succeeded'")
        .get() as {
        n: number;
      }
    ).n;
  let succeeded = countSucceeded();
  for (let attempt = 0; attempt < 100 && succeeded < captures; attempt++) {
    await new Promise((resolve) => setTimeout(resolve, 50));
    succeeded = countSucceeded();
  }
  await app.close();
  console.log(
    `forwarding throughput, ${captures} captures of ~1 kB, local receiver, synchronous=${synchronous}`,
  );
  console.table({
    'receiver, direct (autocannon)': {
      perSecond: direct.perSecond(),
      seconds: ((direct.last - direct.first) / 1000).toFixed(2),
    },
    'captures taken in': {
      perSecond: taken.perSecond(),
      seconds: ((taken.last - taken.first) / 1000).toFixed(2),
    },
    'captured → forwarded (end to end)': {
      perSecond: Math.round(captures / (endToEndMs / 1000)),
      seconds: (endToEndMs / 1000).toFixed(2),
    },
  });
  console.log(`receiver got ${received.count}, deliveries recorded succeeded: ${succeeded}`);
} finally {
  receiver.close();
  rmSync(directory, { recursive: true, force: true });
}
