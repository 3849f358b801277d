/**
 * Per-side market-order bookkeeping: for the MOs of one side (buy = plus, sell = minus) in the window, the
 * count, the sum and histogram of their depths in whole ticks beyond the touch (the sufficient statistics of
 * the geometric κ fit and its χ² test), fills per MO and fills inside the recorded touch.
 */

/** Depth histogram bins: k = 0..HIST_MAX−1 ticks, last bin "≥ HIST_MAX". */
export const HIST_MAX = 40;

export class SideStats {
  /** MOs with a measured depth. */
  n = 0;
  /** Σ depth in ticks beyond the touch. */
  sumK = 0;
  fills = 0;
  insideTouch = 0;
  readonly hist = new Float64Array(HIST_MAX + 1);

  /** Adds (w = 1) or removes (w = −1) one MO at k ticks beyond the touch. */
  book(k: number, fills: number, insideTouch: boolean, w: 1 | -1): void {
    this.n += w;
    this.sumK += w * k;
    this.fills += w * fills;
    this.hist[Math.min(HIST_MAX, k)] += w;
    if (insideTouch) this.insideTouch += w;
  }

  /** The depth histogram up to its last non-empty bin. */
  histogram(): number[] {
    let lastNonZero = 0;
    for (let k = 0; k <= HIST_MAX; k++) if (this.hist[k] > 0) lastNonZero = k;
    return Array.from(this.hist.subarray(0, lastNonZero + 1));
  }
}
