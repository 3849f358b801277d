/**
 * What a live market-data feed is to the rest of the system: the channels it carries, the statistics it keeps,
 * and its start / close / reconnect handle. The recorder depends on this, not on a venue; venue adapters implement
 * it (src/venue/hyperliquid/feed.ts: Hyperliquid's WebSocket). Events are the normalised ones of ./events.ts.
 */
import type { Gap } from './events.ts';

export type FeedChannel = 'l2Book' | 'trades' | 'bbo';
export const FEED_CHANNELS: readonly FeedChannel[] = ['l2Book', 'trades', 'bbo'];

/** Minimal logger shape (pino's Logger satisfies it). */
export interface FeedLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ChannelStats {
  messages: number;
  events: number;
  /** Wall-clock ms of the last message (0 = none yet). */
  lastRxWall: number;
}

export interface FeedStats {
  channels: Record<FeedChannel, ChannelStats>;
  malformed: number;
  duplicateTrades: number;
  reconnects: number;
  staleEvents: number;
  /** One coin's channels subscribed again because that coin alone went silent (others kept speaking). */
  resubscribes?: number;
  connected: boolean;
  lastGap?: Gap;
  /** Recent receive − exchange time lags, ms (bounded ring, newest last). */
  lags: number[];
}

export interface MarketFeed {
  /** Connect and subscribe to every (coin, channel); resolves when the server confirmed them all. */
  start(): Promise<void>;
  /** Unsubscribe nothing, just close the socket for good (no gap is recorded for a deliberate close). */
  close(): Promise<void>;
  stats(): FeedStats;
  /** Drop the connection and reconnect (as after a stale feed); a gap is recorded. */
  forceReconnect(reason: string): void;
}
