import type { AuditReport, ProductHistory } from '../audit/audit';
import { describeExit, lastOutputLines, type ServiceProcess } from '../audit/services';

/**
 * Server-rendered HTML for the owner's page: no front-end build, no script. Every interpolated value goes
 * through `escapeHtml`; links and form actions are relative so the page works at / and behind Caddy at /ops/.
 */
export function escapeHtml(value: unknown): string {
  return String(value ?? '')
    .replaceAll('&', '&amp;')
    .replaceAll('<', '&lt;')
    .replaceAll('>', '&gt;')
    .replaceAll('"', '&quot;')
    .replaceAll("'", '&#39;');
}

const style = `
body{font:15px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1d2430}
header{background:#1d2430;color:#fff;padding:12px 24px;display:flex;gap:16px;align-items:center;justify-content:space-between}
header h1{font-size:18px;margin:0}
main{padding:16px 24px;display:grid;gap:16px;max-width:1200px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:12px 16px}
h2{font-size:16px;margin:0 0 8px}
table{border-collapse:collapse;width:100%}td,th{text-align:left;padding:4px 8px;border-bottom:1px solid #eef0f3;vertical-align:top}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:13px;font-weight:600;color:#fff}
.pass{background:#1f9d55}.warn{background:#d69e2e}.fail{background:#e3342f}.muted{color:#6b7280}
pre{white-space:pre-wrap;background:#f3f4f6;padding:8px;border-radius:6px;max-height:200px;overflow:auto;margin:4px 0}
form.inline{display:inline}button{font:inherit;padding:3px 10px;border-radius:6px;border:1px solid #9aa3af;background:#fff;cursor:pointer}
button.primary{background:#1d4ed8;color:#fff;border-color:#1d4ed8}
.error{color:#b91c1c}.box{max-width:360px;margin:10vh auto}input{font:inherit;padding:6px;width:100%;box-sizing:border-box;margin:6px 0}
`;

export function layout(title: string, body: string): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1"><title>${escapeHtml(title)}</title><style>${style}</style></head><body>${body}</body></html>`;
}

/** Only http(s) links are rendered as links: a URL from Ghost or Dev.to is data, not trusted markup. */
const isWebUrl = (url: string | null): url is string => url !== null && /^https?:\/\//i.test(url);

const hidden = (csrf: string) => `<input type="hidden" name="csrf" value="${escapeHtml(csrf)}">`;

export function loginPage(options: { error?: string; disabled?: boolean; csrf: string }): string {
  if (options.disabled) {
    return layout(
      'ops-agent',
      `<div class="box"><section><h2>Owner login is off</h2><p>Set <code>OWNER_PASSWORD_HASH</code> (print one with <code>ops-agent hash-password</code>) and restart the agent.</p></section></div>`,
    );
  }
  return layout(
    'Log in · ops-agent',
    `<div class="box"><section><h2>Studio operations</h2>${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
<form method="post" action="login">${hidden(options.csrf)}<label>Owner password<input type="password" name="password" autocomplete="current-password" autofocus required></label><button class="primary" type="submit">Log in</button></form></section></div>`,
  );
}

export function totpPage(options: { error?: string; csrf: string }): string {
  return layout(
    'Second factor · ops-agent',
    `<div class="box"><section><h2>Authenticator code</h2>${options.error ? `<p class="error" role="alert">${escapeHtml(options.error)}</p>` : ''}
<form method="post" action="totp">${hidden(options.csrf)}<label>6-digit code<input name="code" inputmode="numeric" autocomplete="one-time-code" pattern="[0-9]{6}" autofocus required></label><button class="primary" type="submit">Continue</button></form></section></div>`,
  );
}

function badge(status: string | null | undefined): string {
  const value = status ?? 'unknown';
  return `<span class="badge ${escapeHtml(value)}">${escapeHtml(value)}</span>`;
}

/** A tiny inline SVG: one bar per recent check, height by response time, colour by status. */
function sparkline(history: ProductHistory): string {
  const points = history.recent;
  if (points.length === 0) return '<span class="muted">no checks yet</span>';
  const max = Math.max(1, ...points.map((p) => p.responseTimeMs ?? 0));
  const colors = { pass: '#1f9d55', warn: '#d69e2e', fail: '#e3342f' } as const;
  const bars = points
    .map((point, index) => {
      const height =
        point.status === 'fail' ? 24 : Math.max(2, Math.round(((point.responseTimeMs ?? 0) / max) * 24));
      return `<rect x="${index * 4}" y="${24 - height}" width="3" height="${height}" fill="${colors[point.status]}"><title>${escapeHtml(point.checkedAt)} ${point.status} ${point.responseTimeMs ?? ''} ms</title></rect>`;
    })
    .join('');
  return `<svg role="img" aria-label="recent checks" width="${points.length * 4}" height="24" viewBox="0 0 ${points.length * 4} 24">${bars}</svg>`;
}

const stateBadge: Record<string, string> = {
  running: 'pass',
  starting: 'warn',
  backoff: 'fail',
  failed: 'fail',
  stopped: 'fail',
};

/** The service processes of the last audit: what the supervisor says of each, and what the kernel says. */
function servicesTable(latest: AuditReport | undefined): string {
  const services: ServiceProcess[] = latest?.host.services ?? [];
  const directoryError = latest?.host.servicesError
    ? `<p class="error">${escapeHtml(latest.host.servicesError)}</p>`
    : '';
  if (services.length === 0) return directoryError;
  const rows = services
    .map((service) => {
      const state = service.state ?? (service.running ? 'running' : 'not running');
      const cls = !service.running ? 'fail' : (stateBadge[state] ?? 'pass');
      const restarted = service.restartedSinceLastAudit
        ? ` <span class="badge warn">+${escapeHtml(service.restartsSinceLastAudit)} since last audit</span>`
        : '';
      const exit = service.lastExit;
      const output = exit ? lastOutputLines(exit.output) : '';
      const lastExit = exit
        ? `${escapeHtml(describeExit(exit))}${output ? `<br><span class="muted">${escapeHtml(output)}</span>` : ''}`
        : '<span class="muted">–</span>';
      const why = service.reason ?? service.error;
      return `<tr data-service="${escapeHtml(service.name)}" data-state="${escapeHtml(state)}"><td><strong>${escapeHtml(service.name)}</strong></td><td><span class="badge ${cls}">${escapeHtml(state)}</span></td><td>${service.pid === null ? '<span class="muted">–</span>' : escapeHtml(service.pid)}</td><td>${service.restarts === undefined ? '<span class="muted">–</span>' : escapeHtml(service.restarts)}${restarted}</td><td>${lastExit}</td><td>${why ? `<span class="${service.running ? 'muted' : 'error'}">${escapeHtml(why)}</span>` : ''}</td></tr>`;
    })
    .join('');
  return `${directoryError}<table><thead><tr><th>Process</th><th>State</th><th>Pid</th><th>Restarts</th><th>Last exit</th><th>Reason</th></tr></thead><tbody>${rows}</tbody></table>`;
}

export interface DashboardData {
  csrf: string;
  notice?: string;
  latest?: AuditReport;
  products: Array<{
    name: string;
    url: string;
    lastStatus: string | null;
    lastError: string | null;
    history: ProductHistory;
  }>;
  incidents: Array<{ id: string; product: string; status: string; openedAt: string; reason: string }>;
  cycles: Array<{ id: string; startedAt: string; status: string; actions: string }>;
  queue: Array<{
    id: string;
    channel: string;
    kind: string;
    title: string;
    body: string;
    status: string;
    lastError: string | null;
    externalUrl: string | null;
  }>;
  posts: Array<{
    id: string;
    title: string;
    status: string;
    url: string | null;
    slug: string;
    visitors?: number;
  }>;
  billing: Array<{ type: string; receivedAt: string; summary: string }>;
  outbox: Array<{ kind: string; attempts: number; lastError: string | null; nextAttemptAt: string }>;
  integrations: Record<string, string>;
  /** Storable integration tokens: where each comes from. Never the token itself. */
  tokens: Array<{ name: string; label: string; source: 'environment' | 'stored' | 'not set' }>;
  totp: { enabled: boolean; pendingSecret?: string; pendingUri?: string };
}

export function dashboardPage(data: DashboardData): string {
  const csrf = hidden(data.csrf);
  const windowCell = (w: { uptimePercent: number | null; p95ResponseTimeMs: number | null }) =>
    `${w.uptimePercent === null ? '–' : `${w.uptimePercent}%`}<br><span class="muted">p95 ${w.p95ResponseTimeMs === null ? '–' : `${Math.round(w.p95ResponseTimeMs)} ms`}</span>`;
  const products = data.products.length
    ? `<table><thead><tr><th>Product</th><th>Status</th><th>Recent</th><th>24 h</th><th>7 d</th><th>30 d</th></tr></thead><tbody>${data.products
        .map(
          (p) =>
            `<tr data-product="${escapeHtml(p.name)}" data-status="${escapeHtml(p.lastStatus ?? 'unknown')}"><td><strong>${escapeHtml(p.name)}</strong><br><span class="muted">${escapeHtml(p.url)}</span></td><td>${badge(p.lastStatus)}${p.lastError ? `<br><span class="error">${escapeHtml(p.lastError)}</span>` : ''}</td><td>${sparkline(p.history)}</td><td>${windowCell(p.history.windows['24h'])}</td><td>${windowCell(p.history.windows['7d'])}</td><td>${windowCell(p.history.windows['30d'])}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">No product configured (set DOCUMINT_URL, CRONPING_URL, FLAGBIT_URL, WEBHOOKVAULT_URL).</p>';
  const latest = data.latest
    ? `Last audit ${badge(data.latest.status)} <span class="muted">${escapeHtml(data.latest.startedAt)} · disk ${escapeHtml(data.latest.host.disk.usedPercent)}% · memory ${escapeHtml(data.latest.host.memory.usedPercent)}% · blog ${escapeHtml(data.latest.blog.status)}</span>`
    : '<span class="muted">No audit yet.</span>';
  const latestServices = servicesTable(data.latest);
  const incidents = data.incidents.length
    ? `<ul>${data.incidents.map((i) => `<li data-incident="${escapeHtml(i.id)}">${badge('fail')} <strong>${escapeHtml(i.product)}</strong> since ${escapeHtml(i.openedAt)}: ${escapeHtml(i.reason)}</li>`).join('')}</ul>`
    : '<p class="muted">No open incident.</p>';
  const queueRows = data.queue
    .map((item) => {
      const actions =
        item.status === 'pending'
          ? `<form class="inline" method="post" action="ui-approve">${csrf}<input type="hidden" name="id" value="${escapeHtml(item.id)}"><button class="primary" type="submit">Approve</button></form> <form class="inline" method="post" action="ui-reject">${csrf}<input type="hidden" name="id" value="${escapeHtml(item.id)}"><button type="submit">Reject</button></form>`
          : '';
      const link = isWebUrl(item.externalUrl)
        ? ` <a href="${escapeHtml(item.externalUrl)}">${escapeHtml(item.externalUrl)}</a>`
        : '';
      const draft =
        item.status === 'pending'
          ? `<form method="post" action="ui-edit">${csrf}<input type="hidden" name="id" value="${escapeHtml(item.id)}"><input name="title" value="${escapeHtml(item.title)}" aria-label="title"><textarea name="body" rows="5" style="width:100%;font:inherit" aria-label="text">${escapeHtml(item.body)}</textarea><button type="submit">Save edits</button></form>`
          : `<strong>${escapeHtml(item.title)}</strong><pre>${escapeHtml(item.body)}</pre>`;
      return `<tr data-queue-item="${escapeHtml(item.id)}" data-status="${escapeHtml(item.status)}"><td>${escapeHtml(item.channel)}<br><span class="muted">${escapeHtml(item.kind)}</span></td><td>${draft}${item.lastError ? `<span class="error">${escapeHtml(item.lastError)}</span>` : ''}</td><td><span class="queue-status">${escapeHtml(item.status === 'ready_by_hand' ? 'ready to post by hand' : item.status)}</span>${link}</td><td>${actions}</td></tr>`;
    })
    .join('');
  const queue = data.queue.length
    ? `<table><thead><tr><th>Channel</th><th>Draft</th><th>Status</th><th></th></tr></thead><tbody>${queueRows}</tbody></table>`
    : '<p class="muted">Nothing waiting for approval.</p>';
  const cycles = data.cycles.length
    ? `<table><tbody>${data.cycles
        .map((c) => {
          const actions = (JSON.parse(c.actions) as Array<{ step: string; outcome: string }>)
            .map((a) => `${escapeHtml(a.step)}: ${escapeHtml(a.outcome)}`)
            .join('<br>');
          return `<tr><td>${escapeHtml(c.startedAt)}</td><td>${escapeHtml(c.status)}</td><td class="muted">${actions}</td></tr>`;
        })
        .join('')}</tbody></table>`
    : '<p class="muted">No cycle yet.</p>';
  const posts = data.posts.length
    ? `<table><tbody>${data.posts
        .map(
          (p) =>
            `<tr><td>${isWebUrl(p.url) ? `<a href="${escapeHtml(p.url)}">${escapeHtml(p.title)}</a>` : escapeHtml(p.title)}</td><td>${escapeHtml(p.status)}</td><td class="muted">${p.visitors === undefined ? '' : `${p.visitors} visitors (30 d)`}</td></tr>`,
        )
        .join('')}</tbody></table>`
    : '<p class="muted">No post yet.</p>';
  const billing = data.billing.length
    ? `<table><tbody>${data.billing.map((b) => `<tr><td>${escapeHtml(b.receivedAt)}</td><td>${escapeHtml(b.type)}</td><td class="muted">${escapeHtml(b.summary)}</td></tr>`).join('')}</tbody></table>`
    : '<p class="muted">No Stripe event yet.</p>';
  const outbox = data.outbox.length
    ? `<p><strong>${data.outbox.length}</strong> waiting for a receiver:</p><ul>${data.outbox.map((o) => `<li>${escapeHtml(o.kind)}, ${o.attempts} attempts, next ${escapeHtml(o.nextAttemptAt)} <span class="error">${escapeHtml(o.lastError)}</span></li>`).join('')}</ul>`
    : '';
  const integrations = Object.entries(data.integrations)
    .map(
      ([name, state]) =>
        `<li>${escapeHtml(name)}: <span class="${state === 'configured' ? '' : 'muted'}">${escapeHtml(state)}</span></li>`,
    )
    .join('');
  // The value is never echoed back: a stored token shows as "stored", and the input stays empty.
  const tokens = data.tokens
    .map((token) => {
      const name = escapeHtml(token.name);
      const label = escapeHtml(token.label);
      if (token.source === 'environment') {
        return `<tr><td>${label}<br><code class="muted">${name}</code></td><td>from the environment (takes precedence)</td><td></td></tr>`;
      }
      const remove =
        token.source === 'stored'
          ? ` <form class="inline" method="post" action="ui-token-remove">${csrf}<input type="hidden" name="name" value="${name}"><button type="submit">Remove</button></form>`
          : '';
      return `<tr data-token="${name}"><td>${label}<br><code class="muted">${name}</code></td><td>${token.source === 'stored' ? 'stored, sealed' : '<span class="muted">not set</span>'}</td><td><form method="post" action="ui-token">${csrf}<input type="hidden" name="name" value="${name}"><input type="password" name="value" autocomplete="off" required aria-label="${label}"><button type="submit">${token.source === 'stored' ? 'Replace' : 'Store'}</button></form>${remove}</td></tr>`;
    })
    .join('');
  const totp = data.totp.enabled
    ? `<p>Authenticator second factor is <strong>on</strong>.</p><form method="post" action="ui-totp-disable">${csrf}<label>Current code<input name="code" inputmode="numeric" pattern="[0-9]{6}" required></label><button type="submit">Turn off</button></form>`
    : data.totp.pendingSecret
      ? `<p>Add this secret to your authenticator app, then confirm with a code.</p><pre data-totp-secret>${escapeHtml(data.totp.pendingSecret)}</pre><pre>${escapeHtml(data.totp.pendingUri)}</pre><form method="post" action="ui-totp-confirm">${csrf}<label>Code<input name="code" inputmode="numeric" pattern="[0-9]{6}" required></label><button class="primary" type="submit">Turn on</button></form>`
      : `<p>Authenticator second factor is off.</p><form method="post" action="ui-totp-setup">${csrf}<button type="submit">Set up</button></form>`;
  return layout(
    'Studio operations',
    `<header><h1>Studio operations</h1><div>${latest} <form class="inline" method="post" action="ui-audit">${csrf}<button type="submit">Run audit now</button></form> <form class="inline" method="post" action="logout">${csrf}<button type="submit">Log out</button></form></div></header>
<main>${data.notice ? `<p role="status">${escapeHtml(data.notice)}</p>` : ''}
<section id="products"><h2>Products</h2>${products}</section>
${latestServices ? `<section id="services"><h2>Service processes</h2>${latestServices}</section>` : ''}
<section id="incidents"><h2>Open incidents</h2>${incidents}</section>
<section id="queue"><h2>Approval queue</h2>${queue}</section>
<section id="cycles"><h2>Last cycles</h2>${cycles}</section>
<section id="posts"><h2>Posts</h2>${posts}</section>
<section id="billing"><h2>Billing events</h2>${billing}${outbox}</section>
<section id="integrations"><h2>Integrations</h2><ul>${integrations}</ul>
<h2>Integration tokens</h2><p class="muted">Sealed with AES-256-GCM under OPS_VAULT_KEY. A variable set in the environment wins over a stored token.</p><table>${tokens}</table></section>
<section id="security"><h2>Security</h2>${totp}</section>
</main>`,
  );
}
