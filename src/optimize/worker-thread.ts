/**
 * Entry of a local worker thread (piscina runs the default export per task). The EpochContext lives as long
 * as the thread: its view of the shared data (and the event objects, in tape mode `objects`) is made on the
 * first epoch and reused by every later one.
 */
import { threadId, workerData } from 'node:worker_threads';
import { EpochContext, type EpochJob, type EpochResult, runEpoch } from './epoch.ts';
import type { WorkerData } from './pool.ts';

const wd = workerData as WorkerData | undefined;
const ctx = new EpochContext(wd?.tapeMode ?? 'columns', wd?.threads ?? 1);

export default async function epoch(job: EpochJob): Promise<EpochResult> {
  const r = await runEpoch(ctx, job);
  r.worker = `thread ${threadId}`;
  return r;
}
