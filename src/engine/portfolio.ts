/**
 * Position accounting per fill, average-cost method.
 * - A fill that increases |position| moves the average entry price (size-weighted).
 * - A fill that reduces |position| realises (exit − average) × closed size (sign-adjusted); the average is kept.
 * - A fill that flips the position realises on the closed part and opens the rest at the fill price.
 * Fees are kept apart from realised P&L: net P&L = realised + unrealised(mark) − fees, and
 * equity(mark) = startingEquity + cash + position × mark, which equals startingEquity + net P&L.
 * Duplicate fills (same cloid and tid, e.g. replayed after a reconnect) are counted once.
 */

import { F0 } from '../util/shapes.ts';
import type { Fill } from './types.ts';

/** Positions smaller than this (coin units) are treated as flat, to absorb float residue. */
const FLAT_EPS = 1e-12;
/** Positions are snapped to this grid (far finer than any venue's lot) so sums of sizes stay exact. */
const snap = (x: number) => Math.round(x * 1e10) / 1e10;

export interface PortfolioSnapshot {
  position: number;
  avgEntryPx: number;
  cash: number;
  feesPaid: number;
  realisedPnl: number;
  unrealisedPnl: number;
  equity: number;
  equityPeak: number;
  drawdown: number;
}

export class Portfolio {
  readonly startingEquity: number;
  /** Position in coin units (positive = long). */
  position = F0;
  /** Average entry price of the open position (NaN when flat). */
  avgEntryPx = Number.NaN;
  /** Cash change since start, USD: −Σ signed notional − Σ fees. */
  cash = F0;
  /** Fees paid, USD (rebates negative). */
  feesPaid = F0;
  /** P&L realised on position reductions, before fees. */
  realisedPnl = F0;
  /** Traded notional, USD. */
  volume = F0;
  /** Funding received, USD (negative = paid); part of cash. */
  funding = F0;
  readonly fills: Fill[] = [];
  /** Highest equity marked so far (for the drawdown kill switch). */
  equityPeak = Number.NaN;
  /** Last mark price seen (NaN before the first). */
  lastMark = Number.NaN;
  duplicateFills = 0;
  /**
   * Fills seen, for de-duplication by (cloid, tid): tid → cloid of its first fill, and the rare further
   * (cloid, tid) pairs sharing a tid as "cloid/tid" (no string built per fill on the hot path).
   */
  private readonly seenTid = new Map<number, string>();
  private readonly seenPairs = new Set<string>();

  constructor(startingEquity = 0) {
    if (!Number.isFinite(startingEquity))
      throw new Error('portfolio startingEquity: must be a finite number');
    this.startingEquity = startingEquity;
    this.equityPeak = startingEquity;
  }

  /** True when (cloid, tid) was seen before; records it otherwise. */
  private seenBefore(cloid: string, tid: number): boolean {
    const first = this.seenTid.get(tid);
    if (first === undefined) {
      this.seenTid.set(tid, cloid);
      return false;
    }
    if (first === cloid) return true;
    const key = `${cloid}/${tid}`;
    if (this.seenPairs.has(key)) return true;
    this.seenPairs.add(key);
    return false;
  }

  /** Applies one fill; returns false (and changes nothing) for a duplicate (same cloid and tid). */
  applyFill(fill: Fill): boolean {
    if (this.seenBefore(fill.cloid, fill.tid)) {
      this.duplicateFills++;
      return false;
    }
    this.fills.push(fill);

    const signed = fill.side === 'bid' ? fill.sz : -fill.sz;
    const pos = this.position;
    this.cash -= signed * fill.px + fill.fee;
    this.feesPaid += fill.fee;
    this.volume += fill.px * fill.sz;

    if (pos === 0 || Math.sign(pos) === Math.sign(signed)) {
      // Opening or adding: size-weighted average entry.
      const newPos = snap(pos + signed);
      this.avgEntryPx = pos === 0 ? fill.px : (this.avgEntryPx * pos + fill.px * signed) / newPos;
      this.position = newPos;
    } else {
      const closed = Math.min(Math.abs(signed), Math.abs(pos));
      // Long position closed by a sell: (px − avg) per unit; short closed by a buy: (avg − px).
      this.realisedPnl += closed * (fill.px - this.avgEntryPx) * Math.sign(pos);
      const newPos = snap(pos + signed);
      if (Math.abs(newPos) <= FLAT_EPS) {
        this.position = 0;
        this.avgEntryPx = Number.NaN;
      } else if (Math.sign(newPos) !== Math.sign(pos)) {
        this.position = newPos; // flipped: the remainder opens at the fill price
        this.avgEntryPx = fill.px;
      } else {
        this.position = newPos;
      }
    }
    if (Number.isFinite(this.lastMark)) this.mark(this.lastMark);
    return true;
  }

  /** Books a funding payment received (USD; negative = paid) into cash. */
  applyFunding(amount: number): void {
    if (!Number.isFinite(amount)) return;
    this.cash += amount;
    this.funding += amount;
    if (Number.isFinite(this.lastMark)) this.mark(this.lastMark);
  }

  /** Marks the position at `mark` and updates the equity peak. Returns the equity. */
  mark(mark: number): number {
    this.lastMark = mark;
    const eq = this.equity(mark);
    if (eq > this.equityPeak) this.equityPeak = eq;
    return eq;
  }

  /**
   * mark(prices.mid), for the engine's call on every change of the mid (an object, not a number: a number passed
   * to a call the compiler does not inline is boxed, a heap object each).
   */
  markAt(prices: { readonly mid: number }): void {
    const mark = prices.mid;
    this.lastMark = mark;
    const eq = this.equity(mark);
    if (eq > this.equityPeak) this.equityPeak = eq;
  }

  unrealisedPnl(mark: number): number {
    return this.position === 0 ? 0 : this.position * (mark - this.avgEntryPx);
  }

  equity(mark: number): number {
    return this.startingEquity + this.cash + (this.position === 0 ? 0 : this.position * mark);
  }

  /** Net P&L since start at `mark`: realised + unrealised − fees. */
  netPnl(mark: number): number {
    return this.equity(mark) - this.startingEquity;
  }

  /** Drawdown from the peak in USD at `mark` (≥ 0). */
  drawdown(mark: number): number {
    return Math.max(0, this.equityPeak - this.equity(mark));
  }

  snapshot(mark: number): PortfolioSnapshot {
    return {
      position: this.position,
      avgEntryPx: this.avgEntryPx,
      cash: this.cash,
      feesPaid: this.feesPaid,
      realisedPnl: this.realisedPnl,
      unrealisedPnl: this.unrealisedPnl(mark),
      equity: this.equity(mark),
      equityPeak: this.equityPeak,
      drawdown: this.drawdown(mark),
    };
  }
}
