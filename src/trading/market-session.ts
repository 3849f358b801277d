/**
 * One market of a multi-market trader: its engine, strategy, simulated venue (paper), invariants, status line
 * and parameter journalling. Everything it shares — the feed connection, the journal, the account risk, the
 * clock's scheduler — belongs to the trader (src/trading/trader.ts); entries it journals carry its coin.
 */
import type { PortfolioAttribution } from '../engine/attribution.ts';
import { Engine } from '../engine/engine.ts';
import type { Journal, JournalEntry } from '../engine/journal.ts';
import type { InstrumentSpec, Strategy, Venue } from '../engine/types.ts';
import { resolveFeeConfig } from '../exchange/fees.ts';
import { MatchingEngine, SYNTHETIC_TID_BASE } from '../exchange/matching.ts';
import { type AssetRules, MIN_NOTIONAL_USD, priceTick } from '../exchange/order-rules.ts';
import type { BookEvent, Gap, MarketEvent } from '../marketdata/events.ts';
import { ConstantLatency } from '../sim/latency.ts';
import { SimulatedVenue } from '../sim/simulated-venue.ts';
import type { WallClockScheduler } from '../sim/wall-scheduler.ts';
import type { TradingConfig } from './config.ts';
import { PaperFunding, venueFundingRates } from './funding.ts';
import type { SqliteJournal } from './journal.ts';
import type { TradingLogger } from './logger.ts';
import {
  adoptPosition,
  engineAttribution,
  type StrategyFactory,
  statusSnapshot,
  TickToOrderLatency,
} from './session.ts';
import { journallingVenue, paramsJournaller } from './session-journal.ts';
import { formatStatusLine, type StatusSnapshot } from './status.ts';

type Obj = Record<string, unknown>;

/** The shared journal as one market's engine sees it: entries without a coin get this market's. */
export function marketJournal(shared: SqliteJournal, coin: string): SqliteJournal {
  const withCoin = (data: unknown): unknown => {
    if (Array.isArray(data)) return data.map(withCoin);
    if (data !== null && typeof data === 'object' && !('coin' in (data as Obj)))
      return { coin, ...(data as Obj) };
    return data;
  };
  return new Proxy(shared, {
    get(target, prop, receiver) {
      if (prop === 'record') {
        return (e: JournalEntry) => target.record({ ...e, data: withCoin(e.data) } as JournalEntry);
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
}

export interface MarketSessionOptions {
  config: TradingConfig;
  rules: AssetRules;
  /** The first book (the instrument's tick comes from its mid). */
  book: BookEvent;
  journal: SqliteJournal;
  scheduler: WallClockScheduler;
  logger: TradingLogger;
  strategy: StrategyFactory;
  /** Account equity the drawdown fractions are of (USD). */
  equity: number;
  /** This market's index in the process: its range of synthetic trade ids (unique across coins, as the exchange's). */
  index: number;
  cloidSeed: number;
  startedAt: number;
  paperLatencyMs: number;
  httpUrl: string;
  isTestnet: boolean;
  onStatus?: (line: string, snap: StatusSnapshot) => void;
}

export class MarketSession {
  readonly coin: string;
  readonly config: TradingConfig;
  readonly engine: Engine;
  readonly instrument: InstrumentSpec;
  readonly venue: Venue;
  readonly journal: SqliteJournal;
  readonly latency = new TickToOrderLatency();
  readonly violations: string[] = [];
  readonly attribution: PortfolioAttribution;
  private readonly sim: SimulatedVenue;
  private readonly funding: PaperFunding;
  private readonly journalParams: () => void;
  private readonly o: MarketSessionOptions;

  private constructor(o: MarketSessionOptions, strategy: Strategy, instrument: InstrumentSpec) {
    this.o = o;
    this.coin = o.config.coin;
    this.config = o.config;
    this.instrument = instrument;
    this.journal = marketJournal(o.journal, this.coin);
    const fees = resolveFeeConfig(o.config.fees);
    this.sim = new SimulatedVenue({
      scheduler: o.scheduler,
      matching: new MatchingEngine({
        coin: this.coin,
        asset: o.rules.asset,
        szDecimals: o.rules.szDecimals,
        tick: instrument.tick,
        minNotional: MIN_NOTIONAL_USD,
        fees,
        syntheticTidBase: SYNTHETIC_TID_BASE + o.index * 1e12,
      }),
      latency: new ConstantLatency(o.paperLatencyMs, o.paperLatencyMs, o.paperLatencyMs),
    });
    this.venue = journallingVenue(this.sim, this.journal, {
      onSend: () => this.latency.onSend(performance.now()),
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
      timerIntervalMs: Math.min(1000, Math.max(50, Math.floor(c.risk.staleMs / 4))),
      startingEquity: o.equity,
      cloidSeed: o.cloidSeed,
    });
    this.attribution = engineAttribution(this.engine, c.strategy);
    this.funding = new PaperFunding({
      coin: this.coin,
      journal: this.journal,
      engine: this.engine,
      logger: o.logger,
      rate: c.paper.fundingRate,
      source: c.paper.fundingRate === undefined ? venueFundingRates(o.httpUrl, o.isTestnet) : undefined,
    });
    this.journalParams = paramsJournaller(strategy, this.journal, Date.now);
  }

  /** Builds the market from its first book (instrument tick, minimum notional, restart recovery). */
  static async create(o: MarketSessionOptions): Promise<MarketSession> {
    const { config, rules, book } = o;
    const mid0 = 0.5 * (book.bids[0].px + book.asks[0].px);
    if (config.orderSize * mid0 < MIN_NOTIONAL_USD) {
      throw new Error(
        `${config.coin} orderSize: ${config.orderSize} ${config.coin} is $${(config.orderSize * mid0).toFixed(2)} at ${mid0}, under the $10 minimum notional`,
      );
    }
    const fees = resolveFeeConfig(config.fees);
    const instrument: InstrumentSpec = {
      coin: config.coin,
      tick: priceTick(mid0, rules.szDecimals),
      szDecimals: rules.szDecimals,
      lotSize: config.orderSize,
      minNotional: MIN_NOTIONAL_USD,
      makerFee: fees.maker,
      takerFee: fees.taker,
    };
    const strategy = await o.strategy(config.strategy, instrument);
    const m = new MarketSession(o, strategy, instrument);
    // Paper restart: the position that follows from this coin's journalled fills.
    const jbook = o.journal.positionBook(config.coin);
    if (jbook.position !== 0) adoptPosition(m.engine, jbook.position, jbook.avgEntry, mid0);
    return m;
  }

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
    // The paper exchange runs on our wall clock; a replay's exchange clock may run ahead of it.
    this.sim.onMarket(e.exTime > e.rxTime ? { ...e, exTime: e.rxTime } : e);
    this.engine.onMarket(e);
    this.funding.onMarket(e.exTime);
    this.attribution.onEvent(e, this.engine.lastMid);
  }

  onGap(g: Gap): void {
    this.o.logger.warn({ gap: g }, `${this.coin}: market data gap: quotes pulled`);
    this.engine.onGap(g);
  }

  /** Every 100 ms: the engine's timer, invariants, a new parameter set. */
  tick(now: number): void {
    if (now >= this.engine.nextTimerAt()) this.engine.onTimer(now);
    this.checkInvariants();
    this.journalParams();
  }

  checkInvariants(): void {
    const c = this.config;
    const eng = this.engine;
    const maxCoins = c.maxPosition * c.orderSize;
    const pos = eng.portfolio.position;
    const bidX = eng.orders.exposure('bid');
    const askX = eng.orders.exposure('ask');
    const tol = 1e-9 + c.orderSize * 1e-6;
    if (pos + bidX > maxCoins + tol || -pos + askX > maxCoins + tol) {
      if (this.violations.length < 100) {
        this.violations.push(
          `${this.coin}: position ${pos} + in-flight (bid ${bidX}, ask ${askX}) exceeds ${maxCoins}`,
        );
      }
    }
  }

  snapshot(mode: string): StatusSnapshot {
    return statusSnapshot(this.engine, this.o.startedAt, mode, undefined, this.attribution);
  }

  status(mode: string): void {
    const snap = this.snapshot(mode);
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
      },
    });
  }

  /** Cancel this market's orders and wait for the venue (bounded). */
  async stop(): Promise<void> {
    await Promise.race([this.engine.stop(), new Promise((r) => setTimeout(r, 10_000).unref())]);
  }
}
