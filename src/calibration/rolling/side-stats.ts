/**
 * Per-side market-order bookkeeping: for the MOs of one side (buy = plus, sell = minus) in the window, the
 * count, the sum and histogram of their depths in whole ticks beyond the touch (the sufficient statistics of
 * the geometric κ fit and its χ² test), fills per MO and fills inside the recorded touch; and the same depth
 * sums for the MOs that met a one-tick book (the data of the two-part depth model, depth-model.ts).
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
  /** MOs that met a one-tick spread: count, Σ depth in ticks, histogram. */
  nOneTick = 0;
  sumKOneTick = 0;
  readonly histOneTick = new Float64Array(HIST_MAX + 1);

  /** Adds (w = 1) or removes (w = −1) one MO at k ticks beyond the touch. */
  book(k: number, fills: number, insideTouch: boolean, oneTick: boolean, w: 1 | -1): void {
    this.n += w;
    this.sumK += w * k;
    this.fills += w * fills;
    this.hist[Math.min(HIST_MAX, k)] += w;
    if (insideTouch) this.insideTouch += w;
    if (oneTick) {
      this.nOneTick += w;
      this.sumKOneTick += w * k;
      this.histOneTick[Math.min(HIST_MAX, k)] += w;
    }
  }

  /** The depth histogram up to its last non-empty bin. */
  histogram(): number[] {
    return trimmed(this.hist);
  }

  /** The one-tick-book depth histogram up to its last non-empty bin. */
  histogramOneTick(): number[] {
    return trimmed(this.histOneTick);
  }
}

function trimmed(hist: Float64Array): number[] {
  let lastNonZero = 0;
  for (let k = 0; k <= HIST_MAX; k++) if (hist[k] > 0) lastNonZero = k;
  const out = new Array<number>(lastNonZero + 1);
  for (let k = 0; k <= lastNonZero; k++) out[k] = hist[k];
  return out;
}
