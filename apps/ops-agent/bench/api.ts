/**
 * Throughput of the agent's hot paths against a bare Fastify route measured in the same run:
 *   npx tsx bench/api.ts
 * - GET /audit/latest: admin token check, one SQLite read, the report serialised through its zod schema.
 * - POST /stripe/webhook: a freshly signed event per request, verified over the raw body with the stripe
 *   package, inbox + subscription + entitlement + outbox rows in one fsync'd transaction.
 * The machine is shared: figures are noisy; the ratio to the bare route is the number to compare.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Stripe } from '@studio/shared-billing/stripe';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';

const DURATION = Number(process.env.BENCH_SECONDS ?? 5);
const CONNECTIONS = 10;
const ADMIN = 'a'.repeat(48);
const WEBHOOK_SECRET = 'whsec_bench';

async function run(title: string, options: autocannon.Options) {
  const result = await autocannon({ duration: DURATION, connections: CONNECTIONS, ...options });
  const non2xx = result.non2xx + result.errors;
  console.log(
    `${title.padEnd(28)} ${Math.round(result.requests.average).toString().padStart(7)} req/s  p50 ${result.latency.p50} ms  p99 ${result.latency.p99} ms${non2xx ? `  (${non2xx} errors/non-2xx)` : ''}`,
  );
  return result.requests.average;
}

const bare = Fastify();
bare.get('/', async () => ({ ok: true }));
await bare.listen({ host: '127.0.0.1', port: 0 });

const dataDir = mkdtempSync(join(tmpdir(), 'ops-agent-bench-'));
const app = await buildApp(
  loadConfig({
    DATA_DIR: dataDir,
    INTERNAL_TOKEN: 'i'.repeat(48),
    OPS_ADMIN_TOKEN: ADMIN,
    OPS_VAULT_KEY: Buffer.alloc(32, 1).toString('base64'),
    SCHEDULER: 'false',
    STRIPE_SECRET_KEY: 'sk_test_bench',
    STRIPE_WEBHOOK_SECRET: WEBHOOK_SECRET,
    STRIPE_PRICES: JSON.stringify({ price_pro: { product: 'cronping', plan: 'pro' } }),
  }),
  { logger: false, startScheduler: false },
);
await app.listen({ host: '127.0.0.1', port: 0 });
await app.inject({ method: 'POST', url: '/audit', headers: { authorization: `Bearer ${ADMIN}` } });
const base = (server: { server: { address(): unknown } }) =>
  `http://127.0.0.1:${(server.server.address() as AddressInfo).port}`;

let sequence = 0;
const bareRate = await run('bare Fastify GET /', { url: `${base(bare)}/` });
const latestRate = await run('GET /audit/latest', {
  url: `${base(app)}/audit/latest`,
  headers: { authorization: `Bearer ${ADMIN}` },
});
const webhookRate = await run('POST /stripe/webhook', {
  url: `${base(app)}/stripe/webhook`,
  method: 'POST',
  requests: [
    {
      setupRequest: (request) => {
        sequence += 1;
        const payload = JSON.stringify({
          id: `evt_bench_${sequence}`,
          object: 'event',
          type: 'customer.subscription.updated',
          created: 1_700_000_000 + sequence,
          data: {
            object: {
              id: `sub_${sequence % 500}`,
              object: 'subscription',
              status: 'active',
              metadata: { product: 'cronping', accountId: `acct_${sequence % 500}` },
              items: { data: [{ price: { id: 'price_pro' } }] },
            },
          },
        });
        const signature = Stripe.webhooks.generateTestHeaderString({ payload, secret: WEBHOOK_SECRET });
        return {
          ...request,
          body: payload,
          headers: { 'content-type': 'application/json', 'stripe-signature': signature },
        };
      },
    },
  ],
});

console.log(
  `\nratio to bare: /audit/latest ${(latestRate / bareRate).toFixed(2)}, /stripe/webhook ${(webhookRate / bareRate).toFixed(2)}`,
);
await app.close();
await bare.close();
rmSync(dataDir, { recursive: true, force: true });
