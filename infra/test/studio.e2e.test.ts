import { randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import Stripe from 'stripe';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  caddyAvailable,
  eventually,
  freePort,
  httpsGet,
  type RunningStudio,
  startStudio,
} from './studio-harness';

// The whole studio as `npm start` runs it: the real supervisor, the five built apps as processes on real
// ports, Caddy in front. CI installs caddy and must run this; without caddy it is skipped with a reason.
const hasCaddy = caddyAvailable();
if (!hasCaddy && process.env.CI)
  throw new Error('caddy is not installed, and CI must run the whole-studio end-to-end tests');

const STRIPE_WEBHOOK_SECRET = 'whsec_e2e_studio_journey';
const stripe = new Stripe('sk_test_e2e_studio');

interface Answer {
  status: number;
  headers: Headers;
  // biome-ignore lint/suspicious/noExplicitAny: JSON answers of five APIs, asserted field by field
  body: any;
  text: string;
}

async function call(
  url: string,
  options: { method?: string; headers?: Record<string, string>; json?: unknown; body?: string } = {},
): Promise<Answer> {
  const response = await fetch(url, {
    method: options.method ?? (options.json !== undefined || options.body !== undefined ? 'POST' : 'GET'),
    headers: {
      ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...options.headers,
    },
    body: options.json !== undefined ? JSON.stringify(options.json) : options.body,
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: response.status, headers: response.headers, body, text };
}

/** A local receiver for replays: records each request's method, path, headers and body. */
async function startReceiver(): Promise<{
  server: Server;
  url: string;
  received: { request: IncomingMessage; body: Buffer }[];
}> {
  const received: { request: IncomingMessage; body: Buffer }[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ request, body: Buffer.concat(chunks) });
      response.end('ok');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  if (!address || typeof address === 'string') throw new Error('expected a TCP address');
  return { server, url: `http://127.0.0.1:${address.port}`, received };
}

/** Writes `request` as raw bytes on a socket (no client normalises it) and resolves with the answer's text. */
function sendRaw(url: URL, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(Number(url.port), url.hostname === 'localhost' ? '127.0.0.1' : url.hostname);
    let answer = '';
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => {
      answer += chunk;
    });
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
    socket.write(request);
  });
}

describe.skipIf(!hasCaddy)('the whole studio, started as npm start starts it, behind Caddy', () => {
  let studio: RunningStudio;
  let receiver: Awaited<ReturnType<typeof startReceiver>>;
  let caddy = '';
  let opsAdmin: Record<string, string> = {};

  beforeAll(async () => {
    receiver = await startReceiver();
    studio = await startStudio('journey', {
      environment: {
        // Replays go to the local receiver, which the SSRF guard refuses unless allowed.
        OUTBOUND_ALLOWLIST: '127.0.0.1',
        STRIPE_SECRET_KEY: 'sk_test_e2e_studio',
        STRIPE_WEBHOOK_SECRET,
        STRIPE_PRICES: JSON.stringify({ price_webhookvaultPro: { product: 'webhookvault', plan: 'pro' } }),
        // Long enough for two audits (each waits up to 3 s for Caddy's retry) to see the killed product down before the supervisor brings it back; the
        // audit's thresholds are its defaults (two failures open an incident, two passes resolve it).
        STUDIO_RESTART_DELAY_MS: '10000',
      },
    });
    caddy = studio.caddyUrl!;
    opsAdmin = { authorization: `Bearer ${studio.secrets().OPS_ADMIN_TOKEN}` };
  }, 180_000);

  afterAll(async () => {
    await studio?.stop();
    receiver?.server.close();
  }, 60_000);

  it('starts every app and Caddy in order, writes mode-600 secrets and seeds a demo customer', () => {
    const output = studio.process.output();
    const order = [
      'starting documint, cronping, flagbit, webhookvault',
      'starting ops-agent',
      'starting caddy',
    ];
    const positions = order.map((line) => output.indexOf(line));
    expect(positions.every((position) => position >= 0)).toBe(true);
    expect([...positions].sort((a, b) => a - b)).toEqual(positions);
    for (const name of ['ops-agent', 'documint', 'cronping', 'flagbit', 'webhookvault', 'caddy']) {
      expect(studio.state(name).state, name).toBe('running');
    }
    const secretsFile = join(studio.dataDir, '.studio-secrets.json');
    expect((statSync(secretsFile).mode & 0o777).toString(8)).toBe('600');
    const secrets = studio.secrets();
    expect(output, 'the generated secrets are printed on first start').toContain(secrets.INTERNAL_TOKEN);
    const demo = JSON.parse(readFileSync(join(studio.dataDir, '.studio-demo.json'), 'utf8'));
    for (const product of ['documint', 'cronping', 'flagbit', 'webhookvault']) {
      expect(demo[product].apiKey, product).toMatch(/^[a-z]{2}_/);
      expect(output).toContain(demo[product].apiKey);
    }
    // Output is prefixed per app.
    expect(output).toMatch(/^caddy +│ \{/m);
  });

  it("seeds the owner: the printed password logs in to the ops-agent's page", async () => {
    const ops = studio.url('ops-agent');
    const form = await fetch(`${ops}/login`);
    expect(form.status).toBe(200);
    const csrf = /ops_login_csrf=([^;]+)/.exec(form.headers.get('set-cookie') ?? '')?.[1];
    expect(csrf).toBeDefined();
    const password = studio.secrets().OWNER_PASSWORD!;
    expect(studio.process.output()).toContain(`OWNER_PASSWORD=${password}`);
    const login = (attempt: string) =>
      fetch(`${ops}/login`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: `ops_login_csrf=${csrf}` },
        body: new URLSearchParams({ csrf: csrf!, password: attempt }).toString(),
      });
    expect((await login(`${password}-wrong`)).status).toBe(401);
    const accepted = await login(password);
    expect(accepted.status).toBe(303);
    expect(accepted.headers.get('set-cookie')).toContain('ops_session=');
  });

  it('lets the seeded demo customer use a product through Caddy with the printed key', async () => {
    const demo = JSON.parse(readFileSync(join(studio.dataDir, '.studio-demo.json'), 'utf8'));
    const account = await call(`${caddy}/flagbit/v1/account`, {
      headers: { authorization: `Bearer ${demo.flagbit.apiKey}` },
    });
    expect(account.status).toBe(200);
    expect(account.body.plan).toBe('free');
  });

  it('takes a customer from sign-up through every product, a plan limit and a payment, to a passing audit', async () => {
    const email = `customer-${randomUUID()}@example.com`;
    const keys: Record<string, string> = {};
    const accounts: Record<string, string> = {};
    for (const product of ['documint', 'cronping', 'flagbit', 'webhookvault']) {
      const signup = await call(`${caddy}/${product}/v1/signup`, { json: { email } });
      expect(signup.status, `${product} signup: ${signup.text}`).toBe(201);
      expect(signup.body.plan).toBe('free');
      keys[product] = signup.body.apiKey;
      accounts[product] = signup.body.accountId;
    }
    const bearer = (product: string) => ({ authorization: `Bearer ${keys[product]}` });

    // CronPing: a check, pinged through Caddy, is up.
    const check = await call(`${caddy}/cronping/api/v3/checks/`, {
      headers: { 'x-api-key': keys.cronping! },
      json: { name: 'nightly backup', timeout: 3600, grace: 300 },
    });
    expect(check.status, check.text).toBe(201);
    expect(check.body.ping_url).toBe(
      `http://localhost:${new URL(caddy).port}/cronping/ping/${check.body.uuid}`,
    );
    const ping = await call(`${caddy}/cronping/ping/${check.body.uuid}`, { body: 'backup done' });
    expect([ping.status, ping.text]).toEqual([200, 'OK']);
    const afterPing = await call(`${caddy}/cronping/api/v3/checks/${check.body.uuid}`, {
      headers: { 'x-api-key': keys.cronping! },
    });
    expect(afterPing.body).toMatchObject({ status: 'up', n_pings: 1 });

    // FlagBit: a flag turned on in production evaluates to enabled for a frontend token.
    const flagHeaders = bearer('flagbit');
    expect(
      (
        await call(`${caddy}/flagbit/api/admin/flags`, {
          headers: flagHeaders,
          json: { name: 'new-checkout' },
        })
      ).status,
    ).toBe(201);
    const strategy = await call(
      `${caddy}/flagbit/api/admin/flags/new-checkout/environments/production/strategies`,
      {
        headers: flagHeaders,
        json: {
          name: 'flexibleRollout',
          parameters: { rollout: 100, stickiness: 'default', groupId: 'new-checkout' },
        },
      },
    );
    expect(strategy.status, strategy.text).toBe(201);
    const enabled = await call(`${caddy}/flagbit/api/admin/flags/new-checkout/environments/production`, {
      method: 'PATCH',
      headers: { ...flagHeaders, 'content-type': 'application/json' },
      body: JSON.stringify({ enabled: true }),
    });
    expect(enabled.status, enabled.text).toBe(200);
    const token = await call(`${caddy}/flagbit/api/admin/tokens`, {
      headers: flagHeaders,
      json: { type: 'frontend', environment: 'production' },
    });
    expect(token.status, token.text).toBe(201);
    const evaluation = await call(`${caddy}/flagbit/api/frontend?userId=42`, {
      headers: { authorization: token.body.secret },
    });
    expect(evaluation.status, evaluation.text).toBe(200);
    expect(evaluation.body.toggles.map((toggle: { name: string }) => toggle.name)).toEqual(['new-checkout']);

    // WebhookVault: a capture through Caddy, replayed byte for byte to the customer's receiver.
    const vault = bearer('webhookvault');
    const endpoint = await call(`${caddy}/webhookvault/v1/endpoints`, {
      headers: vault,
      json: { name: 'stripe test' },
    });
    expect(endpoint.status, endpoint.text).toBe(201);
    expect(endpoint.body.url).toBe(
      `http://localhost:${new URL(caddy).port}/webhookvault/h/${endpoint.body.token}`,
    );
    const payload = '{"type":"invoice.paid","amount":4200}';
    const captured = await call(`${caddy}/webhookvault/h/${endpoint.body.token}/stripe?x=1`, {
      headers: { 'content-type': 'application/json', 'x-custom': 'kept' },
      body: payload,
    });
    expect(captured.status).toBe(200);
    const list = await call(`${caddy}/webhookvault/v1/endpoints/${endpoint.body.id}/captures`, {
      headers: vault,
    });
    expect(list.body.items).toHaveLength(1);
    const replay = await call(`${caddy}/webhookvault/v1/captures/${list.body.items[0].id}/replay`, {
      headers: vault,
      json: { targetUrl: `${receiver.url}/incoming`, preservePath: false },
    });
    expect(replay.status, replay.text).toBe(201);
    const replayed = receiver.received.at(-1)!;
    expect(replayed.body.toString()).toBe(payload);
    expect(replayed.request.headers['x-custom']).toBe('kept');

    // Its direct capture URL (WebhookVault's own listener, no proxy) records the sender's header order and case.
    const direct = new URL(endpoint.body.directUrl);
    expect(direct.port).toBe(studio.environment.WEBHOOKVAULT_CAPTURE_PORT);
    const rawHead = [
      `POST ${direct.pathname}/raw?b=2&a=1 HTTP/1.1`,
      'X-Zulu: last-letter-first',
      `Host: ${direct.host}`,
      'x-lower: kept lower',
      'X-Zulu: repeated',
      'Content-Type: application/json',
      `Content-Length: ${Buffer.byteLength(payload)}`,
      'Connection: close',
    ];
    await sendRaw(direct, `${rawHead.join('\r\n')}\r\n\r\n${payload}`);
    const exact = await call(`${caddy}/webhookvault/v1/endpoints/${endpoint.body.id}/captures?limit=1`, {
      headers: vault,
    });
    expect(exact.body.items[0].query).toBe('b=2&a=1');
    expect(exact.body.items[0].headers).toEqual(
      rawHead.slice(1).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 2)]),
    );

    // DocuMint: the built-in invoice with its sample data renders to a PDF.
    const invoice = await call(`${caddy}/documint/v1/templates/invoice`, { headers: bearer('documint') });
    expect(invoice.status, invoice.text).toBe(200);
    const pdf = await fetch(`${caddy}/documint/v1/documents`, {
      method: 'POST',
      headers: { ...bearer('documint'), 'content-type': 'application/json' },
      body: JSON.stringify({ template: 'invoice', data: invoice.body.sample }),
    });
    expect(pdf.status).toBe(200);
    expect(pdf.headers.get('content-type')).toBe('application/pdf');
    expect(
      Buffer.from(await pdf.arrayBuffer())
        .subarray(0, 5)
        .toString(),
    ).toBe('%PDF-');

    // The free plan's endpoint limit, with an error that says what to do.
    for (const name of ['second', 'third']) {
      expect(
        (await call(`${caddy}/webhookvault/v1/endpoints`, { headers: vault, json: { name } })).status,
      ).toBe(201);
    }
    const refused = await call(`${caddy}/webhookvault/v1/endpoints`, {
      headers: vault,
      json: { name: 'fourth' },
    });
    expect(refused.status).toBe(402);
    expect(refused.body.error.message).toMatch(/endpoints/);
    expect(refused.body.error.message).toMatch(/plan/i);

    // Checkout completes: Stripe's signed event reaches the ops-agent through Caddy and the plan reaches the product.
    const event = {
      id: `evt_${randomUUID().replaceAll('-', '')}`,
      object: 'event',
      type: 'checkout.session.completed',
      created: Math.floor(Date.now() / 1000),
      livemode: false,
      api_version: '2025-01-27.acacia',
      data: {
        object: {
          id: `cs_${randomUUID().replaceAll('-', '')}`,
          object: 'checkout.session',
          mode: 'subscription',
          payment_status: 'paid',
          status: 'complete',
          client_reference_id: accounts.webhookvault,
          subscription: `sub_${randomUUID().replaceAll('-', '')}`,
          metadata: {
            product: 'webhookvault',
            plan: 'pro',
            accountId: accounts.webhookvault,
            priceId: 'price_webhookvaultPro',
          },
        },
      },
    };
    const body = JSON.stringify(event);
    const delivered = await call(`${caddy}/ops/stripe/webhook`, {
      headers: {
        'content-type': 'application/json',
        'stripe-signature': stripe.webhooks.generateTestHeaderString({
          payload: body,
          secret: STRIPE_WEBHOOK_SECRET,
        }),
      },
      body,
    });
    expect(delivered.status, delivered.text).toBe(200);
    await eventually('the pro plan in WebhookVault', async () => {
      const account = await call(`${caddy}/webhookvault/v1/account`, { headers: vault });
      return account.body.plan === 'pro' ? true : undefined;
    });
    const fourth = await call(`${caddy}/webhookvault/v1/endpoints`, {
      headers: vault,
      json: { name: 'fourth' },
    });
    expect(fourth.status, fourth.text).toBe(201);

    // The owner's audit: every product passes, directly and through Caddy.
    const audit = await call(`${studio.url('ops-agent')}/audit`, { method: 'POST', headers: opsAdmin });
    expect(audit.status, audit.text).toBe(200);
    for (const product of audit.body.products) {
      expect([product.name, product.status, product.error]).toEqual([product.name, 'pass', undefined]);
      expect(product.caddy.status, `${product.name} through Caddy`).toBe('pass');
    }
    expect(audit.body.products.map((product: { name: string }) => product.name).sort()).toEqual([
      'cronping',
      'documint',
      'flagbit',
      'webhookvault',
    ]);
  });

  it('restarts a product killed under load, loses no acknowledged ping or capture, and the audit records the incident', async () => {
    const internal = { authorization: `Bearer ${studio.secrets().INTERNAL_TOKEN}` };
    const cronpingAccount = await call(`${studio.url('cronping')}/internal/accounts`, {
      headers: internal,
      json: { email: `load-${randomUUID()}@example.com`, plan: 'business' },
    });
    const vaultAccount = await call(`${studio.url('webhookvault')}/internal/accounts`, {
      headers: internal,
      json: { email: `load-${randomUUID()}@example.com`, plan: 'business' },
    });
    const check = await call(`${caddy}/cronping/api/v3/checks/`, {
      headers: { 'x-api-key': cronpingAccount.body.apiKey },
      json: { name: 'under load', timeout: 3600 },
    });
    const vault = { authorization: `Bearer ${vaultAccount.body.apiKey}` };
    const endpoint = await call(`${caddy}/webhookvault/v1/endpoints`, {
      headers: vault,
      json: { name: 'load' },
    });

    const acknowledgedPings: string[] = [];
    const acknowledgedCaptures: string[] = [];
    let sent = 0;
    let killedAt = -1;
    let stopLoad = false;
    const worker = async (index: number) => {
      while (!stopLoad) {
        sent += 1;
        const rid = randomUUID();
        const marker = `n=${index}-${sent}`;
        const [ping, capture] = await Promise.allSettled([
          fetch(`${caddy}/cronping/ping/${check.body.uuid}?rid=${rid}`, { method: 'POST', body: rid }),
          fetch(`${caddy}/webhookvault/h/${endpoint.body.token}?${marker}`, { method: 'POST', body: marker }),
        ]);
        if (ping.status === 'fulfilled' && ping.value.status === 200 && (await ping.value.text()) === 'OK')
          acknowledgedPings.push(rid);
        if (capture.status === 'fulfilled' && capture.value.status === 200) {
          await capture.value.arrayBuffer();
          acknowledgedCaptures.push(marker);
        }
      }
    };
    const load = Promise.all([0, 1, 2, 3].map(worker));

    await eventually('some load acknowledged', () => (acknowledgedPings.length >= 100 ? true : undefined));
    const victims = ['cronping', 'webhookvault'].map((name) => studio.state(name).pid!);
    killedAt = acknowledgedPings.length;
    for (const pid of victims) process.kill(pid, 'SIGKILL');

    // While the products are down, two audits see them fail, which opens an incident.
    await eventually('cronping in backoff', () =>
      studio.state('cronping').state === 'backoff' ? true : undefined,
    );
    await call(`${studio.url('ops-agent')}/audit`, { method: 'POST', headers: opsAdmin });
    const down = await call(`${studio.url('ops-agent')}/audit`, { method: 'POST', headers: opsAdmin });
    const downNames = down.body.products
      .filter((p: { status: string }) => p.status === 'fail')
      .map((p: { name: string }) => p.name);
    expect(downNames).toContain('cronping');

    await eventually('cronping and webhookvault restarted', () =>
      ['cronping', 'webhookvault'].every(
        (name) => studio.state(name).state === 'running' && studio.state(name).restarts === 1,
      )
        ? true
        : undefined,
    );
    await eventually('load acknowledged after the restart', () =>
      acknowledgedPings.length >= killedAt + 100 && acknowledgedCaptures.length >= killedAt + 100
        ? true
        : undefined,
    );
    stopLoad = true;
    await load;
    const exit = studio.state('cronping').lastExit!;
    expect(exit.signal).toBe('SIGKILL');

    // Every acknowledged ping and capture is there after the restart.
    const pings = await call(`${studio.url('cronping')}/api/v3/checks/${check.body.uuid}/pings/`, {
      headers: { 'x-api-key': cronpingAccount.body.apiKey },
    });
    expect(pings.status, pings.text).toBe(200);
    const storedRids = new Set(pings.body.pings.map((p: { rid: string | null }) => p.rid));
    expect(acknowledgedPings.length).toBeLessThanOrEqual(1000);
    expect(acknowledgedPings.filter((rid) => !storedRids.has(rid))).toEqual([]);
    const storedMarkers = new Set<string>();
    let cursor: string | null = null;
    do {
      const page: Answer = await call(
        `${studio.url('webhookvault')}/v1/endpoints/${endpoint.body.id}/captures?limit=100${cursor ? `&cursor=${cursor}` : ''}`,
        { headers: vault },
      );
      for (const item of page.body.items) storedMarkers.add(item.query);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(acknowledgedCaptures.filter((marker) => !storedMarkers.has(marker))).toEqual([]);

    // Back up: audits resolve the incident once the product passes twice (Caddy's health checks may take a
    // moment to see it again). The crash itself is in the history as the process's own incident, with its signal.
    const incidentOf = async (product: string) => {
      const incidents = await call(`${studio.url('ops-agent')}/incidents`, { headers: opsAdmin });
      return incidents.body.items.find((incident: { product: string }) => incident.product === product);
    };
    const resolved = await eventually('the cronping incident resolved', async () => {
      await call(`${studio.url('ops-agent')}/audit`, { method: 'POST', headers: opsAdmin });
      const incident = await incidentOf('cronping');
      return incident?.status === 'resolved' ? incident : undefined;
    });
    expect(resolved.reason.length).toBeGreaterThan(0);
    const crash = await incidentOf('process:cronping');
    expect(crash).toMatchObject({ status: 'resolved' });
    expect(JSON.stringify(crash)).toContain('SIGKILL');
  });

  it('backs up every database while the studio runs and restores a deleted one with the documented command', async () => {
    const internal = { authorization: `Bearer ${studio.secrets().INTERNAL_TOKEN}` };
    const account = await call(`${studio.url('cronping')}/internal/accounts`, {
      headers: internal,
      json: { email: `restore-${randomUUID()}@example.com`, plan: 'pro' },
    });
    const apiKey = { 'x-api-key': account.body.apiKey };
    const kept = await call(`${caddy}/cronping/api/v3/checks/`, {
      headers: apiKey,
      json: { name: 'kept by the backup' },
    });
    expect(kept.status).toBe(201);

    const backupDir = join(studio.dataDir, 'drill-backup');
    const backup = studio.command(['backup', backupDir]);
    expect(backup.status, backup.stderr + backup.stdout).toBe(0);
    for (const app of ['ops-agent', 'documint', 'cronping', 'flagbit', 'webhookvault']) {
      expect(existsSync(join(backupDir, `${app}.sqlite`)), app).toBe(true);
    }

    // Disaster: the database file is deleted under the running app.
    const file = join(studio.dataDir, 'cronping', 'cronping.sqlite');
    for (const suffix of ['', '-wal', '-shm']) rmSync(`${file}${suffix}`, { force: true });

    const restore = studio.command(['restore', 'cronping', join(backupDir, 'cronping.sqlite')]);
    expect(restore.status, restore.stderr + restore.stdout).toBe(0);
    expect(restore.stdout).toContain('cronping started again and is ready');
    const back = await call(`${caddy}/cronping/api/v3/checks/${kept.body.uuid}`, { headers: apiKey });
    expect([back.status, back.body?.name]).toEqual([200, 'kept by the backup']);
  });

  it('restores a corrupted database from the backup, setting the damaged file aside', async () => {
    const internal = { authorization: `Bearer ${studio.secrets().INTERNAL_TOKEN}` };
    const account = await call(`${studio.url('flagbit')}/internal/accounts`, {
      headers: internal,
      json: { email: `corrupt-${randomUUID()}@example.com`, plan: 'pro' },
    });
    const flagHeaders = { authorization: `Bearer ${account.body.apiKey}` };
    expect(
      (await call(`${caddy}/flagbit/api/admin/flags`, { headers: flagHeaders, json: { name: 'survives' } }))
        .status,
    ).toBe(201);
    const backupDir = join(studio.dataDir, 'drill-corrupt');
    expect(studio.command(['backup', backupDir]).status).toBe(0);

    // Disaster: pages of the database overwritten, as a failing disk leaves them. The app is stopped first
    // so that its own checkpoint on close does not rewrite those pages.
    expect(studio.command(['stop', 'flagbit']).status).toBe(0);
    expect(studio.state('flagbit').state).toBe('stopped');
    const file = join(studio.dataDir, 'flagbit', 'flagbit.sqlite');
    const damaged = readFileSync(file);
    damaged.fill(0x5a, 4096);
    writeFileSync(file, damaged);
    const restore = studio.command(['restore', 'flagbit', join(backupDir, 'flagbit.sqlite')]);
    expect(restore.status, restore.stderr + restore.stdout).toBe(0);
    const flag = await call(`${caddy}/flagbit/api/admin/flags/survives`, { headers: flagHeaders });
    expect(flag.status, flag.text).toBe(200);
    const setAside = readdirSync(join(studio.dataDir, 'flagbit')).filter((name) =>
      name.includes('.unusable-'),
    );
    expect(
      setAside.some((name) => name.startsWith('flagbit.sqlite.unusable-')),
      setAside.join(),
    ).toBe(true);
  });
  it('stops every process on Ctrl-C (SIGINT to the whole process group, as a terminal sends it), and starts again on the same data without new secrets or demo keys', async () => {
    const secretsBefore = studio.secrets();
    const names = ['ops-agent', 'documint', 'cronping', 'flagbit', 'webhookvault', 'caddy'];
    const pids = names.map((name) => studio.state(name).pid!);
    expect(pids.every((pid) => pid > 0)).toBe(true);
    const exit = await studio.stop();
    expect(exit.code, 'Ctrl-C stops the studio cleanly').toBe(0);
    for (const name of ['ops-agent', 'documint', 'cronping', 'flagbit', 'webhookvault', 'caddy']) {
      expect(studio.state(name), name).toMatchObject({ state: 'stopped', pid: null });
      expect(existsSync(join(studio.runDir, `${name}.pid`)), name).toBe(false);
    }
    expect(studio.process.output()).toContain('stopped');
    const alive = pids.filter((pid) => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    });
    expect(alive, 'no process of the studio outlives Ctrl-C').toEqual([]);

    studio = await startStudio('journey', { again: studio, environment: studio.environment });
    expect(studio.secrets()).toEqual(secretsBefore);
    const output = studio.process.output();
    expect(output).not.toContain(secretsBefore.INTERNAL_TOKEN);
    expect(output).not.toContain('first start');
    expect(output).not.toContain('demo customer');
    const demo = JSON.parse(readFileSync(join(studio.dataDir, '.studio-demo.json'), 'utf8'));
    const account = await call(`${studio.caddyUrl}/cronping/v1/account`, {
      headers: { authorization: `Bearer ${demo.cronping.apiKey}` },
    });
    expect(account.status, 'the demo key from the first start still works').toBe(200);
  });
});

describe.skipIf(!hasCaddy)(
  'a studio started with configuration mistakes, and Caddy in its production shape',
  () => {
    let studio: RunningStudio;
    let hosts = '';

    beforeAll(async () => {
      const [httpPort, httpsPort, adminPort] = [await freePort(), await freePort(), await freePort()];
      hosts = 'documint.localhost, flagbit.localhost';
      studio = await startStudio('config-mistake', {
        environment: {
          // WebhookVault: its key set but empty, and an old key of sixteen bytes where thirty-two are needed.
          // DocuMint: an empty setting. Each mistake stops only its own app.
          WEBHOOKVAULT_ENCRYPTION_KEY: '',
          WEBHOOKVAULT_PREVIOUS_KEYS: Buffer.alloc(16, 7).toString('base64'),
          CHROMIUM_PATH: '',
          // Host names instead of a local address, as in production: HTTPS (Caddy's local CA for .localhost
          // names) on unprivileged ports, so readiness comes from Caddy's admin API.
          CADDY_ADDRESS: hosts,
          CADDY_HTTP_PORT: String(httpPort),
          CADDY_HTTPS_PORT: String(httpsPort),
          CADDY_ADMIN: `127.0.0.1:${adminPort}`,
        },
      });
    }, 180_000);

    afterAll(async () => {
      await studio?.stop();
    }, 60_000);

    it('stops only the misconfigured apps, names the variable, and keeps the others running', () => {
      const vault = studio.state('webhookvault');
      expect(vault.state).toBe('failed');
      expect(vault.restarts, 'a configuration error is not retried').toBe(0);
      expect(vault.reason).toMatch(/WEBHOOKVAULT_ENCRYPTION_KEY.*empty/);
      expect(vault.reason).toMatch(/WEBHOOKVAULT_PREVIOUS_KEYS.*16 bytes.*32 bytes/);
      const documint = studio.state('documint');
      expect(documint.state).toBe('failed');
      expect(documint.restarts).toBe(0);
      expect(documint.reason).toMatch(/CHROMIUM_PATH.*empty/);
      for (const name of ['ops-agent', 'cronping', 'flagbit', 'caddy'])
        expect(studio.state(name).state, name).toBe('running');
      expect(studio.process.output()).toMatch(
        /webhookvault has a configuration error and is not restarted: .*WEBHOOKVAULT_ENCRYPTION_KEY/,
      );
    });

    it('has the audit say which products are down and why', async () => {
      const audit = await call(`${studio.url('ops-agent')}/audit`, {
        method: 'POST',
        headers: { authorization: `Bearer ${studio.secrets().OPS_ADMIN_TOKEN}` },
      });
      expect(audit.status, audit.text).toBe(200);
      const byName = Object.fromEntries(audit.body.products.map((p: { name: string }) => [p.name, p]));
      expect(byName.webhookvault.status).toBe('fail');
      expect(byName.webhookvault.error).toContain('WEBHOOKVAULT_ENCRYPTION_KEY');
      expect(byName.webhookvault.error).toContain('WEBHOOKVAULT_PREVIOUS_KEYS');
      expect(byName.documint.status).toBe('fail');
      expect(byName.documint.error).toContain('CHROMIUM_PATH');
      expect(byName.cronping.status).toBe('pass');
      expect(byName.flagbit.status).toBe('pass');
    });

    it("points each product's URLs at its own HTTPS host, where Caddy answers with its certificate", async () => {
      const httpsPort = studio.environment.CADDY_HTTPS_PORT!;
      expect(studio.process.output()).toContain(`via Caddy https://flagbit.localhost:${httpsPort}/`);
      const ca = join(studio.dataDir, 'caddy', 'pki', 'authorities', 'local', 'root.crt');
      const answer = await eventually('Caddy serving flagbit.localhost over HTTPS', async () => {
        const response = await httpsGet(
          Number(httpsPort),
          'flagbit.localhost',
          '/livez',
          readFileSync(ca, 'utf8'),
        );
        return response.status === 200 ? response : undefined;
      });
      expect(answer.headers['strict-transport-security']).toBeDefined();
    });
  },
);
