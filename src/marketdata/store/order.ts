/** Event order in the store and in query results: exchange time; ties book, bbo, trade; trades of one time by tid. */
import type { MarketEvent, MarketEventKind } from '../events.ts';

export function byExTime(a: MarketEvent, b: MarketEvent): number {
  if (a.exTime !== b.exTime) return a.exTime - b.exTime;
  if (a.kind === 'trade' && b.kind === 'trade') return a.tid - b.tid;
  return 0;
}

export function isSorted(evs: MarketEvent[]): boolean {
  for (let i = 1; i < evs.length; i++) if (byExTime(evs[i - 1], evs[i]) > 0) return false;
  return true;
}

const KIND_RANK: Record<MarketEventKind, number> = { book: 0, bbo: 1, trade: 2 };

/** Merge per-kind sorted arrays into one sorted stream (ties: book, bbo, trade). */
export function mergeSorted(lists: MarketEvent[][]): MarketEvent[] {
  const nonEmpty = lists.filter((l) => l.length > 0);
  if (nonEmpty.length === 0) return [];
  if (nonEmpty.length === 1) return nonEmpty[0];
  const out: MarketEvent[] = new Array(nonEmpty.reduce((s, l) => s + l.length, 0));
  const idx = new Array(nonEmpty.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let best = -1;
    for (let i = 0; i < nonEmpty.length; i++) {
      if (idx[i] >= nonEmpty[i].length) continue;
      if (best < 0) {
        best = i;
        continue;
      }
      const a = nonEmpty[i][idx[i]];
      const b = nonEmpty[best][idx[best]];
      if (a.exTime < b.exTime || (a.exTime === b.exTime && KIND_RANK[a.kind] < KIND_RANK[b.kind])) best = i;
    }
    out[o] = nonEmpty[best][idx[best]++];
  }
  return out;
}
