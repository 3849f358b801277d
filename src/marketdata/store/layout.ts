/**
 * Where things live in a store folder, and the small file-system helpers every part of the store shares.
 *
 *   <dir>/cjmm-store.json                                     marker (layout version)
 *   <dir>/coin=<C>/kind=<book|trade|bbo>/date=<YYYY-MM-DD>/hour=<HH>/part-<ms>-<pid>-<seq>.parquet
 *   <dir>/coin=<C>/gaps.json                                  gap records (written atomically)
 *   …/hour=<HH>/part-compact-<…>.parquet + compacted.json      a closed hour merged by compaction
 *
 * Shards are partitioned by EXCHANGE time.
 */
import { closeSync, fsyncSync, openSync } from 'node:fs';
import { readdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MarketEventKind } from '../events.ts';

export const STORE_MARKER = 'cjmm-store.json';
export const STORE_VERSION = 1;
export const LOCK_FILE = '.writer.lock';

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

export function bucketDirs(bucket: number): { date: string; hour: string } {
  const d = new Date(bucket * 3_600_000);
  return {
    date: `date=${d.getUTCFullYear()}-${pad2(d.getUTCMonth() + 1)}-${pad2(d.getUTCDate())}`,
    hour: `hour=${pad2(d.getUTCHours())}`,
  };
}

export function parseBucket(dateDir: string, hourDir: string): number | undefined {
  const dm = /^date=(\d{4})-(\d{2})-(\d{2})$/.exec(dateDir);
  const hm = /^hour=(\d{2})$/.exec(hourDir);
  if (!dm || !hm) return undefined;
  return hourBucket(Date.UTC(Number(dm[1]), Number(dm[2]) - 1, Number(dm[3]), Number(hm[1])));
}

/** Folder of one kind of one coin. */
export function kindDir(dir: string, coin: string, kind: string): string {
  return join(dir, coinDirName(coin), `kind=${kind}`);
}

/** Folder of one partition (coin, kind, exchange-time hour). */
export function partitionDir(dir: string, coin: string, kind: MarketEventKind, bucket: number): string {
  const { date, hour } = bucketDirs(bucket);
  return join(kindDir(dir, coin, kind), date, hour);
}

export function isShard(name: string): boolean {
  return name.startsWith('part-') && name.endsWith('.parquet');
}

/** Write a file durably and atomically: temp file, fsync, rename. */
export async function writeFileAtomic(path: string, tmp: string, text: string): Promise<void> {
  await writeFile(tmp, text);
  fsyncPath(tmp);
  await rename(tmp, path);
}

export function fsyncPath(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/** Sorted entries of a folder; [] when it does not exist. */
export async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).sort();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** SQL string literal. */
export function lit(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

export function fileList(files: string[]): string {
  return `[${files.map(lit).join(', ')}]`;
}
