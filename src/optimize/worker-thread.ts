/**
 * Entry of a local worker thread (pool.ts). The EpochContext lives as long as the thread: its view of the
 * shared data (and the event objects, in tape mode `objects`) is made on the first epoch and reused by every
 * later one. The data descriptor arrives once per source; jobs name it by key. Jobs run one at a time in
 * arrival order (the pool may queue the next one here while one runs).
 */
import { parentPort, threadId, workerData } from 'node:worker_threads';
import { EpochContext, runEpoch } from './epoch.ts';
import type { FromThread, ToThread, WorkerData } from './pool.ts';
import type { SharedTapeData } from './tape-source.ts';

const wd = workerData as WorkerData | undefined;
const ctx = new EpochContext(wd?.tapeMode ?? 'columns', wd?.threads ?? 1);
const sources = new Map<string, SharedTapeData>();
const port = parentPort;
if (!port) throw new Error('worker-thread.ts runs as a worker thread of the epoch pool');

const queue: Extract<ToThread, { type: 'job' }>[] = [];
let running = false;

async function drain(p: NonNullable<typeof parentPort>): Promise<void> {
  running = true;
  while (queue.length > 0) {
    const m = queue.shift() as Extract<ToThread, { type: 'job' }>;
    let out: FromThread;
    try {
      const source = sources.get(m.source);
      if (!source) throw new Error(`no data ${JSON.stringify(m.source)} was sent to this thread`);
      const r = await runEpoch(ctx, { ...m.job, source });
      r.worker = `thread ${threadId}`;
      out = { type: 'result', id: m.id, result: r };
    } catch (e) {
      out = { type: 'error', id: m.id, message: e instanceof Error ? e.message : String(e) };
    }
    p.postMessage(out);
  }
  running = false;
}

port.on('message', (m: ToThread) => {
  if (m.type === 'source') sources.set(m.source.key, m.source);
  else {
    queue.push(m);
    if (!running) void drain(port);
  }
});
port.postMessage({ type: 'ready' } satisfies FromThread);
