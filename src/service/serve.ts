/**
 * `cjmm serve`: the long-running service in one process — the recorder for the configured coins (into the
 * store), the trader, and the API with the dashboard (always on), plus webhooks and Telegram when configured.
 * Recorder and trader share one market-data connection (src/marketdata/feed-fanout.ts), subscribed to the
 * recorded and the traded coins; each sees its own coins only.
 * SIGTERM/SIGINT: the trader stops first (every order cancelled and confirmed, journal flushed), then the
 * recorder flushes what it buffered and the store closes, then the API. A fatal store error stops the whole
 * service (a service that promised to record must not go on silently without it).
 */
import { FEED_CHANNELS } from '../marketdata/feed.ts';
import { FeedFanout } from '../marketdata/feed-fanout.ts';
import { createRecorder, type Recorder } from '../marketdata/recorder.ts';
import { type MarketStore, openStore, StoreError } from '../marketdata/store/index.ts';
import { resolveEndpoints } from '../trading/config.ts';
import type { AgentKey } from '../trading/keys.ts';
import type { TradingLogger } from '../trading/logger.ts';
import type { FeedFactory, TraderSummary } from '../trading/trader.ts';
import { createMarketFeed } from '../venue/hyperliquid/feed.ts';
import type { LoadedConfig } from './config.ts';
import { type RunningService, runService, ServiceError } from './run.ts';

export interface ServeOptions {
  config: LoadedConfig;
  logger: TradingLogger;
  signal?: AbortSignal;
  durationMs?: number;
  key?: AgentKey;
  env?: NodeJS.ProcessEnv;
  onReady?: (s: RunningService & { recorder?: Recorder; store?: MarketStore; feed?: FeedFanout }) => void;
  onStatusLine?: (line: string) => void;
}

export interface ServeResult {
  summary: TraderSummary;
  /** Events written by the recorder (0 when recording is off). */
  recorded: number;
  recordError?: string;
}

export async function runServe(o: ServeOptions): Promise<ServeResult> {
  const { config, logger } = o;
  const rec = config.service.record;
  const { wsUrl } = resolveEndpoints(config.trading);
  let store: MarketStore | undefined;
  let recorder: Recorder | undefined;
  let fatal: unknown;
  let running: RunningService | undefined;
  const serviceConfig: LoadedConfig = {
    ...config,
    service: { ...config.service, api: { ...config.service.api, enabled: true } },
  };
  const traded = config.markets.map((m) => m.coin);
  const recorded = rec.enabled ? (rec.coins ?? traded) : [];
  // One connection for the traded and the recorded coins; the trader's stale threshold (book-only) applies.
  const fanout = new FeedFanout([...traded, ...recorded], (h) =>
    createMarketFeed({
      wsUrl,
      coins: [...new Set([...traded, ...recorded])],
      channels: [...FEED_CHANNELS],
      staleAfterMs: Math.max(5000, Math.min(...config.markets.map((m) => m.risk.staleMs))),
      onEvents: h.onEvents,
      onGap: h.onGap,
      logger,
    }),
  );
  const traderFeed: FeedFactory = async (fo) => {
    const f = fanout.attach({ coins: fo.coins, onEvents: fo.onEvents, onGap: fo.onGap });
    await f.start();
    return f;
  };
  if (rec.enabled) {
    try {
      store = await openStore(rec.store);
    } catch (err) {
      throw new ServiceError(`record.store ${rec.store}: ${(err as Error).message}`);
    }
    const coins = recorded;
    recorder = createRecorder({
      sink: store,
      flushIntervalMs: rec.flushIntervalSec * 1000,
      statusIntervalMs: 60_000,
      logger,
      isPermanentWriteError: (err) => err instanceof StoreError,
      onFatal: (err) => {
        fatal = err;
        logger.error(
          { err: String((err as Error).message ?? err) },
          'recorder: fatal store error; stopping the service',
        );
        running?.port.stop('recorder failed', 'internal');
      },
      makeFeed: (h) => fanout.attach({ coins, onEvents: h.onEvents, onGap: h.onGap }),
    });
    try {
      await recorder.start();
    } catch (err) {
      await recorder.stop().catch(() => {});
      await store.close().catch(() => {});
      throw new ServiceError(`recorder: cannot subscribe at ${wsUrl}: ${(err as Error).message}`);
    }
    logger.info({ coins, store: store.dir }, 'recording');
  }
  let summary: TraderSummary;
  try {
    summary = await runService({
      config: serviceConfig,
      logger,
      signal: o.signal,
      durationMs: o.durationMs,
      key: o.key,
      env: o.env,
      onStatusLine: o.onStatusLine,
      trader: { feed: traderFeed },
      onReady: (s) => {
        running = s;
        o.onReady?.({ ...s, recorder, store, feed: fanout });
      },
    });
  } finally {
    // The trader has stopped (orders cancelled, journal flushed): now flush the recorder and close the store.
    if (recorder) {
      await recorder.stop().catch((e) => logger.error({ err: String(e) }, 'recorder stop failed'));
      await store?.close().catch((e) => logger.error({ err: String(e) }, 'store close failed'));
      logger.info({ written: recorder.status().written }, 'recorder stopped, store flushed');
    }
  }
  return {
    summary,
    recorded: recorder?.status().written ?? 0,
    recordError: fatal ? String((fatal as Error).message ?? fatal) : undefined,
  };
}
