/**
 * Reading the store into columns (src/marketdata/columnar.ts) instead of event objects: the same rows, in the
 * same order as `queryEvents` returns them (per kind sorted by exchange time — trades of one time by tid — as
 * stored or re-sorted stably when shards interleave; kinds merged by time, ties book, bbo, trade), decoded
 * straight from DuckDB's vectors into typed arrays. What a streamed backtest reads chunk by chunk.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import {
  ColumnsBuilder,
  type EventColumns,
  gatherRows,
  KIND_BBO,
  KIND_BOOK,
  KIND_TRADE,
} from '../columnar.ts';
import type { MarketEventKind } from '../events.ts';
import type { StoreContext } from './context.ts';
import { bookSideColumns, ChunkColumns, readChunks } from './decode.ts';
import { StoreError } from './errors.ts';
import { listFiles, MARKET_EVENT_KINDS, shardQuery } from './reader.ts';
import type { ColumnsOptions } from './types.ts';

/** Rank of a kind among equal exchange times in query results (book, bbo, trade). */
const RANK = [0, 2, 1]; // by KIND_BOOK, KIND_TRADE, KIND_BBO
const _KIND_OF_RANK = [KIND_BOOK, KIND_BBO, KIND_TRADE];

/**
 * The rows of [from, to) in query order, each value copied once from DuckDB's vectors into exact-size columns:
 * one plain scan per kind (run to completion in DuckDB's threads), the per-kind order as `readKind` gives it
 * (as read when sorted; else a stable sort by time, trades by tid), the kinds merged as `mergeSorted` merges
 * them (time, ties book, bbo, trade), then every row written straight to its place.
 */
export async function queryColumns(ctx: StoreContext, opts: ColumnsOptions): Promise<EventColumns> {
  const kinds = opts.kinds ?? MARKET_EVENT_KINDS;
  const parts: KindPart[] = [];
  for (const kind of kinds) {
    const files = opts.files?.[kind] ?? (await listFiles(ctx.dir, opts.coin, kind, opts.from, opts.to));
    if (files.length === 0) continue;
    const part = await scanKind(ctx.conn, opts.coin, kind, files, opts.from, opts.to);
    if (part.rows > 0) parts.push(part);
  }
  return assemble(opts.coin, parts);
}

/** One kind's scan: its result chunks, times (and tids) in read order, and the order to take its rows in. */
interface KindPart {
  kind: MarketEventKind;
  code: number;
  chunks: ChunkColumns[];
  names: string[];
  rows: number;
  ex: Float64Array;
  /** Read-order index of the k-th row in query order (undefined: as read). */
  order: Int32Array | undefined;
  /** Books: levels per row in read order. */
  depth: Int32Array | undefined;
}

async function scanKind(
  conn: DuckDBConnection,
  coin: string,
  kind: MarketEventKind,
  files: string[],
  from?: number,
  to?: number,
): Promise<KindPart> {
  const result = await conn.run(kindSql(kind, files, from, to));
  const names = result.columnNames();
  const typeIds = result.columnTypes().map((t) => t.typeId);
  const chunks: ChunkColumns[] = [];
  let rows = 0;
  for (let i = 0; i < result.chunkCount; i++) {
    const c = result.getChunk(i);
    if (c.rowCount === 0) continue;
    chunks.push(new ChunkColumns(c, typeIds));
    rows += c.rowCount;
  }
  const at = (name: string): number => {
    const j = names.indexOf(name);
    if (j < 0) throw new StoreError(`shard of ${coin}/${kind} lacks column ${name}: not a cjmm store shard`);
    return j;
  };
  const ex = new Float64Array(rows);
  const tid = kind === 'trade' ? new Float64Array(rows) : undefined;
  const depth = kind === 'book' ? new Int32Array(rows) : undefined;
  let w = 0;
  for (const c of chunks) {
    ex.set(c.rawNum(at('ex_time')), w);
    if (tid) tid.set(c.num(at('tid')), w);
    if (depth) {
      const bd = c.rawInt(at('bid_depth'));
      const ad = c.rawInt(at('ask_depth'));
      for (let r = 0; r < c.rows; r++) depth[w + r] = bd[r] + ad[r];
    }
    w += c.rows;
  }
  // As readKind: kept as read when sorted (time; trades of one time by tid), else sorted stably.
  const cmp = (p: number, q: number) => ex[p] - ex[q] || (tid ? tid[p] - tid[q] : 0);
  let sorted = true;
  for (let r = 1; r < rows && sorted; r++) if (cmp(r - 1, r) > 0) sorted = false;
  const order = sorted ? undefined : Int32Array.from(Array.from({ length: rows }, (_, r) => r).sort(cmp));
  const code = kind === 'book' ? KIND_BOOK : kind === 'bbo' ? KIND_BBO : KIND_TRADE;
  return { kind, code, chunks, names, rows, ex, order, depth };
}

/** Merge the kinds' orders (as mergeSorted) and write every row once to its place. */
function assemble(coin: string, parts: KindPart[]): EventColumns {
  let rows = 0;
  for (const p of parts) rows += p.rows;
  // Output row of each part's read-order row.
  const outOf = parts.map((p) => new Int32Array(p.rows));
  const which = new Uint8Array(rows);
  const idx = new Array(parts.length).fill(0);
  const readIdx = (p: KindPart, k: number) => (p.order ? p.order[k] : k);
  for (let o = 0; o < rows; o++) {
    let best = -1;
    let bestEx = 0;
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      if (idx[i] >= p.rows) continue;
      const e = p.ex[readIdx(p, idx[i])];
      if (best < 0 || e < bestEx || (e === bestEx && RANK[p.code] < RANK[parts[best].code])) {
        best = i;
        bestEx = e;
      }
    }
    which[o] = best;
    outOf[best][readIdx(parts[best], idx[best]++)] = o;
  }
  // Level offsets in output order.
  const levelStart = new Int32Array(rows);
  const book = parts.findIndex((p) => p.kind === 'book');
  let levels = 0;
  {
    const counters = new Array(parts.length).fill(0);
    for (let o = 0; o < rows; o++) {
      const i = which[o];
      const k = counters[i]++;
      levelStart[o] = levels;
      if (i === book) levels += (parts[i].depth as Int32Array)[readIdx(parts[i], k)];
    }
  }
  const b = new ColumnsBuilder(coin, rows, levels);
  b.levelStart.set(levelStart);
  parts.forEach((p, i) => {
    if (p.kind === 'trade') writeTrades(b, p, outOf[i]);
    else if (p.kind === 'bbo') writeBbo(b, p, outOf[i]);
    else writeBooks(b, p, outOf[i]);
  });
  b.length = rows;
  b.levels = levels;
  return b.build();
}

function column(p: KindPart, name: string): number {
  const j = p.names.indexOf(name);
  if (j < 0) throw new StoreError(`shard of ${p.kind} lacks column ${name}: not a cjmm store shard`);
  return j;
}

function writeTrades(b: ColumnsBuilder, p: KindPart, out: Int32Array): void {
  let w = 0;
  for (const c of p.chunks) {
    const ex = c.rawNum(column(p, 'ex_time'));
    const rx = c.rawNum(column(p, 'rx_time'));
    const px = c.rawNum(column(p, 'px'));
    const sz = c.rawNum(column(p, 'sz'));
    const tid = c.num(column(p, 'tid'));
    const sell = c.num(column(p, 'sell'));
    const hash = optionalStrings(c, column(p, 'hash'));
    const buyer = optionalStrings(c, column(p, 'buyer'));
    const seller = optionalStrings(c, column(p, 'seller'));
    for (let r = 0; r < c.rows; r++) {
      const o = out[w + r];
      b.kind[o] = KIND_TRADE;
      b.exTime[o] = ex[r];
      b.rxTime[o] = rx[r];
      b.a[o] = px[r];
      b.b[o] = sz[r];
      b.c[o] = tid[r];
      b.side[o] = sell[r] === 1 ? 1 : 0;
      if (hash || buyer || seller)
        b.setStrings(o, b.stringId(hash?.[r]), b.stringId(buyer?.[r]), b.stringId(seller?.[r]));
    }
    w += c.rows;
  }
}

function writeBbo(b: ColumnsBuilder, p: KindPart, out: Int32Array): void {
  let w = 0;
  for (const c of p.chunks) {
    const ex = c.rawNum(column(p, 'ex_time'));
    const rx = c.rawNum(column(p, 'rx_time'));
    // NaN sides are stored as NaN (never NULL): num keeps NULL → NaN should a foreign shard have one.
    const bp = c.num(column(p, 'bid_px'));
    const bs = c.num(column(p, 'bid_sz'));
    const ap = c.num(column(p, 'ask_px'));
    const as = c.num(column(p, 'ask_sz'));
    for (let r = 0; r < c.rows; r++) {
      const o = out[w + r];
      b.kind[o] = KIND_BBO;
      b.exTime[o] = ex[r];
      b.rxTime[o] = rx[r];
      b.a[o] = bp[r];
      b.b[o] = bs[r];
      b.c[o] = ap[r];
      b.d[o] = as[r];
    }
    w += c.rows;
  }
}

function writeBooks(b: ColumnsBuilder, p: KindPart, out: Int32Array): void {
  const levelCols = (side: string) => {
    const list: [number, number, number][] = [];
    for (let i = 0; p.names.includes(`${side}_px_${i}`); i++)
      list.push([column(p, `${side}_px_${i}`), column(p, `${side}_sz_${i}`), column(p, `${side}_n_${i}`)]);
    return list;
  };
  const bidCols = levelCols('bid');
  const askCols = levelCols('ask');
  const { lvPx, lvSz, lvN } = b;
  let w = 0;
  for (const c of p.chunks) {
    const ex = c.rawNum(column(p, 'ex_time'));
    const rx = c.rawNum(column(p, 'rx_time'));
    const bd = c.rawInt(column(p, 'bid_depth'));
    const ad = c.rawInt(column(p, 'ask_depth'));
    // Levels past a book's depth are NULL (shards of different depth read together) and never read; within
    // its depth a level is always stored, so the raw vectors are read directly.
    const bid = bidCols.map(([x, y, z]) => [c.rawNum(x), c.rawNum(y), c.count(z)] as const);
    const ask = askCols.map(([x, y, z]) => [c.rawNum(x), c.rawNum(y), c.count(z)] as const);
    for (let r = 0; r < c.rows; r++) {
      const o = out[w + r];
      const nb = bd[r];
      const na = ad[r];
      if (nb > bid.length || na > ask.length)
        throw new StoreError(`a book row of ${b.coin} claims more levels than its shard has columns`);
      b.kind[o] = KIND_BOOK;
      b.exTime[o] = ex[r];
      b.rxTime[o] = rx[r];
      b.nBids[o] = nb;
      b.nAsks[o] = na;
      let l = b.levelStart[o];
      for (let i = 0; i < nb; i++, l++) {
        const lv = bid[i];
        lvPx[l] = lv[0][r];
        lvSz[l] = lv[1][r];
        lvN[l] = lv[2][r];
      }
      for (let i = 0; i < na; i++, l++) {
        const lv = ask[i];
        lvPx[l] = lv[0][r];
        lvSz[l] = lv[1][r];
        lvN[l] = lv[2][r];
      }
    }
    w += c.rows;
  }
}

/** The rows of one kind in [from, to) from `files`; a trade's side as a number (1 = sell; anything else reads as
 * buy, like the object reader). */
function kindSql(kind: MarketEventKind, files: string[], from?: number, to?: number): string {
  const select = kind === 'trade' ? `* EXCLUDE (side), coalesce(side = 'sell', false)::INTEGER AS sell` : '*';
  return shardQuery(select, files, from, to);
}

/** The rows of one kind in [from, to) from `files`, in the order `readKind` gives its events. */
export async function readKindColumns(
  conn: DuckDBConnection,
  coin: string,
  kind: MarketEventKind,
  files: string[],
  from?: number,
  to?: number,
): Promise<EventColumns> {
  const b = new ColumnsBuilder(coin, 2048, kind === 'book' ? 65536 : 0);
  await readChunks(conn, kindSql(kind, files, from, to), (c, names) => {
    const at = (name: string): number => {
      const j = names.indexOf(name);
      if (j < 0)
        throw new StoreError(`shard of ${coin}/${kind} lacks column ${name}: not a cjmm store shard`);
      return j;
    };
    if (kind === 'trade') decodeTrades(b, c, at);
    else if (kind === 'bbo') decodeBbo(b, c, at);
    else decodeBooks(b, c, names, at);
  });
  const cols = b.build();
  return sortedByExchangeTime(cols);
}

function decodeTrades(b: ColumnsBuilder, c: ChunkColumns, at: (n: string) => number): void {
  const rows = c.rows;
  b.reserve(rows);
  const w = b.length;
  b.exTime.set(c.num(at('ex_time')), w);
  b.rxTime.set(c.num(at('rx_time')), w);
  b.a.set(c.num(at('px')), w);
  b.b.set(c.num(at('sz')), w);
  b.c.set(c.num(at('tid')), w);
  const sell = c.num(at('sell'));
  b.kind.fill(KIND_TRADE, w, w + rows);
  for (let r = 0; r < rows; r++) {
    b.side[w + r] = sell[r] === 1 ? 1 : 0;
    b.levelStart[w + r] = b.levels;
    b.nBids[w + r] = 0;
    b.nAsks[w + r] = 0;
  }
  const hash = optionalStrings(c, at('hash'));
  const buyer = optionalStrings(c, at('buyer'));
  const seller = optionalStrings(c, at('seller'));
  if (hash || buyer || seller)
    for (let r = 0; r < rows; r++)
      b.setStrings(w + r, b.stringId(hash?.[r]), b.stringId(buyer?.[r]), b.stringId(seller?.[r]));
  else if (b.strIdx) for (let r = 0; r < rows; r++) b.setStrings(w + r, -1, -1, -1);
  b.length = w + rows;
}

/** A string column, or undefined when every value is NULL (no per-row reads then). */
function optionalStrings(c: ChunkColumns, j: number): (string | null)[] | undefined {
  const v = c.validity(j);
  if (v) {
    let any = false;
    const words = Math.ceil(c.rows / 32);
    for (let k = 0; k < words && !any; k++) {
      const bits = k === words - 1 && c.rows % 32 !== 0 ? v[k] & ((1 << (c.rows % 32)) - 1) : v[k];
      if (bits !== 0) any = true;
    }
    if (!any) return undefined;
  }
  return c.str(j);
}

function decodeBbo(b: ColumnsBuilder, c: ChunkColumns, at: (n: string) => number): void {
  const rows = c.rows;
  b.reserve(rows);
  const w = b.length;
  b.exTime.set(c.num(at('ex_time')), w);
  b.rxTime.set(c.num(at('rx_time')), w);
  b.a.set(c.num(at('bid_px')), w);
  b.b.set(c.num(at('bid_sz')), w);
  b.c.set(c.num(at('ask_px')), w);
  b.d.set(c.num(at('ask_sz')), w);
  b.kind.fill(KIND_BBO, w, w + rows);
  for (let r = 0; r < rows; r++) {
    b.levelStart[w + r] = b.levels;
    b.nBids[w + r] = 0;
    b.nAsks[w + r] = 0;
  }
  if (b.strIdx) for (let r = 0; r < rows; r++) b.setStrings(w + r, -1, -1, -1);
  b.length = w + rows;
}

function decodeBooks(b: ColumnsBuilder, c: ChunkColumns, names: string[], at: (n: string) => number): void {
  const rows = c.rows;
  const bd = c.num(at('bid_depth'));
  const ad = c.num(at('ask_depth'));
  let total = 0;
  for (let r = 0; r < rows; r++) total += bd[r] + ad[r];
  b.reserve(rows, total);
  const bid = bookSideColumns(c, names, at, 'bid');
  const ask = bookSideColumns(c, names, at, 'ask');
  const w = b.length;
  b.exTime.set(c.num(at('ex_time')), w);
  b.rxTime.set(c.num(at('rx_time')), w);
  b.kind.fill(KIND_BOOK, w, w + rows);
  const { lvPx, lvSz, lvN } = b;
  let l = b.levels;
  for (let r = 0; r < rows; r++) {
    const nb = bd[r];
    const na = ad[r];
    if (nb > bid.px.length || na > ask.px.length)
      throw new StoreError(`a book row of ${b.coin} claims more levels than its shard has columns`);
    b.levelStart[w + r] = l;
    b.nBids[w + r] = nb;
    b.nAsks[w + r] = na;
    for (let i = 0; i < nb; i++, l++) {
      lvPx[l] = bid.px[i][r];
      lvSz[l] = bid.sz[i][r];
      lvN[l] = bid.n[i][r];
    }
    for (let i = 0; i < na; i++, l++) {
      lvPx[l] = ask.px[i][r];
      lvSz[l] = ask.sz[i][r];
      lvN[l] = ask.n[i][r];
    }
  }
  b.levels = l;
  if (b.strIdx) for (let r = 0; r < rows; r++) b.setStrings(w + r, -1, -1, -1);
  b.length = w + rows;
}

/** As `readKind`: kept as read when sorted (time; trades of one time by tid), else sorted stably. */
function sortedByExchangeTime(c: EventColumns): EventColumns {
  const n = c.length;
  const ex = c.exTime;
  const tid = c.c;
  const trade = (r: number) => c.kind[r] === KIND_TRADE;
  const cmp = (p: number, q: number) => {
    if (ex[p] !== ex[q]) return ex[p] - ex[q];
    if (trade(p) && trade(q)) return tid[p] - tid[q];
    return 0;
  };
  let sorted = true;
  for (let r = 1; r < n && sorted; r++) if (cmp(r - 1, r) > 0) sorted = false;
  if (sorted) return c;
  const order = Int32Array.from(Array.from({ length: n }, (_, r) => r).sort(cmp));
  return gatherRows(c.coin, [c], undefined, order);
}

/** Merge per-kind columns sorted by exchange time into one (ties: book, bbo, trade), like `mergeSorted`. */
export function mergeColumns(coin: string, lists: EventColumns[]): EventColumns {
  if (lists.length === 1) return lists[0];
  let rows = 0;
  for (const l of lists) rows += l.length;
  const which = new Uint8Array(rows);
  const at = new Int32Array(rows);
  const idx = new Array(lists.length).fill(0);
  for (let o = 0; o < rows; o++) {
    let best = -1;
    for (let i = 0; i < lists.length; i++) {
      const li = lists[i];
      if (idx[i] >= li.length) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const lb = lists[best];
      const a = idx[i];
      const z = idx[best];
      if (
        li.exTime[a] < lb.exTime[z] ||
        (li.exTime[a] === lb.exTime[z] && RANK[li.kind[a]] < RANK[lb.kind[z]])
      )
        best = i;
    }
    which[o] = best;
    at[o] = idx[best]++;
  }
  return gatherRows(coin, lists, which, at);
}
