import { randomBytes } from 'node:crypto';

/** `<prefix>_<20 hex chars>`: ids readable in logs, unguessable enough for a single-owner tool. */
export function newId(prefix: string): string {
  return `${prefix}_${randomBytes(10).toString('hex')}`;
}
