/**
 * Many coins, one account, one process (paper): the trader owns what the markets share — one market-data
 * connection for every coin, one journal, one wall-clock scheduler for the simulated exchange, the account-level
 * risk — and runs one small market session per coin (src/trading/market-session.ts). A fault in one coin's
 * feed (a gap, a stale book) stops quoting that coin only: each engine has its own stale guard and gaps are
 * routed by coin. One-coin trading, and live trading, run through src/trading/session.ts.
 */

import type { AssetRules } from '../exchange/order-rules.ts';
import type { BookEvent, Gap, MarketEvent } from '../marketdata/events.ts';
import { WallClockScheduler } from '../sim/wall-scheduler.ts';
import { createMarketFeed } from '../venue/hyperliquid/feed.ts';
import { AccountRisk, type AccountView } from './account-risk.ts';
import { resolveEndpoints, type TradingConfig } from './config.ts';
import { type JournalEntry, openJournal, type SqliteJournal } from './journal.ts';
import { tapJournal } from './journal-tap.ts';
import type { TradingLogger } from './logger.ts';
import { MarketSession } from './market-session.ts';
import type { AccountRiskConfig } from './markets.ts';
import {
  defaultStrategyFactory,
  type FeedHandle,
  fetchAssetRules,
  networkFailure,
  SessionError,
  type SessionSummary,
  type StrategyFactory,
  unreachableMessage,
} from './session.ts';
import type { StatusSnapshot } from './status.ts';

export interface MultiFeedOptions {
  wsUrl: string;
  coins: string[];
  staleAfterMs: number;
  onEvents(evs: MarketEvent[]): void;
  onGap(g: Gap): void;
  logger: TradingLogger;
}
export type MultiFeedFactory = (o: MultiFeedOptions) => FeedHandle | Promise<FeedHandle>;

/** One Hyperliquid WebSocket connection subscribed to every coin's l2Book, trades and bbo. */
export const hyperliquidMultiFeed: MultiFeedFactory = async (o) => {
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

export interface TraderOptions {
  markets: TradingConfig[];
  accountRisk: AccountRiskConfig;
  logger: TradingLogger;
  feed?: MultiFeedFactory;
  strategy?: StrategyFactory;
  signal?: AbortSignal;
  durationMs?: number;
  assets?: AssetRules[];
  paperLatencyMs?: number;
  /** How long to wait for the first market's first book (ms); the others start when theirs arrives. */
  firstBookTimeoutMs?: number;
  onStatus?: (line: string, snap: StatusSnapshot) => void;
  onAccountLine?: (line: string) => void;
  journalTap?: (entry: JournalEntry) => void;
  onStarted?: (t: RunningTrader) => void;
  onMarketStarted?: (m: MarketSession) => void;
}

export interface RunningTrader {
  markets: Map<string, MarketSession>;
  coins: string[];
  journal: SqliteJournal;
  startedAt: number;
  account(): AccountView;
  /** An operator resume after the account kill switch. */
  resetAccount(): void;
  /** Stop one market (its orders cancelled); the others go on. */
  stopMarket(coin: string, reason: string): Promise<void>;
  stoppedMarkets: Set<string>;
  stop(reason: string): void;
}

export interface TraderSummary {
  mode: 'paper';
  coins: string[];
  startedAt: number;
  stoppedAt: number;
  stopReason: string;
  markets: SessionSummary[];
  account: AccountView;
  restingAfterStop: number;
  violations: string[];
  tickToOrder: { samples: number; p50Us: number; p99Us: number };
  journal: string;
}

export async function runTrader(o: TraderOptions): Promise<TraderSummary> {
  const { logger } = o;
  const first = o.markets[0];
  if (!first) throw new SessionError('markets: at least one market');
  if (first.mode === 'live') {
    throw new SessionError(
      'several coins in one process trade paper only for now: run one live process per coin (--coin), or --dry-run',
    );
  }
  const coins = o.markets.map((m) => m.coin);
  if (coins.length > 64) throw new SessionError(`markets: at most 64 in one process (got ${coins.length})`);
  const { httpUrl, wsUrl, isTestnet } = resolveEndpoints(first);
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
    if (!r) throw new SessionError(`--coins ${c}: not listed by the exchange at ${httpUrl}`);
    rules.set(c, r);
  }
  const startedAt = Date.now();
  const journal = tapJournal(openJournal(first.journal), o.journalTap);
  const scheduler = new WallClockScheduler();
  const markets = new Map<string, MarketSession>();
  const stoppedMarkets = new Set<string>();
  const pending = new Map<string, MarketEvent[]>(coins.map((c) => [c, []]));
  const creating = new Set<string>();
  const account = new AccountRisk(o.accountRisk, first.paperEquity);
  const timers: NodeJS.Timeout[] = [];
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
  const configOf = new Map(o.markets.map((m) => [m.coin, m]));

  const startMarket = async (coin: string, book: BookEvent) => {
    try {
      const m = await MarketSession.create({
        config: configOf.get(coin)!,
        rules: rules.get(coin)!,
        book,
        journal,
        scheduler,
        logger,
        strategy: o.strategy ?? defaultStrategyFactory,
        equity: first.paperEquity,
        index: coins.indexOf(coin),
        // Distinct, per-session cloid prefixes per market.
        cloidSeed: ((startedAt % 1e11) * 1000 + (process.pid % 1000)) * 64 + coins.indexOf(coin),
        startedAt,
        paperLatencyMs: o.paperLatencyMs ?? 100,
        httpUrl,
        isTestnet,
        onStatus: o.onStatus,
      });
      if (stopReason) return;
      markets.set(coin, m);
      m.start(pending.get(coin) ?? []);
      pending.delete(coin);
      logger.info({ coin, tick: m.instrument.tick, mid: m.engine.lastMid }, 'market started');
      o.onMarketStarted?.(m);
      firstStarted();
    } catch (err) {
      fatal = new SessionError((err as Error).message);
      stop(`error: ${(err as Error).message}`);
    }
  };

  const onEvents = (evs: MarketEvent[]) => {
    const touched = new Set<MarketSession>();
    for (const e of evs) {
      if (stoppedMarkets.has(e.coin)) continue;
      const m = markets.get(e.coin);
      if (m) {
        m.onMarket(e);
        touched.add(m);
        continue;
      }
      const buf = pending.get(e.coin);
      if (!buf) continue; // a coin we do not trade
      if (!creating.has(e.coin) && e.kind === 'book' && e.bids.length > 0 && e.asks.length > 0) {
        creating.add(e.coin);
        void startMarket(e.coin, e);
      }
      if (creating.has(e.coin)) {
        buf.push(e);
        if (buf.length > 1000) buf.splice(0, buf.length - 1000);
      }
    }
    for (const m of touched) m.checkInvariants();
  };
  const onGap = (g: Gap) => {
    markets.get(g.coin)?.onGap(g);
  };

  let accountView: AccountView = account.evaluate([]);
  let killJournalled = false;
  const accountReduced = new Set<string>();
  const applyAccountRisk = () => {
    const now = Date.now();
    accountView = account.evaluate(
      [...markets.values()].map((m) => ({
        coin: m.coin,
        position: m.engine.portfolio.position,
        mid: m.engine.lastMid,
        netPnl: m.engine.lastMid > 0 ? m.engine.portfolio.netPnl(m.engine.lastMid) : 0,
        maxLeverage: rules.get(m.coin)?.maxLeverage ?? 1,
      })),
    );
    if (accountView.state === 'halted') {
      if (!killJournalled) {
        killJournalled = true;
        logger.error({ reason: accountView.reason }, 'ACCOUNT KILL SWITCH: every market halted');
        journal.record({
          type: 'risk',
          rxTime: now,
          data: { event: 'account-kill-switch', coin: null, reason: accountView.reason },
        });
      }
      for (const m of markets.values()) {
        if (m.engine.risk.state !== 'HALTED') m.engine.risk.halt(now, accountView.reason);
      }
      return;
    }
    killJournalled = false;
    for (const m of markets.values()) {
      if (accountView.state === 'reducing' && m.engine.risk.state === 'ACTIVE') {
        m.engine.risk.reduceOnly(now, accountView.reason);
        accountReduced.add(m.coin);
      } else if (accountView.state === 'active' && accountReduced.has(m.coin)) {
        accountReduced.delete(m.coin);
        if (m.engine.risk.state === 'REDUCING') m.engine.risk.resume(now, 'account back within its limits');
      }
    }
  };

  const running: RunningTrader = {
    markets,
    coins,
    journal,
    startedAt,
    account: () => accountView,
    resetAccount: () => {
      account.reset(accountView.equity);
      accountView = account.evaluate([]);
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
    stop,
  };

  let summary: TraderSummary | undefined;
  try {
    journal.record({
      type: 'session',
      rxTime: startedAt,
      data: { event: 'start', mode: 'paper', coins, network: first.network, httpUrl, pid: process.pid },
    });
    journal.closeOpenOrders(Date.now(), 'paper session restarted');
    feed = await Promise.resolve(
      (o.feed ?? hyperliquidMultiFeed)({
        wsUrl,
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
        `no order book for any of ${coins.join(', ')} from ${wsUrl} within ${timeout / 1000} s`,
      );
    }
    o.onStarted?.(running);
    timers.push(
      setInterval(() => {
        const now = Date.now();
        for (const m of markets.values()) if (!stoppedMarkets.has(m.coin)) m.tick(now);
        applyAccountRisk();
      }, 100),
    );
    const status = () => {
      for (const m of markets.values()) if (!stoppedMarkets.has(m.coin)) m.status('paper');
      const a = accountView;
      const line = `${new Date().toISOString().slice(11, 19)} paper account | equity ${a.equity.toFixed(2)} USD | notional ${a.notional.toFixed(2)} USD | margin ${(100 * a.marginUse).toFixed(1)}% | drawdown ${(100 * a.drawdown).toFixed(2)}% | markets ${markets.size}/${coins.length} | ${a.state.toUpperCase()}${a.reason ? ` (${a.reason})` : ''}`;
      if (o.onAccountLine) o.onAccountLine(line);
      else process.stdout.write(`${line}\n`);
    };
    timers.push(setInterval(status, first.statusIntervalSec * 1000));
    timers.push(
      setInterval(
        () => {
          // The seed's unfilled-order timeout, per market.
          const now = Date.now();
          for (const m of markets.values()) {
            const old = m.engine.orders
              .openOrders()
              .filter((x) => x.state === 'open' && now - x.openedAt > m.config.orderTimeoutMs)
              .map((x) => ({ coin: m.coin, cloid: x.cloid }));
            if (old.length > 0) m.venue.cancel(old);
          }
        },
        Math.min(1000, ...o.markets.map((m) => m.orderTimeoutMs)),
      ),
    );
    if (o.durationMs !== undefined) timers.push(setTimeout(() => stop('duration'), o.durationMs));
    logger.info({ mode: 'paper', coins, httpUrl }, 'trader started');
    await stopped;
    if (fatal) throw fatal;
    logger.info({ reason: stopReason }, 'stopping: cancel all');
    status();
  } catch (err) {
    if (!stopReason) stopReason = `error: ${(err as Error).message}`;
    throw err;
  } finally {
    for (const t of timers) clearInterval(t);
    o.signal?.removeEventListener('abort', onAbort);
    await Promise.all([...markets.values()].map((m) => m.stop()));
    journal.closeOpenOrders(Date.now(), 'canceled at stop');
    await feed?.close();
    scheduler.close();
    const stoppedAt = Date.now();
    const per: SessionSummary[] = [...markets.values()].map((m) => {
      const eng = m.engine;
      const mid = eng.lastMid;
      const st = eng.orders.stats;
      const lat = m.latency.summary();
      return {
        mode: 'paper',
        coin: m.coin,
        startedAt,
        stoppedAt,
        stopReason,
        position: eng.portfolio.position,
        netPnl: mid > 0 ? eng.portfolio.netPnl(mid) : 0,
        pnlAttribution: mid > 0 ? m.attribution.figures(mid) : undefined,
        pnlAttributionReference: m.attribution.referenceName,
        funding: eng.portfolio.funding,
        fills: eng.portfolio.fills.length,
        ordersPlaced: st.placed,
        ordersModified: st.modified,
        ordersCanceled: st.canceled,
        rejects: st.rejected,
        restingAfterStop: eng.orders.openOrders().length,
        tradingState: eng.risk.state,
        violations: m.violations,
        tickToOrder: lat,
        journal: first.journal,
      } as SessionSummary;
    });
    if (markets.size > 0) {
      const all = [...markets.values()].flatMap((m) => m.latency.samplesUs());
      all.sort((a, b) => a - b);
      const at = (p: number) =>
        all.length ? all[Math.min(all.length - 1, Math.floor(p * all.length))] : Number.NaN;
      summary = {
        mode: 'paper',
        coins,
        startedAt,
        stoppedAt,
        stopReason,
        markets: per,
        account: accountView,
        restingAfterStop: per.reduce((a, s) => a + s.restingAfterStop, 0),
        violations: per.flatMap((s) => s.violations),
        tickToOrder: { samples: all.length, p50Us: at(0.5), p99Us: at(0.99) },
        journal: first.journal,
      };
    }
    journal.record({
      type: 'session',
      rxTime: stoppedAt,
      data: { event: 'stop', reason: stopReason, summary: summary ?? null },
    });
    journal.close();
  }
  if (!summary) throw new SessionError(`trader ended before it started (${stopReason})`);
  return summary;
}
