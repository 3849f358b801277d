/**
 * The contracts of the one engine that runs in backtest, paper and live mode. Only the clock, the feed and
 * the venue differ between modes; strategies, the order manager, the portfolio and risk are the same code.
 *
 * Flow: feed → engine.onMarket → strategy callbacks → DesiredQuotes → risk → order manager → Venue actions;
 * Venue → VenueReport (acks, rejects, fills) → engine.onReport → order manager / portfolio / strategy.
 * Venue calls never block: their outcomes come back later as reports (in backtest after simulated latency,
 * live after the exchange answers), so the engine code is identical in every mode.
 */
import type { BboEvent, BookEvent, Gap, MarketEvent, TradeEvent } from '../marketdata/events.ts';

/** Side of OUR order: 'bid' = buy order, 'ask' = sell order. */
export type OrderSide = 'bid' | 'ask';
/** Hyperliquid time in force: Alo = add-liquidity-only (post-only), Gtc, Ioc. */
export type Tif = 'Alo' | 'Gtc' | 'Ioc';

/** Milliseconds since epoch. In backtest the simulated (receive-side) clock; live the wall clock. */
export interface Clock {
  now(): number;
}

export interface OrderRequest {
  /** Client order id, Hyperliquid format: '0x' + 32 hex digits. */
  cloid: string;
  coin: string;
  side: OrderSide;
  px: number;
  /** Size in coin units (already a multiple of the lot). */
  sz: number;
  tif: Tif;
  reduceOnly?: boolean;
}

export interface CancelRequest {
  coin: string;
  cloid: string;
}

/** Replace an order's price/size (Hyperliquid batchModify); the order gets a new cloid. */
export interface ModifyRequest {
  coin: string;
  cloid: string;
  newCloid: string;
  px: number;
  sz: number;
}

export type OrderState = 'pending' | 'open' | 'filled' | 'canceled' | 'rejected';

/** Venue → engine: the state of one order changed. */
export interface OrderUpdate {
  kind: 'order';
  cloid: string;
  /** Exchange order id once known. */
  oid?: number;
  coin: string;
  state: OrderState;
  /** For 'open': remaining size and price (after a modify, the new ones). */
  px?: number;
  sz?: number;
  /** For 'rejected' / 'canceled': the exchange's text (e.g. the ALO rejection string). */
  reason?: string;
  exTime: number;
  rxTime: number;
}

/** Venue → engine: one fill of one of our orders. */
export interface Fill {
  kind: 'fill';
  cloid: string;
  oid?: number;
  coin: string;
  side: OrderSide;
  px: number;
  sz: number;
  /** Fee paid in USD (negative = rebate). */
  fee: number;
  liquidity: 'maker' | 'taker';
  /** Exchange trade id; (tid, cloid) identifies a fill across reconnect snapshots. */
  tid: number;
  exTime: number;
  rxTime: number;
}

export type VenueReport = OrderUpdate | Fill;

/** Execution venue: simulated exchange (backtest, paper) or Hyperliquid (live). */
export interface Venue {
  readonly name: string;
  place(orders: OrderRequest[]): void;
  cancel(cancels: CancelRequest[]): void;
  modify(mods: ModifyRequest[]): void;
  /** Cancel every resting order of ours (all coins when omitted); resolves when the venue confirms. */
  cancelAll(coin?: string): Promise<void>;
  /** The engine registers exactly one listener. */
  setReportListener(listener: (r: VenueReport) => void): void;
}

/** One quote per side; null = do not quote that side. Sizes in coin units. */
export interface QuoteIntent {
  px: number;
  sz: number;
}
export interface DesiredQuotes {
  bid: QuoteIntent | null;
  ask: QuoteIntent | null;
}

/** Venue rules the quoting layer must respect (from Hyperliquid meta, or configured for backtests). */
export interface InstrumentSpec {
  coin: string;
  /** Price grid used for quoting in this market (e.g. 0.1 for ETH around 3,000). */
  tick: number;
  szDecimals: number;
  /** Size of one lot (the model's inventory unit) in coin units. */
  lotSize: number;
  minNotional: number;
  makerFee: number;
  takerFee: number;
}

/** What a strategy can see. Read-only views; the engine owns the state. */
export interface StrategyContext {
  readonly clock: Clock;
  readonly instrument: InstrumentSpec;
  /** Latest book / bbo seen (receive clock), or undefined before the first. */
  readonly book: BookEvent | undefined;
  readonly bbo: BboEvent | undefined;
  /** Position in coin units (exchange-confirmed in live mode). */
  position(): number;
  /** Position in lots (position / lotSize, rounded to the nearest integer). */
  inventoryLots(): number;
  /** Lots in flight: resting plus pending, per side, for risk accounting. */
  openOrders(): { bid: number; ask: number };
  /** Logs through the engine's logger (info; 'warn' for conditions the user should act on). */
  log(msg: string, fields?: Record<string, unknown>, level?: 'info' | 'warn'): void;
  /**
   * false when nothing reads `log` (no logger: a backtest): work whose only use is a log line may be skipped.
   * Undefined counts as true.
   */
  readonly logging?: boolean;
  /** Journals a strategy event (e.g. a new parameter set); present only when the engine has a journal. */
  record?(type: 'params' | 'risk', data: Record<string, unknown>): void;
}

/**
 * A strategy reacts to callbacks and returns the quotes it wants; returning undefined means "no change".
 * Strategies never talk to the venue: the order manager turns desired quotes into actions.
 */
export interface Strategy {
  readonly name: string;
  onStart?(ctx: StrategyContext): void;
  onBook?(ev: BookEvent, ctx: StrategyContext): DesiredQuotes | undefined;
  onTrade?(ev: TradeEvent, ctx: StrategyContext): DesiredQuotes | undefined;
  onBbo?(ev: BboEvent, ctx: StrategyContext): DesiredQuotes | undefined;
  onFill?(fill: Fill, ctx: StrategyContext): DesiredQuotes | undefined;
  onOrderUpdate?(u: OrderUpdate, ctx: StrategyContext): DesiredQuotes | undefined;
  /** A stretch of untrusted data (the engine pulls quotes until data resumes after it). */
  onGap?(gap: Gap, ctx: StrategyContext): void;
  /** Called every `timerIntervalMs` of the engine clock. */
  onTimer?(now: number, ctx: StrategyContext): DesiredQuotes | undefined;
  /** Diagnostics for status lines and reports (e.g. current model parameters, κε). */
  diagnostics?(): Record<string, unknown>;
  /**
   * With spread bounds configured: the share of the time each side was quoted during which its min / max
   * half-spread bound set the quote, up to `now` (engine clock); null or absent without bounds.
   */
  spreadBoundBinding?(now: number): SpreadBoundBinding | null;
}

/** Shares (0–1) of the time a side was quoted during which its min / max half-spread bound was binding. */
export interface SpreadBoundBinding {
  min: { bid: number; ask: number };
  max: { bid: number; ask: number };
}

export type { MarketEvent };
