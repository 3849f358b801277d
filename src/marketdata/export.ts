/**
 * Export one coin and kind of the store to CSV or Parquet, through DuckDB (no rows pass through JS), with
 * the store's own columns (books: `bid_depth, ask_depth, bid_px_0, bid_sz_0, bid_n_0, …`, level 0 = best;
 * funding: `time, funding_rate, premium, mark_px, oracle_px`).
 * Output is written to a temp file and renamed, so an interrupted export never leaves a truncated file
 * under the requested name.
 */
import { rename, rm } from 'node:fs/promises';
import { basename, dirname, extname, join } from 'node:path';
import { type MarketStore, STORE_KINDS, type StoreKind } from './store/index.ts';

export type ExportFormat = 'csv' | 'parquet';

export interface ExportOptions {
  coin: string;
  kind: StoreKind;
  from?: number;
  to?: number;
  out: string;
  format: ExportFormat;
}

export interface ExportResult {
  file: string;
  kind: StoreKind;
  rows: number;
}

const lit = (s: string) => `'${s.replaceAll("'", "''")}'`;

/** Infer the format from the file extension (.csv / .parquet), or undefined. */
export function formatFromPath(path: string): ExportFormat | undefined {
  const ext = extname(path).toLowerCase();
  if (ext === '.csv') return 'csv';
  if (ext === '.parquet' || ext === '.pq') return 'parquet';
  return undefined;
}

/** `eth.csv` + 'trade' → `eth.trade.csv` (used when several kinds are exported at once). */
export function perKindPath(out: string, kind: StoreKind): string {
  const ext = extname(out);
  return join(dirname(out), `${basename(out, ext)}.${kind}${ext}`);
}

export async function exportKind(store: MarketStore, opts: ExportOptions): Promise<ExportResult> {
  const files = await store.files(opts.coin, opts.kind, opts.from, opts.to);
  if (files.length === 0) return { file: opts.out, kind: opts.kind, rows: 0 };
  const where: string[] = [];
  // Funding rows carry their settlement time in `time`; market events their exchange time in `ex_time`.
  const timeCol = opts.kind === 'funding' ? 'time' : 'ex_time';
  if (opts.from !== undefined) where.push(`${timeCol} >= ${opts.from}`);
  if (opts.to !== undefined) where.push(`${timeCol} < ${opts.to}`);
  const src = `read_parquet([${files.map(lit).join(', ')}], union_by_name = true, hive_partitioning = false)`;
  const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
  const order = opts.kind === 'trade' ? 'ex_time, tid' : timeCol;
  const tmp = join(dirname(opts.out), `.${basename(opts.out)}.${process.pid}.tmp`);
  return store.sql(async (conn) => {
    // Times are stored as DOUBLE (ms; receive times keep sub-ms digits): in CSV a whole millisecond is written
    // as an integer (1743502230149, not 1743502230149.0), a fractional one as it is.
    const whole = (c: string) =>
      `CASE WHEN ${c} = trunc(${c}) THEN CAST(CAST(${c} AS BIGINT) AS VARCHAR) ELSE CAST(${c} AS VARCHAR) END AS ${c}`;
    const cols = opts.kind === 'funding' ? [timeCol] : ['ex_time', 'rx_time'];
    const star = opts.format === 'csv' ? `* REPLACE (${cols.map(whole).join(', ')})` : '*';
    const select = `SELECT ${star} FROM ${src} ${filter} ORDER BY ${order}`;
    const fmt = opts.format === 'csv' ? 'FORMAT csv, HEADER true' : 'FORMAT parquet, COMPRESSION zstd';
    try {
      const res = await conn.runAndReadAll(`COPY (${select}) TO ${lit(tmp)} (${fmt})`);
      const rows = Number(res.getRows()[0]?.[0] ?? 0);
      await rename(tmp, opts.out);
      return { file: opts.out, kind: opts.kind, rows };
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
  });
}

/** Export the given kinds (all stored kinds when omitted); several kinds go to `<out>.<kind>.<ext>` files. */
export async function exportData(
  store: MarketStore,
  opts: Omit<ExportOptions, 'kind'> & { kind?: StoreKind },
): Promise<ExportResult[]> {
  if (opts.kind) return [await exportKind(store, { ...opts, kind: opts.kind })];
  const kinds: StoreKind[] = [];
  for (const k of STORE_KINDS) {
    if ((await store.files(opts.coin, k, opts.from, opts.to)).length > 0) kinds.push(k);
  }
  if (kinds.length === 1) return [await exportKind(store, { ...opts, kind: kinds[0] })];
  const out: ExportResult[] = [];
  for (const kind of kinds)
    out.push(await exportKind(store, { ...opts, kind, out: perKindPath(opts.out, kind) }));
  return out;
}
