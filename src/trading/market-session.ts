/**
 * One market of the trader (src/trading/trader.ts): its engine and strategy, its venue (paper: its own
 * simulated exchange on the trader's wall-clock scheduler; live: its coin's view of the trader's one
 * Hyperliquid venue), its funding, its P&L attribution, invariants, status line and parameter journalling.
 * Everything the markets share — the feed connection, the journal, the live venue and its request budget, the
 * guard and heartbeat, the account risk — belongs to the trader; a market only sees its own coin's events,
 * reports, positions and funding, so a fault in one coin (a stale book, a gap) stops quoting that coin only.
 */
import { PortfolioAttribution } from '../engine/attribution.ts';
import { Engine } from '../engine/engine.ts';
import type { Journal, JournalEntry } from '../engine/journal.ts';
import type { InstrumentSpec, Strategy, Venue, VenueReport } from '../engine/types.ts';
import { MatchingEngine, SYNTHETIC_TID_BASE } from '../exchange/matching.ts';
import { type AssetRules, MIN_NOTIONAL_USD, priceTick } from '../exchange/order-rules.ts';
import type { BookEvent, Gap, MarketEvent } from '../marketdata/events.ts';
import { ConstantLatency } from '../sim/latency.ts';
import { SimulatedVenue } from '../sim/simulated-venue.ts';
import type { WallClockScheduler } from '../sim/wall-scheduler.ts';
import { referenceModelFor } from '../strategies/calibrated.ts';
import type { StrategyConfig } from '../strategies/config.ts';
import { createStrategy } from '../strategies/index.ts';
import type { FundingEvent } from '../venue/hyperliquid/execution/fill-history.ts';
import type { ExchangeSnapshot } from '../venue/hyperliquid/execution/reconcile.ts';
import type { TradingConfig } from './config.ts';
import { bookVenueFunding, type FundingRateSource, PaperFunding } from './funding.ts';
import type { SqliteJournal } from './journal.ts';
import type { TradingLogger } from './logger.ts';
import { checkPosition } from './reconciliation.ts';
import { journallingVenue, paramsJournaller } from './session-journal.ts';
import { formatStatusLine, type StatusSnapshot } from './status.ts';
import type { TickToOrderLatency } from './tick-latency.ts';

type Obj = Record<string, unknown>;

export type StrategyFactory = (
  cfg: StrategyConfig,
  instrument: InstrumentSpec,
) => Strategy | Promise<Strategy>;

/** The strategies of src/strategies (cj with its rolling calibrator, fixed, as, glft). */
export const defaultStrategyFactory: StrategyFactory = (cfg, instrument) =>
  createStrategy(cfg.strategy, cfg, instrument);

/**
 * The shared journal as one market sees it: entries without a coin get this market's (the journal keys
 * orders, fills and funding by coin). One coin per process needs none of this: the journal's default coin is it.
 */
export function marketJournal(shared: SqliteJournal, coin: string): SqliteJournal {
  const withCoin = (data: unknown): unknown => {
    if (Array.isArray(data)) return data.map(withCoin);
    if (data !== null && typeof data === 'object' && !('coin' in (data as Obj)))
      return { coin, ...(data as Obj) };
    return data;
  };
  const record = (e: JournalEntry) => shared.record({ ...e, data: withCoin(e.data) } as JournalEntry);
  const bound = new Map<PropertyKey, unknown>();
  return new Proxy(shared, {
    get(target, prop, receiver) {
      if (prop === 'record') return record;
      let v = bound.get(prop);
      if (v !== undefined) return v;
      v = Reflect.get(target, prop, receiver);
      if (typeof v !== 'function') return v;
      v = (v as (...a: unknown[]) => unknown).bind(target);
      bound.set(prop, v);
      return v;
    },
  });
}

/**
 * One coin's view of a venue several markets share (live: one Hyperliquid venue, one report stream): orders
 * go through, `cancelAll` is this coin's, and the trader hands each report to its coin's view (`deliver`).
 */
export class CoinVenue implements Venue {
  readonly name: string;
  private readonly inner: Venue;
  private readonly coin: string;
  private listener: (r: VenueReport) => void = () => {};

  constructor(inner: Venue, coin: string) {
    this.inner = inner;
    this.coin = coin;
    this.name = inner.name;
  }
  place(x: Parameters<Venue['place']>[0]): void {
    this.inner.place(x);
  }
  modify(x: Parameters<Venue['modify']>[0]): void {
    this.inner.modify(x);
  }
  cancel(x: Parameters<Venue['cancel']>[0]): void {
    this.inner.cancel(x);
  }
  cancelAll(coin?: string): Promise<void> {
    return this.inner.cancelAll(coin ?? this.coin);
  }
  setReportListener(listener: (r: VenueReport) => void): void {
    this.listener = listener;
  }
  deliver(r: VenueReport): void {
    this.listener(r);
  }
}

export interface MarketSessionOptions {
  mode: 'paper' | 'live';
  config: TradingConfig;
  rules: AssetRules;
  /** The first book (the instrument's tick comes from its mid). */
  book: BookEvent;
  /** The journal as this market sees it (src/trading/trader.ts: marketJournal when several markets share it). */
  journal: SqliteJournal;
  logger: TradingLogger;
  strategy: StrategyFactory;
  /** Account equity the drawdown fractions are of (USD): paper equity, or the live account value. */
  equity: number;
  /** Fee rates charged (live: the account's own, from userFees; paper: the configured tier). */
  fees: { maker: number; taker: number };
  /** Cloid prefix of this market's orders ('0x' + 16 to 24 hex digits). */
  cloidSeed: string;
  startedAt: number;
  /** Tick-to-order figure this market feeds (live: the trader's one, measured at its one transport). */
  latency: TickToOrderLatency;
  /** Paper: this market's index (its range of synthetic trade ids, unique across coins as the exchange's). */
  index: number;
  /** Paper: the trader's wall-clock scheduler and the simulated exchange's one-way latency. */
  scheduler?: WallClockScheduler;
  paperLatencyMs?: number;
  /** Paper: where funding rates come from when `paper.fundingRate` is not set. */
  fundingRates?: FundingRateSource;
  /** Live: this coin's view of the trader's venue. */
  liveVenue?: CoinVenue;
  /** What errors about this market's config start with (several markets: the coin). */
  errorLabel?: string;
  onStatus?: (line: string, snap: StatusSnapshot) => void;
  /** Live: the status line's account-wide fields (protections in force, request budget). */
  statusExtras?: () => Pick<StatusSnapshot, 'protections' | 'requests' | 'http429' | 'exchangeUnanswered'>;
}

export class MarketSession {
  readonly coin: string;
  readonly mode: 'paper' | 'live';
  readonly config: TradingConfig;
  readonly engine: Engine;
  readonly instrument: InstrumentSpec;
  /** The venue the engine sees (journalling wrapper around the simulated exchange or the coin's live view). */
  readonly venue: Venue;
  readonly journal: SqliteJournal;
  readonly latency: TickToOrderLatency;
  readonly violations: string[] = [];
  readonly attribution: PortfolioAttribution;
  /** Paper: this market's simulated exchange. */
  readonly sim: SimulatedVenue | undefined;
  /** Live: this coin's view of the trader's venue. */
  readonly coinVenue: CoinVenue | undefined;
  private readonly funding: PaperFunding | undefined;
  private readonly journalParams: () => void;
  private readonly o: MarketSessionOptions;
  /** Live: a venue position seen once that differs from the engine's (adopted when a second sweep agrees). */
  private lastDiff: number | undefined;

  private constructor(o: MarketSessionOptions, strategy: Strategy, instrument: InstrumentSpec) {
    this.o = o;
    this.mode = o.mode;
    this.coin = o.config.coin;
    this.config = o.config;
    this.instrument = instrument;
    this.journal = o.journal;
    this.latency = o.latency;
    let inner: Venue;
    if (o.mode === 'live') {
      if (!o.liveVenue) throw new Error(`${this.coin}: a live market needs the trader's venue`);
      this.coinVenue = o.liveVenue;
      inner = o.liveVenue;
    } else {
      if (!o.scheduler) throw new Error(`${this.coin}: a paper market needs the trader's scheduler`);
      const lat = o.paperLatencyMs ?? 100;
      this.sim = new SimulatedVenue({
        scheduler: o.scheduler,
        matching: new MatchingEngine({
          coin: this.coin,
          asset: o.rules.asset,
          szDecimals: o.rules.szDecimals,
          tick: instrument.tick,
          minNotional: MIN_NOTIONAL_USD,
          fees: o.fees,
          syntheticTidBase: SYNTHETIC_TID_BASE + o.index * 1e12,
        }),
        latency: new ConstantLatency(lat, lat, lat),
        // Our fills come with the market data that caused them, as the exchange pushes both: not a response
        // latency after it (then nearly every paper fill was followed by a modify of the filled order, refused).
        fillsWithFeed: true,
      });
      inner = this.sim;
    }
    // The venue, wrapped to journal what the engine does not (cancel confirmations, filled orders); in paper
    // the hand-off to the simulated exchange is the "send" of tick-to-order (live: the venue's transport).
    this.venue = journallingVenue(inner, this.journal, {
      onSend: o.mode === 'paper' ? () => this.latency.onSend(performance.now()) : undefined,
      afterReport: () => this.checkInvariants(),
    });
    const c = o.config;
    this.engine = new Engine({
      clock: { now: () => Date.now() },
      venue: this.venue,
      strategy,
      instrument,
      risk: {
        maxPositionLots: c.maxPosition,
        maxNotional: c.risk.maxNotional > 0 ? c.risk.maxNotional : Number.POSITIVE_INFINITY,
        maxDrawdownFrac: c.risk.maxDrawdown,
        staleMs: c.risk.staleMs,
        maxOrdersPerSec: c.risk.maxOrdersPerSecond,
        orderBurst: Math.max(2, Math.ceil(2 * c.risk.maxOrdersPerSecond)),
      },
      orderManager: {
        priceToleranceTicks: c.strategy.priceToleranceTicks,
        minQuoteLifeMs: c.strategy.minQuoteLifeMs,
      },
      journal: this.journal as unknown as Journal,
      logger: o.logger,
      // The stale guard and risk run on engine activity: tick often enough to pull quotes within staleMs.
      timerIntervalMs: Math.min(1000, Math.max(50, Math.floor(c.risk.staleMs / 4))),
      startingEquity: o.equity,
      // This trader's tag + the session's start (+ the market): recognisable on a shared account.
      cloidSeed: o.cloidSeed,
    });
    this.attribution = engineAttribution(this.engine, c.strategy);
    if (o.mode === 'paper') {
      this.funding = new PaperFunding({
        coin: this.coin,
        journal: this.journal,
        engine: this.engine,
        logger: o.logger,
        rate: c.paper.fundingRate,
        source: c.paper.fundingRate === undefined ? o.fundingRates : undefined,
      });
    }
    this.journalParams = paramsJournaller(strategy, this.journal, Date.now);
  }

  /** The instrument a market trades, from its first book: tick from the mid, minimum notional checked. */
  static instrumentOf(
    config: TradingConfig,
    rules: AssetRules,
    mid0: number,
    fees: { maker: number; taker: number },
    errorLabel = `${config.coin} `,
  ): InstrumentSpec {
    if (config.orderSize * mid0 < MIN_NOTIONAL_USD) {
      throw new Error(
        `${errorLabel}orderSize: ${config.orderSize} ${config.coin} is $${(config.orderSize * mid0).toFixed(2)} at ${mid0}, under the $10 minimum notional`,
      );
    }
    return {
      coin: config.coin,
      tick: priceTick(mid0, rules.szDecimals),
      szDecimals: rules.szDecimals,
      lotSize: config.orderSize,
      minNotional: MIN_NOTIONAL_USD,
      makerFee: fees.maker,
      takerFee: fees.taker,
    };
  }

  /**
   * Builds the market from its first book. Restart recovery: the position (with its average entry) that
   * follows from this coin's journalled fills — live, already reconciled with the exchange by the trader.
   */
  static async create(o: MarketSessionOptions): Promise<MarketSession> {
    const { config, rules, book } = o;
    const mid0 = 0.5 * (book.bids[0].px + book.asks[0].px);
    const instrument = MarketSession.instrumentOf(config, rules, mid0, o.fees, o.errorLabel);
    const strategy = await o.strategy(config.strategy, instrument);
    const m = new MarketSession(o, strategy, instrument);
    const jbook = o.journal.positionBook(config.coin);
    if (jbook.position !== 0) adoptPosition(m.engine, jbook.position, jbook.avgEntry, mid0);
    return m;
  }

  /** Starts quoting; `pending` are the coin's events since its first book (the first one included). */
  start(pending: MarketEvent[]): void {
    this.engine.start();
    for (const e of pending) this.onMarket(e, false);
    this.journal.record({
      type: 'params',
      rxTime: Date.now(),
      data: { event: 'instrument', ...this.instrument },
    });
  }

  onMarket(e: MarketEvent, timed = true): void {
    if (timed && (e.kind === 'book' || e.kind === 'bbo')) this.latency.markTick();
    // The paper exchange runs on our wall clock (its scheduler). A real feed's exchange times are behind it;
    // an accelerated replay's can run ahead, which would hold fills and acks back until the wall clock
    // catches up: such an event reaches the paper exchange at its receive time instead.
    const sim = this.sim;
    if (sim) sim.onMarket(e.exTime > e.rxTime ? { ...e, exTime: e.rxTime } : e);
    const eng = this.engine;
    eng.onMarket(e);
    this.funding?.onMarket(e.exTime);
    this.attribution.onEvent(e, eng.lastMid);
  }

  onGap(g: Gap): void {
    this.o.logger.warn({ gap: g }, `${this.coin}: market data gap: quotes pulled`);
    this.engine.onGap(g);
  }

  /** Live: a report of this coin from the trader's venue. */
  onReport(r: VenueReport): void {
    this.coinVenue?.deliver(r);
  }

  /**
   * Live: the exchange's position after a sweep (which has recovered the fills userFillsByTime knows of). A fill
   * may still be on its way on the stream: a difference is adopted, and journalled as an adjustment, only when
   * two sweeps in a row see it.
   */
  onVenuePosition(snap: ExchangeSnapshot): void {
    const eng = this.engine;
    const diff = snap.position - eng.portfolio.position;
    if (Math.abs(diff) < 1e-9) {
      this.lastDiff = undefined;
      return;
    }
    if (this.lastDiff === undefined || Math.abs(this.lastDiff - snap.position) > 1e-9) {
      this.lastDiff = snap.position;
      return;
    }
    this.o.logger.warn(
      { coin: this.coin, engine: eng.portfolio.position, exchange: snap.position },
      'position differs from the exchange after fill recovery: adopting the exchange',
    );
    checkPosition({
      journal: this.journal,
      coin: this.coin,
      snap,
      logger: this.o.logger,
      mark: eng.lastMid,
      at: 'sweep',
    });
    adoptPosition(eng, snap.position, snap.entryPx, eng.lastMid);
    this.lastDiff = undefined;
  }

  /** Live: funding payments from the venue (stream and periodic REST check), each journalled once, into P&L. */
  onVenueFunding(events: FundingEvent[]): void {
    bookVenueFunding(this.journal, this.engine, this.coin, events);
  }

  /** Every 100 ms: the engine's timer, invariants, a new parameter set. */
  tick(now: number): void {
    if (now >= this.engine.nextTimerAt()) this.engine.onTimer(now);
    this.checkInvariants();
    this.journalParams();
  }

  /** The seed's unfilled-order timeout: quotes resting longer than orderTimeoutMs are refreshed. */
  refreshOldOrders(now: number): void {
    const old = this.engine.orders
      .openOrders()
      .filter((x) => x.state === 'open' && now - x.openedAt > this.config.orderTimeoutMs)
      .map((x) => ({ coin: this.coin, cloid: x.cloid }));
    if (old.length > 0) this.venue.cancel(old);
  }

  /** |position| + in-flight ≤ limit, after every batch of events and every report. */
  checkInvariants(): void {
    const c = this.config;
    const eng = this.engine;
    const v = exposureViolation(
      eng.portfolio.position,
      eng.orders.exposure('bid'),
      eng.orders.exposure('ask'),
      c.maxPosition * c.orderSize,
      1e-9 + c.orderSize * 1e-6,
    );
    if (v !== undefined && this.violations.length < 100) this.violations.push(`${this.coin}: ${v}`);
  }

  snapshot(): StatusSnapshot {
    const snap = statusSnapshot(this.engine, this.o.startedAt, this.mode, this.attribution);
    if (this.o.statusExtras) Object.assign(snap, this.o.statusExtras());
    return snap;
  }

  /** The status line (stdout or onStatus) and its journal row. */
  status(): void {
    const snap = this.snapshot();
    const line = formatStatusLine(snap);
    if (this.o.onStatus) this.o.onStatus(line, snap);
    else process.stdout.write(`${line}\n`);
    this.journal.record({
      type: 'state',
      rxTime: Date.now(),
      data: {
        coin: this.coin,
        position: snap.position,
        mid: snap.mid,
        netPnl: snap.netPnl,
        state: snap.tradingState,
        pnlAttribution: snap.pnlAttribution,
        pnlAttributionReference: snap.pnlAttributionReference,
        spreadBoundBinding: snap.spreadBoundBinding,
      },
    });
  }

  /** Cancel this market's orders and wait for the venue's confirmation (bounded). */
  async stop(): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        this.engine.stop(),
        new Promise<void>((_, reject) => {
          timer = setTimeout(() => reject(new Error('timed out after 10000 ms')), 10_000);
        }),
      ]);
    } catch (err) {
      this.o.logger.error({ coin: this.coin, err: String(err) }, 'cancel-all on stop failed');
    } finally {
      clearTimeout(timer);
    }
  }
}

/**
 * The P&L attribution of a paper/live engine, measured against the strategy's own `reference` (mid,
 * micro-price, weighted mid: an estimator of the same kind and settings, fed the same events), as the
 * backtest measures it.
 */
export function engineAttribution(eng: Engine, strategy: StrategyConfig): PortfolioAttribution {
  return new PortfolioAttribution(eng.portfolio, { reference: referenceModelFor(strategy, eng.instrument) });
}

/** Adopt the exchange's position in the engine's portfolio, keeping equity continuous at the mark. */
export function adoptPosition(engine: Engine, position: number, entryPx: number, mark: number): void {
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

export function statusSnapshot(
  eng: Engine,
  startedAt: number,
  mode: string,
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
    haltReason: eng.risk.state === 'HALTED' && eng.risk.reason ? eng.risk.reason : undefined,
    szDecimals: eng.instrument.szDecimals,
    diagnostics: d,
    uptimeSec: (Date.now() - startedAt) / 1000,
    pnlAttribution: attribution && mid > 0 ? attribution.figures(mid) : undefined,
    pnlAttributionReference: attribution?.referenceName,
    spreadBoundBinding: eng.strategy.spreadBoundBinding?.(Date.now()) ?? undefined,
  };
}

/**
 * The position limit as an invariant of what the trader sends: orders in flight on a side must not take
 * |position| beyond `maxCoins`. A position already beyond it (found at start on the venue, or adopted from it)
 * breaks nothing as long as no order adds to it (the engine is then REDUCING). Undefined when it holds.
 */
export function exposureViolation(
  pos: number,
  bidX: number,
  askX: number,
  maxCoins: number,
  tol: number,
): string | undefined {
  const adds = (x: number, p: number) => x > tol && p + x > maxCoins + tol;
  if (!adds(bidX, pos) && !adds(askX, -pos)) return undefined;
  return `position ${pos} + in-flight (bid ${bidX}, ask ${askX}) exceeds ${maxCoins}`;
}
