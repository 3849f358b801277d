/**
 * Synthetic multi-day stores for the benchmarks: the shared ETH recording (24 minutes, 18k events) imported into
 * a store, then tiled back to back `tiles` times with shifted clocks (each seam a 1 s data gap, as
 * bench/backtest.bench.ts does in memory), written straight into the store's hourly partitions by DuckDB
 * (COPY … PARTITION_BY: a week of ETH-sized data in seconds, where the event writer would take minutes).
 * Kept under the system temp folder and reused while the recording and the tile count are the same.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Gap, MarketEvent } from '../../src/marketdata/events.ts';
import { importSource, readSource } from '../../src/marketdata/source.ts';
import { coinDirName, MARKET_EVENT_KINDS, openStore } from '../../src/marketdata/store/index.ts';

export interface Recording {
  /** The recording as the store returns it, and its gaps. */
  events: MarketEvent[];
  gaps: Gap[];
  /** Span of one tile (ms): the recording's exchange-time span + 1 s. */
  span: number;
  /** The store holding the recording once. */
  dir: string;
}

const ROOT = join(tmpdir(), 'cjmm-bench-stores');

/** The recording imported into a store (cached), with its events. */
export async function recording(source: string, coin = 'ETH'): Promise<Recording> {
  const dir = join(ROOT, `base-${coin}`);
  const stamp = join(dir, '.bench-source');
  if (!existsSync(stamp) || readFileSync(stamp, 'utf8') !== source) {
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    const s = await openStore(dir);
    try {
      await importSource(source, s, { coin });
    } finally {
      await s.close();
    }
    writeFileSync(stamp, source);
  }
  const data = await readSource(dir, { coin });
  const events = data.events;
  return { events, gaps: data.gaps, span: events[events.length - 1].exTime - events[0].exTime + 1000, dir };
}

/** Gaps of `tiles` tiles: the recording's own, shifted, and a 1 s gap at every seam. */
export function tiledGaps(rec: Recording, tiles: number, coin = 'ETH'): Gap[] {
  const out: Gap[] = [];
  const t0 = rec.events[0].exTime;
  for (let k = 0; k < tiles; k++) {
    const dt = k * rec.span;
    for (const g of rec.gaps) out.push({ ...g, start: g.start + dt, end: g.end + dt });
    if (k > 0) out.push({ coin, kind: 'all', start: t0 + dt - 1000, end: t0 + dt, reason: 'tile seam' });
  }
  return out;
}

/** The same tiles in memory (level arrays shared between tiles). */
export function tiledEvents(rec: Recording, tiles: number): MarketEvent[] {
  const out: MarketEvent[] = [];
  for (let k = 0; k < tiles; k++) {
    const dt = k * rec.span;
    for (const ev of rec.events) out.push({ ...ev, exTime: ev.exTime + dt, rxTime: ev.rxTime + dt });
  }
  return out;
}

/** A store of `tiles` tiles of the recording (built once, then reused). Returns its folder. */
export async function tiledStore(rec: Recording, tiles: number, coin = 'ETH'): Promise<string> {
  const dir = join(ROOT, `tiled-${coin}-${tiles}`);
  const stamp = join(dir, '.bench-tiles');
  const id = `${rec.dir} ${rec.events.length} ${rec.span} ${tiles} zstd`;
  if (existsSync(stamp) && readFileSync(stamp, 'utf8') === id) return dir;
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const base = await openStore(rec.dir);
  const store = await openStore(dir);
  try {
    for (const kind of MARKET_EVENT_KINDS) {
      const files = await base.files(coin, kind);
      if (files.length === 0) continue;
      const list = `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`;
      const shifted = (c: string) => `${c} + k::DOUBLE * ${rec.span}`;
      const ts = `make_timestamp(((${shifted('ex_time')}) * 1000)::BIGINT)`;
      const order = kind === 'trade' ? 'ex_time, tid' : 'ex_time';
      const kindDir = join(dir, coinDirName(coin), `kind=${kind}`);
      mkdirSync(kindDir, { recursive: true });
      const target = kindDir.replaceAll("'", "''");
      await store.sql((conn) =>
        conn.run(`COPY (
            SELECT * REPLACE (${shifted('ex_time')} AS ex_time, ${shifted('rx_time')} AS rx_time),
              strftime(${ts}, '%Y-%m-%d') AS date, strftime(${ts}, '%H') AS hour
            FROM read_parquet(${list}, union_by_name = true, hive_partitioning = false), range(0, ${tiles}) t(k)
            ORDER BY ${order}
          ) TO '${target}' (FORMAT parquet, COMPRESSION zstd, PARTITION_BY (date, hour), FILENAME_PATTERN 'part-tile-{i}')`),
      );
    }
    await store.write([], tiledGaps(rec, tiles, coin));
  } finally {
    await store.close();
    await base.close();
  }
  writeFileSync(stamp, id);
  return dir;
}
