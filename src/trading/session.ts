/**
 * One coin, paper or live: the trader of src/trading/trader.ts with a single market. `cjmm trade`, `cjmm demo`
 * and `cjmm serve` run the trader itself (through src/service/run.ts); this is the one-coin shape of it for
 * callers that think in one market (tests, the guard's child fixtures), with the market's handles and summary.
 */
import type { Engine } from '../engine/engine.ts';
import type { InstrumentSpec, Venue } from '../engine/types.ts';
import type { AssetRules } from '../exchange/order-rules.ts';
import type { FeedStats } from '../marketdata/feed.ts';
import type { HyperliquidVenue } from '../venue/hyperliquid/execution/venue.ts';
import type { TradingConfig } from './config.ts';
import type { JournalEntry, SqliteJournal } from './journal.ts';
import type { AgentKey } from './keys.ts';
import type { TradingLogger } from './logger.ts';
import type { MarketSession, StrategyFactory } from './market-session.ts';
import type { AccountRiskConfig } from './markets.ts';
import type { StatusSnapshot } from './status.ts';
import type { TickToOrderLatency } from './tick-latency.ts';
import { type FeedFactory, type RunningTrader, runTrader, type SessionSummary } from './trader.ts';

export { networkFailure, SessionError, unreachableMessage } from './errors.ts';
export {
  adoptPosition,
  defaultStrategyFactory,
  type StrategyFactory,
  statusSnapshot,
} from './market-session.ts';
export { TickToOrderLatency } from './tick-latency.ts';
export {
  type FeedFactory,
  type FeedHandle,
  type FeedOptions,
  fetchAssetRules,
  hyperliquidFeed,
  type SessionSummary,
} from './trader.ts';

export interface TradingSessionOptions {
  config: TradingConfig;
  logger: TradingLogger;
  /** Default: the Hyperliquid WebSocket feed. */
  feed?: FeedFactory;
  /** Default: createStrategy from src/strategies. */
  strategy?: StrategyFactory;
  /** Stop when aborted (SIGINT/SIGTERM in the CLI). */
  signal?: AbortSignal;
  /** Stop after this long (ms). */
  durationMs?: number;
  /** Live: the key (else loaded from config.account). Never logged. */
  key?: AgentKey;
  /** Asset rules instead of fetching meta (tests). */
  assets?: AssetRules[];
  /** Account-level risk (default: AccountRiskSchema's defaults). */
  accountRisk?: AccountRiskConfig;
  /** Printed every statusIntervalSec (default: stdout). */
  onStatus?: (line: string, snap: StatusSnapshot) => void;
  /** How long to wait for the first book before giving up (ms). */
  firstBookTimeoutMs?: number;
  /** Paper: one-way latency of the simulated exchange (ms). */
  paperLatencyMs?: number;
  /** Called once the engine is quoting (tests use it to inject faults at the right time). */
  onStarted?: (s: RunningSession) => void;
  /** Sees every journal entry as it is recorded (the service's event hook); must only queue. */
  journalTap?: (entry: JournalEntry) => void;
}

/** Handles a running one-coin session exposes (tests, demo). */
export interface RunningSession {
  engine: Engine;
  venue: Venue;
  liveVenue?: HyperliquidVenue;
  journal: SqliteJournal;
  instrument: InstrumentSpec;
  /** Invariant violations seen (|position| + in-flight > limit, …); tests assert it stays empty. */
  violations: string[];
  latency: TickToOrderLatency;
  /** The market feed's counters (reconnects, stale events), when it keeps them. */
  feedStats(): FeedStats | undefined;
  stop(reason: string): void;
  market: MarketSession;
  trader: RunningTrader;
}

export async function runTradingSession(o: TradingSessionOptions): Promise<SessionSummary> {
  const { config, onStarted, ...rest } = o;
  const t = await runTrader({
    ...rest,
    markets: [config],
    onStarted: (r) => {
      const m = r.markets.get(config.coin);
      if (!m || !onStarted) return;
      onStarted({
        engine: m.engine,
        venue: m.venue,
        liveVenue: r.liveVenue,
        journal: r.journal,
        instrument: m.instrument,
        violations: m.violations,
        latency: m.latency,
        feedStats: r.feedStats,
        stop: r.stop,
        market: m,
        trader: r,
      });
    },
  });
  return t.markets[0];
}
