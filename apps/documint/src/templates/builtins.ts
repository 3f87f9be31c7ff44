import { type AssetSink, barcodeSvg } from '../rendering/assets';
import {
  type CertificateData,
  certificateHtml,
  certificateSample,
  certificateSchema,
  certificateTypst,
  certificateView,
} from './certificate';
import {
  type InvoiceData,
  invoiceHtml,
  invoiceHtmlChrome,
  invoiceSample,
  invoiceSchema,
  invoiceTypst,
  invoiceView,
} from './invoice';
import {
  type ReceiptData,
  receiptHtml,
  receiptSample,
  receiptSchema,
  receiptTypst,
  receiptView,
} from './receipt';

export const builtinNames = ['invoice', 'receipt', 'certificate'] as const;
export type BuiltinName = (typeof builtinNames)[number];

/** How Chromium lays out a page when the template itself does not say (CSS @page wins when it does). */
export interface ChromiumPageOptions {
  format?: 'A4' | 'Letter';
  margin?: { top: string; bottom: string; left: string; right: string };
  headerTemplate?: string;
  footerTemplate?: string;
}

export interface BuiltinTemplate {
  name: BuiltinName;
  description: string;
  schema: Record<string, unknown>;
  sample: unknown;
  typst: string;
  html: string;
  /** Turns validated data into what the templates print: amounts formatted, images and barcodes resolved. */
  view(data: unknown, assets: AssetSink): Promise<Record<string, unknown>>;
  chromiumPage(view: Record<string, unknown>): ChromiumPageOptions;
}

const pageNumberFooter =
  '<div style="font-size:7pt;color:#777;width:100%;text-align:center">Page <span class="pageNumber"></span> of <span class="totalPages"></span></div>';

export const builtins: Record<BuiltinName, BuiltinTemplate> = {
  invoice: {
    name: 'invoice',
    description: 'An invoice with line items, VAT per rate, totals, an optional logo and a payment QR code.',
    schema: invoiceSchema,
    sample: invoiceSample,
    typst: invoiceTypst,
    html: invoiceHtml,
    async view(data, assets) {
      const invoice = data as InvoiceData;
      const qr = invoice.paymentUrl ? assets.svg(await barcodeSvg('qrcode', invoice.paymentUrl)) : null;
      const logo = invoice.logo ? assets.image(invoice.logo) : null;
      return invoiceView(invoice, { logo, qr });
    },
    chromiumPage: (view) => ({
      format: view.paper === 'us-letter' ? 'Letter' : 'A4',
      margin: { top: '2.6cm', bottom: '2.4cm', left: '2cm', right: '2cm' },
      headerTemplate: invoiceHtmlChrome.header,
      footerTemplate: invoiceHtmlChrome.footer,
    }),
  },
  receipt: {
    name: 'receipt',
    description:
      'A till receipt on an 80 mm roll, VAT included, with the receipt number as a Code 128 barcode.',
    schema: receiptSchema,
    sample: receiptSample,
    typst: receiptTypst,
    html: receiptHtml,
    async view(data, assets) {
      const receipt = data as ReceiptData;
      return receiptView(receipt, assets.svg(await barcodeSvg('code128', receipt.number)));
    },
    chromiumPage: () => ({
      margin: { top: '8mm', bottom: '10mm', left: '5mm', right: '5mm' },
      footerTemplate: pageNumberFooter,
    }),
  },
  certificate: {
    name: 'certificate',
    description: 'A landscape certificate of achievement with an optional verification QR code.',
    schema: certificateSchema,
    sample: certificateSample,
    typst: certificateTypst,
    html: certificateHtml,
    async view(data, assets) {
      const certificate = data as CertificateData;
      const qr = certificate.verifyUrl ? assets.svg(await barcodeSvg('qrcode', certificate.verifyUrl)) : null;
      return certificateView(certificate, qr);
    },
    chromiumPage: () => ({ margin: { top: '1.5cm', bottom: '1.5cm', left: '1.5cm', right: '1.5cm' } }),
  },
};

export const isBuiltinName = (name: string): name is BuiltinName =>
  (builtinNames as readonly string[]).includes(name);
