/**
 * GET /api/frontend with 21 flags and a random user id per request, next to a bare Fastify route answering a
 * constant JSON body, both measured in the same run with autocannon. Each server runs in its own process
 * (bench/serve.ts) so autocannon does not share its event loop.
 * Run: npx tsx bench/frontend.ts [seconds]
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import autocannon from 'autocannon';

const seconds = Number(process.argv[2] ?? 10);
const connections = 50;

async function serve(kind: 'flagbit' | 'bare', bareBody?: string) {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', new URL('./serve.ts', import.meta.url).pathname, kind],
    {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, ...(bareBody ? { BARE_BODY: bareBody } : {}) },
    },
  );
  const [line] = (await once(createInterface({ input: child.stdout! }), 'line')) as [string];
  return { child, info: JSON.parse(line) as { base: string; frontendToken?: string } };
}

async function load(url: string, headers: Record<string, string>, path: string) {
  const result = await autocannon({
    url,
    connections,
    duration: seconds,
    headers,
    requests: [
      {
        method: 'GET',
        // Both targets get the same random query, so the load generator does the same work for each.
        setupRequest: (request) => {
          request.path = `${path}?userId=u${Math.floor(Math.random() * 1e9)}&properties[country]=NO&properties[appVersion]=1.4.0`;
          return request;
        },
      },
    ],
  });
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
  };
}

const stop = async (child: ChildProcess) => {
  child.kill('SIGTERM');
  await once(child, 'exit');
};

console.log(
  `autocannon: ${connections} connections, ${seconds} s per target; 2-core machine shared with other work`,
);
const flagbit = await serve('flagbit');
const token = flagbit.info.frontendToken as string;
const typical = await (
  await fetch(`${flagbit.info.base}/api/frontend?userId=u1&properties[country]=NO`, {
    headers: { authorization: token },
  })
).text();
console.log(
  `FlagBit answers u1 with ${(JSON.parse(typical) as { toggles: unknown[] }).toggles.length} enabled of 21 flags (${typical.length} bytes); the bare route sends the same body`,
);
const frontend = await load(`${flagbit.info.base}/api/frontend`, { authorization: token }, '/api/frontend');
await stop(flagbit.child);
const bare = await serve('bare', typical);
const bareResult = await load(`${bare.info.base}/bare`, {}, '/bare');
await stop(bare.child);

const show = (label: string, r: typeof frontend) =>
  console.log(
    `${label.padEnd(34)} ${r.rps.toFixed(0).padStart(7)} req/s  p50 ${r.p50} ms  p99 ${r.p99} ms  non-2xx ${r.non2xx}  errors ${r.errors}`,
  );
show('bare Fastify route', bareResult);
show('FlagBit /api/frontend (21 flags)', frontend);
console.log(`ratio FlagBit / bare: ${(frontend.rps / bareResult.rps).toFixed(2)}`);
console.log('target: >= 25,000 req/s with p99 <= 10 ms');
