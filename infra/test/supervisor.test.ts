import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
// @ts-expect-error scripts/ is plain JavaScript run by Node before anything is installed or built
import { Supervisor } from '../../scripts/supervisor.mjs';
import { eventually, repositoryRoot, type ServiceState, tempDirectory } from './studio-harness';

/** A child process that runs `source` (JavaScript) with Node. */
const node = (name: string, source: string) => ({
  name,
  command: process.execPath,
  args: ['-e', source],
  env: { ...process.env },
});

function supervisorIn(label: string, policy: Partial<Record<string, number>> = {}) {
  const runDir = tempDirectory(label);
  const written: string[] = [];
  const logged: string[] = [];
  const supervisor = new Supervisor({
    runDir,
    policy: {
      initialDelayMs: 20,
      maxDelayMs: 80,
      stableAfterMs: 60_000,
      maxRestarts: 4,
      windowMs: 600_000,
      ...policy,
    },
    write: (text: string) => written.push(text),
    log: (line: string) => logged.push(line),
  });
  const state = (name: string): ServiceState =>
    JSON.parse(readFileSync(join(runDir, `${name}.state.json`), 'utf8'));
  return { supervisor, runDir, written, logged, state };
}

describe('the studio supervisor', () => {
  it('marks an app that exits with code 78 failed with its own message, and does not restart it', async () => {
    const { supervisor, state, logged } = supervisorIn('sup-config');
    supervisor.add(
      node(
        'vault',
        `console.error('vault: invalid configuration\\n  - KEY must be 32 bytes, got 16'); process.exit(78)`,
      ),
    );
    await supervisor.startGroup(['vault'], 5_000);
    const failed = await eventually('the failed state', () =>
      state('vault').state === 'failed' ? state('vault') : undefined,
    );
    expect(failed.restarts).toBe(0);
    expect(failed.pid).toBeNull();
    expect(failed.reason).toContain('configuration error');
    expect(failed.reason).toContain('KEY must be 32 bytes, got 16');
    expect(failed.lastExit).toMatchObject({ code: 78, signal: null });
    expect(logged.join('\n')).toContain('vault has a configuration error and is not restarted');
    await supervisor.stopAll();
  });

  it('restarts a crashing app with doubling delays, then gives up naming the crashes', async () => {
    // Delays long enough for the 100 ms poll below to see every backoff.
    const { supervisor, state } = supervisorIn('sup-crash', { initialDelayMs: 250, maxDelayMs: 1000 });
    supervisor.add(node('flaky', `console.log('starting'); process.exit(3)`));
    supervisor.startGroup(['flaky'], 5_000);
    const delays: number[] = [];
    let seenRestarts = 0;
    const final = await eventually(
      'the supervisor giving up',
      () => {
        const current = state('flaky');
        if (current.state === 'backoff' && current.restarts > seenRestarts) {
          seenRestarts = current.restarts;
          const raw = current as ServiceState & { nextStartAt: string };
          delays.push(Date.parse(raw.nextStartAt) - Date.parse(current.lastExit!.at));
        }
        return current.state === 'failed' ? current : undefined;
      },
      500,
    );
    expect(final.restarts).toBe(4);
    expect(final.reason).toMatch(/exited 5 times within 600 s \(last: code 3\)/);
    expect(delays, 'doubling up to the ceiling').toEqual([250, 500, 1000, 1000]);
    await supervisor.stopAll();
  });

  it('prefixes every output line with the app name and keeps the pid file only while the app runs', async () => {
    const { supervisor, runDir, written, state } = supervisorIn('sup-output');
    supervisor.add(node('chatty', `console.log('one\\ntwo'); setInterval(() => {}, 1000)`));
    await supervisor.startGroup(['chatty'], 5_000);
    await eventually('two lines of output', () => (written.join('').includes('two') ? true : undefined));
    expect(written.join('')).toBe('chatty       │ one\nchatty       │ two\n');
    const running = state('chatty');
    expect(running.state).toBe('running');
    expect(readFileSync(join(runDir, 'chatty.pid'), 'utf8').trim()).toBe(String(running.pid));

    await supervisor.stopAll();
    expect(state('chatty')).toMatchObject({ state: 'stopped', pid: null, restarts: 0 });
    expect(existsSync(join(runDir, 'chatty.pid'))).toBe(false);
  });

  it('restarts an app killed with SIGKILL and records the signal', async () => {
    const { supervisor, state } = supervisorIn('sup-kill');
    supervisor.add(node('victim', `setInterval(() => {}, 1000)`));
    await supervisor.startGroup(['victim'], 5_000);
    const firstPid = state('victim').pid!;
    process.kill(firstPid, 'SIGKILL');
    const restarted = await eventually('the restart', () => {
      const current = state('victim');
      return current.state === 'running' && current.pid !== firstPid ? current : undefined;
    });
    expect(restarted.restarts).toBe(1);
    expect(restarted.lastExit).toMatchObject({ code: null, signal: 'SIGKILL' });
    await supervisor.stopAll();
  });
});

describe("the studio's own configuration", () => {
  const studio = (environment: Record<string, string>) =>
    spawnSync(process.execPath, [join(repositoryRoot, 'scripts', 'studio.mjs'), 'status'], {
      env: { ...process.env, STUDIO_DATA_DIR: tempDirectory('studio-config'), ...environment },
      encoding: 'utf8',
    });

  it('stops with exit code 78 on an empty value, naming the variable and what it expects', () => {
    const result = studio({ CRONPING_PORT: '' });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(
      'CRONPING_PORT is set but empty: unset it or set it to an integer from 1 to 65535',
    );
  });

  it('names every malformed value with what it expected and what it got', () => {
    const result = studio({
      STUDIO_RESTART_DELAY_MS: 'abc',
      STUDIO_CADDY: 'maybe',
      WEBHOOKVAULT_CAPTURE_PORT: '70000',
    });
    expect(result.status).toBe(78);
    expect(result.stderr).toContain(
      'STUDIO_RESTART_DELAY_MS must be an integer from 10 to 600000, got "abc"',
    );
    expect(result.stderr).toContain('STUDIO_CADDY must be auto or off, got "maybe"');
    expect(result.stderr).toContain(
      'WEBHOOKVAULT_CAPTURE_PORT must be an integer from 1 to 65535, got "70000"',
    );
  });
});
