/**
 * Factur-X needs XMP properties Typst does not write (fx:DocumentType, DocumentFileName, Version,
 * ConformanceLevel) plus their PDF/A extension-schema declaration. They are added by an incremental update:
 * a new revision of the metadata stream object and a one-entry xref section appended after the file, so no
 * byte of Typst's output moves (PDF/A-3 permits incremental updates). Typst writes a classic xref table and
 * an uncompressed XMP stream, which is what this relies on; anything else fails loudly.
 */

const FX_NAMESPACE = 'urn:factur-x:pdfa:CrossIndustryDocument:invoice:1p0#';

const property = (name: string, description: string) =>
  `<rdf:li rdf:parseType="Resource"><pdfaProperty:name>${name}</pdfaProperty:name><pdfaProperty:valueType>Text</pdfaProperty:valueType><pdfaProperty:category>external</pdfaProperty:category><pdfaProperty:description>${description}</pdfaProperty:description></rdf:li>`;

const schemaDeclaration = `<rdf:li rdf:parseType="Resource"><pdfaSchema:schema>Factur-X PDFA Extension Schema</pdfaSchema:schema><pdfaSchema:namespaceURI>${FX_NAMESPACE}</pdfaSchema:namespaceURI><pdfaSchema:prefix>fx</pdfaSchema:prefix><pdfaSchema:property><rdf:Seq>${[
  property('DocumentFileName', 'name of the embedded XML invoice file'),
  property('DocumentType', 'INVOICE'),
  property('Version', 'The actual version of the Factur-X XML schema'),
  property('ConformanceLevel', 'The conformance level of the embedded Factur-X data'),
].join('')}</rdf:Seq></pdfaSchema:property></rdf:li>`;

export class PdfStructureError extends Error {}

export function addFacturxXmp(pdf: Buffer, conformanceLevel = 'EN 16931'): Buffer {
  const text = pdf.toString('latin1');
  const metadata =
    /(\d+) 0 obj\s*<<(?:(?!>>)[\s\S])*?\/Type \/Metadata(?:(?!>>)[\s\S])*>>\s*stream\r?\n/.exec(text);
  if (!metadata?.[1]) throw new PdfStructureError('no uncompressed XMP metadata object found');
  const objectNumber = Number(metadata[1]);
  const streamStart = metadata.index + metadata[0].length;
  const streamEnd = text.indexOf('endstream', streamStart);
  if (streamEnd < 0) throw new PdfStructureError('the XMP metadata stream has no end');
  let xmp = pdf
    .subarray(streamStart, streamEnd)
    .toString('utf8')
    .replace(/\r?\n$/, '');
  if (!xmp.includes('</rdf:Bag></pdfaExtension:schemas>') || !xmp.includes('</rdf:RDF>')) {
    throw new PdfStructureError('the XMP metadata has no PDF/A extension schemas to extend');
  }
  xmp = xmp
    .replace('</rdf:Bag></pdfaExtension:schemas>', `${schemaDeclaration}</rdf:Bag></pdfaExtension:schemas>`)
    .replace(
      '</rdf:RDF>',
      `<rdf:Description rdf:about="" xmlns:fx="${FX_NAMESPACE}"><fx:DocumentType>INVOICE</fx:DocumentType><fx:DocumentFileName>factur-x.xml</fx:DocumentFileName><fx:Version>1.0</fx:Version><fx:ConformanceLevel>${conformanceLevel}</fx:ConformanceLevel></rdf:Description></rdf:RDF>`,
    );

  const startxref = /startxref\s+(\d+)\s+%%EOF\s*$/.exec(text);
  const trailer = text.lastIndexOf('trailer');
  if (!startxref?.[1] || trailer < 0) throw new PdfStructureError('no classic trailer found');
  const trailerDictionary = text.slice(trailer, text.indexOf('startxref', trailer));
  const size = /\/Size (\d+)/.exec(trailerDictionary)?.[1];
  const root = /\/Root (\d+ \d+ R)/.exec(trailerDictionary)?.[1];
  const info = /\/Info (\d+ \d+ R)/.exec(trailerDictionary)?.[1];
  const id = /\/ID\s*(\[[^\]]*\])/.exec(trailerDictionary)?.[1];
  if (!size || !root) throw new PdfStructureError('the trailer lacks /Size or /Root');

  const body = Buffer.from(xmp, 'utf8');
  const separator = pdf.at(-1) === 0x0a ? '' : '\n';
  const objectOffset = pdf.length + separator.length;
  const object = Buffer.concat([
    Buffer.from(
      `${separator}${objectNumber} 0 obj\n<<\n  /Length ${body.length}\n  /Type /Metadata\n  /Subtype /XML\n>>\nstream\n`,
      'latin1',
    ),
    body,
    Buffer.from('\nendstream\nendobj\n', 'latin1'),
  ]);
  const xrefOffset = pdf.length + object.length;
  const xref = Buffer.from(
    `xref\n${objectNumber} 1\n${String(objectOffset).padStart(10, '0')} 00000 n \ntrailer\n<<\n  /Size ${size}\n  /Root ${root}\n${info ? `  /Info ${info}\n` : ''}${id ? `  /ID ${id}\n` : ''}  /Prev ${startxref[1]}\n>>\nstartxref\n${xrefOffset}\n%%EOF\n`,
    'latin1',
  );
  return Buffer.concat([pdf, object, xref]);
}
