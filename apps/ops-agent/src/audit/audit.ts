import { statfs } from 'node:fs/promises';
import os from 'node:os';
import { checkHealth, type HealthCheckOutcome } from '@studio/health';
import type { OutboundClient } from '@studio/service-kit/outbound';
import type { FastifyBaseLogger } from 'fastify';
import { Agent, type Dispatcher } from 'undici';
import type { Clock } from '../clock';
import { type Config, configuredProducts, integrationStatus } from '../config';
import { newId } from '../ids';
import type { TokenStore } from '../integrations/tokens';
import { describeError } from '../outbound';
import { enqueueAlert } from '../outbox';
import type { HealthStatus, IncidentRow, Repository } from '../repository';
import { type AuditRule, breakRules } from './rules';
import {
  describeExit,
  explainDown,
  lastOutputLines,
  readServices,
  type ServiceProcess,
  serviceIncidentKey,
} from './services';

/**
 * One audit: every configured product's /health read with the studio's health client, directly and through
 * Caddy; the blog's sitemap against what the pipeline published; the host's disk and memory. Each product's
 * result feeds the failure/recovery thresholds, so one blip is not an incident and one good answer does not
 * close one.
 */

export interface CheckSummary {
  status: HealthStatus;
  observedValue?: unknown;
  observedUnit?: string;
  output?: string;
}

export interface ProductResult {
  name: string;
  status: HealthStatus;
  responseTimeMs: number | null;
  checks: Record<string, CheckSummary>;
  error?: string;
  caddy?: { status: HealthStatus; responseTimeMs: number | null; error?: string };
  /** The product's process uptime (its `process:uptime` check) and whether it went down since last audit. */
  uptimeSeconds?: number;
  restarted?: boolean;
}

export interface AuditReport {
  id: string;
  status: HealthStatus;
  startedAt: string;
  finishedAt: string;
  products: ProductResult[];
  host: {
    status: HealthStatus;
    memory: { totalBytes: number; freeBytes: number; usedPercent: number };
    disk: { path: string; usedPercent: number | null; error?: string };
    loadAverage: number[];
    /** Every service process `npm start` runs (SERVICE_PID_DIR); absent when that is not configured. */
    services?: ServiceProcess[];
    servicesError?: string;
  };
  blog: {
    status: HealthStatus | 'not configured';
    sitemapPosts?: number;
    publishedPosts?: number;
    error?: string;
  };
  integrations: Record<string, string>;
  incidents: { opened: string[]; resolved: string[] };
}

export interface AuditDeps {
  config: Config;
  repo: Repository;
  clock: Clock;
  outbound: OutboundClient;
  log: FastifyBaseLogger;
  tokens?: TokenStore;
  /** Dispatcher for the products' /health reads: see `createHealthDispatcher`. */
  healthDispatcher?: Dispatcher;
}

/**
 * The health checks' own dispatcher, with keep-alive off (`pipelining: 0`, undici's documented switch): every
 * check opens a fresh connection. A socket kept alive from the previous audit to a product that has since
 * stopped fails as "other side closed (UND_ERR_SOCKET)"; a fresh one names the refused connection
 * (ECONNREFUSED), which is what the incident should say, and it proves the product still accepts
 * connections at all. An audit is a handful of requests every 30 s, so the lost reuse costs nothing.
 */
export function createHealthDispatcher(connectTimeoutMs: number): Dispatcher {
  return new Agent({ pipelining: 0, connect: { timeout: connectTimeoutMs } });
}

const rank: Record<HealthStatus, number> = { pass: 0, warn: 1, fail: 2 };
export const worst = (...statuses: HealthStatus[]): HealthStatus =>
  statuses.reduce<HealthStatus>((a, b) => (rank[b] > rank[a] ? b : a), 'pass');

function summarizeChecks(outcome: HealthCheckOutcome): Record<string, CheckSummary> {
  const checks: Record<string, CheckSummary> = {};
  const report = outcome.report;
  if (!report?.checks) return checks;
  for (const [key, entries] of Object.entries(report.checks)) {
    const statuses = entries.map((entry) => entry.status);
    const first = entries[0];
    checks[key] = {
      status: worst(...statuses),
      ...(first?.observedValue !== undefined ? { observedValue: first.observedValue } : {}),
      ...(first?.observedUnit ? { observedUnit: first.observedUnit } : {}),
      ...(first?.output ? { output: first.output } : {}),
    };
  }
  return checks;
}

/** Reads an outcome against the conditions: contract kept, report status, AUDIT_RULES, response time. */
function judge(
  outcome: HealthCheckOutcome,
  slowMs: number,
  product: string,
  rules: AuditRule[],
): { status: HealthStatus; error?: string } {
  if (!outcome.ok) return { status: 'fail', error: outcome.error };
  const broken = breakRules(product, outcome.report, rules);
  const brokenFail = broken.filter((rule) => rule.status === 'fail');
  if (brokenFail.length > 0)
    return { status: 'fail', error: brokenFail.map((rule) => rule.reason).join('; ') };
  const failing = Object.entries(outcome.report.checks ?? {})
    .filter(([, entries]) => entries.some((entry) => entry.status !== 'pass'))
    .map(([key]) => key);
  if (outcome.report.status === 'fail') {
    return { status: 'fail', error: `health report says fail (${failing.join(', ') || 'no check named'})` };
  }
  if (outcome.responseTimeMs > slowMs) {
    return { status: 'warn', error: `answered in ${outcome.responseTimeMs} ms (slow above ${slowMs} ms)` };
  }
  if (outcome.report.status === 'warn') {
    return { status: 'warn', error: `health report says warn (${failing.join(', ')})` };
  }
  if (broken.length > 0) return { status: 'warn', error: broken.map((rule) => rule.reason).join('; ') };
  return { status: 'pass' };
}

async function hostFacts(config: Config, now: Date): Promise<AuditReport['host']> {
  const totalBytes = os.totalmem();
  const freeBytes = os.freemem();
  const memoryPercent = Math.round(((totalBytes - freeBytes) / totalBytes) * 1000) / 10;
  let disk: AuditReport['host']['disk'];
  try {
    const stats = await statfs(config.DATA_DIR);
    const used = stats.blocks - stats.bfree;
    const usable = used + stats.bavail;
    disk = {
      path: config.DATA_DIR,
      usedPercent: usable > 0 ? Math.round((used / usable) * 1000) / 10 : null,
    };
  } catch (error) {
    disk = { path: config.DATA_DIR, usedPercent: null, error: describeError(error) };
  }
  const diskStatus: HealthStatus =
    disk.usedPercent === null
      ? 'warn'
      : disk.usedPercent >= config.DISK_FAIL_PERCENT
        ? 'fail'
        : disk.usedPercent >= config.DISK_WARN_PERCENT
          ? 'warn'
          : 'pass';
  const memoryStatus: HealthStatus = memoryPercent >= 95 ? 'warn' : 'pass';
  const processes = config.SERVICE_PID_DIR ? await readServices(config.SERVICE_PID_DIR, now) : undefined;
  // A service process not running (failed, in backoff, stopped, gone) fails the host; an unreadable pid
  // directory (npm start not run yet) or a running process with a broken state file warns.
  const servicesStatus: HealthStatus = !processes
    ? 'pass'
    : worst(processes.error ? 'warn' : 'pass', ...processes.services.map(serviceStatus));
  return {
    status: worst(diskStatus, memoryStatus, servicesStatus),
    memory: { totalBytes, freeBytes, usedPercent: memoryPercent },
    disk,
    loadAverage: os.loadavg().map((value) => Math.round(value * 100) / 100),
    ...(processes ? { services: processes.services } : {}),
    ...(processes?.error ? { servicesError: processes.error } : {}),
  };
}

const serviceStatus = (service: ServiceProcess): HealthStatus =>
  !service.running ? 'fail' : service.error ? 'warn' : 'pass';

/**
 * "Which one is down and why": a product whose /health failed while its service process is failed, in
 * backoff, stopped or gone says so, with the supervisor's reason or the app's own last words (a config error
 * names the variable), instead of only the connection error the health check saw.
 */
function explainProductsDown(products: ProductResult[], services: ServiceProcess[]) {
  for (const product of products) {
    if (product.status !== 'fail') continue;
    const service = services.find((candidate) => candidate.name === product.name);
    const explanation = service ? explainDown(service) : undefined;
    if (!explanation) continue;
    product.error = `${product.name}: down: ${explanation}${product.error ? ` (health check: ${product.error})` : ''}`;
  }
}

/** What the audit knows about a crash the supervisor restarted since the previous audit. */
interface Crash {
  at: string;
  description: string;
  /** Set when the supervisor has restarted it by this audit: when, and as which pid. */
  restarted?: { at: string; pid: number | null };
}

/**
 * Compares the supervisor's restart count with the one stored at the previous audit (in the agent's database,
 * so it survives an agent restart). A count lower than stored means the supervisor itself restarted (it counts
 * from zero): everything it counts now is new. No stored count (first audit) counts from zero too, since
 * `npm start` starts the agent after the products: a crash before the first audit is still a crash.
 */
function detectCrash(service: ServiceProcess, lastRestarts: number | null, at: string): Crash | undefined {
  if (service.restarts === undefined) return undefined;
  const baseline = lastRestarts ?? 0;
  const delta = service.restarts >= baseline ? service.restarts - baseline : service.restarts;
  service.restartedSinceLastAudit = delta > 0;
  if (delta === 0) return undefined;
  service.restartsSinceLastAudit = delta;
  const exit = service.lastExit;
  const count = `${delta} restart${delta === 1 ? '' : 's'} since the previous audit (restart #${service.restarts})`;
  const output = exit ? lastOutputLines(exit.output) : '';
  return {
    at: exit?.at ?? at,
    description: `${service.name} crashed: ${exit ? describeExit(exit) : 'exited'}; ${count}${output ? `; last output: ${output}` : ''}`,
    ...(service.running && service.startedAt
      ? { restarted: { at: service.startedAt, pid: service.pid } }
      : {}),
  };
}

/** Ghost serves its posts' sitemap at /sitemap-posts.xml, one <url> per published post. */
async function blogFacts(deps: AuditDeps): Promise<AuditReport['blog']> {
  const { config, repo, outbound } = deps;
  if (!config.GHOST_URL) return { status: 'not configured' };
  const publishedPosts = repo.countPublished();
  try {
    const response = await outbound.request(`${config.GHOST_URL}/sitemap-posts.xml`, {
      headers: { accept: 'application/xml' },
    });
    if (response.status !== 200) {
      return { status: 'warn', publishedPosts, error: `sitemap answered ${response.status}` };
    }
    const sitemapPosts = (response.body.toString('utf8').match(/<url>/g) ?? []).length;
    if (sitemapPosts < publishedPosts) {
      return {
        status: 'warn',
        sitemapPosts,
        publishedPosts,
        error: `the sitemap lists ${sitemapPosts} posts but the pipeline published ${publishedPosts}`,
      };
    }
    return { status: 'pass', sitemapPosts, publishedPosts };
  } catch (error) {
    return { status: 'warn', publishedPosts, error: `sitemap unreachable: ${describeError(error)}` };
  }
}

async function auditProduct(deps: AuditDeps, name: string, url: string): Promise<ProductResult> {
  const { config } = deps;
  const timeoutMs = config.AUDIT_TIMEOUT_MS;
  const dispatcher = deps.healthDispatcher ? { dispatcher: deps.healthDispatcher } : {};
  const [direct, viaCaddy] = await Promise.all([
    checkHealth(`${url}/health`, { timeoutMs, ...dispatcher }),
    config.CADDY_URL
      ? checkHealth(`${config.CADDY_URL}/${name}/health`, { timeoutMs, ...dispatcher })
      : Promise.resolve(undefined),
  ]);
  const directJudgement = judge(direct, config.AUDIT_SLOW_MS, name, config.AUDIT_RULES);
  const checks = summarizeChecks(direct);
  const uptime = checks['process:uptime']?.observedValue;
  const result: ProductResult = {
    name,
    status: directJudgement.status,
    responseTimeMs: direct.responseTimeMs,
    checks,
    ...(directJudgement.error ? { error: directJudgement.error } : {}),
    ...(typeof uptime === 'number' ? { uptimeSeconds: uptime } : {}),
  };
  if (viaCaddy) {
    const caddyJudgement = judge(viaCaddy, config.AUDIT_SLOW_MS, name, config.AUDIT_RULES);
    result.caddy = {
      status: caddyJudgement.status,
      responseTimeMs: viaCaddy.responseTimeMs,
      ...(caddyJudgement.error ? { error: caddyJudgement.error } : {}),
    };
    // Customers reach the product through Caddy: a product up on its port but not through the proxy is down
    // for them.
    if (rank[caddyJudgement.status] > rank[result.status]) {
      result.status = caddyJudgement.status;
      result.error = `through Caddy: ${caddyJudgement.error}`;
    }
  }
  return result;
}

/**
 * Counts consecutive failures and successes and opens or resolves the product's incident when a threshold is
 * crossed. Runs inside the audit's transaction; alerts go to the outbox in the same transaction.
 */
function applyThresholds(
  deps: AuditDeps,
  product: ProductResult,
  at: Date,
  service: { restarts?: number; crash?: Crash; openNow?: string } = {},
): { opened?: IncidentRow; resolved?: IncidentRow } {
  const { repo, config } = deps;
  const state = repo.productState(product.name);
  const failed = product.status === 'fail';
  // The running state of the process: an uptime lower than last time means it restarted in between (a
  // crash loop shows as a restart on every audit even when each answer is good).
  if (product.uptimeSeconds !== undefined && state.lastUptimeSeconds !== null) {
    product.restarted = product.uptimeSeconds < state.lastUptimeSeconds;
  }
  const next = {
    product: product.name,
    consecutiveFailures: failed ? state.consecutiveFailures + 1 : 0,
    consecutiveSuccesses: failed ? 0 : state.consecutiveSuccesses + 1,
    lastStatus: product.status,
    lastReason: product.error ?? (product.restarted ? 'restarted since the previous audit' : null),
    lastUptimeSeconds: product.uptimeSeconds ?? null,
    lastRestarts: service.restarts ?? null,
  };
  repo.saveProductState(next);
  const open = repo.openIncident(product.name);
  const iso = at.toISOString();
  if (!open && (service.crash || service.openNow)) {
    return openAtOnce(deps, product, at, service.crash, service.openNow, next.consecutiveFailures);
  }
  if (open && service.crash) {
    repo.addIncidentEvent(open.id, service.crash.at, 'crashed', service.crash.description);
  }
  if (open && product.restarted)
    repo.addIncidentEvent(open.id, iso, 'restarted', `process uptime ${product.uptimeSeconds} s`);
  if (open) {
    if (failed) {
      if (product.error && product.error !== state.lastReason) {
        repo.addIncidentEvent(open.id, iso, 'still_failing', product.error);
      }
      return {};
    }
    if (next.consecutiveSuccesses === 1) {
      repo.addIncidentEvent(open.id, iso, 'recovering', `answered ${product.status}`);
    }
    if (next.consecutiveSuccesses < config.AUDIT_RECOVERY_THRESHOLD) return {};
    repo.resolveIncident(open.id, iso);
    repo.addIncidentEvent(open.id, iso, 'resolved', `${next.consecutiveSuccesses} good audits in a row`);
    const resolved: IncidentRow = { ...open, status: 'resolved', resolvedAt: iso };
    enqueueAlert(repo, config, { type: 'incident.resolved', incident: resolved }, at);
    return { resolved };
  }
  if (!failed || next.consecutiveFailures < config.AUDIT_FAILURE_THRESHOLD) return {};
  const incident: IncidentRow = {
    id: newId('inc'),
    product: product.name,
    status: 'open',
    openedAt: iso,
    resolvedAt: null,
    reason: product.error ?? 'failed',
  };
  repo.insertIncident(incident.id, incident.product, iso, incident.reason);
  repo.addIncidentEvent(
    incident.id,
    iso,
    'opened',
    `${next.consecutiveFailures} failed audits in a row: ${incident.reason}`,
  );
  enqueueAlert(repo, config, { type: 'incident.opened', incident }, at);
  return { opened: incident };
}

/**
 * A crash the supervisor restarted, or a process it gave up on, is an incident at once: neither is a blip the
 * thresholds should absorb. A crash healed before this audit (running again) is opened and resolved in one go,
 * so it stays in the incident history with its exit code or signal; one still down stays open until the
 * recovery threshold, like any other.
 */
function openAtOnce(
  deps: AuditDeps,
  product: ProductResult,
  at: Date,
  crash: Crash | undefined,
  openNow: string | undefined,
  consecutiveFailures: number,
): { opened?: IncidentRow; resolved?: IncidentRow } {
  const { repo, config } = deps;
  const iso = at.toISOString();
  const failed = product.status === 'fail';
  if (!failed && !crash) return {};
  const openedAt = crash?.at ?? iso;
  const reason = failed ? (product.error ?? 'failed') : (crash?.description ?? 'crashed');
  const incident: IncidentRow = {
    id: newId('inc'),
    product: product.name,
    status: 'open',
    openedAt,
    resolvedAt: null,
    reason,
  };
  repo.insertIncident(incident.id, incident.product, openedAt, reason);
  repo.addIncidentEvent(
    incident.id,
    openedAt,
    'opened',
    openNow
      ? `${openNow}: ${reason}`
      : crash
        ? crash.description
        : `${consecutiveFailures} failed audits in a row: ${reason}`,
  );
  enqueueAlert(repo, config, { type: 'incident.opened', incident }, at);
  if (failed || !crash) return { opened: incident };
  repo.addIncidentEvent(
    incident.id,
    crash.restarted?.at ?? iso,
    'restarted',
    `restarted by the supervisor${crash.restarted?.pid ? ` as pid ${crash.restarted.pid}` : ''}${product.error ? ` (${product.error})` : ''}`,
  );
  repo.resolveIncident(incident.id, iso);
  repo.addIncidentEvent(incident.id, iso, 'resolved', 'running again at the audit');
  const resolved: IncidentRow = { ...incident, status: 'resolved', resolvedAt: iso };
  enqueueAlert(repo, config, { type: 'incident.resolved', incident: resolved }, at);
  return { opened: incident, resolved };
}

export async function runAudit(deps: AuditDeps): Promise<AuditReport> {
  const { config, repo, clock } = deps;
  const started = clock.now();
  const products = await Promise.all(
    configuredProducts(config).map((product) => auditProduct(deps, product.name, product.url)),
  );
  const [host, blog] = await Promise.all([hostFacts(config, started), blogFacts(deps)]);
  explainProductsDown(products, host.services ?? []);
  const finished = clock.now();
  const report: AuditReport = {
    id: newId('aud'),
    status: worst(
      ...products.map((p) => p.status),
      host.status,
      blog.status === 'not configured' ? 'pass' : blog.status === 'fail' ? 'warn' : blog.status,
    ),
    startedAt: started.toISOString(),
    finishedAt: finished.toISOString(),
    products,
    host,
    blog,
    integrations: integrationStatus(
      config,
      deps.tokens ? (name) => deps.tokens?.has(name) ?? false : undefined,
    ),
    incidents: { opened: [], resolved: [] },
  };
  repo.transaction(() => {
    for (const product of products) {
      const outcome = applyThresholds(deps, product, finished);
      if (outcome.opened) report.incidents.opened.push(outcome.opened.id);
      if (outcome.resolved) report.incidents.resolved.push(outcome.resolved.id);
    }
    // A service process counts toward its own incident (`process:<name>`) on the same thresholds, except a
    // crash since the previous audit or a process the supervisor gave up on, which open one at once.
    for (const service of host.services ?? []) {
      const key = serviceIncidentKey(service.name);
      const crash = detectCrash(service, repo.productState(key).lastRestarts, finished.toISOString());
      const outcome = applyThresholds(
        deps,
        {
          name: key,
          status: serviceStatus(service),
          responseTimeMs: null,
          checks: {},
          ...(service.error ? { error: service.error } : {}),
        },
        finished,
        {
          ...(service.restarts !== undefined ? { restarts: service.restarts } : {}),
          ...(crash ? { crash } : {}),
          ...(service.state === 'failed' ? { openNow: 'the supervisor gave up on it' } : {}),
        },
      );
      if (outcome.opened) report.incidents.opened.push(outcome.opened.id);
      if (outcome.resolved) report.incidents.resolved.push(outcome.resolved.id);
    }
    repo.pruneHistory(
      new Date(finished.getTime() - config.AUDIT_RETENTION_DAYS * 24 * 3600 * 1000).toISOString(),
    );
    // The checks reference the audit row, so it goes in first.
    repo.insertAudit(report.id, report.startedAt, report.status, report);
    for (const product of products) {
      repo.insertCheck(
        report.id,
        product.name,
        'direct',
        product.status,
        product.responseTimeMs,
        report.startedAt,
      );
      if (product.caddy) {
        repo.insertCheck(
          report.id,
          product.name,
          'caddy',
          product.caddy.status,
          product.caddy.responseTimeMs,
          report.startedAt,
        );
      }
    }
  })();
  return report;
}

/** Pings HEARTBEAT_URL (a CronPing check), so a dead agent raises CronPing's alert. */
export async function pingHeartbeat(
  deps: AuditDeps,
  status: HealthStatus,
): Promise<{ ok: boolean; error?: string }> {
  const url = deps.config.HEARTBEAT_URL;
  if (!url) return { ok: false, error: 'not configured' };
  try {
    const response = await deps.outbound.request(url, {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: `ops-agent audit ${status}`,
    });
    if (response.status >= 200 && response.status < 300) return { ok: true };
    return { ok: false, error: `heartbeat answered ${response.status}` };
  } catch (error) {
    deps.log.warn(`heartbeat ping failed: ${describeError(error)}`);
    return { ok: false, error: describeError(error) };
  }
}

export interface ProductHistory {
  name: string;
  windows: Record<
    '24h' | '7d' | '30d',
    { checks: number; uptimePercent: number | null; p95ResponseTimeMs: number | null }
  >;
  recent: Array<{ status: HealthStatus; responseTimeMs: number | null; checkedAt: string }>;
}

function p95(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil(sorted.length * 0.95) - 1)] ?? null;
}

/** Uptime (pass or warn counts as up) and p95 response time per window, from the stored direct checks. */
export function productHistory(repo: Repository, product: string, now: Date): ProductHistory {
  const day = 24 * 3600 * 1000;
  const all = repo.checksSince(product, new Date(now.getTime() - 30 * day).toISOString());
  const window = (ms: number) => {
    const since = new Date(now.getTime() - ms).toISOString();
    const rows = all.filter((row) => row.checkedAt >= since);
    const up = rows.filter((row) => row.status !== 'fail').length;
    return {
      checks: rows.length,
      uptimePercent: rows.length === 0 ? null : Math.round((up / rows.length) * 10000) / 100,
      p95ResponseTimeMs: p95(
        rows.flatMap((row) => (row.responseTimeMs === null ? [] : [row.responseTimeMs])),
      ),
    };
  };
  return {
    name: product,
    windows: { '24h': window(day), '7d': window(7 * day), '30d': window(30 * day) },
    recent: all.slice(-48),
  };
}
