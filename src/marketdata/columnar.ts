/**
 * Market events of one coin in columns (typed arrays) instead of one object per event: what the store's
 * columnar reader produces, what the backtest replays from (streamed chunk by chunk, or a whole range), and
 * what `cjmm hyperopt` shares between its workers (the same arrays on SharedArrayBuffers). An event object is
 * made only when a consumer needs one (`event(row)`), and dropped after use.
 *
 * Layout of n rows: kind Uint8 (0 book, 1 trade, 2 bbo); exTime, rxTime Float64; four value columns a–d
 * (bbo: bidPx, bidSz, askPx, askSz; trade: px, sz, tid); side Uint8 (trade: 0 buy, 1 sell); books: levelStart
 * Int32 into the level columns px/sz/n (Float64), bids first then asks, with per-row counts nBids/nAsks (Int32);
 * the optional trade strings (hash, buyer, seller) as indices into a string table (−1 = absent), 3 per row.
 */
import type { BookLevel, MarketEvent, TradeEvent } from './events.ts';

export const KIND_BOOK = 0;
export const KIND_TRADE = 1;
export const KIND_BBO = 2;

/** The column arrays themselves (structured-clonable: a SharedArrayBuffer-backed set is shared, not copied). */
export interface ColumnArrays {
  coin: string;
  length: number;
  levels: number;
  kind: Uint8Array;
  exTime: Float64Array;
  rxTime: Float64Array;
  a: Float64Array;
  b: Float64Array;
  c: Float64Array;
  d: Float64Array;
  side: Uint8Array;
  levelStart: Int32Array;
  nBids: Int32Array;
  nAsks: Int32Array;
  lvPx: Float64Array;
  lvSz: Float64Array;
  lvN: Float64Array;
  /** 3 per row (hash, buyer, seller) into `strings`; undefined when no row has any. */
  strIdx: Int32Array | undefined;
  /** The string table: an array, or UTF-8 bytes with offsets (shareable between threads). */
  strings: string[] | PackedStrings;
}

/** Strings as UTF-8 bytes, string i at bytes[offsets[i]..offsets[i+1]). */
export interface PackedStrings {
  bytes: Uint8Array;
  offsets: Int32Array;
}

/** Bytes held by the arrays of a column set (each buffer counted once). */
export function columnBytes(c: ColumnArrays): number {
  const seen = new Set<ArrayBufferLike>();
  let bytes = 0;
  const add = (v: unknown) => {
    if (ArrayBuffer.isView(v) && !seen.has(v.buffer)) {
      seen.add(v.buffer);
      bytes += v.buffer.byteLength;
    }
  };
  for (const v of Object.values(c)) add(v);
  if (!Array.isArray(c.strings)) {
    add(c.strings.bytes);
    add(c.strings.offsets);
  }
  return bytes;
}

/** Packs strings into one byte buffer (from `alloc`, e.g. shared memory). */
export function packStrings(strings: readonly string[], alloc: Alloc = heap): PackedStrings {
  const enc = new TextEncoder();
  const parts = strings.map((x) => enc.encode(x));
  let total = 0;
  for (const b of parts) total += b.length;
  const bytes = new Uint8Array(alloc(total), 0, total);
  const offsets = new Int32Array(alloc(4 * (parts.length + 1)), 0, parts.length + 1);
  let o = 0;
  parts.forEach((b, i) => {
    offsets[i] = o;
    bytes.set(b, o);
    o += b.length;
  });
  offsets[parts.length] = o;
  return { bytes, offsets };
}

/** A read-only view of columns with event materialisation. */
export class EventColumns implements ColumnArrays {
  readonly coin: string;
  readonly length: number;
  readonly levels: number;
  readonly kind: Uint8Array;
  readonly exTime: Float64Array;
  readonly rxTime: Float64Array;
  readonly a: Float64Array;
  readonly b: Float64Array;
  readonly c: Float64Array;
  readonly d: Float64Array;
  readonly side: Uint8Array;
  readonly levelStart: Int32Array;
  readonly nBids: Int32Array;
  readonly nAsks: Int32Array;
  readonly lvPx: Float64Array;
  readonly lvSz: Float64Array;
  readonly lvN: Float64Array;
  readonly strIdx: Int32Array | undefined;
  readonly strings: string[] | PackedStrings;
  /**
   * The events as objects, row by row, when they exist already (columns made from objects held in memory):
   * handed out as they are instead of made again. Never cloned or shared with other threads.
   */
  objects: readonly MarketEvent[] | undefined;
  private readonly decoder: InstanceType<typeof TextDecoder> | undefined;

  constructor(x: ColumnArrays) {
    this.coin = x.coin;
    this.length = x.length;
    this.levels = x.levels;
    this.kind = x.kind;
    this.exTime = x.exTime;
    this.rxTime = x.rxTime;
    this.a = x.a;
    this.b = x.b;
    this.c = x.c;
    this.d = x.d;
    this.side = x.side;
    this.levelStart = x.levelStart;
    this.nBids = x.nBids;
    this.nAsks = x.nAsks;
    this.lvPx = x.lvPx;
    this.lvSz = x.lvSz;
    this.lvN = x.lvN;
    this.strIdx = x.strIdx;
    this.strings = x.strings;
    this.objects = undefined;
    this.decoder = Array.isArray(x.strings) ? undefined : new TextDecoder();
  }

  /** Trade string i of the table. */
  string(i: number): string {
    const t = this.strings;
    if (Array.isArray(t)) return t[i];
    // A copy first: TextDecoder refuses views on shared memory.
    return (this.decoder as InstanceType<typeof TextDecoder>).decode(
      t.bytes.slice(t.offsets[i], t.offsets[i + 1]),
    );
  }

  /** The plain arrays (for structured cloning to a worker). */
  arrays(): ColumnArrays {
    return {
      coin: this.coin,
      length: this.length,
      levels: this.levels,
      kind: this.kind,
      exTime: this.exTime,
      rxTime: this.rxTime,
      a: this.a,
      b: this.b,
      c: this.c,
      d: this.d,
      side: this.side,
      levelStart: this.levelStart,
      nBids: this.nBids,
      nAsks: this.nAsks,
      lvPx: this.lvPx,
      lvSz: this.lvSz,
      lvN: this.lvN,
      strIdx: this.strIdx,
      strings: this.strings,
    };
  }

  /** The event of row r as an object (a fresh one per call); `rxTime` overrides the recorded one. */
  event(r: number, rxTime: number = this.rxTime[r]): MarketEvent {
    const k = this.kind[r];
    if (k === KIND_BBO)
      return {
        kind: 'bbo',
        coin: this.coin,
        exTime: this.exTime[r],
        rxTime,
        bidPx: this.a[r],
        bidSz: this.b[r],
        askPx: this.c[r],
        askSz: this.d[r],
      };
    if (k === KIND_TRADE) {
      const ev: TradeEvent = {
        kind: 'trade',
        coin: this.coin,
        exTime: this.exTime[r],
        rxTime,
        px: this.a[r],
        sz: this.b[r],
        side: this.side[r] === 1 ? 'sell' : 'buy',
        tid: this.c[r],
      };
      const s = this.strIdx;
      if (s !== undefined) {
        const h = s[3 * r];
        const bu = s[3 * r + 1];
        const se = s[3 * r + 2];
        if (h >= 0) ev.hash = this.string(h);
        if (bu >= 0) ev.buyer = this.string(bu);
        if (se >= 0) ev.seller = this.string(se);
      }
      return ev;
    }
    const start = this.levelStart[r];
    const nb = this.nBids[r];
    return {
      kind: 'book',
      coin: this.coin,
      exTime: this.exTime[r],
      rxTime,
      bids: this.levelObjects(start, nb),
      asks: this.levelObjects(start + nb, this.nAsks[r]),
    };
  }

  private levelObjects(from: number, count: number): BookLevel[] {
    const out: BookLevel[] = new Array(count);
    const px = this.lvPx;
    const sz = this.lvSz;
    const n = this.lvN;
    for (let k = 0; k < count; k++) {
      // Built by stores, not as an object literal: V8's mid-tier compiler (Maglev) made a literal's number fields
      // from these float columns as small integers where the shared level shape wants boxed numbers, bailed out
      // and recompiled, over and over (≈ 14 recompiles per hyperopt epoch, ≈ 20–35 % of a fixed epoch's CPU).
      // Same object: the same fields in the same order (px, sz, n), a plain object.
      const lv = {} as BookLevel;
      lv.px = px[from + k];
      lv.sz = sz[from + k];
      lv.n = n[from + k];
      out[k] = lv;
    }
    return out;
  }
}

export type Alloc = (bytes: number) => ArrayBufferLike;

function stringOf(c: ColumnArrays, i: number): string {
  if (Array.isArray(c.strings)) return c.strings[i];
  if (c instanceof EventColumns) return c.string(i);
  return new EventColumns(c).string(i);
}
const heap: Alloc = (bytes) => new ArrayBuffer(bytes);
/** Shared memory for columns that several worker threads read. */
export const sharedAlloc: Alloc = (bytes) => new SharedArrayBuffer(Math.max(8, bytes));

/**
 * Growable columns. Append events (`push`), rows of other columns (`pushRow`), or write the arrays directly
 * after `reserve` (the store's decoder does). `build()` trims to the rows written.
 */
export class ColumnsBuilder {
  readonly coin: string;
  length = 0;
  levels = 0;
  kind: Uint8Array = new Uint8Array(0);
  exTime: Float64Array = new Float64Array(0);
  rxTime: Float64Array = new Float64Array(0);
  a: Float64Array = new Float64Array(0);
  b: Float64Array = new Float64Array(0);
  c: Float64Array = new Float64Array(0);
  d: Float64Array = new Float64Array(0);
  side: Uint8Array = new Uint8Array(0);
  levelStart: Int32Array = new Int32Array(0);
  nBids: Int32Array = new Int32Array(0);
  nAsks: Int32Array = new Int32Array(0);
  lvPx: Float64Array = new Float64Array(0);
  lvSz: Float64Array = new Float64Array(0);
  lvN: Float64Array = new Float64Array(0);
  strIdx: Int32Array | undefined;
  private strings: string[] = [];
  private stringIds = new Map<string, number>();
  private rowCap = 0;
  private levelCap = 0;

  constructor(coin: string, rows = 1024, levels = 4096) {
    this.coin = coin;
    this.reserve(rows, levels);
  }

  /** Room for `rows` more rows and `levels` more book levels. */
  reserve(rows: number, levels = 0): void {
    const needRows = this.length + rows;
    if (needRows > this.rowCap) {
      const cap = this.rowCap === 0 ? needRows : Math.max(needRows, Math.ceil(this.rowCap * 1.5), 64);
      this.kind = grow(this.kind, cap, Uint8Array);
      this.exTime = grow(this.exTime, cap, Float64Array);
      this.rxTime = grow(this.rxTime, cap, Float64Array);
      this.a = grow(this.a, cap, Float64Array);
      this.b = grow(this.b, cap, Float64Array);
      this.c = grow(this.c, cap, Float64Array);
      this.d = grow(this.d, cap, Float64Array);
      this.side = grow(this.side, cap, Uint8Array);
      this.levelStart = grow(this.levelStart, cap, Int32Array);
      this.nBids = grow(this.nBids, cap, Int32Array);
      this.nAsks = grow(this.nAsks, cap, Int32Array);
      if (this.strIdx) this.strIdx = growStr(this.strIdx, cap);
      this.rowCap = cap;
    }
    const needLevels = this.levels + levels;
    if (needLevels > this.levelCap) {
      const cap =
        this.levelCap === 0 ? needLevels : Math.max(needLevels, Math.ceil(this.levelCap * 1.5), 256);
      if (cap > 0x7fffffff) throw new RangeError('more than 2^31 book levels in one set of columns');
      this.lvPx = grow(this.lvPx, cap, Float64Array);
      this.lvSz = grow(this.lvSz, cap, Float64Array);
      this.lvN = grow(this.lvN, cap, Float64Array);
      this.levelCap = cap;
    }
  }

  /** Index of a trade string in the table (−1 for none). */
  stringId(s: string | null | undefined): number {
    if (s === undefined || s === null) return -1;
    let i = this.stringIds.get(s);
    if (i === undefined) {
      i = this.strings.length;
      this.strings.push(s);
      this.stringIds.set(s, i);
    }
    return i;
  }

  /** Set the trade strings of row r (allocating the string column on first use). */
  setStrings(r: number, hash: number, buyer: number, seller: number): void {
    if (hash < 0 && buyer < 0 && seller < 0 && this.strIdx === undefined) return;
    if (this.strIdx === undefined) this.strIdx = growStr(new Int32Array(0), this.rowCap);
    this.strIdx[3 * r] = hash;
    this.strIdx[3 * r + 1] = buyer;
    this.strIdx[3 * r + 2] = seller;
  }

  push(ev: MarketEvent): void {
    const nl = ev.kind === 'book' ? ev.bids.length + ev.asks.length : 0;
    this.reserve(1, nl);
    const r = this.length++;
    this.exTime[r] = ev.exTime;
    this.rxTime[r] = ev.rxTime;
    if (ev.kind === 'bbo') {
      this.kind[r] = KIND_BBO;
      this.a[r] = ev.bidPx;
      this.b[r] = ev.bidSz;
      this.c[r] = ev.askPx;
      this.d[r] = ev.askSz;
    } else if (ev.kind === 'trade') {
      this.kind[r] = KIND_TRADE;
      this.a[r] = ev.px;
      this.b[r] = ev.sz;
      this.c[r] = ev.tid;
      this.side[r] = ev.side === 'sell' ? 1 : 0;
      if (ev.hash !== undefined || ev.buyer !== undefined || ev.seller !== undefined || this.strIdx)
        this.setStrings(r, this.stringId(ev.hash), this.stringId(ev.buyer), this.stringId(ev.seller));
    } else {
      this.kind[r] = KIND_BOOK;
      let l = this.levels;
      this.levelStart[r] = l;
      this.nBids[r] = ev.bids.length;
      this.nAsks[r] = ev.asks.length;
      for (const lv of ev.bids) {
        this.lvPx[l] = lv.px;
        this.lvSz[l] = lv.sz;
        this.lvN[l++] = lv.n;
      }
      for (const lv of ev.asks) {
        this.lvPx[l] = lv.px;
        this.lvSz[l] = lv.sz;
        this.lvN[l++] = lv.n;
      }
      this.levels = l;
    }
  }

  /** Append row r of `src` (same coin). */
  pushRow(src: ColumnArrays, r: number): void {
    const k = src.kind[r];
    const nl = k === KIND_BOOK ? src.nBids[r] + src.nAsks[r] : 0;
    this.reserve(1, nl);
    const w = this.length++;
    this.kind[w] = k;
    this.exTime[w] = src.exTime[r];
    this.rxTime[w] = src.rxTime[r];
    this.a[w] = src.a[r];
    this.b[w] = src.b[r];
    this.c[w] = src.c[r];
    this.d[w] = src.d[r];
    this.side[w] = src.side[r];
    if (k === KIND_BOOK) {
      const from = src.levelStart[r];
      const l = this.levels;
      this.levelStart[w] = l;
      this.nBids[w] = src.nBids[r];
      this.nAsks[w] = src.nAsks[r];
      for (let k = 0; k < nl; k++) {
        this.lvPx[l + k] = src.lvPx[from + k];
        this.lvSz[l + k] = src.lvSz[from + k];
        this.lvN[l + k] = src.lvN[from + k];
      }
      this.levels = l + nl;
    } else {
      this.levelStart[w] = this.levels;
      this.nBids[w] = 0;
      this.nAsks[w] = 0;
    }
    const s = src.strIdx;
    if (s !== undefined && k === KIND_TRADE) {
      const id = (j: number) => (j >= 0 ? this.stringId(stringOf(src, j)) : -1);
      this.setStrings(w, id(s[3 * r]), id(s[3 * r + 1]), id(s[3 * r + 2]));
    } else if (this.strIdx) this.setStrings(w, -1, -1, -1);
  }

  /**
   * The columns written so far, trimmed (copied) into buffers from `alloc` (default: ordinary memory); with
   * `sharedAlloc` the string table is packed into shared bytes too.
   */
  build(alloc: Alloc = heap): EventColumns {
    const n = this.length;
    const L = this.levels;
    const strIdx = this.strIdx;
    // Filled to capacity (sized exactly up front): the arrays themselves, no copy.
    if (alloc === heap && n === this.rowCap && L === this.levelCap)
      return new EventColumns({
        coin: this.coin,
        length: n,
        levels: L,
        kind: this.kind,
        exTime: this.exTime,
        rxTime: this.rxTime,
        a: this.a,
        b: this.b,
        c: this.c,
        d: this.d,
        side: this.side,
        levelStart: this.levelStart,
        nBids: this.nBids,
        nAsks: this.nAsks,
        lvPx: this.lvPx,
        lvSz: this.lvSz,
        lvN: this.lvN,
        strIdx: strIdx,
        strings: [...this.strings],
      });
    return new EventColumns({
      coin: this.coin,
      length: n,
      levels: L,
      kind: copy(this.kind, n, Uint8Array, alloc),
      exTime: copy(this.exTime, n, Float64Array, alloc),
      rxTime: copy(this.rxTime, n, Float64Array, alloc),
      a: copy(this.a, n, Float64Array, alloc),
      b: copy(this.b, n, Float64Array, alloc),
      c: copy(this.c, n, Float64Array, alloc),
      d: copy(this.d, n, Float64Array, alloc),
      side: copy(this.side, n, Uint8Array, alloc),
      levelStart: copy(this.levelStart, n, Int32Array, alloc),
      nBids: copy(this.nBids, n, Int32Array, alloc),
      nAsks: copy(this.nAsks, n, Int32Array, alloc),
      lvPx: copy(this.lvPx, L, Float64Array, alloc),
      lvSz: copy(this.lvSz, L, Float64Array, alloc),
      lvN: copy(this.lvN, L, Float64Array, alloc),
      strIdx: strIdx ? copy(strIdx, 3 * n, Int32Array, alloc) : undefined,
      strings: alloc === heap ? [...this.strings] : packStrings(this.strings, alloc),
    });
  }
}

type TypedCtor<T> = {
  new (length: number): T;
  new (buffer: ArrayBufferLike, byteOffset?: number, length?: number): T;
  BYTES_PER_ELEMENT: number;
};

function grow<T extends Uint8Array | Int32Array | Float64Array>(old: T, cap: number, C: TypedCtor<T>): T {
  const out = new C(cap);
  out.set(old as never);
  return out;
}

function growStr(old: Int32Array, rows: number): Int32Array {
  const out = new Int32Array(3 * rows).fill(-1);
  out.set(old.subarray(0, Math.min(old.length, 3 * rows)));
  return out;
}

function copy<T extends Uint8Array | Int32Array | Float64Array>(
  src: T,
  n: number,
  C: TypedCtor<T>,
  alloc: Alloc,
): T {
  const out = new C(alloc(n * C.BYTES_PER_ELEMENT), 0, n);
  out.set(src.subarray(0, n) as never);
  return out;
}

/**
 * Rows of several column sets gathered into one, sized exactly (no growth, no per-row checks): output row o is
 * row rows[o] of srcs[which[o]] (which undefined: srcs[0]). Book levels and trade strings come along.
 */
export function gatherRows(
  coin: string,
  srcs: readonly ColumnArrays[],
  which: Uint8Array | undefined,
  rows: Int32Array,
  n: number = rows.length,
  alloc: Alloc = heap,
): EventColumns {
  let levels = 0;
  let strings = false;
  for (const s of srcs) if (s.strIdx !== undefined) strings = true;
  for (let o = 0; o < n; o++) {
    const s = srcs[which ? which[o] : 0];
    const r = rows[o];
    if (s.kind[r] === KIND_BOOK) levels += s.nBids[r] + s.nAsks[r];
  }
  const f64 = (len: number) => new Float64Array(alloc(8 * len), 0, len);
  const i32 = (len: number) => new Int32Array(alloc(4 * len), 0, len);
  const u8 = (len: number) => new Uint8Array(alloc(len), 0, len);
  const kind = u8(n);
  const exTime = f64(n);
  const rxTime = f64(n);
  const a = f64(n);
  const b = f64(n);
  const c = f64(n);
  const d = f64(n);
  const side = u8(n);
  const levelStart = i32(n);
  const nBids = i32(n);
  const nAsks = i32(n);
  const lvPx = f64(levels);
  const lvSz = f64(levels);
  const lvN = f64(levels);
  const table: string[] = [];
  const ids = new Map<string, number>();
  const strIdx = strings ? i32(3 * n).fill(-1) : undefined;
  const id = (src: ColumnArrays, j: number) => {
    if (j < 0) return -1;
    const x = stringOf(src, j);
    let k = ids.get(x);
    if (k === undefined) {
      k = table.length;
      table.push(x);
      ids.set(x, k);
    }
    return k;
  };
  let l = 0;
  for (let o = 0; o < n; o++) {
    const s = srcs[which ? which[o] : 0];
    const r = rows[o];
    const k = s.kind[r];
    kind[o] = k;
    exTime[o] = s.exTime[r];
    rxTime[o] = s.rxTime[r];
    a[o] = s.a[r];
    b[o] = s.b[r];
    c[o] = s.c[r];
    d[o] = s.d[r];
    side[o] = s.side[r];
    levelStart[o] = l;
    if (k === KIND_BOOK) {
      const nb = s.nBids[r];
      const na = s.nAsks[r];
      nBids[o] = nb;
      nAsks[o] = na;
      const sx = s.lvPx;
      const sz = s.lvSz;
      const sn = s.lvN;
      for (let from = s.levelStart[r], end = from + nb + na; from < end; from++, l++) {
        lvPx[l] = sx[from];
        lvSz[l] = sz[from];
        lvN[l] = sn[from];
      }
    }
    const si = s.strIdx;
    if (strIdx !== undefined && si !== undefined && k === KIND_TRADE) {
      strIdx[3 * o] = id(s, si[3 * r]);
      strIdx[3 * o + 1] = id(s, si[3 * r + 1]);
      strIdx[3 * o + 2] = id(s, si[3 * r + 2]);
    }
  }
  return new EventColumns({
    coin,
    length: n,
    levels,
    kind,
    exTime,
    rxTime,
    a,
    b,
    c,
    d,
    side,
    levelStart,
    nBids,
    nAsks,
    lvPx,
    lvSz,
    lvN,
    strIdx,
    strings: alloc === heap ? table : packStrings(table, alloc),
  });
}

/** Columns of `events` (one coin; others are skipped), in the order given. */
export function columnsOf(coin: string, events: Iterable<MarketEvent>, alloc?: Alloc): EventColumns {
  const b = new ColumnsBuilder(coin);
  for (const ev of events) if (ev.coin === coin) b.push(ev);
  return b.build(alloc);
}
