import type { Probe, ProbeResult } from '@studio/health';
import { describe, expect, it } from 'vitest';
import type { StudioDatabase } from '../src/database';
import { defineMigrations } from '../src/migrations';
import { type DatabaseProbeThresholds, databaseProbes } from '../src/probes';
import { restoreDatabase } from '../src/restore';
import { addUser, createPostsSql, createUsersSql, workspace } from './harness';

/** Thresholds no test database comes near, so every probe passes unless a test lowers one. */
const relaxed: DatabaseProbeThresholds = { writeRateWarn: 1000, busyWarn: 100, walWarnBytes: 1024 ** 3 };

async function runProbes(
  db: StudioDatabase,
  thresholds: Partial<DatabaseProbeThresholds> = {},
): Promise<Record<string, ProbeResult>> {
  const results: Record<string, ProbeResult> = {};
  for (const probe of databaseProbes(db, { ...relaxed, ...thresholds }))
    results[probe.name] = await probe.check();
  return results;
}

function probeNamed(probes: Probe[], name: string): Probe {
  const probe = probes.find((candidate) => candidate.name === name);
  if (!probe) throw new Error(`no probe named ${name} among ${probes.map((p) => p.name).join(', ')}`);
  return probe;
}

/** Produces one real SQLITE_BUSY: a second connection holds the write lock while `db` tries to write. */
function provokeBusy(db: StudioDatabase, other: { exec(sql: string): unknown }): void {
  other.exec('BEGIN IMMEDIATE');
  try {
    expect(() => addUser(db, 'blocked@example.com')).toThrow(/database is locked/);
  } finally {
    other.exec('ROLLBACK');
  }
}

describe('database probes', () => {
  it('offers response time and migrations as critical probes, and the headroom signals as warnings only', () => {
    const probes = databaseProbes(workspace().open(), relaxed);
    expect(probes.map((p) => [p.name, p.critical, p.componentType])).toEqual([
      ['sqlite:responseTime', true, 'datastore'],
      ['sqlite:migrations', true, 'datastore'],
      ['sqlite:writeRate', false, 'datastore'],
      ['sqlite:busy', false, 'datastore'],
      ['sqlite:walSize', false, 'datastore'],
    ]);
    for (const probe of probes) expect(probe.timeoutMs, probe.name).toBeGreaterThan(0);
  });

  it('all pass on a migrated database below every threshold', async () => {
    const db = workspace().open();
    addUser(db, 'a@example.com');
    const results = await runProbes(db);
    for (const [name, result] of Object.entries(results)) expect(result.status, name).toBe('pass');
    expect(results['sqlite:responseTime']?.observedUnit).toBe('ms');
    expect(results['sqlite:migrations']).toMatchObject({ observedValue: 2, observedUnit: 'migrations' });
    expect(results['sqlite:writeRate']).toMatchObject({ observedUnit: 'transactions/s' });
    expect(results['sqlite:busy']).toMatchObject({ observedValue: 0, observedUnit: 'errors' });
  });

  it('fails the migrations probe, naming what is pending, when the ledger falls behind the code', async () => {
    const ws = workspace();
    const file = ws.path('app.sqlite');
    // An older copy of the database, from before posts existed.
    const older = ws.open({
      file: ws.path('older.sqlite'),
      migrations: [defineMigrations('app', [{ name: 'create_users', sql: createUsersSql }])],
    });
    await older.backup(ws.path('older-backup.sqlite'));
    older.close();

    // The running service is fully migrated; then the older copy is restored under it (`db:restore` tells
    // the operator to restart, and until then readiness must say the schema is behind).
    const db = ws.open({ file });
    expect((await runProbes(db))['sqlite:migrations']?.status).toBe('pass');
    await restoreDatabase({
      backupFile: ws.path('older-backup.sqlite'),
      targetFile: file,
      migrations: db.migrations,
    });

    const result = (await runProbes(db))['sqlite:migrations'];
    expect(result).toMatchObject({
      status: 'fail',
      observedValue: 1,
      output: 'pending: app:002_create_posts',
    });
  });

  it('fails the migrations probe when the set the database was opened with grows afterwards', async () => {
    const ws = workspace();
    const app = defineMigrations('app', [{ name: 'create_users', sql: createUsersSql }]);
    const db = ws.open({ migrations: [app] });
    // The probe compares the ledger with the very set given at open, so a migration added to it is pending.
    const grown = defineMigrations('app', [
      { name: 'create_users', sql: createUsersSql },
      { name: 'create_posts', sql: createPostsSql },
    ]);
    app.migrations.push(...grown.migrations.slice(1));

    const result = await probeNamed(databaseProbes(db, relaxed), 'sqlite:migrations').check();
    expect(result, JSON.stringify(result)).toMatchObject({
      status: 'fail',
      observedValue: 1,
      output: 'pending: app:002_create_posts',
    });
  });

  it('warns on the write rate once it is above the threshold', async () => {
    const db = workspace().open();
    addUser(db, 'a@example.com');
    const result = (await runProbes(db, { writeRateWarn: 0 }))['sqlite:writeRate'];
    expect(result, JSON.stringify(result)).toMatchObject({
      status: 'warn',
      observedValue: Number((1 / 60).toFixed(3)),
      observedUnit: 'transactions/s',
    });
    expect(result?.output).toContain('above 0/s');
  });

  it('passes the write rate at exactly the threshold', async () => {
    const db = workspace().open();
    const result = (await runProbes(db, { writeRateWarn: 0 }))['sqlite:writeRate'];
    expect(result, 'no writes at all is not above 0/s').toMatchObject({ status: 'pass', observedValue: 0 });
  });

  it('warns on busy errors once their count reaches the threshold', async () => {
    const ws = workspace();
    const db = ws.open({ busyTimeoutMs: 1 });
    const other = ws.rawConnection(db.file);
    expect((await runProbes(db, { busyWarn: 1 }))['sqlite:busy']?.status, 'no contention yet').toBe('pass');

    provokeBusy(db, other);
    const result = (await runProbes(db, { busyWarn: 1 }))['sqlite:busy'];
    expect(result, JSON.stringify(result)).toMatchObject({
      status: 'warn',
      observedValue: 1,
      observedUnit: 'errors',
    });
  });

  it('never warns on busy errors when the threshold is 0, which turns the signal off', async () => {
    const ws = workspace();
    const db = ws.open({ busyTimeoutMs: 1 });
    provokeBusy(db, ws.rawConnection(db.file));
    const result = (await runProbes(db, { busyWarn: 0 }))['sqlite:busy'];
    expect(result, JSON.stringify(result)).toMatchObject({ status: 'pass', observedValue: 1 });
  });

  it('warns on the WAL size once it is above the threshold', async () => {
    const db = workspace().open();
    addUser(db, 'a@example.com');
    const result = (await runProbes(db, { walWarnBytes: 0 }))['sqlite:walSize'];
    expect(result, JSON.stringify(result)).toMatchObject({ status: 'warn', observedUnit: 'bytes' });
    expect(result?.observedValue, 'the WAL holds the commit').toBe(db.stats().walBytes);
    expect(db.stats().walBytes).toBeGreaterThan(0);
  });

  it('passes the WAL size once a checkpoint has emptied the WAL', async () => {
    const db = workspace().open();
    addUser(db, 'a@example.com');
    db.sqlite.pragma('wal_checkpoint(TRUNCATE)');
    const result = (await runProbes(db, { walWarnBytes: 0 }))['sqlite:walSize'];
    expect(result, JSON.stringify(result)).toMatchObject({ status: 'pass', observedValue: 0 });
  });

  it('lets the response time probe throw once the database is closed, so the health runner fails it', () => {
    const db = workspace().open();
    db.close();
    expect(() => probeNamed(databaseProbes(db, relaxed), 'sqlite:responseTime').check()).toThrow(/not open/);
  });
});
