import { statfs } from 'node:fs/promises';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import type { Probe, ProbeResult } from './probes';

export type DiskUtilizationOptions = {
  warnPercent?: number;
  failPercent?: number;
  /** statfs on a hung network mount can block for minutes; the timeout turns that into a failed check. */
  timeoutMs?: number;
};

/**
 * Percentage of the data directory's filesystem in use, computed the way `df` does: blocks reserved for
 * root count as unavailable, because the service (not running as root) cannot write to them.
 * Critical: SQLite cannot commit on a full disk, so a full disk must take the instance out of rotation.
 */
export function diskUtilizationProbe(dataDir: string, options: DiskUtilizationOptions = {}): Probe {
  const { warnPercent = 85, failPercent = 95, timeoutMs = 1000 } = options;
  if (!(warnPercent <= failPercent)) {
    throw new RangeError(`warnPercent (${warnPercent}) must not exceed failPercent (${failPercent})`);
  }
  return {
    name: 'disk:utilization',
    componentType: 'system',
    critical: true,
    timeoutMs,
    async check(): Promise<ProbeResult> {
      const stats = await statfs(dataDir);
      const used = stats.blocks - stats.bfree;
      const usable = used + stats.bavail;
      if (usable <= 0) {
        return { status: 'warn', output: `statfs reported no usable blocks for ${dataDir}` };
      }
      const percent = Math.round((used / usable) * 1000) / 10;
      const base = { observedValue: percent, observedUnit: 'percent' };
      if (percent >= failPercent) {
        return { ...base, status: 'fail', output: `disk ${percent}% full (fail at ${failPercent}%)` };
      }
      if (percent >= warnPercent) {
        return { ...base, status: 'warn', output: `disk ${percent}% full (warn at ${warnPercent}%)` };
      }
      return { ...base, status: 'pass' };
    },
  };
}

export type ProcessMemoryOptions = {
  warnRssBytes: number;
};

/**
 * Resident set size of this process. Non-critical: a large RSS is a leak to investigate, not a reason to
 * refuse traffic (the OOM killer or the supervisor decides when it is fatal).
 */
export function processMemoryProbe(options: ProcessMemoryOptions): Probe {
  const { warnRssBytes } = options;
  return {
    name: 'process:memory',
    componentType: 'system',
    critical: false,
    timeoutMs: 100,
    check(): ProbeResult {
      const rss = process.memoryUsage.rss();
      const base = { observedValue: rss, observedUnit: 'bytes' };
      if (rss >= warnRssBytes) {
        return { ...base, status: 'warn', output: `rss ${rss} bytes (warn at ${warnRssBytes})` };
      }
      return { ...base, status: 'pass' };
    },
  };
}

export type EventLoopDelayOptions = {
  warnMs: number;
  /** Sampling period of the histogram; Node's default is 10ms. */
  resolutionMs?: number;
};

export type ClosableProbe = Probe & { close: () => void };

/**
 * p99 event-loop delay since the previous reading. The histogram is reset on every check so the value
 * describes recent behaviour rather than the whole process lifetime; the trade-off is that concurrent
 * scrapers shorten each other's window. Call `close()` (the plugin does it in `onClose`) to stop sampling.
 */
export function eventLoopDelayProbe(options: EventLoopDelayOptions): ClosableProbe {
  const { warnMs, resolutionMs = 10 } = options;
  const histogram = monitorEventLoopDelay({ resolution: resolutionMs });
  histogram.enable();
  return {
    name: 'eventloop:delay',
    componentType: 'system',
    critical: false,
    timeoutMs: 100,
    check(): ProbeResult {
      // No sample since the last reading (two scrapes within one resolution period): nothing was late.
      if (histogram.count === 0) return { status: 'pass', observedValue: 0, observedUnit: 'ms' };
      const p99Ms = Math.round(histogram.percentile(99) / 1e4) / 100;
      histogram.reset();
      if (p99Ms >= warnMs) {
        return {
          status: 'warn',
          observedValue: p99Ms,
          observedUnit: 'ms',
          output: `event loop p99 delay ${p99Ms}ms (warn at ${warnMs}ms)`,
        };
      }
      return { status: 'pass', observedValue: p99Ms, observedUnit: 'ms' };
    },
    close(): void {
      histogram.disable();
    },
  };
}

/**
 * Seconds since the process started. Always passes: its value is telling a restart loop apart from a
 * long-lived instance. Named `process:uptime` rather than the draft example's bare `uptime` because the
 * studio contract requires `component:measurement` keys.
 */
export function uptimeProbe(): Probe {
  return {
    name: 'process:uptime',
    componentType: 'system',
    critical: false,
    timeoutMs: 100,
    check: () => ({ status: 'pass', observedValue: Math.round(process.uptime()), observedUnit: 's' }),
  };
}
