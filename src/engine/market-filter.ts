/**
 * Which market events the engine delivers to its strategy (Engine.onMarket): its own coin only, a bbo or book
 * only with a usable touch, a trade only with a positive price and size. One pure function, also used by the
 * backtest's calibration thread (src/backtest/calibration-thread.ts), which must feed its calibrator exactly
 * the events the strategy's feed sees.
 */
import type { MarketEvent } from '../marketdata/events.ts';

/** Whether the engine hands `ev` to a strategy trading `coin`. */
export function deliverable(ev: MarketEvent, coin: string): boolean {
  if (ev.coin !== coin) return false;
  if (ev.kind === 'bbo') return usableTouch(ev.bidPx, ev.askPx);
  if (ev.kind === 'book') return usableTouch(firstPx(ev.bids), firstPx(ev.asks));
  return ev.px > 0 && ev.sz > 0;
}

/** The first level's price (NaN when none); the book's best bid or ask. */
function firstPx(levels: readonly { px: number }[]): number {
  return Array.isArray(levels) && levels.length > 0 ? levels[0].px : Number.NaN;
}

/** A touch worth trading against: at least one side, and not crossed or locked. */
export function usableTouch(bid: number, ask: number): boolean {
  if (!(bid > 0) && !(ask > 0)) return false;
  return !(bid > 0 && ask > 0 && bid >= ask);
}
