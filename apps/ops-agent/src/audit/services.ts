import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { scrubSecrets } from '@studio/health';
import { z } from 'zod';
import { describeError } from '../outbound';

/**
 * The running state of every service process `npm start` runs (scripts/studio.mjs, its supervisor). For each
 * process it writes into SERVICE_PID_DIR:
 *
 * - `<name>.pid`, the decimal pid, only while the process runs;
 * - `<name>.state.json`, the supervisor's view of it (written whole, by rename): its state, restarts, last
 *   exit with the output it wrote, when the next restart is due and, when it gave up, why.
 *
 * Each audit reads both and asks the kernel whether the pid exists (signal 0 sends nothing: ESRCH means gone,
 * EPERM means it exists but belongs to another user, so it runs). A directory of pid files alone (a
 * supervisor from before the state files) is still read the same way as before.
 */

export const serviceStates = ['running', 'starting', 'backoff', 'failed', 'stopped'] as const;
export type ServiceState = (typeof serviceStates)[number];

const isoTime = z.iso.datetime({ offset: true });

/** The supervisor's state file, a fixed contract: anything else is reported as invalid, naming the field. */
export const serviceStateFileSchema = z.object({
  name: z.string().min(1),
  state: z.enum(serviceStates),
  pid: z.number().int().positive().nullable(),
  restarts: z.number().int().nonnegative(),
  startedAt: isoTime.nullable(),
  lastExit: z
    .object({
      code: z.number().int().nullable(),
      signal: z.string().min(1).nullable(),
      at: isoTime,
      output: z.string(),
    })
    .nullable(),
  nextStartAt: isoTime.nullable(),
  reason: z.string().nullable(),
  updatedAt: isoTime,
});
export type ServiceStateFile = z.infer<typeof serviceStateFileSchema>;

export interface ServiceExit {
  code: number | null;
  signal: string | null;
  at: string;
  /** The last lines the process wrote, scrubbed of secrets, reduced (`reportOutput`), at most 600 characters. */
  output: string;
}

export interface ServiceProcess {
  name: string;
  pid: number | null;
  /** The process exists now (the kernel says so). */
  running: boolean;
  /** What is wrong, naming the service: with `running: false` it fails the host, with `running: true` it warns. */
  error?: string;
  // From `<name>.state.json`; absent when the directory holds only pid files.
  state?: ServiceState;
  restarts?: number;
  startedAt?: string | null;
  lastExit?: ServiceExit | null;
  nextStartAt?: string | null;
  reason?: string | null;
  /** Set by the audit: `restarts` grew since the previous audit (kept in the agent's database). */
  restartedSinceLastAudit?: boolean;
  restartsSinceLastAudit?: number;
}

/** The key a service's failure/recovery counts and incidents are kept under, apart from its product's. */
export const serviceIncidentKey = (name: string) => `process:${name}`;

const REPORT_OUTPUT_LIMIT = 600;
/** A state file's `backoff` this long past its `nextStartAt` means nobody is restarting the process. */
export const STALE_BACKOFF_MS = 60_000;

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

/**
 * The meaningful lines of a process's output: pino JSON lines reduced to their `msg`; Node's stack frames
 * ("at …"), its source excerpt marker and version footer dropped (the error line above them is the cause);
 * the config error's bullets and its "<app>: invalid configuration" heading dropped (the variable lines say
 * it). Scrubbed of secrets first: the output of a crashing process can carry a connection string or a key.
 */
function meaningfulLines(output: string): string[] {
  return scrubSecrets(output)
    .split('\n')
    .map((line) => {
      const trimmed = line.trim();
      if (!trimmed.startsWith('{')) return trimmed;
      try {
        const parsed = JSON.parse(trimmed) as { msg?: unknown };
        return typeof parsed.msg === 'string' ? parsed.msg : trimmed;
      } catch {
        return trimmed;
      }
    })
    .map((line) => line.replace(/^[-*]\s+/, ''))
    .filter(
      (line) =>
        line !== '' &&
        !/^[\w-]+: invalid configuration$/.test(line) &&
        !/^at\s/.test(line) &&
        !/^\^+$/.test(line) &&
        !/^Node\.js v\d/.test(line),
    );
}

const cutToEnd = (text: string, limit: number) =>
  text.length > limit ? `…${text.slice(text.length - limit + 1)}` : text;

/** The last meaningful lines of a process's output on one line, for errors and incident reasons. */
export function lastOutputLines(output: string, limit = 3): string {
  const text = meaningfulLines(output).slice(-limit).join(' | ');
  return text.length > 600 ? `${text.slice(0, 599)}…` : text;
}

/**
 * What the report keeps of a last exit's output: its last meaningful lines, at most 600 characters. Every
 * audit is stored (30 days at 30 s is 86,400 reports), so the 2 kB tail stays in the state file.
 */
function reportOutput(output: string): string {
  return cutToEnd(meaningfulLines(output).slice(-5).join('\n'), REPORT_OUTPUT_LIMIT);
}

/** "exited with signal SIGKILL at <time>" or "exited with code 1 at <time>". */
export function describeExit(exit: ServiceExit): string {
  const how = exit.signal ? `signal ${exit.signal}` : `code ${exit.code ?? 'unknown'}`;
  return `exited with ${how} at ${exit.at}`;
}

/** Appends the last output lines unless the text already carries them (the supervisor's reasons often do). */
function withOutput(text: string, exit: ServiceExit | null | undefined): string {
  const tail = exit ? lastOutputLines(exit.output) : '';
  if (!tail) return text;
  const last = lastOutputLines(exit?.output ?? '', 1);
  return text.includes(last) ? text : `${text}; last output: ${tail}`;
}

/** Why a service in state failed/backoff/stopped is not serving, naming it (the host's error for it). */
function describeNotServing(
  name: string,
  file: ServiceStateFile,
  exit: ServiceExit | null,
  now: Date,
): string {
  if (file.state === 'failed') {
    const reason = file.reason ? scrubSecrets(file.reason) : exit ? describeExit(exit) : 'no reason given';
    return withOutput(`${name}: failed: ${reason}`, exit);
  }
  if (file.state === 'backoff') {
    const crash = exit ? describeExit(exit) : 'exited';
    const next = file.nextStartAt ? ` at ${file.nextStartAt}` : '';
    let text = `${name}: backoff: ${crash}, restart #${file.restarts}${next}`;
    // The supervisor rewrites the file when it restarts the process: a backoff long overdue means the
    // supervisor itself is gone (the state file outlived it).
    if (file.nextStartAt && now.getTime() - Date.parse(file.nextStartAt) > STALE_BACKOFF_MS) {
      text += ` (overdue: no restart since then, is npm start still running?)`;
    }
    return withOutput(text, exit);
  }
  const stopped = exit ? ` (${describeExit(exit)})` : '';
  return withOutput(`${name}: stopped by the supervisor${stopped}`, exit);
}

function formatIssues(file: string, error: z.ZodError): string {
  const issues = error.issues.slice(0, 10).map((issue) => {
    const field = issue.path.length ? issue.path.join('.') : '(root)';
    return `${field}: ${/received undefined$/.test(issue.message) ? 'missing' : issue.message}`;
  });
  return `${file} is invalid: ${issues.join('; ')}`;
}

type Read<T> = { value: T } | { error: string } | undefined;

async function readPidFile(directory: string, name: string): Promise<Read<number>> {
  const file = `${name}.pid`;
  let text: string;
  try {
    text = (await readFile(join(directory, file), 'utf8')).trim();
  } catch (error) {
    // Removed between the listing and the read: the process exited just now; the state file says how.
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { error: `cannot read ${file}: ${describeError(error)}` };
  }
  // Only a positive decimal pid: 0 and negative values would signal process groups.
  if (!/^[1-9]\d{0,9}$/.test(text) || Number(text) > 2 ** 31 - 1) {
    return { error: `${file} does not hold a decimal pid` };
  }
  return { value: Number(text) };
}

async function readStateFile(directory: string, name: string): Promise<Read<ServiceStateFile>> {
  const file = `${name}.state.json`;
  let text: string;
  try {
    text = await readFile(join(directory, file), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    return { error: `cannot read ${file}: ${describeError(error)}` };
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { error: `${file} is not JSON: ${describeError(error)}` };
  }
  const parsed = serviceStateFileSchema.safeParse(json);
  if (!parsed.success) return { error: formatIssues(file, parsed.error) };
  if (parsed.data.name !== name) {
    return { error: `${file} is invalid: name: says ${JSON.stringify(parsed.data.name)}, not "${name}"` };
  }
  return { value: parsed.data };
}

function checkPid(name: string, pid: number): { running: boolean; error?: string } {
  try {
    const running = isRunning(pid);
    return running ? { running } : { running, error: `${name}: process ${pid} is not running` };
  } catch (error) {
    return { running: false, error: `${name}: cannot check process ${pid}: ${describeError(error)}` };
  }
}

async function readService(directory: string, name: string, now: Date): Promise<ServiceProcess> {
  const [pidFile, stateFile] = await Promise.all([
    readPidFile(directory, name),
    readStateFile(directory, name),
  ]);
  const pidError = pidFile && 'error' in pidFile ? `${name}: ${pidFile.error}` : undefined;
  const stateError = stateFile && 'error' in stateFile ? `${name}: ${stateFile.error}` : undefined;
  const filePid = pidFile && 'value' in pidFile ? pidFile.value : null;
  const file = stateFile && 'value' in stateFile ? stateFile.value : undefined;

  if (!file) {
    // Only the pid file can tell (no state file, or an unreadable one, reported on top).
    if (pidError)
      return { name, pid: null, running: false, error: [pidError, stateError].filter(Boolean).join('; ') };
    if (filePid === null) {
      return { name, pid: null, running: false, error: stateError ?? `${name}: no pid file` };
    }
    const checked = checkPid(name, filePid);
    const error = [checked.error, stateError].filter(Boolean).join('; ');
    return { name, pid: filePid, running: checked.running, ...(error ? { error } : {}) };
  }

  const exit: ServiceExit | null = file.lastExit
    ? { ...file.lastExit, output: reportOutput(file.lastExit.output) }
    : null;
  const facts = {
    state: file.state,
    restarts: file.restarts,
    startedAt: file.startedAt,
    lastExit: exit,
    nextStartAt: file.nextStartAt,
    reason: file.reason === null ? null : scrubSecrets(file.reason),
  };
  if (file.state === 'failed' || file.state === 'backoff' || file.state === 'stopped') {
    return { name, pid: null, running: false, error: describeNotServing(name, file, exit, now), ...facts };
  }
  // running or starting: the pid file is written first, so it is the fresher of the two during a restart.
  const pid = filePid ?? file.pid;
  if (pid === null) {
    return {
      name,
      pid: null,
      running: false,
      error: pidError ?? `${name}: ${file.state} without a pid (state file updated ${file.updatedAt})`,
      ...facts,
    };
  }
  const checked = checkPid(name, pid);
  const error = checked.error
    ? `${checked.error} (the state file says ${file.state} since ${file.startedAt ?? file.updatedAt})`
    : pidError;
  return { name, pid, running: checked.running, ...(error ? { error } : {}), ...facts };
}

export async function readServices(
  directory: string,
  now: Date,
): Promise<{ services: ServiceProcess[]; error?: string }> {
  let entries: string[];
  try {
    entries = await readdir(directory);
  } catch (error) {
    return { services: [], error: `cannot read SERVICE_PID_DIR: ${describeError(error)}` };
  }
  // The supervisor's temporary files (`<name>.state.json.<pid>.tmp`) and its socket end otherwise.
  const names = new Set<string>();
  for (const entry of entries) {
    const match = /^(.+?)\.(pid|state\.json)$/.exec(entry);
    if (match?.[1]) names.add(match[1]);
  }
  const services = await Promise.all([...names].sort().map((name) => readService(directory, name, now)));
  return { services };
}

/**
 * Why a product whose /health failed is down, when its service process explains it: failed (with the
 * supervisor's reason or the config error the app printed), crashed and waiting to restart, stopped, starting,
 * or gone. Undefined when the process runs and so says nothing about the failure.
 */
export function explainDown(service: ServiceProcess): string | undefined {
  const exit = service.lastExit ?? null;
  const output = exit ? lastOutputLines(exit.output) : '';
  switch (service.state) {
    case 'failed':
      if (exit?.code === 78) {
        return `the process failed at start (exit code 78): ${output || service.reason || 'no output'}`;
      }
      return withOutput(
        `the process failed: ${service.reason ?? (exit ? describeExit(exit) : 'no reason given')}`,
        exit,
      );
    case 'backoff':
      return withOutput(
        `the process crashed (${exit ? describeExit(exit) : 'exited'}), restart #${service.restarts ?? '?'} at ${service.nextStartAt ?? 'an unknown time'}`,
        exit,
      );
    case 'stopped':
      return withOutput(`the process is stopped${exit ? ` (${describeExit(exit)})` : ''}`, exit);
    case 'starting':
      if (service.running) return `the process is still starting (since ${service.startedAt ?? 'unknown'})`;
      break;
  }
  if (!service.running) {
    const error = service.error ?? 'the process is not running';
    return error.startsWith(`${service.name}: `) ? error.slice(service.name.length + 2) : error;
  }
  return undefined;
}
