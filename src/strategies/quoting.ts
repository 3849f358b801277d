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
import type { BboEvent, BookEvent } from '../marketdata/events.ts';
import { roundPricePassive, roundSizeDown } from '../venue/hyperliquid/rules.ts';

export interface Touch {
  bid: number;
  ask: number;
  mid: number;
  /** Exchange / receive time of the source event. */
  exTime: number;
  rxTime: number;
}

/** Best bid/ask from the newer of the last bbo and book (NaN sides when missing). */
export function touchOf(book: BookEvent | undefined, bbo: BboEvent | undefined): Touch | undefined {
  const useBbo = bbo !== undefined && (book === undefined || bbo.rxTime >= book.rxTime);
  let bid: number;
  let ask: number;
  let exTime: number;
  let rxTime: number;
  if (useBbo) {
    bid = bbo.bidPx;
    ask = bbo.askPx;
    exTime = bbo.exTime;
    rxTime = bbo.rxTime;
  } else if (book !== undefined) {
    bid = book.bids[0]?.px ?? Number.NaN;
    ask = book.asks[0]?.px ?? Number.NaN;
    exTime = book.exTime;
    rxTime = book.rxTime;
  } else {
    return undefined;
  }
  if (!(bid > 0)) bid = Number.NaN;
  if (!(ask > 0)) ask = Number.NaN;
  return { bid, ask, mid: 0.5 * (bid + ask), exTime, rxTime };
}

export function contextTouch(ctx: StrategyContext): Touch | undefined {
  return touchOf(ctx.book, ctx.bbo);
}

/** Number of decimals of a tick such as 0.1, 0.01, 0.5, 1. */
export function tickDecimals(tick: number): number {
  for (let d = 0; d <= 12; d++) {
    const s = tick * 10 ** d;
    if (Math.abs(s - Math.round(s)) < 1e-9 * Math.max(1, s)) return d;
  }
  return 12;
}

function floorTick(px: number, tick: number, dec: number): number {
  return Number((Math.floor(px / tick + 1e-9) * tick).toFixed(dec));
}
function ceilTick(px: number, tick: number, dec: number): number {
  return Number((Math.ceil(px / tick - 1e-9) * tick).toFixed(dec));
}

/** Passive bid price: floor on the tick, then Hyperliquid's significant-figure rule, downward. */
export function roundBid(px: number, inst: InstrumentSpec): number {
  return roundPricePassive(floorTick(px, inst.tick, tickDecimals(inst.tick)), inst.szDecimals, 'bid');
}
/** Passive ask price: ceil on the tick, then Hyperliquid's significant-figure rule, upward. */
export function roundAsk(px: number, inst: InstrumentSpec): number {
  return roundPricePassive(ceilTick(px, inst.tick, tickDecimals(inst.tick)), inst.szDecimals, 'ask');
}

export interface DepthQuote {
  mid: number;
  /** Ask depth above mid, bid depth below mid (price units); NaN/±Infinity = do not quote. */
  deltaPlus: number;
  deltaMinus: number;
  bestBid: number;
  bestAsk: number;
  /** Order size in coin units. */
  size: number;
}

/** Rounds two depths into passive, non-crossing, valid quotes. */
export function quotesFromDepths(q: DepthQuote, inst: InstrumentSpec): DesiredQuotes {
  const { mid, bestBid, bestAsk } = q;
  const sz = roundSizeDown(q.size, inst.szDecimals);
  if (!(mid > 0) || !(sz > 0)) return { bid: null, ask: null };
  const tick = inst.tick;
  let bidPx = Number.NaN;
  let askPx = Number.NaN;
  if (Number.isFinite(q.deltaMinus)) {
    let raw = mid - q.deltaMinus;
    if (bestAsk > 0) raw = Math.min(raw, bestAsk - tick);
    bidPx = roundBid(raw, inst);
  }
  if (Number.isFinite(q.deltaPlus)) {
    let raw = mid + q.deltaPlus;
    if (bestBid > 0) raw = Math.max(raw, bestBid + tick);
    askPx = roundAsk(raw, inst);
  }
  // Both clamps can meet in a 2-tick spread when the model wants to cross on both sides: keep them apart.
  if (bidPx > 0 && askPx > 0 && bidPx >= askPx) askPx = roundAsk(bidPx + tick, inst);
  const minNotional = inst.minNotional;
  const bid = bidPx > 0 && bidPx * sz >= minNotional - 1e-9 ? { px: bidPx, sz } : null;
  const ask = askPx > 0 && askPx * sz >= minNotional - 1e-9 ? { px: askPx, sz } : null;
  return { bid, ask };
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
