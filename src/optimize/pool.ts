/**
 * Executors run epochs: the local worker-thread pool here, the Redis queue in queue.ts. Both take the same
 * plain-data EpochJob and give the same EpochResult, so a run's results do not depend on where its epochs ran.
 *
 * The local pool is node:worker_threads directly (not a general pool library) because an epoch of a small
 * strategy is ~10 ms of CPU and what surrounds it decides whether a second core pays off:
 * - threads start (and load their modules) when the pool is made, so a caller can overlap that with reading
 *   the data and wait for `ready()` before the first epoch;
 * - the shared data descriptor (the SharedArrayBuffer columns) goes to each thread once, not with every
 *   epoch: a job message carries parameters and the data's key only;
 * - each thread may hold `depth` jobs (one running, the next queued in the thread), so it starts the next
 *   epoch without waiting for the coordinating thread to handle the last result;
 * - the threads run a normal event loop between epochs (V8's idle-time GC tasks run there).
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { EpochJob, EpochResult } from './epoch.ts';
import type { SharedTapeData, TapeModeOption } from './tape-source.ts';

export interface Executor {
  /** "2 local threads", "queue redis://… (cjmm-hyperopt)". */
  readonly description: string;
  /** Jobs the executor can take at once with none waiting in it (default: one per thread). */
  readonly capacity?: number;
  run(job: EpochJob): Promise<EpochResult>;
  close(): Promise<void>;
}

export function defaultJobs(): number {
  return Math.max(1, availableParallelism());
}

/** What every thread of a pool is started with (worker-thread.ts). */
export interface WorkerData {
  tapeMode: TapeModeOption;
  /** Threads of the pool (they share the process's memory: `auto` budgets for all of them). */
  threads: number;
}

/** Coordinator → thread. */
export type ToThread =
  | { type: 'source'; source: SharedTapeData }
  | { type: 'job'; id: number; job: Omit<EpochJob, 'source'>; source: string };
/** Thread → coordinator. */
export type FromThread =
  | { type: 'ready' }
  | { type: 'result'; id: number; result: EpochResult }
  | { type: 'error'; id: number; message: string };

const WORKER = new URL('./worker-thread.ts', import.meta.url);

interface Task {
  id: number;
  job: EpochJob;
  resolve: (r: EpochResult) => void;
  reject: (e: Error) => void;
}

interface Thread {
  worker: Worker;
  ready: Promise<void>;
  /** It loaded its code and said so (a thread that dies before that is not replaced: it cannot start). */
  started: boolean;
  /** Keys of the data descriptors this thread has. */
  sources: Set<string>;
  /** Jobs sent to it and not answered, in the order sent. */
  tasks: Map<number, Task>;
}

export class LocalPool implements Executor {
  readonly description: string;
  readonly capacity: number;
  private readonly threads: Thread[] = [];
  private readonly queue: Task[] = [];
  private readonly data: WorkerData;
  private readonly depth: number;
  private readonly script: URL;
  private nextId = 1;
  private closed = false;
  /** Why a thread could not start (every job is refused from then on). */
  private broken: Error | null = null;

  /**
   * @param depth jobs a thread may hold (1 running + depth − 1 queued in the thread); 2 hides the
   *   coordinator's turnaround between epochs.
   * @param script the thread's entry (tests only).
   */
  constructor(threads: number, tapeMode: TapeModeOption = 'columns', depth = 2, script = WORKER) {
    this.description = `${threads} local worker thread${threads === 1 ? '' : 's'}`;
    this.data = { tapeMode, threads };
    this.depth = Math.max(1, depth);
    this.script = script;
    this.capacity = threads * this.depth;
    for (let i = 0; i < threads; i++) this.threads.push(this.spawn());
  }

  private spawn(): Thread {
    const worker = new Worker(this.script, { workerData: this.data });
    let onReady: () => void = () => {};
    let onFail: (e: Error) => void = () => {};
    const t: Thread = {
      worker,
      ready: new Promise<void>((res, rej) => {
        onReady = res;
        onFail = rej;
      }),
      started: false,
      sources: new Set(),
      tasks: new Map(),
    };
    // A thread that fails to start rejects ready(); tasks of a dead thread are rejected below.
    t.ready.catch(() => {});
    worker.on('message', (m: FromThread) => {
      if (m.type === 'ready') {
        t.started = true;
        return onReady();
      }
      const task = t.tasks.get(m.id);
      if (!task) return;
      t.tasks.delete(m.id);
      if (m.type === 'result') task.resolve(m.result);
      else task.reject(new Error(m.message));
      this.pump();
    });
    const dead = (e: Error) => {
      onFail(e);
      const i = this.threads.indexOf(t);
      if (i < 0) return;
      for (const task of t.tasks.values()) task.reject(e);
      t.tasks.clear();
      if (this.closed) return;
      if (!t.started) {
        // Its code cannot load: a replacement would fail the same way.
        this.broken ??= e;
        for (const task of this.queue.splice(0)) task.reject(e);
        return;
      }
      // Replace it, so the epochs still to come have a thread.
      this.threads[i] = this.spawn();
      this.pump();
    };
    worker.on('error', (e) => dead(e instanceof Error ? e : new Error(String(e))));
    worker.on('exit', (code) => {
      if (!this.closed) dead(new Error(`worker thread exited (code ${code})`));
    });
    return t;
  }

  /** Resolves when every thread has loaded its code (rejects if one cannot start). */
  async ready(): Promise<void> {
    await Promise.all(this.threads.map((t) => t.ready));
  }

  run(job: EpochJob): Promise<EpochResult> {
    if (this.closed) return Promise.reject(new Error('the worker pool is closed'));
    if (this.broken) return Promise.reject(this.broken);
    return new Promise<EpochResult>((resolve, reject) => {
      this.queue.push({ id: this.nextId++, job, resolve, reject });
      this.pump();
    });
  }

  /** Hands queued jobs to the least loaded threads (an idle thread first). */
  private pump(): void {
    while (this.queue.length > 0) {
      let best: Thread | undefined;
      for (const t of this.threads)
        if (t.tasks.size < this.depth && (!best || t.tasks.size < best.tasks.size)) best = t;
      if (!best) return;
      const task = this.queue.shift() as Task;
      const { source, ...job } = task.job;
      if (!best.sources.has(source.key)) {
        best.worker.postMessage({ type: 'source', source } satisfies ToThread);
        best.sources.add(source.key);
      }
      best.tasks.set(task.id, task);
      best.worker.postMessage({ type: 'job', id: task.id, job, source: source.key } satisfies ToThread);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const err = new Error('the worker pool was closed');
    for (const task of this.queue.splice(0)) task.reject(err);
    await Promise.all(
      this.threads.map(async (t) => {
        for (const task of t.tasks.values()) task.reject(err);
        t.tasks.clear();
        await t.worker.terminate();
      }),
    );
  }
}
