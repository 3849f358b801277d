/**
 * Which shard files of a partition are live. A compaction merges a closed hour's shards into one file and
 * names it, with the shards it replaces, in the partition's manifest: readers take the merged file only when
 * the manifest names it and skip the replaced shards, so switching is one atomic rename of the manifest.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { StoreError } from './errors.ts';
import { isShard, listDir } from './layout.ts';

export const COMPACT_MANIFEST = 'compacted.json';
/** Merged files are shards too (plain `part-*.parquet` globs see them once the replaced ones are deleted). */
export const COMPACT_PREFIX = 'part-compact-';

export interface CompactManifest {
  file: string;
  replaces: string[];
}

export async function readManifest(dir: string): Promise<CompactManifest | undefined> {
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

/**
 * The live shards of a partition: `part-*.parquet` not replaced by a compaction, plus the merged file the
 * compaction manifest names. The manifest is read before and after listing; if a compaction switched it in
 * between, list again (so a reader never mixes the two generations).
 */
export async function shardsIn(dir: string): Promise<string[]> {
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
