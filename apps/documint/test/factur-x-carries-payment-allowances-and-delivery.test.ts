import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type InvoiceData, invoiceSample } from '../src/templates/invoice';
import { en16931Problems, parseXml, select } from './en16931';
import { type Harness, pagesText, pdfTool, startHarness } from './harness';

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness();
});
afterAll(() => harness.close());

const render = (auth: { authorization: string }, data: unknown, format = 'factur-x') =>
  harness.app.inject({
    method: 'POST',
    url: '/v1/documents',
    headers: auth,
    payload: { template: 'invoice', data, format },
  });

/**
 * Lines 200.00 at 20 % and 50.00 at 10 %; a 20.00 allowance at 20 %; charges of 12.50 at 20 % and 5.00 at
 * 10 %. By hand: basis 20 % = 200 − 20 + 12.50 = 192.50 → VAT 38.50; basis 10 % = 50 + 5 = 55.00 → VAT
 * 5.50; total without VAT 250 − 20 + 17.50 = 247.50; VAT 44.00; grand total 291.50.
 */
const adjusted: InvoiceData = {
  ...invoiceSample,
  number: 'INV-2026-0100',
  items: [
    { description: 'Annual licence', quantity: 2, unitPrice: 100, vatRate: 20 },
    { description: 'Printed manual', quantity: 1, unitPrice: 50, vatRate: 10 },
  ],
  allowances: [{ reason: 'Loyalty discount', amount: 20, vatRate: 20 }],
  charges: [
    { reason: 'Shipping', amount: 12.5, vatRate: 20 },
    { reason: 'Packaging', amount: 5, vatRate: 10 },
  ],
  deliveryDate: '2026-11-18',
  payment: {
    iban: 'DE89370400440532013000',
    bic: 'COBADEFFXXX',
    accountName: 'Studio Mint SARL',
    reference: 'RF18 5390 0754 7034',
  },
};

function facturx(pdf: Buffer) {
  expect(pdfTool('qpdf', pdf)).toMatch(/No syntax or stream encoding errors/);
  return pdfTool('pdfdetach', pdf, ['-savefile', 'factur-x.xml']);
}

describe('Factur-X payment means, allowances, charges and delivery date', () => {
  it('writes them into the attached XML with totals that satisfy the EN 16931 rules', async () => {
    const { auth } = harness.account();
    const response = await render(auth, {
      ...adjusted,
      payment: { ...adjusted.payment!, reference: 'RF18539007547034' },
    });
    expect(response.statusCode, response.body).toBe(200);
    const xml = facturx(response.rawPayload);
    expect(en16931Problems(xml)).toEqual([]);
    const settlement = select(
      parseXml(xml),
      'rsm:CrossIndustryInvoice/rsm:SupplyChainTradeTransaction/ram:ApplicableHeaderTradeSettlement',
    )[0]!;
    const text = (path: string) => select(settlement, path).map((node) => node.text);
    expect(text('ram:PaymentReference')).toEqual(['RF18539007547034']);
    expect(text('ram:SpecifiedTradeSettlementPaymentMeans/ram:TypeCode'), 'SEPA credit transfer').toEqual([
      '58',
    ]);
    expect(
      text('ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:IBANID'),
    ).toEqual(['DE89370400440532013000']);
    expect(
      text('ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeePartyCreditorFinancialAccount/ram:AccountName'),
    ).toEqual(['Studio Mint SARL']);
    expect(
      text(
        'ram:SpecifiedTradeSettlementPaymentMeans/ram:PayeeSpecifiedCreditorFinancialInstitution/ram:BICID',
      ),
    ).toEqual(['COBADEFFXXX']);
    expect(
      select(settlement, 'ram:SpecifiedTradeAllowanceCharge').map((node) => ({
        charge: select(node, 'ram:ChargeIndicator/udt:Indicator')[0]!.text,
        amount: select(node, 'ram:ActualAmount')[0]!.text,
        reason: select(node, 'ram:Reason')[0]!.text,
        category: select(node, 'ram:CategoryTradeTax/ram:CategoryCode')[0]!.text,
        rate: select(node, 'ram:CategoryTradeTax/ram:RateApplicablePercent')[0]!.text,
      })),
    ).toEqual([
      { charge: 'false', amount: '20.00', reason: 'Loyalty discount', category: 'S', rate: '20' },
      { charge: 'true', amount: '12.50', reason: 'Shipping', category: 'S', rate: '20' },
      { charge: 'true', amount: '5.00', reason: 'Packaging', category: 'S', rate: '10' },
    ]);
    expect(
      select(settlement, 'ram:ApplicableTradeTax').map((node) => [
        select(node, 'ram:RateApplicablePercent')[0]!.text,
        select(node, 'ram:BasisAmount')[0]!.text,
        select(node, 'ram:CalculatedAmount')[0]!.text,
      ]),
    ).toEqual([
      ['10', '55.00', '5.50'],
      ['20', '192.50', '38.50'],
    ]);
    const summation = 'ram:SpecifiedTradeSettlementHeaderMonetarySummation';
    expect(select(settlement, summation)[0]!.children.map((node) => [node.name, node.text])).toEqual([
      ['ram:LineTotalAmount', '250.00'],
      ['ram:ChargeTotalAmount', '17.50'],
      ['ram:AllowanceTotalAmount', '20.00'],
      ['ram:TaxBasisTotalAmount', '247.50'],
      ['ram:TaxTotalAmount', '44.00'],
      ['ram:GrandTotalAmount', '291.50'],
      ['ram:DuePayableAmount', '291.50'],
    ]);
    expect(xml).toContain(
      '<ram:ApplicableHeaderTradeDelivery><ram:ActualDeliverySupplyChainEvent><ram:OccurrenceDateTime><udt:DateTimeString format="102">20261118</udt:DateTimeString>',
    );
  });

  it('prints the same figures, the bank details and the delivery date on the page', async () => {
    const { auth } = harness.account();
    const response = await render(auth, adjusted, 'pdf');
    expect(response.statusCode, response.body).toBe(200);
    const text = pagesText(response.rawPayload).join('\n');
    expect(text).toMatch(/Subtotal\s+250\.00 EUR/);
    expect(text).toMatch(/Loyalty discount \(VAT 20%\)\s+-20\.00 EUR/);
    expect(text).toMatch(/Shipping \(VAT 20%\)\s+12\.50 EUR/);
    expect(text).toMatch(/Net total\s+247\.50 EUR/);
    expect(text).toMatch(/VAT 20%\s+38\.50 EUR/);
    expect(text).toMatch(/VAT 10%\s+5\.50 EUR/);
    expect(text).toMatch(/Total due\s+291\.50 EUR/);
    expect(text).toContain('Delivered 2026-11-18');
    expect(text).toContain('IBAN: DE89 3704 0044 0532 0130 00');
    expect(text).toContain('BIC: COBADEFFXXX');
    expect(text).toContain('Payment reference: RF18 5390 0754 7034');
  });

  it('prints them through the Chromium engine too, from the same computed view', async () => {
    const { auth } = harness.account();
    const response = await harness.app.inject({
      method: 'POST',
      url: '/v1/documents',
      headers: auth,
      payload: { template: 'invoice', data: adjusted, engine: 'chromium' },
    });
    expect(response.statusCode, response.body).toBe(200);
    const text = pagesText(response.rawPayload).join('\n');
    expect(text).toMatch(/Loyalty discount \(VAT 20%\)\s+-20\.00 EUR/);
    expect(text).toMatch(/Net total\s+247\.50 EUR/);
    expect(text).toMatch(/Total due\s+291\.50 EUR/);
    expect(text).toContain('Delivered 2026-11-18');
    expect(text).toContain('IBAN: DE89 3704 0044 0532 0130 00');
  });

  it('keeps the sample invoice (no allowances, non-euro credit transfer) within the rules', async () => {
    const { auth } = harness.account();
    const sample = await render(auth, invoiceSample);
    expect(sample.statusCode, sample.body).toBe(200);
    const sampleXml = facturx(sample.rawPayload);
    expect(en16931Problems(sampleXml)).toEqual([]);
    expect(sampleXml).not.toContain('AllowanceTotalAmount');
    expect(sampleXml).toContain('<ram:TaxBasisTotalAmount>470.00</ram:TaxBasisTotalAmount>');

    const { dueDate: _dueDate, paymentTerms: _terms, ...rest } = adjusted;
    const chf = await render(auth, {
      ...rest,
      currency: 'CHF',
      paymentTerms: 'Net 10 days',
      items: [{ description: 'Consulting', quantity: 1, unitPrice: 100, vatRate: 0 }],
      allowances: [],
      charges: [],
    });
    expect(chf.statusCode, chf.body).toBe(200);
    const chfXml = facturx(chf.rawPayload);
    expect(en16931Problems(chfXml)).toEqual([]);
    expect(chfXml, 'a non-euro transfer is not SEPA').toContain(
      '<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>30</ram:TypeCode>',
    );
    expect(chfXml).toContain('<ram:CategoryCode>Z</ram:CategoryCode>');
  });

  it('refuses a wrong IBAN, an allowance larger than its rate, and what EN 16931 requires', async () => {
    const { auth } = harness.account();
    const badIban = await render(auth, { ...adjusted, payment: { iban: 'DE89370400440532013001' } }, 'pdf');
    expect(badIban.statusCode).toBe(422);
    expect(badIban.json().error.details).toEqual([
      { path: '/data/payment/iban', message: 'has wrong check digits' },
    ]);

    const tooLarge = await render(
      auth,
      { ...adjusted, allowances: [{ reason: 'Write-off', amount: 80, vatRate: 10 }] },
      'pdf',
    );
    expect(tooLarge.statusCode).toBe(422);
    expect(tooLarge.json().error.details).toEqual([
      { path: '/data/allowances/0', message: 'allowances at 10% exceed the lines and charges at that rate' },
    ]);

    const schema = await render(auth, { ...adjusted, charges: [{ reason: '', amount: -1 }] }, 'pdf');
    expect(schema.statusCode).toBe(422);
    expect(schema.json().error.details.map((detail: { path: string }) => detail.path)).toEqual(
      expect.arrayContaining(['/data/charges/0/reason', '/data/charges/0/amount', '/data/charges/0/vatRate']),
    );

    const { vatId: _vatId, ...seller } = adjusted.seller;
    const { dueDate: _dueDate, paymentTerms: _terms, ...undated } = adjusted;
    const missing = await render(auth, {
      ...undated,
      seller,
      items: [{ description: 'Export', quantity: 1, unitPrice: 10, vatRate: 0 }],
      allowances: [],
      charges: [],
    });
    expect(missing.statusCode).toBe(422);
    expect(missing.json().error.details).toEqual([
      {
        path: '/data/seller/vatId',
        message: 'is required for Factur-X, also for zero-rated lines (BR-Z-02)',
      },
      {
        path: '/data/dueDate',
        message: 'a due date or payment terms are required when an amount is due (BR-CO-25)',
      },
    ]);
  });

  it('has a rule check that notices broken totals, a missing IBAN and elements out of order', () => {
    // Guards the guard: the checker above must be able to fail.
    const good = `<?xml version="1.0"?><rsm:CrossIndustryInvoice><rsm:SupplyChainTradeTransaction><ram:ApplicableHeaderTradeSettlement><ram:InvoiceCurrencyCode>EUR</ram:InvoiceCurrencyCode><ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>58</ram:TypeCode></ram:SpecifiedTradeSettlementPaymentMeans><ram:PaymentReference>X</ram:PaymentReference><ram:SpecifiedTradeSettlementHeaderMonetarySummation><ram:LineTotalAmount>10.00</ram:LineTotalAmount><ram:TaxBasisTotalAmount>10.00</ram:TaxBasisTotalAmount><ram:GrandTotalAmount>12.00</ram:GrandTotalAmount><ram:DuePayableAmount>12.00</ram:DuePayableAmount></ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction></rsm:CrossIndustryInvoice>`;
    const rules = en16931Problems(good).map((problem) => problem.split(':')[0]);
    expect(rules).toEqual(
      expect.arrayContaining(['order', 'BR-61', 'BR-CO-10', 'BR-CO-15', 'BR-CO-25', 'BR-16', 'BR-02']),
    );
  });
});
