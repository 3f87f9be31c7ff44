/**
 * A test-side check of a Factur-X / ZUGFeRD CII XML against the EN 16931 business rules that our output can
 * break, transcribed from CEN's CII schematron (OpenPEPPOL peppol-bis-invoice-3, rules/sch/CEN-EN16931-CII.sch),
 * plus the element order of the UN/CEFACT D16B schema for the aggregates we write. Not a replacement for
 * veraPDF / Mustang (not installed here): it checks presence, arithmetic and order, not code lists.
 */

export interface XmlNode {
  name: string;
  attributes: Record<string, string>;
  children: XmlNode[];
  text: string;
}

const decode = (text: string) =>
  text
    .replaceAll('&lt;', '<')
    .replaceAll('&gt;', '>')
    .replaceAll('&quot;', '"')
    .replaceAll('&apos;', "'")
    .replaceAll('&amp;', '&');

/** Enough of XML for generated CII: elements, attributes, text; no CDATA, comments or DTDs. */
export function parseXml(xml: string): XmlNode {
  const root: XmlNode = { name: '#document', attributes: {}, children: [], text: '' };
  const stack = [root];
  const token = /<\?[^?]*\?>|<(\/?)([\w:.-]+)((?:\s+[\w:.-]+="[^"]*")*)\s*(\/?)>|([^<]+)/g;
  for (const match of xml.matchAll(token)) {
    const [whole, closing, name, attributeText, selfClosing, text] = match;
    const current = stack.at(-1)!;
    if (whole.startsWith('<?')) continue;
    if (text !== undefined) {
      current.text += decode(text);
      continue;
    }
    if (closing) {
      if (current.name !== name) throw new Error(`</${name}> closes <${current.name}>`);
      stack.pop();
      continue;
    }
    const attributes: Record<string, string> = {};
    for (const [, key, value] of (attributeText ?? '').matchAll(/([\w:.-]+)="([^"]*)"/g))
      attributes[key!] = decode(value!);
    const node: XmlNode = { name: name!, attributes, children: [], text: '' };
    current.children.push(node);
    if (!selfClosing) stack.push(node);
  }
  if (stack.length !== 1) throw new Error(`<${stack.at(-1)!.name}> is never closed`);
  return root;
}

/** Every node reached by a `/`-separated path of element names from `from`. */
export function select(from: XmlNode, path: string): XmlNode[] {
  let nodes = [from];
  for (const step of path.split('/')) {
    nodes = nodes.flatMap((node) => node.children.filter((child) => child.name === step));
  }
  return nodes;
}

const first = (from: XmlNode, path: string) => select(from, path)[0];
const textOf = (from: XmlNode, path: string) => first(from, path)?.text.trim() ?? '';
const cents = (text: string) => Math.round(Number(text) * 100);
const sumCents = (nodes: XmlNode[]) => nodes.reduce((sum, node) => sum + cents(node.text), 0);

/** D16B element order for the aggregates DocuMint writes (the schema's xs:sequence, elements we use). */
const sequences: Record<string, string[]> = {
  'rsm:CrossIndustryInvoice': [
    'rsm:ExchangedDocumentContext',
    'rsm:ExchangedDocument',
    'rsm:SupplyChainTradeTransaction',
  ],
  'rsm:ExchangedDocument': ['ram:ID', 'ram:TypeCode', 'ram:IssueDateTime', 'ram:IncludedNote'],
  'rsm:SupplyChainTradeTransaction': [
    'ram:IncludedSupplyChainTradeLineItem',
    'ram:ApplicableHeaderTradeAgreement',
    'ram:ApplicableHeaderTradeDelivery',
    'ram:ApplicableHeaderTradeSettlement',
  ],
  'ram:ApplicableHeaderTradeAgreement': ['ram:BuyerReference', 'ram:SellerTradeParty', 'ram:BuyerTradeParty'],
  'ram:SellerTradeParty': [
    'ram:ID',
    'ram:Name',
    'ram:PostalTradeAddress',
    'ram:URIUniversalCommunication',
    'ram:SpecifiedTaxRegistration',
  ],
  'ram:ApplicableHeaderTradeDelivery': ['ram:ShipToTradeParty', 'ram:ActualDeliverySupplyChainEvent'],
  'ram:ApplicableHeaderTradeSettlement': [
    'ram:CreditorReferenceID',
    'ram:PaymentReference',
    'ram:TaxCurrencyCode',
    'ram:InvoiceCurrencyCode',
    'ram:PayeeTradeParty',
    'ram:SpecifiedTradeSettlementPaymentMeans',
    'ram:ApplicableTradeTax',
    'ram:BillingSpecifiedPeriod',
    'ram:SpecifiedTradeAllowanceCharge',
    'ram:SpecifiedTradePaymentTerms',
    'ram:SpecifiedTradeSettlementHeaderMonetarySummation',
  ],
  'ram:SpecifiedTradeSettlementPaymentMeans': [
    'ram:TypeCode',
    'ram:Information',
    'ram:PayeePartyCreditorFinancialAccount',
    'ram:PayeeSpecifiedCreditorFinancialInstitution',
  ],
  'ram:PayeePartyCreditorFinancialAccount': ['ram:IBANID', 'ram:AccountName', 'ram:ProprietaryID'],
  'ram:SpecifiedTradeAllowanceCharge': [
    'ram:ChargeIndicator',
    'ram:SequenceNumeric',
    'ram:CalculationPercent',
    'ram:BasisAmount',
    'ram:ActualAmount',
    'ram:ReasonCode',
    'ram:Reason',
    'ram:CategoryTradeTax',
  ],
  'ram:ApplicableTradeTax': [
    'ram:CalculatedAmount',
    'ram:TypeCode',
    'ram:ExemptionReason',
    'ram:BasisAmount',
    'ram:CategoryCode',
    'ram:RateApplicablePercent',
  ],
  'ram:SpecifiedTradePaymentTerms': ['ram:Description', 'ram:DueDateDateTime'],
  'ram:SpecifiedTradeSettlementHeaderMonetarySummation': [
    'ram:LineTotalAmount',
    'ram:ChargeTotalAmount',
    'ram:AllowanceTotalAmount',
    'ram:TaxBasisTotalAmount',
    'ram:TaxTotalAmount',
    'ram:RoundingAmount',
    'ram:GrandTotalAmount',
    'ram:TotalPrepaidAmount',
    'ram:DuePayableAmount',
  ],
};
sequences['ram:BuyerTradeParty'] = sequences['ram:SellerTradeParty']!;

function orderProblems(node: XmlNode, problems: string[]) {
  const sequence = sequences[node.name];
  if (sequence) {
    let last = -1;
    for (const child of node.children) {
      const index = sequence.indexOf(child.name);
      if (index === -1) problems.push(`order: ${child.name} is not expected in ${node.name}`);
      else if (index < last) problems.push(`order: ${child.name} comes too late in ${node.name}`);
      else last = index;
    }
  }
  for (const child of node.children) orderProblems(child, problems);
}

/** The rules broken by `xml`, as "<rule id>: <what>"; empty when it passes. */
export function en16931Problems(xml: string): string[] {
  const problems: string[] = [];
  const fail = (rule: string, message: string) => problems.push(`${rule}: ${message}`);
  const document = parseXml(xml);
  const invoice = first(document, 'rsm:CrossIndustryInvoice');
  if (!invoice) return ['not a CrossIndustryInvoice'];
  orderProblems(invoice, problems);
  const transaction = first(invoice, 'rsm:SupplyChainTradeTransaction')!;
  const agreement = 'ram:ApplicableHeaderTradeAgreement';
  const settlementPath = 'ram:ApplicableHeaderTradeSettlement';
  const settlement = first(transaction, settlementPath);
  const required: [string, XmlNode | undefined, string][] = [
    ['BR-01', invoice, 'rsm:ExchangedDocumentContext/ram:GuidelineSpecifiedDocumentContextParameter/ram:ID'],
    ['BR-02', invoice, 'rsm:ExchangedDocument/ram:ID'],
    ['BR-03', invoice, 'rsm:ExchangedDocument/ram:IssueDateTime/udt:DateTimeString'],
    ['BR-04', invoice, 'rsm:ExchangedDocument/ram:TypeCode'],
    ['BR-05', transaction, `${settlementPath}/ram:InvoiceCurrencyCode`],
    ['BR-06', transaction, `${agreement}/ram:SellerTradeParty/ram:Name`],
    ['BR-07', transaction, `${agreement}/ram:BuyerTradeParty/ram:Name`],
    ['BR-09', transaction, `${agreement}/ram:SellerTradeParty/ram:PostalTradeAddress/ram:CountryID`],
    ['BR-11', transaction, `${agreement}/ram:BuyerTradeParty/ram:PostalTradeAddress/ram:CountryID`],
  ];
  for (const [rule, from, path] of required) {
    if (!from || textOf(from, path) === '') fail(rule, `${path} is missing`);
  }
  if (!settlement) return [...problems, 'BR-05: no ApplicableHeaderTradeSettlement'];

  const lines = select(transaction, 'ram:IncludedSupplyChainTradeLineItem');
  if (lines.length === 0) fail('BR-16', 'no invoice line');
  lines.forEach((line, index) => {
    const at = `line ${index + 1}`;
    if (!textOf(line, 'ram:AssociatedDocumentLineDocument/ram:LineID')) fail('BR-21', `${at} has no LineID`);
    const quantity = first(line, 'ram:SpecifiedLineTradeDelivery/ram:BilledQuantity');
    if (!quantity?.text.trim()) fail('BR-22', `${at} has no quantity`);
    if (!quantity?.attributes.unitCode) fail('BR-23', `${at} has no unit code`);
    if (
      !textOf(
        line,
        'ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount',
      )
    )
      fail('BR-24', `${at} has no net amount`);
    if (!textOf(line, 'ram:SpecifiedTradeProduct/ram:Name')) fail('BR-25', `${at} has no item name`);
    if (!textOf(line, 'ram:SpecifiedLineTradeAgreement/ram:NetPriceProductTradePrice/ram:ChargeAmount'))
      fail('BR-26', `${at} has no net price`);
    if (!textOf(line, 'ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax/ram:CategoryCode'))
      fail('BR-CO-04', `${at} has no VAT category`);
  });

  const adjustments = select(settlement, 'ram:SpecifiedTradeAllowanceCharge');
  const isCharge = (node: XmlNode) => textOf(node, 'ram:ChargeIndicator/udt:Indicator') === 'true';
  const allowances = adjustments.filter((node) => !isCharge(node));
  const charges = adjustments.filter(isCharge);
  for (const [kind, list, amountRule, categoryRule, reasonRule] of [
    ['allowance', allowances, 'BR-31', 'BR-32', 'BR-33'],
    ['charge', charges, 'BR-36', 'BR-37', 'BR-38'],
  ] as const) {
    list.forEach((node, index) => {
      if (!textOf(node, 'ram:ActualAmount')) fail(amountRule, `${kind} ${index + 1} has no amount`);
      if (!textOf(node, 'ram:CategoryTradeTax/ram:CategoryCode'))
        fail(categoryRule, `${kind} ${index + 1} has no VAT category`);
      if (!textOf(node, 'ram:Reason') && !textOf(node, 'ram:ReasonCode'))
        fail(reasonRule, `${kind} ${index + 1} has no reason`);
    });
  }

  for (const means of select(settlement, 'ram:SpecifiedTradeSettlementPaymentMeans')) {
    const code = textOf(means, 'ram:TypeCode');
    if (!code) fail('BR-49', 'payment means without a type code');
    if (
      (code === '30' || code === '58') &&
      !textOf(means, 'ram:PayeePartyCreditorFinancialAccount/ram:IBANID')
    )
      fail('BR-61', `credit transfer (${code}) without a payment account identifier`);
  }

  const summation = first(settlement, 'ram:SpecifiedTradeSettlementHeaderMonetarySummation');
  if (!summation) return [...problems, 'BR-12: no monetary summation'];
  const amount = (name: string) => {
    const node = first(summation, `ram:${name}`);
    return node ? cents(node.text) : undefined;
  };
  const lineTotal = amount('LineTotalAmount');
  const taxBasis = amount('TaxBasisTotalAmount');
  const grandTotal = amount('GrandTotalAmount');
  const due = amount('DuePayableAmount');
  const taxTotal = amount('TaxTotalAmount') ?? 0;
  const allowanceTotal = amount('AllowanceTotalAmount');
  const chargeTotal = amount('ChargeTotalAmount');
  if (lineTotal === undefined) fail('BR-12', 'no LineTotalAmount');
  if (taxBasis === undefined) fail('BR-13', 'no TaxBasisTotalAmount');
  if (grandTotal === undefined) fail('BR-14', 'no GrandTotalAmount');
  if (due === undefined) fail('BR-15', 'no DuePayableAmount');
  const lineSum = sumCents(
    select(
      transaction,
      'ram:IncludedSupplyChainTradeLineItem/ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount',
    ),
  );
  if (lineTotal !== lineSum) fail('BR-CO-10', `LineTotalAmount ${lineTotal} ≠ Σ lines ${lineSum}`);
  const allowanceSum = sumCents(allowances.flatMap((node) => select(node, 'ram:ActualAmount')));
  const chargeSum = sumCents(charges.flatMap((node) => select(node, 'ram:ActualAmount')));
  if ((allowanceTotal ?? 0) !== allowanceSum || (allowances.length > 0 && allowanceTotal === undefined))
    fail('BR-CO-11', `AllowanceTotalAmount ${allowanceTotal} ≠ Σ allowances ${allowanceSum}`);
  if ((chargeTotal ?? 0) !== chargeSum || (charges.length > 0 && chargeTotal === undefined))
    fail('BR-CO-12', `ChargeTotalAmount ${chargeTotal} ≠ Σ charges ${chargeSum}`);
  if (taxBasis !== (lineTotal ?? 0) - (allowanceTotal ?? 0) + (chargeTotal ?? 0))
    fail('BR-CO-13', `TaxBasisTotalAmount ${taxBasis} ≠ lines − allowances + charges`);
  const breakdown = select(settlement, 'ram:ApplicableTradeTax');
  const calculatedSum = sumCents(breakdown.flatMap((node) => select(node, 'ram:CalculatedAmount')));
  if (taxTotal !== calculatedSum) fail('BR-CO-14', `TaxTotalAmount ${taxTotal} ≠ Σ VAT ${calculatedSum}`);
  if (grandTotal !== (taxBasis ?? 0) + taxTotal)
    fail('BR-CO-15', `GrandTotalAmount ${grandTotal} ≠ basis + VAT`);
  if (due !== grandTotal) fail('BR-CO-16', `DuePayableAmount ${due} ≠ GrandTotalAmount (nothing prepaid)`);
  if ((due ?? 0) > 0) {
    const terms = first(settlement, 'ram:SpecifiedTradePaymentTerms');
    if (
      !terms ||
      (!textOf(terms, 'ram:Description') && !textOf(terms, 'ram:DueDateDateTime/udt:DateTimeString'))
    )
      fail('BR-CO-25', 'an amount is due but there is neither a due date nor payment terms');
  }

  // BR-S-08 / BR-Z-08 and BR-S-09: each category and rate's basis, and its VAT at that rate.
  const key = (category: string, rate: string) => `${category}/${Number(rate)}`;
  const expectedBasis = new Map<string, number>();
  const addBasis = (k: string, value: number) => expectedBasis.set(k, (expectedBasis.get(k) ?? 0) + value);
  for (const line of lines) {
    const tax = first(line, 'ram:SpecifiedLineTradeSettlement/ram:ApplicableTradeTax')!;
    addBasis(
      key(textOf(tax, 'ram:CategoryCode'), textOf(tax, 'ram:RateApplicablePercent')),
      cents(
        textOf(
          line,
          'ram:SpecifiedLineTradeSettlement/ram:SpecifiedTradeSettlementLineMonetarySummation/ram:LineTotalAmount',
        ),
      ),
    );
  }
  for (const node of adjustments) {
    const k = key(
      textOf(node, 'ram:CategoryTradeTax/ram:CategoryCode'),
      textOf(node, 'ram:CategoryTradeTax/ram:RateApplicablePercent'),
    );
    addBasis(k, (isCharge(node) ? 1 : -1) * cents(textOf(node, 'ram:ActualAmount')));
  }
  const declared = new Set<string>();
  for (const tax of breakdown) {
    const category = textOf(tax, 'ram:CategoryCode');
    const rate = textOf(tax, 'ram:RateApplicablePercent');
    const k = key(category, rate);
    declared.add(k);
    const basis = cents(textOf(tax, 'ram:BasisAmount'));
    if (basis !== (expectedBasis.get(k) ?? 0))
      fail(
        `BR-${category}-08`,
        `basis of ${k} is ${basis}, lines and adjustments give ${expectedBasis.get(k)}`,
      );
    const vat = cents(textOf(tax, 'ram:CalculatedAmount'));
    if (vat !== Math.round((basis * Number(rate)) / 100))
      fail(`BR-${category}-09`, `VAT of ${k} is ${vat}, not ${rate}% of ${basis}`);
  }
  for (const k of expectedBasis.keys()) {
    if (!declared.has(k)) fail('BR-CO-18', `no VAT breakdown for ${k}`);
  }
  const usesSOrZ = [...expectedBasis.keys()].some((k) => k.startsWith('S/') || k.startsWith('Z/'));
  if (
    usesSOrZ &&
    !textOf(transaction, `${agreement}/ram:SellerTradeParty/ram:SpecifiedTaxRegistration/ram:ID`)
  )
    fail('BR-S-02', 'standard or zero rated VAT without the seller VAT identifier');

  // BR-DEC-*: amounts carry at most two decimals.
  const walk = (node: XmlNode) => {
    if (/Amount$/.test(node.name) && node.name !== 'ram:ChargeAmount' && /\.\d{3,}/.test(node.text))
      fail('BR-DEC', `${node.name} ${node.text} has more than 2 decimals`);
    node.children.forEach(walk);
  };
  walk(invoice);
  return problems;
}
