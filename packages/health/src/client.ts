import { performance } from 'node:perf_hooks';
import { type Dispatcher, request } from 'undici';
import type { z } from 'zod';
import { HEALTH_MEDIA_TYPE, type HealthReport, healthReportSchema, httpStatusFor } from './contract';
import { scrubSecrets } from './probes';

export type CheckHealthOptions = {
  /** Budget for the whole exchange: connect, headers and body. Default 5000ms. */
  timeoutMs?: number;
  dispatcher?: Dispatcher;
};

/**
 * `ok` answers "did the service honour the health contract?", not "is the service healthy?".
 * A 503 carrying a valid `fail` report is `ok: true` with `report.status === 'fail'`: the endpoint did
 * its job and told us precisely what is broken. Callers deciding on health read `report.status`.
 * `ok: false` means the answer cannot be trusted (no answer, wrong format, or a status code that
 * contradicts the body); `error` names the cause, and `report` is present when the body was valid.
 */
export type HealthCheckOutcome =
  | { ok: true; httpStatus: number; responseTimeMs: number; report: HealthReport }
  | { ok: false; httpStatus?: number; responseTimeMs: number; error: string; report?: HealthReport };

const DEFAULT_TIMEOUT_MS = 5000;

function mediaTypeOf(contentType: string | string[] | undefined): string | undefined {
  const raw = Array.isArray(contentType) ? contentType[0] : contentType;
  return raw?.split(';')[0]?.trim().toLowerCase();
}

/** Scrubbed: undici messages can echo the URL, and JSON.parse quotes a slice of the body. */
function describeFailure(error: unknown): string {
  if (!(error instanceof Error)) return scrubSecrets(String(error));
  const code = (error as { code?: unknown }).code;
  // undici wraps socket errors; the cause carries the errno (ECONNREFUSED, ENOTFOUND).
  const cause = error.cause instanceof Error ? `: ${error.cause.message}` : '';
  const suffix = typeof code === 'string' && !error.message.includes(code) ? ` (${code})` : '';
  return scrubSecrets(`${error.message}${cause}${suffix}`);
}

function describeIssue(issue: z.core.$ZodIssue): string {
  const path = issue.path.length > 0 ? issue.path.map(String).join('.') : '(root)';
  // A bad record key is reported as a generic "Invalid key in record"; the reason is one level down.
  const nested = issue.code === 'invalid_key' ? issue.issues.map((inner) => inner.message) : [];
  return `${path}: ${[issue.message, ...nested].join(': ')}`;
}

export async function checkHealth(
  url: string,
  options: CheckHealthOptions = {},
): Promise<HealthCheckOutcome> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  // The URL may carry credentials; keep them out of messages that end up in logs and alerts.
  const target = `GET ${scrubSecrets(url)}`;
  const started = performance.now();
  const elapsed = (): number => Math.round((performance.now() - started) * 10) / 10;

  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    let response: Dispatcher.ResponseData;
    try {
      // undici's request() never follows redirects, which is what we want: a health check that lands
      // on a login page after a 302 must not read as "up".
      response = await request(url, {
        method: 'GET',
        headers: { accept: HEALTH_MEDIA_TYPE },
        // A fresh connection per check: a kept-alive socket to a service that has just died fails as
        // "other side closed" instead of naming the refused connection, and each check should prove the
        // service still accepts connections at all.
        reset: true,
        signal: controller.signal,
        ...(options.dispatcher ? { dispatcher: options.dispatcher } : {}),
      });
    } catch (error) {
      const cause = controller.signal.aborted ? `timed out after ${timeoutMs}ms` : describeFailure(error);
      return { ok: false, responseTimeMs: elapsed(), error: `${target} failed: ${cause}` };
    }

    const httpStatus = response.statusCode;
    const fail = (reason: string, report?: HealthReport): HealthCheckOutcome => ({
      ok: false,
      httpStatus,
      responseTimeMs: elapsed(),
      error: `${target} answered HTTP ${httpStatus}: ${reason}`,
      ...(report ? { report } : {}),
    });

    let text: string;
    try {
      text = await response.body.text();
    } catch (error) {
      const cause = controller.signal.aborted ? `timed out after ${timeoutMs}ms` : describeFailure(error);
      return fail(`reading the body failed: ${cause}`);
    }

    if (httpStatus >= 300 && httpStatus < 400) {
      const location = response.headers.location;
      const to = location === undefined ? '(no Location)' : scrubSecrets(String(location));
      return fail(`redirect to ${to} is not followed; check the final URL`);
    }
    const mediaType = mediaTypeOf(response.headers['content-type']);
    if (mediaType !== HEALTH_MEDIA_TYPE) {
      return fail(
        mediaType === undefined
          ? `no Content-Type, expected ${HEALTH_MEDIA_TYPE}`
          : `Content-Type is ${mediaType}, expected ${HEALTH_MEDIA_TYPE}`,
      );
    }
    if (text.trim() === '') {
      return fail(`empty body, expected a ${HEALTH_MEDIA_TYPE} report`);
    }

    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      return fail(`body is not valid JSON (${describeFailure(error)})`);
    }

    const parsed = healthReportSchema.safeParse(json);
    if (!parsed.success) {
      const issues = parsed.error.issues.map(describeIssue);
      return fail(`body does not match the health contract: ${issues.join('; ')}`);
    }

    const report = parsed.data;
    const expected = httpStatusFor(report.status);
    if (httpStatus !== expected) {
      // Strict on purpose: the studio pins 200 for pass/warn and 503 for fail, and a mismatch (a 200 that
      // says "fail") means load balancers and monitors are reading the opposite of the report.
      return fail(
        `status "${report.status}" requires HTTP ${expected}; the code contradicts the report`,
        report,
      );
    }
    return { ok: true, httpStatus, responseTimeMs: elapsed(), report };
  } finally {
    clearTimeout(timer);
  }
}
