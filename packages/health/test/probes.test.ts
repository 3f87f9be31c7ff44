import { afterEach, describe, expect, it, vi } from 'vitest';
import { healthReportSchema } from '../src/contract';
import { type ProbeResult, runProbes, scrubSecrets } from '../src/probes';
import { deferred, fixedClock, probe } from './helpers';

afterEach(() => {
  vi.useRealTimers();
});

describe('runProbes', () => {
  it('passes when every probe passes, stamping each entry with the injected clock', async () => {
    const run = await runProbes(
      [
        probe({
          name: 'sqlite:responseTime',
          componentType: 'datastore',
          check: () => ({ status: 'pass', observedValue: 3, observedUnit: 'ms' }),
        }),
      ],
      fixedClock('2025-06-01T12:00:00.000Z'),
    );
    expect(run.status).toBe('pass');
    expect(run.checks['sqlite:responseTime']).toEqual([
      {
        status: 'pass',
        componentType: 'datastore',
        observedValue: 3,
        observedUnit: 'ms',
        time: '2025-06-01T12:00:00.000Z',
      },
    ]);
    expect(healthReportSchema.safeParse({ status: run.status, checks: run.checks }).success).toBe(true);
  });

  it('fails a probe that exceeds its timeout, says so, and leaves no timer behind', async () => {
    vi.useFakeTimers();
    const never = new Promise<ProbeResult>(() => {});
    const pending = runProbes([probe({ name: 'smtp:connect', timeoutMs: 250, check: () => never })]);
    await vi.advanceTimersByTimeAsync(250);
    const run = await pending;
    expect(run.status).toBe('fail');
    expect(run.checks['smtp:connect']?.[0]).toMatchObject({
      status: 'fail',
      output: 'timed out after 250ms',
    });
    expect(vi.getTimerCount(), 'timers left running after the run').toBe(0);
  });

  it('clears the timeout of a probe that answers in time', async () => {
    vi.useFakeTimers();
    const run = await runProbes([probe({ name: 'sqlite:responseTime', timeoutMs: 60_000 })]);
    expect(run.status).toBe('pass');
    expect(vi.getTimerCount()).toBe(0);
  });

  it('runs probes concurrently: the second starts before the first has finished', async () => {
    const first = deferred<ProbeResult>();
    const second = deferred<ProbeResult>();
    const started: string[] = [];
    const pending = runProbes([
      probe({
        name: 'a:slow',
        check: () => {
          started.push('a');
          return first.promise;
        },
      }),
      probe({
        name: 'b:slow',
        check: () => {
          started.push('b');
          return second.promise;
        },
      }),
    ]);
    // Neither probe has been allowed to finish, yet both are already running.
    expect(started).toEqual(['a', 'b']);
    second.resolve({ status: 'pass' });
    first.resolve({ status: 'pass' });
    expect((await pending).status).toBe('pass');
  });

  it('warns, not fails, when only a non-critical probe fails', async () => {
    const run = await runProbes([
      probe({ name: 'sqlite:responseTime', critical: true }),
      probe({ name: 'cache:hitRate', critical: false, check: () => ({ status: 'fail', output: 'down' }) }),
    ]);
    expect(run.status).toBe('warn');
    expect(run.checks['cache:hitRate']?.[0]?.status).toBe('fail');
  });

  it('fails when a critical probe fails', async () => {
    const run = await runProbes([
      probe({ name: 'sqlite:responseTime', critical: true, check: () => ({ status: 'fail' }) }),
      probe({ name: 'cache:hitRate', critical: false, check: () => ({ status: 'warn' }) }),
    ]);
    expect(run.status).toBe('fail');
  });

  it('warns when any probe warns, critical or not', async () => {
    const run = await runProbes([probe({ name: 'disk:utilization', check: () => ({ status: 'warn' }) })]);
    expect(run.status).toBe('warn');
  });

  it('counts a thrown error, sync or async, as a failed check', async () => {
    const run = await runProbes([
      probe({
        name: 'a:sync',
        check: () => {
          throw new Error('boom');
        },
      }),
      probe({ name: 'b:async', critical: false, check: async () => Promise.reject(new Error('later')) }),
    ]);
    expect(run.status).toBe('fail');
    expect(run.checks['a:sync']?.[0]).toMatchObject({ status: 'fail', output: 'boom' });
    expect(run.checks['b:async']?.[0]).toMatchObject({ status: 'fail', output: 'later' });
  });

  it('truncates and scrubs the message of a thrown error', async () => {
    const message = `connect failed for postgres://app:hunter2@db.internal:5432/app ${'x'.repeat(500)}`;
    const run = await runProbes([
      probe({
        name: 'postgres:connect',
        check: () => {
          throw new Error(message);
        },
      }),
    ]);
    const output = run.checks['postgres:connect']?.[0]?.output ?? '';
    expect(output).not.toContain('hunter2');
    expect(output).toContain('postgres://***@db.internal:5432/app');
    expect(output.length).toBe(200);
    expect(output.endsWith('…')).toBe(true);
  });

  it('keeps several probes with the same name as separate entries under one key', async () => {
    const run = await runProbes([
      probe({ name: 'replica:lag', check: () => ({ status: 'pass', observedValue: 1 }) }),
      probe({ name: 'replica:lag', check: () => ({ status: 'pass', observedValue: 2 }) }),
    ]);
    expect(run.checks['replica:lag']?.map((entry) => entry.observedValue)).toEqual([1, 2]);
  });
});

describe('scrubSecrets', () => {
  it.each([
    ['redis://default:s3cret@cache:6379', 'redis://***@cache:6379'],
    ['https://ghp_abc@github.com/x', 'https://***@github.com/x'],
    ['Authorization: Bearer eyJhbGciOi.payload.sig', 'Authorization: Bearer ***'],
    ['password=hunter2&user=bob', 'password=***&user=bob'],
    ['token: abc123 rejected', 'token: *** rejected'],
    ['{"api_key":"abc"}', '{"api_key":"***"}'],
    ['password="two words" next', 'password="***" next'],
    ['secret="cut off mid-val', 'secret="***"'],
    ['SECRET=xyz', 'SECRET=***'],
    ['stripe said sk_live_51HxYz and sk_test_abc', 'stripe said *** and ***'],
    ['signing with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw', 'signing with ***'],
    ['digest 0123456789abcdef0123456789abcdef0123', 'digest ***'],
    ['blob dGhpcyBpcyBhIHNlY3JldCBrZXkgb2YgMzIgYnl0ZXM=', 'blob ***'],
  ])('scrubs %j', (input, expected) => {
    expect(scrubSecrets(input)).toBe(expected);
  });

  it('leaves ordinary diagnostics readable', () => {
    const text = "ENOENT: no such file or directory, statfs '/var/lib/studio/cronping/data/archive'";
    expect(scrubSecrets(text)).toBe(text);
  });
});
