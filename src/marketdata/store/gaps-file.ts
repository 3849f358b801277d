/** Gap records: `<dir>/coin=<C>/gaps.json`, one sorted list per coin, replaced atomically. */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { Gap } from '../events.ts';
import { coinDirName } from './layout.ts';

function gapKey(g: Gap): string {
  return `${g.kind}|${g.start}|${g.end}`;
}

function gapsPath(dir: string, coin: string): string {
  return join(dir, coinDirName(coin), 'gaps.json');
}

export async function readGaps(dir: string, coin: string): Promise<Gap[]> {
  try {
    const raw = JSON.parse(await readFile(gapsPath(dir, coin), 'utf8')) as Gap[];
    return Array.isArray(raw) ? raw : [];
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** Store gaps not already stored (same kind, start and end); returns how many were new. */
export async function addGaps(dir: string, gaps: Gap[]): Promise<number> {
  const byCoin = new Map<string, Gap[]>();
  for (const g of gaps) {
    if (!(g.end > g.start)) continue;
    const list = byCoin.get(g.coin) ?? [];
    list.push(g);
    byCoin.set(g.coin, list);
  }
  let added = 0;
  for (const [coin, list] of byCoin) {
    const existing = await readGaps(dir, coin);
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
    const path = gapsPath(dir, coin);
    await mkdir(join(dir, coinDirName(coin)), { recursive: true });
    const tmp = join(dir, coinDirName(coin), `.gaps.json.${process.pid}.tmp`);
    await writeFile(tmp, `${JSON.stringify(merged, null, 1)}\n`);
    await rename(tmp, path);
  }
  return added;
}
