import type { Probe } from '@studio/health';
import type { StudioDatabase } from './database';

export interface DatabaseProbeThresholds {
  /** Write transactions per second (1-minute average) above which one SQLite file is nearing its limit. */
  writeRateWarn: number;
  /** SQLITE_BUSY / SQLITE_LOCKED errors seen since start at which contention is worth a look. */
  busyWarn: number;
  /** WAL size in bytes above which checkpoints are falling behind the writers. */
  walWarnBytes: number;
}

/**
 * The database probes every app gets. Response time and migrations decide readiness (critical); the three
 * headroom signals only warn, because they say "plan the move off one SQLite file", not "stop traffic".
 */
export function databaseProbes(db: StudioDatabase, thresholds: DatabaseProbeThresholds): Probe[] {
  return [
    {
      name: 'sqlite:responseTime',
      componentType: 'datastore',
      critical: true,
      timeoutMs: 1000,
      check: () => {
        const started = performance.now();
        db.ping();
        return {
          status: 'pass',
          observedValue: Number((performance.now() - started).toFixed(3)),
          observedUnit: 'ms',
        };
      },
    },
    {
      name: 'sqlite:migrations',
      componentType: 'datastore',
      critical: true,
      timeoutMs: 1000,
      check: () => {
        const status = db.migrationStatus();
        return status.pending.length === 0
          ? { status: 'pass', observedValue: status.applied, observedUnit: 'migrations' }
          : {
              status: 'fail',
              observedValue: status.applied,
              observedUnit: 'migrations',
              output: `pending: ${status.pending.join(', ')}`,
            };
      },
    },
    {
      name: 'sqlite:writeRate',
      componentType: 'datastore',
      critical: false,
      timeoutMs: 1000,
      check: () => {
        const rate = Number(db.stats().writeRatePerSecond.toFixed(3));
        return rate > thresholds.writeRateWarn
          ? {
              status: 'warn',
              observedValue: rate,
              observedUnit: 'transactions/s',
              output: `above ${thresholds.writeRateWarn}/s: one SQLite writer is nearing its headroom`,
            }
          : { status: 'pass', observedValue: rate, observedUnit: 'transactions/s' };
      },
    },
    {
      name: 'sqlite:busy',
      componentType: 'datastore',
      critical: false,
      timeoutMs: 1000,
      check: () => {
        const busy = db.stats().busyErrors;
        return busy >= thresholds.busyWarn && thresholds.busyWarn > 0
          ? {
              status: 'warn',
              observedValue: busy,
              observedUnit: 'errors',
              output: 'writers are contending for the SQLite lock',
            }
          : { status: 'pass', observedValue: busy, observedUnit: 'errors' };
      },
    },
    {
      name: 'sqlite:walSize',
      componentType: 'datastore',
      critical: false,
      timeoutMs: 1000,
      check: () => {
        const wal = db.stats().walBytes;
        return wal > thresholds.walWarnBytes
          ? {
              status: 'warn',
              observedValue: wal,
              observedUnit: 'bytes',
              output: 'WAL checkpoints are falling behind',
            }
          : { status: 'pass', observedValue: wal, observedUnit: 'bytes' };
      },
    },
  ];
}
