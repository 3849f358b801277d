/**
 * A paper or live trading session: market feed → Engine(strategy) → venue, with the journal, a status line,
 * restart recovery and a graceful stop.
 *
 *   paper: the live feed drives the engine; orders go to the SimulatedVenue (the backtester's matching core,
 *          queue and latency models) running on the wall clock. No credentials.
 *   live:  orders go to Hyperliquid through HyperliquidVenue (agent wallet; master address for queries).
 *
 * Start: validate (done by the caller) → key (live) → meta → journal → venue start (live: cancel-all,
 * dead-man's switch, first sweep) → first book → engine. Stop (signal, duration, fatal error): stop quoting,
 * cancel everything and wait for the venue's confirmation (bounded), journal the stop, close.
 */
import { hostname } from 'node:os';
import { HttpTransport, InfoClient } from '@nktkas/hyperliquid';
import { ConstantLatency } from '../backtest/latency.ts';
import { SimulatedVenue } from '../backtest/simulated-venue.ts';
import { type PnlAttributionFigures, PortfolioAttribution } from '../engine/attribution.ts';
import { Engine } from '../engine/engine.ts';
import type { InstrumentSpec, Strategy, Venue } from '../engine/types.ts';
import { resolveFeeConfig } from '../exchange/fees.ts';
import { MatchingEngine } from '../exchange/matching.ts';
import { type AssetRules, MIN_NOTIONAL_USD, priceTick } from '../exchange/order-rules.ts';
import type { BookEvent, Gap, MarketEvent } from '../marketdata/events.ts';
import type { FeedStats } from '../marketdata/feed.ts';
import type { StrategyConfig } from '../strategies/config.ts';
import { createStrategy } from '../strategies/index.ts';
import { inScope } from '../venue/hyperliquid/execution/cancel-all.ts';
import type { ExchangeSnapshot } from '../venue/hyperliquid/execution/reconcile.ts';
import { type AccountFees, HyperliquidVenue } from '../venue/hyperliquid/execution/venue.ts';
import { createMarketFeed } from '../venue/hyperliquid/feed.ts';
import { resolveEndpoints, type TradingConfig } from './config.ts';
import { bookVenueFunding, PaperFunding, venueFundingRates } from './funding.ts';
import { pidAlive } from './guard.ts';
import { readGuardReport, type SpawnedGuard, spawnGuard, waitForGuard } from './guard-spawn.ts';
import { HeartbeatWriter, heartbeatPath } from './heartbeat.ts';
import { sessionCloidPrefix, traderCloidTag } from './identity.ts';
import { type JournalEntry, openJournal, type SqliteJournal } from './journal.ts';
import { tapJournal } from './journal-tap.ts';
import { type AgentKey, loadAgentKey } from './keys.ts';
import type { TradingLogger } from './logger.ts';
import { checkPosition, reconcileAtStart } from './reconciliation.ts';
import { journallingVenue, paramsJournaller } from './session-journal.ts';
import { acquireSignerLock } from './signer-lock.ts';
import { formatStatusLine, type StatusSnapshot } from './status.ts';
import { WallClockScheduler } from './wall-scheduler.ts';

/** What the session needs from a market feed (C's src/venue/hyperliquid/feed.ts is adapted to it). */
export interface FeedHandle {
  close(): void | Promise<void>;
  /** Counters (reconnects, stale events, …) when the feed keeps them. */
  stats?(): FeedStats;
}
export interface FeedOptions {
  wsUrl: string;
  httpUrl: string;
  coin: string;
  staleAfterMs: number;
  onEvents(evs: MarketEvent[]): void;
  onGap(g: Gap): void;
  logger: TradingLogger;
}
export type FeedFactory = (o: FeedOptions) => FeedHandle | Promise<FeedHandle>;
export type StrategyFactory = (
  cfg: StrategyConfig,
  instrument: InstrumentSpec,
) => Strategy | Promise<Strategy>;

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

/** Handles a running session exposes (tests, demo). */
export interface RunningSession {
  engine: Engine;
  venue: Venue;
  liveVenue?: HyperliquidVenue;
  journal: SqliteJournal;
  instrument: InspectableInstrument;
  /** Invariant violations seen (|position| + in-flight > limit, …); tests assert it stays empty. */
  violations: string[];
  latency: TickToOrderLatency;
  /** The market feed's counters (reconnects, stale events), when it keeps them. */
  feedStats(): FeedStats | undefined;
  stop(reason: string): void;
}
type InspectableInstrument = InstrumentSpec;

export interface SessionSummary {
  mode: 'paper' | 'live';
  coin: string;
  startedAt: number;
  stoppedAt: number;
  stopReason: string;
  position: number;
  exchangePosition?: number;
  netPnl: number;
  /** Net P&L split into spread capture, adverse selection, inventory carry, fees, funding (engine/attribution.ts). */
  pnlAttribution?: PnlAttributionFigures;
  fills: number;
  ordersPlaced: number;
  ordersModified: number;
  ordersCanceled: number;
  rejects: number;
  restingAfterStop: number;
  tradingState: string;
  violations: string[];
  tickToOrder: { samples: number; p50Us: number; p99Us: number };
  journal: string;
  /** Funding booked this session (USD received; negative = paid). */
  funding: number;
  /** The journal's book of the coin (all sessions): what follows from its fills, funding and adjustments. */
  book: {
    position: number;
    avgEntry: number | null;
    realisedPnl: number;
    fees: number;
    funding: number;
    fills: number;
  };
  /** Journal transactions this session and their write times. */
  journalWrites: { writes: number; p50Us: number; p99Us: number };
}

function bookSummary(journal: SqliteJournal, coin: string): SessionSummary['book'] {
  const b = journal.positionBook(coin);
  return {
    position: b.position,
    avgEntry: Number.isFinite(b.avgEntry) ? b.avgEntry : null,
    realisedPnl: b.realised,
    fees: b.fees,
    funding: b.funding,
    fills: b.fills,
  };
}

/** Book message received → signed order handed to the transport (live) / to the venue (paper). */
export class TickToOrderLatency {
  private tickAt = Number.NaN;
  private readonly samples: number[] = [];
  markTick(): void {
    this.tickAt = performance.now();
    // Anything sent after this turn of the event loop was not caused by this tick.
    setImmediate(() => {
      this.tickAt = Number.NaN;
    });
  }
  onSend(atMs: number): void {
    if (Number.isNaN(this.tickAt)) return;
    this.samples.push((atMs - this.tickAt) * 1000);
    this.tickAt = Number.NaN;
    if (this.samples.length > 100_000) this.samples.splice(0, 50_000);
  }
  summary(): { samples: number; p50Us: number; p99Us: number } {
    const s = [...this.samples].sort((a, b) => a - b);
    const at = (p: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(p * s.length))] : Number.NaN);
    return { samples: s.length, p50Us: at(0.5), p99Us: at(0.99) };
  }
}

/** The Hyperliquid WebSocket feed (l2Book, trades, bbo) of src/venue/hyperliquid/feed.ts. */
export const hyperliquidFeed: FeedFactory = async (o) => {
  const feed = createMarketFeed({
    wsUrl: o.wsUrl,
    coins: [o.coin],
    channels: ['l2Book', 'trades', 'bbo'],
    staleAfterMs: Math.max(o.staleAfterMs, 5000),
    onEvents: o.onEvents,
    onGap: o.onGap,
    logger: o.logger,
  });
  await feed.start();
  return feed;
};

/** The strategies of src/strategies (cj with its rolling calibrator, fixed, as, glft). */
export const defaultStrategyFactory: StrategyFactory = (cfg, instrument) =>
  createStrategy(cfg.strategy, cfg, instrument);

export class SessionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SessionError';
  }
}

const NETWORK_CODES = new Set([
  'ENOTFOUND',
  'EAI_AGAIN',
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'UND_ERR_CONNECT_TIMEOUT',
  'UND_ERR_SOCKET',
]);

/**
 * The reason, when `err` says the exchange could not be reached at all (no network, DNS, refused, timed out),
 * from the innermost cause (fetch wraps the system error twice); undefined for any other failure.
 */
export function networkFailure(err: unknown): string | undefined {
  let found: string | undefined;
  for (let e = err, depth = 0; e && typeof e === 'object' && depth < 6; depth++) {
    const x = e as { code?: unknown; name?: unknown; message?: unknown; cause?: unknown };
    const msg = typeof x.message === 'string' ? x.message : '';
    if (typeof x.code === 'string' && NETWORK_CODES.has(x.code)) found = msg || x.code;
    else if (x.name === 'TimeoutError' || /fetch failed|timed? ?out|socket hang up/i.test(msg)) found ??= msg;
    e = x.cause;
  }
  return found;
}

/** What a new user without network access reads instead of a bare connection error. */
export function unreachableMessage(url: string, reason: string): string {
  return (
    `cannot reach the exchange at ${url} (${reason}): check the network connection and the URL; ` +
    '`npx cjmm demo` runs the same job offline against a local replay of a recording'
  );
}

async function fetchAssetRules(httpUrl: string, isTestnet: boolean): Promise<AssetRules[]> {
  const info = new InfoClient({
    transport: new HttpTransport({ apiUrl: httpUrl, isTestnet, timeout: 10_000 }),
  });
  const meta = await info.meta();
  return meta.universe.map((u, i) => ({
    coin: u.name,
    asset: i,
    szDecimals: u.szDecimals,
    maxLeverage: u.maxLeverage,
  }));
}

/** Adopt the exchange's position in the engine's portfolio, keeping equity continuous at the mark. */
function adoptPosition(engine: Engine, position: number, entryPx: number, mark: number): void {
  const p = engine.portfolio;
  const px = mark > 0 ? mark : entryPx;
  if (!(px > 0)) {
    p.position = position;
    return;
  }
  p.cash -= (position - p.position) * px;
  p.position = position;
  p.avgEntryPx = position === 0 ? Number.NaN : entryPx > 0 ? entryPx : px;
}

export async function runTradingSession(o: TradingSessionOptions): Promise<SessionSummary> {
  const { config, logger } = o;
  const mode = config.mode === 'live' ? 'live' : 'paper';
  const coin = config.coin;
  const { httpUrl, wsUrl, isTestnet } = resolveEndpoints(config);

  // 1. The key first (live): a bad key must stop us before any connection or file is made.
  const key = mode === 'live' ? (o.key ?? loadAgentKey(config.account)) : undefined;
  const masterAddress = config.account.masterAddress as `0x${string}` | undefined;
  if (mode === 'live' && !masterAddress) {
    throw new SessionError(
      'account.masterAddress: is required for live trading (the account the API wallet trades for)',
    );
  }

  // 2. Exchange rules for the coin.
  let assets = o.assets;
  if (!assets) {
    try {
      assets = await fetchAssetRules(httpUrl, isTestnet);
    } catch (err) {
      const net = networkFailure(err);
      if (net) throw new SessionError(unreachableMessage(httpUrl, net));
      throw new SessionError(`cannot read the exchange's meta from ${httpUrl}: ${(err as Error).message}`);
    }
  }
  const rules = assets.find((a) => a.coin === coin);
  if (!rules) throw new SessionError(`--coin ${coin}: not listed by the exchange at ${httpUrl}`);

  const startedAt = Date.now();
  // One trader per API wallet (nonces; clean-ups): refuse to start while another process holds this signer.
  const lock =
    mode === 'live' && key
      ? await acquireSignerLock({
          signer: key.address,
          endpoint: httpUrl,
          coin,
          journal: config.journal,
          startedAt,
        }).catch((err: Error) => {
          throw new SessionError(err.message);
        })
      : undefined;
  const cloidTag = traderCloidTag({ cloidPrefix: config.cloidPrefix, coin, journal: config.journal });
  const cloidPrefix = sessionCloidPrefix(cloidTag, startedAt);
  let journal: SqliteJournal;
  try {
    journal = tapJournal(
      openJournal(config.journal, {
        coin,
        // WAL checkpoints and retention on the journal's maintenance thread, off the quoting path.
        maintenance: {
          retentionDays: config.journalRetentionDays,
          onMessage: (m) => {
            if (m.kind === 'error')
              logger.warn({ what: m.what, err: m.message }, 'journal maintenance failed');
            else if (m.kind === 'pruned' && Object.keys(m.result.deleted).length > 0)
              logger.info({ deleted: m.result.deleted }, 'journal retention: old housekeeping rows pruned');
          },
        },
      }),
      o.journalTap,
    );
  } catch (err) {
    await lock?.release();
    throw err;
  }
  const latency = new TickToOrderLatency();
  const violations: string[] = [];
  let stopReason = '';
  let stopResolve: () => void = () => {};
  const stopped = new Promise<void>((r) => {
    stopResolve = r;
  });
  const stop = (reason: string) => {
    if (stopReason) return;
    stopReason = reason;
    stopResolve();
  };
  const onAbort = () => stop('signal');
  if (o.signal?.aborted) stop('signal');
  o.signal?.addEventListener('abort', onAbort, { once: true });
  let feed: FeedHandle | undefined;
  let liveVenue: HyperliquidVenue | undefined;
  let heartbeat: HeartbeatWriter | undefined;
  let guard: SpawnedGuard | undefined;
  let scheduler: WallClockScheduler | undefined;
  const timers: NodeJS.Timeout[] = [];
  let engine: Engine | undefined;
  let attribution: PortfolioAttribution | undefined;
  let summary: SessionSummary | undefined;
  let accountFees: AccountFees | undefined;
  let paperFunding: PaperFunding | undefined;

  try {
    journal.record({
      type: 'session',
      rxTime: startedAt,
      data: {
        event: 'start',
        mode,
        coin,
        network: config.network,
        httpUrl,
        pid: process.pid,
        cloidPrefix,
      },
    });
    const recovered = { position: journal.position(coin), openOrders: journal.openOrders(coin).length };
    if (recovered.openOrders > 0 || recovered.position !== 0) {
      logger.info(recovered, 'journal: state left by the previous session');
    }

    // 3. Live venue: cancel-all, dead-man's switch, first sweep (exchange truth).
    let firstSnap: ExchangeSnapshot | undefined;
    if (mode === 'live' && key && masterAddress) {
      // The heartbeat before any order can exist, and the guard watching it (detached: it outlives us).
      heartbeat = new HeartbeatWriter(heartbeatPath(config.journal), {
        pid: process.pid,
        host: hostname(),
        sessionStartedAt: startedAt,
        coin,
        httpUrl,
        isTestnet,
        masterAddress,
        signer: key.address,
        cloidPrefix,
        graceSec: config.deadMansSwitchSec,
      });
      heartbeat.start();
      if (config.guard && config.deadMansSwitchSec > 0) {
        try {
          guard = spawnGuard({ journal: config.journal, session: startedAt, key });
          logger.info(
            { pid: guard.pid, log: guard.log, graceSec: config.deadMansSwitchSec },
            'guard started',
          );
          const g = guard;
          void waitForGuard(config.journal, startedAt, 20_000).then((r) => {
            if (!r) logger.error({ pid: g.pid, log: g.log }, 'the guard has not reported that it watches us');
          });
        } catch (err) {
          logger.error({ err: (err as Error).message }, 'cannot start the guard: trading without it');
        }
      }
      liveVenue = new HyperliquidVenue({
        httpUrl,
        wsUrl,
        isTestnet,
        signer: { address: key.address, account: key.account, privateKey: key.privateKey },
        masterAddress,
        assets: [rules],
        logger,
        rate: { actionsPerSecond: config.risk.maxOrdersPerSecond },
        deadMansSwitchSec: config.deadMansSwitchSec,
        reconcileIntervalMs: config.reconcileIntervalSec * 1000,
        onSend: (_type, at) => latency.onSend(at),
        isKnownFill: (tid, cloid, oid) => journal.hasFill(tid, cloid, oid),
        cloidOfOid: (oid) => journal.cloidOfOid(oid),
        ackTimeoutMs: config.ackTimeoutMs,
        ownCloidPrefix: cloidTag,
        startupCleanup: config.startupCleanup,
        onThrottle: (throttled, b) =>
          journal.record({
            type: 'risk',
            rxTime: Date.now(),
            data: { event: throttled ? 'throttled' : 'throttle-ended', ...b },
          }),
      });
      const lv = liveVenue;
      const snaps = await lv.start().catch((err: Error) => {
        throw new SessionError(`live venue start-up at ${httpUrl} failed: ${err.message}`);
      });
      firstSnap = snaps.find((s) => s.coin === coin);
      if (!firstSnap) throw new SessionError(`the exchange reported no ${coin} position snapshot`);
      // Fills and funding made while we were down, the previous session's orders, the position check.
      const rec = await reconcileAtStart({
        venue: lv,
        journal,
        coin,
        snap: firstSnap,
        logger,
        markPrice: async () => Number((await lv.info.allMids())[coin]),
      }).catch((err: Error) => {
        throw new SessionError(`start-up reconciliation with ${httpUrl} failed: ${err.message}`);
      });
      logger.info({ ...rec }, 'journal reconciled with the exchange');
      // The account's own fee rates (tier, referral and staking discounts), not the base tier.
      accountFees = await lv.accountFees().catch((err: Error) => {
        logger.warn({ err: err.message }, 'userFees unavailable: using the base fee tier');
        return undefined;
      });
    }

    // 4. Feed; wait for the first book to know the price grid.
    let firstBook: BookEvent | undefined;
    let gotFirstBook: (b: BookEvent) => void = () => {};
    const firstBookP = new Promise<BookEvent>((r) => {
      gotFirstBook = r;
    });
    const pending: MarketEvent[] = [];
    // The paper exchange runs on our wall clock (its scheduler). A real feed's exchange times are behind it;
    // an accelerated replay's can run ahead, which would hold fills and acks back until the wall clock
    // catches up: such an event reaches the paper exchange at its receive time instead.
    const onPaperClock = (e: MarketEvent): MarketEvent =>
      e.exTime > e.rxTime ? { ...e, exTime: e.rxTime } : e;
    let simVenue: SimulatedVenue | undefined;
    let checkInvariants = () => {};
    const onEvents = (evs: MarketEvent[]) => {
      if (!engine) {
        for (const e of evs) {
          if (e.coin !== coin) continue;
          if (!firstBook && e.kind === 'book' && e.bids.length > 0 && e.asks.length > 0) {
            firstBook = e;
            gotFirstBook(e);
          }
          // Events before the first book cannot be quoted against: the engine starts from that book.
          if (firstBook) pending.push(e);
        }
        if (pending.length > 1000) pending.splice(0, pending.length - 1000);
        return;
      }
      for (const e of evs) {
        if (e.coin !== coin) continue;
        if (e.kind === 'book' || e.kind === 'bbo') latency.markTick();
        if (simVenue) simVenue.onMarket(onPaperClock(e));
        engine.onMarket(e);
        paperFunding?.onMarket(e.exTime);
        attribution?.onMarket(e.exTime, engine.lastMid);
      }
      checkInvariants();
    };
    const onGap = (g: Gap) => {
      logger.warn({ gap: g }, 'market data gap: quotes pulled');
      engine?.onGap(g);
    };
    feed = await Promise.resolve(
      (o.feed ?? hyperliquidFeed)({
        wsUrl,
        httpUrl,
        coin,
        staleAfterMs: config.risk.staleMs,
        onEvents,
        onGap,
        logger,
      }),
    ).catch((err: Error) => {
      const net = networkFailure(err);
      if (net) throw new SessionError(unreachableMessage(wsUrl, net));
      throw new SessionError(`cannot connect the market feed at ${wsUrl}: ${err.message}`);
    });
    const firstTimeout = o.firstBookTimeoutMs ?? 20_000;
    const book = await Promise.race([
      firstBookP,
      stopped.then(() => undefined),
      new Promise<undefined>((r) => timers.push(setTimeout(() => r(undefined), firstTimeout))),
    ]);
    if (!book) {
      if (stopReason) throw new SessionError(`stopped (${stopReason}) before the first book arrived`);
      throw new SessionError(`no ${coin} order book from ${wsUrl} within ${firstTimeout / 1000} s`);
    }
    const mid0 = 0.5 * (book.bids[0].px + book.asks[0].px);
    // Live: the account's own rates (userFees) — what its fills are really charged; paper: the configured tier.
    const configuredFees = resolveFeeConfig(config.fees);
    const fees = accountFees ?? configuredFees;
    if (
      accountFees &&
      (accountFees.maker !== configuredFees.maker || accountFees.taker !== configuredFees.taker)
    ) {
      logger.info(
        { account: accountFees, configured: configuredFees },
        "fees: using the account's rates from userFees, not the configured ones",
      );
    }
    const instrument: InstrumentSpec = {
      coin,
      tick: priceTick(mid0, rules.szDecimals),
      szDecimals: rules.szDecimals,
      lotSize: config.orderSize,
      minNotional: MIN_NOTIONAL_USD,
      makerFee: fees.maker,
      takerFee: fees.taker,
    };
    if (config.orderSize * mid0 < MIN_NOTIONAL_USD) {
      throw new SessionError(
        `orderSize: ${config.orderSize} ${coin} is $${(config.orderSize * mid0).toFixed(2)} at ${mid0}, under the $10 minimum notional`,
      );
    }

    // 5. The venue, wrapped to journal what the engine does not (cancel confirmations, filled orders) and
    //    to time the tick-to-order path in paper mode (there the hand-off to the simulated venue is the "send").
    let inner: Venue;
    if (liveVenue) {
      inner = liveVenue;
    } else {
      scheduler = new WallClockScheduler();
      const lat = o.paperLatencyMs ?? 100;
      simVenue = new SimulatedVenue({
        scheduler,
        matching: new MatchingEngine({
          coin,
          asset: rules.asset,
          szDecimals: rules.szDecimals,
          tick: instrument.tick,
          minNotional: MIN_NOTIONAL_USD,
          fees,
        }),
        latency: new ConstantLatency(lat, lat, lat),
      });
      inner = simVenue;
    }
    const paper = !liveVenue;
    const venue = journallingVenue(inner, journal, {
      onSend: paper ? () => latency.onSend(performance.now()) : undefined,
      afterReport: () => checkInvariants(),
    });

    // 6. Engine and strategy.
    const strategy = await (o.strategy ?? defaultStrategyFactory)(config.strategy, instrument);
    const equity = firstSnap && firstSnap.accountValue > 0 ? firstSnap.accountValue : config.paperEquity;
    const eng = new Engine({
      clock: { now: () => Date.now() },
      venue,
      strategy,
      instrument,
      risk: {
        maxPositionLots: config.maxPosition,
        maxNotional: config.risk.maxNotional > 0 ? config.risk.maxNotional : Number.POSITIVE_INFINITY,
        maxDrawdownFrac: config.risk.maxDrawdown,
        staleMs: config.risk.staleMs,
        maxOrdersPerSec: config.risk.maxOrdersPerSecond,
        orderBurst: Math.max(2, Math.ceil(2 * config.risk.maxOrdersPerSecond)),
      },
      orderManager: {
        priceToleranceTicks: config.strategy.priceToleranceTicks,
        minQuoteLifeMs: config.strategy.minQuoteLifeMs,
      },
      journal,
      logger,
      // The stale guard and risk run on engine activity: tick often enough to pull quotes within staleMs.
      timerIntervalMs: Math.min(1000, Math.max(50, Math.floor(config.risk.staleMs / 4))),
      startingEquity: equity,
      // This trader's tag + the session's start: unique per session, recognisable on a shared account.
      cloidSeed: cloidPrefix,
    });
    engine = eng;
    attribution = new PortfolioAttribution(eng.portfolio);

    // Restart recovery: the position (with its average entry) that follows from the journalled fills — live,
    // reconciled with the exchange above; paper, the journal alone.
    const jbook = journal.positionBook(coin);
    if (jbook.position !== 0) adoptPosition(eng, jbook.position, jbook.avgEntry, mid0);
    if (!liveVenue && recovered.openOrders > 0)
      journal.closeOpenOrders(Date.now(), 'paper session restarted');
    let lastDiff: number | undefined;
    if (liveVenue) {
      const lv = liveVenue;
      lv.onPosition = (snap) => {
        if (snap.coin !== coin) return;
        const diff = snap.position - eng.portfolio.position;
        if (Math.abs(diff) < 1e-9) {
          lastDiff = undefined;
          return;
        }
        // A fill may be on its way on the stream: adopt only a difference seen by two sweeps in a row (each
        // sweep has recovered the fills userFillsByTime knows of before comparing).
        if (lastDiff === undefined || Math.abs(lastDiff - snap.position) > 1e-9) {
          lastDiff = snap.position;
          return;
        }
        logger.warn(
          { engine: eng.portfolio.position, exchange: snap.position },
          'position differs from the exchange after fill recovery: adopting the exchange',
        );
        checkPosition({ journal, coin, snap, logger, mark: eng.lastMid, at: 'sweep' });
        adoptPosition(eng, snap.position, snap.entryPx, eng.lastMid);
        lastDiff = undefined;
      };
      // Funding payments from the venue (stream and periodic REST check), each once, into P&L.
      lv.onFunding = (events) => {
        bookVenueFunding(journal, eng, coin, events);
      };
      // Each sweep now also recovers fills and funding the streams missed.
      const reconciledAt = firstSnap?.time ?? Date.now();
      lv.enableRecovery({
        fillsSince: () => journal.lastFillTime(coin) ?? reconciledAt,
        fundingSince: () => journal.lastFundingTime(coin) ?? reconciledAt,
      });
    } else {
      paperFunding = new PaperFunding({
        coin,
        journal,
        engine: eng,
        logger,
        rate: config.paper.fundingRate,
        source: config.paper.fundingRate === undefined ? venueFundingRates(httpUrl, isTestnet) : undefined,
      });
    }

    // 7. Invariants, checked after every batch of events and every report.
    const maxCoins = config.maxPosition * config.orderSize;
    checkInvariants = () => {
      const pos = eng.portfolio.position;
      const bidX = eng.orders.exposure('bid');
      const askX = eng.orders.exposure('ask');
      const tol = 1e-9 + config.orderSize * 1e-6;
      if (pos + bidX > maxCoins + tol || -pos + askX > maxCoins + tol) {
        const v = `position ${pos} + in-flight (bid ${bidX}, ask ${askX}) exceeds ${maxCoins}`;
        if (violations.length < 100) violations.push(v);
      }
    };

    eng.start();
    for (const e of pending.splice(0)) {
      simVenue?.onMarket(onPaperClock(e));
      eng.onMarket(e);
      attribution.onMarket(e.exTime, eng.lastMid);
    }
    journal.record({ type: 'params', rxTime: Date.now(), data: { event: 'instrument', ...instrument } });

    // 8. Timers: engine timer, status line, order timeout.
    // A parameter set is journalled when the strategy adopts a new one (new calibration or params object).
    const journalParams = paramsJournaller(strategy, journal, Date.now);
    const tick = () => {
      const now = Date.now();
      if (now >= eng.nextTimerAt()) eng.onTimer(now);
      checkInvariants();
      journalParams();
    };
    timers.push(setInterval(tick, 100));
    let lastStatusAt = 0;
    const status = () => {
      lastStatusAt = Date.now();
      const snap = statusSnapshot(eng, startedAt, mode, liveVenue, attribution);
      if (liveVenue) {
        snap.protections = protections(config, liveVenue, startedAt);
        snap.requests = requestBudgetField(liveVenue, eng);
      }
      const line = formatStatusLine(snap);
      if (o.onStatus) o.onStatus(line, snap);
      else process.stdout.write(`${line}\n`);
      journal.record({
        type: 'state',
        rxTime: Date.now(),
        data: {
          coin,
          position: eng.portfolio.position,
          mid: snap.mid,
          netPnl: snap.netPnl,
          state: snap.tradingState,
          pnlAttribution: snap.pnlAttribution,
          spreadBoundBinding: snap.spreadBoundBinding,
        },
      });
    };
    timers.push(setInterval(status, config.statusIntervalSec * 1000));
    timers.push(
      setInterval(
        () => {
          // The seed's unfilled-order timeout: refresh quotes that rested too long (the engine re-quotes).
          const now = Date.now();
          const old = eng.orders
            .openOrders()
            .filter((x) => x.state === 'open' && now - x.openedAt > config.orderTimeoutMs)
            .map((x) => ({ coin, cloid: x.cloid }));
          if (old.length > 0) venue.cancel(old);
        },
        Math.min(1000, config.orderTimeoutMs),
      ),
    );
    if (o.durationMs !== undefined) timers.push(setTimeout(() => stop('duration'), o.durationMs));
    logger.info(
      { mode, coin, tick: instrument.tick, szDecimals: rules.szDecimals, mid: mid0, httpUrl },
      'session started',
    );
    o.onStarted?.({
      engine: eng,
      venue,
      liveVenue,
      journal,
      instrument,
      violations,
      latency,
      feedStats: () => feed?.stats?.(),
      stop,
    });

    await stopped;
    for (const t of timers) clearInterval(t);
    logger.info({ reason: stopReason }, 'stopping: cancel all');
    if (Date.now() - lastStatusAt > 1000) status();
  } catch (err) {
    if (!stopReason) stopReason = `error: ${(err as Error).message}`;
    throw err;
  } finally {
    for (const t of timers) clearInterval(t);
    o.signal?.removeEventListener('abort', onAbort);
    let resting = 0;
    let exchangePosition: number | undefined;
    if (engine) {
      await withTimeout(engine.stop(), 10_000).catch((e) =>
        logger.error({ err: String(e) }, 'cancel-all on stop failed'),
      );
    }
    if (engine && !liveVenue) journal.closeOpenOrders(Date.now(), 'canceled at stop');
    if (liveVenue) {
      await withTimeout(liveVenue.stop(), 10_000).catch((e) =>
        logger.error({ err: String(e) }, 'venue stop failed'),
      );
      try {
        const snaps = await liveVenue.sweep();
        const s = snaps.find((x) => x.coin === coin);
        // Ours only: other traders' orders on a shared account are theirs to keep.
        resting = s?.openOrders.filter((o) => inScope(o.cloid, cloidTag)).length ?? 0;
        exchangePosition = s?.position;
        if (resting === 0) journal.closeOpenOrders(Date.now(), 'canceled at stop');
      } catch {
        resting = -1;
      }
    }
    // The guard exits on `stopped`; `failed` (something may still rest) makes it cancel at once.
    heartbeat?.stop(resting === 0 ? 'stopped' : 'failed');
    await feed?.close();
    scheduler?.close();
    const stoppedAt = Date.now();
    if (engine) {
      const mid = engine.lastMid;
      const st = engine.orders.stats;
      summary = {
        mode,
        coin,
        startedAt,
        stoppedAt,
        stopReason,
        position: engine.portfolio.position,
        exchangePosition,
        netPnl: mid > 0 ? engine.portfolio.netPnl(mid) : 0,
        pnlAttribution: attribution && mid > 0 ? attribution.figures(mid) : undefined,
        fills: engine.portfolio.fills.length,
        ordersPlaced: st.placed,
        ordersModified: st.modified,
        ordersCanceled: st.canceled,
        rejects: st.rejected,
        restingAfterStop: liveVenue ? resting : engine.orders.openOrders().length,
        tradingState: engine.risk.state,
        violations,
        tickToOrder: latency.summary(),
        journal: config.journal,
        funding: engine.portfolio.funding,
        book: bookSummary(journal, coin),
        journalWrites: journal.writeTimes(),
      };
    }
    journal.record({
      type: 'session',
      rxTime: stoppedAt,
      data: { event: 'stop', reason: stopReason, summary: summary ?? null },
    });
    journal.close();
    await lock?.release();
  }
  if (!summary) throw new SessionError(`session ended before it started (${stopReason})`);
  return summary;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}

/**
 * Requests per USDC traded by this session (Hyperliquid earns 1 request per USDC: sustainable below 1), and the
 * account's budget: requests left, or THROTTLED.
 */
function requestBudgetField(venue: HyperliquidVenue, eng: Engine): string {
  let traded = 0;
  for (const f of eng.portfolio.fills) traded += f.px * f.sz;
  const perUsd = traded > 0 ? (venue.requestsSent / traded).toFixed(2) : '—';
  const b = venue.requestBudget;
  const left = b.throttled
    ? `THROTTLED (budget used ${b.used}/${b.cap}: 1 request per 10 s, cancels first)`
    : `budget ${b.remaining} left${b.synced ? '' : ' (est.)'}`;
  return `req/USDC ${perUsd}, ${left}`;
}

/** Which protections cover the resting quotes: the guard process and the exchange's scheduleCancel. */
function protections(config: TradingConfig, venue: HyperliquidVenue, session: number): string {
  const r = readGuardReport(config.journal);
  const watching =
    r?.state === 'watching' && r.sessionStartedAt === session && (r.host !== hostname() || pidAlive(r.pid));
  const g = watching
    ? `guard ${r.pid}`
    : config.guard && config.deadMansSwitchSec > 0
      ? 'guard DOWN'
      : 'no guard';
  const dms = venue.deadMansSwitchState;
  const d =
    dms === 'armed'
      ? 'scheduleCancel'
      : dms === 'unavailable'
        ? 'no scheduleCancel (account not eligible)'
        : dms === 'off'
          ? 'no scheduleCancel'
          : 'scheduleCancel pending';
  return `${g}, ${d}`;
}

function statusSnapshot(
  eng: Engine,
  startedAt: number,
  mode: string,
  live?: HyperliquidVenue,
  attribution?: PortfolioAttribution,
): StatusSnapshot {
  const mid = eng.lastMid;
  let bid = Number.NaN;
  let ask = Number.NaN;
  for (const x of eng.orders.openOrders()) {
    if (x.state === 'pending-new') continue; // not on the book yet
    if (x.side === 'bid' && !(x.px <= bid)) bid = x.px;
    if (x.side === 'ask' && !(x.px >= ask)) ask = x.px;
  }
  const d = (eng.strategy.diagnostics?.() ?? {}) as Record<string, unknown>;
  return {
    at: Date.now(),
    mode,
    coin: eng.instrument.coin,
    mid,
    bidPx: bid,
    askPx: ask,
    position: eng.portfolio.position,
    lots: Math.round(eng.portfolio.position / eng.instrument.lotSize),
    netPnl: mid > 0 ? eng.portfolio.netPnl(mid) : 0,
    fills: eng.portfolio.fills.length,
    tradingState: eng.risk.state,
    stale: eng.risk.stale,
    quoting: eng.quotingState(),
    szDecimals: eng.instrument.szDecimals,
    diagnostics: d,
    uptimeSec: (Date.now() - startedAt) / 1000,
    http429: live?.stats.http429,
    pnlAttribution: attribution && mid > 0 ? attribution.figures(mid) : undefined,
    spreadBoundBinding: eng.strategy.spreadBoundBinding?.(Date.now()) ?? undefined,
  };
}
