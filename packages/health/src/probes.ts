import { CHECK_KEY_PATTERN, type HealthCheckEntry, type HealthChecks, type HealthStatus } from './contract';

export type ProbeResult = {
  status: HealthStatus;
  observedValue?: number | string | boolean;
  observedUnit?: string;
  output?: string;
};

export type Probe = {
  /** The `checks` key, `component:measurement`, e.g. `sqlite:responseTime`. */
  name: string;
  /** `component`, `datastore`, `system`, or a URI. */
  componentType?: string;
  /** A failing critical probe fails the whole service (503); a failing non-critical one only warns. */
  critical: boolean;
  timeoutMs: number;
  check: () => ProbeResult | Promise<ProbeResult>;
  /** Releases whatever the probe holds (a histogram, a connection); the plugin calls it in `onClose`. */
  close?: () => void | Promise<void>;
};

/** Rejects a probe the report could not represent, at registration rather than on the first request. */
export function assertValidProbe(probe: Probe): void {
  if (!CHECK_KEY_PATTERN.test(probe.name)) {
    throw new TypeError(
      `probe name "${probe.name}" must be "component:measurement", e.g. "sqlite:responseTime"`,
    );
  }
  if (!Number.isFinite(probe.timeoutMs) || probe.timeoutMs <= 0) {
    throw new TypeError(`probe "${probe.name}" needs a positive timeoutMs, got ${probe.timeoutMs}`);
  }
}

export type ProbeRun = {
  status: HealthStatus;
  checks: HealthChecks;
};

/**
 * Error text can carry connection strings and tokens, and health reports are served to anyone who can
 * reach the endpoint, so probe output is cut short as well as scrubbed.
 */
export const MAX_OUTPUT_LENGTH = 200;

const REDACTED = '***';

const SECRET_PATTERNS: ReadonlyArray<readonly [RegExp, string | ((...groups: string[]) => string)]> = [
  // `postgres://user:pass@host` or `https://token@host`: everything between `//` and the last `@` of the
  // authority is userinfo.
  //
  // Quantifiers that could restart at every position are bounded ({0,31}, {0,64}): error messages can be
  // megabytes long, and unbounded ones made scrubbing a 1 MB message take minutes (quadratic backtracking).
  [/\b([a-z][a-z0-9+.-]{0,31}:\/\/)[^\s/?#]*@/gi, `$1${REDACTED}@`],
  [/\b(Bearer|Basic)\s+[^\s,;"']+/gi, `$1 ${REDACTED}`],
  [/\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]+/g, REDACTED],
  [/\bwhsec_[A-Za-z0-9+/=]+/g, REDACTED],
  // `password=x`, `api_key: x`, `"token":"x y"`, and an unterminated `secret="x` cut off mid-value.
  // Over-matching (`monkey=1`) is the cheaper mistake. The match starts at the keyword (the `api_` of
  // `api_key` stays outside it), so no unbounded prefix is needed; the look-ahead leaves
  // `Authorization: Bearer ***` to the rule above.
  [
    /((?:password|passwd|pwd|token|secret|key|auth)\w{0,64})(["']?\s*[=:]\s*)(?!(?:Bearer|Basic)\s)("[^"]*"?|'[^']*'?|[^\s&,;"']+)/gi,
    (_match, name, separator, value) => {
      const quote = value?.startsWith('"') || value?.startsWith("'") ? value[0] : '';
      return `${name}${separator}${quote}${REDACTED}${quote}`;
    },
  ],
];

const LONG_TOKEN = /[A-Za-z0-9+/_=-]{32,}/g;

/**
 * A 32+ character run is treated as a key when it is all hex, or when it mixes digits with upper- and
 * lower-case letters the way random base64 does. Plain words and most file paths have no such mix, so
 * they survive and the output stays useful for diagnosis.
 */
function looksLikeKey(run: string): boolean {
  if (/^[0-9a-f]+$/i.test(run)) return true;
  return /[0-9]/.test(run) && /[a-z]/.test(run) && /[A-Z]/.test(run);
}

export function scrubSecrets(text: string): string {
  let scrubbed = text;
  for (const [pattern, replacement] of SECRET_PATTERNS) {
    // Two calls because TypeScript cannot pick a `replace` overload for a string-or-function union.
    scrubbed =
      typeof replacement === 'string'
        ? scrubbed.replace(pattern, replacement)
        : scrubbed.replace(pattern, replacement);
  }
  return scrubbed.replace(LONG_TOKEN, (run) => (looksLikeKey(run) ? REDACTED : run));
}

/** Scrub first, then cut: cutting first could leave the head of a secret too short to recognise. */
function sanitizeOutput(text: string): string {
  const scrubbed = scrubSecrets(text);
  return scrubbed.length > MAX_OUTPUT_LENGTH ? `${scrubbed.slice(0, MAX_OUTPUT_LENGTH - 1)}…` : scrubbed;
}

function describeError(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}

async function runWithTimeout(probe: Probe): Promise<ProbeResult> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(
      () => resolve({ status: 'fail', output: `timed out after ${probe.timeoutMs}ms` }),
      probe.timeoutMs,
    );
  });
  try {
    // The check keeps running after a timeout (a promise cannot be cancelled); Promise.race keeps a
    // handler on it, so a late rejection is not reported as unhandled.
    const checked = new Promise<ProbeResult>((resolve) => resolve(probe.check()));
    return await Promise.race([checked, timedOut]);
  } catch (error) {
    return { status: 'fail', output: describeError(error) };
  } finally {
    clearTimeout(timer);
  }
}

function toEntry(probe: Probe, result: ProbeResult, time: Date): HealthCheckEntry {
  const entry: HealthCheckEntry = { status: result.status, time: time.toISOString() };
  if (probe.componentType !== undefined) entry.componentType = probe.componentType;
  if (result.observedValue !== undefined) entry.observedValue = result.observedValue;
  if (result.observedUnit !== undefined) entry.observedUnit = result.observedUnit;
  // Probe authors control `output`, but it is often built from an error message too: scrub it all.
  if (result.output !== undefined) entry.output = sanitizeOutput(result.output);
  return entry;
}

function overallStatus(outcomes: ReadonlyArray<{ probe: Probe; result: ProbeResult }>): HealthStatus {
  let status: HealthStatus = 'pass';
  for (const { probe, result } of outcomes) {
    if (result.status === 'fail' && probe.critical) return 'fail';
    if (result.status !== 'pass') status = 'warn';
  }
  return status;
}

/**
 * Runs every probe at once, each under its own timeout, and never rejects: a probe that throws or
 * times out is a failed check, not a failed health endpoint. Probes sharing a name become several
 * entries under one key, as the draft allows (e.g. one per replica).
 */
export async function runProbes(
  probes: readonly Probe[],
  now: () => Date = () => new Date(),
): Promise<ProbeRun> {
  const outcomes = await Promise.all(
    probes.map(async (probe) => {
      const result = await runWithTimeout(probe);
      return { probe, result, time: now() };
    }),
  );
  const checks: HealthChecks = {};
  for (const { probe, result, time } of outcomes) {
    const entries = checks[probe.name] ?? [];
    entries.push(toEntry(probe, result, time));
    checks[probe.name] = entries;
  }
  return { status: overallStatus(outcomes), checks };
}
