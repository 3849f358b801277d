/** What the parts of an open store share: its folder, its DuckDB connection, the writer lock, file sequence. */
import type { DuckDBConnection } from '@duckdb/node-api';
import type { WriterLock } from './lock.ts';

export interface StoreContext {
  readonly dir: string;
  readonly conn: DuckDBConnection;
  readonly lock: WriterLock;
  /** Sequence number for the next file this store instance names (unique with time and pid). */
  nextSeq(): number;
}
