/**
 * Backtests streamed from a store in memory that does not grow with the range: the replay (run.ts) is fed the
 * store chunk by chunk — an exchange-time interval at a time (default one hour: the store's partition), read
 * into columns (typed arrays), never an object per event for the whole range — and the next chunk is read while
 * the current one replays. The result is byte-identical to replaying the whole range at once (tape.ts says
 * why the two clocks stay exact across chunk boundaries).
 *
 * Before the first event the replay must know what the whole range implies: the clock offset (the smallest or
 * largest rx − ex of the valid events), the span (chart and diagnostics spacing, funding hours), the number of
 * events (progress, checkpoints) and the gaps. One aggregate query per kind answers that (`StoreTape.open`),
 * with the tape's validity rules written in SQL; the replay checks at the end that the events it validated
 * itself agree (an internal error otherwise, never a silently different result).
 */

import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { TickInferrer } from '../calibration/tick.ts';
import type { InstrumentSpec } from '../engine/types.ts';
import type { FeeSchedule } from '../exchange/fees.ts';
import { type ColumnArrays, EventColumns } from '../marketdata/columnar.ts';
import type { MarketEvent, MarketEventKind } from '../marketdata/events.ts';
import { MARKET_EVENT_KINDS, type MarketStore, parseBucket } from '../marketdata/store/index.ts';
import { CalibrationThread, wantsCalibrationThread } from './calibration-thread.ts';
import { type ChunkPlan, loadChunk, streamingReads, validColumns } from './chunks.ts';
import { type BacktestOptions, BacktestReplay, type BacktestResult, resolveOptions } from './run.ts';
import { instrumentFromData, KNOWN_SZ_DECIMALS } from './setup.ts';
import { resolveOffset, TapeBlocks, type TapeCounts, type TapeHeader, tapeGaps } from './tape.ts';

export { type ChunkPlan, loadChunk, streamingReads, validColumns } from './chunks.ts';

const HOUR_MS = 3_600_000;

export interface StoreTapeOptions {
  coin: string;
  /** Exchange-time window [from, to), ms. */
  from?: number;
  to?: number;
  /** As in tape.ts (default 'min'). */
  clockOffsetMs?: number | 'min' | 'max';
  /** Exchange time per chunk, ms (default one hour; Infinity: the whole range in one chunk). */
  chunkMs?: number;
}

/** Per kind: validity counts and the valid events' time and delay extremes. */
interface KindScan {
  valid: number;
  invalid: number;
  minEx: number;
  maxEx: number;
  minDelay: number;
  maxDelay: number;
}

/**
 * The tape's validity rules (tape.ts `valid`) in SQL, per kind; every comparison is made two-valued like
 * JavaScript's (NaN and NULL compare false: DuckDB orders NaN above every number, so NaN is ruled out first).
 */
function validSql(kind: MarketEventKind, names: string[]): string {
  const c = (x: string) => `coalesce(${x}, false)`;
  const pos = (x: string) => c(`NOT isnan(${x}) AND ${x} > 0`);
  const times = c('isfinite(ex_time) AND isfinite(rx_time)');
  if (kind === 'trade') return `${times} AND ${pos('px')} AND ${pos('sz')}`;
  if (kind === 'bbo')
    return `${times} AND (${pos('bid_px')} OR ${pos('ask_px')}) AND NOT ${c('NOT isnan(bid_px) AND NOT isnan(ask_px) AND bid_px >= ask_px')}`;
  const parts = [times, c('bid_depth + ask_depth > 0')];
  for (const [side, cmp] of [
    ['bid', '<'],
    ['ask', '>'],
  ] as const) {
    for (let i = 0; names.includes(`${side}_px_${i}`); i++) {
      const px = `${side}_px_${i}`;
      const sz = `${side}_sz_${i}`;
      const order = i > 0 ? ` AND ${px} ${cmp} ${side}_px_${i - 1}` : '';
      parts.push(
        `(${c(`${side}_depth <= ${i}`)} OR ${c(`isfinite(${px}) AND ${px} > 0 AND isfinite(${sz}) AND ${sz} >= 0${order}`)})`,
      );
    }
  }
  if (names.includes('bid_px_0') && names.includes('ask_px_0'))
    parts.push(`NOT ${c('bid_depth > 0 AND ask_depth > 0 AND bid_px_0 >= ask_px_0')}`);
  return parts.join(' AND ');
}

function fileListSql(files: string[]): string {
  return `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`;
}

function rangeSql(from?: number, to?: number): string {
  const w: string[] = [];
  if (from !== undefined) w.push(`ex_time >= ${from}`);
  if (to !== undefined) w.push(`ex_time < ${to}`);
  return w.length ? `WHERE ${w.join(' AND ')}` : '';
}

async function scanKind(
  store: MarketStore,
  kind: MarketEventKind,
  files: string[],
  from?: number,
  to?: number,
): Promise<KindScan> {
  const empty: KindScan = {
    valid: 0,
    invalid: 0,
    minEx: Number.NaN,
    maxEx: Number.NaN,
    minDelay: Number.NaN,
    maxDelay: Number.NaN,
  };
  if (files.length === 0) return empty;
  return store.sql(async (conn) => {
    const src = `read_parquet(${fileListSql(files)}, union_by_name = true, hive_partitioning = false)`;
    const names = (await conn.run(`SELECT * FROM ${src} LIMIT 0`)).columnNames();
    const sql = `SELECT count(*) FILTER (WHERE v)::DOUBLE, count(*) FILTER (WHERE NOT v)::DOUBLE,
        min(ex_time) FILTER (WHERE v), max(ex_time) FILTER (WHERE v),
        min(rx_time - ex_time) FILTER (WHERE v), max(rx_time - ex_time) FILTER (WHERE v)
      FROM (SELECT ex_time, rx_time, ${validSql(kind, names)} AS v FROM ${src} ${rangeSql(from, to)})`;
    const row = (await conn.runAndReadAll(sql)).getRows()[0];
    const num = (x: unknown) => (x === null || x === undefined ? Number.NaN : Number(x));
    return {
      valid: num(row[0]),
      invalid: num(row[1]),
      minEx: num(row[2]),
      maxEx: num(row[3]),
      minDelay: num(row[4]),
      maxDelay: num(row[5]),
    };
  });
}

/**
 * A store range ready to stream: the header the replay needs first (from one scan of the range), the chunk
 * plan (exchange-time bounds, shard files per kind and hour, listed once), and the chunks themselves.
 */
export class StoreTape {
  readonly store: MarketStore;
  readonly header: TapeHeader;
  /** Chunk k covers exchange times [bounds[k], bounds[k+1]). */
  readonly bounds: number[];
  /** Smallest and largest rx − ex of the valid events (NaN when none). */
  readonly minDelay: number;
  readonly maxDelay: number;
  private readonly files: Map<MarketEventKind, { bucket: number; path: string }[]>;

  private constructor(
    store: MarketStore,
    header: TapeHeader,
    bounds: number[],
    files: Map<MarketEventKind, { bucket: number; path: string }[]>,
    minDelay: number,
    maxDelay: number,
  ) {
    this.store = store;
    this.header = header;
    this.bounds = bounds;
    this.files = files;
    this.minDelay = minDelay;
    this.maxDelay = maxDelay;
  }

  static async open(store: MarketStore, opts: StoreTapeOptions): Promise<StoreTape> {
    const { coin, from, to } = opts;
    const chunkMs = opts.chunkMs ?? HOUR_MS;
    await streamingReads(store);
    if (!(chunkMs > 0)) throw new RangeError(`chunkMs must be > 0 (got ${chunkMs})`);
    const files = new Map<MarketEventKind, { bucket: number; path: string }[]>();
    const counts: TapeCounts = { book: 0, trade: 0, bbo: 0, skipped: 0, otherCoin: 0 };
    let start = Number.POSITIVE_INFINITY;
    let end = Number.NEGATIVE_INFINITY;
    let minDelay = Number.POSITIVE_INFINITY;
    let maxDelay = Number.NEGATIVE_INFINITY;
    for (const kind of MARKET_EVENT_KINDS) {
      const paths = await store.files(coin, kind, from, to);
      files.set(
        kind,
        paths.map((path) => {
          const parts = path.split(/[\\/]/);
          const bucket = parseBucket(parts[parts.length - 3], parts[parts.length - 2]);
          if (bucket === undefined) throw new Error(`store shard outside an hour partition: ${path}`);
          return { bucket, path };
        }),
      );
      const s = await scanKind(store, kind, paths, from, to);
      counts[kind] += s.valid;
      counts.skipped += s.invalid;
      if (s.valid > 0) {
        start = Math.min(start, s.minEx);
        end = Math.max(end, s.maxEx);
        minDelay = Math.min(minDelay, s.minDelay);
        maxDelay = Math.max(maxDelay, s.maxDelay);
      }
    }
    const n = counts.book + counts.trade + counts.bbo;
    const offset = resolveOffset(opts.clockOffsetMs, n, minDelay, maxDelay);
    if (n === 0) {
      start = 0;
      end = 0;
    }
    const gaps = (await store.gaps(coin)).filter(
      (g) => g.end > (from ?? -Infinity) && g.start < (to ?? Infinity),
    );
    const header: TapeHeader = {
      coin,
      gaps: tapeGaps(gaps, coin, start, end),
      clockOffsetMs: offset,
      start,
      end,
      length: n,
      counts,
    };
    const bounds = [from ?? Number.NEGATIVE_INFINITY];
    if (n > 0 && Number.isFinite(chunkMs))
      for (let t = Math.floor(start / chunkMs) * chunkMs + chunkMs; t <= end; t += chunkMs)
        if (t > bounds[bounds.length - 1]) bounds.push(t);
    bounds.push(to ?? Number.POSITIVE_INFINITY);
    return new StoreTape(
      store,
      header,
      bounds,
      files,
      n > 0 ? minDelay : Number.NaN,
      n > 0 ? maxDelay : Number.NaN,
    );
  }

  get chunks(): number {
    return this.bounds.length - 1;
  }

  /** Chunk k as read (valid and malformed rows), in the store's query order. */
  load(k: number): Promise<EventColumns> {
    return loadChunk(this.store, this.plan(), k);
  }

  /** What a reader needs to load any chunk (plain data: it goes to the reading thread). */
  plan(): ChunkPlan {
    return {
      dir: this.store.dir,
      coin: this.header.coin,
      bounds: this.bounds,
      files: Object.fromEntries(this.files) as ChunkPlan['files'],
    };
  }

  /** Every event as read (malformed ones too), in order, one chunk in memory at a time. */
  async *rawEvents(): AsyncGenerator<MarketEvent> {
    for (let k = 0; k < this.chunks; k++) {
      const c = await this.load(k);
      for (let r = 0; r < c.length; r++) yield c.event(r);
    }
  }

  /** Recorded rx − ex of every valid event in order (one pass over the store; 8 bytes per event). */
  async feedDelays(): Promise<Float64Array> {
    const out = new Float64Array(this.header.length);
    let w = 0;
    for (let k = 0; k < this.chunks; k++) {
      const { cols } = validColumns(await this.load(k));
      for (let r = 0; r < cols.length; r++) out[w++] = cols.rxTime[r] - cols.exTime[r];
    }
    if (w !== out.length)
      throw new Error(`internal: feed delays of ${w} events, the scan counted ${out.length}`);
    return out;
  }
}

/**
 * The instrument as `instrumentFromData` infers it from the whole range, read from the shortest prefix that
 * decides it: the tick from the first few thousand price differences, the size decimals from the first 50,000
 * trades (unless known), the lot from the first mid (unless given).
 */
export async function instrumentFromStore(
  tape: StoreTape,
  given: { tick?: number; szDecimals?: number; lotSize?: number; fees?: FeeSchedule } = {},
): Promise<InstrumentSpec> {
  const coin = tape.header.coin;
  const prefix: MarketEvent[] = [];
  const tick = new TickInferrer();
  const needTrades = given.szDecimals === undefined && KNOWN_SZ_DECIMALS[coin] === undefined ? 50_001 : 0;
  let trades = 0;
  let mid = given.lotSize !== undefined;
  for await (const ev of tape.rawEvents()) {
    prefix.push(ev);
    if (ev.kind === 'trade') trades++;
    else {
      tick.observe(ev);
      if (!mid)
        mid = ev.kind === 'bbo' ? ev.bidPx > 0 && ev.askPx > 0 : ev.bids.length > 0 && ev.asks.length > 0;
    }
    if ((given.tick !== undefined || tick.full) && trades >= needTrades && mid) break;
  }
  return instrumentFromData(coin, prefix, given);
}

/**
 * Chunks read on a thread of their own (chunk-worker.ts), one request ahead of the replay: decoding and its
 * garbage stay off the replay's thread, and on a machine with a spare core the next chunk is ready when the
 * replay needs it. Buffers come back transferred, not copied.
 */
export class ChunkReader {
  private readonly worker: Worker;
  private readonly pending = new Map<
    number,
    { resolve: (c: ValidChunk) => void; reject: (e: Error) => void }
  >();
  private failed: Error | undefined;

  constructor(plan: ChunkPlan) {
    // A small heap: the thread holds one chunk at a time, and collects often what reading leaves behind.
    this.worker = new Worker(new URL('./chunk-worker.ts', import.meta.url), {
      workerData: plan,
      resourceLimits: { maxOldGenerationSizeMb: 96, maxYoungGenerationSizeMb: 16 },
    });
    this.worker.on(
      'message',
      (m: { k: number; cols?: ColumnArrays; counts?: TapeCounts; error?: string }) => {
        const p = this.pending.get(m.k);
        if (!p) return;
        this.pending.delete(m.k);
        if (m.error !== undefined || !m.cols || !m.counts)
          p.reject(new Error(m.error ?? 'chunk reader: no data'));
        else p.resolve({ cols: new EventColumns(m.cols), counts: m.counts });
      },
    );
    const fail = (err: Error) => {
      this.failed = err;
      for (const p of this.pending.values()) p.reject(err);
      this.pending.clear();
    };
    this.worker.on('error', fail);
    this.worker.on('exit', (code) => {
      if (this.pending.size > 0) fail(new Error(`chunk reader stopped (exit code ${code})`));
    });
  }

  load(k: number): Promise<ValidChunk> {
    if (this.failed) return Promise.reject(this.failed);
    return new Promise((resolve, reject) => {
      this.pending.set(k, { resolve, reject });
      this.worker.postMessage({ k });
    });
  }

  async close(): Promise<void> {
    await this.worker.terminate();
  }
}

interface ValidChunk {
  cols: EventColumns;
  counts: TapeCounts;
}

export interface StreamBacktestOptions
  extends Omit<BacktestOptions, 'tape' | 'events' | 'gaps' | 'from' | 'to' | 'clockOffsetMs' | 'blockRows'> {
  stream: StoreTape;
  /** Replay steps between turns of the event loop (the next chunk's read progresses then); default 4096. */
  yieldEvery?: number;
  /** Read chunks on a thread of their own (default: when there is more than one chunk). */
  readerThread?: boolean;
  /**
   * While the stream replays, the JS heap grows at most this many percent over what the last full collection
   * kept (V8's --heap-growing-percent; default 100, i.e. 2×; 0: V8's own choice, up to 4× for an allocator as
   * fast as the replay). Ignored when node was started with --heap-growing-percent (that value applies).
   * docs/backtest.md, Streaming and memory.
   */
  heapGrowthPercent?: number;
}

/** Default of `heapGrowthPercent`. */
export const STREAM_HEAP_GROWTH_PERCENT = 100;

/**
 * Caps V8's heap growth factor (process-wide: V8 reads it at every full collection) until the returned
 * function restores V8's own choice; nothing when the user set the flag on the command line. Why: the replay
 * makes garbage fast (≈ 2.6 GB of short-lived objects per day of ETH, almost all collected young), and V8
 * sizes the old generation from that speed, up to 4× what survives a full collection: over a week the heap
 * drifted from ≈ 180 to ≈ 350 MiB (peak RSS up to +110 MiB) though what survives stays ≤ 100 MiB. With 2× it
 * stays ≈ 200 MiB.
 */
function capHeapGrowth(percent: number): (() => void) | undefined {
  if (!(percent > 0)) return undefined;
  const given = [...process.execArgv, process.env.NODE_OPTIONS ?? ''].some((a) =>
    /heap[-_]growing[-_]percent/.test(a),
  );
  if (given) return undefined;
  // Replays running at once in one process: the last to start sets it, the last to end restores it.
  cappedReplays++;
  setFlagsFromString(`--heap-growing-percent=${Math.round(percent)}`);
  return () => {
    if (--cappedReplays === 0) setFlagsFromString('--heap-growing-percent=0');
  };
}
let cappedReplays = 0;

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/**
 * Replay a store range chunk by chunk: the chunk after the current one is read while the current one replays.
 * Same result as `runBacktest` on the whole range (tests check byte identity for any chunk size).
 */
export async function runBacktestStream(opts: StreamBacktestOptions): Promise<BacktestResult> {
  const { stream: tape, yieldEvery: every, readerThread, heapGrowthPercent, ...rest } = opts;
  const o = resolveOptions(rest);
  const h = tape.header;
  const replay = new BacktestReplay(o, h);
  const blocks = new TapeBlocks(h.clockOffsetMs);
  // The chunk reader's thread already keeps a second core busy (decoding ≈ as much CPU as the replay): with
  // 'auto' the calibration thread needs a third (on 2 cores it made a day slower, docs/backtest.md).
  const useReader = readerThread ?? tape.chunks > 1;
  const feed = wantsCalibrationThread(o.strategy, o.calibrationThread, h.length, useReader ? 3 : 2);
  const thread = feed ? CalibrationThread.forStream(feed, h) : undefined;
  // Reading in this thread progresses only while the replay yields; a reader thread needs no turns.
  const yieldEvery = Math.max(
    1,
    every ?? ((readerThread ?? tape.chunks > 1) ? Number.POSITIVE_INFINITY : 4096),
  );
  const seen: TapeCounts = { book: 0, trade: 0, bbo: 0, skipped: 0, otherCoin: 0 };
  let minEx = Number.POSITIVE_INFINITY;
  let maxEx = Number.NEGATIVE_INFINITY;
  let minDelay = Number.POSITIVE_INFINITY;
  let maxDelay = Number.NEGATIVE_INFINITY;
  const reader = useReader ? new ChunkReader(tape.plan()) : undefined;
  const load = (k: number): Promise<ValidChunk> =>
    reader ? reader.load(k) : tape.load(k).then((raw) => validColumns(raw));
  let next: Promise<ValidChunk> | undefined = tape.chunks > 0 ? load(0) : undefined;
  let stopped = false;
  const restoreHeapGrowth = capHeapGrowth(heapGrowthPercent ?? STREAM_HEAP_GROWTH_PERCENT);
  try {
    for (let k = 0; k < tape.chunks && next; k++) {
      const { cols, counts } = await next;
      next = k + 1 < tape.chunks ? load(k + 1) : undefined;
      // An unhandled rejection must not escape while this chunk replays: it is awaited (and thrown) next turn.
      next?.catch(() => undefined);
      seen.book += counts.book;
      seen.trade += counts.trade;
      seen.bbo += counts.bbo;
      seen.skipped += counts.skipped;
      for (let r = 0; r < cols.length; r++) {
        const ex = cols.exTime[r];
        const d = cols.rxTime[r] - ex;
        if (ex < minEx) minEx = ex;
        if (ex > maxEx) maxEx = ex;
        if (d < minDelay) minDelay = d;
        if (d > maxDelay) maxDelay = d;
      }
      const last = k + 1 >= tape.chunks;
      const bound = last ? Number.POSITIVE_INFINITY : tape.bounds[k + 1] + h.clockOffsetMs;
      // The calibration thread gets the chunk first: it walks it ahead of the replay.
      thread?.chunk(cols, bound);
      const block = blocks.appended(cols, bound);
      for (;;) {
        const status = replay.feed(block, yieldEvery);
        if (status === 'stopped') stopped = true;
        if (status !== 'steps') break;
        await turn();
      }
      if (stopped || replay.done) break;
    }
    if (!stopped) thread?.finish();
  } finally {
    thread?.close();
    restoreHeapGrowth?.();
    await reader?.close();
  }
  if (!stopped) {
    const same =
      seen.book === h.counts.book &&
      seen.trade === h.counts.trade &&
      seen.bbo === h.counts.bbo &&
      (h.length === 0 ||
        (minEx === h.start && maxEx === h.end && minDelay === tape.minDelay && maxDelay === tape.maxDelay));
    if (!same)
      throw new Error(
        `internal: the store scan and the replay disagree on ${h.coin}'s events (scan ${JSON.stringify(h.counts)}, replay ${JSON.stringify(seen)})`,
      );
  }
  return replay.finish();
}
