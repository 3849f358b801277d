/**
 * The trader: the one trading core behind `cjmm trade`, `cjmm demo` and `cjmm serve`, paper and live, one coin
 * or many. It owns what the markets share and runs one small market session per coin
 * (src/trading/market-session.ts):
 *
 *   feed ──(one WebSocket: every coin's l2Book, trades, bbo)──▶ route by coin ──▶ MarketSession ETH ─┐
 *                                                                              └─▶ MarketSession BTC ─┤
 *   journal (one SQLite file: every order, fill, cancel, funding, parameter set, risk and state row) ◀┤
 *   venue   paper: one simulated exchange per coin on one wall-clock scheduler                         │
 *           live:  one Hyperliquid venue (src/trading/live-account.ts: signer lock, heartbeat + guard,  ◀┘
 *                  one request budget, user streams, sweeps, start-up reconciliation of every coin)
 *   account risk: total notional, margin use (live: the venue's clearinghouseState), account drawdown kill
 *                 switch (halts every coin); status lines; the API port (src/rpc) sees it through RunningTrader.
 *
 * A fault in one coin's feed (a stale book, a gap) stops quoting that coin only: each engine has its own stale
 * guard and gaps are routed by coin. Start: validate (the caller) → key (live) → meta → signer lock → journal →
 * live account (heartbeat, guard, venue start with cancel-all, reconciliation, fees) → feed → each market
 * from its first book. Stop (signal, duration, API, fatal error): every market cancels its orders and waits
 * for the venue's confirmation (bounded); live: the venue cancels what is left and a last sweep counts what
 * rests; the journal records the stop with the summary.
 */
import { HttpTransport, InfoClient } from '@nktkas/hyperliquid';
import type { PnlAttributionFigures } from '../engine/attribution.ts';
import type { Fill, VenueReport } from '../engine/types.ts';
import { resolveFeeConfig } from '../exchange/fees.ts';
import type { AssetRules } from '../exchange/order-rules.ts';
import type { BookEvent, Gap, MarketEvent } from '../marketdata/events.ts';
import type { FeedStats } from '../marketdata/feed.ts';
import { WallClockScheduler } from '../sim/wall-scheduler.ts';
import { createMarketFeed } from '../venue/hyperliquid/feed.ts';
import { AccountRisk, type AccountView } from './account-risk.ts';
import { resolveEndpoints, type TradingConfig } from './config.ts';
import { networkFailure, SessionError, unreachableMessage } from './errors.ts';
import { venueFundingRates } from './funding.ts';
import { sessionCloidPrefix, traderCloidTag } from './identity.ts';
import { type JournalEntry, openJournal, type SqliteJournal } from './journal.ts';
import { tapJournal } from './journal-tap.ts';
import { type AgentKey, loadAgentKey } from './keys.ts';
import { LiveAccount } from './live-account.ts';
import type { TradingLogger } from './logger.ts';
import {
  CoinVenue,
  defaultStrategyFactory,
  MarketSession,
  marketJournal,
  type StrategyFactory,
} from './market-session.ts';
import { type AccountRiskConfig, AccountRiskSchema } from './markets.ts';
import { acquireSignerLock } from './signer-lock.ts';
import type { StatusSnapshot } from './status.ts';
import { type LatencySummary, summarizeUs, TickToOrderLatency } from './tick-latency.ts';

/** The market feed the trader owns: one connection for every coin. */
export interface FeedHandle {
  close(): void | Promise<void>;
  /** Counters (reconnects, stale events, …) when the feed keeps them. */
  stats?(): FeedStats;
}
export interface FeedOptions {
  wsUrl: string;
  httpUrl: string;
  coins: string[];
  staleAfterMs: number;
  onEvents(evs: MarketEvent[]): void;
  onGap(g: Gap): void;
  logger: TradingLogger;
}
export type FeedFactory = (o: FeedOptions) => FeedHandle | Promise<FeedHandle>;

/** One Hyperliquid WebSocket connection subscribed to every coin's l2Book, trades and bbo. */
export const hyperliquidFeed: FeedFactory = async (o) => {
  const feed = createMarketFeed({
    wsUrl: o.wsUrl,
    coins: o.coins,
    channels: ['l2Book', 'trades', 'bbo'],
    staleAfterMs: Math.max(o.staleAfterMs, 5000),
    onEvents: o.onEvents,
    onGap: o.onGap,
    logger: o.logger,
  });
  await feed.start();
  return feed;
};

export async function fetchAssetRules(httpUrl: string, isTestnet: boolean): Promise<AssetRules[]> {
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

export interface TraderOptions {
  /** One validated config per market (src/trading/markets.ts); what one process shares is the first's. */
  markets: TradingConfig[];
  /** Account-level risk (default: AccountRiskSchema's defaults). */
  accountRisk?: AccountRiskConfig;
  logger: TradingLogger;
  /** Default: the Hyperliquid WebSocket feed (one connection). */
  feed?: FeedFactory;
  /** Default: createStrategy from src/strategies. */
  strategy?: StrategyFactory;
  /** Stop when aborted (SIGINT/SIGTERM in the CLI). */
  signal?: AbortSignal;
  /** Stop after this long (ms). */
  durationMs?: number;
  /** Live: the key (else loaded from the config's account). Never logged. */
  key?: AgentKey;
  /** Asset rules instead of fetching meta (tests). */
  assets?: AssetRules[];
  /** Paper: one-way latency of the simulated exchange (ms). */
  paperLatencyMs?: number;
  /** How long to wait for the first market's first book (ms); the others start when theirs arrives. */
  firstBookTimeoutMs?: number;
  /** Every market's status line (default: stdout). */
  onStatus?: (line: string, snap: StatusSnapshot) => void;
  /** The account line (several markets; default: stdout). */
  onAccountLine?: (line: string) => void;
  /** Sees every journal entry as it is recorded (the service's event hook); must only queue. */
  journalTap?: (entry: JournalEntry) => void;
  /** Called once the first market quotes. */
  onStarted?: (t: RunningTrader) => void;
  /** Called as each market starts quoting. */
  onMarketStarted?: (m: MarketSession) => void;
}

/** Handles a running trader exposes (the API port, tests, demo). */
export interface RunningTrader {
  mode: 'paper' | 'live';
  markets: Map<string, MarketSession>;
  coins: string[];
  journal: SqliteJournal;
  startedAt: number;
  /** Live: the one venue of every market. */
  liveVenue: LiveAccount['venue'] | undefined;
  live: LiveAccount | undefined;
  account(): AccountView;
  /** An operator resume after the account kill switch. */
  resetAccount(): void;
  /** Stop one market (its orders cancelled); the others go on; the last one stops the trader. */
  stopMarket(coin: string, reason: string): Promise<void>;
  stoppedMarkets: Set<string>;
  /** The market feed's counters (reconnects, stale events), when it keeps them. */
  feedStats(): FeedStats | undefined;
  stop(reason: string): void;
}

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
  /** The price the attribution measures against: the strategy's `reference` (`mid` by default). */
  pnlAttributionReference?: string;
  fills: number;
  ordersPlaced: number;
  ordersModified: number;
  ordersCanceled: number;
  rejects: number;
  restingAfterStop: number;
  tradingState: string;
  violations: string[];
  tickToOrder: LatencySummary;
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

export interface TraderSummary {
  mode: 'paper' | 'live';
  coins: string[];
  startedAt: number;
  stoppedAt: number;
  stopReason: string;
  markets: SessionSummary[];
  account: AccountView;
  restingAfterStop: number;
  violations: string[];
  /** Every market's samples together (live: the one connection's). */
  tickToOrder: LatencySummary;
  journal: string;
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

/** A fill of a coin whose market is not running yet: journalled as it is (money is never dropped). */
function journalStrayFill(journal: SqliteJournal, f: Fill): void {
  journal.record({
    type: 'fill',
    exTime: f.exTime,
    rxTime: f.rxTime,
    data: {
      tid: f.tid,
      oid: f.oid,
      cloid: f.cloid,
      coin: f.coin,
      side: f.side,
      px: f.px,
      sz: f.sz,
      fee: f.fee,
      liquidity: f.liquidity,
      exTime: f.exTime,
      source: 'stream',
    },
  });
}

export async function runTrader(o: TraderOptions): Promise<TraderSummary> {
  const { logger } = o;
  const first = o.markets[0];
  if (!first) throw new SessionError('markets: at least one market');
  const mode = first.mode === 'live' ? 'live' : 'paper';
  const coins = o.markets.map((m) => m.coin);
  if (coins.length > 64) throw new SessionError(`markets: at most 64 in one process (got ${coins.length})`);
  if (new Set(coins).size !== coins.length) throw new SessionError(`markets: a coin is listed twice`);
  const several = coins.length > 1;
  const { httpUrl, wsUrl, isTestnet } = resolveEndpoints(first);
  const accountRisk = o.accountRisk ?? AccountRiskSchema.parse({});

  // 1. The key first (live): a bad key must stop us before any connection or file is made.
  const key = mode === 'live' ? (o.key ?? loadAgentKey(first.account)) : undefined;
  const masterAddress = first.account.masterAddress as `0x${string}` | undefined;
  if (mode === 'live' && !masterAddress) {
    throw new SessionError(
      'account.masterAddress: is required for live trading (the account the API wallet trades for)',
    );
  }

  // 2. Exchange rules of every coin.
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
  const rules = new Map<string, AssetRules>();
  for (const c of coins) {
    const r = assets.find((a) => a.coin === c);
    if (!r)
      throw new SessionError(
        `${several ? '--coins' : '--coin'} ${c}: not listed by the exchange at ${httpUrl}`,
      );
    rules.set(c, r);
  }

  const startedAt = Date.now();
  // One trader per API wallet (nonces; clean-ups): refuse to start while another process holds this signer.
  const lock =
    mode === 'live' && key
      ? await acquireSignerLock({
          signer: key.address,
          endpoint: httpUrl,
          coin: coins.join(','),
          journal: first.journal,
          startedAt,
        }).catch((err: Error) => {
          throw new SessionError(err.message);
        })
      : undefined;
  // This trader's tag (the same across restarts on one journal with the same coins) + the session's start;
  // with several markets each adds its own two digits, so one prefix covers every market's orders.
  const cloidTag = traderCloidTag({
    cloidPrefix: first.cloidPrefix,
    coin: coins.join(','),
    journal: first.journal,
  });
  const cloidPrefix = sessionCloidPrefix(cloidTag, startedAt);
  let journal: SqliteJournal;
  try {
    journal = tapJournal(
      openJournal(first.journal, {
        // One coin: entries without a coin are its own. Several: each market stamps its own (marketJournal).
        coin: several ? undefined : coins[0],
        // WAL checkpoints and retention on the journal's maintenance thread, off the quoting path.
        maintenance: {
          retentionDays: first.journalRetentionDays,
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
  const journalOf = new Map(coins.map((c) => [c, several ? marketJournal(journal, c) : journal]));
  const configOf = new Map(o.markets.map((m) => [m.coin, m]));
  const markets = new Map<string, MarketSession>();
  const stoppedMarkets = new Set<string>();
  const pending = new Map<string, MarketEvent[]>(coins.map((c) => [c, []]));
  const creating = new Set<string>();
  const timers: NodeJS.Timeout[] = [];
  // Live: one figure for the one connection (a signed action handed to the transport); paper: one per market.
  const sharedLatency = mode === 'live' ? new TickToOrderLatency() : undefined;
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
  let firstStarted: () => void = () => {};
  const anyStarted = new Promise<void>((r) => {
    firstStarted = r;
  });
  let fatal: Error | undefined;
  let feed: FeedHandle | undefined;
  let live: LiveAccount | undefined;
  let scheduler: WallClockScheduler | undefined;
  let equity = first.paperEquity;
  let fundingRates: ReturnType<typeof venueFundingRates> | undefined;
  let account: AccountRisk | undefined;
  let accountView: AccountView | undefined;
  let summary: TraderSummary | undefined;

  const tradedUsd = () => {
    let usd = 0;
    for (const m of markets.values()) for (const f of m.engine.portfolio.fills) usd += f.px * f.sz;
    return usd;
  };

  const startMarket = async (coin: string, book: BookEvent) => {
    const config = configOf.get(coin) as TradingConfig;
    try {
      const m = await MarketSession.create({
        mode,
        config,
        rules: rules.get(coin) as AssetRules,
        book,
        journal: journalOf.get(coin) as SqliteJournal,
        logger,
        strategy: o.strategy ?? defaultStrategyFactory,
        equity,
        // Live: the account's own rates (userFees) — what its fills are really charged; paper: the configured tier.
        fees: live?.fees ?? resolveFeeConfig(config.fees),
        cloidSeed: several
          ? `${cloidPrefix}${coins.indexOf(coin).toString(16).padStart(2, '0')}`
          : cloidPrefix,
        startedAt,
        latency: sharedLatency ?? new TickToOrderLatency(),
        index: coins.indexOf(coin),
        scheduler,
        paperLatencyMs: o.paperLatencyMs ?? 100,
        fundingRates,
        liveVenue: live ? new CoinVenue(live.venue, coin) : undefined,
        errorLabel: several ? `${coin} ` : '',
        onStatus: o.onStatus,
        statusExtras: live
          ? () => ({
              protections: live?.protections(),
              requests: live?.requests(tradedUsd()),
              http429: live?.venue.stats.http429,
              exchangeUnanswered: live?.venue.unansweredInARow,
            })
          : undefined,
      });
      if (stopReason) return;
      markets.set(coin, m);
      m.start(pending.get(coin) ?? []);
      pending.delete(coin);
      logger.info(
        {
          mode,
          coin,
          tick: m.instrument.tick,
          szDecimals: m.instrument.szDecimals,
          mid: m.engine.lastMid,
          httpUrl,
          // The rates the P&L is booked at: live the account's own (userFees), else the configured tier.
          fees: {
            maker: m.instrument.makerFee,
            taker: m.instrument.takerFee,
            source: live?.fees ? 'userFees' : 'config',
          },
        },
        several ? 'market started' : 'session started',
      );
      o.onMarketStarted?.(m);
      firstStarted();
    } catch (err) {
      fatal = new SessionError((err as Error).message);
      stop(`error: ${(err as Error).message}`);
    }
  };

  const onEvents = (evs: MarketEvent[]) => {
    // Most batches touch one market: no set unless a second one shows up.
    let one: MarketSession | undefined;
    let more: Set<MarketSession> | undefined;
    for (const e of evs) {
      const m = markets.get(e.coin);
      if (m) {
        if (stoppedMarkets.has(e.coin)) continue;
        m.onMarket(e);
        if (one === undefined) one = m;
        else if (m !== one) (more ??= new Set([one])).add(m);
        continue;
      }
      const buf = pending.get(e.coin);
      if (!buf || stoppedMarkets.has(e.coin)) continue; // a coin we do not trade
      if (!creating.has(e.coin) && e.kind === 'book' && e.bids.length > 0 && e.asks.length > 0) {
        creating.add(e.coin);
        void startMarket(e.coin, e);
      }
      // Events before the first book cannot be quoted against: the market starts from that book.
      if (creating.has(e.coin)) {
        buf.push(e);
        if (buf.length > 1000) buf.splice(0, buf.length - 1000);
      }
    }
    if (more) for (const m of more) m.checkInvariants();
    else one?.checkInvariants();
  };
  const onGap = (g: Gap) => {
    const m = markets.get(g.coin);
    if (m) m.onGap(g);
    else logger.warn({ gap: g }, `${g.coin}: market data gap before the market started`);
  };

  let killJournalled = false;
  const accountReduced = new Set<string>();
  const evaluateAccount = (): AccountView => {
    const acc = account as AccountRisk;
    const margin = live?.margin;
    return acc.evaluate(
      [...markets.values()].map((m) => ({
        coin: m.coin,
        position: m.engine.portfolio.position,
        mid: m.engine.lastMid,
        netPnl: m.engine.lastMid > 0 ? m.engine.portfolio.netPnl(m.engine.lastMid) : 0,
        maxLeverage: rules.get(m.coin)?.maxLeverage ?? 1,
      })),
      // Live: the margin the exchange says the account uses (every position of the account, ours or not).
      margin && Number.isFinite(margin.marginUsed) && margin.accountValue > 0
        ? { marginUsed: margin.marginUsed, accountValue: margin.accountValue }
        : undefined,
    );
  };
  const applyAccountRisk = () => {
    if (!account) return;
    const now = Date.now();
    const view = evaluateAccount();
    accountView = view;
    if (view.state === 'halted') {
      if (!killJournalled) {
        killJournalled = true;
        logger.error({ reason: view.reason }, 'ACCOUNT KILL SWITCH: every market halted');
        journal.record({
          type: 'risk',
          rxTime: now,
          data: { event: 'account-kill-switch', coin: null, reason: view.reason },
        });
      }
      for (const m of markets.values()) {
        if (m.engine.risk.state !== 'HALTED') m.engine.risk.halt(now, view.reason);
      }
      return;
    }
    killJournalled = false;
    for (const m of markets.values()) {
      if (view.state === 'reducing' && m.engine.risk.state === 'ACTIVE') {
        m.engine.risk.reduceOnly(now, view.reason);
        accountReduced.add(m.coin);
      } else if (view.state === 'active' && accountReduced.has(m.coin)) {
        accountReduced.delete(m.coin);
        if (m.engine.risk.state === 'REDUCING') m.engine.risk.resume(now, 'account back within its limits');
      }
    }
  };

  const running: RunningTrader = {
    mode,
    markets,
    coins,
    journal,
    startedAt,
    get liveVenue() {
      return live?.venue;
    },
    get live() {
      return live;
    },
    account: () =>
      accountView ?? (account ? evaluateAccount() : new AccountRisk(accountRisk, equity).evaluate([])),
    resetAccount: () => {
      if (!account) return;
      account.reset(evaluateAccount().equity);
      applyAccountRisk();
    },
    stopMarket: async (coin, reason) => {
      const m = markets.get(coin);
      stoppedMarkets.add(coin);
      if (m) {
        m.engine.risk.halt(Date.now(), `stopped: ${reason}`);
        await m.stop();
      }
      if (coins.every((c) => stoppedMarkets.has(c))) stop(reason);
    },
    stoppedMarkets,
    feedStats: () => feed?.stats?.(),
    stop,
  };

  let statusLine: (() => void) | undefined;
  let lastStatusAt = 0;
  try {
    journal.record({
      type: 'session',
      rxTime: startedAt,
      data: {
        event: 'start',
        mode,
        coin: several ? null : coins[0],
        ...(several ? { coins } : {}),
        network: first.network,
        httpUrl,
        pid: process.pid,
        cloidPrefix,
      },
    });
    for (const c of coins) {
      const recovered = { coin: c, position: journal.position(c), openOrders: journal.openOrders(c).length };
      if (recovered.openOrders > 0 || recovered.position !== 0) {
        logger.info(recovered, 'journal: state left by the previous session');
      }
    }

    // 3. Live: heartbeat and guard, the venue (cancel-all, dead-man's switch, first sweep), reconciliation of
    //    every coin, the account's fee rates. Paper: the simulated exchanges' clock, funding rates.
    if (mode === 'live' && key && masterAddress) {
      const configured = resolveFeeConfig(first.fees);
      live = new LiveAccount({
        markets: o.markets,
        key,
        masterAddress,
        rules: coins.map((c) => rules.get(c) as AssetRules),
        httpUrl,
        wsUrl,
        isTestnet,
        journal,
        logger,
        startedAt,
        cloidTag,
        cloidPrefix,
        latency: sharedLatency as TickToOrderLatency,
        routes: {
          report: (r: VenueReport) => {
            const m = markets.get(r.coin);
            if (m) m.onReport(r);
            else if (r.kind === 'fill') journalStrayFill(journalOf.get(r.coin) ?? journal, r);
          },
          position: (snap) => markets.get(snap.coin)?.onVenuePosition(snap),
          funding: (events) => {
            for (const m of markets.values()) m.onVenueFunding(events);
          },
        },
      });
      await live.start();
      if (live.accountValue > 0) equity = live.accountValue;
      if (live.fees && (live.fees.maker !== configured.maker || live.fees.taker !== configured.taker)) {
        logger.info(
          { account: live.fees, configured },
          "fees: using the account's rates from userFees, not the configured ones",
        );
      }
    } else {
      scheduler = new WallClockScheduler();
      fundingRates = venueFundingRates(httpUrl, isTestnet);
      journal.closeOpenOrders(Date.now(), 'paper session restarted');
    }
    account = new AccountRisk(accountRisk, equity);
    accountView = evaluateAccount();

    // 4. One feed connection; each market starts from its first book.
    feed = await Promise.resolve(
      (o.feed ?? hyperliquidFeed)({
        wsUrl,
        httpUrl,
        coins,
        staleAfterMs: Math.min(...o.markets.map((m) => m.risk.staleMs)),
        onEvents,
        onGap,
        logger,
      }),
    ).catch((err: Error) => {
      const net = networkFailure(err);
      if (net) throw new SessionError(unreachableMessage(wsUrl, net));
      throw new SessionError(`cannot connect the market feed at ${wsUrl}: ${err.message}`);
    });
    const timeout = o.firstBookTimeoutMs ?? 20_000;
    const started = await Promise.race([
      anyStarted.then(() => true),
      stopped.then(() => false),
      new Promise<boolean>((r) => timers.push(setTimeout(() => r(false), timeout))),
    ]);
    if (fatal) throw fatal;
    if (!started) {
      if (stopReason) throw new SessionError(`stopped (${stopReason}) before the first book arrived`);
      throw new SessionError(
        several
          ? `no order book for any of ${coins.join(', ')} from ${wsUrl} within ${timeout / 1000} s`
          : `no ${coins[0]} order book from ${wsUrl} within ${timeout / 1000} s`,
      );
    }

    // 5. Timers: engines, invariants, parameter sets and account risk; status lines; the order timeout.
    timers.push(
      setInterval(() => {
        const now = Date.now();
        for (const m of markets.values()) if (!stoppedMarkets.has(m.coin)) m.tick(now);
        applyAccountRisk();
      }, 100),
    );
    statusLine = () => {
      lastStatusAt = Date.now();
      for (const c of coins) {
        const m = markets.get(c);
        if (m && !stoppedMarkets.has(c)) m.status();
      }
      if (!several) return;
      const a = accountView ?? evaluateAccount();
      const line = `${new Date().toISOString().slice(11, 19)} ${mode} account | equity ${a.equity.toFixed(2)} USD | notional ${a.notional.toFixed(2)} USD | margin ${(100 * a.marginUse).toFixed(1)}%${live?.margin && Number.isFinite(live.margin.marginUsed) ? ' (venue)' : ''} | drawdown ${(100 * a.drawdown).toFixed(2)}% | markets ${markets.size}/${coins.length} | ${a.state.toUpperCase()}${a.reason ? ` (${a.reason})` : ''}`;
      if (o.onAccountLine) o.onAccountLine(line);
      else process.stdout.write(`${line}\n`);
    };
    timers.push(setInterval(statusLine, first.statusIntervalSec * 1000));
    timers.push(
      setInterval(
        () => {
          const now = Date.now();
          for (const m of markets.values()) m.refreshOldOrders(now);
        },
        Math.min(1000, ...o.markets.map((m) => m.orderTimeoutMs)),
      ),
    );
    if (o.durationMs !== undefined) timers.push(setTimeout(() => stop('duration'), o.durationMs));
    if (several) logger.info({ mode, coins, httpUrl }, 'trader started');
    o.onStarted?.(running);

    await stopped;
    if (fatal) throw fatal;
    for (const t of timers) clearInterval(t);
    logger.info({ reason: stopReason }, 'stopping: cancel all');
    if (Date.now() - lastStatusAt > 1000) statusLine();
  } catch (err) {
    if (!stopReason) stopReason = `error: ${(err as Error).message}`;
    throw err;
  } finally {
    for (const t of timers) clearInterval(t);
    o.signal?.removeEventListener('abort', onAbort);
    // Every market cancels its orders and waits for the venue's confirmation.
    await Promise.all([...markets.values()].map((m) => m.stop()));
    let after: Map<string, { resting: number; position: number | undefined }> | undefined;
    if (live) {
      after = await live.stop();
      if ([...after.values()].every((x) => x.resting === 0))
        journal.closeOpenOrders(Date.now(), 'canceled at stop');
    } else {
      journal.closeOpenOrders(Date.now(), 'canceled at stop');
    }
    await feed?.close();
    scheduler?.close();
    const stoppedAt = Date.now();
    // In the configured order (markets start in the order their first books arrive).
    const started = coins.flatMap((c) => markets.get(c) ?? []);
    const per: SessionSummary[] = started.map((m) => {
      const eng = m.engine;
      const mid = eng.lastMid;
      const st = eng.orders.stats;
      const a = after?.get(m.coin);
      return {
        mode,
        coin: m.coin,
        startedAt,
        stoppedAt,
        stopReason,
        position: eng.portfolio.position,
        exchangePosition: a?.position,
        netPnl: mid > 0 ? eng.portfolio.netPnl(mid) : 0,
        pnlAttribution: mid > 0 ? m.attribution.figures(mid) : undefined,
        pnlAttributionReference: m.attribution.referenceName,
        fills: eng.portfolio.fills.length,
        ordersPlaced: st.placed,
        ordersModified: st.modified,
        ordersCanceled: st.canceled,
        rejects: st.rejected,
        restingAfterStop: a ? a.resting : eng.orders.openOrders().length,
        tradingState: eng.risk.state,
        violations: m.violations,
        tickToOrder: m.latency.summary(),
        journal: first.journal,
        funding: eng.portfolio.funding,
        book: bookSummary(journal, m.coin),
        journalWrites: journal.writeTimes(),
      };
    });
    if (markets.size > 0) {
      const latencies = new Set([...markets.values()].map((m) => m.latency));
      const all = [...latencies].flatMap((l) => l.samplesUs());
      // Orders of a market that never started cannot rest (start-up cleaned up; it never quoted).
      const resting = after
        ? [...after.values()].reduce((s, x) => (s < 0 || x.resting < 0 ? -1 : s + x.resting), 0)
        : per.reduce((s, x) => s + x.restingAfterStop, 0);
      summary = {
        mode,
        coins,
        startedAt,
        stoppedAt,
        stopReason,
        markets: per,
        account: running.account(),
        restingAfterStop: resting,
        violations: per.flatMap((s) => s.violations),
        tickToOrder: summarizeUs(all),
        journal: first.journal,
      };
    }
    journal.record({
      type: 'session',
      rxTime: stoppedAt,
      data: {
        event: 'stop',
        reason: stopReason,
        summary: summary ? (several ? summary : summary.markets[0]) : null,
      },
    });
    journal.close();
    await lock?.release();
  }
  if (!summary) throw new SessionError(`trader ended before it started (${stopReason})`);
  return summary;
}
