/**
 * A replay tape: the valid market events of one coin, in columns (src/marketdata/columnar.ts), in exchange-time
 * order, with the clock offset and counts the replay needs; and the blocks the replay loop walks through.
 *
 * Clocks. Events carry the exchange time (exTime) and our receive time (rxTime). The simulation runs on the
 * RECEIVE (local) clock: the strategy sees each event at its recorded rxTime. The exchange clock is mapped
 * onto it with a constant offset: local = exchange + clockOffsetMs. By default the offset is the smallest
 * recorded rx − ex (the fastest message is taken to have had no latency), so the recorded feed delays
 * beyond it are kept as information lag and no event is seen before the exchange produced it. Our order's
 * arrival at the exchange is then localSendTime + entryLatency on the local clock, i.e.
 * localSendTime + entryLatency − clockOffsetMs on the exchange clock. With clockOffsetMs = 0 the clocks are
 * taken as synchronised and the whole rx − ex is feed latency.
 *
 * The two streams. The matching engine sees event i at exAt_i = exTime_i + offset, in exchange-time order
 * (stable: input order among equal times); the strategy sees it at rxAt_i = max(rxTime_i, exTime_i + offset)
 * (never before the exchange produced it), in the order of (rxAt_i, input position i).
 *
 * Blocks (streaming in bounded memory). The replay takes the tape a block at a time: the rows of an
 * exchange-time interval [T_k, T_k+1) for the exchange side, and for the strategy side every row read so far
 * that the strategy has not seen yet, in receive order. Why this is exact: every row not read yet has
 * exTime ≥ T_k+1, hence exAt ≥ B and rxAt ≥ exTime + offset ≥ B, with the block's bound B = T_k+1 + offset.
 * So the replay can take every step (market event, venue callback, timer) whose local time is < B from what
 * it holds: the events with time < B on either side are all read, and in the same order as in one pass over
 * the whole tape (the receive-order prefix below B contains only rows already read). Steps at ≥ B wait for
 * the next block. What a block carries into the next is the strategy side's rows with rxAt ≥ B: rows whose
 * exTime lies within the largest feed delay beyond the offset (max rx − ex − offset) before T_k+1 — a window
 * sized by the maximum feed delay, whatever the block size.
 */
import {
  type Alloc,
  ColumnsBuilder,
  type EventColumns,
  gatherRows,
  KIND_BBO,
  KIND_BOOK,
  KIND_TRADE,
  sharedAlloc,
} from '../marketdata/columnar.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { filledArray } from '../util/shapes.ts';

export interface TapeCounts {
  book: number;
  trade: number;
  bbo: number;
  skipped: number;
  otherCoin: number;
}

/** What the replay must know before its first event: the whole range's clock offset, span and size. */
export interface TapeHeader {
  coin: string;
  gaps: Gap[];
  clockOffsetMs: number;
  /** Exchange-time span of the valid events (0, 0 when none). */
  start: number;
  end: number;
  /** Valid events replayed. */
  length: number;
  counts: TapeCounts;
}

/** A whole range in memory: columns (valid events in exchange order) and the rows [lo, hi) of the range. */
export interface Tape extends TapeHeader {
  cols: EventColumns;
  lo: number;
  hi: number;
  /**
   * Input position of each row where the input was not in exchange order (receive-order ties and feedDelays
   * follow the input order); undefined: the rows are in input order.
   */
  seq: Float64Array | undefined;
  /** Recorded rx − ex of every event, in input order (ms), for a latency profile drawn from the data. */
  feedDelays(): Float64Array;
  /** Event k of the tape (exchange order) as an object. */
  event(k: number): MarketEvent;
  /** Both whole streams (for tests and tools; the replay goes block by block). */
  streams(): TapeStreams;
}

export interface TapeStreams {
  /** Exchange side: local arrival times and input positions, in exchange order. */
  exAt: Float64Array;
  exSeq: Float64Array;
  /** Strategy side: local arrival times, input positions and the events (rxTime = delivery time). */
  rxAt: Float64Array;
  rxSeq: Float64Array;
  rxEvents: MarketEvent[];
}

export interface TapeOptions {
  coin?: string;
  /** Exchange-time window [from, to) in ms. */
  from?: number;
  to?: number;
  /**
   * Local minus exchange clock (ms); 'min' (default): the smallest recorded rx − ex (recorded feed delays kept
   * as information lag); 'max': the largest (every event reaches the strategy exactly clockOffsetMs after the
   * exchange produced it: an instant feed up to a constant clock shift).
   */
  clockOffsetMs?: number | 'min' | 'max';
  /**
   * Columns on shared memory (SharedArrayBuffer), the event objects kept for this thread: a backtest's
   * calibration thread then reads the columns as they are instead of a copy (calibration-thread.ts).
   */
  shared?: boolean;
}

export function valid(ev: MarketEvent): boolean {
  if (!Number.isFinite(ev.exTime) || !Number.isFinite(ev.rxTime)) return false;
  if (ev.kind === 'trade') return ev.px > 0 && ev.sz > 0 && (ev.side === 'buy' || ev.side === 'sell');
  // A crossed or locked top of book cannot exist on a CLOB: malformed.
  if (ev.kind === 'bbo') return (ev.bidPx > 0 || ev.askPx > 0) && !(ev.bidPx >= ev.askPx);
  if (ev.kind === 'book')
    return (
      Array.isArray(ev.bids) &&
      Array.isArray(ev.asks) &&
      ev.bids.length + ev.asks.length > 0 &&
      levelsOk(ev.bids, -1) &&
      levelsOk(ev.asks, 1) &&
      !(ev.bids.length > 0 && ev.asks.length > 0 && ev.bids[0].px >= ev.asks[0].px)
    );
  return false;
}

/** Positive prices, non-negative sizes, strictly ordered away from the touch (dir −1: bids, +1: asks). */
function levelsOk(levels: { px: number; sz: number }[], dir: number): boolean {
  let prev = dir < 0 ? Number.POSITIVE_INFINITY : 0;
  for (const l of levels) {
    if (!(l.px > 0) || !(l.sz >= 0) || !Number.isFinite(l.px) || !Number.isFinite(l.sz)) return false;
    if (dir < 0 ? !(l.px < prev) : !(l.px > prev)) return false;
    prev = l.px;
  }
  return true;
}

/** `valid` of row r of columns (the same rules, read from the arrays; trades' side is always 0/1 here). */
export function validRow(c: EventColumns, r: number): boolean {
  if (!Number.isFinite(c.exTime[r]) || !Number.isFinite(c.rxTime[r])) return false;
  const k = c.kind[r];
  if (k === KIND_TRADE) return c.a[r] > 0 && c.b[r] > 0;
  if (k === KIND_BBO) return (c.a[r] > 0 || c.c[r] > 0) && !(c.a[r] >= c.c[r]);
  const s = c.levelStart[r];
  const nb = c.nBids[r];
  const na = c.nAsks[r];
  if (nb + na === 0) return false;
  const px = c.lvPx;
  const sz = c.lvSz;
  let prev = Number.POSITIVE_INFINITY;
  for (let l = s; l < s + nb; l++) {
    const p = px[l];
    const q = sz[l];
    if (!(p > 0) || !(q >= 0) || !Number.isFinite(p) || !Number.isFinite(q) || !(p < prev)) return false;
    prev = p;
  }
  prev = 0;
  for (let l = s + nb; l < s + nb + na; l++) {
    const p = px[l];
    const q = sz[l];
    if (!(p > 0) || !(q >= 0) || !Number.isFinite(p) || !Number.isFinite(q) || !(p > prev)) return false;
    prev = p;
  }
  return !(nb > 0 && na > 0 && px[s] >= px[s + nb]);
}

/**
 * Order of positions 0..n−1 by (key, tie): `tie` breaks equal keys (default: the position). Recorded streams
 * are nearly sorted (receive order differs from exchange order by a few messages), so an insertion sort is
 * linear here; it gives up after a budget of moves proportional to n and falls back to the general sort.
 */
export function orderBy(keys: Float64Array, tie?: Float64Array | Int32Array): Int32Array {
  const idx = new Int32Array(keys.length);
  orderInto(keys, tie, keys.length, idx);
  return idx;
}

/** `orderBy` of the first m positions, written into idx[0..m) (buffers reused by the caller). */
function orderInto(
  keys: Float64Array,
  tie: Float64Array | Int32Array | undefined,
  m: number,
  idx: Int32Array,
): void {
  let budget = 64 * m + 1024;
  // Position i is inserted into the sorted prefix idx[0..i) (comparisons written out: no closure per step).
  for (let i = 0; i < m; i++) {
    const k = keys[i];
    const t = tie ? tie[i] : i;
    let j = i - 1;
    while (j >= 0) {
      const p = idx[j];
      const kp = keys[p];
      if (kp < k || (kp === k && (tie ? tie[p] : p) <= t)) break;
      idx[j + 1] = p;
      j--;
      if (--budget < 0) {
        // Far from sorted: the general (stable) sort by (key, tie).
        const arr = Array.from({ length: m }, (_, q) => q);
        arr.sort(tie ? (a, b) => keys[a] - keys[b] || tie[a] - tie[b] : (a, b) => keys[a] - keys[b] || a - b);
        for (let q = 0; q < m; q++) idx[q] = arr[q];
        return;
      }
    }
    idx[j + 1] = i;
  }
}

// The per-block loops of TapeBlocks, each a function of its own. A loop inside a function that runs once per
// block is compiled on stack (OSR) while it runs, before the code after it ever ran: that code then had no type
// feedback and bailed out on every later block (a deoptimisation and the rest of the block's work in the
// interpreter, per block and per hyperopt epoch). Here nothing follows a loop but the return.

/** rows[at + r − lo] = r for r in [lo, hi). */
function fillRange(rows: Int32Array, at: number, lo: number, hi: number): void {
  for (let r = lo; r < hi; r++) rows[at + r - lo] = r;
}

/** rows[k] = −1 − k for the first c (carried rows). */
function fillCarried(rows: Int32Array, c: number): void {
  for (let k = 0; k < c; k++) rows[k] = -1 - k;
}

/** tie[k] = seq[rows[k]] for the first m. */
function gatherSeq(tie: Float64Array, seq: Float64Array, rows: Int32Array, m: number): void {
  for (let k = 0; k < m; k++) tie[k] = seq[rows[k]];
}

/**
 * The strategy-side arrival time of each work row: row r ≥ 0 of `cols`, r < 0 row −1 − r of `carry`; never
 * before the exchange produced it (possible only with an explicit offset above the minimum).
 */
function rxKeys(
  keys: Float64Array,
  rows: Int32Array,
  m: number,
  cols: EventColumns,
  carry: EventColumns | undefined,
  off: number,
): void {
  const rx = cols.rxTime;
  const ex = cols.exTime;
  if (carry === undefined) {
    for (let k = 0; k < m; k++) {
      const r = rows[k];
      keys[k] = Math.max(rx[r], ex[r] + off);
    }
    return;
  }
  const crx = carry.rxTime;
  const cex = carry.exTime;
  for (let k = 0; k < m; k++) {
    const r = rows[k];
    keys[k] = r >= 0 ? Math.max(rx[r], ex[r] + off) : Math.max(crx[-1 - r], cex[-1 - r] + off);
  }
}

/** The work rows and their keys in the order `ord` (the first m). */
function permuteInto(
  rxRows: Int32Array,
  rxAt: Float64Array,
  rows: Int32Array,
  keys: Float64Array,
  ord: Int32Array,
  m: number,
): void {
  for (let k = 0; k < m; k++) {
    const o = ord[k];
    rxRows[k] = rows[o];
    rxAt[k] = keys[o];
  }
}

/** Valid events of one coin in columns, in exchange order (stable), with what was left out. */
export interface PreparedColumns {
  cols: EventColumns;
  /** Input position per row where the input was not in exchange order. */
  seq: Float64Array | undefined;
  skipped: number;
  otherCoin: number;
}

/**
 * Validate, keep one coin, order by exchange time (stably) and pack into columns (buffers from `alloc`:
 * e.g. shared memory for worker threads).
 */
export function prepareEvents(
  all: readonly MarketEvent[],
  coin: string,
  alloc?: Alloc,
  /** Keep the event objects for this thread's replay also when `alloc` is given (default: only without). */
  keepObjects = alloc === undefined,
): PreparedColumns {
  let skipped = 0;
  let otherCoin = 0;
  const events: MarketEvent[] = [];
  for (const ev of all) {
    if (ev.coin !== coin) otherCoin++;
    else if (!valid(ev)) skipped++;
    else events.push(ev);
  }
  const n = events.length;
  let sorted = true;
  for (let i = 1; i < n && sorted; i++) if (events[i].exTime < events[i - 1].exTime) sorted = false;
  let levels = 0;
  for (const ev of events) if (ev.kind === 'book') levels += ev.bids.length + ev.asks.length;
  const b = new ColumnsBuilder(coin, n, levels);
  let seq: Float64Array | undefined;
  let rows = events;
  if (sorted) for (const ev of events) b.push(ev);
  else {
    const keys = new Float64Array(n);
    for (let i = 0; i < n; i++) keys[i] = events[i].exTime;
    const ord = orderBy(keys);
    seq = alloc ? new Float64Array(alloc(8 * n), 0, n) : new Float64Array(n);
    rows = new Array(n);
    for (let k = 0; k < n; k++) {
      b.push(events[ord[k]]);
      rows[k] = events[ord[k]];
      seq[k] = ord[k];
    }
  }
  const cols = b.build(alloc);
  // In this thread the objects exist already: the replay hands them out instead of making new ones.
  if (keepObjects) cols.objects = rows;
  return { cols, seq, skipped, otherCoin };
}

/** First row in [lo, hi) with exTime ≥ t (rows in exchange order). */
export function lowerBound(ex: Float64Array, t: number, lo: number, hi: number): number {
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (ex[m] < t) lo = m + 1;
    else hi = m;
  }
  return lo;
}

/** The clock offset for a mode, from the smallest and largest recorded rx − ex (n events). */
export function resolveOffset(
  mode: number | 'min' | 'max' | undefined,
  n: number,
  minDelay: number,
  maxDelay: number,
): number {
  const m = mode ?? 'min';
  const offset = n === 0 && typeof m === 'string' ? 0 : m === 'min' ? minDelay : m === 'max' ? maxDelay : m;
  if (!Number.isFinite(offset)) throw new Error(`clockOffsetMs must be a finite number of ms; got ${offset}`);
  return offset;
}

/** Gaps of the coin that overlap the events' span. */
export function tapeGaps(gaps: readonly Gap[], coin: string, start: number, end: number): Gap[] {
  return gaps.filter((g) => g.coin === coin && g.end > start && g.start < end);
}

/** A tape over prepared columns: the rows of [from, to), the clock offset and counts over them. */
export function tapeFromColumns(p: PreparedColumns, gaps: readonly Gap[], opts: TapeOptions = {}): Tape {
  const c = p.cols;
  const from = opts.from ?? Number.NEGATIVE_INFINITY;
  const to = opts.to ?? Number.POSITIVE_INFINITY;
  const lo = lowerBound(c.exTime, from, 0, c.length);
  const hi = lowerBound(c.exTime, to, lo, c.length);
  const counts: TapeCounts = { book: 0, trade: 0, bbo: 0, skipped: p.skipped, otherCoin: p.otherCoin };
  let minDelay = Number.POSITIVE_INFINITY;
  let maxDelay = Number.NEGATIVE_INFINITY;
  for (let r = lo; r < hi; r++) {
    const k = c.kind[r];
    if (k === KIND_BOOK) counts.book++;
    else if (k === KIND_TRADE) counts.trade++;
    else counts.bbo++;
    const d = c.rxTime[r] - c.exTime[r];
    if (d < minDelay) minDelay = d;
    if (d > maxDelay) maxDelay = d;
  }
  const n = hi - lo;
  const offset = resolveOffset(opts.clockOffsetMs, n, minDelay, maxDelay);
  const start = n > 0 ? c.exTime[lo] : 0;
  const end = n > 0 ? c.exTime[hi - 1] : 0;
  const seq = p.seq;
  /** Rows of the window in input order. */
  const inputOrder = (): Int32Array => {
    const rows = new Int32Array(n);
    for (let k = 0; k < n; k++) rows[k] = lo + k;
    if (!seq) return rows;
    const keys = new Float64Array(n);
    for (let k = 0; k < n; k++) keys[k] = seq[lo + k];
    const ord = orderBy(keys);
    return Int32Array.from(ord, (k) => lo + k);
  };
  return {
    coin: c.coin,
    cols: c,
    lo,
    hi,
    seq,
    length: n,
    gaps: tapeGaps(gaps, c.coin, start, end),
    clockOffsetMs: offset,
    start,
    end,
    counts,
    feedDelays() {
      const rows = inputOrder();
      const out = new Float64Array(n);
      for (let k = 0; k < n; k++) out[k] = c.rxTime[rows[k]] - c.exTime[rows[k]];
      return out;
    },
    event: (k) => c.event(lo + k),
    streams() {
      const exAt = new Float64Array(n);
      const exSeq = new Float64Array(n);
      for (let k = 0; k < n; k++) {
        exAt[k] = c.exTime[lo + k] + offset;
        exSeq[k] = seq ? seq[lo + k] : lo + k;
      }
      const blocks = new TapeBlocks(offset, seq);
      const b = blocks.inPlace(c, lo, hi, Number.POSITIVE_INFINITY);
      const rxSeq = new Float64Array(n);
      const rxEvents: MarketEvent[] = new Array(n);
      for (let k = 0; k < n; k++) {
        const r = b.rxRows[k];
        rxSeq[k] = seq ? seq[r] : r;
        rxEvents[k] = c.event(r, b.rxAt[k]);
      }
      return { exAt, exSeq, rxAt: b.rxAt.slice(0, n), rxSeq, rxEvents };
    },
  };
}

/** `tapeFromColumns(prepareEvents(...))`: a tape of the valid events of one coin of `all` in [from, to). */
export function buildTape(
  all: readonly MarketEvent[],
  gaps: readonly Gap[] = [],
  opts: TapeOptions = {},
): Tape {
  const coin = opts.coin ?? all.find((e) => e.coin)?.coin ?? '';
  return tapeFromColumns(prepareEvents(all, coin, opts.shared ? sharedAlloc : undefined, true), gaps, opts);
}

/**
 * One block of the replay: the exchange side replays rows [exLo, exHi) of `cols`; the strategy side the rows
 * rxRows[rxPos..rxN) (in receive order, arriving at rxAt) — those of earlier blocks it has not seen yet and
 * this block's. A row r ≥ 0 is row r of `cols`, r < 0 is row −1 − r of `carry` (the rows carried from the
 * previous block when the columns are a new chunk). Every event not in a block so far arrives at ≥ `bound`
 * on both sides (the header comment). rxRows / rxAt may be longer than rxN, and TapeBlocks reuses them for the
 * block after next: read a block before making the one after the next.
 */
export interface ReplayBlock {
  cols: EventColumns;
  carry: EventColumns | undefined;
  exLo: number;
  exHi: number;
  rxRows: Int32Array;
  rxAt: Float64Array;
  rxN: number;
  /** Where the exchange side and the strategy side stand (the replay advances them). */
  exPos: number;
  rxPos: number;
  bound: number;
}

/**
 * Makes consecutive blocks, carrying the strategy-side rows not yet seen into the next. Rows of one block
 * and the carried rows are ordered by (rxAt, input position): the input position is the row itself for
 * in-place columns (or `seq`), and carried rows come before a new chunk's (they were read earlier).
 */
export class TapeBlocks {
  private readonly offset: number;
  private readonly seq: Float64Array | undefined;
  private prev: ReplayBlock | undefined;
  // Work arrays, grown as needed and reused from block to block (a block's worth of typed arrays per block
  // was garbage for the collector). A block's own rxRows / rxAt alternate between two pairs: the previous
  // block's stay intact while the next one is made from them, and are reused by the block after.
  private rows = new Int32Array(0);
  private tie = new Float64Array(0);
  private keys = new Float64Array(0);
  private idx = new Int32Array(0);
  private readonly outRows = [new Int32Array(0), new Int32Array(0)];
  private readonly outAt = [new Float64Array(0), new Float64Array(0)];
  private flip = 0;

  constructor(offset: number, seq?: Float64Array) {
    this.offset = offset;
    this.seq = seq;
  }

  /** Rows carried from the previous block (its strategy side not yet seen), all with rxAt ≥ its bound. */
  carried(): number {
    const p = this.prev;
    return p ? p.rxN - p.rxPos : 0;
  }

  /** Room for m rows in the work arrays (with some headroom: blocks differ by their carried rows). */
  private reserve(m: number): void {
    if (this.rows.length >= m) return;
    const cap = Math.max(m, Math.ceil(this.rows.length * 1.25));
    this.rows = new Int32Array(cap);
    this.tie = new Float64Array(cap);
    this.keys = new Float64Array(cap);
    this.idx = new Int32Array(cap);
  }

  /** The next block over the same columns: rows [lo, hi) (following the previous block's rows). */
  inPlace(cols: EventColumns, lo: number, hi: number, bound: number): ReplayBlock {
    const p = this.prev;
    if (p && (p.cols !== cols || p.carry !== undefined))
      throw new Error('TapeBlocks.inPlace: columns differ from the previous block');
    const carry = p ? p.rxN - p.rxPos : 0;
    const m = carry + hi - lo;
    this.reserve(m);
    const rows = this.rows;
    if (p) rows.set(p.rxRows.subarray(p.rxPos, p.rxN));
    fillRange(rows, carry, lo, hi);
    const seq = this.seq;
    // The input position: `seq` of the row, or the row itself (then `rows` is its own tie).
    let tie: Float64Array | Int32Array = rows;
    if (seq) {
      tie = this.tie;
      gatherSeq(tie, seq, rows, m);
    }
    return this.order(cols, undefined, m, tie, lo, hi, bound);
  }

  /**
   * The next block over new columns (`chunk`: the rows that follow the previous block's, in input order). The
   * carried rows are copied into a small column set of their own (in input order); the chunk is not copied.
   */
  appended(chunk: EventColumns, bound: number): ReplayBlock {
    const p = this.prev;
    let carry: EventColumns | undefined;
    const c = p ? p.rxN - p.rxPos : 0;
    if (p && c > 0) {
      // Input order of what is left: the previous carry's rows (in order), then the previous chunk's rows.
      const prevCarry = p.carry?.length ?? 0;
      const key = (r: number) => (r < 0 ? -1 - r : prevCarry + r);
      const left = Array.from(p.rxRows.subarray(p.rxPos, p.rxN)).sort((x, y) => key(x) - key(y));
      const which = Uint8Array.from(left, (r) => (r < 0 ? 1 : 0));
      const rows = Int32Array.from(left, (r) => (r < 0 ? -1 - r : r));
      const srcs = p.carry ? [p.cols, p.carry] : [p.cols];
      carry = gatherRows(chunk.coin, srcs, which, rows);
    }
    const m = c + chunk.length;
    this.reserve(m);
    const rows = this.rows;
    // The input position is the index here: carried rows first, then the chunk's (no tie array needed).
    fillCarried(rows, c);
    fillRange(rows, c, 0, chunk.length);
    return this.order(chunk, carry, m, undefined, 0, chunk.length, bound);
  }

  /** Orders the first m work rows by (rxAt, tie) into the next output pair and makes the block. */
  private order(
    cols: EventColumns,
    carry: EventColumns | undefined,
    m: number,
    tie: Float64Array | Int32Array | undefined,
    exLo: number,
    exHi: number,
    bound: number,
  ): ReplayBlock {
    const rows = this.rows;
    const keys = this.keys;
    rxKeys(keys, rows, m, cols, carry, this.offset);
    const ord = this.idx;
    orderInto(keys, tie, m, ord);
    const f = (this.flip ^= 1);
    if (this.outRows[f].length < m) {
      const cap = Math.max(m, Math.ceil(this.outRows[f].length * 1.25));
      this.outRows[f] = new Int32Array(cap);
      this.outAt[f] = new Float64Array(cap);
    }
    const rxRows = this.outRows[f];
    const rxAt = this.outAt[f];
    permuteInto(rxRows, rxAt, rows, keys, ord, m);
    const block: ReplayBlock = {
      cols,
      carry,
      exLo,
      exHi,
      rxRows,
      rxAt,
      rxN: m,
      exPos: exLo,
      rxPos: 0,
      bound,
    };
    this.prev = block;
    return block;
  }
}

/**
 * The event objects of the replay: the columns' own objects when they have them (a tape built from objects in
 * memory), else made from the columns as each side needs them. The strategy side gets the
 * object the exchange side made for the same row (kept in a small ring from the exchange side's turn to the
 * strategy's, then dropped), or a fresh one if it is gone; with rxTime = the delivery time (a copy when that
 * differs from the recorded one, like the recorded objects before). Objects are young when they die: the
 * garbage collector's cheapest case.
 */
export class EventMaker {
  private static readonly SIZE = 4096;
  private readonly rows = new Int32Array(EventMaker.SIZE).fill(-1);
  private readonly objs: (MarketEvent | undefined)[] = filledArray(EventMaker.SIZE, undefined);
  private cols: EventColumns | undefined;

  /** The event of `row` for the exchange side. */
  ex(cols: EventColumns, row: number): MarketEvent {
    if (cols !== this.cols) {
      this.rows.fill(-1);
      this.objs.fill(undefined);
      this.cols = cols;
    }
    const objs = cols.objects;
    if (objs !== undefined) return objs[row];
    const ev = cols.event(row);
    const slot = row & (EventMaker.SIZE - 1);
    this.rows[slot] = row;
    this.objs[slot] = ev;
    return ev;
  }

  /** The event of `row` for the strategy side, delivered at local time `at`. */
  rx(cols: EventColumns, row: number, at: number): MarketEvent {
    const objs = cols.objects;
    if (objs !== undefined) {
      // The engine judges staleness by rxTime: a delayed delivery carries its delivery time (a copy).
      const ev = objs[row];
      return ev.rxTime === at ? ev : { ...ev, rxTime: at };
    }
    const slot = row & (EventMaker.SIZE - 1);
    if (cols === this.cols && this.rows[slot] === row) {
      const ev = this.objs[slot] as MarketEvent;
      this.rows[slot] = -1;
      this.objs[slot] = undefined;
      return ev.rxTime === at ? ev : { ...ev, rxTime: at };
    }
    return cols.event(row, at);
  }
}
