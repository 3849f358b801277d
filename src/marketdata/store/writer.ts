/**
 * Writing events: grouped by partition (coin, kind, exchange-time hour), de-duplicated against the batch and
 * everything already stored in that hour (trades by (tid, exTime), books and bbo by exTime), then written as
 * one shard per partition. Each shard is written to a dot-prefixed temp file, fsynced and renamed, so readers
 * (who only ever list `part-*.parquet`) never see a half-written file and a crash leaves at most an ignored
 * temp file.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gap, MarketEvent, MarketEventKind } from '../events.ts';
import { BBO_COLUMNS, bookColumns, type Column, TRADE_COLUMNS } from './columns.ts';
import type { StoreContext } from './context.ts';
import { readChunks } from './decode.ts';
import { bookDepth, type ChunkFiller, fillBbo, fillTrades, loadTempTable, makeBookFiller } from './encode.ts';
import { addGaps } from './gaps-file.ts';
import { fileList, hourBucket, listDir, lit, partitionDir } from './layout.ts';
import { shardsIn } from './manifest.ts';
import { byExTime, isSorted } from './order.ts';
import type { WriteResult } from './types.ts';

/** Partitions whose dedup keys stay cached in memory (the recorder writes to the current hour or two). */
const KEY_CACHE_PARTITIONS = 12;

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

// ---------------------------------------------------------------------------------------------------------
// Dedup keys

/**
 * Identities already stored in one partition. Numbers only (no per-row strings, which cost GC time at
 * recorder rates): books/bbo by exTime; trades by tid → exTime (several times for one tid, rare, in a list).
 */
export class PartitionKeys {
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

export class StoreWriter {
  private readonly ctx: StoreContext;
  private readonly keyCache = new Map<string, PartitionKeys>();

  constructor(ctx: StoreContext) {
    this.ctx = ctx;
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
    const files = await shardsIn(dir);
    if (files.length > 0) {
      const cols = kind === 'trade' ? 'tid, ex_time' : 'ex_time';
      const set = keys;
      await readChunks(this.ctx.conn, `SELECT ${cols} FROM read_parquet(${fileList(files)})`, (c) => {
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

  /** Store events and gaps (the caller serialises calls). */
  async write(events: MarketEvent[], gaps: Gap[] = []): Promise<WriteResult> {
    const result: WriteResult = {
      written: { book: 0, trade: 0, bbo: 0 },
      duplicates: 0,
      gaps: 0,
      rejected: 0,
    };
    if (events.length === 0 && gaps.length === 0) return result;
    this.ctx.lock.acquire();
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
      const dir = partitionDir(this.ctx.dir, g.coin, g.kind, g.bucket);
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
    result.gaps = await addGaps(this.ctx.dir, gaps);
    return result;
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
    const name = `part-${Date.now()}-${process.pid}-${this.ctx.nextSeq()}.parquet`;
    const tmp = join(dir, `.${name}.tmp`);
    const table = `cjmm_w_${kind}`;
    await loadTempTable(this.ctx.conn, table, cols, rows, fill);
    try {
      await this.ctx.conn.run(`COPY ${table} TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd)`);
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
      await this.ctx.conn.run(`DROP TABLE IF EXISTS ${table}`);
    }
  }
}
