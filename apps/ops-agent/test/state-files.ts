import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onCleanup } from './harness';

/** A port nothing listens on, so a connection to it is refused. */
export { freePort as closedPort } from '@studio/service-kit/testing';

/** Fixtures for the supervisor's files in SERVICE_PID_DIR (scripts/studio.mjs writes them in production). */

export const T0 = '2026-11-24T10:00:00.000Z';

export type StateFile = {
  name: string;
  state: 'running' | 'starting' | 'backoff' | 'failed' | 'stopped';
  pid: number | null;
  restarts: number;
  startedAt: string | null;
  lastExit: { code: number | null; signal: string | null; at: string; output: string } | null;
  nextStartAt: string | null;
  reason: string | null;
  updatedAt: string;
};

/** Written the way the supervisor writes it: whole, to a temporary file, then renamed over the old one. */
export function writeState(directory: string, state: Partial<StateFile> & Pick<StateFile, 'name' | 'state'>) {
  const full: StateFile = {
    pid: null,
    restarts: 0,
    startedAt: null,
    lastExit: null,
    nextStartAt: null,
    reason: null,
    updatedAt: T0,
    ...state,
  };
  const file = join(directory, `${state.name}.state.json`);
  writeFileSync(`${file}.${process.pid}.tmp`, `${JSON.stringify(full, null, 2)}\n`);
  renameSync(`${file}.${process.pid}.tmp`, file);
}

/** A real idle child process standing in for one service `npm start` runs, with its pid file written. */
export function startService(directory: string, name: string): ChildProcess {
  const child = spawn(process.execPath, ['-e', 'setInterval(()=>{},1000)'], { stdio: 'ignore' });
  onCleanup(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL');
      await once(child, 'exit');
    }
  });
  writeFileSync(join(directory, `${name}.pid`), `${child.pid}\n`);
  return child;
}
