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
  // Typed arrays with a fill count (a quote is pushed on every book/bbo event: plain-array push was a top
  // self-time entry of the cj backtest). Indices are absolute; [head, n) is live.
  private t = new Float64Array(1024);
  private midv = new Float64Array(1024);
  private half = new Float64Array(1024);
  /** A small integer per quote for callers that classify quotes (the imbalance regime); 0 by default. */
  private tagv = new Int8Array(1024);
  private n = 0;
  private head = 0;

  get length(): number {
    return this.n - this.head;
  }

  get lastTime(): number {
    return this.n > this.head ? this.t[this.n - 1] : Number.NEGATIVE_INFINITY;
  }

  /** Appends (or inserts, when out of order) a quote. Returns false when it arrived out of order. */
  push(exTime: number, bidPx: number, askPx: number, tag = 0): boolean {
    const usable = Number.isFinite(bidPx) && Number.isFinite(askPx) && bidPx > 0 && askPx > bidPx;
    const m = usable ? 0.5 * (bidPx + askPx) : Number.NaN;
    const h = usable ? 0.5 * (askPx - bidPx) : Number.NaN;
    const n = this.n;
    if (n === this.t.length) this.grow();
    if (n === this.head || exTime >= this.t[n - 1]) {
      this.t[n] = exTime;
      this.midv[n] = m;
      this.half[n] = h;
      this.tagv[n] = tag;
      this.n = n + 1;
      return true;
    }
    const i = Math.max(this.head, this.indexAtOrBefore(exTime) + 1);
    this.t.copyWithin(i + 1, i, n);
    this.midv.copyWithin(i + 1, i, n);
    this.half.copyWithin(i + 1, i, n);
    this.tagv.copyWithin(i + 1, i, n);
    this.t[i] = exTime;
    this.midv[i] = m;
    this.half[i] = h;
    this.tagv[i] = tag;
    this.n = n + 1;
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
  tag(i: number): number {
    return this.tagv[i];
  }

  // The searches below find a boundary in the sorted times by bisection inside a bracket found by galloping
  // back from the newest quote: MOs are resolved as soon as the quotes pass them, so the answer usually lies
  // within a few quotes of the end (O(log distance) instead of O(log window)). Same index as plain bisection.
  /** Index of the last quote with time < t, or −1. */
  indexBefore(t: number): number {
    const times = this.t;
    const head = this.head;
    let hi = this.n; // first index with time ≥ t lies in [lo, hi]
    let lo = head;
    for (let step = 1; hi - step > head; step *= 2) {
      if (times[hi - step] < t) {
        lo = hi - step + 1;
        break;
      }
      hi -= step;
    }
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.t[m] < t) lo = m + 1;
      else hi = m;
    }
    return lo - 1 >= this.head ? lo - 1 : -1;
  }

  /** Index of the last quote with time ≤ t, or −1. */
  indexAtOrBefore(t: number): number {
    const times = this.t;
    const head = this.head;
    let hi = this.n;
    let lo = head;
    for (let step = 1; hi - step > head; step *= 2) {
      if (times[hi - step] <= t) {
        lo = hi - step + 1;
        break;
      }
      hi -= step;
    }
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
    return j < this.n ? j : -1;
  }

  /** Drops quotes older than t, keeping the last one before t (it is still "the mid just before"). */
  evictBefore(t: number): void {
    const keep = this.indexBefore(t);
    if (keep > this.head) this.head = keep;
    if (this.head > 4096 && this.head * 2 > this.n) {
      this.t.copyWithin(0, this.head, this.n);
      this.midv.copyWithin(0, this.head, this.n);
      this.half.copyWithin(0, this.head, this.n);
      this.tagv.copyWithin(0, this.head, this.n);
      this.n -= this.head;
      this.head = 0;
    }
  }

  private grow(): void {
    const size = 2 * this.t.length;
    const t = new Float64Array(size);
    const midv = new Float64Array(size);
    const half = new Float64Array(size);
    const tagv = new Int8Array(size);
    t.set(this.t);
    midv.set(this.midv);
    half.set(this.half);
    tagv.set(this.tagv);
    this.t = t;
    this.midv = midv;
    this.half = half;
    this.tagv = tagv;
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
