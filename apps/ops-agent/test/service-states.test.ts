import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { manualClock } from '../src/clock';
import { admin, startAgent, startReceiver, tempDir } from './harness';
import { closedPort, type StateFile, startService, T0, writeState } from './state-files';

/**
 * The supervisor's `<name>.state.json` next to the pid files (SERVICE_PID_DIR): what the audit makes of each
 * state, of a broken file, of restarts between audits, and of a product whose process explains why it is down.
 */

const ALERT_SECRET = `whsec_${Buffer.alloc(32, 3).toString('base64')}`;
const stableHost = { DISK_WARN_PERCENT: '99', DISK_FAIL_PERCENT: '100' };

type Service = {
  name: string;
  pid: number | null;
  running: boolean;
  error?: string;
  state?: string;
  restarts?: number;
  startedAt?: string | null;
  lastExit?: StateFile['lastExit'];
  nextStartAt?: string | null;
  reason?: string | null;
  restartedSinceLastAudit?: boolean;
  restartsSinceLastAudit?: number;
};

type Report = {
  status: string;
  products: Array<{ name: string; status: string; error?: string }>;
  host: { status: string; services?: Service[]; servicesError?: string };
  incidents: { opened: string[]; resolved: string[] };
};

type Incident = {
  id: string;
  product: string;
  status: string;
  openedAt: string;
  resolvedAt: string | null;
  reason: string;
  timeline: Array<{ at: string; kind: string; message: string }>;
};

async function agentWith(env: Record<string, string>, clock = manualClock(T0)) {
  const agent = await startAgent({ ...stableHost, ...env }, { clock });
  const audit = async (): Promise<Report> => {
    clock.advance(30_000);
    const response = await agent.app.inject({ method: 'POST', url: '/audit', headers: admin });
    expect(response.statusCode, response.body).toBe(200);
    return response.json() as Report;
  };
  const incidents = async (): Promise<Incident[]> =>
    (await agent.app.inject({ method: 'GET', url: '/incidents', headers: admin })).json().items;
  return { ...agent, audit, incidents };
}

const serviceIn = (report: Report, name: string) => {
  const service = report.host.services?.find((candidate) => candidate.name === name);
  expect(service, `${name} in ${JSON.stringify(report.host.services)}`).toBeDefined();
  return service as Service;
};

describe('the supervisor’s state files (SERVICE_PID_DIR/<name>.state.json)', () => {
  it('reports a running service with its state, pid, restarts and start time, and keeps the host passing', async () => {
    const dir = tempDir('run-');
    const child = startService(dir, 'cronping');
    writeState(dir, { name: 'cronping', state: 'running', pid: child.pid ?? null, startedAt: T0 });
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });

    const report = await audit();
    expect(report.host.services).toEqual([
      {
        name: 'cronping',
        pid: child.pid,
        running: true,
        state: 'running',
        restarts: 0,
        startedAt: T0,
        lastExit: null,
        nextStartAt: null,
        reason: null,
        restartedSinceLastAudit: false,
      },
    ]);
    expect(report.host.status).not.toBe('fail');
  });

  it('fails the host for a service in backoff, naming the signal, the restart number and time, and its last output', async () => {
    const dir = tempDir('run-');
    writeState(dir, {
      name: 'flagbit',
      state: 'backoff',
      restarts: 2,
      lastExit: {
        code: null,
        signal: 'SIGKILL',
        at: '2026-11-24T10:00:10.000Z',
        output: '{"level":30,"msg":"listening on 4103"}\n{"level":50,"msg":"heap almost full"}\n',
      },
      nextStartAt: '2026-11-24T10:00:12.000Z',
    });
    // The agent's clock is 30 s after T0: the restart is 18 s overdue, within the supervisor's slack.
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });

    const report = await audit();
    const flagbit = serviceIn(report, 'flagbit');
    expect(flagbit).toMatchObject({ running: false, state: 'backoff', restarts: 2, pid: null });
    expect(flagbit.error).toBe(
      'flagbit: backoff: exited with signal SIGKILL at 2026-11-24T10:00:10.000Z, restart #2 at 2026-11-24T10:00:12.000Z; last output: listening on 4103 | heap almost full',
    );
    expect(report.host.status).toBe('fail');
    expect(report.status).toBe('fail');
  });

  it('keeps of a crash’s output the error line of a Node stack trace, scrubbed of secrets, and at most 600 characters in the report', async () => {
    const dir = tempDir('run-');
    const stackTrace = [
      'x'.repeat(1500),
      '/app/dist/server.js:10',
      "    throw new Error('cannot reach postgres://ops:hunter2@db.internal/ops');",
      '    ^',
      '',
      'Error: cannot reach postgres://ops:hunter2@db.internal/ops',
      '    at Object.<anonymous> (/app/dist/server.js:10:11)',
      '    at Module._compile (node:internal/modules/cjs/loader:1554:14)',
      '',
      'Node.js v20.19.0',
      '',
    ].join('\n');
    writeState(dir, {
      name: 'cronping',
      state: 'backoff',
      restarts: 1,
      lastExit: { code: 1, signal: null, at: '2026-11-24T10:00:20.000Z', output: stackTrace },
      nextStartAt: '2026-11-24T10:00:21.000Z',
    });
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });
    const cronping = serviceIn(await audit(), 'cronping');
    expect(cronping.error).toBe(
      "cronping: backoff: exited with code 1 at 2026-11-24T10:00:20.000Z, restart #1 at 2026-11-24T10:00:21.000Z; last output: /app/dist/server.js:10 | throw new Error('cannot reach postgres://***@db.internal/ops'); | Error: cannot reach postgres://***@db.internal/ops",
    );
    expect(cronping.lastExit?.output.length).toBeLessThanOrEqual(600);
    expect(cronping.lastExit?.output.endsWith('Error: cannot reach postgres://***@db.internal/ops')).toBe(
      true,
    );
    expect(JSON.stringify(cronping)).not.toContain('hunter2');
  });

  it('says a backoff long overdue means nobody is restarting the process', async () => {
    const dir = tempDir('run-');
    writeState(dir, {
      name: 'flagbit',
      state: 'backoff',
      restarts: 1,
      lastExit: { code: 1, signal: null, at: '2026-11-24T09:00:00.000Z', output: '' },
      nextStartAt: '2026-11-24T09:00:01.000Z',
    });
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });
    const flagbit = serviceIn(await audit(), 'flagbit');
    expect(flagbit.error).toBe(
      'flagbit: backoff: exited with code 1 at 2026-11-24T09:00:00.000Z, restart #1 at 2026-11-24T09:00:01.000Z (overdue: no restart since then, is npm start still running?)',
    );
  });

  it('fails the host for a failed service with the supervisor’s reason, adding the last output only when the reason lacks it', async () => {
    const dir = tempDir('run-');
    const configOutput =
      'webhookvault: invalid configuration\n  - WEBHOOKVAULT_ENCRYPTION_KEY decodes to 16 bytes; it must be base64 of exactly 32 bytes\n';
    writeState(dir, {
      name: 'webhookvault',
      state: 'failed',
      lastExit: { code: 78, signal: null, at: '2026-11-24T10:00:05.000Z', output: configOutput },
      reason:
        'exited with code 78 (configuration error) at start: webhookvault: invalid configuration |   - WEBHOOKVAULT_ENCRYPTION_KEY decodes to 16 bytes; it must be base64 of exactly 32 bytes',
    });
    writeState(dir, {
      name: 'documint',
      state: 'failed',
      restarts: 5,
      lastExit: { code: 1, signal: null, at: '2026-11-24T10:00:07.000Z', output: 'Error: typst not found\n' },
      reason: 'exited 6 times within 60 s (last: code 1); not restarted again',
    });
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });

    const report = await audit();
    expect(serviceIn(report, 'webhookvault').error).toBe(
      'webhookvault: failed: exited with code 78 (configuration error) at start: webhookvault: invalid configuration |   - WEBHOOKVAULT_ENCRYPTION_KEY decodes to 16 bytes; it must be base64 of exactly 32 bytes',
    );
    expect(serviceIn(report, 'documint').error).toBe(
      'documint: failed: exited 6 times within 60 s (last: code 1); not restarted again; last output: Error: typst not found',
    );
    expect(serviceIn(report, 'documint')).toMatchObject({ state: 'failed', running: false, restarts: 5 });
    expect(report.host.status).toBe('fail');
  });

  it('fails the host for a stopped service, saying how it exited', async () => {
    const dir = tempDir('run-');
    writeState(dir, {
      name: 'caddy',
      state: 'stopped',
      lastExit: { code: 0, signal: null, at: '2026-11-24T10:00:01.000Z', output: '' },
    });
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });
    const report = await audit();
    expect(serviceIn(report, 'caddy')).toMatchObject({
      running: false,
      state: 'stopped',
      error: 'caddy: stopped by the supervisor (exited with code 0 at 2026-11-24T10:00:01.000Z)',
    });
    expect(report.host.status).toBe('fail');
  });

  it('fails a service whose state file says running when its process is gone (the supervisor died with it)', async () => {
    const dir = tempDir('run-');
    const child = startService(dir, 'cronping');
    const pid = child.pid ?? 0;
    writeState(dir, { name: 'cronping', state: 'running', pid, startedAt: T0 });
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });
    const report = await audit();
    expect(serviceIn(report, 'cronping')).toMatchObject({
      running: false,
      state: 'running',
      error: `cronping: process ${pid} is not running (the state file says running since ${T0})`,
    });
    expect(report.host.status).toBe('fail');
  });

  it('reports a state file that is not JSON, naming the file; fails the host without a pid file and warns with a running one', async () => {
    const dir = tempDir('run-');
    writeFileSync(join(dir, 'flagbit.state.json'), '{"name":"flagbit","state":');
    const child = startService(dir, 'cronping');
    writeFileSync(join(dir, 'cronping.state.json'), 'not json');
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });

    const report = await audit();
    expect(serviceIn(report, 'flagbit')).toMatchObject({ running: false, pid: null });
    expect(serviceIn(report, 'flagbit').error).toMatch(/^flagbit: flagbit\.state\.json is not JSON: /);
    expect(serviceIn(report, 'cronping')).toMatchObject({ running: true, pid: child.pid });
    expect(serviceIn(report, 'cronping').error).toMatch(/^cronping: cronping\.state\.json is not JSON: /);
    expect(report.host.status).toBe('fail');

    writeState(dir, { name: 'flagbit', state: 'running', pid: child.pid ?? null, startedAt: T0 });
    const onlyBrokenFileLeft = await audit();
    expect(onlyBrokenFileLeft.host.status, JSON.stringify(onlyBrokenFileLeft.host)).toBe('warn');
  });

  it('reports a state file with missing or wrong fields, naming each field', async () => {
    const dir = tempDir('run-');
    writeFileSync(
      join(dir, 'cronping.state.json'),
      JSON.stringify({ name: 'cronping', state: 'crashed', pid: null, startedAt: null, updatedAt: T0 }),
    );
    writeFileSync(
      join(dir, 'flagbit.state.json'),
      JSON.stringify({
        name: 'flagbit',
        state: 'running',
        pid: 12,
        restarts: '2',
        startedAt: 'yesterday',
        lastExit: null,
        nextStartAt: null,
        reason: null,
        updatedAt: T0,
      }),
    );
    writeFileSync(
      join(dir, 'documint.state.json'),
      JSON.stringify({
        name: 'cronping',
        state: 'running',
        pid: 12,
        restarts: 0,
        startedAt: null,
        lastExit: null,
        nextStartAt: null,
        reason: null,
        updatedAt: T0,
      }),
    );
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });

    const report = await audit();
    const cronping = serviceIn(report, 'cronping').error ?? '';
    expect(cronping).toMatch(/^cronping: cronping\.state\.json is invalid: /);
    expect(cronping).toContain(
      'state: Invalid option: expected one of "running"|"starting"|"backoff"|"failed"|"stopped"',
    );
    for (const field of ['restarts', 'lastExit', 'nextStartAt', 'reason']) {
      expect(cronping).toContain(`${field}: missing`);
    }
    const flagbit = serviceIn(report, 'flagbit').error ?? '';
    expect(flagbit).toMatch(/^flagbit: flagbit\.state\.json is invalid: /);
    expect(flagbit).toContain('restarts: Invalid input: expected number, received string');
    expect(flagbit).toContain('startedAt: Invalid ISO datetime');
    expect(serviceIn(report, 'documint').error).toBe(
      'documint: documint.state.json is invalid: name: says "cronping", not "documint"',
    );
    for (const name of ['cronping', 'flagbit', 'documint']) {
      expect(serviceIn(report, name).running, name).toBe(false);
    }
    expect(report.host.status).toBe('fail');
  });

  it('ignores the supervisor’s temporary files and its socket next to the state files', async () => {
    const dir = tempDir('run-');
    const child = startService(dir, 'cronping');
    writeState(dir, { name: 'cronping', state: 'running', pid: child.pid ?? null, startedAt: T0 });
    writeFileSync(join(dir, 'cronping.state.json.4242.tmp'), '{');
    writeFileSync(join(dir, 'supervisor.sock'), '');
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });
    const report = await audit();
    expect(report.host.services?.map((service) => service.name)).toEqual(['cronping']);
    expect(report.host.status).not.toBe('fail');
  });
});

describe('restarts between audits', () => {
  it('reports a crash the supervisor healed within one interval as an incident opened and resolved, with the signal, counted once across an agent restart', async () => {
    const dir = tempDir('run-');
    const dataDir = tempDir('ops-data-');
    const alerts = await startReceiver();
    const env = {
      SERVICE_PID_DIR: dir,
      DATA_DIR: dataDir,
      ALERT_WEBHOOK_URL: `${alerts.url}/alerts`,
      ALERT_WEBHOOK_SECRET: ALERT_SECRET,
    };
    const clock = manualClock(T0);
    const first = startService(dir, 'cronping');
    writeState(dir, { name: 'cronping', state: 'running', pid: first.pid ?? null, startedAt: T0 });
    const agent = await agentWith(env, clock);

    const before = await agent.audit();
    expect(serviceIn(before, 'cronping')).toMatchObject({ restarts: 0, restartedSinceLastAudit: false });
    expect(serviceIn(before, 'cronping').restartsSinceLastAudit).toBeUndefined();

    // Between two audits: killed with SIGKILL, restarted by the supervisor 1 s later as a new process.
    const exited = once(first, 'exit');
    first.kill('SIGKILL');
    await exited;
    const second = startService(dir, 'cronping');
    writeState(dir, {
      name: 'cronping',
      state: 'running',
      pid: second.pid ?? null,
      restarts: 1,
      startedAt: '2026-11-24T10:00:41.000Z',
      lastExit: {
        code: null,
        signal: 'SIGKILL',
        at: '2026-11-24T10:00:40.000Z',
        output: '{"level":30,"msg":"ping stored"}\n',
      },
    });
    const healed = await agent.audit();
    const cronping = serviceIn(healed, 'cronping');
    expect(cronping).toMatchObject({
      running: true,
      pid: second.pid,
      restarts: 1,
      restartedSinceLastAudit: true,
      restartsSinceLastAudit: 1,
      lastExit: { code: null, signal: 'SIGKILL', at: '2026-11-24T10:00:40.000Z' },
    });
    expect(healed.host.status, 'a healed crash does not fail the host').not.toBe('fail');
    expect(healed.incidents.opened).toHaveLength(1);
    expect(healed.incidents.resolved).toEqual(healed.incidents.opened);

    const [incident] = await agent.incidents();
    expect(incident).toMatchObject({
      id: healed.incidents.opened[0],
      product: 'process:cronping',
      status: 'resolved',
      openedAt: '2026-11-24T10:00:40.000Z',
      resolvedAt: '2026-11-24T10:01:00.000Z',
    });
    expect(incident?.reason).toBe(
      'cronping crashed: exited with signal SIGKILL at 2026-11-24T10:00:40.000Z; 1 restart since the previous audit (restart #1); last output: ping stored',
    );
    expect(incident?.timeline.map((event) => [event.at, event.kind])).toEqual([
      ['2026-11-24T10:00:40.000Z', 'opened'],
      ['2026-11-24T10:00:41.000Z', 'restarted'],
      ['2026-11-24T10:01:00.000Z', 'resolved'],
    ]);
    expect(incident?.timeline[1]?.message).toBe(`restarted by the supervisor as pid ${second.pid}`);
    const delivered = alerts.requests.filter((request) => request.url === '/alerts');
    expect(
      delivered.map((request) => {
        const body = JSON.parse(request.body) as { type: string; incident: { product: string } };
        return `${body.type} ${body.incident.product}`;
      }),
    ).toEqual(['incident.opened process:cronping', 'incident.resolved process:cronping']);

    const quiet = await agent.audit();
    expect(serviceIn(quiet, 'cronping').restartedSinceLastAudit).toBe(false);
    expect(quiet.incidents).toEqual({ opened: [], resolved: [] });

    // The agent restarts on the same database: the count it saw survives, so the old crash is not news.
    await agent.app.close();
    const restarted = await agentWith(env, clock);
    const afterRestart = await restarted.audit();
    expect(serviceIn(afterRestart, 'cronping').restartedSinceLastAudit).toBe(false);
    expect(afterRestart.incidents.opened).toEqual([]);

    writeState(dir, {
      name: 'cronping',
      state: 'running',
      pid: second.pid ?? null,
      restarts: 3,
      startedAt: '2026-11-24T10:02:10.000Z',
      lastExit: { code: 1, signal: null, at: '2026-11-24T10:02:09.000Z', output: 'Error: boom\n' },
    });
    const twoMore = await restarted.audit();
    expect(serviceIn(twoMore, 'cronping')).toMatchObject({
      restartedSinceLastAudit: true,
      restartsSinceLastAudit: 2,
    });
    expect(twoMore.incidents.opened).toHaveLength(1);
    const all = await restarted.incidents();
    expect(all.map((row) => [row.product, row.status])).toEqual([
      ['process:cronping', 'resolved'],
      ['process:cronping', 'resolved'],
    ]);
    expect(all[0]?.reason).toContain('exited with code 1 at 2026-11-24T10:02:09.000Z; 2 restarts');
  });

  it('opens the incident at once for a crash still in backoff and resolves it after the recovery threshold', async () => {
    const dir = tempDir('run-');
    const child = startService(dir, 'flagbit');
    writeState(dir, { name: 'flagbit', state: 'running', pid: child.pid ?? null, startedAt: T0 });
    const { audit, incidents } = await agentWith({
      SERVICE_PID_DIR: dir,
      AUDIT_FAILURE_THRESHOLD: '3',
      AUDIT_RECOVERY_THRESHOLD: '2',
    });
    await audit();

    const crash = { code: null, signal: 'SIGKILL', at: '2026-11-24T10:00:50.000Z', output: '' };
    writeState(dir, {
      name: 'flagbit',
      state: 'backoff',
      restarts: 1,
      lastExit: crash,
      nextStartAt: '2026-11-24T10:01:20.000Z',
    });
    const down = await audit();
    expect(serviceIn(down, 'flagbit')).toMatchObject({ running: false, restartedSinceLastAudit: true });
    expect(down.incidents.opened, 'a crash does not wait for the failure threshold').toHaveLength(1);
    const [open] = await incidents();
    expect(open).toMatchObject({ product: 'process:flagbit', status: 'open', openedAt: crash.at });
    expect(open?.reason).toBe(
      'flagbit: backoff: exited with signal SIGKILL at 2026-11-24T10:00:50.000Z, restart #1 at 2026-11-24T10:01:20.000Z',
    );

    writeState(dir, {
      name: 'flagbit',
      state: 'running',
      pid: child.pid ?? null,
      restarts: 1,
      startedAt: '2026-11-24T10:01:20.000Z',
      lastExit: crash,
    });
    const recovering = await audit();
    expect(serviceIn(recovering, 'flagbit').restartedSinceLastAudit).toBe(false);
    expect(recovering.incidents.resolved).toEqual([]);
    const recovered = await audit();
    expect(recovered.incidents.resolved).toEqual(down.incidents.opened);
    const [resolved] = await incidents();
    expect(resolved?.timeline.map((event) => event.kind)).toEqual(['opened', 'recovering', 'resolved']);
  });

  it('counts everything as new when the supervisor itself restarted and counts from zero again', async () => {
    const dir = tempDir('run-');
    const child = startService(dir, 'cronping');
    const running = { name: 'cronping', state: 'running' as const, pid: child.pid ?? null, startedAt: T0 };
    writeState(dir, { ...running, restarts: 4 });
    const { audit } = await agentWith({ SERVICE_PID_DIR: dir });
    expect(serviceIn(await audit(), 'cronping').restartsSinceLastAudit).toBe(4);
    writeState(dir, { ...running, restarts: 0 });
    expect(serviceIn(await audit(), 'cronping').restartedSinceLastAudit).toBe(false);
    writeState(dir, {
      ...running,
      restarts: 1,
      lastExit: { code: 1, signal: null, at: T0, output: '' },
    });
    expect(serviceIn(await audit(), 'cronping').restartsSinceLastAudit).toBe(1);
  });

  it('opens the incident at once for a service the supervisor gave up on', async () => {
    const dir = tempDir('run-');
    writeState(dir, {
      name: 'documint',
      state: 'failed',
      restarts: 5,
      lastExit: { code: 1, signal: null, at: T0, output: '' },
      reason: 'exited 6 times within 60 s (last: code 1); not restarted again',
    });
    const { audit, incidents } = await agentWith({ SERVICE_PID_DIR: dir, AUDIT_FAILURE_THRESHOLD: '3' });
    const report = await audit();
    expect(report.incidents.opened).toHaveLength(1);
    const [incident] = await incidents();
    expect(incident).toMatchObject({ product: 'process:documint', status: 'open' });
    expect(incident?.timeline[0]?.message).toBe(
      'the supervisor gave up on it: documint: failed: exited 6 times within 60 s (last: code 1); not restarted again',
    );
  });
});

describe('which product is down and why', () => {
  it('says a product is down because its process crashed and waits for its restart', async () => {
    const dir = tempDir('run-');
    writeState(dir, {
      name: 'flagbit',
      state: 'backoff',
      restarts: 3,
      lastExit: {
        code: null,
        signal: 'SIGSEGV',
        at: '2026-11-24T10:00:20.000Z',
        output: 'Segmentation fault\n',
      },
      nextStartAt: '2026-11-24T10:00:28.000Z',
    });
    const { audit } = await agentWith({
      SERVICE_PID_DIR: dir,
      FLAGBIT_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    const flagbit = (await audit()).products[0];
    expect(flagbit?.error).toMatch(
      /^flagbit: down: the process crashed \(exited with signal SIGSEGV at 2026-11-24T10:00:20\.000Z\), restart #3 at 2026-11-24T10:00:28\.000Z; last output: Segmentation fault \(health check: .*ECONNREFUSED/,
    );
  });

  it('says a product is down because its process is stopped or still starting, and leaves one whose process runs unexplained', async () => {
    const dir = tempDir('run-');
    writeState(dir, {
      name: 'documint',
      state: 'stopped',
      lastExit: { code: null, signal: 'SIGTERM', at: '2026-11-24T10:00:05.000Z', output: '' },
    });
    const starting = startService(dir, 'cronping');
    writeState(dir, { name: 'cronping', state: 'starting', pid: starting.pid ?? null, startedAt: T0 });
    const running = startService(dir, 'flagbit');
    writeState(dir, { name: 'flagbit', state: 'running', pid: running.pid ?? null, startedAt: T0 });
    const { audit } = await agentWith({
      SERVICE_PID_DIR: dir,
      DOCUMINT_URL: `http://127.0.0.1:${await closedPort()}`,
      CRONPING_URL: `http://127.0.0.1:${await closedPort()}`,
      FLAGBIT_URL: `http://127.0.0.1:${await closedPort()}`,
    });
    const report = await audit();
    const errorOf = (name: string) => report.products.find((product) => product.name === name)?.error ?? '';
    expect(errorOf('documint')).toMatch(
      /^documint: down: the process is stopped \(exited with signal SIGTERM at 2026-11-24T10:00:05\.000Z\) \(health check: .*ECONNREFUSED/,
    );
    expect(errorOf('cronping')).toMatch(
      /^cronping: down: the process is still starting \(since 2026-11-24T10:00:00\.000Z\) \(health check: .*ECONNREFUSED/,
    );
    expect(errorOf('flagbit'), 'a running process explains nothing').toMatch(/^GET .*ECONNREFUSED/);
    expect(serviceIn(report, 'cronping')).toMatchObject({ state: 'starting', running: true });
    expect(serviceIn(report, 'cronping').error).toBeUndefined();
  });
});
