import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describeError } from '../outbound';

/**
 * The running state of every service process: `npm start` (scripts/studio.mjs) writes one
 * `<SERVICE_PID_DIR>/<name>.pid` per process it runs, holding the decimal pid. Each audit reads them all and
 * asks the kernel whether the process exists (signal 0 sends nothing: ESRCH means gone, EPERM means it exists
 * but belongs to another user, so it runs).
 */
export interface ServiceProcess {
  name: string;
  pid: number | null;
  running: boolean;
  error?: string;
}

/** The key a service's failure/recovery counts and incidents are kept under, apart from its product's. */
export const serviceIncidentKey = (name: string) => `process:${name}`;

export function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EPERM') return true;
    if (code === 'ESRCH') return false;
    throw error;
  }
}

export async function readServices(
  directory: string,
): Promise<{ services: ServiceProcess[]; error?: string }> {
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch (error) {
    return { services: [], error: `cannot read SERVICE_PID_DIR: ${describeError(error)}` };
  }
  const names = entries.filter((entry) => entry.endsWith('.pid') && entry.length > 4).sort();
  const services = await Promise.all(
    names.map(async (file): Promise<ServiceProcess> => {
      const name = file.slice(0, -4);
      let text: string;
      try {
        text = (await readFile(join(directory, file), 'utf8')).trim();
      } catch (error) {
        return { name, pid: null, running: false, error: `cannot read ${file}: ${describeError(error)}` };
      }
      // Only a positive decimal pid: 0 and negative values would signal process groups.
      if (!/^[1-9]\d{0,9}$/.test(text) || Number(text) > 2 ** 31 - 1) {
        return { name, pid: null, running: false, error: `${file} does not hold a decimal pid` };
      }
      const pid = Number(text);
      try {
        const running = isRunning(pid);
        return { name, pid, running, ...(running ? {} : { error: `process ${pid} is not running` }) };
      } catch (error) {
        return { name, pid, running: false, error: `cannot check process ${pid}: ${describeError(error)}` };
      }
    }),
  );
  return { services };
}
