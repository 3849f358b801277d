/**
 * The market-data store: Parquet shards in Hive-style folders, read and written through DuckDB.
 *
 *   <dir>/cjmm-store.json                                     marker (layout version)
 *   <dir>/coin=<C>/kind=<book|trade|bbo>/date=<YYYY-MM-DD>/hour=<HH>/part-<ms>-<pid>-<seq>.parquet
 *   <dir>/coin=<C>/gaps.json                                  gap records (written atomically)
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
import { join, resolve } from 'node:path';
import {
  BIGINT,
  DOUBLE,
  type DuckDBConnection,
  DuckDBDataChunk,
  DuckDBInstance,
  type DuckDBType,
  INTEGER,
  VARCHAR,
} from '@duckdb/node-api';
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
  sql: string;
}

const col = (name: string, type: DuckDBType, sql: string): Column => ({ name, type, sql });

const TRADE_COLUMNS: Column[] = [
  col('ex_time', DOUBLE, 'DOUBLE'),
  col('rx_time', DOUBLE, 'DOUBLE'),
  col('px', DOUBLE, 'DOUBLE'),
  col('sz', DOUBLE, 'DOUBLE'),
  col('side', VARCHAR, 'VARCHAR'),
  col('tid', BIGINT, 'BIGINT'),
  col('hash', VARCHAR, 'VARCHAR'),
  col('buyer', VARCHAR, 'VARCHAR'),
  col('seller', VARCHAR, 'VARCHAR'),
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
      cols.push(col(`${s}_px_${i}`, DOUBLE, 'DOUBLE'), col(`${s}_sz_${i}`, DOUBLE, 'DOUBLE'));
      cols.push(col(`${s}_n_${i}`, INTEGER, 'INTEGER'));
    }
  }
  return cols;
}

/** Minimal view of a writable vector (the concrete DuckDB vector classes all have these). */
interface WritableVector {
  setItem(i: number, v: unknown): void;
  flush(): void;
}

type RowWriter = (vs: WritableVector[], row: number, ev: MarketEvent) => void;

const writeTrade: RowWriter = (vs, r, e) => {
  const t = e as TradeEvent;
  vs[0].setItem(r, t.exTime);
  vs[1].setItem(r, t.rxTime);
  vs[2].setItem(r, t.px);
  vs[3].setItem(r, t.sz);
  vs[4].setItem(r, t.side);
  vs[5].setItem(r, BigInt(t.tid));
  vs[6].setItem(r, t.hash ?? null);
  vs[7].setItem(r, t.buyer ?? null);
  vs[8].setItem(r, t.seller ?? null);
};

const writeBbo: RowWriter = (vs, r, e) => {
  const b = e as BboEvent;
  vs[0].setItem(r, b.exTime);
  vs[1].setItem(r, b.rxTime);
  vs[2].setItem(r, b.bidPx);
  vs[3].setItem(r, b.bidSz);
  vs[4].setItem(r, b.askPx);
  vs[5].setItem(r, b.askSz);
};

function makeBookWriter(depth: number): RowWriter {
  return (vs, r, e) => {
    const b = e as BookEvent;
    vs[0].setItem(r, b.exTime);
    vs[1].setItem(r, b.rxTime);
    vs[2].setItem(r, b.bids.length);
    vs[3].setItem(r, b.asks.length);
    let j = 4;
    for (let i = 0; i < depth; i++) {
      const bid = b.bids[i];
      const ask = b.asks[i];
      // Levels beyond this book's depth are NULL (distinct from NaN, and cheap in Parquet).
      vs[j++].setItem(r, bid ? bid.px : null);
      vs[j++].setItem(r, bid ? bid.sz : null);
      vs[j++].setItem(r, bid ? bid.n : null);
      vs[j++].setItem(r, ask ? ask.px : null);
      vs[j++].setItem(r, ask ? ask.sz : null);
      vs[j++].setItem(r, ask ? ask.n : null);
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

const CHUNK_ROWS = 2048;

/**
 * Append events into a fresh temp table through one reused DuckDB data chunk: the vectors are fetched once
 * and refilled per 2,048 rows (the appender copies each chunk), far faster than per-value appends.
 */
async function loadTempTable(
  conn: DuckDBConnection,
  table: string,
  cols: Column[],
  rows: MarketEvent[],
  writeRow: RowWriter,
): Promise<void> {
  await conn.run(
    `CREATE OR REPLACE TEMP TABLE ${table} (${cols.map((c) => `"${c.name}" ${c.sql}`).join(', ')})`,
  );
  const appender = await conn.createAppender(table);
  try {
    const chunk = DuckDBDataChunk.create(
      cols.map((c) => c.type),
      Math.min(CHUNK_ROWS, rows.length),
    );
    const vs: WritableVector[] = [];
    for (let j = 0; j < cols.length; j++) vs.push(chunk.getColumnVector(j) as unknown as WritableVector);
    for (let k = 0; k < rows.length; ) {
      const m = Math.min(CHUNK_ROWS, rows.length - k);
      for (let r = 0; r < m; r++, k++) writeRow(vs, r, rows[k]);
      for (const v of vs) v.flush();
      chunk.rowCount = m;
      appender.appendDataChunk(chunk);
    }
    appender.flushSync();
  } finally {
    appender.closeSync();
  }
}

/** Readable vector: getItem gives number | bigint | string | null. */
interface ReadableVector {
  getItem(i: number): unknown;
}

async function readChunks(
  conn: DuckDBConnection,
  sql: string,
  onChunk: (vs: ReadableVector[], names: string[], rows: number) => void,
): Promise<void> {
  const result = await conn.run(sql);
  const names = result.columnNames();
  for (;;) {
    const chunk = await result.fetchChunk();
    if (!chunk || chunk.rowCount === 0) break;
    const vs: ReadableVector[] = [];
    for (let j = 0; j < chunk.columnCount; j++)
      vs.push(chunk.getColumnVector(j) as unknown as ReadableVector);
    onChunk(vs, names, chunk.rowCount);
  }
}

const nz = (v: unknown): number => (v === null ? Number.NaN : Number(v));

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

  private async shardsIn(dir: string): Promise<string[]> {
    return (await listDir(dir)).filter(isShard).map((f) => join(dir, f));
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
      await readChunks(this.conn, `SELECT ${cols} FROM read_parquet(${fileList(files)})`, (vs, _n, rows) => {
        for (let r = 0; r < rows; r++) {
          if (kind === 'trade') set.addTrade(Number(vs[0].getItem(r)), Number(vs[1].getItem(r)));
          else set.addTime(Number(vs[0].getItem(r)));
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
      for (const ev of events) {
        if (unstorable(ev)) {
          result.rejected++;
          continue;
        }
        const bucket = hourBucket(ev.exTime);
        const id = `${ev.coin}\u0000${ev.kind}\u0000${bucket}`;
        let g = groups.get(id);
        if (!g) {
          g = { coin: ev.coin, kind: ev.kind, bucket, rows: [] };
          groups.set(id, g);
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
        fresh.sort(byExTime);
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
    let writer: RowWriter;
    if (kind === 'trade') {
      cols = TRADE_COLUMNS;
      writer = writeTrade;
    } else if (kind === 'bbo') {
      cols = BBO_COLUMNS;
      writer = writeBbo;
    } else {
      const depth = bookDepth(rows);
      cols = bookColumns(depth);
      writer = makeBookWriter(depth);
    }
    const name = `part-${Date.now()}-${process.pid}-${this.seq++}.parquet`;
    const tmp = join(dir, `.${name}.tmp`);
    const table = `cjmm_w_${kind}`;
    await loadTempTable(this.conn, table, cols, rows, writer);
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
    await readChunks(this.conn, sql, (vs, names, rows) => {
      const at = (name: string) => vs[names.indexOf(name)];
      if (kind === 'trade') {
        const [ex, rx, px, sz, side, tid, hash, buyer, seller] = [
          'ex_time',
          'rx_time',
          'px',
          'sz',
          'side',
          'tid',
          'hash',
          'buyer',
          'seller',
        ].map(at);
        for (let r = 0; r < rows; r++) {
          const ev: TradeEvent = {
            kind: 'trade',
            coin,
            exTime: nz(ex.getItem(r)),
            rxTime: nz(rx.getItem(r)),
            px: nz(px.getItem(r)),
            sz: nz(sz.getItem(r)),
            side: side.getItem(r) === 'sell' ? 'sell' : 'buy',
            tid: Number(tid.getItem(r)),
          };
          const h = hash.getItem(r);
          if (h !== null) ev.hash = h as string;
          const b = buyer.getItem(r);
          if (b !== null) ev.buyer = b as string;
          const s = seller.getItem(r);
          if (s !== null) ev.seller = s as string;
          out.push(ev);
        }
      } else if (kind === 'bbo') {
        const [ex, rx, bpx, bsz, apx, asz] = [
          'ex_time',
          'rx_time',
          'bid_px',
          'bid_sz',
          'ask_px',
          'ask_sz',
        ].map(at);
        for (let r = 0; r < rows; r++) {
          out.push({
            kind: 'bbo',
            coin,
            exTime: nz(ex.getItem(r)),
            rxTime: nz(rx.getItem(r)),
            bidPx: nz(bpx.getItem(r)),
            bidSz: nz(bsz.getItem(r)),
            askPx: nz(apx.getItem(r)),
            askSz: nz(asz.getItem(r)),
          });
        }
      } else {
        const ex = at('ex_time');
        const rx = at('rx_time');
        const bd = at('bid_depth');
        const ad = at('ask_depth');
        // Shards of different depth are read together (union_by_name): levels past a book's depth are NULL.
        const levelVectors = (side: string): ReadableVector[][] => {
          const v: ReadableVector[][] = [];
          for (let i = 0; names.includes(`${side}_px_${i}`); i++) {
            v.push([at(`${side}_px_${i}`), at(`${side}_sz_${i}`), at(`${side}_n_${i}`)]);
          }
          return v;
        };
        const bidV = levelVectors('bid');
        const askV = levelVectors('ask');
        const levels = (v: ReadableVector[][], depth: number, r: number): BookLevel[] => {
          const ls: BookLevel[] = new Array(depth);
          for (let i = 0; i < depth; i++) {
            const [p, s, n] = v[i];
            ls[i] = { px: nz(p.getItem(r)), sz: nz(s.getItem(r)), n: nz(n.getItem(r)) };
          }
          return ls;
        };
        for (let r = 0; r < rows; r++) {
          out.push({
            kind: 'book',
            coin,
            exTime: nz(ex.getItem(r)),
            rxTime: nz(rx.getItem(r)),
            bids: levels(bidV, Number(bd.getItem(r)), r),
            asks: levels(askV, Number(ad.getItem(r)), r),
          });
        }
      }
    });
    for (let i = 1; i < out.length; i++) {
      if (byExTime(out[i - 1], out[i]) > 0) {
        out.sort(byExTime);
        break;
      }
    }
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
            (vs) => {
              rows = Number(vs[0].getItem(0));
              start = nz(vs[1].getItem(0));
              end = nz(vs[2].getItem(0));
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
