import { signWebhook } from '@studio/service-kit/outbound';
import { describe, expect, it } from 'vitest';
import { admin, json, startAgent, startProduct, startReceiver } from './harness';
import { startFakeSmtp } from './smtp-fake';

const ALERT_SECRET = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;

async function audit(app: Awaited<ReturnType<typeof startAgent>>['app']) {
  const response = await app.inject({ method: 'POST', url: '/audit', headers: admin });
  expect(response.statusCode, response.body).toBe(200);
  return response.json();
}

describe('the audit', () => {
  it('reads every configured product through the health contract and reports one stopped mid-test as failed', async () => {
    const cronping = await startProduct('cronping');
    const flagbit = await startProduct('flagbit');
    const { app } = await startAgent({ CRONPING_URL: cronping.url, FLAGBIT_URL: flagbit.url });

    const first = await audit(app);
    expect(first.status, JSON.stringify(first.products)).not.toBe('fail');
    expect(first.products.map((p: { name: string }) => p.name)).toEqual(['cronping', 'flagbit']);
    expect(first.products[0].checks['sqlite:responseTime'].status).toBe('pass');
    expect(first.products[0].responseTimeMs).toEqual(expect.any(Number));
    expect(first.host.memory.totalBytes).toBeGreaterThan(0);
    expect(first.host.disk.usedPercent).toEqual(expect.any(Number));
    expect(first.integrations.stripe).toBe('not configured');
    expect(first.blog.status).toBe('not configured');

    await flagbit.stop();
    const second = await audit(app);
    expect(second.status).toBe('fail');
    const stopped = second.products.find((p: { name: string }) => p.name === 'flagbit');
    expect(stopped.status).toBe('fail');
    // The health checks never reuse a kept-alive socket: the reason names the refused connection, not
    // "other side closed" from the socket the previous audit left open.
    expect(stopped.error).toMatch(/ECONNREFUSED/);
    expect(stopped.error).not.toMatch(/other side closed|UND_ERR_SOCKET/);
    expect(second.products.find((p: { name: string }) => p.name === 'cronping').status).not.toBe('fail');

    const latest = await app.inject({ method: 'GET', url: '/audit/latest', headers: admin });
    expect(latest.json().id).toBe(second.id);
  });

  it('answers /audit/latest with 404 before the first audit', async () => {
    const { app } = await startAgent();
    const response = await app.inject({ method: 'GET', url: '/audit/latest', headers: admin });
    expect(response.statusCode).toBe(404);
  });

  it('refuses the automation API without the admin token or with a wrong one', async () => {
    const { app } = await startAgent();
    for (const headers of [
      {},
      { authorization: 'Bearer wrong' },
      { authorization: `Basic ${admin.authorization}` },
    ]) {
      for (const [method, url] of [
        ['POST', '/audit'],
        ['GET', '/audit/latest'],
        ['GET', '/incidents'],
        ['GET', '/products'],
      ] as const) {
        const response = await app.inject({ method, url, headers });
        expect(response.statusCode, `${method} ${url}`).toBe(401);
        expect(response.json().error.code).toBe('unauthorized');
      }
    }
  });

  it('opens one incident after the failure threshold, resolves it after the recovery threshold, and alerts on both, signed', async () => {
    const product = await startProduct('webhookvault');
    const alerts = await startReceiver();
    const { app, clock } = await startAgent({
      WEBHOOKVAULT_URL: product.url,
      ALERT_WEBHOOK_URL: `${alerts.url}/alerts`,
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      AUDIT_FAILURE_THRESHOLD: '2',
      AUDIT_RECOVERY_THRESHOLD: '2',
    });
    const incidents = async () =>
      (await app.inject({ method: 'GET', url: '/incidents', headers: admin })).json().items;

    await audit(app);
    await product.stop();
    clock.advance(30_000);
    const firstFailure = await audit(app);
    expect(firstFailure.incidents.opened).toEqual([]);
    expect(await incidents()).toEqual([]);

    clock.advance(30_000);
    const secondFailure = await audit(app);
    expect(secondFailure.incidents.opened).toHaveLength(1);
    clock.advance(30_000);
    await audit(app);
    const open = await incidents();
    expect(open).toHaveLength(1);
    expect(open[0]).toMatchObject({ product: 'webhookvault', status: 'open', resolvedAt: null });
    expect(open[0].reason).toMatch(/ECONNREFUSED/);
    expect(open[0].reason).not.toMatch(/other side closed|UND_ERR_SOCKET/);
    expect(open[0].openedAt).toBe('2026-11-24T10:01:00.000Z');

    await product.start();
    clock.advance(30_000);
    const firstRecovery = await audit(app);
    expect(firstRecovery.incidents.resolved).toEqual([]);
    expect((await incidents())[0].status).toBe('open');
    clock.advance(30_000);
    const secondRecovery = await audit(app);
    expect(secondRecovery.incidents.resolved).toEqual([open[0].id]);
    const [resolved] = await incidents();
    expect(resolved).toMatchObject({ status: 'resolved', resolvedAt: '2026-11-24T10:02:30.000Z' });
    expect(resolved.timeline.map((event: { kind: string }) => event.kind)).toEqual([
      'opened',
      'recovering',
      'resolved',
    ]);

    const delivered = alerts.requests.filter((request) => request.url === '/alerts');
    expect(delivered.map((request) => JSON.parse(request.body).type)).toEqual([
      'incident.opened',
      'incident.resolved',
    ]);
    for (const request of delivered) {
      const expected = signWebhook({
        secret: ALERT_SECRET,
        messageId: String(request.headers['webhook-id']),
        timestamp: new Date(Number(request.headers['webhook-timestamp']) * 1000),
        body: request.body,
      });
      expect(request.headers['webhook-signature']).toBe(expected['webhook-signature']);
    }
  });

  it('does not open an incident for blips shorter than the failure threshold', async () => {
    const product = await startProduct('documint');
    const { app, clock } = await startAgent({ DOCUMINT_URL: product.url, AUDIT_FAILURE_THRESHOLD: '2' });
    for (let round = 0; round < 3; round += 1) {
      await product.stop();
      expect((await audit(app)).products[0].status).toBe('fail');
      await product.start();
      clock.advance(30_000);
      expect((await audit(app)).products[0].status).not.toBe('fail');
      clock.advance(30_000);
    }
    expect((await app.inject({ method: 'GET', url: '/incidents', headers: admin })).json().items).toEqual([]);
  });

  it('keeps retrying an alert the receiver refused, with the same message id', async () => {
    const product = await startProduct('cronping');
    let accept = false;
    const alerts = await startReceiver((_request, response) => json(response, accept ? 204 : 503, {}));
    const { app, clock } = await startAgent({
      CRONPING_URL: product.url,
      ALERT_WEBHOOK_URL: alerts.url,
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
      AUDIT_FAILURE_THRESHOLD: '1',
    });
    await product.stop();
    await audit(app);
    expect(alerts.requests).toHaveLength(1);
    accept = true;
    clock.advance(60_000);
    await audit(app);
    expect(alerts.requests).toHaveLength(2);
    expect(alerts.requests[1]?.headers['webhook-id']).toBe(alerts.requests[0]?.headers['webhook-id']);
    clock.advance(60_000);
    await audit(app);
    expect(alerts.requests).toHaveLength(2);
  });

  it('pings the heartbeat URL after every audit, so a dead agent shows up in CronPing', async () => {
    const heartbeat = await startReceiver();
    const { app } = await startAgent({ HEARTBEAT_URL: `${heartbeat.url}/ping/abc123` });
    await audit(app);
    await audit(app);
    expect(heartbeat.requests.map((request) => `${request.method} ${request.url}`)).toEqual([
      'POST /ping/abc123',
      'POST /ping/abc123',
    ]);
  });

  it('compares the blog sitemap with the posts the pipeline published', async () => {
    const ghost = await startReceiver((request, response) => {
      if (request.url === '/sitemap-posts.xml') {
        response
          .writeHead(200, { 'content-type': 'application/xml' })
          .end('<urlset><url><loc>a</loc></url></urlset>');
      } else json(response, 404, {});
    });
    const { app } = await startAgent({ GHOST_URL: ghost.url, GHOST_ADMIN_API_KEY: 'abc:0123' });
    const report = await audit(app);
    expect(report.blog).toEqual({ status: 'pass', sitemapPosts: 1, publishedPosts: 0 });
  });

  it('keeps uptime and p95 response time per product over 24 h, 7 d and 30 d', async () => {
    const product = await startProduct('flagbit');
    const { app, clock } = await startAgent({ FLAGBIT_URL: product.url });
    await audit(app);
    await product.stop();
    clock.advance(60_000);
    await audit(app);
    const [item] = (await app.inject({ method: 'GET', url: '/products', headers: admin })).json().items;
    expect(item).toMatchObject({ name: 'flagbit', lastStatus: 'fail' });
    expect(item.windows['24h']).toMatchObject({ checks: 2, uptimePercent: 50 });
    expect(item.windows['30d'].p95ResponseTimeMs).toEqual(expect.any(Number));
    clock.advance(2 * 24 * 3600 * 1000);
    const later = (await app.inject({ method: 'GET', url: '/products', headers: admin })).json().items[0];
    expect(later.windows['24h'].checks).toBe(0);
    expect(later.windows['7d'].checks).toBe(2);
  });
});

describe('audit conditions', () => {
  const healthReport = (uptime: number, writeRate: number) => ({
    status: 'pass',
    serviceId: 'documint',
    checks: {
      'process:uptime': [{ status: 'pass', observedValue: uptime, observedUnit: 's' }],
      'sqlite:writeRate': [{ status: 'pass', observedValue: writeRate, observedUnit: 'per second' }],
    },
  });

  it('applies AUDIT_RULES to fields of the health report, and notices a process that restarted', async () => {
    let report = healthReport(500, 10);
    const product = await startReceiver((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/health+json' }).end(JSON.stringify(report));
    });
    const { app, clock } = await startAgent({
      DOCUMINT_URL: product.url,
      AUDIT_RULES: JSON.stringify([
        { field: 'checks.sqlite:writeRate.0.observedValue', max: 100, status: 'warn' },
        { product: 'documint', field: 'checks.sqlite:writeRate.0.observedValue', max: 1000, status: 'fail' },
        { product: 'cronping', field: 'releaseId', equals: 'never', status: 'fail' },
      ]),
    });
    const first = (await audit(app)).products[0];
    expect(first).toMatchObject({ status: 'pass', uptimeSeconds: 500 });
    expect(first.restarted).toBeUndefined();

    report = healthReport(530, 150);
    clock.advance(30_000);
    const warned = (await audit(app)).products[0];
    expect(warned).toMatchObject({ status: 'warn', restarted: false });
    expect(warned.error).toBe('checks.sqlite:writeRate.0.observedValue is 150, above 100');

    report = healthReport(3, 5000);
    clock.advance(30_000);
    const failed = (await audit(app)).products[0];
    expect(failed).toMatchObject({ status: 'fail', restarted: true });
    expect(failed.error).toBe('checks.sqlite:writeRate.0.observedValue is 5000, above 1000');
  });

  it('refuses malformed AUDIT_RULES at start, naming the variable', async () => {
    await expect(startAgent({ AUDIT_RULES: '[{"field":"status"}]' })).rejects.toThrow(
      /AUDIT_RULES is invalid: 0: each rule needs max, min or equals/,
    );
  });
});

describe('incident email', () => {
  it('emails the owner over SMTP when an incident opens and when it resolves', async () => {
    const smtp = await startFakeSmtp();
    const product = await startProduct('flagbit');
    const { app, clock } = await startAgent({
      FLAGBIT_URL: product.url,
      SMTP_URL: smtp.url,
      ALERT_EMAIL_TO: 'owner@studio.example',
      AUDIT_FAILURE_THRESHOLD: '1',
      AUDIT_RECOVERY_THRESHOLD: '1',
    });
    await product.stop();
    await audit(app);
    await product.start();
    clock.advance(30_000);
    await audit(app);
    expect(smtp.messages).toHaveLength(2);
    expect(smtp.messages[0]?.to).toEqual(['RCPT TO:<owner@studio.example>']);
    expect(smtp.messages[0]?.data).toMatch(/Subject: \[ops-agent\] flagbit is down/);
    expect(smtp.messages[1]?.data).toMatch(/Subject: \[ops-agent\] flagbit recovered/);
  });
});
