/**
 * The market-data store: Parquet shards in Hive-style folders, read and written through DuckDB.
 *
 *   <dir>/cjmm-store.json                                     marker (layout version)
 *   <dir>/coin=<C>/kind=<book|trade|bbo>/date=<YYYY-MM-DD>/hour=<HH>/part-<ms>-<pid>-<seq>.parquet
 *   <dir>/coin=<C>/gaps.json                                  gap records (written atomically)
 *   …/hour=<HH>/part-compact-<…>.parquet + compacted.json      a closed hour merged by compaction
 *
 * Shards are partitioned by EXCHANGE time. Each shard is written to a dot-prefixed temp file, fsynced and
 * renamed, so readers (who only ever list `part-*.parquet`) never see a half-written file and a crash
 * leaves at most an ignored temp file. Duplicates are removed on write: trades by (tid, exTime), books and
 * bbo by exTime, against the batch itself and everything already stored in that hour, so re-importing or
 * replaying after a reconnect never stores a row twice. One writer process at a time (a lock file says so);
 * any number of readers.
 *
 * The parts, each in its own file (columns-reader.ts: reading into columns instead of objects):
 *   layout.ts      folders, partition keys, file helpers        columns.ts     the Parquet schema per kind
 *   encode.ts      events → DuckDB chunks                       decode.ts      DuckDB chunks → typed arrays
 *   writer.ts      grouping, de-duplication, atomic shards      reader.ts      files, queries, summary
 *   compaction.ts  merging closed hours                         manifest.ts    which shards are live
 *   lock.ts        the one-writer lock                          gaps-file.ts   gap records
 *   order.ts       event order                                  errors.ts      user-facing errors
 */
import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { EventColumns } from '../columnar.ts';
import type { Gap, MarketEvent } from '../events.ts';
import { queryColumns } from './columns-reader.ts';
import { compactStore } from './compaction.ts';
import type { StoreContext } from './context.ts';
import { StoreError } from './errors.ts';
import {
  FUNDING_KIND,
  type FundingRow,
  type FundingWriteResult,
  fundingFiles,
  readFunding,
  writeFunding,
} from './funding.ts';
import { readGaps } from './gaps-file.ts';
import { listDir, STORE_MARKER, STORE_VERSION } from './layout.ts';
import { WriterLock } from './lock.ts';
import { listCoins, listFiles, MARKET_EVENT_KINDS, queryEvents, summarize } from './reader.ts';
import type {
  ColumnsOptions,
  CompactResult,
  MarketStore,
  QueryOptions,
  QueryResult,
  StoreKind,
  StoreSummaryRow,
  WriteResult,
} from './types.ts';
import { StoreWriter } from './writer.ts';

export { COMPACT_GRACE_MS } from './compaction.ts';
export { StoreError, StoreLockedError } from './errors.ts';
export { type FundingRow, type FundingWriteResult, unstorableFunding } from './funding.ts';
export { coinDirName, hourBucket, parseBucket, STORE_MARKER } from './layout.ts';
export { mergeSorted } from './order.ts';
export { MARKET_EVENT_KINDS } from './reader.ts';

/** Every kind the store holds, in `data ls` order. */
export const STORE_KINDS: readonly StoreKind[] = ['book', 'trade', 'bbo', 'funding'];

/**
 * Funding settlements of `coin` with time in [from, to) ms, sorted by time: the one read path for backtests
 * and the loopback venue. Rows: `{ coin, time, fundingRate (hourly fraction), premium, markPx?, oraclePx? }`.
 */
export function queryFunding(
  store: MarketStore,
  coin: string,
  from?: number,
  to?: number,
): Promise<FundingRow[]> {
  return store.funding(coin, from, to);
}
export type {
  ColumnsOptions,
  CompactResult,
  MarketStore,
  QueryOptions,
  QueryResult,
  StoreKind,
  StoreSummaryRow,
  WriteResult,
} from './types.ts';
export { unstorable } from './writer.ts';

class ParquetStore implements MarketStore {
  readonly dir: string;
  private readonly instance: DuckDBInstance;
  private readonly conn: DuckDBConnection;
  private readonly ctx: StoreContext;
  private readonly lock: WriterLock;
  private readonly writer: StoreWriter;
  private queue: Promise<unknown> = Promise.resolve();
  private seq = 0;
  private closed = false;

  constructor(dir: string, instance: DuckDBInstance, conn: DuckDBConnection) {
    this.dir = dir;
    this.instance = instance;
    this.conn = conn;
    this.lock = new WriterLock(dir);
    this.ctx = { dir, conn, lock: this.lock, nextSeq: () => this.seq++ };
    this.writer = new StoreWriter(this.ctx);
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

  write(events: MarketEvent[], gaps: Gap[] = []): Promise<WriteResult> {
    return this.exclusive(() => this.writer.write(events, gaps));
  }

  compact(opts: { coin?: string; now?: number } = {}): Promise<CompactResult> {
    return this.exclusive(async () => {
      const coins = opts.coin === undefined ? await listCoins(this.dir) : [opts.coin];
      return compactStore(this.ctx, coins, MARKET_EVENT_KINDS, opts.now ?? Date.now());
    });
  }

  async gaps(coin: string): Promise<Gap[]> {
    return readGaps(this.dir, coin);
  }

  coins(): Promise<string[]> {
    return listCoins(this.dir);
  }

  files(coin: string, kind: StoreKind, from?: number, to?: number): Promise<string[]> {
    if (kind === FUNDING_KIND) return fundingFiles(this.dir, coin, from, to);
    return listFiles(this.dir, coin, kind, from, to);
  }

  writeFunding(rows: FundingRow[]): Promise<FundingWriteResult> {
    return this.exclusive(() => writeFunding(this.ctx, rows));
  }

  funding(coin: string, from?: number, to?: number): Promise<FundingRow[]> {
    return this.exclusive(() => readFunding(this.ctx, coin, from, to));
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
    return this.exclusive(() => queryEvents(this.ctx, opts));
  }

  columns(opts: ColumnsOptions): Promise<EventColumns> {
    for (const [name, v] of [
      ['from', opts.from],
      ['to', opts.to],
    ] as const) {
      if (v !== undefined && Number.isNaN(v)) {
        return Promise.reject(new RangeError(`columns ${name} must be a time in ms (got ${v})`));
      }
    }
    return this.exclusive(() => queryColumns(this.ctx, opts));
  }

  summary(): Promise<StoreSummaryRow[]> {
    return this.exclusive(() => summarize(this.ctx));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.queue;
    this.closed = true;
    this.conn.closeSync();
    this.instance.closeSync();
    await this.lock.release();
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
