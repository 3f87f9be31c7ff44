import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certificateSample } from '../src/templates/certificate';
import { invoiceSample } from '../src/templates/invoice';
import { receiptSample } from '../src/templates/receipt';
import { darkestSquare, type Harness, pagesText, pdfTool, startHarness } from './harness';
import { startReceiver } from './receiver';

/** Asserts every font listed by `pdffonts` is embedded (its `emb` column says yes). */
function expectAllFontsEmbedded(pdf: Buffer) {
  const [header = '', rule = '', ...rows] = pdfTool('pdffonts', pdf).split('\n');
  const start = header.indexOf(' emb') + 1;
  expect(start, header).toBeGreaterThan(0);
  expect(rule).toMatch(/^-+/);
  const fonts = rows.filter((row) => row.trim() !== '');
  expect(fonts.length).toBeGreaterThan(0);
  for (const row of fonts) expect(row.slice(start, start + 3), `font not embedded: ${row}`).toBe('yes');
}

// CI installs Debian's chromium; a laptop without it still runs the 503 test below.
const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const hasChromium = existsSync(chromiumPath);

describe.runIf(hasChromium)('the Chromium engine', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ CHROMIUM_PATH: chromiumPath, CHROMIUM_PAGES: '1' });
  });
  afterAll(() => harness.close());

  it('renders a multi-page built-in invoice with repeated headers, page numbers and the bundled font', async () => {
    const { auth } = harness.account();
    const items = Array.from({ length: 90 }, (_, index) => ({
      description: `Line item number ${index + 1}`,
      quantity: 1,
      unitPrice: 10,
      vatRate: 20,
    }));
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'invoice', engine: 'chromium', data: { ...invoiceSample, items } },
    });
    expect(response.statusCode, response.body).toBe(200);
    const pdf = response.rawPayload;
    expect(pdfTool('qpdf', pdf)).toMatch(/No syntax or stream encoding errors/);
    const pages = pagesText(pdf);
    expect(pages.length).toBeGreaterThanOrEqual(2);
    pages.forEach((page, index) => {
      expect(page, `page ${index + 1}`).toMatch(/Description\s+Qty\s+Unit price\s+VAT\s+Amount/);
      expect(page, `page ${index + 1}`).toContain(`Page ${index + 1} of ${pages.length}`);
    });
    expect(pdfTool('pdffonts', pdf)).toMatch(/DejaVuSans/);
    expectAllFontsEmbedded(pdf);
  });

  it('draws the invoice QR code and the receipt Code 128 barcode on the page', async () => {
    const { auth } = harness.account();
    const render = (template: string, data: object) =>
      harness.app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: auth,
        payload: { template, engine: 'chromium', data },
      });
    const { paymentUrl: _, ...withoutQr } = invoiceSample;
    expect(darkestSquare((await render('invoice', invoiceSample)).rawPayload)).toBeGreaterThan(0.45);
    expect(darkestSquare((await render('invoice', withoutQr)).rawPayload)).toBeLessThan(0.4);
    expect(darkestSquare((await render('receipt', receiptSample)).rawPayload)).toBeGreaterThan(0.45);
  });

  it('renders the built-in certificate in landscape', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'certificate', engine: 'chromium', data: certificateSample },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(pdfTool('pdftotext', response.rawPayload)).toContain('Ada Lovelace');
    const info = pdfTool('pdfinfo', response.rawPayload);
    expect(info).toMatch(/Page size:\s+841\.9\d* x 59[45]\.\d+ pts/);
    expect(info).toMatch(/Pages:\s+1\n/);
  });

  it('relaunches the browser after it dies and renders the next document', async () => {
    const { auth } = harness.account();
    const render = () =>
      harness.app.inject({
        method: 'POST',
        url: '/v1/documents',
        headers: auth,
        payload: { template: 'receipt', engine: 'chromium', data: receiptSample },
      });
    expect((await render()).statusCode).toBe(200);
    const engine = harness.app.documint.chromium as unknown as { browser: { close(): Promise<void> } | null };
    await engine.browser?.close();
    const after = await render();
    expect(after.statusCode, after.body).toBe(200);
    expect(pdfTool('pdftotext', after.rawPayload)).toContain('R-000731');
    expect(harness.app.documint.chromium.relaunches).toBe(1);
  });

  it('renders an account HTML + Handlebars template and blocks network requests from it', async () => {
    const { auth } = harness.account();
    // A live receiver on an allowlisted host (OUTBOUND_ALLOWLIST=127.0.0.1): the page must still not reach it.
    const receiver = startReceiver();
    const base = await receiver.listen();
    const created = await harness.app.inject({
      method: 'POST',
      url: '/v1/templates',
      headers: auth,
      payload: {
        name: 'Letter',
        engine: 'chromium',
        source:
          `<html><head><link rel="stylesheet" href="${base}/style.css"><style>body { background: url("${base}/bg.png"); } ` +
          `@font-face { font-family: T; src: url("${base}/font.woff2"); } h1 { font-family: T; }</style></head>` +
          `<body><h1>Hello {{name}}</h1><img src="${base}/track.png"><iframe src="${base}/frame"></iframe>` +
          `<script>fetch("${base}/fetch")</script></body></html>`,
        schema: { type: 'object', required: ['name'], properties: { name: { type: 'string' } } },
      },
    });
    expect(created.statusCode, created.body).toBe(201);
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: created.json().id, version: 1, data: { name: '<Ada & Co>' } },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(pdfTool('pdftotext', response.rawPayload)).toContain('Hello <Ada & Co>');
    expectAllFontsEmbedded(response.rawPayload);
    await receiver.close();
    expect(receiver.received.map((request) => request.path)).toEqual([]);
    expect(receiver.connections.count, 'not even a preconnect reaches the host a template names').toBe(0);
  });
});

describe('without Chromium', () => {
  let harness: Harness;
  beforeAll(async () => {
    harness = await startHarness({ CHROMIUM_PATH: '/nonexistent/chromium' });
  });
  afterAll(() => harness.close());

  it('answers HTML renders with a 503 that says how to enable them, while Typst keeps working', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'invoice', engine: 'chromium', data: invoiceSample },
    });
    expect(response.statusCode).toBe(503);
    expect(response.json().error.message).toMatch(/apt-get install chromium|CHROMIUM_PATH/);
    const typst = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'invoice', data: invoiceSample },
    });
    expect(typst.statusCode).toBe(200);
  });
});
