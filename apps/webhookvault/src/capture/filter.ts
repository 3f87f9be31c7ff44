import { z } from 'zod';
import type { CaptureRow, VaultRepository } from '../repository';
import type { CapturedRequest } from './payload';

/**
 * Capture filters shared by listing and bulk replay. Method and time run in SQL; path, header and body text
 * need the plaintext, so they are checked after decryption while scanning newest first.
 */
export const captureFilterShape = {
  method: z.string().max(32).optional(),
  path: z.string().max(2048).optional(),
  header: z.string().max(1024).optional(),
  q: z.string().max(1024).optional(),
  since: z.iso.datetime({ offset: true }).optional(),
  until: z.iso.datetime({ offset: true }).optional(),
};

export const captureFilterSchema = z.object(captureFilterShape);
export type CaptureFilter = z.infer<typeof captureFilterSchema>;

export function matcherFor(filter: CaptureFilter): (captured: CapturedRequest) => boolean {
  const { path, header, q } = filter;
  const [rawName, ...rest] = header?.split(':') ?? [];
  const headerName = rawName?.trim().toLowerCase();
  const headerValue = rest.length > 0 ? rest.join(':').trim() : undefined;
  return (captured) =>
    (path === undefined || captured.path.includes(path)) &&
    (headerName === undefined ||
      captured.headers.some(
        ([name, value]) =>
          name.toLowerCase() === headerName && (headerValue === undefined || value.includes(headerValue)),
      )) &&
    (q === undefined || captured.body.toString('utf8').includes(q));
}

const SCAN_BATCH = 200;

/**
 * Scans an endpoint's captures newest first from before `beforeSeq`, yielding those that match, until `limit`
 * matched or `maxScanned` were read. `lastSeq` is where a next scan continues; `exhausted` says nothing is left.
 */
export function scanCaptures(
  repository: VaultRepository,
  open: (row: CaptureRow) => CapturedRequest,
  input: { endpointId: string; beforeSeq: number; filter: CaptureFilter; limit: number; maxScanned: number },
): { rows: CaptureRow[]; lastSeq: number; exhausted: boolean } {
  const matches = matcherFor(input.filter);
  const sql = {
    method: input.filter.method?.toUpperCase() ?? null,
    sinceMs: input.filter.since ? Date.parse(input.filter.since) : null,
    untilMs: input.filter.until ? Date.parse(input.filter.until) : null,
  };
  const needsPlaintext =
    input.filter.path !== undefined || input.filter.header !== undefined || input.filter.q !== undefined;
  const rows: CaptureRow[] = [];
  let lastSeq = input.beforeSeq;
  let scanned = 0;
  while (rows.length < input.limit && scanned < input.maxScanned) {
    const batch = repository.capturesPage({
      endpointId: input.endpointId,
      beforeSeq: lastSeq,
      limit: SCAN_BATCH,
      ...sql,
    });
    if (batch.length === 0) return { rows, lastSeq, exhausted: true };
    for (const row of batch) {
      scanned += 1;
      lastSeq = row.seq;
      if (!needsPlaintext || matches(open(row))) {
        rows.push(row);
        if (rows.length === input.limit) break;
      }
    }
    if (batch.length < SCAN_BATCH && lastSeq === batch.at(-1)?.seq) return { rows, lastSeq, exhausted: true };
  }
  const more = repository.capturesPage({
    endpointId: input.endpointId,
    beforeSeq: lastSeq,
    limit: 1,
    ...sql,
  });
  return { rows, lastSeq, exhausted: more.length === 0 };
}
