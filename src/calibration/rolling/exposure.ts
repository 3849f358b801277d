/**
 * Exposure: how long the window had a usable quote at each spread width. λ± is a Poisson rate per second of
 * exposure at the half-spread of the moment (docs/calibration.md), so the calibrator books every quote's
 * interval here when the next quote ends it, and subtracts it when it leaves the window.
 */

/** Spread widths tracked: bin s = s ticks for s = 1..SPREAD_BINS−1, bin SPREAD_BINS = that wide or wider. */
export const SPREAD_BINS = 64;

/** Spread bin of a valid quote (≥ 1). */
export function spreadBin(bid: number, ask: number, tick: number): number {
  return Math.min(SPREAD_BINS, Math.max(1, Math.round((ask - bid) / tick)));
}

/** One quote's interval, used for the quote still open at refresh time. */
export interface OpenInterval {
  start: number;
  end: number;
  bin: number;
}

export class Exposure {
  private readonly start = new DoubleQueue();
  private readonly end = new DoubleQueue();
  private readonly bin = new DoubleQueue();
  private head = 0;
  /** Committed ms at each spread bin (intervals wholly or partly inside the window). */
  private readonly ms = new Float64Array(SPREAD_BINS + 1);

  add(start: number, end: number, bin: number): void {
    this.start.push(start);
    this.end.push(end);
    this.bin.push(bin);
    this.ms[bin] += end - start;
  }

  /** Drops intervals that ended at or before the window start. */
  evict(windowStart: number): void {
    const start = this.start.values;
    const end = this.end.values;
    const bin = this.bin.values;
    while (this.head < this.end.length && end[this.head] <= windowStart) {
      this.ms[bin[this.head]] -= end[this.head] - start[this.head];
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.end.length) {
      this.start.dropFront(this.head);
      this.end.dropFront(this.head);
      this.bin.dropFront(this.head);
      this.head = 0;
    }
  }

  /**
   * Ms per spread bin inside [windowStart, now]: committed intervals, minus the part of the oldest before the
   * window, plus the open interval of the current quote (when given and non-empty).
   */
  snapshot(windowStart: number, open: OpenInterval | undefined): Float64Array {
    const ms = Float64Array.from(this.ms);
    if (this.head < this.end.length && this.start.values[this.head] < windowStart) {
      ms[this.bin.values[this.head]] -= windowStart - this.start.values[this.head];
    }
    if (open && open.end > open.start) ms[open.bin] += open.end - open.start;
    return ms;
  }
}

/** Seconds and half-spread per bin of an exposure snapshot, with their totals. */
export interface ExposureSeconds {
  /** Half-spread (price) of bin s. */
  halfSpreads: Float64Array;
  /** Seconds at bin s (≥ 0). */
  seconds: Float64Array;
  observedSec: number;
  /** Σ seconds × half-spread (for the time-weighted mean half-spread). */
  weightedHalf: number;
}

export function exposureSeconds(ms: Float64Array, tick: number): ExposureSeconds {
  const halfSpreads = new Float64Array(SPREAD_BINS + 1);
  const seconds = new Float64Array(SPREAD_BINS + 1);
  let observedSec = 0;
  let weightedHalf = 0;
  for (let s = 1; s <= SPREAD_BINS; s++) {
    halfSpreads[s] = (s * tick) / 2;
    seconds[s] = Math.max(0, ms[s]) / 1000;
    observedSec += seconds[s];
    weightedHalf += seconds[s] * halfSpreads[s];
  }
  return { halfSpreads, seconds, observedSec, weightedHalf };
}

/**
 * An append-only series of doubles in a typed array, trimmed from the front: the exposure intervals, pushed on
 * every quote (a plain array's push was a top self-time entry of the cj backtest).
 */
class DoubleQueue {
  values = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(2 * this.values.length);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }

  /** Removes the first k values. */
  dropFront(k: number): void {
    this.values.copyWithin(0, k, this.length);
    this.length -= k;
  }
}
