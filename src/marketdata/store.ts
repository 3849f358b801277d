/**
 * The market-data store: Parquet shards in Hive-style folders, read and written through DuckDB.
 *
 *   <dir>/cjmm-store.json                                     marker (layout version)
 *   <dir>/coin=<C>/kind=<book|trade|bbo>/date=<YYYY-MM-DD>/hour=<HH>/part-<ms>-<pid>-<seq>.parquet
 *   <dir>/coin=<C>/gaps.json                                  gap records (written atomically)
 *   …/hour=<HH>/part-compact-<…>.parquet + compacted.json      a closed hour merged by compact() (see there)
 *
 * Shards are partitioned by EXCHANGE time. Each shard is written to a dot-prefixed temp file, fsynced and
 * renamed, so readers (who only ever list `part-*.parquet`) never see a half-written file and a crash
 * leaves at most an ignored temp file. Duplicates are removed on write: trades by (tid, exTime), books and
 * bbo by exTime, against the batch itself and everything already stored in that hour, so re-importing or
 * replaying after a reconnect never stores a row twice. One writer process at a time (a lock file says so);
 * any number of readers.
 *
 * Columns (times in ms since epoch, DOUBLE so fractional receive times survive):
 *   trade: ex_time, rx_time, px, sz, side ('buy'|'sell' aggressor), tid BIGINT, hash, buyer, seller
 *   bbo:   ex_time, rx_time, bid_px, bid_sz, ask_px, ask_sz (NaN = side missing)
 *   book:  ex_time, rx_time, bid_depth, ask_depth, then per level i (0 = best): bid_px_i, bid_sz_i, bid_n_i,
 *          ask_px_i, ask_sz_i, ask_n_i — wide columns like the seed collector's (NULL past a book's depth).
 *          Wide rather than list columns: Parquet lists made the recorder's writes ~3× slower.
 */
import { closeSync, fsyncSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  BIGINT,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  DuckDBTypeId,
  ENUM,
  INTEGER,
  VARCHAR,
} from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';
import type {
  BboEvent,
  BookEvent,
  BookLevel,
  Gap,
  MarketEvent,
  MarketEventKind,
  TradeEvent,
} from './events.ts';

export const MARKET_EVENT_KINDS: readonly MarketEventKind[] = ['book', 'trade', 'bbo'];
export const STORE_MARKER = 'cjmm-store.json';
const STORE_VERSION = 1;
const LOCK_FILE = '.writer.lock';
/** Partitions whose dedup keys stay cached in memory (the recorder writes to the current hour or two). */
const KEY_CACHE_PARTITIONS = 12;

export interface WriteResult {
  written: Record<MarketEventKind, number>;
  duplicates: number;
  /** Gap records newly stored (ones already stored are not counted). */
  gaps: number;
  /** Events refused as unstorable (no coin, non-finite or non-positive times, trade tid not an integer). */
  rejected: number;
}

/** Why an event cannot be stored, or undefined when it can. */
export function unstorable(ev: MarketEvent): string | undefined {
  if (typeof ev.coin !== 'string' || ev.coin.length === 0) return 'coin missing';
  if (!Number.isFinite(ev.exTime) || ev.exTime <= 0) return 'exTime is not a positive time';
  if (!Number.isFinite(ev.rxTime)) return 'rxTime is not finite';
  if (ev.kind === 'trade' && (!Number.isSafeInteger(ev.tid) || ev.tid < 0))
    return 'tid is not a non-negative integer';
  if (ev.kind !== 'trade' && ev.kind !== 'book' && ev.kind !== 'bbo') return 'unknown kind';
  if (ev.kind === 'book') {
    for (const side of [ev.bids, ev.asks]) {
      if (!Array.isArray(side)) return 'book side is not an array';
      for (const l of side) {
        // Order counts go to an INTEGER column; a level's price and size must be real numbers.
        if (!Number.isInteger(l.n) || l.n < 0 || l.n > 2 ** 31 - 1) return 'level n is not a count';
        if (Number.isNaN(l.px) || Number.isNaN(l.sz)) return 'level px/sz is NaN';
      }
    }
  }
  return undefined;
}

export interface CompactResult {
  /** Partitions (coin, kind, hour) merged into one file. */
  partitions: number;
  /** Shard files those partitions had before. */
  shardsBefore: number;
  rows: number;
}

/** How long after an hour ends its partition may still receive late events (and is not compacted). */
export const COMPACT_GRACE_MS = 10 * 60_000;
/**
 * Per partition, names the merged file and the shards it replaces. Readers take the merged file only when the
 * manifest names it and skip the replaced shards, so switching is one atomic rename of this file.
 */
const COMPACT_MANIFEST = 'compacted.json';
/** Merged files are shards too (plain `part-*.parquet` globs see them once the replaced ones are deleted). */
const COMPACT_PREFIX = 'part-compact-';

interface CompactManifest {
  file: string;
  replaces: string[];
}

export interface QueryOptions {
  coin: string;
  kinds?: MarketEventKind[];
  /** Exchange time, ms, inclusive. */
  from?: number;
  /** Exchange time, ms, exclusive. */
  to?: number;
}

export interface QueryResult {
  /** Sorted by exTime; ties book, bbo, trade; trades of one time by tid. */
  events: MarketEvent[];
  /** Gaps of this coin overlapping [from, to) that affect the requested kinds. */
  gaps: Gap[];
}

export interface StoreSummaryRow {
  coin: string;
  kind: MarketEventKind;
  rows: number;
  /** First and last exchange time, ms (NaN when no rows). */
  start: number;
  end: number;
  /** Gaps affecting this kind (kind-specific and 'all'). */
  gaps: Gap[];
}

export interface MarketStore {
  readonly dir: string;
  write(events: MarketEvent[], gaps?: Gap[]): Promise<WriteResult>;
  query(opts: QueryOptions): Promise<QueryResult>;
  summary(): Promise<StoreSummaryRow[]>;
  coins(): Promise<string[]>;
  gaps(coin: string): Promise<Gap[]>;
  /** Shard files of one coin and kind overlapping [from, to) by hour (for export and ad-hoc DuckDB queries). */
  files(coin: string, kind: MarketEventKind, from?: number, to?: number): Promise<string[]>;
  /**
   * Merge each closed hour's shards (of one coin, or all) into one file per partition; crash-safe, readers never
   * see a row twice. An hour is closed `COMPACT_GRACE_MS` after it ends (late events of a live recorder).
   */
  compact(opts?: { coin?: string; now?: number }): Promise<CompactResult>;
  /** The store's DuckDB connection, for callers that run their own SQL over `files()` (serialised). */
  sql<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** A user-facing store problem (wrong folder, locked, closed). */
export class StoreError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreError';
  }
}

/** The store is being written by another live process. */
export class StoreLockedError extends StoreError {
  constructor(dir: string, pid: number) {
    super(
      `store ${dir} is being written by process ${pid}; stop it first (or delete ${join(dir, LOCK_FILE)} if that process is gone)`,
    );
    this.name = 'StoreLockedError';
  }
}

// ---------------------------------------------------------------------------------------------------------
// Paths

/** Coin names can hold characters that are not path-safe (spot "@107", HIP-3 "xyz:TSLA"). */
export function coinDirName(coin: string): string {
  return `coin=${encodeURIComponent(coin)}`;
}

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** UTC hour bucket of an exchange time: the partition key. */
export function hourBucket(ms: number): number {
  return Math.floor(ms / 3_600_000);
}

function bucketDirs(bucket: number): { date: string; hour: string } {
  const d = new Date(bucket * 3_600_000);
  return {
    date: `date=${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`,
    hour: `hour=${pad2(d.getUTCHours())}`,
  };
}

function parseBucket(dateDir: string, hourDir: string): number | undefined {
  const dm = /^date=(\d{4})-(\d{2})-(\d{2})$/.exec(dateDir);
  const hm = /^hour=(\d{2})$/.exec(hourDir);
  if (!dm || !hm) return undefined;
  return hourBucket(Date.UTC(Number(dm[1]), Number(dm[2]) - 1, Number(dm[3]), Number(hm[1])));
}

function isShard(name: string): boolean {
  return name.startsWith('part-') && name.endsWith('.parquet');
}

async function readManifest(dir: string): Promise<CompactManifest | undefined> {
  try {
    const m = JSON.parse(await readFile(join(dir, COMPACT_MANIFEST), 'utf8')) as CompactManifest;
    if (typeof m?.file !== 'string' || !Array.isArray(m.replaces)) {
      throw new StoreError(
        `${join(dir, COMPACT_MANIFEST)} is not a compaction manifest; restore or delete it`,
      );
    }
    return m;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Write a file durably and atomically: temp file, fsync, rename. */
async function writeFileAtomic(path: string, tmp: string, text: string): Promise<void> {
  await writeFile(tmp, text);
  fsyncPath(tmp);
  await rename(tmp, path);
}

function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** SQL string literal. */
function lit(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function fileList(files: string[]): string {
  return `[${files.map(lit).join(', ')}]`;
}

// ---------------------------------------------------------------------------------------------------------
// Row encoding (events → DuckDB data chunks) and decoding (result vectors → events)

interface Column {
  name: string;
  type: DuckDBType;
  /** SIDE_ENUM is a temp-table-only type: one byte per row to fill, written to Parquet as a string. */
  sql: 'DOUBLE' | 'INTEGER' | 'BIGINT' | 'VARCHAR' | typeof SIDE_ENUM;
  nullable?: boolean;
}

const col = (name: string, type: DuckDBType, sql: Column['sql'], nullable = false): Column => ({
  name,
  type,
  sql,
  nullable,
});

const SIDE_ENUM = "ENUM('buy', 'sell')";
const SIDE_TYPE = ENUM(['buy', 'sell']);

const TRADE_COLUMNS: Column[] = [
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

const BBO_COLUMNS: Column[] = [
  col('ex_time', DOUBLE, 'DOUBLE'),
  col('rx_time', DOUBLE, 'DOUBLE'),
  col('bid_px', DOUBLE, 'DOUBLE'),
  col('bid_sz', DOUBLE, 'DOUBLE'),
  col('ask_px', DOUBLE, 'DOUBLE'),
  col('ask_sz', DOUBLE, 'DOUBLE'),
];

function bookColumns(depth: number): Column[] {
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

type ChunkFiller = (b: ChunkBuffers, rows: MarketEvent[], start: number, m: number) => void;

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
async function loadTempTable(
  conn: DuckDBConnection,
  table: string,
  cols: Column[],
  rows: MarketEvent[],
  fill: ChunkFiller,
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

const fillTrades: ChunkFiller = (b, rows, k, m) => {
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

const fillBbo: ChunkFiller = (b, rows, k, m) => {
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

function makeBookFiller(depth: number): ChunkFiller {
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

function bookDepth(rows: MarketEvent[]): number {
  let depth = 0;
  for (const ev of rows) {
    const b = ev as BookEvent;
    depth = Math.max(depth, b.bids.length, b.asks.length);
  }
  return depth;
}

/**
 * One result chunk's columns, read from the raw vectors: numbers as Float64Array (a zero-copy view for
 * DOUBLE), validity as 32-bit words (undefined = all valid), strings through the vector classes.
 */
class ChunkColumns {
  readonly rows: number;
  private readonly chunk: DuckDBDataChunk;
  private readonly typeIds: DuckDBTypeId[];

  constructor(chunk: DuckDBDataChunk, typeIds: DuckDBTypeId[]) {
    this.chunk = chunk;
    this.rows = chunk.rowCount;
    this.typeIds = typeIds;
  }

  private raw(j: number): duckdb.Vector {
    return duckdb.data_chunk_get_vector(this.chunk.chunk, j);
  }

  /** Numeric column as doubles; NULLs come out as NaN. */
  num(j: number): Float64Array {
    const n = this.rows;
    const vec = this.raw(j);
    const type = this.typeIds[j];
    let out: Float64Array;
    if (type === DuckDBTypeId.DOUBLE) {
      const bytes = duckdb.vector_get_data(vec, n * 8);
      out =
        bytes.byteOffset % 8 === 0
          ? new Float64Array(bytes.buffer, bytes.byteOffset, n)
          : new Float64Array(bytes.slice().buffer, 0, n);
    } else if (type === DuckDBTypeId.INTEGER) {
      const bytes = duckdb.vector_get_data(vec, n * 4);
      const src =
        bytes.byteOffset % 4 === 0
          ? new Int32Array(bytes.buffer, bytes.byteOffset, n)
          : new Int32Array(bytes.slice().buffer, 0, n);
      out = Float64Array.from(src);
    } else if (type === DuckDBTypeId.BIGINT) {
      const bytes = duckdb.vector_get_data(vec, n * 8);
      const w =
        bytes.byteOffset % 4 === 0
          ? new Int32Array(bytes.buffer, bytes.byteOffset, 2 * n)
          : new Int32Array(bytes.slice().buffer, 0, 2 * n);
      out = new Float64Array(n);
      // Exact for |x| < 2^53 (tids and counts): lo word unsigned plus signed hi word × 2^32.
      for (let r = 0; r < n; r++) out[r] = (w[2 * r] >>> 0) + w[2 * r + 1] * 0x1_0000_0000;
    } else {
      // Anything else (a foreign shard): the generic, slower path.
      const v = this.chunk.getColumnVector(j);
      out = new Float64Array(n);
      for (let r = 0; r < n; r++) {
        const x = v.getItem(r);
        out[r] = x === null ? Number.NaN : Number(x);
      }
      return out;
    }
    const valid = this.validity(j);
    if (valid) {
      // Never write into DuckDB's own memory.
      if (type === DuckDBTypeId.DOUBLE) out = out.slice();
      for (let r = 0; r < n; r++) if (!isValid(valid, r)) out[r] = Number.NaN;
    }
    return out;
  }

  /** Order-count column: Int32 (NULL → 0, "not known") when stored as INTEGER, else as `num`. */
  count(j: number): Int32Array | Float64Array {
    if (this.typeIds[j] !== DuckDBTypeId.INTEGER) return this.num(j);
    const n = this.rows;
    const bytes = duckdb.vector_get_data(this.raw(j), n * 4);
    const valid = this.validity(j);
    if (!valid && bytes.byteOffset % 4 === 0) return new Int32Array(bytes.buffer, bytes.byteOffset, n);
    const out = new Int32Array(bytes.slice(0, n * 4).buffer, 0, n);
    if (valid) for (let r = 0; r < n; r++) if (!isValid(valid, r)) out[r] = 0;
    return out;
  }

  validity(j: number): Uint32Array | undefined {
    const bytes = duckdb.vector_get_validity(this.raw(j), Math.ceil(this.rows / 64) * 8);
    if (!bytes) return undefined;
    return bytes.byteOffset % 4 === 0
      ? new Uint32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4)
      : new Uint32Array(bytes.slice().buffer);
  }

  /** String column (null for NULL). */
  str(j: number): (string | null)[] {
    const v = this.chunk.getColumnVector(j);
    const out = new Array<string | null>(this.rows);
    for (let r = 0; r < this.rows; r++) out[r] = v.getItem(r) as string | null;
    return out;
  }
}

function isValid(valid: Uint32Array, r: number): boolean {
  return (valid[r >>> 5] & (1 << (r & 31))) !== 0;
}

async function readChunks(
  conn: DuckDBConnection,
  sql: string,
  onChunk: (cols: ChunkColumns, names: string[]) => void,
): Promise<void> {
  // Streamed: chunks come straight from the scan instead of a result DuckDB first materialises in full.
  const result = await conn.stream(sql);
  const names = result.columnNames();
  const typeIds = result.columnTypes().map((t) => t.typeId);
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    onChunk(new ChunkColumns(chunk, typeIds), names);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Dedup keys

/**
 * Identities already stored in one partition. Numbers only (no per-row strings, which cost GC time at
 * recorder rates): books/bbo by exTime; trades by tid → exTime (several times for one tid, rare, in a list).
 */
class PartitionKeys {
  private readonly times = new Set<number>();
  private readonly trades = new Map<number, number | number[]>();

  has(ev: MarketEvent): boolean {
    if (ev.kind !== 'trade') return this.times.has(ev.exTime);
    const t = this.trades.get(ev.tid);
    if (t === undefined) return false;
    return typeof t === 'number' ? t === ev.exTime : t.includes(ev.exTime);
  }

  add(ev: MarketEvent): void {
    if (ev.kind !== 'trade') this.times.add(ev.exTime);
    else this.addTrade(ev.tid, ev.exTime);
  }

  addTime(exTime: number): void {
    this.times.add(exTime);
  }

  addTrade(tid: number, exTime: number): void {
    const t = this.trades.get(tid);
    if (t === undefined) this.trades.set(tid, exTime);
    else if (typeof t === 'number') {
      if (t !== exTime) this.trades.set(tid, [t, exTime]);
    } else if (!t.includes(exTime)) t.push(exTime);
  }

  delete(ev: MarketEvent): void {
    if (ev.kind !== 'trade') {
      this.times.delete(ev.exTime);
      return;
    }
    const t = this.trades.get(ev.tid);
    if (t === ev.exTime) this.trades.delete(ev.tid);
    else if (Array.isArray(t)) {
      const i = t.indexOf(ev.exTime);
      if (i >= 0) t.splice(i, 1);
    }
  }
}

function gapKey(g: Gap): string {
  return `${g.kind}|${g.start}|${g.end}`;
}

function byExTime(a: MarketEvent, b: MarketEvent): number {
  if (a.exTime !== b.exTime) return a.exTime - b.exTime;
  if (a.kind === 'trade' && b.kind === 'trade') return a.tid - b.tid;
  return 0;
}

function isSorted(evs: MarketEvent[]): boolean {
  for (let i = 1; i < evs.length; i++) if (byExTime(evs[i - 1], evs[i]) > 0) return false;
  return true;
}

const KIND_RANK: Record<MarketEventKind, number> = { book: 0, bbo: 1, trade: 2 };

/** Merge per-kind sorted arrays into one sorted stream (ties: book, bbo, trade). */
export function mergeSorted(lists: MarketEvent[][]): MarketEvent[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length === 0) return [];
  if (nonEmpty.length === 1) return nonEmpty[0];
  const out: MarketEvent[] = new Array(nonEmpty.reduce((s, l) => s + l.length, 0));
  const idx = new Array(nonEmpty.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let best = -1;
    for (let i = 0; i < nonEmpty.length; i++) {
      if (idx[i] >= nonEmpty[i].length) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const a = nonEmpty[i][idx[i]];
      const b = nonEmpty[best][idx[best]];
      if (a.exTime < b.exTime || (a.exTime === b.exTime && KIND_RANK[a.kind] < KIND_RANK[b.kind])) best = i;
    }
    out[o] = nonEmpty[best][idx[best]++];
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------

class ParquetStore implements MarketStore {
  readonly dir: string;
  private readonly instance: DuckDBInstance;
  private readonly conn: DuckDBConnection;
  private queue: Promise<unknown> = Promise.resolve();
  private readonly keyCache = new Map<string, PartitionKeys>();
  private lockHeld = false;
  private seq = 0;
  private closed = false;

  constructor(dir: string, instance: DuckDBInstance, conn: DuckDBConnection) {
    this.dir = dir;
    this.instance = instance;
    this.conn = conn;
  }

  /** Serialise every use of the connection (DuckDB connections are not re-entrant across awaits). */
  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new StoreError(`store ${this.dir} is closed`));
    const run = this.queue.then(fn, fn);
    this.queue = run.catch(() => undefined);
    return run;
  }

  sql<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    return this.exclusive(() => fn(this.conn));
  }

  private acquireLock(): void {
    if (this.lockHeld) return;
    const path = join(this.dir, LOCK_FILE);
    try {
      const fd = openSync(path, 'wx');
      writeFileSync(fd, String(process.pid));
      closeSync(fd);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && pid !== process.pid && processAlive(pid)) {
        throw new StoreLockedError(this.dir, pid);
      }
      // Stale lock from a process that is gone: take it over.
      writeFileSync(path, String(process.pid));
    }
    this.lockHeld = true;
  }

  private partitionDir(coin: string, kind: MarketEventKind, bucket: number): string {
    const { date, hour } = bucketDirs(bucket);
    return join(this.dir, coinDirName(coin), `kind=${kind}`, date, hour);
  }

  /**
   * The live shards of a partition: `part-*.parquet` not replaced by a compaction, plus the merged file the
   * compaction manifest names. The manifest is read before and after listing; if a compaction switched it in
   * between, list again (so a reader never mixes the two generations).
   */
  private async shardsIn(dir: string): Promise<string[]> {
    for (let attempt = 0; ; attempt++) {
      const before = await readManifest(dir);
      const names = await listDir(dir);
      const m = before || names.includes(COMPACT_MANIFEST) ? await readManifest(dir) : undefined;
      if (attempt < 5 && JSON.stringify(m) !== JSON.stringify(before)) continue;
      const replaced = new Set(m?.replaces ?? []);
      return names
        .filter((n) => isShard(n) && !replaced.has(n) && (!n.startsWith(COMPACT_PREFIX) || n === m?.file))
        .map((f) => join(dir, f));
    }
  }

  /** Dedup keys already stored in one partition (cached; this process is the only writer). */
  private async partitionKeys(dir: string, kind: MarketEventKind): Promise<PartitionKeys> {
    let keys = this.keyCache.get(dir);
    if (keys) {
      // Refresh LRU position.
      this.keyCache.delete(dir);
      this.keyCache.set(dir, keys);
      return keys;
    }
    keys = new PartitionKeys();
    // We hold the writer lock, so any temp file here was left by a writer that crashed: remove it.
    for (const name of await listDir(dir)) {
      if (name.startsWith('.part-') && name.endsWith('.tmp')) await rm(join(dir, name), { force: true });
    }
    const files = await this.shardsIn(dir);
    if (files.length > 0) {
      const cols = kind === 'trade' ? 'tid, ex_time' : 'ex_time';
      const set = keys;
      await readChunks(this.conn, `SELECT ${cols} FROM read_parquet(${fileList(files)})`, (c) => {
        const a = c.num(0);
        const b = kind === 'trade' ? c.num(1) : a;
        for (let r = 0; r < c.rows; r++) {
          if (kind === 'trade') set.addTrade(a[r], b[r]);
          else set.addTime(a[r]);
        }
      });
    }
    this.keyCache.set(dir, keys);
    while (this.keyCache.size > KEY_CACHE_PARTITIONS) {
      const oldest = this.keyCache.keys().next().value as string;
      this.keyCache.delete(oldest);
    }
    return keys;
  }

  write(events: MarketEvent[], gaps: Gap[] = []): Promise<WriteResult> {
    return this.exclusive(async () => {
      const result: WriteResult = {
        written: { book: 0, trade: 0, bbo: 0 },
        duplicates: 0,
        gaps: 0,
        rejected: 0,
      };
      if (events.length === 0 && gaps.length === 0) return result;
      this.acquireLock();
      // Group by partition.
      const groups = new Map<
        string,
        { coin: string; kind: MarketEventKind; bucket: number; rows: MarketEvent[] }
      >();
      // Consecutive events mostly share a partition: reuse the last group without building its key.
      let last: { coin: string; kind: MarketEventKind; bucket: number; rows: MarketEvent[] } | undefined;
      for (const ev of events) {
        if (unstorable(ev)) {
          result.rejected++;
          continue;
        }
        const bucket = hourBucket(ev.exTime);
        let g = last;
        if (!g || g.bucket !== bucket || g.kind !== ev.kind || g.coin !== ev.coin) {
          const id = `${ev.coin}\u0000${ev.kind}\u0000${bucket}`;
          g = groups.get(id);
          if (!g) {
            g = { coin: ev.coin, kind: ev.kind, bucket, rows: [] };
            groups.set(id, g);
          }
          last = g;
        }
        g.rows.push(ev);
      }
      for (const g of groups.values()) {
        const dir = this.partitionDir(g.coin, g.kind, g.bucket);
        const keys = await this.partitionKeys(dir, g.kind);
        const fresh: MarketEvent[] = [];
        for (const ev of g.rows) {
          if (keys.has(ev)) {
            result.duplicates++;
            continue;
          }
          keys.add(ev);
          fresh.push(ev);
        }
        if (fresh.length === 0) continue;
        if (!isSorted(fresh)) fresh.sort(byExTime);
        try {
          await this.writeShard(dir, g.kind, fresh);
        } catch (err) {
          // Nothing was stored: forget the keys we optimistically added.
          for (const ev of fresh) keys.delete(ev);
          throw err;
        }
        result.written[g.kind] += fresh.length;
      }
      result.gaps = await this.addGaps(gaps);
      return result;
    });
  }

  private async writeShard(dir: string, kind: MarketEventKind, rows: MarketEvent[]): Promise<void> {
    await mkdir(dir, { recursive: true });
    let cols: Column[];
    let fill: ChunkFiller;
    if (kind === 'trade') {
      cols = TRADE_COLUMNS;
      fill = fillTrades;
    } else if (kind === 'bbo') {
      cols = BBO_COLUMNS;
      fill = fillBbo;
    } else {
      const depth = bookDepth(rows);
      cols = bookColumns(depth);
      fill = makeBookFiller(depth);
    }
    const name = `part-${Date.now()}-${process.pid}-${this.seq++}.parquet`;
    const tmp = join(dir, `.${name}.tmp`);
    const table = `cjmm_w_${kind}`;
    await loadTempTable(this.conn, table, cols, rows, fill);
    try {
      await this.conn.run(`COPY ${table} TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
      // Durable before visible: fsync the data, then rename (atomic within a directory).
      const fd = openSync(tmp, 'r');
      try {
        fsyncSync(fd);
      } finally {
        closeSync(fd);
      }
      await rename(tmp, join(dir, name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    } finally {
      await this.conn.run(`DROP TABLE IF EXISTS ${table}`);
    }
  }

  compact(opts: { coin?: string; now?: number } = {}): Promise<CompactResult> {
    return this.exclusive(async () => {
      const now = opts.now ?? Date.now();
      const result: CompactResult = { partitions: 0, shardsBefore: 0, rows: 0 };
      const coins = opts.coin === undefined ? await this.coins() : [opts.coin];
      for (const coin of coins) {
        for (const kind of MARKET_EVENT_KINDS) {
          const kindDir = join(this.dir, coinDirName(coin), `kind=${kind}`);
          for (const date of await listDir(kindDir)) {
            for (const hour of await listDir(join(kindDir, date))) {
              const bucket = parseBucket(date, hour);
              if (bucket === undefined || (bucket + 1) * 3_600_000 + COMPACT_GRACE_MS > now) continue;
              const dir = join(kindDir, date, hour);
              this.acquireLock();
              await this.cleanCompaction(dir);
              const files = await this.shardsIn(dir);
              if (files.length < 2) continue;
              result.rows += await this.compactPartition(dir, kind, files);
              result.partitions++;
              result.shardsBefore += files.length;
            }
          }
        }
      }
      return result;
    });
  }

  /** Remove what an interrupted compaction left: temp files, unreferenced merged files, replaced shards. */
  private async cleanCompaction(dir: string): Promise<void> {
    const m = await readManifest(dir);
    const replaced = new Set(m?.replaces ?? []);
    for (const name of await listDir(dir)) {
      const stale =
        (name.startsWith(`.${COMPACT_PREFIX}`) && name.endsWith('.tmp')) ||
        name.startsWith('.compact-manifest-') ||
        (name.startsWith(COMPACT_PREFIX) && name !== m?.file) ||
        replaced.has(name);
      if (stale) await rm(join(dir, name), { force: true });
    }
  }

  /**
   * Crash-safe order: (1) merged rows → temp file → fsync → rename to `part-compact-….parquet`, which readers ignore
   * until (2) the manifest naming it and the shards it replaces is renamed into place — the one switch point —
   * and only then (3) the replaced shards are deleted. A crash before (2) leaves an ignored file, after it
   * leftovers readers already skip; the next compaction removes either.
   */
  private async compactPartition(dir: string, kind: MarketEventKind, files: string[]): Promise<number> {
    const name = `${COMPACT_PREFIX}${Date.now()}-${process.pid}-${this.seq++}.parquet`;
    const tmp = join(dir, `.${name}.tmp`);
    const src = `read_parquet(${fileList(files)}, union_by_name = true, hive_partitioning = false)`;
    const order = kind === 'trade' ? 'ex_time, tid' : 'ex_time';
    let before = 0;
    let after = 0;
    try {
      await readChunks(this.conn, `SELECT count(*) FROM ${src}`, (c) => {
        before = c.num(0)[0];
      });
      await this.conn.run(
        `COPY (SELECT * FROM ${src} ORDER BY ${order}) TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
      );
      await readChunks(this.conn, `SELECT count(*) FROM read_parquet(${lit(tmp)})`, (c) => {
        after = c.num(0)[0];
      });
      if (after !== before)
        throw new StoreError(`compaction of ${dir} wrote ${after} rows, expected ${before}`);
      fsyncPath(tmp);
      await rename(tmp, join(dir, name));
    } catch (err) {
      await rm(tmp, { force: true });
      throw err;
    }
    const manifest: CompactManifest = { file: name, replaces: files.map((f) => basename(f)) };
    await writeFileAtomic(
      join(dir, COMPACT_MANIFEST),
      join(dir, `.compact-manifest-${process.pid}.tmp`),
      `${JSON.stringify(manifest, null, 1)}\n`,
    );
    for (const f of files) await rm(f, { force: true });
    return after;
  }

  private gapsPath(coin: string): string {
    return join(this.dir, coinDirName(coin), 'gaps.json');
  }

  private async readGaps(coin: string): Promise<Gap[]> {
    try {
      const raw = JSON.parse(await readFile(this.gapsPath(coin), 'utf8')) as Gap[];
      return Array.isArray(raw) ? raw : [];
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw err;
    }
  }

  private async addGaps(gaps: Gap[]): Promise<number> {
    const byCoin = new Map<string, Gap[]>();
    for (const g of gaps) {
      if (!(g.end > g.start)) continue;
      const list = byCoin.get(g.coin) ?? [];
      list.push(g);
      byCoin.set(g.coin, list);
    }
    let added = 0;
    for (const [coin, list] of byCoin) {
      const existing = await this.readGaps(coin);
      const seen = new Set(existing.map(gapKey));
      const merged = [...existing];
      for (const g of list) {
        const k = gapKey(g);
        if (seen.has(k)) continue;
        seen.add(k);
        merged.push({ coin, kind: g.kind, start: g.start, end: g.end, reason: g.reason });
        added++;
      }
      if (merged.length === existing.length) continue;
      merged.sort((a, b) => a.start - b.start || a.end - b.end);
      const path = this.gapsPath(coin);
      await mkdir(join(this.dir, coinDirName(coin)), { recursive: true });
      const tmp = join(this.dir, coinDirName(coin), `.gaps.json.${process.pid}.tmp`);
      await writeFile(tmp, `${JSON.stringify(merged, null, 1)}\n`);
      await rename(tmp, path);
    }
    return added;
  }

  async gaps(coin: string): Promise<Gap[]> {
    return this.readGaps(coin);
  }

  async coins(): Promise<string[]> {
    const out: string[] = [];
    for (const name of await listDir(this.dir)) {
      if (name.startsWith('coin=')) out.push(decodeURIComponent(name.slice(5)));
    }
    return out.sort();
  }

  async files(coin: string, kind: MarketEventKind, from?: number, to?: number): Promise<string[]> {
    const kindDir = join(this.dir, coinDirName(coin), `kind=${kind}`);
    const lo = from === undefined ? -Infinity : hourBucket(from);
    const hi = to === undefined ? Infinity : hourBucket(to - 1e-9);
    const out: string[] = [];
    for (const date of await listDir(kindDir)) {
      for (const hour of await listDir(join(kindDir, date))) {
        const b = parseBucket(date, hour);
        if (b === undefined || b < lo || b > hi) continue;
        out.push(...(await this.shardsIn(join(kindDir, date, hour))));
      }
    }
    return out;
  }

  query(opts: QueryOptions): Promise<QueryResult> {
    for (const [name, v] of [
      ['from', opts.from],
      ['to', opts.to],
    ] as const) {
      if (v !== undefined && !Number.isFinite(v)) {
        return Promise.reject(new RangeError(`query ${name} must be a finite time in ms (got ${v})`));
      }
    }
    return this.exclusive(async () => {
      const kinds = opts.kinds ?? MARKET_EVENT_KINDS;
      const lists: MarketEvent[][] = [];
      for (const kind of kinds) {
        const files = await this.files(opts.coin, kind, opts.from, opts.to);
        if (files.length === 0) continue;
        lists.push(await this.readKind(opts.coin, kind, files, opts.from, opts.to));
      }
      const from = opts.from ?? -Infinity;
      const to = opts.to ?? Infinity;
      const gaps = (await this.readGaps(opts.coin)).filter(
        (g) => g.end > from && g.start < to && (g.kind === 'all' || kinds.includes(g.kind)),
      );
      return { events: mergeSorted(lists), gaps };
    });
  }

  private async readKind(
    coin: string,
    kind: MarketEventKind,
    files: string[],
    from?: number,
    to?: number,
  ): Promise<MarketEvent[]> {
    const where: string[] = [];
    if (from !== undefined) where.push(`ex_time >= ${from}`);
    if (to !== undefined) where.push(`ex_time < ${to}`);
    const filter = where.length ? `WHERE ${where.join(' AND ')}` : '';
    // Shards are sorted when written; only several shards per hour can interleave (sorted below if so).
    const src = `read_parquet(${fileList(files)}, union_by_name = true, hive_partitioning = false)`;
    const sql = `SELECT * FROM ${src} ${filter}`;
    const out: MarketEvent[] = [];
    await readChunks(this.conn, sql, (c, names) => {
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
        // Shards of different depth are read together (union_by_name): levels past a book's depth are NULL.
        /** Per level i of a side: px, sz and n columns (n as Int32 so levels hold small integers, like parsed ones). */
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
        const bidC = levelColumns('bid');
        const askC = levelColumns('ask');
        const levels = (v: ReturnType<typeof levelColumns>, depth: number, r: number): BookLevel[] => {
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

  summary(): Promise<StoreSummaryRow[]> {
    return this.exclusive(async () => {
      const out: StoreSummaryRow[] = [];
      for (const coin of await this.coins()) {
        const gaps = await this.readGaps(coin);
        for (const kind of MARKET_EVENT_KINDS) {
          const files = await this.files(coin, kind);
          if (files.length === 0) continue;
          let rows = 0;
          let start = Number.NaN;
          let end = Number.NaN;
          await readChunks(
            this.conn,
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
      }
      return out;
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.conn.closeSync();
    this.instance.closeSync();
    if (this.lockHeld) {
      await rm(join(this.dir, LOCK_FILE), { force: true });
      this.lockHeld = false;
    }
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Whether `dir` is a cjmm store (has the marker file). */
export async function isStore(dir: string): Promise<boolean> {
  try {
    return (await stat(join(dir, STORE_MARKER))).isFile();
  } catch {
    return false;
  }
}

/**
 * Open (creating if needed) the store at `dir`. One DuckDB instance per store; close() when done.
 * Refuses a non-empty folder that is not a store, so a typo cannot scatter shards into random data.
 */
export async function openStore(dir: string): Promise<MarketStore> {
  const abs = resolve(dir);
  await mkdir(abs, { recursive: true });
  if (!(await isStore(abs))) {
    const entries = (await listDir(abs)).filter((e) => !e.startsWith('.'));
    if (entries.length > 0) {
      throw new StoreError(
        `${abs} is not a cjmm store (no ${STORE_MARKER}) and is not empty; choose an empty or new folder for --store`,
      );
    }
    await writeFile(
      join(abs, STORE_MARKER),
      `${JSON.stringify({ format: 'cjmm-market-store', version: STORE_VERSION }, null, 1)}\n`,
    );
  }
  const instance = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await instance.connect();
  return new ParquetStore(abs, instance, conn);
}
