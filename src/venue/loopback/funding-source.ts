/**
 * Where `cjmm venue serve` gets a funding series: a JSON file (rows as Hyperliquid's `fundingHistory`
 * answers them: time, coin, fundingRate, premium) and/or the store's `funding` kind (`cjmm data download
 * --kinds funding`), read through the store's one read path, `queryFunding`. A source that is not a cjmm
 * store (e.g. a seed-collector folder), or a store without funding rows, simply has no series.
 */
import { readFileSync } from 'node:fs';
import { isStore, openStore, queryFunding } from '../../marketdata/store/index.ts';
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

/** Funding rows of `coins` from the store's `funding` kind (empty when `dir` is no store or has none). */
export async function readStoreFunding(dir: string, coins: string[]): Promise<FundingRow[]> {
  if (!(await isStore(dir))) return [];
  const store = await openStore(dir);
  try {
    const out: FundingRow[] = [];
    for (const coin of coins) {
      for (const r of await queryFunding(store, coin)) {
        out.push({
          time: r.time,
          coin,
          fundingRate: r.fundingRate,
          premium: Number.isFinite(r.premium) ? r.premium : 0,
        });
      }
    }
    return out;
  } finally {
    await store.close();
  }
}
