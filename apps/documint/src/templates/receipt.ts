import { formatMoney, formatNumber, toCents } from './money';

export interface ReceiptData {
  number: string;
  date: string;
  currency: string;
  merchant: { name: string; address?: string; vatId?: string };
  items: { description: string; quantity: number; unitPrice: number }[];
  vatRate?: number;
  paymentMethod?: string;
  footer?: string;
}

export const receiptSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Receipt',
  type: 'object',
  required: ['number', 'date', 'currency', 'merchant', 'items'],
  additionalProperties: false,
  properties: {
    number: { type: 'string', minLength: 1, maxLength: 40, description: 'printed as a Code 128 barcode' },
    date: { type: 'string', format: 'date' },
    currency: { type: 'string', pattern: '^[A-Z]{3}$' },
    merchant: {
      type: 'object',
      required: ['name'],
      additionalProperties: false,
      properties: {
        name: { type: 'string', minLength: 1, maxLength: 200 },
        address: { type: 'string', maxLength: 300 },
        vatId: { type: 'string', maxLength: 30 },
      },
    },
    items: {
      type: 'array',
      minItems: 1,
      maxItems: 500,
      items: {
        type: 'object',
        required: ['description', 'quantity', 'unitPrice'],
        additionalProperties: false,
        properties: {
          description: { type: 'string', minLength: 1, maxLength: 200 },
          quantity: { type: 'number', exclusiveMinimum: 0 },
          unitPrice: { type: 'number', minimum: 0 },
        },
      },
    },
    vatRate: { type: 'number', minimum: 0, maximum: 100, description: 'percent included in the prices' },
    paymentMethod: { type: 'string', maxLength: 100 },
    footer: { type: 'string', maxLength: 500 },
  },
};

export const receiptSample: ReceiptData = {
  number: 'R-000731',
  date: '2026-11-24',
  currency: 'EUR',
  merchant: { name: 'Café Typo', address: '3 place du Marché, 69001 Lyon', vatId: 'FR40303265045' },
  items: [
    { description: 'Espresso', quantity: 2, unitPrice: 2.2 },
    { description: 'Croissant', quantity: 1, unitPrice: 1.6 },
  ],
  vatRate: 10,
  paymentMethod: 'Card •••• 4242',
  footer: 'Thank you!',
};

export function receiptView(data: ReceiptData, barcode: string) {
  const money = (cents: number) => formatMoney(cents, data.currency);
  const lines = data.items.map((item) => ({
    description: item.description,
    quantity: formatNumber(item.quantity),
    amount: money(Math.round(item.quantity * toCents(item.unitPrice))),
    cents: Math.round(item.quantity * toCents(item.unitPrice)),
  }));
  const totalCents = lines.reduce((sum, line) => sum + line.cents, 0);
  const rate = data.vatRate ?? 0;
  // Prices include VAT: the VAT share is total × rate / (100 + rate).
  const vatCents = Math.round((totalCents * rate) / (100 + rate));
  return {
    number: data.number,
    date: data.date,
    merchant: {
      name: data.merchant.name,
      address: data.merchant.address ?? null,
      vatId: data.merchant.vatId ?? null,
    },
    lines: lines.map(({ cents: _cents, ...line }) => line),
    total: money(totalCents),
    vat: rate > 0 ? { rate: `${formatNumber(rate)}%`, amount: money(vatCents) } : null,
    paymentMethod: data.paymentMethod ?? null,
    footer: data.footer ?? null,
    barcode,
  };
}

export const receiptTypst = `
#let r = data
#set document(title: "Receipt " + r.number, author: r.merchant.name)
#set page(
  width: 80mm,
  height: auto,
  margin: (x: 5mm, y: 8mm),
  footer: context align(center, text(7pt)[Page #counter(page).display("1 of 1", both: true)]),
)
#set text(size: 9pt)
#align(center)[
  #text(12pt, weight: "bold")[#r.merchant.name] \\
  #if r.merchant.address != none [#r.merchant.address \\ ]
  #if r.merchant.vatId != none [VAT #r.merchant.vatId \\ ]
  Receipt #r.number · #r.date
]
#line(length: 100%, stroke: 0.4pt)
#table(
  columns: (1fr, auto, auto),
  stroke: none,
  inset: 2pt,
  align: (x, y) => if x == 0 { left } else { right },
  table.header([*Item*], [*Qty*], [*Amount*]),
  ..r.lines.map(l => (l.description, l.quantity, l.amount)).flatten(),
)
#line(length: 100%, stroke: 0.4pt)
#grid(columns: (1fr, auto), [*Total*], [*#r.total*])
#if r.vat != none [#grid(columns: (1fr, auto), [incl. VAT #r.vat.rate], r.vat.amount)]
#if r.paymentMethod != none [Paid by #r.paymentMethod]
#v(3mm)
#align(center, image(r.barcode, width: 50mm))
#if r.footer != none [#align(center)[#r.footer]]
`;

export const receiptHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Receipt {{number}}</title>
<style>
  @page { size: 80mm 200mm; }
  body { font-family: 'DejaVu Sans'; font-size: 9pt; margin: 0; }
  .c { text-align: center; }
  table { width: 100%; border-collapse: collapse; }
  td.n, th.n { text-align: right; }
  hr { border: 0; border-top: 0.4pt solid #000; }
</style></head>
<body>
<div class="c"><b style="font-size:12pt">{{merchant.name}}</b>{{#if merchant.address}}<br>{{merchant.address}}{{/if}}{{#if merchant.vatId}}<br>VAT {{merchant.vatId}}{{/if}}<br>Receipt {{number}} · {{date}}</div>
<hr>
<table><thead><tr><th style="text-align:left">Item</th><th class="n">Qty</th><th class="n">Amount</th></tr></thead>
<tbody>{{#each lines}}<tr><td>{{description}}</td><td class="n">{{quantity}}</td><td class="n">{{amount}}</td></tr>{{/each}}</tbody></table>
<hr>
<table><tr><td><b>Total</b></td><td class="n"><b>{{total}}</b></td></tr>
{{#if vat}}<tr><td>incl. VAT {{vat.rate}}</td><td class="n">{{vat.amount}}</td></tr>{{/if}}</table>
{{#if paymentMethod}}<p>Paid by {{paymentMethod}}</p>{{/if}}
<div class="c"><img src="{{barcode}}" style="width:50mm"></div>
{{#if footer}}<p class="c">{{footer}}</p>{{/if}}
</body></html>`;
