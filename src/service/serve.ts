/**
 * `cjmm serve`: the long-running service in one process — the recorder for the configured coins (into the
 * store), the trader, and the API with the dashboard (always on), plus webhooks and Telegram when configured.
 * SIGTERM/SIGINT: the trader stops first (every order cancelled and confirmed, journal flushed), then the
 * recorder flushes what it buffered and the store closes, then the API. A fatal store error stops the whole
 * service (a service that promised to record must not go on silently without it).
 */
import { FEED_CHANNELS } from '../marketdata/feed.ts';
import { createRecorder, type Recorder } from '../marketdata/recorder.ts';
import { type MarketStore, openStore, StoreError } from '../marketdata/store/index.ts';
import { resolveEndpoints } from '../trading/config.ts';
import type { AgentKey } from '../trading/keys.ts';
import type { TradingLogger } from '../trading/logger.ts';
import type { SessionSummary } from '../trading/session.ts';
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
  onReady?: (s: RunningService & { recorder?: Recorder; store?: MarketStore }) => void;
  onStatusLine?: (line: string) => void;
}

export interface ServeResult {
  summary: SessionSummary;
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
  if (rec.enabled) {
    try {
      store = await openStore(rec.store);
    } catch (err) {
      throw new ServiceError(`record.store ${rec.store}: ${(err as Error).message}`);
    }
    const coins = rec.coins ?? [config.trading.coin];
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
      makeFeed: (h) =>
        createMarketFeed({
          wsUrl,
          coins,
          channels: [...FEED_CHANNELS],
          staleAfterMs: 30_000,
          onEvents: h.onEvents,
          onGap: h.onGap,
          logger,
        }),
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
  let summary: SessionSummary;
  try {
    summary = await runService({
      config: serviceConfig,
      logger,
      signal: o.signal,
      durationMs: o.durationMs,
      key: o.key,
      env: o.env,
      onStatusLine: o.onStatusLine,
      onReady: (s) => {
        running = s;
        o.onReady?.({ ...s, recorder, store });
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
