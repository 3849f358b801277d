/**
 * Compaction: a closed hour's shards merged into one file per partition, crash-safe, readers never seeing a
 * row twice (see manifest.ts for the switch point).
 */
import { rename, rm } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { StoreContext } from './context.ts';
import { readChunks } from './decode.ts';
import { StoreError } from './errors.ts';
import { fileList, fsyncPath, kindDir, listDir, lit, parseBucket, writeFileAtomic } from './layout.ts';
import {
  COMPACT_MANIFEST,
  COMPACT_PREFIX,
  type CompactManifest,
  readManifest,
  shardsIn,
} from './manifest.ts';
import type { CompactResult } from './types.ts';

/** How long after an hour ends its partition may still receive late events (and is not compacted). */
export const COMPACT_GRACE_MS = 10 * 60_000;

/**
 * Merge each closed hour's shards (of the given coins) into one file per partition. An hour is closed
 * `COMPACT_GRACE_MS` after it ends (late events of a live recorder). The caller serialises calls.
 */
export async function compactStore(
  ctx: StoreContext,
  coins: string[],
  kinds: readonly string[],
  now: number,
): Promise<CompactResult> {
  const result: CompactResult = { partitions: 0, shardsBefore: 0, rows: 0 };
  for (const coin of coins) {
    for (const kind of kinds) {
      const kd = kindDir(ctx.dir, coin, kind);
      for (const date of await listDir(kd)) {
        for (const hour of await listDir(join(kd, date))) {
          const bucket = parseBucket(date, hour);
          if (bucket === undefined || (bucket + 1) * 3_600_000 + COMPACT_GRACE_MS > now) continue;
          const dir = join(kd, date, hour);
          ctx.lock.acquire();
          await cleanCompaction(dir);
          const files = await shardsIn(dir);
          if (files.length < 2) continue;
          result.rows += await compactPartition(ctx, dir, kind, files);
          result.partitions++;
          result.shardsBefore += files.length;
        }
      }
    }
  }
  return result;
}

/** Remove what an interrupted compaction left: temp files, unreferenced merged files, replaced shards. */
async function cleanCompaction(dir: string): Promise<void> {
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
async function compactPartition(
  ctx: StoreContext,
  dir: string,
  kind: string,
  files: string[],
): Promise<number> {
  const name = `${COMPACT_PREFIX}${Date.now()}-${process.pid}-${ctx.nextSeq()}.parquet`;
  const tmp = join(dir, `.${name}.tmp`);
  const src = `read_parquet(${fileList(files)}, union_by_name = true, hive_partitioning = false)`;
  const order = kind === 'trade' ? 'ex_time, tid' : 'ex_time';
  let before = 0;
  let after = 0;
  try {
    await readChunks(ctx.conn, `SELECT count(*) FROM ${src}`, (c) => {
      before = c.num(0)[0];
    });
    await ctx.conn.run(
      `COPY (SELECT * FROM ${src} ORDER BY ${order}) TO ${lit(tmp)} (FORMAT parquet, COMPRESSION zstd)`,
    );
    await readChunks(ctx.conn, `SELECT count(*) FROM read_parquet(${lit(tmp)})`, (c) => {
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
