// One Typst compiler in its own process. Plain JavaScript so the pool can fork it the same way from the
// sources (tests, tsx) and from the bundle (dist/typst-worker.js), without a TypeScript loader.
//
// Protocol (advanced IPC serialization, so Buffers cross as bytes):
//   parent → { id, source, inputs, files: [[path, Uint8Array]], pdfStandard, timestamp }
//   worker → { id, ok: true, pdf, pages, rss } | { id, ok: false, kind, message, rss }
import { readFileSync } from 'node:fs';
import { NodeCompiler } from '@myriaddreamin/typst-ts-node-compiler';

const fontFiles = JSON.parse(process.env.DOCUMINT_TYPST_FONTS ?? '[]');
const workspace = process.env.DOCUMINT_TYPST_WORKSPACE ?? '/nonexistent-documint-workspace';

// Fonts are loaded from the app's own package as blobs: output never depends on the machine's fonts.
const compiler = NodeCompiler.create({
  workspace,
  fontArgs: [{ fontBlobs: fontFiles.map((file) => readFileSync(file)) }],
});

function describeDiagnostics(error) {
  const diagnostics = error?.shortDiagnostics ?? [];
  const lines = diagnostics
    .map((d) => (typeof d === 'object' && d && 'message' in d ? String(d.message) : String(d)))
    .slice(0, 5);
  return lines.length > 0 ? lines.join('; ') : 'the template did not compile';
}

function render(job) {
  compiler.resetShadow();
  // Shadow files live in the (empty) workspace; the template sees them at /assets/…, /factur-x.xml.
  for (const [path, content] of job.files ?? []) compiler.mapShadow(workspace + path, Buffer.from(content));
  const result = compiler.compile({ mainFileContent: job.source, inputs: job.inputs });
  const error = result.takeError();
  const document = result.result;
  if (error || !document) return { ok: false, kind: 'template', message: describeDiagnostics(error) };
  let pdf;
  try {
    pdf = compiler.pdf(document, {
      ...(job.pdfStandard ? { pdfStandard: job.pdfStandard } : {}),
      creationTimestamp: job.timestamp,
    });
  } catch (exportError) {
    const text = String(exportError?.message ?? exportError);
    const messages = [...text.matchAll(/message: "([^"]*)"/g)].map((m) => m[1]);
    return { ok: false, kind: 'export', message: messages.length > 0 ? messages.join('; ') : text };
  }
  // Memoized results of earlier documents are dropped as they age, so a long-lived worker keeps a bounded
  // cache; the pool still recycles the whole process as the backstop.
  compiler.evictCache(10);
  return { ok: true, pdf, pages: document.numOfPages };
}

process.on('message', (job) => {
  let answer;
  try {
    answer = render(job);
  } catch (error) {
    answer = { ok: false, kind: 'crash', message: String(error?.message ?? error) };
  }
  process.send({ id: job.id, ...answer, rss: process.memoryUsage().rss });
});

// The API process is gone (crashed or killed): nothing will ever ask this worker for work again.
process.on('disconnect', () => process.exit(0));

process.send({ ready: true });
