/**
 * `cjmm scan --live`: sample each listed coin's Hyperliquid feed (l2Book, trades, bbo) for a while before
 * scanning, with the feed adapter the recorder uses (reconnects, gap records, trade de-duplication).
 */
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { FEED_CHANNELS, type FeedLogger } from '../marketdata/feed.ts';
import { createMarketFeed, fetchMeta } from '../venue/hyperliquid/feed.ts';

export interface LiveSampleOptions {
  httpUrl: string;
  wsUrl: string;
  coins: string[];
  durationMs: number;
  logger?: FeedLogger;
  /** Stops the sample early (SIGINT): what was received so far is kept. */
  signal?: AbortSignal;
  /** Called every few seconds with the events received so far. */
  onProgress?: (eventsSoFar: number, elapsedMs: number) => void;
}

export interface LiveSample {
  events: MarketEvent[];
  gaps: Gap[];
  /** Wall-clock start and end of the sample (ms). */
  start: number;
  end: number;
}

/** Coins the exchange does not list (checked before anything is subscribed). */
export async function unknownCoins(httpUrl: string, coins: string[]): Promise<string[]> {
  const universe = (await fetchMeta(httpUrl, AbortSignal.timeout(15_000))).map((a) => a.coin);
  return coins.filter((c) => !universe.includes(c));
}

export async function sampleLive(o: LiveSampleOptions): Promise<LiveSample> {
  const events: MarketEvent[] = [];
  const gaps: Gap[] = [];
  const feed = createMarketFeed({
    wsUrl: o.wsUrl,
    coins: o.coins,
    channels: [...FEED_CHANNELS],
    staleAfterMs: 30_000,
    onEvents: (evs) => {
      for (const e of evs) events.push(e);
    },
    onGap: (g) => gaps.push(g),
    logger: o.logger,
  });
  const start = Date.now();
  await feed.start();
  await new Promise<void>((resolve) => {
    const done = () => {
      clearTimeout(timer);
      clearInterval(tick);
      o.signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, o.durationMs);
    const tick = setInterval(() => o.onProgress?.(events.length, Date.now() - start), 5000);
    if (o.signal?.aborted) done();
    else o.signal?.addEventListener('abort', done, { once: true });
  });
  await feed.close();
  return { events, gaps, start, end: Date.now() };
}
