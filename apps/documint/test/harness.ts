import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { type BuildOptions, buildApp } from '../src/app';
import { loadConfig } from '../src/config';

export interface TestClock {
  now: () => Date;
  advance(ms: number): void;
}

export function testClock(start = '2026-11-24T10:00:00.000Z'): TestClock {
  let current = new Date(start).getTime();
  return {
    now: () => new Date(current),
    advance: (ms) => {
      current += ms;
    },
  };
}

export interface Harness {
  app: FastifyInstance;
  clock: TestClock;
  dataDir: string;
  /** A new account on `plan`; returns its key and id. */
  account(plan?: 'free' | 'pro' | 'business'): {
    apiKey: string;
    accountId: string;
    auth: { authorization: string };
  };
  /** Closes the app; `keepData` leaves DATA_DIR in place for a harness that restarts on it. */
  close(options?: { keepData?: boolean }): Promise<void>;
}

let accounts = 0;

export async function startHarness(
  env: Record<string, string> = {},
  options: Omit<BuildOptions, 'now' | 'logger'> = {},
  /** Restart on an earlier harness's data directory and clock, as a new process would. */
  restartOf?: Pick<Harness, 'dataDir' | 'clock'>,
): Promise<Harness> {
  const dataDir = restartOf?.dataDir ?? mkdtempSync(join(tmpdir(), 'documint-test-'));
  const clock = restartOf?.clock ?? testClock();
  const config = loadConfig({
    INTERNAL_TOKEN: 'i'.repeat(64),
    DATA_DIR: dataDir,
    TYPST_WORKERS: '1',
    OUTBOUND_ALLOWLIST: '127.0.0.1',
    ...env,
  });
  const app = await buildApp(config, { ...options, now: clock.now, logger: false });
  await app.ready();
  return {
    app,
    clock,
    dataDir,
    account(plan = 'pro') {
      accounts += 1;
      const { account, apiKey } = app.billing.repository.createAccount(
        `owner-${process.pid}-${accounts}-${Math.random().toString(36).slice(2)}@example.com`,
        plan,
      );
      return { apiKey, accountId: account.id, auth: { authorization: `Bearer ${apiKey}` } };
    },
    async close({ keepData = false } = {}) {
      await app.close();
      if (!keepData) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** Runs a poppler/qpdf tool on a PDF and returns its standard output. */
export function pdfTool(
  tool: 'pdftotext' | 'pdffonts' | 'pdfinfo' | 'qpdf' | 'pdfdetach',
  pdf: Buffer,
  args: string[] = [],
): string {
  const directory = mkdtempSync(join(tmpdir(), 'documint-pdf-'));
  const file = join(directory, 'document.pdf');
  writeFileSync(file, pdf);
  try {
    if (tool === 'pdftotext')
      return execFileSync(tool, ['-layout', ...args, file, '-'], { encoding: 'utf8' });
    if (tool === 'qpdf') return execFileSync(tool, ['--check', file], { encoding: 'utf8' });
    if (tool === 'pdfdetach' && args.includes('-list')) {
      return execFileSync(tool, [...args, file], { encoding: 'utf8' });
    }
    if (tool === 'pdfdetach') {
      const out = join(directory, 'attachment');
      execFileSync(tool, [...args, '-o', out, file], { encoding: 'utf8' });
      return execFileSync('cat', [out], { encoding: 'utf8' });
    }
    return execFileSync(tool, [...args, file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}

/** Text of each page, split on form feeds. */
export function pagesText(pdf: Buffer): string[] {
  return pdfTool('pdftotext', pdf)
    .split('\f')
    .filter((page, index, all) => index < all.length - 1 || page.trim() !== '');
}

/**
 * Renders page 1 at 72 dpi in grey and returns the highest share of dark pixels in any `side`×`side`
 * square. A QR code or barcode (drawn as vector shapes) fills a 40-px (≈ 14 mm) square about 60 % dark;
 * the densest text of the built-in templates stays under 30 %.
 */
export function darkestSquare(pdf: Buffer, side = 40): number {
  const directory = mkdtempSync(join(tmpdir(), 'documint-png-'));
  try {
    writeFileSync(join(directory, 'document.pdf'), pdf);
    const out = join(directory, 'page');
    execFileSync('pdftoppm', ['-gray', '-r', '72', '-singlefile', join(directory, 'document.pdf'), out]);
    const raw = readFileSync(`${out}.pgm`);
    const [, width = 0, height = 0] = raw.toString('latin1', 0, 40).split(/\s+/).map(Number);
    const pixels = raw.subarray(raw.length - width * height);
    // Summed-area table of dark pixels, so each square costs four lookups.
    const stride = width + 1;
    const sums = new Int32Array(stride * (height + 1));
    const at = (x: number, y: number) => sums[y * stride + x] ?? 0;
    for (let y = 0; y < height; y++)
      for (let x = 0; x < width; x++)
        sums[(y + 1) * stride + x + 1] =
          ((pixels[y * width + x] ?? 255) < 128 ? 1 : 0) + at(x + 1, y) + at(x, y + 1) - at(x, y);
    let best = 0;
    for (let y = 0; y + side <= height; y++)
      for (let x = 0; x + side <= width; x++)
        best = Math.max(best, at(x + side, y + side) - at(x + side, y) - at(x, y + side) + at(x, y));
    return best / (side * side);
  } finally {
    rmSync(directory, { recursive: true, force: true });
  }
}
