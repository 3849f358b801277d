/** The store's public interface and the shapes of what its operations return. */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { EventColumns } from '../columnar.ts';
import type { Gap, MarketEvent, MarketEventKind } from '../events.ts';
import type { FundingRow, FundingWriteResult } from './funding.ts';

/** What the store holds: the market events, and funding settlements. */
export type StoreKind = MarketEventKind | 'funding';

export interface WriteResult {
  written: Record<MarketEventKind, number>;
  duplicates: number;
  /** Gap records newly stored (ones already stored are not counted). */
  gaps: number;
  /** Events refused as unstorable (no coin, non-finite or non-positive times, trade tid not an integer). */
  rejected: number;
}

export interface CompactResult {
  /** Partitions (coin, kind, hour) merged into one file. */
  partitions: number;
  /** Shard files those partitions had before. */
  shardsBefore: number;
  rows: number;
}

export interface QueryOptions {
  coin: string;
  kinds?: MarketEventKind[];
  /** Exchange time, ms, inclusive. */
  from?: number;
  /** Exchange time, ms, exclusive. */
  to?: number;
}

export interface ColumnsOptions extends QueryOptions {
  /** The shard files to read per kind (from `files()`); default: listed now. */
  files?: Partial<Record<MarketEventKind, string[]>>;
}

export interface QueryResult {
  /** Sorted by exTime; ties book, bbo, trade; trades of one time by tid. */
  events: MarketEvent[];
  /** Gaps of this coin overlapping [from, to) that affect the requested kinds. */
  gaps: Gap[];
}

export interface StoreSummaryRow {
  coin: string;
  kind: StoreKind;
  rows: number;
  /** First and last exchange time (funding: settlement time), ms (NaN when no rows). */
  start: number;
  end: number;
  /** Gaps affecting this kind (kind-specific and 'all'). */
  gaps: Gap[];
}

export interface MarketStore {
  readonly dir: string;
  write(events: MarketEvent[], gaps?: Gap[]): Promise<WriteResult>;
  query(opts: QueryOptions): Promise<QueryResult>;
  /**
   * The events `query` returns (without gaps), in columns: typed arrays, no object per event (a streamed
   * backtest reads the store this way, chunk by chunk).
   */
  columns(opts: ColumnsOptions): Promise<EventColumns>;
  summary(): Promise<StoreSummaryRow[]>;
  coins(): Promise<string[]>;
  gaps(coin: string): Promise<Gap[]>;
  /**
   * Shard files of one coin and kind overlapping [from, to) by partition (hour; month for funding), for export
   * and ad-hoc DuckDB queries.
   */
  files(coin: string, kind: StoreKind, from?: number, to?: number): Promise<string[]>;
  /** Store funding settlements, de-duplicated by (coin, time). */
  writeFunding(rows: FundingRow[]): Promise<FundingWriteResult>;
  /** Funding settlements of one coin with time in [from, to) ms, sorted by time (see `queryFunding`). */
  funding(coin: string, from?: number, to?: number): Promise<FundingRow[]>;
  /**
   * Merge each closed hour's shards (of one coin, or all) into one file per partition; crash-safe, readers never
   * see a row twice. An hour is closed `COMPACT_GRACE_MS` after it ends (late events of a live recorder).
   */
  compact(opts?: { coin?: string; now?: number }): Promise<CompactResult>;
  /** The store's DuckDB connection, for callers that run their own SQL over `files()` (serialised). */
  sql<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}
