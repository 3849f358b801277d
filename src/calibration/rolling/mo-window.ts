/**
 * The window's market orders in exchange-time order, each resolved in two steps as the quote feed allows:
 * its depth (from the mid just before it) once the quote channel reached its time, then its markout at each
 * horizon once the quotes passed t + h. Cursors mark how far each step has got; MOs that arrive out of
 * exchange order are inserted in place and resolved at once when a cursor already passed them. Eviction
 * takes every booked number back out, so the per-side and markout sums always describe the window.
 */

import type { MarketOrder } from '../market-orders.ts';
import type { HorizonSpec } from '../markout.ts';
import type { MarkoutTracker } from './markout-tracker.ts';
import type { SideStats } from './side-stats.ts';
import type { WindowQuotes } from './window-quotes.ts';

/** Deeper than this many ticks beyond the touch is a bad print, not an MO. */
const MAX_DEPTH_TICKS = 10_000;

export interface MoRec {
  t: number;
  plus: boolean;
  fills: number;
  extremePx: number;
  /** 0 = waiting for the quote feed, 1 = depth counted, 2 = no usable mid (not counted). */
  state: 0 | 1 | 2;
  k: number;
  insideTouch: boolean;
  /** The book was one tick wide just before it. */
  oneTick: boolean;
  midQ: number;
  /** Markout per horizon in quanta; NaN = unresolved or unusable. */
  mk: number[];
  /** Tag of the quote that gave its mid (the imbalance regime; −1 unclassified). */
  regime: number;
}

/** Sees every MO booked, markout resolved and MO evicted (the per-regime statistics). */
export interface MoListener {
  depth(mo: MoRec): void;
  markout(mo: MoRec, j: number): void;
  evictMo(mo: MoRec): void;
}

export class MoWindow {
  private mos: MoRec[] = [];
  private head = 0;
  private depthCursor = 0;
  private readonly mkCursor: number[];
  /** An MO's markouts before any is resolved (NaN per horizon): copied per MO, an array of exactly that size. */
  private readonly mkUnresolved: number[];
  private readonly horizons: HorizonSpec[];
  private readonly quotes: WindowQuotes;
  private readonly sides: { plus: SideStats; minus: SideStats };
  private readonly markouts: MarkoutTracker;
  private readonly onBadPrint: () => void;
  private readonly listener: MoListener | undefined;
  private tick = Number.NaN;
  private quantum = Number.NaN;
  /** MOs in the window that had no usable mid. */
  withoutQuote = 0;

  constructor(
    horizons: HorizonSpec[],
    quotes: WindowQuotes,
    sides: { plus: SideStats; minus: SideStats },
    markouts: MarkoutTracker,
    onBadPrint: () => void,
    listener?: MoListener,
  ) {
    this.horizons = horizons;
    this.quotes = quotes;
    this.sides = sides;
    this.markouts = markouts;
    this.onBadPrint = onBadPrint;
    this.listener = listener;
    this.mkCursor = horizons.map(() => 0);
    this.mkUnresolved = [];
    for (let j = 0; j < horizons.length; j++) this.mkUnresolved.push(Number.NaN);
  }

  /** The price grid (set once it is known, before any MO is resolved). */
  setTick(tick: number): void {
    this.tick = tick;
    this.quantum = tick / 2;
  }

  /** Books an MO (its fields are copied: the caller may reuse the object). */
  add(mo: MarketOrder): void {
    const rec: MoRec = {
      t: mo.exTime,
      plus: mo.side === 'buy',
      fills: mo.fills,
      extremePx: mo.extremePx,
      state: 0,
      k: 0,
      insideTouch: false,
      oneTick: false,
      midQ: Number.NaN,
      mk: this.mkUnresolved.slice(),
      regime: -1,
    };
    const n = this.mos.length;
    if (n === this.head || rec.t >= this.mos[n - 1].t) {
      this.mos.push(rec);
      return;
    }
    // Out of exchange order: insert in place and resolve it directly if cursors already passed it.
    let i = n;
    while (i > this.head && this.mos[i - 1].t > rec.t) i--;
    this.mos.splice(i, 0, rec);
    if (i < this.depthCursor) {
      this.depthCursor++;
      this.resolveDepth(rec);
    }
    for (let j = 0; j < this.horizons.length; j++) {
      if (i < this.mkCursor[j]) {
        this.mkCursor[j]++;
        if (rec.state === 1) this.resolveMarkout(rec, j);
      }
    }
  }

  /**
   * Resolves MOs whose quotes are complete: depth once the quote feed reached the MO's time (or data time
   * `settledTo` passed it), markouts once it passed t + h. `final` (end of a batch) also resolves 'next'
   * markouts up to the furthest of the two.
   */
  resolve(quotesTo: number, settledTo: number, final: boolean): void {
    const reach = Math.max(quotesTo, settledTo);
    while (this.depthCursor < this.mos.length) {
      const mo = this.mos[this.depthCursor];
      if (!(mo.t <= quotesTo || mo.t <= settledTo)) break;
      this.resolveDepth(mo);
      this.depthCursor++;
    }
    for (let j = 0; j < this.horizons.length; j++) {
      const h = this.horizons[j];
      while (this.mkCursor[j] < this.depthCursor) {
        const mo = this.mos[this.mkCursor[j]];
        const target = mo.t + h.ms;
        const ready = h.next
          ? mo.t <= quotesTo || (final && mo.t <= reach)
          : target < quotesTo || target <= settledTo;
        if (!ready) break;
        if (mo.state === 1) this.resolveMarkout(mo, j);
        this.mkCursor[j]++;
      }
    }
  }

  /** Takes the MOs before the window start out of every sum. */
  evict(windowStart: number): void {
    while (this.head < this.mos.length && this.mos[this.head].t < windowStart) {
      const mo = this.mos[this.head];
      if (mo.state === 1) {
        this.sideOf(mo).book(mo.k, mo.fills, mo.insideTouch, mo.oneTick, -1);
        this.markouts.remove(mo);
        this.listener?.evictMo(mo);
      } else if (mo.state === 2) this.withoutQuote--;
      this.head++;
    }
    if (this.depthCursor < this.head) this.depthCursor = this.head;
    for (let j = 0; j < this.mkCursor.length; j++)
      if (this.mkCursor[j] < this.head) this.mkCursor[j] = this.head;
    if (this.head > 4096 && this.head * 2 > this.mos.length) {
      this.mos = this.mos.slice(this.head);
      this.depthCursor -= this.head;
      for (let j = 0; j < this.mkCursor.length; j++) this.mkCursor[j] -= this.head;
      this.head = 0;
    }
  }

  /** Depth of an MO from the mid just before it, in whole ticks beyond the touch; booked on its side. */
  private resolveDepth(mo: MoRec): void {
    const i = this.quotes.midBefore(mo.t);
    if (i < 0) {
      mo.state = 2;
      this.withoutQuote++;
      return;
    }
    const mid = this.quotes.timeline.mid(i);
    const half = this.quotes.timeline.halfSpread(i);
    const depth = mo.plus ? mo.extremePx - mid : mid - mo.extremePx;
    const raw = Math.round((depth - half) / this.tick);
    if (raw > MAX_DEPTH_TICKS) {
      mo.state = 2;
      this.onBadPrint();
      return;
    }
    mo.state = 1;
    mo.k = Math.max(raw, 0);
    mo.insideTouch = raw < 0;
    mo.oneTick = Math.round((2 * half) / this.tick) === 1;
    mo.midQ = Math.round(mid / this.quantum);
    mo.regime = this.quotes.timeline.tag(i);
    this.sideOf(mo).book(mo.k, mo.fills, mo.insideTouch, mo.oneTick, 1);
    this.listener?.depth(mo);
  }

  private resolveMarkout(mo: MoRec, j: number): void {
    this.markouts.resolve(mo, j);
    this.listener?.markout(mo, j);
  }

  private sideOf(mo: MoRec): SideStats {
    return mo.plus ? this.sides.plus : this.sides.minus;
  }
}
