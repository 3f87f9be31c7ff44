import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import type { StudioDatabase } from '@studio/shared-db';
import type { FastifyBaseLogger } from 'fastify';

/**
 * WAL checkpoints in a background thread. SQLite's automatic checkpoint runs inside the commit that crosses
 * 1,000 WAL pages, on the committing connection: here, on the event loop, between two group commits of
 * pings: every few hundred milliseconds of sustained ingest it stalls every request for the time it takes to
 * copy the pages into the database file and fsync it. With this opt-in (WAL_CHECKPOINT_INTERVAL_MS > 0;
 * measurements on the shared 2-core machine were mixed, see the README), the main connection does not
 * checkpoint on its own, and a worker thread with its own
 * connection runs PASSIVE checkpoints (they never block writers) on a timer. Under sustained writes the
 * worker never quite catches up (frames keep arriving while it copies), and SQLite only rewinds the WAL
 * once a checkpoint has caught up; so when the WAL passes `maxWalBytes` the worker asks the main thread for
 * one PASSIVE checkpoint between two transactions: by then nearly every frame is already copied, so it is
 * short, and it lets the WAL start over. (A RESTART checkpoint in the worker would bound the WAL too, but
 * it blocks writers, that is, the event loop.) Durability is unchanged: commits are still fsynced to the
 * WAL (synchronous=FULL).
 *
 * If the worker dies, the main connection takes automatic checkpoints back, so the WAL never grows unbounded.
 * Plain CommonJS evaluated in the worker, so the app's bundle needs no second entry file.
 */
const workerSource = `
const { parentPort, workerData } = require('node:worker_threads');
const fs = require('node:fs');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { timeout: 5000 });
db.pragma('busy_timeout = 5000');
const walSize = () => { try { return fs.statSync(workerData.file + '-wal').size; } catch { return 0; } };
const checkpoint = () => {
  try {
    db.pragma('wal_checkpoint(PASSIVE)');
    if (walSize() > workerData.maxWalBytes) parentPort.postMessage({ walLarge: true });
  } catch (error) {
    parentPort.postMessage({ error: String(error && error.message) });
  }
};
const timer = setInterval(checkpoint, workerData.intervalMs);
parentPort.on('message', (message) => {
  if (message !== 'stop') return;
  clearInterval(timer);
  checkpoint();
  db.close();
  parentPort.close();
});
`;

export interface WalCheckpointer {
  stop(): Promise<void>;
}

export function startWalCheckpointer(
  database: StudioDatabase,
  options: { intervalMs: number; maxWalBytes: number; log: FastifyBaseLogger },
): WalCheckpointer {
  const driver = createRequire(import.meta.url).resolve('better-sqlite3');
  const worker = new Worker(workerSource, {
    eval: true,
    workerData: {
      driver,
      file: database.file,
      intervalMs: options.intervalMs,
      maxWalBytes: options.maxWalBytes,
    },
  });
  worker.unref();
  let stopping = false;
  const restoreAutoCheckpoint = () => {
    if (database.open) database.sqlite.pragma('wal_autocheckpoint = 1000');
  };
  worker.on('message', (message: { error?: string; walLarge?: boolean }) => {
    if (message.error) options.log.warn({ error: message.error }, 'background WAL checkpoint failed');
    if (message.walLarge && database.open) {
      try {
        database.sqlite.pragma('wal_checkpoint(PASSIVE)');
      } catch (error) {
        options.log.warn({ err: error }, 'WAL checkpoint on the main connection failed');
      }
    }
  });
  worker.on('error', (error) => {
    options.log.error({ err: error }, 'WAL checkpointer died; checkpoints are back on the main connection');
    restoreAutoCheckpoint();
  });
  worker.on('exit', () => {
    if (!stopping) restoreAutoCheckpoint();
  });
  database.sqlite.pragma('wal_autocheckpoint = 0');

  return {
    async stop() {
      if (stopping) return;
      stopping = true;
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.postMessage('stop');
      await exited;
      restoreAutoCheckpoint();
    },
  };
}
