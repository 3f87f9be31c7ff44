import { formatMoney, formatNumber, fromCents, toCents } from './money';

export interface Address {
  line1: string;
  line2?: string;
  city: string;
  postcode: string;
  country: string;
}

export interface Party {
  name: string;
  address?: Address;
  vatId?: string;
  email?: string;
}

/** A document-level allowance (a discount) or charge (freight, handling), taxed at its own VAT rate. */
export interface Adjustment {
  reason: string;
  amount: number;
  vatRate: number;
}

export interface PaymentDetails {
  iban: string;
  bic?: string;
  accountName?: string;
  /** What the buyer quotes with the transfer (EN 16931 BT-83, "remittance information"). */
  reference?: string;
}

export interface InvoiceData {
  number: string;
  issueDate: string;
  dueDate?: string;
  deliveryDate?: string;
  currency: string;
  paper?: 'a4' | 'us-letter';
  seller: Party;
  buyer: Party;
  items: { description: string; quantity: number; unitPrice: number; vatRate?: number }[];
  allowances?: Adjustment[];
  charges?: Adjustment[];
  payment?: PaymentDetails;
  notes?: string;
  paymentTerms?: string;
  paymentUrl?: string;
  logo?: string;
}

const addressSchema = {
  type: 'object',
  required: ['line1', 'city', 'postcode', 'country'],
  additionalProperties: false,
  properties: {
    line1: { type: 'string', minLength: 1, maxLength: 200 },
    line2: { type: 'string', maxLength: 200 },
    city: { type: 'string', minLength: 1, maxLength: 100 },
    postcode: { type: 'string', minLength: 1, maxLength: 20 },
    country: { type: 'string', pattern: '^[A-Z]{2}$', description: 'ISO 3166-1 alpha-2 code' },
  },
};

const partySchema = {
  type: 'object',
  required: ['name'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    address: addressSchema,
    vatId: { type: 'string', minLength: 3, maxLength: 30 },
    email: { type: 'string', format: 'email' },
  },
};

const adjustmentsSchema = (what: string) => ({
  type: 'array',
  maxItems: 50,
  description: `document-level ${what}, each taxed at its own VAT rate`,
  items: {
    type: 'object',
    required: ['reason', 'amount', 'vatRate'],
    additionalProperties: false,
    properties: {
      reason: { type: 'string', minLength: 1, maxLength: 200 },
      amount: { type: 'number', exclusiveMinimum: 0, description: 'net amount, without VAT' },
      vatRate: { type: 'number', minimum: 0, maximum: 100, description: 'percent' },
    },
  },
});

export const invoiceSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Invoice',
  type: 'object',
  required: ['number', 'issueDate', 'currency', 'seller', 'buyer', 'items'],
  additionalProperties: false,
  properties: {
    number: { type: 'string', minLength: 1, maxLength: 64 },
    issueDate: { type: 'string', format: 'date' },
    dueDate: { type: 'string', format: 'date' },
    deliveryDate: {
      type: 'string',
      format: 'date',
      description: 'when the goods or services were delivered',
    },
    currency: { type: 'string', pattern: '^[A-Z]{3}$', description: 'ISO 4217 code' },
    paper: { enum: ['a4', 'us-letter'], default: 'a4' },
    seller: partySchema,
    buyer: partySchema,
    items: {
      type: 'array',
      minItems: 1,
      maxItems: 2000,
      items: {
        type: 'object',
        required: ['description', 'quantity', 'unitPrice'],
        additionalProperties: false,
        properties: {
          description: { type: 'string', minLength: 1, maxLength: 500 },
          quantity: { type: 'number', exclusiveMinimum: 0 },
          unitPrice: { type: 'number', minimum: 0 },
          vatRate: { type: 'number', minimum: 0, maximum: 100, description: 'percent' },
        },
      },
    },
    allowances: adjustmentsSchema('allowances (discounts)'),
    charges: adjustmentsSchema('charges (freight, handling…)'),
    payment: {
      type: 'object',
      required: ['iban'],
      additionalProperties: false,
      description: 'credit transfer details',
      properties: {
        iban: { type: 'string', pattern: '^[A-Z]{2}[0-9]{2}[A-Z0-9]{11,30}$', description: 'without spaces' },
        bic: { type: 'string', pattern: '^[A-Z]{6}[A-Z0-9]{2}([A-Z0-9]{3})?$' },
        accountName: { type: 'string', minLength: 1, maxLength: 140 },
        reference: { type: 'string', minLength: 1, maxLength: 140 },
      },
    },
    notes: { type: 'string', maxLength: 2000 },
    paymentTerms: { type: 'string', maxLength: 500 },
    paymentUrl: { type: 'string', format: 'uri', description: 'printed as a QR code' },
    logo: { type: 'string', pattern: '^data:image/', description: 'a data URI (PNG, JPEG, GIF or SVG)' },
  },
};

export const invoiceSample: InvoiceData = {
  number: 'INV-2026-0042',
  issueDate: '2026-11-24',
  dueDate: '2026-12-24',
  currency: 'EUR',
  seller: {
    name: 'Studio Mint SARL',
    address: { line1: '12 rue des Imprimeurs', city: 'Lyon', postcode: '69002', country: 'FR' },
    vatId: 'FR40303265045',
    email: 'billing@studiomint.example',
  },
  buyer: {
    name: 'Acme GmbH',
    address: { line1: 'Hauptstraße 5', city: 'Berlin', postcode: '10115', country: 'DE' },
    vatId: 'DE123456789',
  },
  items: [
    { description: 'Document rendering, November', quantity: 1, unitPrice: 190, vatRate: 20 },
    { description: 'Template design (hours)', quantity: 3.5, unitPrice: 80, vatRate: 20 },
  ],
  deliveryDate: '2026-11-20',
  paymentTerms: 'Bank transfer within 30 days',
  payment: {
    iban: 'FR7630006000011234567890189',
    bic: 'AGRIFRPP',
    accountName: 'Studio Mint SARL',
    reference: 'INV-2026-0042',
  },
  paymentUrl: 'https://pay.example/INV-2026-0042',
};

export interface InvoiceTotals {
  lines: {
    position: number;
    description: string;
    quantity: number;
    unitPrice: number;
    vatRate: number;
    netCents: number;
  }[];
  /** Sum of the line net amounts (EN 16931 BT-106). */
  netCents: number;
  allowances: { reason: string; vatRate: number; amountCents: number }[];
  charges: { reason: string; vatRate: number; amountCents: number }[];
  allowanceCents: number;
  chargeCents: number;
  /** Lines − allowances + charges (BT-109): what VAT is computed on. */
  taxBasisCents: number;
  vat: { rate: number; basisCents: number; amountCents: number }[];
  vatCents: number;
  grossCents: number;
}

export function invoiceTotals(data: InvoiceData): InvoiceTotals {
  const lines = data.items.map((item, index) => ({
    position: index + 1,
    description: item.description,
    quantity: item.quantity,
    unitPrice: item.unitPrice,
    vatRate: item.vatRate ?? 0,
    netCents: Math.round(item.quantity * toCents(item.unitPrice)),
  }));
  const adjustments = (list: Adjustment[] | undefined) =>
    (list ?? []).map((entry) => ({
      reason: entry.reason,
      vatRate: entry.vatRate,
      amountCents: toCents(entry.amount),
    }));
  const allowances = adjustments(data.allowances);
  const charges = adjustments(data.charges);
  // The basis of each rate is its lines, minus its allowances, plus its charges (EN 16931 BR-S-08).
  const byRate = new Map<number, number>();
  const add = (rate: number, cents: number) => byRate.set(rate, (byRate.get(rate) ?? 0) + cents);
  for (const line of lines) add(line.vatRate, line.netCents);
  for (const allowance of allowances) add(allowance.vatRate, -allowance.amountCents);
  for (const charge of charges) add(charge.vatRate, charge.amountCents);
  // VAT per rate on the rate's basis (EN 16931 BR-CO-17), not summed per line, so rounding matches the XML.
  const vat = [...byRate]
    .sort(([a], [b]) => a - b)
    .map(([rate, basisCents]) => ({ rate, basisCents, amountCents: Math.round((basisCents * rate) / 100) }));
  const sum = (values: number[]) => values.reduce((total, value) => total + value, 0);
  const netCents = sum(lines.map((line) => line.netCents));
  const allowanceCents = sum(allowances.map((entry) => entry.amountCents));
  const chargeCents = sum(charges.map((entry) => entry.amountCents));
  const taxBasisCents = netCents - allowanceCents + chargeCents;
  const vatCents = sum(vat.map((entry) => entry.amountCents));
  return {
    lines,
    netCents,
    allowances,
    charges,
    allowanceCents,
    chargeCents,
    taxBasisCents,
    vat,
    vatCents,
    grossCents: taxBasisCents + vatCents,
  };
}

/** ISO 13616 check digits: the IBAN moved 4 characters, letters as numbers, mod 97 must be 1. */
function ibanChecksumValid(iban: string): boolean {
  const moved = `${iban.slice(4)}${iban.slice(0, 4)}`;
  let remainder = 0;
  for (const character of moved) {
    const digits = /[A-Z]/.test(character) ? String(character.charCodeAt(0) - 55) : character;
    for (const digit of digits) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

/**
 * What the schema cannot say about an invoice, for every format: a valid IBAN, and no VAT rate whose
 * allowances exceed its lines and charges (a negative basis would print a negative VAT amount).
 */
export function invoiceProblems(data: InvoiceData): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (data.payment && !ibanChecksumValid(data.payment.iban)) {
    problems.push({ path: '/data/payment/iban', message: 'has wrong check digits' });
  }
  const totals = invoiceTotals(data);
  for (const entry of totals.vat) {
    if (entry.basisCents >= 0) continue;
    const index = (data.allowances ?? []).findIndex((allowance) => allowance.vatRate === entry.rate);
    problems.push({
      path: `/data/allowances/${Math.max(index, 0)}`,
      message: `allowances at ${formatNumber(entry.rate)}% exceed the lines and charges at that rate`,
    });
  }
  return problems;
}

/** "FR76 3000 6000 0112 3456 7890 189": how an IBAN is printed (EN 16931 keeps it without spaces). */
const groupIban = (iban: string) => iban.replace(/(.{4})(?=.)/g, '$1 ');

const partyLines = (party: Party) => [
  ...(party.address
    ? [
        party.address.line1,
        ...(party.address.line2 ? [party.address.line2] : []),
        `${party.address.postcode} ${party.address.city}`,
        party.address.country,
      ]
    : []),
  ...(party.vatId ? [`VAT ${party.vatId}`] : []),
  ...(party.email ? [party.email] : []),
];

/** What both engines' invoice templates print: every amount formatted once, here. */
export function invoiceView(data: InvoiceData, assets: { logo: string | null; qr: string | null }) {
  const totals = invoiceTotals(data);
  const money = (cents: number) => formatMoney(cents, data.currency);
  return {
    paper: data.paper ?? 'a4',
    number: data.number,
    issueDate: data.issueDate,
    dueDate: data.dueDate ?? null,
    deliveryDate: data.deliveryDate ?? null,
    seller: { name: data.seller.name, lines: partyLines(data.seller) },
    buyer: { name: data.buyer.name, lines: partyLines(data.buyer) },
    lines: totals.lines.map((line) => ({
      position: String(line.position),
      description: line.description,
      quantity: formatNumber(line.quantity),
      unitPrice: money(toCents(line.unitPrice)),
      vatRate: `${formatNumber(line.vatRate)}%`,
      amount: money(line.netCents),
    })),
    totals: {
      net: money(totals.netCents),
      /** Subtotal, allowances, charges, net total and VAT per rate, in print order, for both engines. */
      rows: [
        { label: 'Subtotal', amount: money(totals.netCents) },
        ...totals.allowances.map((entry) => ({
          label: `${entry.reason} (VAT ${formatNumber(entry.vatRate)}%)`,
          amount: money(-entry.amountCents),
        })),
        ...totals.charges.map((entry) => ({
          label: `${entry.reason} (VAT ${formatNumber(entry.vatRate)}%)`,
          amount: money(entry.amountCents),
        })),
        ...(totals.allowances.length + totals.charges.length > 0
          ? [{ label: 'Net total', amount: money(totals.taxBasisCents) }]
          : []),
        ...totals.vat.map((entry) => ({
          label: `VAT ${formatNumber(entry.rate)}%`,
          amount: money(entry.amountCents),
        })),
      ],
      vat: totals.vat.map((entry) => ({
        rate: `${formatNumber(entry.rate)}%`,
        amount: money(entry.amountCents),
      })),
      gross: money(totals.grossCents),
      grossPlain: fromCents(totals.grossCents),
    },
    notes: data.notes ?? null,
    paymentTerms: data.paymentTerms ?? null,
    payment: data.payment
      ? {
          lines: [
            ...(data.payment.accountName ? [`Account holder: ${data.payment.accountName}`] : []),
            `IBAN: ${groupIban(data.payment.iban)}`,
            ...(data.payment.bic ? [`BIC: ${data.payment.bic}`] : []),
            ...(data.payment.reference ? [`Payment reference: ${data.payment.reference}`] : []),
          ],
        }
      : null,
    paymentUrl: data.paymentUrl ?? null,
    logo: assets.logo,
    qr: assets.qr,
  };
}

export const invoiceTypst = `
#let inv = data
#set document(title: "Invoice " + inv.number, author: inv.seller.name)
#set page(
  paper: inv.paper,
  margin: (x: 2cm, top: 2.6cm, bottom: 2.4cm),
  header: context [
    #set text(8pt, fill: luma(110))
    #inv.seller.name #h(1fr) Invoice #inv.number
  ],
  footer: context [
    #set text(8pt, fill: luma(110))
    #h(1fr) Page #counter(page).display("1 of 1", both: true)
  ],
)
#let party(p) = [*#p.name* \\ #for line in p.lines [#line \\ ]]
#grid(
  columns: (1fr, 1fr),
  gutter: 1cm,
  [
    #if inv.logo != none [#image(inv.logo, height: 1.4cm)]
    #text(18pt, weight: "bold")[INVOICE] \\
    No. #inv.number \\
    Issued #inv.issueDate
    #if inv.dueDate != none [\\ Due #inv.dueDate]
    #if inv.deliveryDate != none [\\ Delivered #inv.deliveryDate]
  ],
  align(right, party(inv.seller)),
)
#v(0.6cm)
#text(weight: "bold")[Bill to] \\
#party(inv.buyer)
#v(0.4cm)
#table(
  columns: (auto, 1fr, auto, auto, auto, auto),
  stroke: (x, y) => if y == 0 { (bottom: 0.7pt) } else { (bottom: 0.3pt + luma(200)) },
  align: (x, y) => if x >= 2 { right } else { left },
  table.header([*No.*], [*Description*], [*Qty*], [*Unit price*], [*VAT*], [*Amount*]),
  ..inv.lines.map(l => (l.position, l.description, l.quantity, l.unitPrice, l.vatRate, l.amount)).flatten(),
)
#align(right, table(
  columns: 2,
  stroke: none,
  align: right,
  ..inv.totals.rows.map(r => (r.label, r.amount)).flatten(),
  [*Total due*], [*#inv.totals.gross*],
))
#if inv.paymentTerms != none [#inv.paymentTerms \\ ]
#if inv.payment != none [
  #v(0.2cm)
  *Payment by bank transfer* \\
  #for line in inv.payment.lines [#line \\ ]
]
#if inv.notes != none [#inv.notes]
#if inv.qr != none [
  #v(0.4cm)
  #grid(columns: (auto, 1fr), gutter: 0.5cm, image(inv.qr, width: 2.6cm), align(horizon)[Scan to pay \\ #inv.paymentUrl])
]
`;

export const invoiceHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Invoice {{number}}</title>
<style>
  body { font-family: 'DejaVu Sans'; font-size: 10pt; color: #111; }
  .top { display: flex; justify-content: space-between; }
  h1 { font-size: 18pt; margin: 0 0 4px; }
  table.lines { width: 100%; border-collapse: collapse; margin-top: 14px; }
  table.lines th { text-align: left; border-bottom: 0.7pt solid #000; padding: 4px; }
  table.lines td { border-bottom: 0.3pt solid #ccc; padding: 4px; }
  table.lines tr { break-inside: avoid; }
  table.lines .num { text-align: right; }
  table.totals { margin-left: auto; margin-top: 8px; }
  table.totals td { text-align: right; padding: 2px 4px; }
</style></head>
<body>
<div class="top">
  <div>{{#if logo}}<img src="{{logo}}" style="height:1.4cm"><br>{{/if}}<h1>INVOICE</h1>No. {{number}}<br>Issued {{issueDate}}{{#if dueDate}}<br>Due {{dueDate}}{{/if}}{{#if deliveryDate}}<br>Delivered {{deliveryDate}}{{/if}}</div>
  <div style="text-align:right"><b>{{seller.name}}</b>{{#each seller.lines}}<br>{{this}}{{/each}}</div>
</div>
<p><b>Bill to</b><br><b>{{buyer.name}}</b>{{#each buyer.lines}}<br>{{this}}{{/each}}</p>
<table class="lines">
  <thead><tr><th>No.</th><th>Description</th><th class="num">Qty</th><th class="num">Unit price</th><th class="num">VAT</th><th class="num">Amount</th></tr></thead>
  <tbody>{{#each lines}}<tr><td>{{position}}</td><td>{{description}}</td><td class="num">{{quantity}}</td><td class="num">{{unitPrice}}</td><td class="num">{{vatRate}}</td><td class="num">{{amount}}</td></tr>{{/each}}</tbody>
</table>
<table class="totals">
  {{#each totals.rows}}<tr><td>{{label}}</td><td>{{amount}}</td></tr>{{/each}}
  <tr><td><b>Total due</b></td><td><b>{{totals.gross}}</b></td></tr>
</table>
{{#if paymentTerms}}<p>{{paymentTerms}}</p>{{/if}}
{{#if payment}}<p><b>Payment by bank transfer</b>{{#each payment.lines}}<br>{{this}}{{/each}}</p>{{/if}}
{{#if notes}}<p>{{notes}}</p>{{/if}}
{{#if qr}}<div style="display:flex;gap:12px;align-items:center"><img src="{{qr}}" style="width:2.6cm">Scan to pay<br>{{paymentUrl}}</div>{{/if}}
</body></html>`;

export const invoiceHtmlChrome = {
  header:
    '<div style="font-size:8pt;color:#666;width:100%;margin:0 2cm;display:flex;justify-content:space-between"><span>{{seller.name}}</span><span>Invoice {{number}}</span></div>',
  footer:
    '<div style="font-size:8pt;color:#666;width:100%;margin:0 2cm;text-align:right">Page <span class="pageNumber"></span> of <span class="totalPages"></span></div>',
};
