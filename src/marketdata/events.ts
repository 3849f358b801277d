/**
 * Normalised market-data events. Every event carries two clocks, as hftbacktest does:
 * `exTime` — the exchange's timestamp (ms since epoch), and
 * `rxTime` — our local receive timestamp (ms since epoch, fractional allowed).
 * The backtester matches on exchange time and lets strategies see events at receive time.
 */

/** Aggressor side of a trade: 'buy' = taker bought (lifted the ask), 'sell' = taker sold (hit the bid). */
export type AggressorSide = 'buy' | 'sell';

export interface BookLevel {
  px: number;
  sz: number;
  /** Number of orders at the level (0 when the source does not say). */
  n: number;
}

/** Full L2 snapshot (Hyperliquid's l2Book is a snapshot per message). Bids descending, asks ascending. */
export interface BookEvent {
  kind: 'book';
  coin: string;
  exTime: number;
  rxTime: number;
  bids: BookLevel[];
  asks: BookLevel[];
}

/** One fill as reported by the exchange trade feed (one market order may produce several). */
export interface TradeEvent {
  kind: 'trade';
  coin: string;
  exTime: number;
  rxTime: number;
  px: number;
  sz: number;
  side: AggressorSide;
  /** Exchange trade id; (tid, exTime) identifies a trade across reconnect replays. */
  tid: number;
  hash?: string;
  /** Taker and maker addresses when the feed carries them (Hyperliquid `users: [buyer, seller]`). */
  buyer?: string;
  seller?: string;
}

/** Best bid / offer. A missing side is NaN. */
export interface BboEvent {
  kind: 'bbo';
  coin: string;
  exTime: number;
  rxTime: number;
  bidPx: number;
  bidSz: number;
  askPx: number;
  askSz: number;
}

export type MarketEvent = BookEvent | TradeEvent | BboEvent;
export type MarketEventKind = MarketEvent['kind'];

/**
 * A stretch of time with no data we can trust (disconnect, collector restart, stale feed).
 * Estimators exclude gaps from their windows; the backtester does not quote through them.
 */
export interface Gap {
  coin: string;
  /** 'all' when every channel of the coin was affected. */
  kind: MarketEventKind | 'all';
  /** Exchange-clock bounds, ms. */
  start: number;
  end: number;
  reason: string;
}

export function mid(bidPx: number, askPx: number): number {
  return 0.5 * (bidPx + askPx);
}
