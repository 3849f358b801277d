/**
 * Block-jackknife standard errors of the drift-corrected markouts. Markouts of nearby MOs overlap each other
 * and the drift estimate, so their errors are correlated; per-time-block sums of markouts and σ-grid
 * increments, with blocks longer than the horizons, make the delete-one-block replicates nearly independent.
 */

import { F0 } from '../../util/shapes.ts';

const MIN_JACKKNIFE_BLOCKS = 8;

/** Sums of one time block. */
interface Block {
  /** Per horizon j and side (2j plain, 2j+1 minus): sum of markouts (quanta) and count. */
  mkSum: Float64Array;
  mkN: Float64Array;
  incSum: number;
  incN: number;
}

/** The window's blocks, keyed by floor(t / blockMs), created on first use. */
export class JackknifeBlocks {
  private readonly blocks = new Map<number, Block>();
  private readonly blockMs: number;
  private readonly horizons: number;
  /** The block last looked up (consecutive updates mostly hit the same block: one Map lookup saved each). */
  private lastKey = Number.NaN;
  private lastBlock: Block | undefined;

  constructor(blockMs: number, horizons: number) {
    this.blockMs = blockMs;
    this.horizons = horizons;
  }

  /** Adds (w = 1) or removes (w = −1) the markout of an MO at time t, horizon j, side 0 plus / 1 minus. */
  markout(t: number, j: number, sideIdx: number, value: number, w: 1 | -1): void {
    const b = this.block(t);
    b.mkSum[2 * j + sideIdx] += w * value;
    b.mkN[2 * j + sideIdx] += w;
  }

  /** Adds (w = 1) or removes (w = −1) a σ-grid increment at grid time g. */
  increment(g: number, d: number, w: 1 | -1): void {
    const b = this.block(g);
    b.incSum += w * d;
    b.incN += w;
  }

  /** Deletes empty blocks that lie before the window. */
  prune(windowStart: number): void {
    const firstBlock = Math.floor(windowStart / this.blockMs);
    for (const [key, b] of this.blocks) {
      if (key < firstBlock && b.incN === 0 && b.mkN.every((n) => n === 0)) {
        this.blocks.delete(key);
        if (key === this.lastKey) {
          this.lastKey = Number.NaN;
          this.lastBlock = undefined;
        }
      }
    }
  }

  /** Block-jackknife SE (in quanta) of the drift-corrected markout at horizon j, side 0 plus / 1 minus. */
  markoutSe(j: number, sideIdx: number, sign: number, hSec: number, gridSec: number): number {
    // The blocks' sums for this horizon and side, in columns reused across calls (8 calls per refresh).
    const c = 2 * j + sideIdx;
    const cols = columns(this.blocks.size);
    let B = 0;
    for (const b of this.blocks.values()) {
      cols.mkSum[B] = b.mkSum[c];
      cols.mkN[B] = b.mkN[c];
      cols.incSum[B] = b.incSum;
      cols.incN[B] = b.incN;
      B++;
    }
    return driftCorrectedSe(cols, B, sign, hSec, gridSec);
  }

  /**
   * Block-jackknife covariance (quanta²) of the drift-corrected mean markouts of the two sides at horizon j
   * (plus corrected by −h·D̂, minus by +h·D̂), over the blocks usable for both; NaN with fewer than 8.
   */
  markoutCov(j: number, hSec: number, gridSec: number): number {
    let M0 = 0;
    let n0 = 0;
    let M1 = 0;
    let n1 = 0;
    let S = 0;
    let N = 0;
    for (const b of this.blocks.values()) {
      M0 += b.mkSum[2 * j];
      n0 += b.mkN[2 * j];
      M1 += b.mkSum[2 * j + 1];
      n1 += b.mkN[2 * j + 1];
      S += b.incSum;
      N += b.incN;
    }
    // One pass: the replicates' sums and cross-product (no arrays; this runs per horizon on every refresh),
    // taken about the full-sample estimates so that the sums do not cancel.
    const dAll = N > 0 ? S / (N * gridSec) : 0;
    const c0 = n0 > 0 ? M0 / n0 - hSec * dAll : 0;
    const c1 = n1 > 0 ? M1 / n1 + hSec * dAll : 0;
    let B = 0;
    let s0 = 0;
    let s1 = 0;
    let s01 = 0;
    for (const b of this.blocks.values()) {
      const a0 = b.mkN[2 * j];
      const a1 = b.mkN[2 * j + 1];
      if (a0 === 0 && a1 === 0 && b.incN === 0) continue;
      const nn0 = n0 - a0;
      const nn1 = n1 - a1;
      if (nn0 <= 0 || nn1 <= 0) continue;
      const NN = N - b.incN;
      const drift = NN > 0 ? (S - b.incSum) / (NN * gridSec) : 0;
      const r0 = (M0 - b.mkSum[2 * j]) / nn0 - hSec * drift - c0;
      const r1 = (M1 - b.mkSum[2 * j + 1]) / nn1 + hSec * drift - c1;
      B++;
      s0 += r0;
      s1 += r1;
      s01 += r0 * r1;
    }
    if (B < MIN_JACKKNIFE_BLOCKS) return Number.NaN;
    const c = s01 - (s0 * s1) / B;
    return ((B - 1) / B) * c;
  }

  private block(t: number): Block {
    const key = Math.floor(t / this.blockMs);
    if (key === this.lastKey) return this.lastBlock as Block;
    let b = this.blocks.get(key);
    if (!b) {
      const n = 2 * this.horizons;
      b = { mkSum: new Float64Array(n), mkN: new Float64Array(n), incSum: F0, incN: 0 };
      this.blocks.set(key, b);
    }
    this.lastKey = key;
    this.lastBlock = b;
    return b;
  }
}

export interface JackknifeBlock {
  mkSum: number;
  mkN: number;
  incSum: number;
  incN: number;
}

/**
 * Delete-one-block jackknife SE of the drift-corrected mean markout m̄ − sign·h·D̂ (in the units of the sums;
 * D̂ = increments per grid step / gridSec). NaN with fewer than 8 usable blocks.
 */
export function jackknifeDriftCorrectedSe(
  blocks: JackknifeBlock[],
  sign: number,
  hSec: number,
  gridSec: number,
): number {
  const cols = columns(blocks.length);
  for (let i = 0; i < blocks.length; i++) {
    const b = blocks[i];
    cols.mkSum[i] = b.mkSum;
    cols.mkN[i] = b.mkN;
    cols.incSum[i] = b.incSum;
    cols.incN[i] = b.incN;
  }
  return driftCorrectedSe(cols, blocks.length, sign, hSec, gridSec);
}

/** Per-block sums as columns, and the replicates (scratch). */
interface BlockColumns {
  mkSum: Float64Array;
  mkN: Float64Array;
  incSum: Float64Array;
  incN: Float64Array;
  reps: Float64Array;
}
let COLUMNS: BlockColumns | undefined;

/** Scratch columns for at least `count` blocks (valid until the next call: no caller nests). */
function columns(count: number): BlockColumns {
  if (!COLUMNS || COLUMNS.mkSum.length < count) {
    const size = Math.max(64, 2 * count);
    COLUMNS = {
      mkSum: new Float64Array(size),
      mkN: new Float64Array(size),
      incSum: new Float64Array(size),
      incN: new Float64Array(size),
      reps: new Float64Array(size),
    };
  }
  return COLUMNS;
}

/** jackknifeDriftCorrectedSe on the first `count` blocks of `cols`. */
function driftCorrectedSe(
  cols: BlockColumns,
  count: number,
  sign: number,
  hSec: number,
  gridSec: number,
): number {
  const { mkSum, mkN, incSum, incN, reps } = cols;
  let M = 0;
  let n = 0;
  let S = 0;
  let N = 0;
  for (let i = 0; i < count; i++) {
    M += mkSum[i];
    n += mkN[i];
    S += incSum[i];
    N += incN[i];
  }
  let B = 0;
  for (let i = 0; i < count; i++) {
    if (mkN[i] === 0 && incN[i] === 0) continue;
    const nn = n - mkN[i];
    const NN = N - incN[i];
    if (nn <= 0) continue;
    const drift = NN > 0 ? (S - incSum[i]) / (NN * gridSec) : 0;
    reps[B++] = (M - mkSum[i]) / nn - sign * hSec * drift;
  }
  if (B < MIN_JACKKNIFE_BLOCKS) return Number.NaN;
  let sum = 0;
  for (let i = 0; i < B; i++) sum += reps[i];
  const mean = sum / B;
  let ss = 0;
  for (let i = 0; i < B; i++) ss += (reps[i] - mean) * (reps[i] - mean);
  return Math.sqrt(((B - 1) / B) * ss);
}
