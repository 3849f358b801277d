/**
 * The quoting layer shared by every strategy: from a mid and two depths to orders the venue accepts.
 * - bid = mid − δ⁻ rounded DOWN on the tick, ask = mid + δ⁺ rounded UP (passive side), then Hyperliquid's
 *   price rule (5 significant figures) applied passively as well;
 * - never crossing or touching through the opposite touch: bid ≤ best ask − tick, ask ≥ best bid + tick
 *   (a model depth can be negative for large |q|: the model wants to cross; the quoting layer does not);
 * - a NaN/infinite depth means "no quote on that side" (inventory bound, touch mode saying no);
 * - sizes rounded down to the size decimals; a side below the minimum notional is not quoted.
 */

import type { DesiredQuotes, InstrumentSpec, StrategyContext } from '../engine/types.ts';
import { priceDecimals, roundPricePassive, roundSizeDown } from '../exchange/order-rules.ts';
import type { BboEvent, BookEvent } from '../marketdata/events.ts';
import type { SpreadBoundLimiter } from './spread-bounds.ts';

export interface Touch {
  bid: number;
  ask: number;
  mid: number;
  /** Sizes at the touch (coin units; NaN when the source does not say). */
  bidSz: number;
  askSz: number;
  /** Exchange / receive time of the source event. */
  exTime: number;
  rxTime: number;
}

/**
 * Best bid/ask from the newer of the last bbo and book (NaN sides when missing). Writes into `out` when given
 * (strategies reuse one object: this runs on every market event).
 */
export function touchOf(
  book: BookEvent | undefined,
  bbo: BboEvent | undefined,
  out?: Touch,
): Touch | undefined {
  const useBbo = bbo !== undefined && (book === undefined || bbo.rxTime >= book.rxTime);
  if (!useBbo && book === undefined) return undefined;
  const t = out ?? newTouch();
  // Each branch writes the touch itself (no locals merged across the branches: a merge of numbers read from
  // differently shaped objects, a bbo and a book level, was boxed into heap numbers on every call).
  if (useBbo) {
    t.bid = bbo.bidPx > 0 ? bbo.bidPx : Number.NaN;
    t.ask = bbo.askPx > 0 ? bbo.askPx : Number.NaN;
    t.bidSz = bbo.bidSz;
    t.askSz = bbo.askSz;
    t.exTime = bbo.exTime;
    t.rxTime = bbo.rxTime;
  } else if (book !== undefined) {
    const b = book.bids.length > 0 ? book.bids[0] : undefined;
    const a = book.asks.length > 0 ? book.asks[0] : undefined;
    t.bid = b !== undefined && b.px > 0 ? b.px : Number.NaN;
    t.ask = a !== undefined && a.px > 0 ? a.px : Number.NaN;
    t.bidSz = b !== undefined ? b.sz : Number.NaN;
    t.askSz = a !== undefined ? a.sz : Number.NaN;
    t.exTime = book.exTime;
    t.rxTime = book.rxTime;
  }
  t.mid = 0.5 * (t.bid + t.ask);
  return t;
}

export function contextTouch(ctx: StrategyContext, out?: Touch): Touch | undefined {
  return touchOf(ctx.book, ctx.bbo, out);
}

/** A reusable Touch for `contextTouch(ctx, out)`. */
export function newTouch(): Touch {
  return {
    bid: Number.NaN,
    ask: Number.NaN,
    mid: Number.NaN,
    bidSz: Number.NaN,
    askSz: Number.NaN,
    exTime: Number.NaN,
    rxTime: Number.NaN,
  };
}

/** Number of decimals of a tick such as 0.1, 0.01, 0.5, 1. */
export function tickDecimals(tick: number): number {
  for (let d = 0; d <= 12; d++) {
    const s = tick * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-9 * Math.max(1, s)) return d;
  }
  return 12;
}

// k·tick as the nearest double to the decimal price: an integer divided by a power of ten is correctly
// rounded, so 30001 / 10 is exactly the double of "3000.1" (no toFixed needed on the hot path).
function onGrid(k: number, tick: number, dec: number): number {
  const p = 10 ** dec;
  return Math.round(k * tick * p) / p;
}
function floorTick(px: number, tick: number, dec: number): number {
  return onGrid(Math.floor(px / tick + 1e-9), tick, dec);
}
function ceilTick(px: number, tick: number, dec: number): number {
  return onGrid(Math.ceil(px / tick - 1e-9), tick, dec);
}

/** Decimals of the instrument's tick, cached per instrument object. */
const tickDecCache = new WeakMap<InstrumentSpec, number>();
function instTickDecimals(inst: InstrumentSpec): number {
  let d = tickDecCache.get(inst);
  if (d === undefined) {
    d = tickDecimals(inst.tick);
    tickDecCache.set(inst, d);
  }
  return d;
}

/** Passive bid price: floor on the tick, then Hyperliquid's significant-figure rule, downward. */
export function roundBid(px: number, inst: InstrumentSpec): number {
  const dec = instTickDecimals(inst);
  const p = floorTick(px, inst.tick, dec);
  // The tick grid is usually finer than or equal to the venue's rule at this price: then p is already valid.
  return dec <= priceDecimals(p, inst.szDecimals) ? p : roundPricePassive(p, inst.szDecimals, 'bid');
}
/** Passive ask price: ceil on the tick, then Hyperliquid's significant-figure rule, upward. */
export function roundAsk(px: number, inst: InstrumentSpec): number {
  const dec = instTickDecimals(inst);
  const p = ceilTick(px, inst.tick, dec);
  return dec <= priceDecimals(p, inst.szDecimals) ? p : roundPricePassive(p, inst.szDecimals, 'ask');
}

let memoSize = Number.NaN;
let memoDec = -1;
let memoOut = Number.NaN;
/** roundSizeDown, memoised: strategies ask for the same size over and over. */
function sizeOnLot(size: number, szDecimals: number): number {
  if (size !== memoSize || szDecimals !== memoDec) {
    memoSize = size;
    memoDec = szDecimals;
    memoOut = roundSizeDown(size, szDecimals);
  }
  return memoOut;
}

/**
 * Remembers the inputs of the last quote computation so a strategy can skip recomputing (and return
 * "no change") when the touch, the inventory and its parameters are all unchanged.
 */
export class QuoteInputs {
  private bid = Number.NaN;
  private ask = Number.NaN;
  private q = Number.NaN;
  private version = -1;
  private ref = 0;
  /**
   * True when (bid, ask, q, version, ref) equal the last call's; records them otherwise. `ref` is the
   * reference price when it is not a function of bid and ask (micro-price, weighted mid), else 0.
   */
  same(bid: number, ask: number, q: number, version: number, ref = 0): boolean {
    if (bid === this.bid && ask === this.ask && q === this.q && version === this.version && ref === this.ref)
      return true;
    this.bid = bid;
    this.ask = ask;
    this.q = q;
    this.version = version;
    this.ref = ref;
    return false;
  }
  reset(): void {
    this.version = -1;
  }
}

export interface DepthQuote {
  /** The price the depths are measured from: the mid, or the strategy's reference price. */
  mid: number;
  /** Ask depth above mid, bid depth below mid (price units); NaN/±Infinity = do not quote. */
  deltaPlus: number;
  deltaMinus: number;
  bestBid: number;
  bestAsk: number;
  /** Order size in coin units. */
  size: number;
}

/**
 * Rounds two depths into passive, non-crossing, valid quotes. With a spread-bound limiter, the depths are
 * clamped into the configured bounds first (after the model, before rounding) and the limiter records which
 * bound set each quoted side from `now` (strategy clock) on.
 */
export function quotesFromDepths(
  q: DepthQuote,
  inst: InstrumentSpec,
  limiter?: SpreadBoundLimiter,
  now = 0,
  /** The caller's last quotes: returned as they are when the new ones equal them (nothing allocated). */
  prev?: DesiredQuotes,
): DesiredQuotes {
  const { mid, bestBid, bestAsk } = q;
  const sz = sizeOnLot(q.size, inst.szDecimals);
  if (!(mid > 0) || !(sz > 0)) {
    limiter?.record(now, false, false);
    return { bid: null, ask: null };
  }
  let deltaPlus = q.deltaPlus;
  let deltaMinus = q.deltaMinus;
  if (limiter !== undefined) {
    limiter.apply(mid, deltaPlus, deltaMinus);
    deltaPlus = limiter.deltaPlus;
    deltaMinus = limiter.deltaMinus;
  }
  const tick = inst.tick;
  let bidPx = Number.NaN;
  let askPx = Number.NaN;
  if (Number.isFinite(deltaMinus)) {
    let raw = mid - deltaMinus;
    if (bestAsk > 0) raw = Math.min(raw, bestAsk - tick);
    bidPx = roundBid(raw, inst);
  }
  if (Number.isFinite(deltaPlus)) {
    let raw = mid + deltaPlus;
    if (bestBid > 0) raw = Math.max(raw, bestBid + tick);
    askPx = roundAsk(raw, inst);
  }
  // Both clamps can meet in a 2-tick spread when the model wants to cross on both sides: keep them apart.
  if (bidPx > 0 && askPx > 0 && bidPx >= askPx) askPx = roundAsk(bidPx + tick, inst);
  const minNotional = inst.minNotional;
  const bidOk = bidPx > 0 && bidPx * sz >= minNotional - 1e-9;
  const askOk = askPx > 0 && askPx * sz >= minNotional - 1e-9;
  limiter?.record(now, bidOk, askOk);
  if (prev !== undefined && sideIs(prev.bid, bidOk, bidPx, sz) && sideIs(prev.ask, askOk, askPx, sz))
    return prev;
  return { bid: bidOk ? { px: bidPx, sz } : null, ask: askOk ? { px: askPx, sz } : null };
}

/**
 * A DepthQuote to fill and pass to quotesFromDepths, which reads it and keeps no reference to it: strategies
 * quote on every market event and reuse one (a fresh input object per quote was a steady stream of garbage;
 * so were the numbers of a helper taking them as arguments, boxed at a call that is not inlined).
 */
export function newDepthQuote(): DepthQuote {
  return {
    mid: Number.NaN,
    deltaPlus: Number.NaN,
    deltaMinus: Number.NaN,
    bestBid: Number.NaN,
    bestAsk: Number.NaN,
    size: Number.NaN,
  };
}

/** boundedQuotes' input (nothing quotesFromDepths calls quotes again). */
const BOUNDED = newDepthQuote();

/** True when a side of a quote set is the one described (quoted at px, sz, or not quoted). */
function sideIs(side: { px: number; sz: number } | null, quoted: boolean, px: number, sz: number): boolean {
  return side === null ? !quoted : quoted && side.px === px && side.sz === sz;
}

/**
 * Quotes at depths (ask δ⁺, bid δ⁻) from the reference price `ref` (default the touch's mid), with no quote
 * on the side that would take |inventory| (q, in lots of `size`) beyond `maxPosition` lots.
 */
export function boundedQuotes(
  t: Touch,
  q: number,
  maxPosition: number,
  deltaPlus: number,
  deltaMinus: number,
  size: number,
  inst: InstrumentSpec,
  limiter?: SpreadBoundLimiter,
  now = 0,
  ref: number = t.mid,
  /** The caller's last quotes: returned as they are when the new ones equal them (nothing allocated). */
  prev?: DesiredQuotes,
): DesiredQuotes {
  const d = BOUNDED;
  d.mid = ref;
  d.deltaPlus = q <= -maxPosition ? Number.NaN : deltaPlus;
  d.deltaMinus = q >= maxPosition ? Number.NaN : deltaMinus;
  d.bestBid = t.bid;
  d.bestAsk = t.ask;
  d.size = size;
  return quotesFromDepths(d, inst, limiter, now, prev);
}

/** True when two quote sets would produce the same orders. */
export function sameQuotes(a: DesiredQuotes | undefined, b: DesiredQuotes): boolean {
  if (a === undefined) return false;
  return sameSide(a.bid, b.bid) && sameSide(a.ask, b.ask);
}
function sameSide(a: { px: number; sz: number } | null, b: { px: number; sz: number } | null): boolean {
  if (a === null || b === null) return a === b;
  return a.px === b.px && a.sz === b.sz;
}

/** Inventory in lots of `orderSize` (rounded to the nearest lot, so float residue never shifts q). */
export function inventoryLots(position: number, orderSize: number): number {
  return Math.round(position / orderSize);
}

/**
 * Time to horizon (s). 'inf' → `receding` (fixed). A finite horizon T has sessions ending at multiples of
 * T seconds since the epoch (UTC), so every run and restart agrees on when the session ends.
 */
export function timeToHorizon(
  horizon: 'inf' | number,
  nowMs: number,
  receding = Number.POSITIVE_INFINITY,
): number {
  if (horizon === 'inf') return receding;
  const T = horizon * 1000;
  const rem = T - (((nowMs % T) + T) % T);
  return rem / 1000;
}
