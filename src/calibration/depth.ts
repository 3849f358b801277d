/**
 * The mid on the exchange clock, and the depth of each MO measured from the mid just before it.
 *
 * Tie rule: "just before" means the last quote with exTime STRICTLY below the MO's exTime. A quote stamped
 * with the same millisecond as the MO is treated as its consequence (Hyperliquid publishes the post-trade
 * book with the trade's block time), so it is the first quote AFTER the MO for markouts.
 */
import type { AggressorSide } from '../marketdata/events.ts';

/** Sorted (by exTime) series of quotes: mid and half-spread, NaN mid for an unusable (crossed/missing) quote. */
export class QuoteTimeline {
  private t: number[] = [];
  private midv: number[] = [];
  private half: number[] = [];
  private head = 0;

  get length(): number {
    return this.t.length - this.head;
  }

  get lastTime(): number {
    return this.t.length > this.head ? this.t[this.t.length - 1] : Number.NEGATIVE_INFINITY;
  }

  /** Appends (or inserts, when out of order) a quote. Returns false when it arrived out of order. */
  push(exTime: number, bidPx: number, askPx: number): boolean {
    const usable = Number.isFinite(bidPx) && Number.isFinite(askPx) && bidPx > 0 && askPx > bidPx;
    const m = usable ? 0.5 * (bidPx + askPx) : Number.NaN;
    const h = usable ? 0.5 * (askPx - bidPx) : Number.NaN;
    const n = this.t.length;
    if (n === this.head || exTime >= this.t[n - 1]) {
      this.t.push(exTime);
      this.midv.push(m);
      this.half.push(h);
      return true;
    }
    const i = Math.max(this.head, this.indexAtOrBefore(exTime) + 1);
    this.t.splice(i, 0, exTime);
    this.midv.splice(i, 0, m);
    this.half.splice(i, 0, h);
    return false;
  }

  time(i: number): number {
    return this.t[i];
  }
  mid(i: number): number {
    return this.midv[i];
  }
  halfSpread(i: number): number {
    return this.half[i];
  }

  /** Index of the last quote with time < t, or −1. */
  indexBefore(t: number): number {
    let lo = this.head;
    let hi = this.t.length; // first index with time ≥ t lies in [lo, hi]
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.t[m] < t) lo = m + 1;
      else hi = m;
    }
    return lo - 1 >= this.head ? lo - 1 : -1;
  }

  /** Index of the last quote with time ≤ t, or −1. */
  indexAtOrBefore(t: number): number {
    let lo = this.head;
    let hi = this.t.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.t[m] <= t) lo = m + 1;
      else hi = m;
    }
    return lo - 1 >= this.head ? lo - 1 : -1;
  }

  /** Index of the first quote with time ≥ t, or −1. */
  indexAtOrAfter(t: number): number {
    const i = this.indexBefore(t) + 1;
    const j = Math.max(i, this.head);
    return j < this.t.length ? j : -1;
  }

  /** Drops quotes older than t, keeping the last one before t (it is still "the mid just before"). */
  evictBefore(t: number): void {
    const keep = this.indexBefore(t);
    if (keep > this.head) this.head = keep;
    if (this.head > 4096 && this.head * 2 > this.t.length) {
      this.t = this.t.slice(this.head);
      this.midv = this.midv.slice(this.head);
      this.half = this.half.slice(this.head);
      this.head = 0;
    }
  }
}

export interface MoDepth {
  /** Depth from the mid (price): buy: extreme px − mid; sell: mid − extreme px. */
  depth: number;
  /** Half-spread at that moment (price). */
  halfSpread: number;
  /** Whole ticks beyond the touch (≥ 0 after clamping), and whether the fill was inside the recorded touch. */
  k: number;
  insideTouch: boolean;
}

/** Depth of an MO from the mid just before it; `tick` rounds to the grid. */
export function moDepth(
  side: AggressorSide,
  extremePx: number,
  mid: number,
  halfSpread: number,
  tick: number,
): MoDepth {
  const depth = side === 'buy' ? extremePx - mid : mid - extremePx;
  const raw = Math.round((depth - halfSpread) / tick);
  return { depth, halfSpread, k: Math.max(raw, 0), insideTouch: raw < 0 };
}
