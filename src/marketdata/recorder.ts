/**
 * The recorder: a market feed into the store. Events are buffered and written every `flushIntervalMs` (and
 * early when `maxBufferedEvents` is reached, so memory stays bounded however fast the feed is); gaps are
 * written with the next flush. `stop()` flushes whatever is buffered, so a clean stop (SIGINT/SIGTERM) loses
 * nothing and a crash loses at most one flush interval. A status line is logged every `statusIntervalMs`.
 */
import type { Gap, MarketEvent } from './events.ts';
import type { FeedChannel, FeedLogger, FeedStats, MarketFeed } from './feed.ts';

/** What the recorder needs of the store (src/marketdata/store/'s MarketStore satisfies it). */
export interface RecorderSink {
  write(events: MarketEvent[], gaps?: Gap[]): Promise<{ duplicates: number }>;
}

export interface RecorderOptions {
  sink: RecorderSink;
  /** Builds the feed with the recorder's callbacks (lets the CLI and tests choose URLs and timeouts). */
  makeFeed: (handlers: { onEvents: (ev: MarketEvent[]) => void; onGap: (g: Gap) => void }) => MarketFeed;
  flushIntervalMs: number;
  statusIntervalMs: number;
  /** Flush early when this many events are buffered (default 50 000). */
  maxBufferedEvents?: number;
  logger?: FeedLogger;
  /**
   * A write error the sink will not recover from (e.g. the store is locked by another writer): the recorder
   * stops retrying and calls `onFatal` instead. Other write errors are retried at the next flush.
   */
  isPermanentWriteError?: (err: unknown) => boolean;
  onFatal?: (err: unknown) => void;
}

export interface RecorderStatus {
  /** Messages per second per channel since the previous status. */
  msgsPerSec: Record<FeedChannel, number>;
  /** Median receive − exchange time over recent events, ms (NaN before any). */
  medianLagMs: number;
  lastGap?: Gap;
  /** Received and not yet written (including a write in progress). */
  buffered: number;
  written: number;
  duplicatesDropped: number;
  malformed: number;
  reconnects: number;
  flushes: number;
}

export interface Recorder {
  start(): Promise<void>;
  /** Flush what is buffered now (serialised with the periodic flushes). */
  flush(): Promise<void>;
  /** Stop the feed, flush everything, stop the timers. */
  stop(): Promise<void>;
  status(): RecorderStatus;
}

export function median(xs: number[]): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : 0.5 * (s[m - 1] + s[m]);
}

export function createRecorder(opts: RecorderOptions): Recorder {
  if (!(opts.flushIntervalMs > 0))
    throw new Error(`flush interval must be > 0 ms; got ${opts.flushIntervalMs}`);
  if (!(opts.statusIntervalMs > 0))
    throw new Error(`status interval must be > 0 ms; got ${opts.statusIntervalMs}`);
  const maxBuffered = opts.maxBufferedEvents ?? 50_000;
  const log = opts.logger;
  let buffer: MarketEvent[] = [];
  let gaps: Gap[] = [];
  let written = 0;
  let duplicates = 0;
  let flushes = 0;
  /** Events handed to the sink and not yet confirmed written. */
  let inFlight = 0;
  let flushChain: Promise<void> = Promise.resolve();
  let flushTimer: NodeJS.Timeout | undefined;
  let statusTimer: NodeJS.Timeout | undefined;
  let stopped = false;
  let lastCounts: Record<FeedChannel, number> = { l2Book: 0, trades: 0, bbo: 0 };
  let lastStatusAt = Date.now();

  const doFlush = async () => {
    if (buffer.length === 0 && gaps.length === 0) return;
    const events = buffer;
    const g = gaps;
    buffer = [];
    gaps = [];
    inFlight = events.length;
    try {
      const r = await opts.sink.write(events, g);
      written += events.length - r.duplicates;
      duplicates += r.duplicates;
      flushes++;
    } catch (err) {
      if (opts.isPermanentWriteError?.(err)) {
        log?.error({ err: (err as Error).message, lost: events.length }, 'store write failed for good');
        opts.onFatal?.(err);
        return;
      }
      // Keep the data for the next attempt rather than lose it; memory stays bounded by the early-flush rule
      // only while writes succeed, so a persistent failure is logged every time.
      buffer = events.concat(buffer);
      gaps = g.concat(gaps);
      log?.error({ err: (err as Error).message, buffered: buffer.length }, 'store write failed; will retry');
    } finally {
      inFlight = 0;
    }
  };
  const flush = (): Promise<void> => {
    flushChain = flushChain.then(doFlush);
    return flushChain;
  };

  const feed = opts.makeFeed({
    onEvents: (ev) => {
      for (const e of ev) buffer.push(e);
      if (buffer.length >= maxBuffered) void flush();
    },
    onGap: (g) => {
      gaps.push(g);
    },
  });

  const status = (): RecorderStatus => {
    const s: FeedStats = feed.stats();
    const now = Date.now();
    const dt = Math.max(1e-3, (now - lastStatusAt) / 1000);
    const msgsPerSec = {
      l2Book: (s.channels.l2Book.messages - lastCounts.l2Book) / dt,
      trades: (s.channels.trades.messages - lastCounts.trades) / dt,
      bbo: (s.channels.bbo.messages - lastCounts.bbo) / dt,
    };
    return {
      msgsPerSec,
      medianLagMs: median(s.lags.slice(-512)),
      lastGap: s.lastGap,
      buffered: buffer.length + inFlight,
      written,
      duplicatesDropped: duplicates + s.duplicateTrades,
      malformed: s.malformed,
      reconnects: s.reconnects,
      flushes,
    };
  };

  const logStatus = () => {
    const st = status();
    const s = feed.stats();
    lastCounts = {
      l2Book: s.channels.l2Book.messages,
      trades: s.channels.trades.messages,
      bbo: s.channels.bbo.messages,
    };
    lastStatusAt = Date.now();
    const gap = st.lastGap
      ? `${st.lastGap.coin} ${new Date(st.lastGap.start).toISOString()} +${((st.lastGap.end - st.lastGap.start) / 1000).toFixed(1)}s (${st.lastGap.reason})`
      : 'none';
    const rates = `l2Book ${st.msgsPerSec.l2Book.toFixed(1)}/s trades ${st.msgsPerSec.trades.toFixed(1)}/s bbo ${st.msgsPerSec.bbo.toFixed(1)}/s`;
    const lag = Number.isFinite(st.medianLagMs) ? `${st.medianLagMs.toFixed(0)} ms` : 'n/a';
    log?.info(
      { ...st, msgsPerSec: undefined },
      `${rates} | lag ${lag} | written ${st.written} buffered ${st.buffered} | last gap ${gap}`,
    );
  };

  return {
    async start() {
      await feed.start();
      flushTimer = setInterval(() => void flush(), opts.flushIntervalMs);
      statusTimer = setInterval(logStatus, opts.statusIntervalMs);
    },
    flush,
    async stop() {
      if (stopped) return flushChain;
      stopped = true;
      if (flushTimer) clearInterval(flushTimer);
      if (statusTimer) clearInterval(statusTimer);
      await feed.close();
      await flush();
      logStatus();
    },
    status,
  };
}
