import type { KeywordFilter } from '../repository';
import type { PingKind } from './state';

/**
 * healthchecks' keyword filtering, which it applies to email pings, applied here to the body of HTTP pings
 * (healthchecks does not inspect HTTP bodies: a CronPing extension with healthchecks' fields and rules).
 * Keywords are comma-separated, trimmed and case-sensitive substrings, tried in healthchecks' order:
 * failure first, then success, then start; with the filter on and no keyword found, the ping is ignored.
 *
 * Only a plain success ping (`/ping/<uuid>`, no exit status) is classified: an explicit `/start`, `/fail`,
 * `/log` or exit status says what it is. `filter_subject` has nothing to read in an HTTP ping (no subject
 * line), so it alone leaves HTTP pings unfiltered.
 */
export function filteredKind(
  check: KeywordFilter,
  kind: PingKind,
  exitstatus: number | null,
  body: Buffer | null,
): PingKind {
  if (!check.filterBody || kind !== 'success' || exitstatus !== null) return kind;
  const text = body === null ? '' : body.toString('utf8');
  if (matchesAny(text, check.failureKw)) return 'fail';
  if (matchesAny(text, check.successKw)) return 'success';
  if (matchesAny(text, check.startKw)) return 'start';
  return 'ign';
}

function matchesAny(text: string, keywords: string): boolean {
  for (const keyword of keywords.split(',')) {
    const trimmed = keyword.trim();
    if (trimmed !== '' && text.includes(trimmed)) return true;
  }
  return false;
}
