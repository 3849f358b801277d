/**
 * The price grid, inferred from the data: the smallest positive price difference that recurs among book
 * levels and spreads, cleaned of float noise (3350.1 − 3350.0 = 0.10000000000036 → 0.1).
 */
import type { MarketEvent } from '../marketdata/events.ts';

const MAX_DIFFS = 4000;

/** Collects candidate price differences from quote events. */
export class TickInferrer {
  private readonly diffs: number[] = [];

  get full(): boolean {
    return this.diffs.length >= MAX_DIFFS;
  }

  observe(ev: MarketEvent): void {
    if (this.diffs.length >= MAX_DIFFS) return;
    if (ev.kind === 'book') {
      this.side(ev.bids.map((l) => l.px));
      this.side(ev.asks.map((l) => l.px));
      if (ev.bids.length > 0 && ev.asks.length > 0) this.push(ev.asks[0].px - ev.bids[0].px);
    } else if (ev.kind === 'bbo') {
      this.push(ev.askPx - ev.bidPx);
    }
  }

  get samples(): number {
    return this.diffs.length;
  }

  private side(pxs: number[]): void {
    for (let i = 1; i < pxs.length; i++) this.push(Math.abs(pxs[i] - pxs[i - 1]));
  }

  private push(d: number): void {
    // A few thousand differences pin the grid; more only cost time.
    if (Number.isFinite(d) && d > 0 && this.diffs.length < MAX_DIFFS) this.diffs.push(d);
  }

  /** The tick, or NaN when no usable difference was seen. */
  infer(): number {
    return inferTickFromDiffs(this.diffs);
  }
}

export function inferTick(events: Iterable<MarketEvent>): number {
  const t = new TickInferrer();
  for (const ev of events) {
    if (ev.kind !== 'trade') t.observe(ev);
    if (t.full) break;
  }
  return t.infer();
}

/**
 * Smallest difference that recurs (≥ 2 times and ≥ 0.5 % of the samples, so one bad print cannot set the
 * grid), rounded to 6 significant digits. Among the candidates, the one that divides nearly all differences.
 */
export function inferTickFromDiffs(diffs: number[]): number {
  if (diffs.length === 0) return Number.NaN;
  const rounded = diffs.map((d) => Number(d.toPrecision(6)));
  const counts = new Map<number, number>();
  for (const d of rounded) counts.set(d, (counts.get(d) ?? 0) + 1);
  const minCount = Math.max(2, Math.ceil(0.005 * rounded.length));
  const frequent = [...counts.entries()]
    .filter(([, c]) => c >= minCount)
    .map(([d]) => d)
    .sort((a, b) => a - b);
  const candidates = frequent.length > 0 ? frequent : [...counts.keys()].sort((a, b) => a - b);
  const smallest = candidates[0];
  // If differences are not multiples of the smallest recurring one, fall back to a gcd-like refinement.
  const isMultiple = (d: number, t: number) => {
    const r = d / t;
    return Math.abs(r - Math.round(r)) < 1e-6 * Math.max(1, r);
  };
  let multiples = 0;
  for (const d of rounded) if (isMultiple(d, smallest)) multiples++;
  if (multiples >= 0.95 * rounded.length) return smallest;
  for (const div of [2, 4, 5, 10]) {
    const t = Number((smallest / div).toPrecision(6));
    let m = 0;
    for (const d of rounded) if (isMultiple(d, t)) m++;
    if (m >= 0.95 * rounded.length) return t;
  }
  return smallest;
}
