/**
 * Where `cjmm venue serve` gets a funding series: a JSON file (rows as Hyperliquid's `fundingHistory`
 * answers them: time, coin, fundingRate, premium) and/or the store's `funding` kind when the data layer has
 * one (`<store>/coin=<C>/kind=funding/**.parquet`, rows time ms, coin, fundingRate as an hourly fraction,
 * premium; snake_case column names are read too). A store without that kind simply has no series.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { type FundingRow, parseFundingRows } from './funding.ts';

/** Rows of a JSON funding file (an array of rows or `{rows: [...]}`); errors name the file. */
export function readFundingFile(path: string): FundingRow[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
  try {
    return parseFundingRows(json);
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`);
  }
}

/** The store folder of one coin's funding kind, if the store has one. */
export function storeFundingDir(store: string, coin: string): string | undefined {
  const dir = join(store, `coin=${encodeURIComponent(coin)}`, 'kind=funding');
  return existsSync(dir) && statSync(dir).isDirectory() ? dir : undefined;
}

/** Funding rows of `coins` from the store's `funding` kind (empty when the store has none). */
export async function readStoreFunding(store: string, coins: string[]): Promise<FundingRow[]> {
  const dirs = coins.map((c) => [c, storeFundingDir(store, c)] as const).filter((x) => x[1] !== undefined);
  if (dirs.length === 0) return [];
  const inst = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await inst.connect();
  try {
    const out: FundingRow[] = [];
    for (const [coin, dir] of dirs) {
      const glob = `${(dir as string).replaceAll("'", "''")}/**/*.parquet`;
      const reader = await conn.runAndReadAll(
        `SELECT * FROM read_parquet('${glob}', hive_partitioning = false)`,
      );
      const names = reader.columnNames();
      const col = (...cands: string[]) => {
        const i = names.findIndex((n) => cands.includes(n));
        return i < 0 ? undefined : reader.getColumns()[i];
      };
      const time = col('time', 'ex_time');
      const rate = col('fundingRate', 'funding_rate');
      const premium = col('premium');
      if (!time || !rate) {
        throw new Error(
          `${dir}: funding rows need a time and a fundingRate column; found ${names.join(', ')}`,
        );
      }
      for (let r = 0; r < reader.currentRowCount; r++) {
        const t = Number(time[r]);
        const f = Number(rate[r]);
        if (!Number.isFinite(t) || !Number.isFinite(f)) continue;
        out.push({ time: t, coin, fundingRate: f, premium: premium ? Number(premium[r]) || 0 : 0 });
      }
    }
    return out;
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}
