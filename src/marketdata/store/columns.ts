/**
 * The store's Parquet schema, one column list per kind (times in ms since epoch, DOUBLE so fractional receive
 * times survive):
 *   trade: ex_time, rx_time, px, sz, side ('buy'|'sell' aggressor), tid BIGINT, hash, buyer, seller
 *   bbo:   ex_time, rx_time, bid_px, bid_sz, ask_px, ask_sz (NaN = side missing)
 *   book:  ex_time, rx_time, bid_depth, ask_depth, then per level i (0 = best): bid_px_i, bid_sz_i, bid_n_i,
 *          ask_px_i, ask_sz_i, ask_n_i — wide columns like the seed collector's (NULL past a book's depth).
 *          Wide rather than list columns: Parquet lists made the recorder's writes ~3× slower.
 */
import { BIGINT, DOUBLE, type DuckDBType, ENUM, INTEGER, VARCHAR } from '@duckdb/node-api';

export interface Column {
  name: string;
  type: DuckDBType;
  /** SIDE_ENUM is a temp-table-only type: one byte per row to fill, written to Parquet as a string. */
  sql: 'DOUBLE' | 'INTEGER' | 'BIGINT' | 'VARCHAR' | typeof SIDE_ENUM;
  nullable?: boolean;
}

export const col = (name: string, type: DuckDBType, sql: Column['sql'], nullable = false): Column => ({
  name,
  type,
  sql,
  nullable,
});

export const SIDE_ENUM = "ENUM('buy', 'sell')";
const SIDE_TYPE = ENUM(['buy', 'sell']);

export const TRADE_COLUMNS: Column[] = [
  col('ex_time', DOUBLE, 'DOUBLE'),
  col('rx_time', DOUBLE, 'DOUBLE'),
  col('px', DOUBLE, 'DOUBLE'),
  col('sz', DOUBLE, 'DOUBLE'),
  col('side', SIDE_TYPE, SIDE_ENUM),
  col('tid', BIGINT, 'BIGINT'),
  col('hash', VARCHAR, 'VARCHAR', true),
  col('buyer', VARCHAR, 'VARCHAR', true),
  col('seller', VARCHAR, 'VARCHAR', true),
];

export const BBO_COLUMNS: Column[] = [
  col('ex_time', DOUBLE, 'DOUBLE'),
  col('rx_time', DOUBLE, 'DOUBLE'),
  col('bid_px', DOUBLE, 'DOUBLE'),
  col('bid_sz', DOUBLE, 'DOUBLE'),
  col('ask_px', DOUBLE, 'DOUBLE'),
  col('ask_sz', DOUBLE, 'DOUBLE'),
];

export function bookColumns(depth: number): Column[] {
  const cols = [
    col('ex_time', DOUBLE, 'DOUBLE'),
    col('rx_time', DOUBLE, 'DOUBLE'),
    col('bid_depth', INTEGER, 'INTEGER'),
    col('ask_depth', INTEGER, 'INTEGER'),
  ];
  for (let i = 0; i < depth; i++) {
    for (const s of ['bid', 'ask']) {
      cols.push(col(`${s}_px_${i}`, DOUBLE, 'DOUBLE', true), col(`${s}_sz_${i}`, DOUBLE, 'DOUBLE', true));
      cols.push(col(`${s}_n_${i}`, INTEGER, 'INTEGER', true));
    }
  }
  return cols;
}
