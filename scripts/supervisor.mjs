// Runs the studio's processes: start in order, prefix their output, restart a crashed one with backoff, give
// up on one that cannot start (exit code 78 is a configuration error: restarting would only repeat it), and
// stop everything in reverse order. Each process's state goes to <runDir>/<name>.state.json (written whole,
// by rename) and its pid to <runDir>/<name>.pid while it runs: the ops-agent's audit reads both.
import { spawn } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const OUTPUT_TAIL_BYTES = 2048;
const EX_CONFIG = 78;
const colours = [36, 33, 35, 32, 34, 31];

/**
 * @typedef {object} ServiceSpec
 * @property {string} name
 * @property {string} command
 * @property {string[]} args
 * @property {Record<string, string | undefined>} env
 * @property {string} [readyUrl] polled until it answers 200
 */

/**
 * @typedef {object} RestartPolicy
 * @property {number} initialDelayMs first restart delay; doubles per consecutive crash
 * @property {number} maxDelayMs
 * @property {number} stableAfterMs a process that ran this long resets the doubling
 * @property {number} maxRestarts restarts within windowMs before giving up
 * @property {number} windowMs
 */

export class Supervisor {
  /**
   * @param {{ runDir: string, policy: RestartPolicy, log?: (line: string) => void, write?: (text: string) => void }} options
   */
  constructor(options) {
    this.runDir = options.runDir;
    this.policy = options.policy;
    this.log = options.log ?? ((line) => process.stdout.write(`studio       │ ${line}\n`));
    this.write = options.write ?? ((text) => process.stdout.write(text));
    this.useColour = process.stdout.isTTY === true;
    /** @type {Map<string, Managed>} */
    this.services = new Map();
    this.stopping = false;
    mkdirSync(this.runDir, { recursive: true });
  }

  /** @param {ServiceSpec} spec */
  add(spec) {
    const managed = new Managed(this, spec, colours[this.services.size % colours.length]);
    this.services.set(spec.name, managed);
    return managed;
  }

  /** Starts the named services together and waits until each is ready or has failed. */
  async startGroup(names, readyTimeoutMs) {
    const group = names.map((name) => this.get(name));
    for (const service of group) service.start();
    const ready = await Promise.all(group.map((service) => service.waitReady(readyTimeoutMs)));
    // The next group starts anyway; a slow one is still watched and turns running when it answers.
    for (const service of group) if (service.state === 'starting') void service.waitReady(24 * 3_600_000);
    return ready;
  }

  get(name) {
    const service = this.services.get(name);
    if (!service) throw new Error(`no service named ${name}`);
    return service;
  }

  /** Stops every service, last started first. */
  async stopAll() {
    this.stopping = true;
    const order = [...this.services.values()].reverse();
    for (const service of order) await service.stop();
  }
}

class Managed {
  /**
   * @param {Supervisor} supervisor
   * @param {ServiceSpec} spec
   * @param {number} colour
   */
  constructor(supervisor, spec, colour) {
    this.supervisor = supervisor;
    this.spec = spec;
    this.colour = colour;
    this.state = 'stopped';
    this.child = null;
    this.restarts = 0;
    this.consecutiveCrashes = 0;
    /** @type {number[]} */
    this.restartTimes = [];
    this.startedAt = null;
    this.lastExit = null;
    this.nextStartAt = null;
    this.reason = null;
    this.output = '';
    this.timer = null;
    this.held = false;
    this.writeState();
  }

  get name() {
    return this.spec.name;
  }

  start() {
    if (this.child) return;
    this.held = false;
    clearTimeout(this.timer);
    this.timer = null;
    this.nextStartAt = null;
    this.reason = null;
    this.output = '';
    const child = spawn(this.spec.command, this.spec.args, {
      env: this.spec.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.state = 'starting';
    this.startedAt = new Date();
    child.once('error', (error) => {
      this.output += `${error.message}\n`;
      this.prefixed(`${error.message}\n`);
    });
    for (const stream of [child.stdout, child.stderr]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk) => {
        this.output = (this.output + chunk).slice(-OUTPUT_TAIL_BYTES);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop() ?? '';
        if (lines.length > 0) this.prefixed(`${lines.join('\n')}\n`);
      });
      stream.on('end', () => {
        if (partial) this.prefixed(`${partial}\n`);
        partial = '';
      });
    }
    if (child.pid) writeFileSync(this.pidFile, `${child.pid}\n`);
    this.writeState();
    child.once('exit', (code, signal) => this.exited(child, code, signal));
    if (!this.spec.readyUrl) this.markRunning();
  }

  prefixed(text) {
    const label = this.name.padEnd(12);
    const prefix = this.supervisor.useColour ? `\x1b[${this.colour}m${label}\x1b[0m │ ` : `${label} │ `;
    this.supervisor.write(text.replace(/^(?=.)/gm, prefix));
  }

  markRunning() {
    if (this.state !== 'starting') return;
    this.state = 'running';
    this.writeState();
  }

  /** Resolves true once the process answers its ready URL, false when it exits or the time runs out. */
  async waitReady(timeoutMs) {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (this.state === 'running') return true;
      if (this.state !== 'starting') return false;
      if (this.spec.readyUrl) {
        try {
          const response = await fetch(this.spec.readyUrl, { signal: AbortSignal.timeout(2000) });
          await response.arrayBuffer();
          if (response.status === 200) {
            this.markRunning();
            return true;
          }
        } catch {}
      }
      await new Promise((resolve) => setTimeout(resolve, 150));
    }
    return this.state === 'running';
  }

  exited(child, code, signal) {
    if (this.child !== child) return;
    this.child = null;
    rmSync(this.pidFile, { force: true });
    const at = new Date();
    const ranMs = this.startedAt ? at.getTime() - this.startedAt.getTime() : 0;
    this.lastExit = { code, signal, at: at.toISOString(), output: this.output.trim() };
    this.startedAt = null;
    const how = signal ? `signal ${signal}` : `code ${code}`;
    if (this.supervisor.stopping || this.held) {
      this.state = 'stopped';
      this.writeState();
      return;
    }
    if (code === EX_CONFIG) {
      this.state = 'failed';
      this.reason = `exited with code 78 (configuration error) at start: ${lastLines(this.output)}`;
      this.supervisor.log(
        `${this.name} has a configuration error and is not restarted: ${lastLines(this.output)}`,
      );
      this.writeState();
      return;
    }
    const { policy } = this.supervisor;
    this.restartTimes = this.restartTimes.filter((time) => at.getTime() - time < policy.windowMs);
    if (this.restartTimes.length >= policy.maxRestarts) {
      this.state = 'failed';
      this.reason = `exited ${this.restartTimes.length + 1} times within ${Math.round(policy.windowMs / 1000)} s (last: ${how}); not restarted again: ${lastLines(this.output)}`;
      this.supervisor.log(`${this.name} keeps crashing and is not restarted again (last exit: ${how})`);
      this.writeState();
      return;
    }
    this.consecutiveCrashes = ranMs >= policy.stableAfterMs ? 1 : this.consecutiveCrashes + 1;
    const delay = Math.min(policy.initialDelayMs * 2 ** (this.consecutiveCrashes - 1), policy.maxDelayMs);
    this.restarts += 1;
    this.restartTimes.push(at.getTime());
    this.state = 'backoff';
    this.nextStartAt = new Date(at.getTime() + delay);
    this.supervisor.log(`${this.name} exited (${how}); restart #${this.restarts} in ${delay} ms`);
    this.writeState();
    this.timer = setTimeout(() => {
      this.timer = null;
      if (this.supervisor.stopping || this.held) return;
      this.start();
      void this.waitReady(60_000);
    }, delay);
  }

  /** Stops the process (SIGTERM, then SIGKILL after 15 s) and keeps it stopped until `start()`. */
  async stop() {
    this.held = true;
    clearTimeout(this.timer);
    this.timer = null;
    const child = this.child;
    if (!child) {
      if (this.state !== 'failed') this.state = 'stopped';
      this.nextStartAt = null;
      this.writeState();
      return;
    }
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(killer);
  }

  get pidFile() {
    return join(this.supervisor.runDir, `${this.name}.pid`);
  }

  writeState() {
    const file = join(this.supervisor.runDir, `${this.name}.state.json`);
    const state = {
      name: this.name,
      state: this.state,
      pid: this.child?.pid ?? null,
      restarts: this.restarts,
      startedAt: this.startedAt?.toISOString() ?? null,
      lastExit: this.lastExit,
      nextStartAt: this.nextStartAt?.toISOString() ?? null,
      reason: this.reason,
      updatedAt: new Date().toISOString(),
    };
    const temporary = `${file}.${process.pid}.tmp`;
    writeFileSync(temporary, `${JSON.stringify(state, null, 2)}\n`);
    renameSync(temporary, file);
  }
}

/** The last meaningful lines a process wrote: pino JSON lines are reduced to their msg. */
function lastLines(output) {
  const lines = output
    .trim()
    .split('\n')
    .map((line) => {
      try {
        const parsed = JSON.parse(line);
        return typeof parsed.msg === 'string' ? parsed.msg : line;
      } catch {
        return line;
      }
    })
    .filter((line) => line.trim() !== '');
  return lines.slice(-3).join(' | ').slice(0, 600) || '(no output)';
}
