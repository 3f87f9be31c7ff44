import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { TypstPool, type TypstPoolOptions, TypstTemplateError } from '../src/engines/typst-pool';

const pools: TypstPool[] = [];
const directories: string[] = [];
afterEach(async () => {
  for (const pool of pools.splice(0)) await pool.close();
  for (const directory of directories.splice(0)) rmSync(directory, { recursive: true, force: true });
});

function pool(options: Partial<TypstPoolOptions>) {
  const workspace = mkdtempSync(join(tmpdir(), 'documint-pool-'));
  directories.push(workspace);
  const created = new TypstPool({
    workers: 1,
    maxDocumentsPerWorker: 1000,
    maxWorkerRssBytes: 1024 ** 3,
    timeoutMs: 20_000,
    maxQueue: 100,
    workspace,
    ...options,
  });
  pools.push(created);
  return created;
}

const job = (text: string) => ({
  source: `#set text(font: "DejaVu Sans")\n= ${text}`,
  inputs: {},
  files: [],
  timestamp: 0,
});

describe('the Typst worker pool', () => {
  it('replaces a worker after its maximum number of documents, keeping it until the replacement is ready', async () => {
    const typst = pool({ maxDocumentsPerWorker: 2 });
    await typst.render(job('one'));
    const [first] = typst.stats().workerPids;
    await typst.render(job('two'));
    await typst.replacementsSettled();
    const stats = typst.stats();
    expect(stats).toMatchObject({ workers: 1, recycled: 1, crashed: 0 });
    expect(stats.workerPids[0]).not.toBe(first);
    const output = await typst.render(job('three'));
    expect(output.pdf.subarray(0, 5).toString()).toBe('%PDF-');
  });

  it('replaces a worker whose memory passes the ceiling', async () => {
    const typst = pool({ maxWorkerRssBytes: 1 });
    await typst.render(job('one'));
    const [first] = typst.stats().workerPids;
    await typst.replacementsSettled();
    expect(typst.stats().recycled).toBe(1);
    expect(typst.stats().workerPids).not.toContain(first);
  });

  it('kills a document that runs past the timeout and keeps serving the next one', async () => {
    const typst = pool({ timeoutMs: 150 });
    const endless = {
      ...job('x'),
      source: '#let n = 0\n#for i in range(2000000000) { n = calc.rem(n + i, 7) }\n#n',
    };
    const failure = await typst.render(endless).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(TypstTemplateError);
    expect(failure).toMatchObject({ kind: 'timeout' });
    const next = await typst.render(job('after the timeout'));
    expect(next.pages).toBe(1);
  });

  it('renders documents in parallel across workers', async () => {
    const typst = pool({ workers: 2 });
    const outputs = await Promise.all(
      Array.from({ length: 6 }, (_, index) => typst.render(job(`Parallel ${index}`))),
    );
    expect(outputs.every((output) => output.pages === 1)).toBe(true);
    expect(typst.stats().documents).toBe(6);
  });
});
