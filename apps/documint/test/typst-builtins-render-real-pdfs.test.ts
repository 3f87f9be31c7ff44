import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { invoiceSample } from '../src/templates/invoice';
import { receiptSample } from '../src/templates/receipt';
import { darkestSquare, type Harness, pagesText, pdfTool, startHarness } from './harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const render = (auth: { authorization: string }, payload: Record<string, unknown>, accept?: string) =>
  harness.app.inject({
    method: 'POST',
    url: '/v1/documents',
    headers: { ...auth, ...(accept ? { accept } : {}) },
    payload,
  });

describe('built-in templates on the Typst engine', () => {
  it('renders the sample invoice as a valid PDF with the bundled font embedded', async () => {
    const { auth } = harness.account();
    const response = await render(auth, { template: 'invoice', data: invoiceSample });
    expect(response.statusCode, response.body).toBe(200);
    expect(response.headers['content-type']).toBe('application/pdf');
    const pdf = response.rawPayload;
    expect(pdf.subarray(0, 5).toString()).toBe('%PDF-');
    expect(pdfTool('qpdf', pdf)).toMatch(/No syntax or stream encoding errors/);
    const text = pagesText(pdf).join('\n');
    expect(text).toContain('INV-2026-0042');
    expect(text).toContain('Acme GmbH');
    expect(text).toMatch(/Total due\s+564\.00 EUR/);
    expect(text).toContain('Page 1 of 1');
    const fonts = pdfTool('pdffonts', pdf);
    expect(fonts).toMatch(/DejaVuSans\s/);
    for (const line of fonts.split('\n').slice(2).filter(Boolean)) {
      expect(line, `font not embedded: ${line}`).toMatch(/\byes\b/);
    }
  });

  it('repeats the table header and numbers every page of a multi-page invoice', async () => {
    const { auth } = harness.account();
    const items = Array.from({ length: 150 }, (_, index) => ({
      description: `Line item number ${index + 1}`,
      quantity: 1,
      unitPrice: 10,
      vatRate: 20,
    }));
    const response = await render(auth, { template: 'invoice', data: { ...invoiceSample, items } });
    expect(response.statusCode, response.body).toBe(200);
    const pages = pagesText(response.rawPayload);
    expect(pages.length).toBeGreaterThanOrEqual(3);
    pages.forEach((page, index) => {
      expect(page, `page ${index + 1}`).toMatch(/No\.\s+Description\s+Qty\s+Unit price\s+VAT\s+Amount/);
      expect(page, `page ${index + 1}`).toContain(`Page ${index + 1} of ${pages.length}`);
    });
    expect(pages.at(-1)).toMatch(/Total due\s+1,800\.00 EUR/);
  });

  it('renders the receipt and the certificate', async () => {
    const { auth } = harness.account();
    const receipt = await render(auth, {
      template: 'receipt',
      data: (await harness.app.inject({ method: 'GET', url: '/v1/templates/receipt', headers: auth })).json()
        .sample,
    });
    expect(receipt.statusCode, receipt.body).toBe(200);
    expect(pagesText(receipt.rawPayload).join('')).toMatch(/Total\s+6\.00 EUR/);
    const certificate = await render(auth, {
      template: 'certificate',
      data: (
        await harness.app.inject({ method: 'GET', url: '/v1/templates/certificate', headers: auth })
      ).json().sample,
    });
    expect(certificate.statusCode, certificate.body).toBe(200);
    expect(pagesText(certificate.rawPayload).join('')).toContain('Ada Lovelace');
    const info = pdfTool('pdfinfo', certificate.rawPayload);
    expect(info).toMatch(/Page size:\s+841\.89 x 595\.276 pts/);
    expect(info).toMatch(/Pages:\s+1\n/);
    expect(pdfTool('pdfinfo', receipt.rawPayload)).toMatch(/Pages:\s+1\n/);
  });

  it('draws the invoice QR code and the receipt Code 128 barcode on the page', async () => {
    const { auth } = harness.account();
    const { paymentUrl: _, ...withoutQr } = invoiceSample;
    const [withQr, noQr, receipt] = await Promise.all([
      render(auth, { template: 'invoice', data: invoiceSample }),
      render(auth, { template: 'invoice', data: withoutQr }),
      render(auth, { template: 'receipt', data: receiptSample }),
    ]);
    // Measured: ≈ 0.6 with the QR code, ≈ 0.65 with the barcode, ≈ 0.27 for the invoice text alone.
    expect(darkestSquare(withQr.rawPayload)).toBeGreaterThan(0.45);
    expect(darkestSquare(noQr.rawPayload)).toBeLessThan(0.4);
    expect(darkestSquare(receipt.rawPayload)).toBeGreaterThan(0.45);
  });

  it('sets the page size from the data and prints a logo given as a data URI', async () => {
    const { auth } = harness.account();
    const pixel =
      'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==';
    const response = await render(auth, {
      template: 'invoice',
      data: { ...invoiceSample, paper: 'us-letter', logo: pixel },
    });
    expect(response.statusCode, response.body).toBe(200);
    expect(pdfTool('pdfinfo', response.rawPayload)).toMatch(/Page size:\s+612 x 792 pts \(letter\)/);
  });

  it('answers 422 listing every invalid field with its JSON pointer, before rendering', async () => {
    const { auth } = harness.account();
    const response = await render(auth, {
      template: 'invoice',
      data: { ...invoiceSample, currency: 'euro', items: [{ description: '', quantity: -1 }], extra: true },
    });
    expect(response.statusCode).toBe(422);
    const body = response.json();
    expect(body.error.code).toBe('unprocessable');
    const paths = body.error.details.map((detail: { path: string }) => detail.path);
    expect(paths).toEqual(
      expect.arrayContaining([
        '/data/currency',
        '/data/items/0/description',
        '/data/items/0/quantity',
        '/data/items/0/unitPrice',
        '/data/extra',
      ]),
    );
  });

  it('serves the built-in schema and a sample the schema accepts', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({ method: 'GET', url: '/v1/templates/invoice', headers: auth });
    expect(response.statusCode).toBe(200);
    const body = response.json();
    expect(body.schema.required).toContain('items');
    const rendered = await render(auth, { template: 'invoice', data: body.sample });
    expect(rendered.statusCode, rendered.body).toBe(200);
  });

  it('refuses a request without a valid API key', async () => {
    const response = await render(
      { authorization: 'Bearer dm_nope' },
      { template: 'invoice', data: invoiceSample },
    );
    expect(response.statusCode).toBe(401);
  });
});

describe('PDF/A and Factur-X', () => {
  it('produces PDF/A-2b identified in the XMP metadata', async () => {
    const { auth } = harness.account();
    const response = await render(auth, { template: 'invoice', data: invoiceSample, format: 'pdf/a-2b' });
    expect(response.statusCode, response.body).toBe(200);
    const meta = pdfTool('pdfinfo', response.rawPayload, ['-meta']);
    expect(meta).toMatch(/pdfaid:part(="|>)2/);
    expect(meta).toMatch(/pdfaid:conformance(="|>)B/);
    expect(pdfTool('qpdf', response.rawPayload)).toMatch(/No syntax or stream encoding errors/);
  });

  it('produces a PDF/A-3b Factur-X invoice with the EN 16931 CII XML attached as factur-x.xml', async () => {
    const { auth } = harness.account();
    const response = await render(auth, { template: 'invoice', data: invoiceSample, format: 'factur-x' });
    expect(response.statusCode, response.body).toBe(200);
    const pdf = response.rawPayload;
    const meta = pdfTool('pdfinfo', pdf, ['-meta']);
    expect(meta).toMatch(/pdfaid:part(="|>)3/);
    expect(meta).toContain('<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>');
    expect(meta).toContain('<fx:DocumentFileName>factur-x.xml</fx:DocumentFileName>');
    expect(meta).toContain('<pdfaSchema:prefix>fx</pdfaSchema:prefix>');
    expect(pdfTool('qpdf', pdf)).toMatch(/No syntax or stream encoding errors/);
    expect(pdfTool('pdfdetach', pdf, ['-list'])).toMatch(/1: factur-x\.xml/);
    const xml = pdfTool('pdfdetach', pdf, ['-savefile', 'factur-x.xml']);
    expect(xml).toContain('<ram:ID>urn:cen.eu:en16931:2017</ram:ID>');
    expect(xml).toContain('<ram:ID>INV-2026-0042</ram:ID>');
    expect(xml).toContain('<ram:GrandTotalAmount>564.00</ram:GrandTotalAmount>');
    expect(xml).toContain('<ram:TaxTotalAmount currencyID="EUR">94.00</ram:TaxTotalAmount>');
    expect(xml).toContain('<ram:ID schemeID="VA">FR40303265045</ram:ID>');
  });

  it('refuses Factur-X for an invoice without what EN 16931 requires', async () => {
    const { auth } = harness.account();
    const { vatId: _vatId, ...seller } = invoiceSample.seller;
    const response = await render(auth, {
      template: 'invoice',
      data: { ...invoiceSample, seller },
      format: 'factur-x',
    });
    expect(response.statusCode).toBe(422);
    expect(response.json().error.details).toEqual([expect.objectContaining({ path: '/data/seller/vatId' })]);
  });
});
