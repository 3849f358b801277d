/**
 * Gap detection from the data itself: a coin whose book/bbo feed (sent by Hyperliquid every block or so, i.e.
 * well under a second apart) falls silent for longer than a threshold was not being recorded, whatever the
 * cause (disconnect, collector restart). Trades alone cannot tell: markets can legitimately go quiet.
 */
import type { Gap, MarketEvent } from './events.ts';

export const DEFAULT_GAP_THRESHOLD_MS = 5_000;

/** Gaps (kind 'all', exchange-clock bounds) where no book or bbo event arrived for more than `thresholdMs`. */
export function detectGaps(events: readonly MarketEvent[], thresholdMs = DEFAULT_GAP_THRESHOLD_MS): Gap[] {
  if (!(thresholdMs > 0)) throw new RangeError(`gap threshold must be > 0 ms (got ${thresholdMs})`);
  const timesByCoin = new Map<string, number[]>();
  for (const ev of events) {
    if (ev.kind === 'trade') continue;
    let ts = timesByCoin.get(ev.coin);
    if (!ts) {
      ts = [];
      timesByCoin.set(ev.coin, ts);
    }
    ts.push(ev.exTime);
  }
  const gaps: Gap[] = [];
  for (const [coin, ts] of timesByCoin) {
    const sorted = Float64Array.from(ts).sort();
    for (let i = 1; i < sorted.length; i++) {
      const dt = sorted[i] - sorted[i - 1];
      if (dt > thresholdMs) {
        gaps.push({
          coin,
          kind: 'all',
          start: sorted[i - 1],
          end: sorted[i],
          reason: `no book/bbo update for ${(dt / 1000).toFixed(1)} s (detected on import, threshold ${thresholdMs / 1000} s)`,
        });
      }
    }
  }
  return gaps.sort((a, b) => a.start - b.start);
}

/** Total milliseconds of [from, to) covered by gaps (overlaps counted once). */
export function gapCoverageMs(gaps: readonly Gap[], from: number, to: number): number {
  const iv = gaps
    .map((g) => [Math.max(from, g.start), Math.min(to, g.end)] as const)
    .filter(([a, b]) => b > a)
    .sort((x, y) => x[0] - y[0]);
  let total = 0;
  let curA = Number.NaN;
  let curB = Number.NaN;
  for (const [a, b] of iv) {
    if (Number.isNaN(curA) || a > curB) {
      if (!Number.isNaN(curA)) total += curB - curA;
      curA = a;
      curB = b;
    } else if (b > curB) curB = b;
  }
  if (!Number.isNaN(curA)) total += curB - curA;
  return total;
}
