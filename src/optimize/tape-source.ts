/**
 * How market data reaches the epoch runners: read and decoded ONCE per process (readSource: Parquet/CSV/
 * archive/store → normalised events), packed into SharedArrayBuffers, and handed to every worker thread as a
 * `SharedTapeData` descriptor (structured-cloning it shares the memory, nothing is copied). Each thread
 * materialises the event objects the replay loop reads once, on its first epoch, and builds one tape per
 * time window (cached); no epoch ever re-reads or re-decodes data.
 * This file is the one seam between data and the optimiser's workers: a replay that reads columns straight
 * from shared memory (a columnar tape) only has to change `materialise` into a view over the same buffers.
 *
 * Layout (n events of one coin, L book levels in all): kind Uint8[n] (0 book, 1 trade, 2 bbo), exTime and
 * rxTime Float64[n]; bbo bidPx/bidSz/askPx/askSz and trade px/sz/tid in four Float64[n] columns a–d; trade
 * side in Uint8 aux (0 buy, 1 sell); book levels px/sz/n in Float64[L] columns with per-event start Int32[n]
 * and bid/ask counts Uint16[n]; the optional trade strings (hash, buyer, seller) as indices into a string
 * table (−1 = absent) kept as UTF-8 JSON in a shared byte buffer.
 */

import type { FundingRate } from '../backtest/run.ts';
import type { BookLevel, Gap, MarketEvent } from '../marketdata/events.ts';
import { detectLayout, readSource } from '../marketdata/source.ts';
import { openStore, queryFunding } from '../marketdata/store/index.ts';

export interface SharedTapeData {
  kind: 'shared';
  /** Identity of the data (cache key in workers): source path, coin, read window. */
  key: string;
  coin: string;
  n: number;
  levels: number;
  kindCol: SharedArrayBuffer;
  exTime: SharedArrayBuffer;
  rxTime: SharedArrayBuffer;
  a: SharedArrayBuffer;
  b: SharedArrayBuffer;
  c: SharedArrayBuffer;
  d: SharedArrayBuffer;
  aux: SharedArrayBuffer;
  strIdx: SharedArrayBuffer;
  levelStart: SharedArrayBuffer;
  nBids: SharedArrayBuffer;
  nAsks: SharedArrayBuffer;
  lvPx: SharedArrayBuffer;
  lvSz: SharedArrayBuffer;
  lvN: SharedArrayBuffer;
  strings: SharedArrayBuffer;
  gaps: Gap[];
  /** Funding rates recorded in a store for the data's span (as `cjmm backtest` reads them); [] otherwise. */
  funding: FundingRate[];
}

export interface LoadedData {
  coin: string;
  events: MarketEvent[];
  gaps: Gap[];
  funding: FundingRate[];
}

const sab = (bytes: number) => new SharedArrayBuffer(Math.max(8, bytes));

/** Packs the events of one coin (and its gaps) into shared memory. */
export function packEvents(
  key: string,
  coin: string,
  all: readonly MarketEvent[],
  gaps: readonly Gap[],
  funding: readonly FundingRate[] = [],
): SharedTapeData {
  const events = all.filter((e) => e.coin === coin);
  const n = events.length;
  let L = 0;
  for (const e of events) if (e.kind === 'book') L += e.bids.length + e.asks.length;
  const data: SharedTapeData = {
    kind: 'shared',
    key,
    coin,
    n,
    levels: L,
    kindCol: sab(n),
    exTime: sab(8 * n),
    rxTime: sab(8 * n),
    a: sab(8 * n),
    b: sab(8 * n),
    c: sab(8 * n),
    d: sab(8 * n),
    aux: sab(n),
    strIdx: sab(4 * 3 * n),
    levelStart: sab(4 * n),
    nBids: sab(2 * n),
    nAsks: sab(2 * n),
    lvPx: sab(8 * L),
    lvSz: sab(8 * L),
    lvN: sab(8 * L),
    strings: sab(0),
    gaps: gaps.filter((g) => g.coin === coin).map((g) => ({ ...g })),
    funding: funding.map((f) => ({ ...f })),
  };
  const kind = new Uint8Array(data.kindCol);
  const ex = new Float64Array(data.exTime);
  const rx = new Float64Array(data.rxTime);
  const A = new Float64Array(data.a);
  const B = new Float64Array(data.b);
  const C = new Float64Array(data.c);
  const D = new Float64Array(data.d);
  const aux = new Uint8Array(data.aux);
  const sIdx = new Int32Array(data.strIdx).fill(-1);
  const start = new Int32Array(data.levelStart);
  const nb = new Uint16Array(data.nBids);
  const na = new Uint16Array(data.nAsks);
  const px = new Float64Array(data.lvPx);
  const sz = new Float64Array(data.lvSz);
  const cnt = new Float64Array(data.lvN);
  const table: string[] = [];
  const tableIdx = new Map<string, number>();
  const str = (s: string | undefined) => {
    if (s === undefined) return -1;
    let i = tableIdx.get(s);
    if (i === undefined) {
      i = table.length;
      table.push(s);
      tableIdx.set(s, i);
    }
    return i;
  };
  let l = 0;
  for (let i = 0; i < n; i++) {
    const e = events[i];
    ex[i] = e.exTime;
    rx[i] = e.rxTime;
    if (e.kind === 'book') {
      kind[i] = 0;
      if (e.bids.length > 0xffff || e.asks.length > 0xffff)
        throw new Error('book with more than 65535 levels');
      start[i] = l;
      nb[i] = e.bids.length;
      na[i] = e.asks.length;
      for (const lv of e.bids) {
        px[l] = lv.px;
        sz[l] = lv.sz;
        cnt[l++] = lv.n;
      }
      for (const lv of e.asks) {
        px[l] = lv.px;
        sz[l] = lv.sz;
        cnt[l++] = lv.n;
      }
    } else if (e.kind === 'trade') {
      kind[i] = 1;
      A[i] = e.px;
      B[i] = e.sz;
      C[i] = e.tid;
      aux[i] = e.side === 'buy' ? 0 : 1;
      sIdx[3 * i] = str(e.hash);
      sIdx[3 * i + 1] = str(e.buyer);
      sIdx[3 * i + 2] = str(e.seller);
    } else {
      kind[i] = 2;
      A[i] = e.bidPx;
      B[i] = e.bidSz;
      C[i] = e.askPx;
      D[i] = e.askSz;
    }
  }
  const bytes = new TextEncoder().encode(JSON.stringify(table));
  data.strings = sab(bytes.length + 4);
  const view = new DataView(data.strings);
  view.setUint32(0, bytes.length, true);
  new Uint8Array(data.strings, 4, bytes.length).set(bytes);
  return data;
}

/** The event objects the replay reads, rebuilt from shared memory (once per thread). */
export function materialise(data: SharedTapeData): LoadedData {
  const n = data.n;
  const kind = new Uint8Array(data.kindCol);
  const ex = new Float64Array(data.exTime);
  const rx = new Float64Array(data.rxTime);
  const A = new Float64Array(data.a);
  const B = new Float64Array(data.b);
  const C = new Float64Array(data.c);
  const D = new Float64Array(data.d);
  const aux = new Uint8Array(data.aux);
  const sIdx = new Int32Array(data.strIdx);
  const start = new Int32Array(data.levelStart);
  const nb = new Uint16Array(data.nBids);
  const na = new Uint16Array(data.nAsks);
  const px = new Float64Array(data.lvPx);
  const sz = new Float64Array(data.lvSz);
  const cnt = new Float64Array(data.lvN);
  const len = new DataView(data.strings).getUint32(0, true);
  // Copy out of shared memory first: TextDecoder refuses views on SharedArrayBuffers.
  const table = JSON.parse(
    new TextDecoder().decode(new Uint8Array(data.strings, 4, len).slice()),
  ) as string[];
  const coin = data.coin;
  const events: MarketEvent[] = new Array(n);
  const levels = (from: number, count: number): BookLevel[] => {
    const out: BookLevel[] = new Array(count);
    for (let k = 0; k < count; k++) out[k] = { px: px[from + k], sz: sz[from + k], n: cnt[from + k] };
    return out;
  };
  for (let i = 0; i < n; i++) {
    const k = kind[i];
    if (k === 0) {
      events[i] = {
        kind: 'book',
        coin,
        exTime: ex[i],
        rxTime: rx[i],
        bids: levels(start[i], nb[i]),
        asks: levels(start[i] + nb[i], na[i]),
      };
    } else if (k === 1) {
      const e: MarketEvent = {
        kind: 'trade',
        coin,
        exTime: ex[i],
        rxTime: rx[i],
        px: A[i],
        sz: B[i],
        side: aux[i] === 0 ? 'buy' : 'sell',
        tid: C[i],
      };
      const h = sIdx[3 * i];
      const bu = sIdx[3 * i + 1];
      const se = sIdx[3 * i + 2];
      if (h >= 0) e.hash = table[h];
      if (bu >= 0) e.buyer = table[bu];
      if (se >= 0) e.seller = table[se];
      events[i] = e;
    } else {
      events[i] = {
        kind: 'bbo',
        coin,
        exTime: ex[i],
        rxTime: rx[i],
        bidPx: A[i],
        bidSz: B[i],
        askPx: C[i],
        askSz: D[i],
      };
    }
  }
  return {
    coin,
    events,
    gaps: data.gaps.map((g) => ({ ...g })),
    funding: data.funding.map((f) => ({ ...f })),
  };
}

/** Reads a source once (any layout `cjmm data` reads) and packs one coin of it. */
export async function loadShared(
  path: string,
  coin: string,
  window: { from?: number; to?: number } = {},
): Promise<{ shared: SharedTapeData; events: MarketEvent[]; malformed: number }> {
  const data = await readSource(path, { coin, from: window.from, to: window.to });
  const key = `${path}\u0000${coin}\u0000${window.from ?? ''}\u0000${window.to ?? ''}`;
  const mine = data.events.filter((e) => e.coin === coin);
  const funding =
    mine.length > 0 ? await recordedFunding(path, coin, mine[0].exTime, mine[mine.length - 1].exTime) : [];
  return {
    shared: packEvents(key, coin, data.events, data.gaps, funding),
    events: data.events,
    malformed: data.report.malformed,
  };
}

/** Funding rates recorded in a store around [start, end] (what `cjmm backtest` charges); [] for other sources. */
async function recordedFunding(
  path: string,
  coin: string,
  start: number,
  end: number,
): Promise<FundingRate[]> {
  if ((await detectLayout(path).catch(() => undefined)) !== 'store') return [];
  const store = await openStore(path);
  try {
    const rows = await queryFunding(store, coin, start - 3_600_000, end + 1);
    return rows.map((r) => ({
      time: r.time,
      rate: r.fundingRate,
      price: r.oraclePx !== undefined && r.oraclePx > 0 ? r.oraclePx : undefined,
    }));
  } finally {
    await store.close();
  }
}

/** Total bytes of shared memory a descriptor holds. */
export function sharedBytes(d: SharedTapeData): number {
  let s = 0;
  for (const v of Object.values(d)) if (v instanceof SharedArrayBuffer) s += v.byteLength;
  return s;
}
