/**
 * The Hyperliquid market-data feed: l2Book, trades and bbo of several coins over one WebSocket, on
 * @nktkas/hyperliquid's WebSocketTransport + SubscriptionClient.
 *
 * What the library gives: reconnect with backoff, resubscribe after reconnect, and a ping/pong heartbeat that
 * reconnects when a ping stays unanswered. What this adds:
 * - gap records: a disconnect (or a stale channel) opens a pending gap per coin at the last exchange time
 *   received; the first message of that coin after the feed recovers closes it (start < end, exchange clock);
 * - stale detection is about the BOOK: no l2Book or bbo message of a coin for `staleAfterMs` is logged and opens
 *   a gap for that coin. When every coin is silent the connection is the problem: it is reconnected. When other
 *   coins on the same connection still speak, only the silent coin is resubscribed (its channels unsubscribed and
 *   subscribed again) — the others keep their data, their quotes and their queue priority. Trades are never used for it: they arrive only when someone trades, and thin
 *   coins are quiet for minutes while their book updates every block (a real 35-minute WLFI recording has 26
 *   spells of > 10 s without a trade, books every ~0.6 s). The connection's own liveness is the library's
 *   ping/pong heartbeat (an unanswered ping reconnects); with only `trades` subscribed it is the only check;
 * - de-duplication of trades replayed after a reconnect (the exchange resends recent trades on subscribe),
 *   by (coin, tid, exTime) in a bounded FIFO set;
 * - counting and skipping of malformed messages (never a crash), and per-channel statistics for status lines.
 */
import { HttpTransport, InfoClient, SubscriptionClient, WebSocketTransport } from '@nktkas/hyperliquid';
import type { AssetRules } from '../../exchange/order-rules.ts';
import type { Gap, MarketEvent } from '../../marketdata/events.ts';
import {
  FEED_CHANNELS,
  type FeedChannel,
  type FeedLogger,
  type FeedStats,
  type MarketFeed,
} from '../../marketdata/feed.ts';
import { MalformedMessageError, parseWsMessage } from '../../marketdata/hyperliquid-wire.ts';

export type Network = 'mainnet' | 'testnet' | 'loopback';

/** Default loopback address (`cjmm venue serve` default port). */
export const LOOPBACK_DEFAULT_PORT = 8321;

export const NETWORK_URLS: Record<Network, { httpUrl: string; wsUrl: string }> = {
  mainnet: { httpUrl: 'https://api.hyperliquid.xyz', wsUrl: 'wss://api.hyperliquid.xyz/ws' },
  testnet: { httpUrl: 'https://api.hyperliquid-testnet.xyz', wsUrl: 'wss://api.hyperliquid-testnet.xyz/ws' },
  loopback: {
    httpUrl: `http://127.0.0.1:${LOOPBACK_DEFAULT_PORT}`,
    wsUrl: `ws://127.0.0.1:${LOOPBACK_DEFAULT_PORT}/ws`,
  },
};

/** Explicit URLs win over the network's defaults. */
export function resolveUrls(opts: { network?: Network; httpUrl?: string; wsUrl?: string }): {
  httpUrl: string;
  wsUrl: string;
} {
  const base = NETWORK_URLS[opts.network ?? 'mainnet'];
  return { httpUrl: opts.httpUrl ?? base.httpUrl, wsUrl: opts.wsUrl ?? base.wsUrl };
}

export interface MarketFeedOptions {
  wsUrl: string;
  coins: string[];
  channels: FeedChannel[];
  /**
   * No book message (l2Book or bbo, whichever is subscribed) of a coin for this long → gap + reconnect.
   * Trades do not count (a quiet market has none for minutes); liveness is the ping/pong heartbeat.
   */
  staleAfterMs: number;
  onEvents: (events: MarketEvent[]) => void;
  onGap: (gap: Gap) => void;
  logger?: FeedLogger;
  /** Heartbeat ping interval, ms (default 20 000); an unanswered ping reconnects after `pongTimeoutMs`. */
  pingIntervalMs?: number;
  pongTimeoutMs?: number;
  /** Reconnect delay after the n-th failed attempt, ms (default min(2^n·100, 5000)). */
  reconnectDelayMs?: (attempt: number) => number;
  /** Trade (coin, tid, exTime) keys remembered for de-duplication (default 20 000). */
  dedupCapacity?: number;
  /** Wait this long for the first connection before failing (default 30 000 ms). */
  connectTimeoutMs?: number;
}

const LAG_RING = 2048;

/** A FIFO-bounded set: remembers the last `capacity` keys. */
class BoundedSet {
  private readonly set = new Set<string>();
  private readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  /** Adds the key; returns false if it was already there. */
  add(key: string): boolean {
    if (this.set.has(key)) return false;
    this.set.add(key);
    if (this.set.size > this.capacity) {
      const oldest = this.set.values().next().value as string;
      this.set.delete(oldest);
    }
    return true;
  }
}

/** The Hyperliquid implementation of src/marketdata/feed.ts's MarketFeed. */
export function createMarketFeed(opts: MarketFeedOptions): MarketFeed {
  if (opts.coins.length === 0) throw new Error('coins: give at least one coin (e.g. ETH,BTC)');
  if (opts.channels.length === 0)
    throw new Error(`channels: give at least one of ${FEED_CHANNELS.join(', ')}`);
  if (!(opts.staleAfterMs > 0)) throw new Error(`staleAfterMs must be > 0; got ${opts.staleAfterMs}`);
  const log = opts.logger;
  const stats: FeedStats = {
    channels: {
      l2Book: { messages: 0, events: 0, lastRxWall: 0 },
      trades: { messages: 0, events: 0, lastRxWall: 0 },
      bbo: { messages: 0, events: 0, lastRxWall: 0 },
    },
    malformed: 0,
    duplicateTrades: 0,
    reconnects: 0,
    staleEvents: 0,
    connected: false,
    lags: [],
  };
  const seenTrades = new BoundedSet(opts.dedupCapacity ?? 20_000);
  /** Latest exchange time received per coin (any channel). */
  const lastExTime = new Map<string, number>();
  /** Wall time at which that latest exchange time arrived, per coin (to date a gap still open at close). */
  const lastExWall = new Map<string, number>();
  /** Open gaps per coin: start (exchange time) and reason, closed by the coin's next message. */
  const pendingGap = new Map<string, { start: number; reason: string }>();
  /** Wall time of the last message per `${coin}:${channel}` (or of the (re)subscription). */
  const lastRx = new Map<string, number>();
  let closed = false;
  let started = false;
  let staleTimer: NodeJS.Timeout | undefined;
  /** Live subscriptions per `${coin}:${channel}` (to resubscribe one coin). */
  const subsByKey = new Map<string, { unsubscribe(): Promise<void> }>();

  const transport = new WebSocketTransport({
    url: opts.wsUrl,
    keepAlive: { interval: opts.pingIntervalMs ?? 20_000, timeout: opts.pongTimeoutMs ?? 10_000 },
    reconnect: {
      reconnectionDelay: opts.reconnectDelayMs ?? ((n: number) => Math.min(2 ** n * 100, 5000)),
      connectionTimeout: 10_000,
    },
    resubscribe: true,
  });
  const client = new SubscriptionClient({ transport });

  const openGaps = (reason: string, coins: readonly string[] = opts.coins) => {
    for (const coin of coins) {
      const last = lastExTime.get(coin);
      // Nothing received yet for this coin: there is nothing to be continuous with.
      if (last === undefined || pendingGap.has(coin)) continue;
      pendingGap.set(coin, { start: last, reason });
    }
  };

  const resetStaleClocks = () => {
    const now = Date.now();
    for (const coin of opts.coins) for (const ch of opts.channels) lastRx.set(`${coin}:${ch}`, now);
  };

  const handle = (channel: FeedChannel, coin: string, data: unknown) => {
    if (closed) return;
    const rxTime = Date.now();
    const st = stats.channels[channel];
    st.messages++;
    st.lastRxWall = rxTime;
    lastRx.set(`${coin}:${channel}`, rxTime);
    let events: MarketEvent[];
    try {
      events = parseWsMessage({ channel, data }, rxTime);
    } catch (err) {
      if (err instanceof MalformedMessageError) {
        stats.malformed++;
        if (stats.malformed <= 10 || stats.malformed % 1000 === 0) {
          log?.warn(
            { channel, coin, malformed: stats.malformed, err: err.message },
            'malformed message skipped',
          );
        }
        return;
      }
      throw err;
    }
    if (channel === 'trades') {
      events = events.filter((e) => {
        if (e.kind !== 'trade') return true;
        const fresh = seenTrades.add(`${e.coin}:${e.tid}:${e.exTime}`);
        if (!fresh) stats.duplicateTrades++;
        return fresh;
      });
    }
    if (events.length === 0) return;
    let maxEx = Number.NEGATIVE_INFINITY;
    let minEx = Number.POSITIVE_INFINITY;
    for (const e of events) {
      if (e.exTime > maxEx) maxEx = e.exTime;
      if (e.exTime < minEx) minEx = e.exTime;
      stats.lags.push(e.rxTime - e.exTime);
    }
    if (stats.lags.length > LAG_RING) stats.lags.splice(0, stats.lags.length - LAG_RING);
    const gap = pendingGap.get(coin);
    if (gap) {
      // Data older than the gap's start (recent trades resent on subscribe) is already known; wait for new data.
      const firstNew = events.reduce(
        (m, e) => (e.exTime > gap.start && e.exTime < m ? e.exTime : m),
        Number.POSITIVE_INFINITY,
      );
      if (Number.isFinite(firstNew)) {
        pendingGap.delete(coin);
        const g: Gap = { coin, kind: 'all', start: gap.start, end: firstNew, reason: gap.reason };
        stats.lastGap = g;
        log?.warn({ gap: g, lengthMs: g.end - g.start }, 'gap recorded');
        opts.onGap(g);
      }
    }
    const prev = lastExTime.get(coin);
    if (prev === undefined || maxEx > prev) {
      lastExTime.set(coin, maxEx);
      lastExWall.set(coin, rxTime);
    }
    st.events += events.length;
    opts.onEvents(events);
  };

  transport.socket.addEventListener('close', () => {
    if (closed) return;
    if (stats.connected) {
      stats.connected = false;
      openGaps('disconnect');
      log?.warn({ url: opts.wsUrl }, 'websocket disconnected; reconnecting');
    }
  });
  transport.socket.addEventListener('open', () => {
    if (closed) return;
    if (started) {
      stats.reconnects++;
      log?.info({ url: opts.wsUrl, reconnects: stats.reconnects }, 'websocket reconnected; resubscribing');
    }
    stats.connected = true;
    resetStaleClocks();
  });

  const forceReconnect = (reason: string) => {
    if (closed) return;
    openGaps(reason);
    resetStaleClocks();
    transport.socket.reconnect();
  };

  const subscribe = (coin: string, ch: FeedChannel): Promise<unknown> => {
    const key = `${coin}:${ch}`;
    const p =
      ch === 'l2Book'
        ? client.l2Book({ coin }, (d) => handle('l2Book', coin, d))
        : ch === 'trades'
          ? client.trades({ coin }, (d) => handle('trades', coin, d))
          : client.bbo({ coin }, (d) => handle('bbo', coin, d));
    return p.then((sub) => {
      subsByKey.set(key, sub);
      return sub;
    });
  };

  /** One coin's channels unsubscribed and subscribed again (the others' stay as they are). */
  const resubscribe = (coin: string) => {
    stats.resubscribes = (stats.resubscribes ?? 0) + 1;
    for (const ch of opts.channels) lastRx.set(`${coin}:${ch}`, Date.now());
    void (async () => {
      for (const ch of opts.channels) {
        const sub = subsByKey.get(`${coin}:${ch}`);
        subsByKey.delete(`${coin}:${ch}`);
        await sub?.unsubscribe().catch(() => {});
        if (closed) return;
        await subscribe(coin, ch).catch((err) =>
          log?.warn({ coin, channel: ch, err: String(err) }, 'resubscribe failed; the next check retries'),
        );
      }
    })();
  };

  /** The channels whose silence means stale data: the book ones (l2Book, bbo), never trades. */
  const bookChannels = opts.channels.filter((c) => c !== 'trades');
  const checkStale = () => {
    if (closed || !stats.connected || bookChannels.length === 0) return;
    const now = Date.now();
    const stale: { coin: string; silentMs: number }[] = [];
    for (const coin of opts.coins) {
      // The coin's book is fresh when any of its book channels spoke recently (bbo is only sent on change).
      let last = Number.NEGATIVE_INFINITY;
      for (const ch of bookChannels) last = Math.max(last, lastRx.get(`${coin}:${ch}`) ?? now);
      if (now - last > opts.staleAfterMs) stale.push({ coin, silentMs: now - last });
    }
    if (stale.length === 0) return;
    const channel = bookChannels.join('/');
    stats.staleEvents += stale.length;
    if (stale.length === opts.coins.length) {
      // Nothing speaks: the connection is the problem.
      log?.warn({ coins: stale.map((x) => x.coin), channel }, 'stale feed: no book message; reconnecting');
      forceReconnect(`stale ${channel}`);
      return;
    }
    // Other coins speak: the connection is alive; only the silent coins are resubscribed (and get a gap).
    for (const { coin, silentMs } of stale) {
      log?.warn({ coin, channel, silentMs }, 'stale feed: no book message for this coin; resubscribing it');
      openGaps(`stale ${channel}`, [coin]);
      resubscribe(coin);
    }
  };

  return {
    async start() {
      if (started) return;
      await transport.ready(AbortSignal.timeout(opts.connectTimeoutMs ?? 30_000));
      stats.connected = true;
      const subs: Promise<unknown>[] = [];
      for (const coin of opts.coins) for (const ch of opts.channels) subs.push(subscribe(coin, ch));
      await Promise.all(subs);
      started = true;
      resetStaleClocks();
      const every = Math.max(50, Math.min(1000, Math.floor(opts.staleAfterMs / 4)));
      staleTimer = setInterval(checkStale, every);
      log?.info({ url: opts.wsUrl, coins: opts.coins, channels: opts.channels }, 'feed subscribed');
    },
    async close() {
      if (closed) return;
      closed = true;
      if (staleTimer) clearInterval(staleTimer);
      // A gap still open (the feed went silent and never came back) ends now: date it on the exchange clock
      // as its start plus the wall time elapsed since that last message, so it is recorded, not lost.
      const now = Date.now();
      for (const [coin, gap] of pendingGap) {
        const end = gap.start + Math.max(1, now - (lastExWall.get(coin) ?? now));
        const g: Gap = {
          coin,
          kind: 'all',
          start: gap.start,
          end,
          reason: `${gap.reason} (still open at stop)`,
        };
        stats.lastGap = g;
        log?.warn({ gap: g, lengthMs: g.end - g.start }, 'gap recorded at stop');
        opts.onGap(g);
      }
      pendingGap.clear();
      transport.close();
    },
    stats: () => stats,
    forceReconnect,
  };
}

/** Asset rules (index, szDecimals, max leverage) of every perp in `meta`. */
export async function fetchMeta(httpUrl: string, signal?: AbortSignal): Promise<AssetRules[]> {
  const info = new InfoClient({ transport: new HttpTransport({ apiUrl: httpUrl }) });
  const meta = await info.meta(undefined, signal);
  return meta.universe.map((u, i) => ({
    coin: u.name,
    asset: i,
    szDecimals: u.szDecimals,
    maxLeverage: u.maxLeverage,
  }));
}
