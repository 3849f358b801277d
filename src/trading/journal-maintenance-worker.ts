/**
 * The journal's maintenance thread (started by ./journal-maintenance.ts): its own SQLite connection
 * checkpoints the WAL into the database file (PASSIVE: never blocks the trader's writes) and, with a retention
 * setting, prunes old housekeeping rows (./journal-prune.ts) in small transactions. The fsyncs of checkpoints
 * and the deletes of pruning happen here, off the thread that quotes.
 */
import { DatabaseSync } from 'node:sqlite';
import { parentPort, workerData } from 'node:worker_threads';
import { pruneJournal } from './journal-prune.ts';

interface MaintenanceData {
  path: string;
  checkpointEveryMs: number;
  retentionDays: number;
  pruneEveryMs: number;
  /** Int32 flag: the worker sets [0] to 1 once its connection is closed. */
  closed: SharedArrayBuffer;
}

const d = workerData as MaintenanceData;
const flag = new Int32Array(d.closed);
const db = new DatabaseSync(d.path);
db.exec('PRAGMA busy_timeout = 5000');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');
parentPort?.postMessage({ kind: 'ready' });
const timers: NodeJS.Timeout[] = [];
let closing = false;

// After a complete checkpoint the next write transaction restarts the WAL from its beginning, and with
// synchronous = NORMAL that first commit fsyncs the new WAL header. Made here (a one-row write), that fsync
// happens on this thread instead of in the trader's next transaction.
const restartWal = db.prepare(
  "INSERT INTO journal_meta (key, value) VALUES ('checkpointed_at', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
);
const runCheckpoint = () => {
  if (closing) return;
  try {
    const r = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    if (r.busy === 0 && r.log > 0 && r.checkpointed === r.log) restartWal.run(Date.now());
    parentPort?.postMessage({ kind: 'checkpoint', log: r.log, checkpointed: r.checkpointed });
  } catch (err) {
    parentPort?.postMessage({ kind: 'error', what: 'checkpoint', message: (err as Error).message });
  }
};
timers.push(setInterval(runCheckpoint, d.checkpointEveryMs));

if (d.retentionDays > 0) {
  const prune = () => {
    if (closing) return;
    try {
      const r = pruneJournal(db, Date.now() - d.retentionDays * 86_400_000, { onBatch: () => {} });
      parentPort?.postMessage({ kind: 'pruned', result: r });
    } catch (err) {
      parentPort?.postMessage({ kind: 'error', what: 'prune', message: (err as Error).message });
    }
  };
  // First prune shortly after start (not in the middle of the start-up reconciliation), then periodically.
  timers.push(setTimeout(prune, Math.min(60_000, d.pruneEveryMs)));
  timers.push(setInterval(prune, d.pruneEveryMs));
}

parentPort?.on('message', (m: unknown) => {
  if (m === 'checkpoint') {
    runCheckpoint();
    return;
  }
  if (m !== 'close') return;
  closing = true;
  for (const t of timers) clearInterval(t);
  try {
    db.close();
  } finally {
    Atomics.store(flag, 0, 1);
    Atomics.notify(flag, 0);
    parentPort?.close();
  }
});
