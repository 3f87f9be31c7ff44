/**
 * Runs autocannon in its own process (spawned by ping-ingest.ts) so that the load generator does not share
 * the server's event loop. Reads {url, seconds, connections, paths} as JSON on argv[2]; prints the figures
 * as JSON on stdout.
 */
import autocannon from 'autocannon';

const { url, seconds, connections, paths } = JSON.parse(process.argv[2] ?? '{}') as {
  url: string;
  seconds: number;
  connections: number;
  paths: string[];
};
const result = await autocannon({
  url,
  connections,
  duration: seconds,
  requests: paths.map((path) => ({ method: 'GET' as const, path })),
});
process.stdout.write(
  JSON.stringify({
    requestsPerSecond: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  }),
);
