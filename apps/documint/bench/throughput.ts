/**
 * Invoice throughput: the one-page built-in invoice through the whole API (key check, validation, render,
 * file write, SQLite commit with synchronous=FULL) on the Typst and the Chromium engines, next to
 *   - a direct page.pdf() of the same invoice HTML in one reused Chromium (no API, no storage), and
 *   - a bare Fastify route returning a small PDF-sized buffer,
 * all measured in the same run on the same machine.
 *
 *   npx tsx bench/throughput.ts                      # 15 s per target, 8 connections
 *   BENCH_SECONDS=30 BENCH_CONNECTIONS=16 TYPST_WORKERS=2 npx tsx bench/throughput.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import autocannon from 'autocannon';
import Fastify from 'fastify';
import Handlebars from 'handlebars';
import { chromium } from 'playwright-core';
import { buildApp } from '../src/app';
import { loadConfig } from '../src/config';
import { htmlAssetSink } from '../src/rendering/assets';
import { builtins } from '../src/templates/builtins';
import { invoiceSample } from '../src/templates/invoice';

const seconds = Number(process.env.BENCH_SECONDS ?? 15);
const connections = Number(process.env.BENCH_CONNECTIONS ?? 8);
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

interface Figures {
  perSecond: number;
  p50: number;
  p99: number;
  ok: number;
  failed: number;
}

async function load(url: string, body: string, keys: string[]): Promise<Figures> {
  let turn = 0;
  const result = await autocannon({
    url,
    method: 'POST',
    connections,
    duration: seconds,
    headers: { 'content-type': 'application/json' },
    body,
    // Keys in turn: each account's plan allows 3,000 requests a minute, so one key would be rate-limited.
    requests: [
      {
        setupRequest: (request) => {
          const key = keys.length > 0 ? keys[turn++ % keys.length] : undefined;
          return key
            ? { ...request, headers: { ...request.headers, authorization: `Bearer ${key}` } }
            : request;
        },
      },
    ],
  });
  return {
    // Only documents actually delivered count.
    perSecond: result['2xx'] / seconds,
    p50: result.latency.p50,
    p99: result.latency.p99,
    ok: result['2xx'],
    failed: result.non2xx + result.errors + result.timeouts,
  };
}

const bare = Fastify({ logger: false });
const fakePdf = Buffer.alloc(44_000, 1);
bare.post('/v1/documents', async (_request, reply) => reply.type('application/pdf').send(fakePdf));
await bare.listen({ host: '127.0.0.1', port: 0 });
const bareAddress = bare.server.address();
if (!bareAddress || typeof bareAddress === 'string') throw new Error('no address');

const dataDir = mkdtempSync(join(tmpdir(), 'documint-bench-'));
const app = await buildApp(
  loadConfig({
    INTERNAL_TOKEN: 'b'.repeat(64),
    DATA_DIR: dataDir,
    LOG_LEVEL: 'silent',
    TYPST_WORKERS: process.env.TYPST_WORKERS ?? '2',
    CHROMIUM_PAGES: process.env.CHROMIUM_PAGES ?? '4',
    CHROMIUM_PATH: chromiumPath,
  }),
  { logger: false },
);
await app.listen({ host: '127.0.0.1', port: 0 });
const address = app.server.address();
if (!address || typeof address === 'string') throw new Error('no address');
const base = `http://127.0.0.1:${address.port}`;
// Business plan accounts: 3,000 requests a minute each, so the load is spread over several.
const keys = Array.from(
  { length: 40 },
  (_, index) => app.billing.repository.createAccount(`bench-${index}@example.com`, 'business').apiKey,
);
const auth = { authorization: `Bearer ${keys[0]}` };

const typstBody = JSON.stringify({ template: 'invoice', data: invoiceSample });
const chromiumBody = JSON.stringify({ template: 'invoice', engine: 'chromium', data: invoiceSample });

// Warm both engines (worker processes, browser and pages) before measuring.
for (const body of [typstBody, chromiumBody]) {
  for (let index = 0; index < 8; index += 1) {
    const response = await fetch(`${base}/v1/documents`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...auth },
      body,
    });
    if (response.status !== 200)
      throw new Error(`warm-up failed: ${response.status} ${await response.text()}`);
    await response.arrayBuffer();
  }
}

const bareFigures = await load(`http://127.0.0.1:${bareAddress.port}/v1/documents`, typstBody, []);
const typstFigures = await load(`${base}/v1/documents`, typstBody, keys);
const chromiumFigures = await load(`${base}/v1/documents`, chromiumBody, keys);

// The same invoice HTML straight into page.pdf() in one reused browser, as many pages as the API uses.
const view = await builtins.invoice.view(invoiceSample, htmlAssetSink());
const html = Handlebars.compile(builtins.invoice.html)(view);
const pageOptions = builtins.invoice.chromiumPage(view);
const footer = Handlebars.compile(pageOptions.footerTemplate ?? '')(view);
const header = Handlebars.compile(pageOptions.headerTemplate ?? '')(view);
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
    '--no-first-run',
  ],
});
const pages = await Promise.all(
  Array.from({ length: Number(process.env.CHROMIUM_PAGES ?? 4) }, () => browser.newPage()),
);
let direct = 0;
const deadline = performance.now() + seconds * 1000;
await Promise.all(
  pages.map(async (page) => {
    while (performance.now() < deadline) {
      await page.setContent(html, { waitUntil: 'load' });
      await page.pdf({
        format: 'A4',
        margin: pageOptions.margin,
        printBackground: true,
        displayHeaderFooter: true,
        headerTemplate: header,
        footerTemplate: footer,
      });
      direct += 1;
    }
  }),
);
await browser.close();
const directPerSecond = direct / seconds;

const rows = [
  [
    'bare Fastify route (44 KB buffer)',
    bareFigures.perSecond,
    bareFigures.p50,
    bareFigures.p99,
    bareFigures.failed,
  ],
  ['API, Typst engine', typstFigures.perSecond, typstFigures.p50, typstFigures.p99, typstFigures.failed],
  [
    'API, Chromium engine',
    chromiumFigures.perSecond,
    chromiumFigures.p50,
    chromiumFigures.p99,
    chromiumFigures.failed,
  ],
  ['direct page.pdf(), reused Chromium', directPerSecond, Number.NaN, Number.NaN, 0],
] as const;
console.log(
  `\nDocuMint invoice throughput — ${seconds} s per target, ${connections} connections, ${app.documint.typst.stats().workers} Typst workers`,
);
console.log('target                                 docs/s    p50 ms   p99 ms   failed   vs bare');
for (const [name, perSecond, p50, p99, failed] of rows) {
  console.log(
    `${name.padEnd(38)} ${perSecond.toFixed(1).padStart(7)} ${Number.isNaN(p50) ? '       -' : String(p50).padStart(8)} ${Number.isNaN(p99) ? '       -' : String(p99).padStart(8)} ${String(failed).padStart(8)}   ${(perSecond / bareFigures.perSecond).toFixed(3)}`,
  );
}
console.log(
  `Typst API vs direct page.pdf(): ${(typstFigures.perSecond / directPerSecond).toFixed(2)}x; Chromium API vs direct: ${(chromiumFigures.perSecond / directPerSecond).toFixed(2)}x`,
);

await app.close();
await bare.close();
rmSync(dataDir, { recursive: true, force: true });
