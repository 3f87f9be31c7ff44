export interface CertificateData {
  recipient: string;
  title: string;
  description?: string;
  date: string;
  issuer: string;
  signatory?: string;
  certificateId: string;
  verifyUrl?: string;
}

export const certificateSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'Certificate',
  type: 'object',
  required: ['recipient', 'title', 'date', 'issuer', 'certificateId'],
  additionalProperties: false,
  properties: {
    recipient: { type: 'string', minLength: 1, maxLength: 200 },
    title: { type: 'string', minLength: 1, maxLength: 200 },
    description: { type: 'string', maxLength: 1000 },
    date: { type: 'string', format: 'date' },
    issuer: { type: 'string', minLength: 1, maxLength: 200 },
    signatory: { type: 'string', maxLength: 200 },
    certificateId: { type: 'string', minLength: 1, maxLength: 64 },
    verifyUrl: { type: 'string', format: 'uri', description: 'printed as a QR code' },
  },
};

export const certificateSample: CertificateData = {
  recipient: 'Ada Lovelace',
  title: 'Advanced Typesetting',
  description: 'for completing 40 hours of coursework with distinction',
  date: '2026-11-24',
  issuer: 'DocuMint Academy',
  signatory: 'Grace Hopper, Director',
  certificateId: 'CERT-7F3A-2026',
  verifyUrl: 'https://verify.example/CERT-7F3A-2026',
};

export function certificateView(data: CertificateData, qr: string | null) {
  return {
    recipient: data.recipient,
    title: data.title,
    description: data.description ?? null,
    date: data.date,
    issuer: data.issuer,
    signatory: data.signatory ?? null,
    certificateId: data.certificateId,
    verifyUrl: data.verifyUrl ?? null,
    qr,
  };
}

export const certificateTypst = `
#let c = data
#set document(title: "Certificate " + c.certificateId, author: c.issuer)
#set page(paper: "a4", flipped: true, margin: 1.5cm, footer: context align(center, text(7pt, fill: luma(120))[#c.certificateId · Page #counter(page).display("1 of 1", both: true)]))
#rect(width: 100%, height: 100%, stroke: 2pt + rgb("#1f4e79"), inset: 1.2cm)[
  #set align(center)
  #v(0.8cm)
  #text(28pt, weight: "bold", fill: rgb("#1f4e79"))[Certificate of Achievement]
  #v(0.6cm)
  #text(12pt)[This certifies that]
  #v(0.3cm)
  #text(24pt, font: "DejaVu Serif", style: "italic")[#c.recipient]
  #v(0.3cm)
  #text(12pt)[has successfully completed]
  #v(0.2cm)
  #text(16pt, weight: "bold")[#c.title]
  #if c.description != none [#v(0.2cm) #text(11pt)[#c.description]]
  #v(1fr)
  #grid(
    columns: (1fr, auto, 1fr),
    align: (left + bottom, center + bottom, right + bottom),
    [#c.date \\ #c.issuer],
    if c.qr != none { image(c.qr, width: 2.4cm) },
    [#if c.signatory != none [#line(length: 5cm, stroke: 0.5pt) #c.signatory]],
  )
]
`;

export const certificateHtml = `<!doctype html>
<html><head><meta charset="utf-8"><title>Certificate {{certificateId}}</title>
<style>
  @page { size: A4 landscape; }
  body { font-family: 'DejaVu Sans'; margin: 0; }
  .frame { box-sizing: border-box; border: 2pt solid #1f4e79; height: 170mm; padding: 1cm; text-align: center; position: relative; }
  h1 { color: #1f4e79; font-size: 28pt; margin: 0.6cm 0; }
  .name { font-family: 'DejaVu Serif'; font-style: italic; font-size: 24pt; }
  .bottom { position: absolute; bottom: 1cm; left: 1cm; right: 1cm; display: flex; justify-content: space-between; align-items: flex-end; }
</style></head>
<body><div class="frame">
<h1>Certificate of Achievement</h1>
<p>This certifies that</p><p class="name">{{recipient}}</p><p>has successfully completed</p>
<p style="font-size:16pt"><b>{{title}}</b></p>{{#if description}}<p>{{description}}</p>{{/if}}
<div class="bottom"><div style="text-align:left">{{date}}<br>{{issuer}}</div>
<div>{{#if qr}}<img src="{{qr}}" style="width:2.4cm">{{/if}}</div>
<div>{{#if signatory}}<div style="border-top:0.5pt solid #000;width:5cm;margin-left:auto"></div>{{signatory}}{{/if}}</div></div>
</div></body></html>`;
