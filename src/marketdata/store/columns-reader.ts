/**
 * Reading the store into columns (src/marketdata/columnar.ts) instead of event objects: the same rows, in the
 * same order as `queryEvents` returns them (per kind sorted by exchange time — trades of one time by tid — as
 * stored or re-sorted stably when shards interleave; kinds merged by time, ties book, bbo, trade), decoded
 * straight from DuckDB's vectors into typed arrays. What a streamed backtest reads chunk by chunk.
 */
import type { DuckDBConnection } from '@duckdb/node-api';
import { ColumnsBuilder, type EventColumns, KIND_BBO, KIND_BOOK, KIND_TRADE } from '../columnar.ts';
import type { MarketEventKind } from '../events.ts';
import type { StoreContext } from './context.ts';
import { type ChunkColumns, readChunks } from './decode.ts';
import { StoreError } from './errors.ts';
import { fileList } from './layout.ts';
import { listFiles, MARKET_EVENT_KINDS } from './reader.ts';
import type { ColumnsOptions } from './types.ts';

/** Rank of a kind among equal exchange times in query results (book, bbo, trade). */
const RANK = [0, 2, 1]; // by KIND_BOOK, KIND_TRADE, KIND_BBO

export async function queryColumns(ctx: StoreContext, opts: ColumnsOptions): Promise<EventColumns> {
  const kinds = opts.kinds ?? MARKET_EVENT_KINDS;
  const lists: EventColumns[] = [];
  for (const kind of kinds) {
    const files = opts.files?.[kind] ?? (await listFiles(ctx.dir, opts.coin, kind, opts.from, opts.to));
    if (files.length === 0) continue;
    const c = await readKindColumns(ctx.conn, opts.coin, kind, files, opts.from, opts.to);
    if (c.length > 0) lists.push(c);
  }
  return mergeColumns(opts.coin, lists);
}

function rangeFilter(from?: number, to?: number): string {
  const where: string[] = [];
  if (from !== undefined && from !== Number.NEGATIVE_INFINITY) where.push(`ex_time >= ${from}`);
  if (to !== undefined && to !== Number.POSITIVE_INFINITY) where.push(`ex_time < ${to}`);
  return where.length ? `WHERE ${where.join(' AND ')}` : '';
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
  const src = `read_parquet(${fileList(files)}, union_by_name = true, hive_partitioning = false)`;
  // The side as a number (1 = sell; anything else reads as buy, like the object reader).
  const select = kind === 'trade' ? `* EXCLUDE (side), coalesce(side = 'sell', false)::INTEGER AS sell` : '*';
  const b = new ColumnsBuilder(coin, 2048, kind === 'book' ? 65536 : 0);
  await readChunks(conn, `SELECT ${select} FROM ${src} ${rangeFilter(from, to)}`, (c, names) => {
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
  // Shards of different depth are read together (union_by_name): levels past a book's depth are NULL.
  const levelColumns = (side: string) => {
    const px: Float64Array[] = [];
    const sz: Float64Array[] = [];
    const n: (Int32Array | Float64Array)[] = [];
    for (let i = 0; names.includes(`${side}_px_${i}`); i++) {
      px.push(c.num(at(`${side}_px_${i}`)));
      sz.push(c.num(at(`${side}_sz_${i}`)));
      n.push(c.count(at(`${side}_n_${i}`)));
    }
    return { px, sz, n };
  };
  const bid = levelColumns('bid');
  const ask = levelColumns('ask');
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
  const order = Array.from({ length: n }, (_, r) => r).sort(cmp);
  const b = new ColumnsBuilder(c.coin, n, c.levels);
  for (const r of order) b.pushRow(c, r);
  return b.build();
}

/** Merge per-kind columns sorted by exchange time into one (ties: book, bbo, trade), like `mergeSorted`. */
export function mergeColumns(coin: string, lists: EventColumns[]): EventColumns {
  if (lists.length === 1) return lists[0];
  let rows = 0;
  let levels = 0;
  for (const l of lists) {
    rows += l.length;
    levels += l.levels;
  }
  const b = new ColumnsBuilder(coin, rows, levels);
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
    b.pushRow(lists[best], idx[best]++);
  }
  return b.build();
}
