/**
 * Executors run epochs: the local worker-thread pool (piscina) here, the Redis queue in queue.ts.
 * Both take the same plain-data EpochJob and give the same EpochResult, so a run's results do not depend on
 * where its epochs ran.
 */
import { availableParallelism } from 'node:os';
import { Piscina } from 'piscina';
import type { EpochJob, EpochResult } from './epoch.ts';
import type { TapeModeOption } from './tape-source.ts';

export interface Executor {
  /** "2 local threads", "queue redis://… (cjmm-hyperopt)". */
  readonly description: string;
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

const WORKER = new URL('./worker-thread.ts', import.meta.url).href;

export class LocalPool implements Executor {
  readonly description: string;
  private readonly pool: Piscina;

  constructor(threads: number, tapeMode: TapeModeOption = 'columns') {
    this.description = `${threads} local worker thread${threads === 1 ? '' : 's'}`;
    this.pool = new Piscina({
      filename: WORKER,
      workerData: { tapeMode, threads } satisfies WorkerData,
      minThreads: threads,
      maxThreads: threads,
      // Threads keep their decoded data: never retire them for being idle.
      idleTimeout: 2 ** 31 - 1,
      concurrentTasksPerWorker: 1,
      recordTiming: false,
    });
  }

  run(job: EpochJob): Promise<EpochResult> {
    return this.pool.run(job) as Promise<EpochResult>;
  }

  async close(): Promise<void> {
    await this.pool.destroy();
  }
}
