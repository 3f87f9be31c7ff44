/**
 * A server for the load benchmarks, in its own process so the load generator does not share its event loop:
 * `flagbit` starts a seeded FlagBit, `bare` a bare Fastify route. Prints one JSON line with where it listens.
 */
import Fastify from 'fastify';
import { startSeededFlagBit } from './fixtures';

const kind = process.argv[2];
if (kind === 'bare') {
  const bare = Fastify({ logger: false });
  // The same body FlagBit answers for a typical user (passed in by bench/frontend.ts), so both targets send
  // as many bytes and the comparison measures evaluation, not payload size.
  const body = process.env.BARE_BODY ?? '{"toggles":[]}';
  bare.get('/bare', async (_request, reply) => reply.type('application/json; charset=utf-8').send(body));
  await bare.listen({ host: '127.0.0.1', port: 0 });
  const address = bare.server.address();
  if (!address || typeof address === 'string') throw new Error('no address');
  console.log(JSON.stringify({ base: `http://127.0.0.1:${address.port}` }));
} else {
  const flagbit = await startSeededFlagBit();
  console.log(JSON.stringify({ base: flagbit.base, frontendToken: await flagbit.token('frontend') }));
}
process.on('SIGTERM', () => process.exit(0));
