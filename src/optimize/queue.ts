/**
 * Distributed epochs on BullMQ (Redis): the coordinator (`cjmm hyperopt --queue redis://…`) adds each epoch
 * as a job on the queue `cjmm-hyperopt` with a job id unique to the run and epoch, and waits for its result;
 * any number of `cjmm worker --queue redis://…` processes take jobs, run them on their own worker-thread pool
 * and return the result. Workers read the market data from the path named in the job (a shared filesystem
 * or a copy at the same path), decode it once per process and keep it in shared memory for their threads.
 * A worker that dies mid-epoch stops renewing the job's lock; after `lockDuration` another worker's stalled
 * check puts the job back and it runs elsewhere. The coordinator writes each epoch once (by number), so a
 * retried job is counted once, and results equal the local run's (same code, same job data).
 */
import { hostname } from 'node:os';
import { Queue, QueueEvents, Worker } from 'bullmq';
import type { EpochJob, EpochResult } from './epoch.ts';
import { type Executor, LocalPool } from './pool.ts';
import {
  loadShared,
  resolveTapeMode,
  type SharedTapeData,
  sharedBytes,
  type TapeModeOption,
} from './tape-source.ts';

export const QUEUE_NAME = 'cjmm-hyperopt';

/** Where a remote worker reads the run's data (it must see the same path). */
export interface PathSource {
  kind: 'path';
  path: string;
  coin: string;
  from?: number;
  to?: number;
}

/** A job as it travels through Redis: the data as a path instead of shared memory. */
export type QueuedJob = Omit<EpochJob, 'source'> & { id: string; source: PathSource };

/** JSON that keeps NaN / ±Infinity (running losses of a throwing loss are NaN). */
export function encodeResult(r: EpochResult): string {
  return JSON.stringify(r, (_k, x) => (typeof x === 'number' && !Number.isFinite(x) ? `__num:${x}` : x));
}
export function decodeResult(s: string): EpochResult {
  return JSON.parse(s, (_k, x) => (typeof x === 'string' && x.startsWith('__num:') ? Number(x.slice(6)) : x));
}

export class QueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'QueueError';
  }
}

function connection(url: string) {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new QueueError(`--queue ${url}: not a URL; use redis://host:port`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:')
    throw new QueueError(
      `--queue ${url}: must be a redis:// (or rediss://) URL, e.g. redis://127.0.0.1:6379`,
    );
  // Workers block on the queue: ioredis must not give up on commands during reconnects.
  return { url, maxRetriesPerRequest: null, retryStrategy: (times: number) => Math.min(times * 200, 2000) };
}

/** Fails fast (with the fix) when Redis cannot be reached. */
async function reachable(q: Queue, url: string, timeoutMs: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(
      () =>
        rej(
          new QueueError(
            `--queue ${url}: cannot reach Redis within ${timeoutMs / 1000} s (is redis-server running there?)`,
          ),
        ),
      timeoutMs,
    );
  });
  try {
    await Promise.race([q.waitUntilReady(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export class QueueExecutor implements Executor {
  readonly description: string;
  /**
   * Epochs kept on the queue at once where the run allows it (no batch barrier): 2 × -j, so that a worker
   * finishing an epoch finds the next one waiting (BullMQ hands it over in the same round trip that stores the
   * result) instead of idling while the result travels to the coordinator and a new epoch comes back.
   */
  readonly capacity: number;
  private readonly queue: Queue;
  private readonly events: QueueEvents;
  private readonly source: PathSource;

  private constructor(url: string, source: PathSource, queue: Queue, events: QueueEvents, capacity: number) {
    this.description = `queue ${url} (${QUEUE_NAME})`;
    this.source = source;
    this.queue = queue;
    this.events = events;
    this.capacity = capacity;
  }

  /**
   * @param jobs the run's -j (the batch size); with no batch barrier up to 2 × jobs epochs are queued.
   */
  static async connect(
    url: string,
    source: PathSource,
    jobs: number,
    timeoutMs = 10_000,
  ): Promise<QueueExecutor> {
    const conn = connection(url);
    const queue = new Queue(QUEUE_NAME, { connection: conn });
    queue.on('error', () => {});
    const events = new QueueEvents(QUEUE_NAME, { connection: conn });
    events.on('error', () => {});
    try {
      await reachable(queue, url, timeoutMs);
      await events.waitUntilReady();
    } catch (e) {
      await Promise.allSettled([queue.close(), events.close()]);
      throw e;
    }
    return new QueueExecutor(url, source, queue, events, 2 * Math.max(1, jobs));
  }

  async run(job: EpochJob): Promise<EpochResult> {
    const id = `${job.run}-${job.fold}-${job.n}${job.keepSeries ? `-eval-${job.window.from}-${job.window.to}` : ''}`;
    const data: QueuedJob = { ...job, id, source: this.source };
    const added = await this.queue.add('epoch', data, {
      jobId: id,
      attempts: 3,
      backoff: { type: 'fixed', delay: 1000 },
      removeOnComplete: { age: 24 * 3600 },
      removeOnFail: { age: 7 * 24 * 3600 },
    });
    const out = (await added.waitUntilFinished(this.events)) as string;
    return decodeResult(out);
  }

  /** Jobs waiting and running (for the coordinator's "waiting for workers" line). */
  async counts(): Promise<{ waiting: number; active: number; workers: number }> {
    const c = await this.queue.getJobCounts('waiting', 'active');
    const workers = await this.queue.getWorkers();
    return { waiting: c.waiting ?? 0, active: c.active ?? 0, workers: workers.length };
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.queue.close(), this.events.close()]);
  }
}

export interface FleetWorkerOptions {
  threads: number;
  /** An epoch whose worker stopped renewing its lock for this long is retried elsewhere (ms). */
  lockDurationMs?: number;
  /** How the threads replay the data (tape-source.ts; default columns). */
  tapeMode?: TapeModeOption;
  log?: (line: string) => void;
}

/**
 * A fleet worker: takes epochs from the queue and runs them on a local thread pool. Data is read once per
 * (path, coin, window) and shared with the threads. Returns a handle to stop it.
 */
export async function startFleetWorker(
  url: string,
  opts: FleetWorkerOptions,
): Promise<{ close(): Promise<void>; worker: Worker; done: () => number }> {
  const conn = connection(url);
  const pool = new LocalPool(opts.threads, opts.tapeMode);
  const shared = new Map<string, Promise<SharedTapeData>>();
  const log = opts.log ?? (() => {});
  let done = 0;
  const sharedFor = (s: PathSource) => {
    const key = `${s.path}\u0000${s.coin}\u0000${s.from ?? ''}\u0000${s.to ?? ''}`;
    let p = shared.get(key);
    if (!p) {
      log(`reading ${s.path} (${s.coin}) …`);
      p = loadShared(s.path, s.coin, { from: s.from, to: s.to }).then((x) => {
        log(
          `${s.path} (${s.coin}): ${x.shared.n} events in shared memory (${(sharedBytes(x.shared) / 2 ** 20).toFixed(1)} MiB); threads replay ${resolveTapeMode(opts.tapeMode ?? 'columns', x.shared, opts.threads)} (--tape-mode ${opts.tapeMode ?? 'columns'})`,
        );
        return x.shared;
      });
      p.catch(() => shared.delete(key));
      shared.set(key, p);
    }
    return p;
  };
  const lock = opts.lockDurationMs ?? 30_000;
  const worker = new Worker(
    QUEUE_NAME,
    async (job) => {
      const data = job.data as QueuedJob;
      const source = await sharedFor(data.source);
      const { id: _id, ...rest } = data;
      const r = await pool.run({ ...rest, source });
      r.worker = `${hostname()}:${process.pid} ${r.worker ?? ''}`.trim();
      done++;
      log(`epoch ${data.n} (run ${data.run}, fold ${data.fold}) ${r.status} in ${r.ms.toFixed(0)} ms`);
      return encodeResult(r);
    },
    {
      connection: conn,
      concurrency: opts.threads,
      lockDuration: lock,
      stalledInterval: Math.max(1000, Math.floor(lock / 2)),
      maxStalledCount: 3,
      autorun: true,
    },
  );
  worker.on('error', (e) => log(`queue error: ${e.message}`));
  await worker.waitUntilReady();
  return {
    worker,
    done: () => done,
    async close() {
      await worker.close();
      await pool.close();
    },
  };
}
