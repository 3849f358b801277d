/**
 * Events → DuckDB: rows are appended into a temp table through one reused data chunk, column buffers copied
 * into its vectors with one native call per column per 2,048 rows.
 */
import { type DuckDBConnection, DuckDBDataChunk } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type { BboEvent, BookEvent, MarketEvent, TradeEvent } from '../events.ts';
import { type Column, SIDE_ENUM } from './columns.ts';

/*
 * Writing and reading go straight through typed arrays and the raw DuckDB vectors (@duckdb/node-bindings, the
 * exact version @duckdb/node-api pins): one memcpy per column per 2,048 rows instead of a setItem per value, and
 * validity bitmaps built as 32-bit words instead of the per-value BigInt work the vector classes do for
 * nullable columns. The book writer fills its columns straight from the level objects.
 */

const CHUNK_ROWS = 2048;
const VALIDITY_WORDS = CHUNK_ROWS / 32;

/** Per-chunk column buffers; a column uses the one matching its type. */
interface ChunkBuffers {
  f64: Float64Array<ArrayBuffer>[];
  i32: Int32Array<ArrayBuffer>[];
  /** BIGINT as little-endian (lo, hi) 32-bit word pairs: no BigInt allocation per value. */
  i64: Uint32Array<ArrayBuffer>[];
  /** Enum indexes. */
  u8: Uint8Array<ArrayBuffer>[];
  str: (string | null)[][];
  /** Validity bits (1 = valid) for nullable columns, reset to all-valid before each chunk. */
  valid: (Uint32Array<ArrayBuffer> | undefined)[];
}

export type ChunkFiller<T = MarketEvent> = (b: ChunkBuffers, rows: T[], start: number, m: number) => void;

function clearBit(v: Uint32Array<ArrayBuffer>, r: number): void {
  v[r >>> 5] &= ~(1 << (r & 31));
}

function newBuffers(cols: Column[]): ChunkBuffers {
  const b: ChunkBuffers = { f64: [], i32: [], i64: [], u8: [], str: [], valid: [] };
  cols.forEach((c, j) => {
    if (c.sql === 'DOUBLE') b.f64[j] = new Float64Array(CHUNK_ROWS);
    else if (c.sql === 'INTEGER') b.i32[j] = new Int32Array(CHUNK_ROWS);
    else if (c.sql === 'BIGINT') b.i64[j] = new Uint32Array(2 * CHUNK_ROWS);
    else if (c.sql === SIDE_ENUM) b.u8[j] = new Uint8Array(CHUNK_ROWS);
    else b.str[j] = new Array(CHUNK_ROWS).fill(null);
    if (c.nullable) b.valid[j] = new Uint32Array(VALIDITY_WORDS);
  });
  return b;
}

/**
 * Append events into a fresh temp table through one reused data chunk, column buffers copied into its vectors
 * with one native call per column per 2,048 rows.
 */
export async function loadTempTable<T>(
  conn: DuckDBConnection,
  table: string,
  cols: Column[],
  rows: T[],
  fill: ChunkFiller<T>,
): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${table} (${cols.map((c) => `"${c.name}" ${c.sql}`).join(', ')})`,
  );
  const appender = await conn.createAppender(table);
  try {
    const chunk = DuckDBDataChunk.create(cols.map((c) => c.type));
    const vectors = cols.map((_, j) => duckdb.data_chunk_get_vector(chunk.chunk, j));
    const buf = newBuffers(cols);
    // A vector whose validity was ever written keeps it across chunks: rewrite it every chunk from then on.
    const validityWritten = new Array<boolean>(cols.length).fill(false);
    for (let k = 0; k < rows.length; k += CHUNK_ROWS) {
      const m = Math.min(CHUNK_ROWS, rows.length - k);
      for (const v of buf.valid) v?.fill(0xffffffff);
      fill(buf, rows, k, m);
      for (let j = 0; j < cols.length; j++) {
        const vec = vectors[j];
        const sqlType = cols[j].sql;
        if (sqlType === 'DOUBLE') duckdb.copy_data_to_vector(vec, 0, buf.f64[j].buffer, 0, m * 8);
        else if (sqlType === 'INTEGER') duckdb.copy_data_to_vector(vec, 0, buf.i32[j].buffer, 0, m * 4);
        else if (sqlType === 'BIGINT') duckdb.copy_data_to_vector(vec, 0, buf.i64[j].buffer, 0, m * 8);
        else if (sqlType === SIDE_ENUM) duckdb.copy_data_to_vector(vec, 0, buf.u8[j].buffer, 0, m);
        const valid = buf.valid[j];
        if (sqlType === 'VARCHAR') {
          const s = buf.str[j];
          for (let r = 0; r < m; r++) {
            const x = s[r];
            if (x !== null) duckdb.vector_assign_string_element(vec, r, x);
            else if (valid) clearBit(valid, r);
          }
        }
        if (valid && (validityWritten[j] || hasNull(valid, m))) {
          duckdb.vector_ensure_validity_writable(vec);
          duckdb.copy_data_to_vector_validity(vec, 0, valid.buffer, 0, Math.ceil(m / 64) * 8);
          validityWritten[j] = true;
        }
      }
      chunk.rowCount = m;
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

function hasNull(valid: Uint32Array, m: number): boolean {
  const words = Math.ceil(m / 32);
  for (let w = 0; w < words; w++) if (valid[w] !== 0xffffffff) return true;
  return false;
}

export const fillTrades: ChunkFiller = (b, rows, k, m) => {
  const [ex, rx, px, sz] = [b.f64[0], b.f64[1], b.f64[2], b.f64[3]];
  const side = b.u8[4];
  const tid = b.i64[5];
  const [hash, buyer, seller] = [b.str[6], b.str[7], b.str[8]];
  for (let r = 0; r < m; r++) {
    const t = rows[k + r] as TradeEvent;
    ex[r] = t.exTime;
    rx[r] = t.rxTime;
    px[r] = t.px;
    sz[r] = t.sz;
    side[r] = t.side === 'sell' ? 1 : 0;
    // tid is a non-negative safe integer (checked by `unstorable`).
    tid[2 * r] = t.tid % 0x1_0000_0000;
    tid[2 * r + 1] = Math.floor(t.tid / 0x1_0000_0000);
    hash[r] = t.hash ?? null;
    buyer[r] = t.buyer ?? null;
    seller[r] = t.seller ?? null;
  }
};

export const fillBbo: ChunkFiller = (b, rows, k, m) => {
  const [ex, rx, bpx, bsz, apx, asz] = b.f64;
  for (let r = 0; r < m; r++) {
    const e = rows[k + r] as BboEvent;
    ex[r] = e.exTime;
    rx[r] = e.rxTime;
    bpx[r] = e.bidPx;
    bsz[r] = e.bidSz;
    apx[r] = e.askPx;
    asz[r] = e.askSz;
  }
};

export function makeBookFiller(depth: number): ChunkFiller {
  return (b, rows, k, m) => {
    const ex = b.f64[0];
    const rx = b.f64[1];
    const bd = b.i32[2];
    const ad = b.i32[3];
    for (let r = 0; r < m; r++) {
      const e = rows[k + r] as BookEvent;
      ex[r] = e.exTime;
      rx[r] = e.rxTime;
      bd[r] = e.bids.length;
      ad[r] = e.asks.length;
      for (let s = 0; s < 2; s++) {
        const levels = s === 0 ? e.bids : e.asks;
        const n = levels.length;
        // Column of level i of this side: 4 + 6i (+3 for asks); px, sz, n.
        for (let i = 0, j = 4 + 3 * s; i < depth; i++, j += 6) {
          if (i < n) {
            const l = levels[i];
            b.f64[j][r] = l.px;
            b.f64[j + 1][r] = l.sz;
            b.i32[j + 2][r] = l.n;
          } else {
            // Levels beyond this book's depth are NULL (distinct from NaN, and cheap in Parquet).
            clearBit(b.valid[j] as Uint32Array<ArrayBuffer>, r);
            clearBit(b.valid[j + 1] as Uint32Array<ArrayBuffer>, r);
            clearBit(b.valid[j + 2] as Uint32Array<ArrayBuffer>, r);
          }
        }
      }
    }
  };
}

export function bookDepth(rows: MarketEvent[]): number {
  let depth = 0;
  for (const ev of rows) {
    const b = ev as BookEvent;
    depth = Math.max(depth, b.bids.length, b.asks.length);
  }
  return depth;
}
