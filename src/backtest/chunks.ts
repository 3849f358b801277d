/**
 * The chunks of a streamed store range (stream.ts): the plan (exchange-time bounds, shard files per kind and
 * hour), reading one chunk into columns, and keeping its valid rows. Light on imports: the reading thread
 * (chunk-worker.ts) loads this module, not the replay.
 */
import { type EventColumns, gatherRows, KIND_BOOK, KIND_TRADE } from '../marketdata/columnar.ts';
import type { MarketEventKind } from '../marketdata/events.ts';
import { MARKET_EVENT_KINDS, type MarketStore } from '../marketdata/store/index.ts';
import { type TapeCounts, validRow } from './tape.ts';

const HOUR_MS = 3_600_000;

/** The chunks of a store range: exchange-time bounds and the shard files per kind with their hour. */
export interface ChunkPlan {
  dir: string;
  coin: string;
  bounds: number[];
  files: Partial<Record<MarketEventKind, { bucket: number; path: string }[]>>;
}

/**
 * DuckDB settings for reading a long range once, in order: no cache of file blocks (each is read once; the
 * cache would grow with the range), and freed memory handed back to the system early instead of kept for
 * reuse (the allocator otherwise keeps up to 128 MiB, and more after bulk frees).
 */
export async function streamingReads(store: MarketStore): Promise<void> {
  await store.sql((conn) =>
    conn.run(
      "SET enable_external_file_cache = false; SET allocator_flush_threshold = '16MiB'; SET allocator_bulk_deallocation_flush_threshold = '16MiB'",
    ),
  );
}

/** Chunk k of a plan as read (valid and malformed rows), in the store's query order. */
export async function loadChunk(store: MarketStore, plan: ChunkPlan, k: number): Promise<EventColumns> {
  const lo = plan.bounds[k];
  const hi = plan.bounds[k + 1];
  const files: Partial<Record<MarketEventKind, string[]>> = {};
  for (const kind of MARKET_EVENT_KINDS)
    files[kind] = (plan.files[kind] ?? [])
      .filter((f) => (f.bucket + 1) * HOUR_MS > lo && f.bucket * HOUR_MS < hi)
      .map((f) => f.path);
  const opts = {
    coin: plan.coin,
    from: Number.isFinite(lo) ? lo : undefined,
    to: Number.isFinite(hi) ? hi : undefined,
  };
  try {
    return await store.columns({ ...opts, files });
  } catch (err) {
    // A compaction may have replaced the listed shards since: list this chunk's files again, once.
    if (!/No files found|does not exist|IO Error/i.test(String(err))) throw err;
    return store.columns(opts);
  }
}

/** The valid rows of raw columns (all of them: the same object), and per-kind counts. */
export function validColumns(raw: EventColumns): { cols: EventColumns; counts: TapeCounts } {
  const counts: TapeCounts = { book: 0, trade: 0, bbo: 0, skipped: 0, otherCoin: 0 };
  const n = raw.length;
  let firstBad = -1;
  for (let r = 0; r < n; r++) {
    if (validRow(raw, r)) {
      const k = raw.kind[r];
      if (k === KIND_BOOK) counts.book++;
      else if (k === KIND_TRADE) counts.trade++;
      else counts.bbo++;
    } else {
      counts.skipped++;
      if (firstBad < 0) firstBad = r;
    }
  }
  if (firstBad < 0) return { cols: raw, counts };
  const keep = new Int32Array(n - counts.skipped);
  let w = 0;
  for (let r = 0; r < n; r++) if (validRow(raw, r)) keep[w++] = r;
  return { cols: gatherRows(raw.coin, [raw], undefined, keep), counts };
}
