import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createServer, type Socket } from 'node:net';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../src/clock';
import { startApp, startReceiver, T0, tempDir } from './harness';

const MINUTE = 60_000;

async function setup(environment: Record<string, string> = {}) {
  const harness = await startApp(environment);
  const account = await harness.signup();
  const receiver = await startReceiver();
  const channel = await harness.api(account.apiKey).post('/api/v3/channels/', {
    name: 'ops hook',
    kind: 'webhook',
    url: receiver.url,
  });
  expect(channel.statusCode, channel.body).toBe(201);
  const settle = async () => {
    harness.app.monitor.scheduler.tick();
    await harness.app.monitor.alerts.runDue();
  };
  const status = async (uuid: string) =>
    (await harness.api(account.apiKey).get(`/api/v3/checks/${uuid}`)).json().status as string;
  return { ...harness, account, receiver, settle, status };
}

function verifyStandardWebhook(secret: string, headers: Record<string, unknown>, body: string): boolean {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  const signed = `${headers['webhook-id']}.${headers['webhook-timestamp']}.${body}`;
  const expected = createHmac('sha256', key).update(signed).digest('base64');
  return String(headers['webhook-signature'])
    .split(' ')
    .some((part) => part === `v1,${expected}`);
}

describe('state machine and alerts', () => {
  it('goes grace after the period and down after the grace, alerting once; recovery alerts once', async () => {
    const { account, createCheck, ping, clock, settle, status, receiver, app } = await setup();
    const check = await createCheck(account.apiKey, {
      name: 'hourly',
      timeout: 3600,
      grace: 600,
      channels: '*',
    });
    await ping(check.uuid);
    expect(await status(check.uuid)).toBe('up');

    clock.set(T0 + 60 * MINUTE);
    await settle();
    expect(await status(check.uuid)).toBe('grace');
    clock.set(T0 + 70 * MINUTE - 1);
    await settle();
    expect(receiver.received).toHaveLength(0);
    clock.set(T0 + 70 * MINUTE);
    await settle();
    expect(await status(check.uuid)).toBe('down');
    await settle();
    clock.advance(10 * MINUTE);
    await settle();
    expect(receiver.received, 'one down alert').toHaveLength(1);

    const [alert] = receiver.received;
    const account_ = app.billing.repository.findAccount(account.accountId)!;
    expect(verifyStandardWebhook(account_.webhookSecret, alert!.headers, alert!.body)).toBe(true);
    expect(JSON.parse(alert!.body)).toMatchObject({
      type: 'check.down',
      data: { uuid: check.uuid, name: 'hourly', status: 'down', reason: 'timeout' },
    });

    await ping(check.uuid);
    await settle();
    await ping(check.uuid);
    await settle();
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual(['check.down', 'check.up']);
    const flips = (
      await app.inject({
        method: 'GET',
        url: `/api/v3/checks/${check.uuid}/flips/`,
        headers: { 'x-api-key': account.apiKey },
      })
    ).json().flips;
    expect(flips.map((flip: { up: number }) => flip.up)).toEqual([1, 0, 1]);
  });

  it('goes down at once on a fail ping, and only after failure_tolerance consecutive failures', async () => {
    const { account, createCheck, ping, settle, status, receiver } = await setup();
    const strict = await createCheck(account.apiKey, { channels: '*' });
    await ping(strict.uuid);
    await ping(`${strict.uuid}/fail`);
    expect(await status(strict.uuid)).toBe('down');

    const tolerant = await createCheck(account.apiKey, { channels: '*', failure_tolerance: 2 });
    await ping(`${tolerant.uuid}/1`);
    await ping(`${tolerant.uuid}/1`);
    expect(await status(tolerant.uuid)).toBe('up');
    await ping(tolerant.uuid);
    await ping(`${tolerant.uuid}/1`);
    await ping(`${tolerant.uuid}/1`);
    expect(await status(tolerant.uuid), 'a success resets the count').toBe('up');
    await ping(`${tolerant.uuid}/1`);
    expect(await status(tolerant.uuid)).toBe('down');
    await settle();
    expect(receiver.received.map((r) => JSON.parse(r.body).data.uuid)).toEqual([strict.uuid, tolerant.uuid]);
  });

  it('treats a run shorter than min_duration as a failure', async () => {
    const { account, createCheck, ping, clock, status } = await setup();
    const check = await createCheck(account.apiKey, { min_duration: 30 });
    await ping(`${check.uuid}/start`);
    clock.advance(31_000);
    await ping(check.uuid);
    expect(await status(check.uuid)).toBe('up');
    await ping(`${check.uuid}/start`);
    clock.advance(5_000);
    await ping(check.uuid);
    expect(await status(check.uuid)).toBe('down');
  });

  it('marks a started run down after the grace, or after max_runtime when it is set', async () => {
    const { account, createCheck, ping, clock, settle, status, receiver } = await setup();
    const byGrace = await createCheck(account.apiKey, { grace: 120, channels: '*' });
    const byRuntime = await createCheck(account.apiKey, { grace: 120, max_runtime: 600, channels: '*' });
    await ping(`${byGrace.uuid}/start`);
    await ping(`${byRuntime.uuid}/start`);
    clock.advance(2 * MINUTE);
    await settle();
    expect(await status(byGrace.uuid)).toBe('down');
    expect(await status(byRuntime.uuid)).toBe('started');
    clock.advance(8 * MINUTE);
    await settle();
    expect(await status(byRuntime.uuid)).toBe('down');
    expect(receiver.received.map((r) => JSON.parse(r.body).data.reason)).toEqual([
      'max_runtime',
      'max_runtime',
    ]);
  });

  it('follows a cron schedule in its timezone', async () => {
    const { account, createCheck, ping, clock, settle, status, api } = await setup();
    // Every day at 09:00 in Berlin = 08:00 UTC in January.
    const check = await createCheck(account.apiKey, {
      schedule: '0 9 * * *',
      tz: 'Europe/Berlin',
      grace: 300,
    });
    expect(check).toMatchObject({ schedule: '0 9 * * *', tz: 'Europe/Berlin' });
    expect(check.timeout).toBeUndefined();
    await ping(check.uuid);
    const json = (await api(account.apiKey).get(`/api/v3/checks/${check.uuid}`)).json();
    expect(json.next_ping).toBe('2026-01-06T08:00:00+00:00');
    clock.set(Date.UTC(2026, 0, 6, 8, 4));
    await settle();
    expect(await status(check.uuid)).toBe('grace');
    clock.set(Date.UTC(2026, 0, 6, 8, 5));
    await settle();
    expect(await status(check.uuid)).toBe('down');
  });

  it('does not alert for a paused check, and resume makes it new', async () => {
    const { account, createCheck, ping, clock, settle, status, api, receiver } = await setup();
    const check = await createCheck(account.apiKey, { timeout: 60, grace: 60, channels: '*' });
    await ping(check.uuid);
    await api(account.apiKey).post(`/api/v3/checks/${check.uuid}/pause`);
    clock.advance(60 * MINUTE);
    await settle();
    expect(await status(check.uuid)).toBe('paused');
    expect(receiver.received).toHaveLength(0);
    const resumed = await api(account.apiKey).post(`/api/v3/checks/${check.uuid}/resume`);
    expect(resumed.json()).toMatchObject({ status: 'new', last_ping: null });
    const again = await api(account.apiKey).post(`/api/v3/checks/${check.uuid}/resume`);
    expect([again.statusCode, again.json()]).toEqual([409, { error: 'check is not paused' }]);
    // A plain pause is lifted by the next ping.
    await api(account.apiKey).post(`/api/v3/checks/${check.uuid}/pause`);
    await ping(check.uuid);
    expect(await status(check.uuid)).toBe('up');
  });

  it('retries a failed webhook with backoff, keeping its webhook-id, until the receiver accepts it', async () => {
    const harness = await startApp();
    const account = await harness.signup();
    const receiver = await startReceiver([500, 503]);
    await harness.api(account.apiKey).post('/api/v3/channels/', { kind: 'webhook', url: receiver.url });
    const check = await harness.createCheck(account.apiKey, { channels: '*' });
    await harness.ping(`${check.uuid}/fail`);
    const { alerts } = harness.app.monitor;
    await alerts.runDue();
    expect(receiver.received).toHaveLength(1);
    await alerts.runDue();
    expect(receiver.received, 'not before the backoff').toHaveLength(1);
    harness.clock.advance(1000);
    await alerts.runDue();
    expect(receiver.received).toHaveLength(2);
    harness.clock.advance(1999);
    await alerts.runDue();
    expect(receiver.received, 'the second wait is twice as long').toHaveLength(2);
    harness.clock.advance(1);
    await alerts.runDue();
    expect(receiver.received).toHaveLength(3);
    const ids = new Set(receiver.received.map((r) => r.headers['webhook-id']));
    expect(ids.size).toBe(1);
    harness.clock.advance(60 * MINUTE);
    await alerts.runDue();
    expect(receiver.received).toHaveLength(3);
    expect(harness.app.monitor.repository.notificationsOfCheck(check.uuid)).toMatchObject([
      { state: 'delivered', attempts: 3 },
    ]);
  });

  it('gives up after ALERT_MAX_ATTEMPTS and records the last error', async () => {
    const harness = await startApp({ ALERT_MAX_ATTEMPTS: '2' });
    const account = await harness.signup();
    const receiver = await startReceiver([500, 500, 500]);
    await harness.api(account.apiKey).post('/api/v3/channels/', { kind: 'webhook', url: receiver.url });
    const check = await harness.createCheck(account.apiKey, { channels: '*' });
    await harness.ping(`${check.uuid}/fail`);
    await harness.app.monitor.alerts.runDue();
    harness.clock.advance(10_000);
    await harness.app.monitor.alerts.runDue();
    harness.clock.advance(100_000);
    await harness.app.monitor.alerts.runDue();
    expect(receiver.received).toHaveLength(2);
    expect(harness.app.monitor.repository.notificationsOfCheck(check.uuid)).toMatchObject([
      { state: 'failed', attempts: 2, last_error: expect.stringContaining('500') },
    ]);
  });

  it('posts a Slack-compatible message to a slack channel', async () => {
    const harness = await startApp();
    const account = await harness.signup();
    const receiver = await startReceiver();
    await harness
      .api(account.apiKey)
      .post('/api/v3/channels/', { name: 'slack', kind: 'slack', url: receiver.url });
    const check = await harness.createCheck(account.apiKey, { name: 'db backup', channels: 'slack' });
    await harness.ping(`${check.uuid}/fail`);
    await harness.app.monitor.alerts.runDue();
    expect(receiver.received).toHaveLength(1);
    expect(JSON.parse(receiver.received[0]!.body).text).toMatch(/"db backup" is DOWN/);
  });

  it('sends email alerts over SMTP to the configured server', async () => {
    const messages: string[] = [];
    const smtp = createServer((socket: Socket) => {
      let data = false;
      let buffer = '';
      socket.write('220 test ESMTP\r\n');
      socket.on('data', (chunk) => {
        buffer += chunk.toString();
        let index = buffer.indexOf('\r\n');
        while (index >= 0) {
          const line = buffer.slice(0, index);
          buffer = buffer.slice(index + 2);
          if (data) {
            if (line === '.') {
              data = false;
              socket.write('250 queued\r\n');
            } else messages.push(line);
          } else if (/^(EHLO|HELO)/i.test(line)) socket.write('250 test\r\n');
          else if (/^DATA/i.test(line)) {
            data = true;
            socket.write('354 go\r\n');
          } else if (/^QUIT/i.test(line)) socket.end('221 bye\r\n');
          else socket.write('250 ok\r\n');
          index = buffer.indexOf('\r\n');
        }
      });
    });
    await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
    const { port } = smtp.address() as AddressInfo;
    try {
      const harness = await startApp({
        SMTP_URL: `smtp://127.0.0.1:${port}`,
        SMTP_FROM: 'alerts@cronping.test',
      });
      const account = await harness.signup();
      await harness
        .api(account.apiKey)
        .post('/api/v3/channels/', { kind: 'email', email: 'oncall@example.com' });
      const check = await harness.createCheck(account.apiKey, { name: 'nightly', channels: '*' });
      await harness.ping(`${check.uuid}/fail`);
      await harness.app.monitor.alerts.runDue();
      const text = messages.join('\n');
      expect(text).toMatch(/Subject: DOWN \| nightly/);
      expect(text).toMatch(/To: oncall@example.com/);
      await harness.close();
    } finally {
      smtp.close();
    }
  });

  it('records an email alert as failed at once when no SMTP server is configured', async () => {
    const harness = await startApp();
    const account = await harness.signup();
    await harness
      .api(account.apiKey)
      .post('/api/v3/channels/', { kind: 'email', email: 'oncall@example.com' });
    const check = await harness.createCheck(account.apiKey, { channels: '*' });
    await harness.ping(`${check.uuid}/fail`);
    await harness.app.monitor.alerts.runDue();
    expect(harness.app.monitor.repository.notificationsOfCheck(check.uuid)).toMatchObject([
      { state: 'failed', attempts: 1, last_error: expect.stringContaining('SMTP_URL') },
    ]);
  });

  it('refuses a channel URL on a private network unless OUTBOUND_ALLOWLIST allows it', async () => {
    const harness = await startApp({ OUTBOUND_ALLOWLIST: '192.0.2.1' });
    const account = await harness.signup();
    for (const url of [
      'http://127.0.0.1:9/hook',
      'http://10.1.2.3/hook',
      'http://169.254.169.254/latest',
      'ftp://example.com/',
    ]) {
      const response = await harness.api(account.apiKey).post('/api/v3/channels/', { kind: 'webhook', url });
      expect(response.statusCode, url).toBe(400);
      expect(response.json().error, url).toEqual(expect.any(String));
    }
  });

  it('does not flood false alerts after its own outage: missed deadlines get one grace window from start-up', async () => {
    const dataDir = tempDir();
    const clock = new ManualClock(T0);
    const first = await startApp({}, { clock, dataDir });
    const account = await first.signup();
    const receiver = await startReceiver();
    await first.api(account.apiKey).post('/api/v3/channels/', { kind: 'webhook', url: receiver.url });
    const check = await first.createCheck(account.apiKey, { timeout: 60, grace: 120, channels: '*' });
    await first.ping(check.uuid);
    await first.close();

    // CronPing was down for an hour: the check's deadline (T0 + 3 min) passed meanwhile.
    clock.set(T0 + 60 * MINUTE);
    const second = await startApp({}, { clock, dataDir });
    second.app.monitor.scheduler.tick();
    await second.app.monitor.alerts.runDue();
    expect(receiver.received, 'no alert at start-up').toHaveLength(0);
    clock.advance(2 * MINUTE - 1);
    second.app.monitor.scheduler.tick();
    await second.app.monitor.alerts.runDue();
    expect(receiver.received).toHaveLength(0);
    clock.advance(1);
    second.app.monitor.scheduler.tick();
    await second.app.monitor.alerts.runDue();
    expect(receiver.received.map((r) => JSON.parse(r.body).type)).toEqual(['check.down']);
  });
});

describe('health probes', () => {
  it('warns on /health when checks sit past their deadline (a stalled scheduler)', async () => {
    const { app, signup, createCheck, ping, clock } = await startApp();
    const { apiKey } = await signup();
    const check = await createCheck(apiKey, { timeout: 60, grace: 60 });
    await ping(check.uuid);
    const probe = async () =>
      (await app.inject({ method: 'GET', url: '/health' })).json().checks['scheduler:overdueChecks'][0];
    expect((await probe()).status).toBe('pass');
    clock.advance(10 * MINUTE); // the real timer has not fired: the manual clock moved, not time
    expect(await probe()).toMatchObject({ status: 'warn', observedValue: 1 });
    app.monitor.scheduler.tick();
    expect((await probe()).status).toBe('pass');
  });
});

describe('event-driven detection', () => {
  it('arms one timer for the earliest stored deadline and re-arms when a ping sets an earlier one', async () => {
    const { app, signup, createCheck, ping, clock } = await startApp();
    const { apiKey } = await signup();
    const { scheduler } = app.monitor;
    expect(scheduler.nextWake()).toBeNull();
    const slow = await createCheck(apiKey, { timeout: 3600, grace: 600 });
    const fast = await createCheck(apiKey, { timeout: 60, grace: 60 });
    await ping(slow.uuid);
    expect(scheduler.nextWake()).toBe(T0 + 4_200_000);
    await ping(fast.uuid);
    expect(scheduler.nextWake()).toBe(T0 + 120_000);
    clock.set(T0 + 120_000);
    expect(scheduler.tick()).toBe(1);
    expect(scheduler.nextWake(), 'then the next one').toBe(T0 + 4_200_000);
  });
});
