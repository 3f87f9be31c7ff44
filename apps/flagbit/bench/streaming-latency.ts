/**
 * From an admin write (HTTP, real socket) to an SSE client on /api/client/streaming seeing the change:
 * 100 changes, one at a time; prints p50/p99/max, and a bare Fastify round trip for scale.
 * Run: npx tsx bench/streaming-latency.ts
 */
import Fastify from 'fastify';
import { startSeededFlagBit } from './fixtures';

const flagbit = await startSeededFlagBit();
const backend = await flagbit.token('backend');
const response = await fetch(`${flagbit.base}/api/client/streaming`, { headers: { authorization: backend } });
if (!response.body) throw new Error('no stream');
const reader = response.body.getReader();
const decoder = new TextDecoder();
let buffer = '';
const waiters: ((event: string) => void)[] = [];
void (async () => {
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffer += decoder.decode(value, { stream: true });
    let end = buffer.indexOf('\n\n');
    while (end >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.includes('event: unleash-updated')) waiters.shift()?.(block);
      end = buffer.indexOf('\n\n');
    }
  }
})();
const nextUpdate = () => new Promise<string>((resolve) => waiters.push(resolve));

const latencies: number[] = [];
for (let n = 0; n < 100; n++) {
  const seen = nextUpdate();
  const started = performance.now();
  const write = await fetch(`${flagbit.base}/api/admin/flags/flag-0/environments/development`, {
    method: 'PATCH',
    headers: { authorization: `Bearer ${flagbit.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ enabled: n % 2 === 1 }),
  });
  if (write.status !== 200) throw new Error(`write ${n}: ${write.status}`);
  await seen;
  latencies.push(performance.now() - started);
}

const bare = Fastify({ logger: false });
bare.patch('/bare', async () => ({ ok: true }));
await bare.listen({ host: '127.0.0.1', port: 0 });
const address = bare.server.address();
if (!address || typeof address === 'string') throw new Error('no address');
const bareLatencies: number[] = [];
for (let n = 0; n < 100; n++) {
  const started = performance.now();
  await (await fetch(`http://127.0.0.1:${address.port}/bare`, { method: 'PATCH' })).text();
  bareLatencies.push(performance.now() - started);
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
};
const show = (label: string, values: number[]) =>
  console.log(
    `${label.padEnd(44)} p50 ${percentile(values, 50).toFixed(2)} ms  p99 ${percentile(values, 99).toFixed(2)} ms  max ${Math.max(...values).toFixed(2)} ms`,
  );
show('admin write -> SSE client sees it (100 changes)', latencies);
show('bare Fastify PATCH round trip (100)', bareLatencies);
console.log('target: p99 <= 150 ms');
await reader.cancel();
await bare.close();
await flagbit.app.close();
