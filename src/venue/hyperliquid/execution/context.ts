/**
 * What the parts of the live venue share: clock, logger, counters, the rate budget, the exchange clients, the
 * account traded, the order book-keeping and the asset rules. HyperliquidVenue (./venue.ts) builds one and hands
 * it to the action queue, the sweep, the fill ledger and cancel-all.
 */
import type { ExchangeClient, InfoClient } from '@nktkas/hyperliquid';
import type { Clock } from '../../../engine/types.ts';
import type { AssetRules } from '../../../exchange/order-rules.ts';
import type { RateBudget } from './limits.ts';
import type { OrderTracker } from './orders.ts';

export interface VenueLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
  debug(obj: Record<string, unknown>, msg?: string): void;
}

export const silentLogger: VenueLogger = { info() {}, warn() {}, error() {}, debug() {} };

/** Counters for the status line and tests. */
export function createVenueStats() {
  return {
    ordersSent: 0,
    modifiesSent: 0,
    cancelsSent: 0,
    rejects: 0,
    aloRejects: 0,
    fills: 0,
    duplicateFills: 0,
    http429: 0,
    sweeps: 0,
    reconnects: 0,
    orphansCanceled: 0,
    /** Actions whose acknowledgement deadline passed, and orders settled by orderStatus after no answer. */
    ackTimeouts: 0,
    unacknowledged: 0,
    /** Fills and funding events recovered by REST (userFillsByTime / userFunding) that the streams missed. */
    fillsRecovered: 0,
    fundingsRecovered: 0,
    /** Times throttled mode started (address budget exhausted). */
    throttledEpisodes: 0,
  };
}
export type VenueStats = ReturnType<typeof createVenueStats>;

export interface ExecutionContext {
  readonly clock: Clock;
  readonly log: VenueLogger;
  readonly stats: VenueStats;
  readonly budget: RateBudget;
  readonly info: InfoClient;
  readonly exchange: ExchangeClient;
  /** The account whose orders and position we trade (the agent's master). */
  readonly user: `0x${string}`;
  readonly orders: OrderTracker;
  /** Assets we may trade, by coin. */
  readonly assets: ReadonlyMap<string, AssetRules>;
  /** Rules of a coin; throws for a coin outside the exchange's universe. */
  rules(coin: string): AssetRules;
  /** Between start() and stop(). */
  isRunning(): boolean;
  /** A REST sweep soon (coalesced): settles what an answer, a stream or a failure left open. */
  sweepSoon(): Promise<void>;
}
