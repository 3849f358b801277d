/**
 * The mid sampled on a fixed clock grid (every `gridMs`): its increments give σ (variance per second, jumps
 * included) and the window's mid drift (mean increment per second), which the markouts are corrected for.
 * A grid point counts only when a usable quote covers it; an increment needs two consecutive valid points.
 * Increments are kept in quanta (half-ticks), so the sums are exact.
 */

import { F0 } from '../../util/shapes.ts';
import type { JackknifeBlocks } from './jackknife.ts';

/** Mid drift of the window (price/s) and its standard error. */
export interface MidDrift {
  drift: number;
  driftSe: number;
}

export class MidGrid {
  private readonly gridMs: number;
  private readonly blocks: JackknifeBlocks;
  private nextGrid = Number.NaN;
  private lastValid = false;
  private lastQ = F0;
  private incT: number[] = [];
  private incD: number[] = [];
  private head = 0;
  /** Increments in the window and their power sums (quanta). */
  n = 0;
  private s1 = F0;
  private s2 = F0;
  private s4 = F0;

  /** Called with every increment added (the per-regime drift classifies them). */
  private readonly onIncrement: ((g: number, d: number) => void) | undefined;

  constructor(gridMs: number, blocks: JackknifeBlocks, onIncrement?: (g: number, d: number) => void) {
    this.gridMs = gridMs;
    this.blocks = blocks;
    this.onIncrement = onIncrement;
  }

  /** The first quote's time: the grid starts at the next multiple of gridMs. */
  start(t: number): void {
    this.nextGrid = Math.ceil(t / this.gridMs) * this.gridMs;
  }

  /**
   * Samples the grid points before t. The previous quote (time prevT, mid prevMidQ in quanta, NaN when
   * unusable) is valid up to `end` (staleness and gaps already applied).
   */
  advance(t: number, prevT: number, end: number, prevMidQ: number): void {
    const prevValid = !Number.isNaN(prevMidQ);
    while (this.nextGrid < t) {
      const g = this.nextGrid;
      const valid = prevValid && g >= prevT && g <= end;
      if (valid) {
        if (this.lastValid) this.add(g, prevMidQ - this.lastQ);
        this.lastQ = prevMidQ;
      }
      this.lastValid = valid;
      this.nextGrid += this.gridMs;
      if (!valid && this.nextGrid < t) {
        // Skip the rest of an invalid stretch at once.
        this.nextGrid = Math.ceil(t / this.gridMs) * this.gridMs;
        this.lastValid = false;
      }
    }
  }

  /** Drops increments whose interval began before the window start. */
  evict(windowStart: number): void {
    while (this.head < this.incT.length && this.incT[this.head] - this.gridMs < windowStart) {
      const d = this.incD[this.head];
      this.n--;
      this.s1 -= d;
      this.s2 -= d * d;
      this.s4 -= d * d * d * d;
      this.blocks.increment(this.incT[this.head], d, -1);
      this.head++;
    }
    if (this.head > 4096 && this.head * 2 > this.incT.length) {
      this.incT = this.incT.slice(this.head);
      this.incD = this.incD.slice(this.head);
      this.head = 0;
    }
  }

  /** Mean increment per second (price/s) and its standard error; 0 without data. */
  drift(quantum: number): MidDrift {
    const gridSec = this.gridMs / 1000;
    const n = this.n;
    const drift = n > 0 ? (this.s1 * quantum) / (n * gridSec) : 0;
    const driftVar = n > 1 ? Math.max(0, this.s2 - (this.s1 * this.s1) / n) / (n - 1) / n : 0;
    return { drift, driftSe: (Math.sqrt(driftVar) * quantum) / gridSec };
  }

  /** σ (price/√s) with its standard error (from the fourth moment), or undefined below 30 increments. */
  sigma(quantum: number): { sigma: number; stderr: number } | undefined {
    if (this.n < 30) return undefined;
    const gridSec = this.gridMs / 1000;
    const n = this.n;
    const mean = this.s1 / n;
    const v = Math.max(0, (this.s2 - n * mean * mean) / (n - 1));
    const m4 = this.s4 / n;
    const sigma = Math.sqrt((v * quantum * quantum) / gridSec);
    const seSigma2 = (Math.sqrt(Math.max(0, m4 - v * v) / n) * quantum * quantum) / gridSec;
    return { sigma, stderr: sigma > 0 ? seSigma2 / (2 * sigma) : Number.NaN };
  }

  private add(g: number, d: number): void {
    this.incT.push(g);
    this.incD.push(d);
    this.n++;
    this.s1 += d;
    this.s2 += d * d;
    this.s4 += d * d * d * d;
    this.blocks.increment(g, d, 1);
    this.onIncrement?.(g, d);
  }
}
