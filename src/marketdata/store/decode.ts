/** DuckDB → typed arrays: query results read chunk by chunk straight from the raw vectors. */
import { type DuckDBConnection, type DuckDBDataChunk, DuckDBTypeId } from '@duckdb/node-api';
import duckdb from '@duckdb/node-bindings';

/**
 * One result chunk's columns, read from the raw vectors: numbers as Float64Array (a zero-copy view for
 * DOUBLE), validity as 32-bit words (undefined = all valid), strings through the vector classes.
 */
export class ChunkColumns {
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

  /**
   * A DOUBLE column as a zero-copy view, NULL rows left as whatever the vector holds (for callers that never
   * read a NULL row); other types as `num`.
   */
  rawNum(j: number): Float64Array {
    if (this.typeIds[j] !== DuckDBTypeId.DOUBLE) return this.num(j);
    const n = this.rows;
    const bytes = duckdb.vector_get_data(this.raw(j), n * 8);
    return bytes.byteOffset % 8 === 0
      ? new Float64Array(bytes.buffer, bytes.byteOffset, n)
      : new Float64Array(bytes.slice().buffer, 0, n);
  }

  /** An INTEGER column as a zero-copy view (NULL rows unread by the caller); other types as `count`. */
  rawInt(j: number): Int32Array | Float64Array {
    if (this.typeIds[j] !== DuckDBTypeId.INTEGER) return this.count(j);
    const n = this.rows;
    const bytes = duckdb.vector_get_data(this.raw(j), n * 4);
    return bytes.byteOffset % 4 === 0
      ? new Int32Array(bytes.buffer, bytes.byteOffset, n)
      : new Int32Array(bytes.slice().buffer, 0, n);
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

/**
 * Per level i of one side of a book chunk: its px, sz and n columns (n as Int32 where stored so, so levels hold
 * small integers like parsed ones). Shards of different depth are read together (union_by_name): levels past
 * a book's depth are NULL.
 */
export function bookSideColumns(
  c: ChunkColumns,
  names: string[],
  at: (name: string) => number,
  side: 'bid' | 'ask',
): { px: Float64Array[]; sz: Float64Array[]; n: (Int32Array | Float64Array)[] } {
  const px: Float64Array[] = [];
  const sz: Float64Array[] = [];
  const n: (Int32Array | Float64Array)[] = [];
  for (let i = 0; names.includes(`${side}_px_${i}`); i++) {
    px.push(c.num(at(`${side}_px_${i}`)));
    sz.push(c.num(at(`${side}_sz_${i}`)));
    n.push(c.count(at(`${side}_n_${i}`)));
  }
  return { px, sz, n };
}

function isValid(valid: Uint32Array, r: number): boolean {
  return (valid[r >>> 5] & (1 << (r & 31))) !== 0;
}

/**
 * Runs `sql` to completion in DuckDB's threads (one call: the result is materialised there), then hands its
 * chunks over synchronously. For reads whose result should be ready in the background.
 */
export async function readAllChunks(
  conn: DuckDBConnection,
  sql: string,
  onChunk: (cols: ChunkColumns, names: string[], rowsTotal: number) => void,
): Promise<void> {
  const result = await conn.run(sql);
  const names = result.columnNames();
  const typeIds = result.columnTypes().map((t) => t.typeId);
  const count = result.chunkCount;
  const chunks = Array.from({ length: count }, (_, i) => result.getChunk(i));
  let total = 0;
  for (const c of chunks) total += c.rowCount;
  for (const c of chunks) if (c.rowCount > 0) onChunk(new ChunkColumns(c, typeIds), names, total);
}

export async function readChunks(
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
