/**
 * Entry of a local worker thread (piscina runs the default export per task). The EpochContext lives as long
 * as the thread: data is materialised from shared memory on the first epoch and reused by every later one.
 */
import { threadId } from 'node:worker_threads';
import { EpochContext, type EpochJob, type EpochResult, runEpoch } from './epoch.ts';

const ctx = new EpochContext();

export default async function epoch(job: EpochJob): Promise<EpochResult> {
  const r = await runEpoch(ctx, job);
  r.worker = `thread ${threadId}`;
  return r;
}
