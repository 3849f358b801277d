/**
 * Reading the store: which coins and shard files it holds, events of one coin decoded from its shards (sorted,
 * with the gaps that affect them), and the per-coin, per-kind summary `data ls` prints.
 */
import { join } from 'node:path';
import type { DuckDBConnection } from '@duckdb/node-api';
import type { BookLevel, MarketEvent, MarketEventKind, TradeEvent } from '../events.ts';
import type { StoreContext } from './context.ts';
import { bookSideColumns, readChunks } from './decode.ts';
import { StoreError } from './errors.ts';
import { fundingSummary } from './funding.ts';
import { readGaps } from './gaps-file.ts';
import { fileList, hourBucket, kindDir, listDir, parseBucket } from './layout.ts';
import { shardsIn } from './manifest.ts';
import { byExTime, isSorted, mergeSorted } from './order.ts';
import type { QueryOptions, QueryResult, StoreSummaryRow } from './types.ts';

export const MARKET_EVENT_KINDS: readonly MarketEventKind[] = ['book', 'trade', 'bbo'];

/** Coins with a folder in the store, sorted. */
export async function listCoins(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const name of await listDir(dir)) {
    if (name.startsWith('coin=')) out.push(decodeURIComponent(name.slice(5)));
  }
  return out.sort();
}

/** Live shard files of one coin and kind whose hour overlaps [from, to). */
export async function listFiles(
  dir: string,
  coin: string,
  kind: string,
  from?: number,
  to?: number,
): Promise<string[]> {
  const kd = kindDir(dir, coin, kind);
  const lo = from === undefined ? -Infinity : hourBucket(from);
  const hi = to === undefined ? Infinity : hourBucket(to - 1e-9);
  const out: string[] = [];
  for (const date of await listDir(kd)) {
    for (const hour of await listDir(join(kd, date))) {
      const b = parseBucket(date, hour);
      if (b === undefined || b < lo || b > hi) continue;
      out.push(...(await shardsIn(join(kd, date, hour))));
    }
  }
  return out;
}

/** Events of one coin in [from, to) with the gaps affecting the requested kinds (the caller serialises). */
export async function queryEvents(ctx: StoreContext, opts: QueryOptions): Promise<QueryResult> {
  const kinds = opts.kinds ?? MARKET_EVENT_KINDS;
  const lists: MarketEvent[][] = [];
  for (const kind of kinds) {
    const files = await listFiles(ctx.dir, opts.coin, kind, opts.from, opts.to);
    if (files.length === 0) continue;
    lists.push(await readKind(ctx.conn, opts.coin, kind, files, opts.from, opts.to));
  }
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const gaps = (await readGaps(ctx.dir, opts.coin)).filter(
    (g) => g.end > from && g.start < to && (g.kind === 'all' || kinds.includes(g.kind)),
  );
  return { events: mergeSorted(lists), gaps };
}

/** `SELECT <select>` over the shards `files`, rows with ex_time in [from, to) (an infinite or absent end: open). */
export function shardQuery(select: string, files: string[], from?: number, to?: number): string {
  const where: string[] = [];
  if (from !== undefined && from !== Number.NEGATIVE_INFINITY) where.push(`ex_time >= ${from}`);
  if (to !== undefined && to !== Number.POSITIVE_INFINITY) where.push(`ex_time < ${to}`);
  const filter = where.length ? ` WHERE ${where.join(' AND ')}` : '';
  return `SELECT ${select} FROM read_parquet(${fileList(files)}, union_by_name = true, hive_partitioning = false)${filter}`;
}

export async function readKind(
  conn: DuckDBConnection,
  coin: string,
  kind: MarketEventKind,
  files: string[],
  from?: number,
  to?: number,
): Promise<MarketEvent[]> {
  // Shards are sorted when written; only several shards per hour can interleave (sorted below if so).
  const sql = shardQuery('*', files, from, to);
  const out: MarketEvent[] = [];
  await readChunks(conn, sql, (c, names) => {
    const at = (name: string): number => {
      const j = names.indexOf(name);
      if (j < 0)
        throw new StoreError(`shard of ${coin}/${kind} lacks column ${name}: not a cjmm store shard`);
      return j;
    };
    const rows = c.rows;
    const ex = c.num(at('ex_time'));
    const rx = c.num(at('rx_time'));
    if (kind === 'trade') {
      const px = c.num(at('px'));
      const sz = c.num(at('sz'));
      const tid = c.num(at('tid'));
      const side = c.str(at('side'));
      const hash = c.str(at('hash'));
      const buyer = c.str(at('buyer'));
      const seller = c.str(at('seller'));
      for (let r = 0; r < rows; r++) {
        const ev: TradeEvent = {
          kind: 'trade',
          coin,
          exTime: ex[r],
          rxTime: rx[r],
          px: px[r],
          sz: sz[r],
          side: side[r] === 'sell' ? 'sell' : 'buy',
          tid: tid[r],
        };
        const h = hash[r];
        if (h !== null) ev.hash = h;
        const b = buyer[r];
        if (b !== null) ev.buyer = b;
        const s = seller[r];
        if (s !== null) ev.seller = s;
        out.push(ev);
      }
    } else if (kind === 'bbo') {
      const bpx = c.num(at('bid_px'));
      const bsz = c.num(at('bid_sz'));
      const apx = c.num(at('ask_px'));
      const asz = c.num(at('ask_sz'));
      for (let r = 0; r < rows; r++) {
        out.push({
          kind: 'bbo',
          coin,
          exTime: ex[r],
          rxTime: rx[r],
          bidPx: bpx[r],
          bidSz: bsz[r],
          askPx: apx[r],
          askSz: asz[r],
        });
      }
    } else {
      const bd = c.num(at('bid_depth'));
      const ad = c.num(at('ask_depth'));
      const bidC = bookSideColumns(c, names, at, 'bid');
      const askC = bookSideColumns(c, names, at, 'ask');
      const levels = (v: typeof bidC, depth: number, r: number): BookLevel[] => {
        const ls: BookLevel[] = [];
        for (let i = 0; i < depth; i++) ls.push({ px: v.px[i][r], sz: v.sz[i][r], n: v.n[i][r] });
        return ls;
      };
      for (let r = 0; r < rows; r++) {
        out.push({
          kind: 'book',
          coin,
          exTime: ex[r],
          rxTime: rx[r],
          bids: levels(bidC, bd[r], r),
          asks: levels(askC, ad[r], r),
        });
      }
    }
  });
  if (!isSorted(out)) out.sort(byExTime);
  return out;
}

/** Per coin and kind (funding last): rows, first and last exchange time, gaps. */
export async function summarize(ctx: StoreContext): Promise<StoreSummaryRow[]> {
  const out: StoreSummaryRow[] = [];
  for (const coin of await listCoins(ctx.dir)) {
    const gaps = await readGaps(ctx.dir, coin);
    for (const kind of MARKET_EVENT_KINDS) {
      const files = await listFiles(ctx.dir, coin, kind);
      if (files.length === 0) continue;
      let rows = 0;
      let start = Number.NaN;
      let end = Number.NaN;
      await readChunks(
        ctx.conn,
        `SELECT count(*), min(ex_time), max(ex_time) FROM read_parquet(${fileList(files)})`,
        (c) => {
          rows = c.num(0)[0];
          start = c.num(1)[0];
          end = c.num(2)[0];
        },
      );
      out.push({
        coin,
        kind,
        rows,
        start,
        end,
        gaps: gaps.filter((g) => g.kind === kind || g.kind === 'all'),
      });
    }
    const f = await fundingSummary(ctx, coin);
    if (f) out.push({ coin, kind: 'funding', rows: f.rows, start: f.start, end: f.end, gaps: [] });
  }
  return out;
}
