import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { runProbes } from '../src/probes';
import {
  diskUtilizationProbe,
  eventLoopDelayProbe,
  processMemoryProbe,
  uptimeProbe,
} from '../src/system-probes';

const dataDir = mkdtempSync(join(tmpdir(), 'studio-health-'));

afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('diskUtilizationProbe', () => {
  it('reports the data directory utilisation in percent and passes under the thresholds', async () => {
    const probe = diskUtilizationProbe(dataDir, { warnPercent: 100, failPercent: 100 });
    expect(probe).toMatchObject({ name: 'disk:utilization', critical: true });
    const result = await probe.check();
    expect(result.observedUnit).toBe('percent');
    expect(result.observedValue).toBeTypeOf('number');
    expect(result.observedValue as number).toBeGreaterThanOrEqual(0);
    expect(result.observedValue as number).toBeLessThanOrEqual(100);
  });

  it('warns at the warn threshold and fails at the fail threshold', async () => {
    // Thresholds of 0 make the outcome independent of how full the test machine's disk is.
    const warn = await diskUtilizationProbe(dataDir, { warnPercent: 0, failPercent: 100 }).check();
    const fail = await diskUtilizationProbe(dataDir, { warnPercent: 0, failPercent: 0 }).check();
    expect(warn).toMatchObject({ status: 'warn', output: expect.stringContaining('warn at 0%') });
    expect(fail).toMatchObject({ status: 'fail', output: expect.stringContaining('fail at 0%') });
  });

  it('fails the check, and the service, when the data directory is missing', async () => {
    const run = await runProbes([diskUtilizationProbe(join(dataDir, 'missing'))]);
    expect(run.status).toBe('fail');
    expect(run.checks['disk:utilization']?.[0]?.output).toContain('ENOENT');
  });

  it('refuses a warn threshold above the fail threshold', () => {
    expect(() => diskUtilizationProbe(dataDir, { warnPercent: 96, failPercent: 95 })).toThrow(RangeError);
  });
});

describe('processMemoryProbe', () => {
  it('reports RSS in bytes and warns, as a non-critical probe, above the threshold', async () => {
    const probe = processMemoryProbe({ warnRssBytes: 1 });
    expect(probe).toMatchObject({ name: 'process:memory', critical: false });
    const result = await probe.check();
    expect(result).toMatchObject({ status: 'warn', observedUnit: 'bytes' });
    expect(result.observedValue as number).toBeGreaterThan(0);
    expect((await runProbes([probe])).status).toBe('warn');
  });

  it('passes below the threshold', async () => {
    const result = await processMemoryProbe({ warnRssBytes: Number.MAX_SAFE_INTEGER }).check();
    expect(result.status).toBe('pass');
  });
});

describe('eventLoopDelayProbe', () => {
  it('reports p99 delay in milliseconds as a non-critical probe and stops sampling on close', async () => {
    const probe = eventLoopDelayProbe({ warnMs: Number.POSITIVE_INFINITY });
    try {
      expect(probe).toMatchObject({ name: 'eventloop:delay', critical: false });
      const result = await probe.check();
      expect(result).toMatchObject({ status: 'pass', observedUnit: 'ms' });
      expect(result.observedValue as number).toBeGreaterThanOrEqual(0);
    } finally {
      probe.close();
    }
    // Closing twice is harmless, so the plugin can close every probe without bookkeeping.
    expect(() => probe.close()).not.toThrow();
  });
});

describe('uptimeProbe', () => {
  it('always passes with the process uptime in seconds', async () => {
    const probe = uptimeProbe();
    expect(probe).toMatchObject({ name: 'process:uptime', critical: false });
    const result = await probe.check();
    expect(result).toMatchObject({ status: 'pass', observedUnit: 's' });
    expect(result.observedValue as number).toBeGreaterThanOrEqual(0);
  });
});
