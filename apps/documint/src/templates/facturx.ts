import type { InvoiceData, Party } from './invoice';
import { invoiceTotals } from './invoice';
import { fromCents } from './money';

/**
 * The EN 16931 (Factur-X "EN 16931" profile / ZUGFeRD 2.x COMFORT) Cross Industry Invoice for an invoice,
 * computed from the same totals the PDF prints. Element order follows the UN/CEFACT D16B schema, which
 * validators enforce.
 */

const escapeXml = (text: string) =>
  text.replace(
    /[<>&'"]/g,
    (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c]!,
  );

const date102 = (isoDate: string) => isoDate.replaceAll('-', '');
const quantity = (value: number) => String(Number(value.toFixed(4)));
const vatCategory = (rate: number) => (rate > 0 ? 'S' : 'Z');

function party(tag: string, p: Party): string {
  const address = p.address
    ? `<ram:PostalTradeAddress><ram:PostcodeCode>${escapeXml(p.address.postcode)}</ram:PostcodeCode><ram:LineOne>${escapeXml(p.address.line1)}</ram:LineOne>${p.address.line2 ? `<ram:LineTwo>${escapeXml(p.address.line2)}</ram:LineTwo>` : ''}<ram:CityName>${escapeXml(p.address.city)}</ram:CityName><ram:CountryID>${escapeXml(p.address.country)}</ram:CountryID></ram:PostalTradeAddress>`
    : '';
  const email = p.email
    ? `<ram:URIUniversalCommunication><ram:URIID schemeID="EM">${escapeXml(p.email)}</ram:URIID></ram:URIUniversalCommunication>`
    : '';
  const tax = p.vatId
    ? `<ram:SpecifiedTaxRegistration><ram:ID schemeID="VA">${escapeXml(p.vatId)}</ram:ID></ram:SpecifiedTaxRegistration>`
    : '';
  return `<ram:${tag}><ram:Name>${escapeXml(p.name)}</ram:Name>${address}${email}${tax}</ram:${tag}>`;
}

/** What EN 16931 needs beyond the invoice schema, as JSON pointers into the request body. */
export function facturxProblems(data: InvoiceData): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  if (!data.seller.address)
    problems.push({ path: '/data/seller/address', message: 'is required for Factur-X (BR-08)' });
  if (!data.buyer.address)
    problems.push({ path: '/data/buyer/address', message: 'is required for Factur-X (BR-10)' });
  // Every rate we write is category S (standard) or Z (zero rated); both need the seller's VAT id.
  const taxed = [...data.items, ...(data.allowances ?? []), ...(data.charges ?? [])].some(
    (entry) => (entry.vatRate ?? 0) > 0,
  );
  if (!data.seller.vatId) {
    problems.push({
      path: '/data/seller/vatId',
      message: taxed
        ? 'is required for Factur-X when VAT is charged (BR-S-02)'
        : 'is required for Factur-X, also for zero-rated lines (BR-Z-02)',
    });
  }
  if (!data.dueDate && !data.paymentTerms && invoiceTotals(data).grossCents > 0) {
    problems.push({
      path: '/data/dueDate',
      message: 'a due date or payment terms are required when an amount is due (BR-CO-25)',
    });
  }
  return problems;
}

export function facturxXml(data: InvoiceData): string {
  const totals = invoiceTotals(data);
  const currency = escapeXml(data.currency);
  const lines = totals.lines
    .map(
      (line) =>
        `<ram:IncludedSupplyChainTradeLineItem><ram:AssociatedDocumentLineDocument><ram:LineID>${line.position}</ram:LineID></ram:AssociatedDocumentLineDocument><ram:SpecifiedTradeProduct><ram:Name>${escapeXml(line.description)}</ram:Name></ram:SpecifiedTradeProduct><ram:SpecifiedLineTradeAgreement><ram:NetPriceProductTradePrice><ram:ChargeAmount>${line.unitPrice.toFixed(2)}</ram:ChargeAmount></ram:NetPriceProductTradePrice></ram:SpecifiedLineTradeAgreement><ram:SpecifiedLineTradeDelivery><ram:BilledQuantity unitCode="C62">${quantity(line.quantity)}</ram:BilledQuantity></ram:SpecifiedLineTradeDelivery><ram:SpecifiedLineTradeSettlement><ram:ApplicableTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>${vatCategory(line.vatRate)}</ram:CategoryCode><ram:RateApplicablePercent>${quantity(line.vatRate)}</ram:RateApplicablePercent></ram:ApplicableTradeTax><ram:SpecifiedTradeSettlementLineMonetarySummation><ram:LineTotalAmount>${fromCents(line.netCents)}</ram:LineTotalAmount></ram:SpecifiedTradeSettlementLineMonetarySummation></ram:SpecifiedLineTradeSettlement></ram:IncludedSupplyChainTradeLineItem>`,
    )
    .join('');
  const taxes = totals.vat
    .map(
      (entry) =>
        `<ram:ApplicableTradeTax><ram:CalculatedAmount>${fromCents(entry.amountCents)}</ram:CalculatedAmount><ram:TypeCode>VAT</ram:TypeCode><ram:BasisAmount>${fromCents(entry.basisCents)}</ram:BasisAmount><ram:CategoryCode>${vatCategory(entry.rate)}</ram:CategoryCode><ram:RateApplicablePercent>${quantity(entry.rate)}</ram:RateApplicablePercent></ram:ApplicableTradeTax>`,
    )
    .join('');
  const adjustment = (charge: boolean) => (entry: { reason: string; vatRate: number; amountCents: number }) =>
    `<ram:SpecifiedTradeAllowanceCharge><ram:ChargeIndicator><udt:Indicator>${charge}</udt:Indicator></ram:ChargeIndicator><ram:ActualAmount>${fromCents(entry.amountCents)}</ram:ActualAmount><ram:Reason>${escapeXml(entry.reason)}</ram:Reason><ram:CategoryTradeTax><ram:TypeCode>VAT</ram:TypeCode><ram:CategoryCode>${vatCategory(entry.vatRate)}</ram:CategoryCode><ram:RateApplicablePercent>${quantity(entry.vatRate)}</ram:RateApplicablePercent></ram:CategoryTradeTax></ram:SpecifiedTradeAllowanceCharge>`;
  const adjustments = [
    ...totals.allowances.map(adjustment(false)),
    ...totals.charges.map(adjustment(true)),
  ].join('');
  // BG-16 credit transfer: 58 is a SEPA credit transfer (euro only), 30 any other credit transfer (UNTDID 4461).
  const payment = data.payment;
  const paymentMeans = payment
    ? `<ram:SpecifiedTradeSettlementPaymentMeans><ram:TypeCode>${data.currency === 'EUR' ? '58' : '30'}</ram:TypeCode><ram:PayeePartyCreditorFinancialAccount><ram:IBANID>${escapeXml(payment.iban)}</ram:IBANID>${payment.accountName ? `<ram:AccountName>${escapeXml(payment.accountName)}</ram:AccountName>` : ''}</ram:PayeePartyCreditorFinancialAccount>${payment.bic ? `<ram:PayeeSpecifiedCreditorFinancialInstitution><ram:BICID>${escapeXml(payment.bic)}</ram:BICID></ram:PayeeSpecifiedCreditorFinancialInstitution>` : ''}</ram:SpecifiedTradeSettlementPaymentMeans>`
    : '';
  const paymentReference = payment?.reference
    ? `<ram:PaymentReference>${escapeXml(payment.reference)}</ram:PaymentReference>`
    : '';
  const delivery = data.deliveryDate
    ? `<ram:ApplicableHeaderTradeDelivery><ram:ActualDeliverySupplyChainEvent><ram:OccurrenceDateTime><udt:DateTimeString format="102">${date102(data.deliveryDate)}</udt:DateTimeString></ram:OccurrenceDateTime></ram:ActualDeliverySupplyChainEvent></ram:ApplicableHeaderTradeDelivery>`
    : '<ram:ApplicableHeaderTradeDelivery/>';
  const summation = [
    `<ram:LineTotalAmount>${fromCents(totals.netCents)}</ram:LineTotalAmount>`,
    totals.charges.length > 0
      ? `<ram:ChargeTotalAmount>${fromCents(totals.chargeCents)}</ram:ChargeTotalAmount>`
      : '',
    totals.allowances.length > 0
      ? `<ram:AllowanceTotalAmount>${fromCents(totals.allowanceCents)}</ram:AllowanceTotalAmount>`
      : '',
    `<ram:TaxBasisTotalAmount>${fromCents(totals.taxBasisCents)}</ram:TaxBasisTotalAmount>`,
    `<ram:TaxTotalAmount currencyID="${currency}">${fromCents(totals.vatCents)}</ram:TaxTotalAmount>`,
    `<ram:GrandTotalAmount>${fromCents(totals.grossCents)}</ram:GrandTotalAmount>`,
    `<ram:DuePayableAmount>${fromCents(totals.grossCents)}</ram:DuePayableAmount>`,
  ].join('');
  const terms =
    data.dueDate || data.paymentTerms
      ? `<ram:SpecifiedTradePaymentTerms>${data.paymentTerms ? `<ram:Description>${escapeXml(data.paymentTerms)}</ram:Description>` : ''}${data.dueDate ? `<ram:DueDateDateTime><udt:DateTimeString format="102">${date102(data.dueDate)}</udt:DateTimeString></ram:DueDateDateTime>` : ''}</ram:SpecifiedTradePaymentTerms>`
      : '';
  const notes = data.notes
    ? `<ram:IncludedNote><ram:Content>${escapeXml(data.notes)}</ram:Content></ram:IncludedNote>`
    : '';
  return `<?xml version="1.0" encoding="UTF-8"?>
<rsm:CrossIndustryInvoice xmlns:rsm="urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100" xmlns:qdt="urn:un:unece:uncefact:data:standard:QualifiedDataType:100" xmlns:ram="urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100" xmlns:udt="urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100">
<rsm:ExchangedDocumentContext><ram:GuidelineSpecifiedDocumentContextParameter><ram:ID>urn:cen.eu:en16931:2017</ram:ID></ram:GuidelineSpecifiedDocumentContextParameter></rsm:ExchangedDocumentContext>
<rsm:ExchangedDocument><ram:ID>${escapeXml(data.number)}</ram:ID><ram:TypeCode>380</ram:TypeCode><ram:IssueDateTime><udt:DateTimeString format="102">${date102(data.issueDate)}</udt:DateTimeString></ram:IssueDateTime>${notes}</rsm:ExchangedDocument>
<rsm:SupplyChainTradeTransaction>${lines}<ram:ApplicableHeaderTradeAgreement>${party('SellerTradeParty', data.seller)}${party('BuyerTradeParty', data.buyer)}</ram:ApplicableHeaderTradeAgreement>${delivery}<ram:ApplicableHeaderTradeSettlement>${paymentReference}<ram:InvoiceCurrencyCode>${currency}</ram:InvoiceCurrencyCode>${paymentMeans}${taxes}${adjustments}${terms}<ram:SpecifiedTradeSettlementHeaderMonetarySummation>${summation}</ram:SpecifiedTradeSettlementHeaderMonetarySummation></ram:ApplicableHeaderTradeSettlement></rsm:SupplyChainTradeTransaction>
</rsm:CrossIndustryInvoice>
`;
}
