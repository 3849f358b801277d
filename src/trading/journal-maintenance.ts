/**
 * Starts and stops the journal's maintenance thread (./journal-maintenance-worker.ts): WAL checkpoints and
 * retention pruning off the trading thread. Closing waits (bounded) for the thread to close its connection,
 * so no SQLite lock is left behind by an abandoned connection.
 */
import { Worker } from 'node:worker_threads';

export interface MaintenanceOptions {
  /** Checkpoint the WAL this often (ms). Default 5000. */
  checkpointEveryMs?: number;
  /** Delete housekeeping rows older than this many days (0 = keep everything). */
  retentionDays?: number;
  /** How often retention runs (ms). Default one hour. */
  pruneEveryMs?: number;
  /** Messages from the thread (prune results, errors). */
  onMessage?: (m: MaintenanceMessage) => void;
}

export type MaintenanceMessage =
  | { kind: 'ready' }
  | { kind: 'checkpoint'; log: number; checkpointed: number }
  | { kind: 'pruned'; result: { before: number; deleted: Record<string, number> } }
  | { kind: 'error'; what: string; message: string };

export class JournalMaintenance {
  private readonly worker: Worker;
  private readonly closed = new SharedArrayBuffer(4);
  private stopped = false;
  /** Checkpoints run, and the WAL size in pages at the last one. */
  checkpoints = 0;
  lastWalPages = 0;
  /** Resolves once the thread has opened its connection (benchmarks wait for it; sessions need not). */
  readonly ready: Promise<void>;

  constructor(path: string, o: MaintenanceOptions = {}) {
    this.worker = new Worker(new URL('./journal-maintenance-worker.ts', import.meta.url), {
      workerData: {
        path,
        checkpointEveryMs: o.checkpointEveryMs ?? 5000,
        retentionDays: o.retentionDays ?? 0,
        pruneEveryMs: o.pruneEveryMs ?? 3_600_000,
        closed: this.closed,
      },
    });
    this.worker.unref();
    let isReady: () => void = () => {};
    this.ready = new Promise((r) => {
      isReady = r;
    });
    this.worker.on('message', (m: MaintenanceMessage) => {
      if (m.kind === 'ready') isReady();
      if (m.kind === 'checkpoint') {
        this.checkpoints++;
        this.lastWalPages = m.log;
      }
      o.onMessage?.(m);
    });
    this.worker.on('error', (err) => o.onMessage?.({ kind: 'error', what: 'worker', message: err.message }));
  }

  /** Checkpoint now (on the thread); resolves with the WAL size in pages it saw (benchmarks). */
  checkpointNow(): Promise<number> {
    return new Promise((resolve) => {
      const on = (m: MaintenanceMessage) => {
        if (m.kind !== 'checkpoint' && m.kind !== 'error') return;
        this.worker.off('message', on);
        resolve(m.kind === 'checkpoint' ? m.log : -1);
      };
      this.worker.on('message', on);
      this.worker.postMessage('checkpoint');
    });
  }

  /** Stop the thread; returns once its connection is closed (at most `timeoutMs`). */
  close(timeoutMs = 3000): void {
    if (this.stopped) return;
    this.stopped = true;
    const flag = new Int32Array(this.closed);
    this.worker.postMessage('close');
    Atomics.wait(flag, 0, 0, timeoutMs);
    void this.worker.terminate();
  }
}
