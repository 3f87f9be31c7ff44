import { type ChildProcess, fork } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The fonts every Typst document may use, shipped in an npm package (no system fonts involved). */
export function bundledFontFiles(): string[] {
  const require = createRequire(import.meta.url);
  const directory = join(require.resolve('dejavu-fonts-ttf/package.json'), '..', 'ttf');
  return [
    'DejaVuSans.ttf',
    'DejaVuSans-Bold.ttf',
    'DejaVuSans-Oblique.ttf',
    'DejaVuSans-BoldOblique.ttf',
    'DejaVuSansMono.ttf',
    'DejaVuSerif.ttf',
    'DejaVuSerif-Bold.ttf',
    'DejaVuSerif-Italic.ttf',
  ].map((name) => join(directory, name));
}

/** The worker script: beside this module in the sources, beside server.js in the bundle. */
function workerScript(): string {
  for (const name of ['./typst-worker.mjs', './typst-worker.js']) {
    const path = fileURLToPath(new URL(name, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error('typst-worker script not found next to the Typst pool module');
}

export interface TypstJob {
  source: string;
  inputs: Record<string, string>;
  /** Virtual files the document may read (images, barcodes), keyed by absolute path in the workspace. */
  files: [string, Uint8Array][];
  pdfStandard?: 'a-2b' | 'a-3b';
  /** Unix seconds written as the PDF's creation date. */
  timestamp: number;
}

export interface TypstOutput {
  pdf: Buffer;
  pages: number;
}

/** The template (or its data) is at fault: a compile error, a PDF/A violation, or a render that ran too long. */
export class TypstTemplateError extends Error {
  constructor(
    message: string,
    readonly kind: 'template' | 'export' | 'timeout',
  ) {
    super(message);
    this.name = 'TypstTemplateError';
  }
}

/** The pool cannot take more work right now. */
export class TypstPoolBusyError extends Error {}

export interface TypstPoolOptions {
  workers: number;
  /** A worker is replaced after this many documents... */
  maxDocumentsPerWorker: number;
  /** ...or as soon as its resident memory passes this many bytes. */
  maxWorkerRssBytes: number;
  /** A document still compiling after this long has its worker killed. */
  timeoutMs: number;
  /** Jobs waiting for a worker beyond which new jobs are refused (503). */
  maxQueue: number;
  /** An empty directory: the only part of the real filesystem a template could reach. */
  workspace: string;
}

interface Pending {
  id: number;
  job: TypstJob;
  resolve: (output: TypstOutput) => void;
  reject: (error: Error) => void;
}

interface WorkerAnswer {
  id: number;
  ok: boolean;
  pdf?: Uint8Array;
  pages?: number;
  kind?: 'template' | 'export' | 'crash';
  message?: string;
  rss: number;
}

interface Worker {
  child: ChildProcess;
  ready: boolean;
  documents: number;
  rss: number;
  current: Pending | null;
  timer: NodeJS.Timeout | null;
  retired: boolean;
  /** Due for recycling: it keeps serving until its replacement is ready, so capacity never dips. */
  replacing: boolean;
}

export interface TypstPoolStats {
  workers: number;
  busy: number;
  queued: number;
  documents: number;
  recycled: number;
  crashed: number;
  workerRss: number[];
  workerPids: number[];
}

/**
 * Typst's compiler memoizes per distinct document and that memory is only partly given back, so compilers
 * live in child processes that are replaced after `maxDocumentsPerWorker` documents or above
 * `maxWorkerRssBytes`. Processes rather than threads because a process can be measured (RSS), killed
 * mid-compile when a template loops forever, and crash without taking the API down.
 */
export class TypstPool {
  private readonly workers: Worker[] = [];
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;
  private documents = 0;
  private recycled = 0;
  private crashed = 0;
  private readonly fonts = bundledFontFiles();
  private readonly script = workerScript();

  constructor(private readonly options: TypstPoolOptions) {
    mkdirSync(options.workspace, { recursive: true });
  }

  render(job: TypstJob): Promise<TypstOutput> {
    if (this.closed) return Promise.reject(new TypstPoolBusyError('the Typst engine is shutting down'));
    if (this.queue.length >= this.options.maxQueue) {
      return Promise.reject(new TypstPoolBusyError('the Typst engine is at capacity; retry shortly'));
    }
    return new Promise((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.ensureWorkers();
      this.dispatch();
    });
  }

  stats(): TypstPoolStats {
    return {
      workers: this.workers.length,
      busy: this.workers.filter((w) => w.current).length,
      queued: this.queue.length,
      documents: this.documents,
      recycled: this.recycled,
      crashed: this.crashed,
      workerRss: this.workers.map((w) => w.rss),
      workerPids: this.workers.map((w) => w.child.pid ?? 0),
    };
  }

  /** Resolves once no worker is waiting to be replaced (for tests and benchmarks). */
  async replacementsSettled(): Promise<void> {
    while (this.workers.some((w) => w.replacing)) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) {
      pending.reject(new TypstPoolBusyError('the Typst engine is shutting down'));
    }
    await Promise.all([...this.workers].map((worker) => this.stop(worker)));
  }

  private ensureWorkers() {
    while (!this.closed && this.workers.filter((w) => !w.replacing).length < this.options.workers)
      this.spawn();
  }

  /** Enough ready workers that are not being replaced to serve at full capacity. */
  private replacementsReady(): boolean {
    return this.workers.filter((w) => w.ready && !w.replacing).length >= this.options.workers;
  }

  /** Stops workers due for recycling once they are idle and their replacements are ready. */
  private retireReplaced() {
    if (!this.replacementsReady()) return;
    for (const worker of [...this.workers]) {
      if (worker.replacing && !worker.current) void this.stop(worker);
    }
  }

  private spawn() {
    const child = fork(this.script, [], {
      serialization: 'advanced',
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      // Only what the worker needs: fork() starts it with this Node binary, so it inherits nothing else.
      env: {
        // Typst's Rust allocations come from glibc malloc; fewer arenas keep a long-lived worker's RSS from
        // bloating with fragmentation between recycles (one arena: the worker compiles one document at a time).
        MALLOC_ARENA_MAX: '1',
        DOCUMINT_TYPST_FONTS: JSON.stringify(this.fonts),
        DOCUMINT_TYPST_WORKSPACE: this.options.workspace,
      },
      // The parent may run under a TypeScript loader; the worker is plain JavaScript and needs none.
      execArgv: [],
    });
    const worker: Worker = {
      child,
      ready: false,
      documents: 0,
      rss: 0,
      current: null,
      timer: null,
      retired: false,
      replacing: false,
    };
    let stderr = '';
    child.stderr?.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-2000);
    });
    child.on('message', (message: WorkerAnswer | { ready: true }) => {
      if ('ready' in message) {
        worker.ready = true;
        this.retireReplaced();
        this.dispatch();
        return;
      }
      this.onAnswer(worker, message);
    });
    child.on('exit', (code, signal) => {
      this.remove(worker);
      if (worker.current) {
        const pending = worker.current;
        worker.current = null;
        if (worker.timer) clearTimeout(worker.timer);
        if (!worker.retired) {
          this.crashed += 1;
          pending.reject(
            new Error(`Typst worker exited (code ${code}, signal ${signal}): ${stderr.trim().slice(-300)}`),
          );
        }
      }
      if (!this.closed && this.queue.length > 0) {
        this.ensureWorkers();
        this.dispatch();
      }
    });
    child.on('error', () => {
      // 'exit' follows and does the bookkeeping.
    });
    this.workers.push(worker);
  }

  private onAnswer(worker: Worker, answer: WorkerAnswer) {
    const pending = worker.current;
    if (worker.timer) clearTimeout(worker.timer);
    worker.timer = null;
    worker.current = null;
    worker.documents += 1;
    worker.rss = answer.rss;
    this.documents += 1;
    if (pending && pending.id === answer.id) {
      if (answer.ok && answer.pdf) {
        pending.resolve({ pdf: Buffer.from(answer.pdf), pages: answer.pages ?? 0 });
      } else if (answer.kind === 'template' || answer.kind === 'export') {
        pending.reject(new TypstTemplateError(answer.message ?? 'the template did not compile', answer.kind));
      } else {
        pending.reject(new Error(`Typst worker failed: ${answer.message ?? 'unknown error'}`));
      }
    }
    if (
      !worker.replacing &&
      (worker.documents >= this.options.maxDocumentsPerWorker || worker.rss > this.options.maxWorkerRssBytes)
    ) {
      this.recycled += 1;
      worker.replacing = true;
      this.ensureWorkers();
    }
    this.retireReplaced();
    this.dispatch();
  }

  private dispatch() {
    for (const worker of this.workers) {
      if (this.queue.length === 0) return;
      if (!worker.ready || worker.current || worker.retired) continue;
      if (worker.replacing && this.replacementsReady()) continue;
      const pending = this.queue.shift()!;
      worker.current = pending;
      worker.timer = setTimeout(() => {
        // A template that never finishes (an unbounded loop) costs one worker, not the service.
        worker.retired = true;
        worker.current = null;
        pending.reject(
          new TypstTemplateError(
            `the document did not finish rendering within ${this.options.timeoutMs} ms`,
            'timeout',
          ),
        );
        this.recycled += 1;
        void this.stop(worker);
        this.ensureWorkers();
      }, this.options.timeoutMs);
      const { job } = pending;
      worker.child.send({
        id: pending.id,
        source: job.source,
        inputs: job.inputs,
        files: job.files,
        pdfStandard: job.pdfStandard,
        timestamp: job.timestamp,
      });
    }
  }

  private remove(worker: Worker) {
    const index = this.workers.indexOf(worker);
    if (index >= 0) this.workers.splice(index, 1);
  }

  private stop(worker: Worker): Promise<void> {
    worker.retired = true;
    this.remove(worker);
    if (worker.timer) clearTimeout(worker.timer);
    if (worker.child.exitCode !== null || worker.child.signalCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      worker.child.once('exit', () => resolve());
      worker.child.kill('SIGKILL');
    });
  }
}
