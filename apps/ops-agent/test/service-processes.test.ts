import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { isRunning } from '../src/audit/services';
import { admin, startAgent, tempDir } from './harness';
import { startService } from './state-files';

/** Killed and reaped: until the exit event a killed child can still exist as a zombie. */
async function stopService(child: ChildProcess) {
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  await exited;
}

type Report = {
  status: string;
  host: {
    status: string;
    services?: Array<{ name: string; pid: number | null; running: boolean; error?: string }>;
    servicesError?: string;
  };
  integrations: Record<string, string>;
  incidents: { opened: string[]; resolved: string[] };
};

const stableHost = { DISK_WARN_PERCENT: '99', DISK_FAIL_PERCENT: '100' };

describe('the running state of every service process (SERVICE_PID_DIR)', () => {
  it('reports each pid file, fails the host when one process stops, opens its incident after the threshold and resolves it once it runs again', async () => {
    const pidDir = tempDir('pids-');
    const documint = startService(pidDir, 'documint');
    let flagbit = startService(pidDir, 'flagbit');
    const { app, clock } = await startAgent({
      ...stableHost,
      SERVICE_PID_DIR: pidDir,
      AUDIT_FAILURE_THRESHOLD: '2',
      AUDIT_RECOVERY_THRESHOLD: '2',
    });
    const audit = async (): Promise<Report> => {
      clock.advance(30_000);
      return (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json() as Report;
    };

    const up = await audit();
    expect(up.integrations.servicePids).toBe('configured');
    expect(up.host.services).toEqual([
      { name: 'documint', pid: documint.pid, running: true },
      { name: 'flagbit', pid: flagbit.pid, running: true },
    ]);
    expect(up.host.status).not.toBe('fail');

    const stoppedPid = flagbit.pid;
    await stopService(flagbit);
    const first = await audit();
    expect(first.host.status).toBe('fail');
    expect(first.status).toBe('fail');
    expect(first.host.services).toEqual([
      { name: 'documint', pid: documint.pid, running: true },
      {
        name: 'flagbit',
        pid: stoppedPid,
        running: false,
        error: `flagbit: process ${stoppedPid} is not running`,
      },
    ]);
    expect(first.incidents.opened).toEqual([]);
    const second = await audit();
    expect(second.incidents.opened).toHaveLength(1);
    const incidents = (await app.inject({ method: 'GET', url: '/incidents', headers: admin })).json() as {
      items: Array<{ id: string; product: string; status: string; reason: string }>;
    };
    const incident = incidents.items.find((row) => row.id === second.incidents.opened[0]);
    expect(incident).toMatchObject({ product: 'process:flagbit', status: 'open' });
    expect(incident?.reason).toContain('not running');

    flagbit = startService(pidDir, 'flagbit');
    const recovering = await audit();
    expect(recovering.host.status).not.toBe('fail');
    expect(recovering.incidents.resolved).toEqual([]);
    const recovered = await audit();
    expect(recovered.incidents.resolved).toEqual(second.incidents.opened);
    expect(recovered.host.services?.find((s) => s.name === 'flagbit')).toEqual({
      name: 'flagbit',
      pid: flagbit.pid,
      running: true,
    });
  });

  it('treats a pid file that holds no pid as a stopped service, and ignores files that are not *.pid', async () => {
    const pidDir = tempDir('pids-');
    writeFileSync(join(pidDir, 'caddy.pid'), 'not-a-pid\n');
    writeFileSync(join(pidDir, 'process-group.pid'), '-1\n');
    writeFileSync(join(pidDir, 'notes.txt'), '123\n');
    const { app } = await startAgent({ ...stableHost, SERVICE_PID_DIR: pidDir });
    const report = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json() as Report;
    expect(report.host.status).toBe('fail');
    expect(report.host.services).toEqual([
      { name: 'caddy', pid: null, running: false, error: 'caddy: caddy.pid does not hold a decimal pid' },
      {
        name: 'process-group',
        pid: null,
        running: false,
        error: 'process-group: process-group.pid does not hold a decimal pid',
      },
    ]);
  });

  it('warns, naming the problem, when the pid directory does not exist yet', async () => {
    const { app } = await startAgent({ ...stableHost, SERVICE_PID_DIR: join(tempDir('pids-'), 'missing') });
    const report = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json() as Report;
    expect(report.host.services).toEqual([]);
    expect(report.host.servicesError).toMatch(/cannot read SERVICE_PID_DIR: .*ENOENT/);
    expect(report.host.status).not.toBe('fail');
  });

  it('reports nothing about service processes when SERVICE_PID_DIR is not configured', async () => {
    const { app } = await startAgent(stableHost);
    const report = (await app.inject({ method: 'POST', url: '/audit', headers: admin })).json() as Report;
    expect(report.integrations.servicePids).toBe('not configured');
    expect(report.host.services).toBeUndefined();
  });

  it('counts a process owned by another user (EPERM) as running and one that does not exist (ESRCH) as not', () => {
    // pid 1 exists on every Linux host; as a non-root user signal 0 to it answers EPERM, as root it succeeds.
    expect(isRunning(1)).toBe(true);
    expect(isRunning(2 ** 31 - 1)).toBe(false);
  });
});
