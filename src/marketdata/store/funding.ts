/**
 * The `funding` kind: one row per funding settlement of a coin, as Hyperliquid's info API `fundingHistory`
 * reports it (hourly on Hyperliquid), plus the mark and oracle prices when the source carries them (Tardis
 * `derivative_ticker`).
 *
 *   <dir>/coin=<C>/kind=funding/month=<YYYY-MM>/part-<ms>-<pid>-<seq>.parquet
 *   columns: time DOUBLE (ms), funding_rate DOUBLE, premium DOUBLE, mark_px DOUBLE, oracle_px DOUBLE (NaN = unknown)
 *
 * Partitioned by month (a month of hourly rows is 744 rows); de-duplicated by (coin, time) against the batch and
 * the month already stored; written atomically like every shard (temp file, fsync, rename).
 */
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { DOUBLE } from '@duckdb/node-api';
import { type Column, col } from './columns.ts';
import type { StoreContext } from './context.ts';
import { readChunks } from './decode.ts';
import { loadTempTable } from './encode.ts';
import { StoreError } from './errors.ts';
import { fileList, fsyncPath, kindDir, listDir, lit } from './layout.ts';
import { shardsIn } from './manifest.ts';

/** One funding settlement. */
export interface FundingRow {
  coin: string;
  /** Settlement time, ms since epoch (exchange clock). */
  time: number;
  /**
   * Funding rate of the period ending at `time`, as a fraction of notional per period: Hyperliquid's hourly
   * rate (fundingHistory `fundingRate`; a long pays `fundingRate × size × oracle price` when it is positive).
   */
  fundingRate: number;
  /** Hyperliquid's premium index for the period (fundingHistory `premium`); NaN when the source lacks it. */
  premium: number;
  /** Mark and oracle (index) price at settlement, when the source carries them (Tardis); else absent. */
  markPx?: number;
  oraclePx?: number;
}

export interface FundingWriteResult {
  written: number;
  duplicates: number;
  /** Rows refused (no coin, time not a positive finite ms, rate not finite). */
  rejected: number;
}

export const FUNDING_KIND = 'funding';

const FUNDING_COLUMNS: Column[] = [
  col('time', DOUBLE, 'DOUBLE'),
  col('funding_rate', DOUBLE, 'DOUBLE'),
  col('premium', DOUBLE, 'DOUBLE'),
  col('mark_px', DOUBLE, 'DOUBLE'),
  col('oracle_px', DOUBLE, 'DOUBLE'),
];

/** Why a funding row cannot be stored, or undefined when it can. */
export function unstorableFunding(r: FundingRow): string | undefined {
  if (typeof r.coin !== 'string' || r.coin.length === 0) return 'coin missing';
  if (!Number.isFinite(r.time) || r.time <= 0) return 'time is not a positive time';
  if (!Number.isFinite(r.fundingRate)) return 'fundingRate is not a finite number';
  return undefined;
}

function monthKey(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${String(d.getUTCMonth() + 1).padStart(2, '0')}`;
}

function monthStart(key: string): number {
  const [y, m] = key.split('-').map(Number);
  return Date.UTC(y, m - 1, 1);
}

function monthDir(dir: string, coin: string, key: string): string {
  return join(kindDir(dir, coin, FUNDING_KIND), `month=${key}`);
}

/** Live funding shards of a coin whose month overlaps [from, to). */
export async function fundingFiles(dir: string, coin: string, from?: number, to?: number): Promise<string[]> {
  const out: string[] = [];
  const kd = kindDir(dir, coin, FUNDING_KIND);
  for (const name of await listDir(kd)) {
    const m = /^month=(\d{4}-\d{2})$/.exec(name);
    if (!m) continue;
    const start = monthStart(m[1]);
    const d = new Date(start);
    const end = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    if ((from !== undefined && end <= from) || (to !== undefined && start >= to)) continue;
    out.push(...(await shardsIn(join(kd, name))));
  }
  return out;
}

/** Store funding rows (the caller serialises calls and holds the connection). */
export async function writeFunding(ctx: StoreContext, rows: FundingRow[]): Promise<FundingWriteResult> {
  const result: FundingWriteResult = { written: 0, duplicates: 0, rejected: 0 };
  const groups = new Map<string, { coin: string; month: string; rows: FundingRow[] }>();
  for (const r of rows) {
    if (unstorableFunding(r)) {
      result.rejected++;
      continue;
    }
    const month = monthKey(r.time);
    const id = `${r.coin}\u0000${month}`;
    let g = groups.get(id);
    if (!g) {
      g = { coin: r.coin, month, rows: [] };
      groups.set(id, g);
    }
    g.rows.push(r);
  }
  if (groups.size === 0) return result;
  ctx.lock.acquire();
  for (const g of groups.values()) {
    const dir = monthDir(ctx.dir, g.coin, g.month);
    const seen = new Set<number>();
    const files = await shardsIn(dir);
    if (files.length > 0) {
      await readChunks(ctx.conn, `SELECT time FROM read_parquet(${fileList(files)})`, (c) => {
        const t = c.num(0);
        for (let r = 0; r < c.rows; r++) seen.add(t[r]);
      });
    }
    const fresh: FundingRow[] = [];
    for (const r of g.rows) {
      if (seen.has(r.time)) {
        result.duplicates++;
        continue;
      }
      seen.add(r.time);
      fresh.push(r);
    }
    if (fresh.length === 0) continue;
    fresh.sort((a, b) => a.time - b.time);
    await writeFundingShard(ctx, dir, fresh);
    result.written += fresh.length;
  }
  return result;
}

async function writeFundingShard(ctx: StoreContext, dir: string, rows: FundingRow[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const name of await listDir(dir)) {
    // We hold the writer lock: a temp file here was left by a writer that crashed.
    if (name.startsWith('.part-') && name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
  }
  const name = `part-${Date.now()}-${process.pid}-${ctx.nextSeq()}.parquet`;
  const tmp = join(dir, `.${name}.tmp`);
  const table = 'cjmm_w_funding';
  await loadTempTable(ctx.conn, table, FUNDING_COLUMNS, rows, (b, rs, k, m) => {
    const [t, fr, pr, mk, or] = b.f64;
    for (let r = 0; r < m; r++) {
      const x = rs[k + r];
      t[r] = x.time;
      fr[r] = x.fundingRate;
      pr[r] = x.premium ?? Number.NaN;
      mk[r] = x.markPx ?? Number.NaN;
      or[r] = x.oraclePx ?? Number.NaN;
    }
  });
  try {
    await ctx.conn.run(`COPY ${table} TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
    fsyncPath(tmp);
    await rename(tmp, join(dir, name));
  } catch (err) {
    await rm(tmp, { force: true });
    throw err;
  } finally {
    await ctx.conn.run(`DROP TABLE IF EXISTS ${table}`);
  }
}

/** Funding rows of one coin with time in [from, to), sorted by time (the caller serialises). */
export async function readFunding(
  ctx: StoreContext,
  coin: string,
  from?: number,
  to?: number,
): Promise<FundingRow[]> {
  const files = await fundingFiles(ctx.dir, coin, from, to);
  if (files.length === 0) return [];
  const where: string[] = [];
  if (from !== undefined) where.push(`time >= ${from}`);
  if (to !== undefined) where.push(`time < ${to}`);
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const out: FundingRow[] = [];
  await readChunks(
    ctx.conn,
    `SELECT time, funding_rate, premium, mark_px, oracle_px FROM read_parquet(${fileList(files)}) ${filter} ORDER BY time`,
    (c, names) => {
      if (names[0] !== 'time') throw new StoreError(`funding shard of ${coin} is not a cjmm store shard`);
      const [t, fr, pr, mk, or] = [c.num(0), c.num(1), c.num(2), c.num(3), c.num(4)];
      for (let r = 0; r < c.rows; r++) {
        const row: FundingRow = { coin, time: t[r], fundingRate: fr[r], premium: pr[r] };
        if (!Number.isNaN(mk[r])) row.markPx = mk[r];
        if (!Number.isNaN(or[r])) row.oraclePx = or[r];
        out.push(row);
      }
    },
  );
  return out;
}

/** Rows, first and last time of a coin's funding (undefined when none). */
export async function fundingSummary(
  ctx: StoreContext,
  coin: string,
): Promise<{ rows: number; start: number; end: number } | undefined> {
  const files = await fundingFiles(ctx.dir, coin);
  if (files.length === 0) return undefined;
  let out = { rows: 0, start: Number.NaN, end: Number.NaN };
  await readChunks(
    ctx.conn,
    `SELECT count(*), min(time), max(time) FROM read_parquet(${fileList(files)})`,
    (c) => {
      out = { rows: c.num(0)[0], start: c.num(1)[0], end: c.num(2)[0] };
    },
  );
  return out;
}
