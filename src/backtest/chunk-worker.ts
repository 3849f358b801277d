/**
 * The reading thread of a streamed backtest (stream.ts, `ChunkReader`): opens the store on its own DuckDB
 * instance, and for each requested chunk reads it into columns, keeps the valid rows and sends them back with
 * their buffers transferred (no copy). Reading, decoding and the garbage they make stay off the replay's thread.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort, workerData } from 'node:worker_threads';
import type { ColumnArrays } from '../marketdata/columnar.ts';
import { openStore } from '../marketdata/store/index.ts';
import { type ChunkPlan, loadChunk, streamingReads, validColumns } from './chunks.ts';

const plan = workerData as ChunkPlan;
const port = parentPort;
if (!port) throw new Error('chunk-worker.ts runs as a worker thread');

const store = await openStore(plan.dir);
await streamingReads(store);
// One DuckDB thread: this thread is the second core's already (and each DuckDB thread keeps memory of its own).
await store.sql((conn) => conn.run('SET threads = 1'));
let queue: Promise<void> = Promise.resolve();

/**
 * DuckDB's results and their data chunks are freed by finalizers: only when this thread's garbage collector
 * finds their (small) JS handles dead. Left to V8 that is rare — this heap is nearly empty and grows slowly —
 * and the native memory of every chunk read so far stays allocated (measured: +130 MiB of RSS over a day of
 * tiled ETH, +350 MiB over 7). So the handles of a chunk are collected as soon as it is sent: a minor GC
 * (they are young: well under a millisecond), and every FULL_EVERY chunks a full one, for handles a
 * collection during the read promoted.
 */
const FULL_EVERY = 16;
const collect = garbageCollector();
let sent = 0;

/**
 * The collector of this thread (`gc`, exposed to a fresh context; the flag is process-wide but only contexts
 * created after it see `gc`), or undefined where V8 refuses.
 */
function garbageCollector(): ((o?: { type: 'minor' | 'major' }) => void) | undefined {
  try {
    setFlagsFromString('--expose-gc');
    return runInNewContext('gc') as (o?: { type: 'minor' | 'major' }) => void;
  } catch {
    return undefined;
  }
}

/** Every distinct buffer behind the columns (each array owns its whole buffer). */
function buffers(c: ColumnArrays): ArrayBuffer[] {
  const out = new Set<ArrayBuffer>();
  for (const v of Object.values(c))
    if (ArrayBuffer.isView(v) && v.buffer instanceof ArrayBuffer) out.add(v.buffer);
  return [...out];
}

port.on('message', (m: { k: number } | { close: true }) => {
  if ('close' in m) {
    queue = queue.then(async () => {
      await store.close();
      port.close();
    });
    return;
  }
  queue = queue.then(async () => {
    try {
      const { cols, counts } = validColumns(await loadChunk(store, plan, m.k));
      const arrays = cols.arrays();
      port.postMessage({ k: m.k, cols: arrays, counts }, buffers(arrays));
      collect?.(++sent % FULL_EVERY === 0 ? { type: 'major' } : { type: 'minor' });
    } catch (err) {
      port.postMessage({ k: m.k, error: err instanceof Error ? err.message : String(err) });
    }
  });
});
port.postMessage({ ready: true });
