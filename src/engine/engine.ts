/**
 * The one engine for backtest, paper and live trading. It is passive: a driver feeds it market events
 * (`onMarket`, receive clock) and timer ticks (`onTimer` whenever the clock passes `nextTimerAt()`), and the
 * venue calls back with reports. Per event:
 *   strategy callback → desired quotes → risk filter (state, stale guard) → order manager → venue actions.
 * Per report: order manager state machine, portfolio (fills, de-duplicated), risk re-evaluation, strategy
 * callback, then the same path to the venue.
 */
import type { BboEvent, BookEvent, Gap, MarketEvent } from '../marketdata/events.ts';
import { CloidGenerator } from './cloid.ts';
import type { Journal } from './journal.ts';
import { deliverable } from './market-filter.ts';
import { OrderManager, type OrderManagerConfig } from './order-manager.ts';
import { Portfolio } from './portfolio.ts';
import { type RiskConfig, RiskManager } from './risk.ts';
import type {
  Clock,
  DesiredQuotes,
  Fill,
  InstrumentSpec,
  OrderUpdate,
  Strategy,
  StrategyContext,
  Venue,
  VenueReport,
} from './types.ts';

export interface EngineLogger {
  info(fields: Record<string, unknown>, msg: string): void;
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface EngineOptions {
  clock: Clock;
  venue: Venue;
  strategy: Strategy;
  instrument: InstrumentSpec;
  risk?: Partial<RiskConfig>;
  orderManager?: Partial<OrderManagerConfig>;
  /** Strategy timer period on the engine clock (ms), default 1000. */
  timerIntervalMs?: number;
  journal?: Journal;
  logger?: EngineLogger;
  /** Starting equity in USD (the drawdown kill switch's default base), default 10,000. */
  startingEquity?: number;
  /**
   * Seed of the cloid generator: fixed in backtests (byte-identical runs), unique per live session; or the
   * prefix itself ('0x' + 16 hex digits, see CloidGenerator).
   */
  cloidSeed?: number | string;
}

export const DEFAULT_STARTING_EQUITY = 10_000;

/**
 * What the engine is doing about quotes, for status lines: `quoting` when an order of ours rests, otherwise
 * why nothing does — `halted` (kill switch / operator), `stale` (no fresh book, or waiting for data after a
 * gap), `warming-up` (the strategy has not wanted a quote yet: no parameters, calibrating), `bound` (the
 * strategy or the risk limits decline both sides: inventory, notional or spread bounds), `paused` (a quote is
 * wanted and allowed but held back for now: awaiting the exchange, reject back-off, rate or request budget,
 * or the wish is on the wrong side of the touch).
 */
export type QuotingState = 'quoting' | 'warming-up' | 'stale' | 'bound' | 'paused' | 'halted';
const NO_QUOTES: DesiredQuotes = { bid: null, ask: null };

export class Engine {
  readonly portfolio: Portfolio;
  readonly risk: RiskManager;
  readonly orders: OrderManager;
  readonly instrument: InstrumentSpec;
  readonly strategy: Strategy;
  readonly context: StrategyContext;
  /** Market events ignored (other coin, or malformed). */
  ignoredEvents = 0;

  private readonly clock: Clock;
  private readonly venue: Venue;
  private readonly journal: Journal | undefined;
  private readonly logger: EngineLogger | undefined;
  private readonly timerIntervalMs: number;
  private book: BookEvent | undefined;
  private bbo: BboEvent | undefined;
  /**
   * Best bid / ask (NaN when unknown) and their mid, one object updated in place: the order manager and the risk
   * manager read it on every market event, and numbers passed to calls the compiler does not inline are boxed.
   */
  private readonly touch = { bestBid: Number.NaN, bestAsk: Number.NaN, mid: Number.NaN };
  private lastMarketRx = Number.NEGATIVE_INFINITY;
  /** Quotes pulled until market data with exchange time ≥ this arrives (after a gap). */
  private gapUntilEx = Number.NEGATIVE_INFINITY;
  private desired: DesiredQuotes = NO_QUOTES;
  /** The strategy has wanted at least one quote since start (else it is still warming up). */
  private everWanted = false;
  private nextTimer = Number.POSITIVE_INFINITY;
  private running = false;
  private acting = false;
  /** Something changed that the order manager has not seen yet (wish, state, gap end). */
  private dirty = true;
  private readonly queued: VenueReport[] = [];

  constructor(opts: EngineOptions) {
    const { clock, venue, strategy, instrument } = opts;
    if (!(instrument.tick > 0) || !(instrument.lotSize > 0)) {
      throw new Error('instrument: tick and lotSize must be positive');
    }
    const interval = opts.timerIntervalMs ?? 1000;
    if (!(interval > 0 && Number.isFinite(interval))) {
      throw new Error(`engine.timerIntervalMs: must be a positive number of ms, got ${interval}`);
    }
    this.clock = clock;
    this.venue = venue;
    this.strategy = strategy;
    this.instrument = instrument;
    this.journal = opts.journal;
    this.logger = opts.logger;
    this.timerIntervalMs = interval;
    this.portfolio = new Portfolio(opts.startingEquity ?? DEFAULT_STARTING_EQUITY);
    this.risk = new RiskManager(opts.risk, {
      lotSize: instrument.lotSize,
      journal: opts.journal,
      logger: opts.logger,
      onHalt: () => this.orders.cancelAll('halted'),
    });
    this.orders = new OrderManager(opts.orderManager, {
      venue,
      coin: instrument.coin,
      tick: instrument.tick,
      clock,
      cloids: new CloidGenerator(opts.cloidSeed ?? 0),
      risk: this.risk,
      position: () => this.portfolio.position,
      journal: opts.journal,
      logger: opts.logger,
    });
    this.context = this.makeContext();
    venue.setReportListener((r) => this.onReport(r));
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.strategy.onStart?.(this.context);
    const now = this.clock.now();
    // Only arm from the clock when it shows a real time; otherwise the first market event arms the timer.
    if (now > 0) this.armTimer(now);
  }

  /** Pulls every quote and waits for the venue to confirm. */
  async stop(): Promise<void> {
    this.running = false;
    this.orders.cancelAll('stop');
    await this.venue.cancelAll(this.instrument.coin);
  }

  get isRunning(): boolean {
    return this.running;
  }

  nextTimerAt(): number {
    return this.nextTimer;
  }

  /** The quotes the strategy currently wants (before risk). */
  get desiredQuotes(): DesiredQuotes {
    return this.desired;
  }

  get lastMid(): number {
    return this.touch.mid;
  }

  /** Whether a quote rests, else why none does (status lines; see QuotingState). */
  quotingState(now = this.clock.now()): QuotingState {
    if (this.risk.state === 'HALTED') return 'halted';
    for (const o of this.orders.openOrders()) if (o.state !== 'pending-new') return 'quoting';
    if (this.risk.isStaleAt(now, this.lastMarketRx) || this.gapUntilEx !== Number.NEGATIVE_INFINITY)
      return 'stale';
    const want = this.desired;
    if (!want.bid && !want.ask) return this.everWanted ? 'bound' : 'warming-up';
    const allowed = this.risk.filterQuotes(want, this.portfolio.position);
    if ((!allowed.bid && !allowed.ask) || this.orders.heldByLimitNow) return 'bound';
    return 'paused';
  }

  onMarket(ev: MarketEvent): void {
    // The delivery rule (market-filter.ts) is shared with the backtest's calibration thread.
    if (!deliverable(ev, this.instrument.coin)) {
      this.ignoredEvents++;
      return;
    }
    let want: DesiredQuotes | undefined;
    const ctx = this.context;
    if (ev.kind === 'bbo') {
      this.bbo = ev;
      this.setTouch(ev);
      want = this.strategy.onBbo?.(ev, ctx);
    } else if (ev.kind === 'book') {
      this.book = ev;
      this.setTouch(ev);
      want = this.strategy.onBook?.(ev, ctx);
    } else {
      want = this.strategy.onTrade?.(ev, ctx);
    }
    if (this.nextTimer === Number.POSITIVE_INFINITY && this.running) this.armTimer(ev.rxTime);
    if (want !== undefined) {
      this.desired = want;
      if (want.bid || want.ask) this.everWanted = true;
      this.dirty = true;
    }
    // Fast path: nothing new for the order manager (same wish, no hold that can end now, nothing crossed).
    // While the order manager holds something back, an act would also re-check staleness: keep that timing.
    if (this.running) {
      const orders = this.orders;
      if (
        this.dirty ||
        this.risk.stale ||
        orders.needsAttention(this.touch) ||
        (orders.holding && this.risk.isStaleAt(this.clock.now(), this.lastMarketRx))
      ) {
        this.act();
      }
    }
  }

  /** Timer tick at `now` (the driver calls it when its clock passes `nextTimerAt()`). */
  onTimer(now: number): void {
    this.armTimer(now);
    const want = this.strategy.onTimer?.(now, this.context);
    if (want !== undefined) this.setDesired(want);
    if (this.running) this.act();
  }

  /** A gap in the data: quotes are pulled until data newer than the gap's end arrives. */
  onGap(gap: Gap): void {
    if (gap.coin !== this.instrument.coin) return;
    this.strategy.onGap?.(gap, this.context);
    if (gap.kind === 'all' || gap.kind === 'book' || gap.kind === 'bbo') {
      this.gapUntilEx = Math.max(this.gapUntilEx, gap.end);
      this.journal?.record({ type: 'risk', rxTime: this.clock.now(), data: { event: 'gap', ...gap } });
      if (this.running) this.act();
    }
  }

  onReport(r: VenueReport): void {
    if (this.acting) {
      // The venue answered synchronously from inside an action: handle it once the action is done.
      this.queued.push(r);
      return;
    }
    this.handleReport(r);
    if (this.running) this.act();
  }

  private handleReport(r: VenueReport): void {
    if (r.coin !== this.instrument.coin) return; // another engine's order on a shared venue
    const ctx = this.context;
    let want: DesiredQuotes | undefined;
    if (r.kind === 'fill') {
      if (!this.portfolio.applyFill(r)) return; // duplicate (same cloid, tid)
      this.orders.onFill(r);
      this.journalFill(r);
      this.evaluateRisk();
      want = this.strategy.onFill?.(r, ctx);
    } else {
      this.orders.onOrderUpdate(r as OrderUpdate);
      want = this.strategy.onOrderUpdate?.(r, ctx);
    }
    if (want !== undefined) this.setDesired(want);
  }

  private setDesired(want: DesiredQuotes): void {
    this.desired = want;
    if (want.bid || want.ask) this.everWanted = true;
  }

  private journalFill(f: Fill): void {
    this.journal?.record({
      type: 'fill',
      exTime: f.exTime,
      rxTime: this.clock.now(),
      data: {
        cloid: f.cloid,
        oid: f.oid,
        side: f.side,
        px: f.px,
        sz: f.sz,
        fee: f.fee,
        liquidity: f.liquidity,
        tid: f.tid,
        position: this.portfolio.position,
      },
    });
  }

  /**
   * The touch of a usable bbo or book. It takes the event, not its prices and times: numbers passed to a call
   * the compiler does not inline are boxed (a heap number each, on every market event).
   */
  private setTouch(ev: BboEvent | BookEvent): void {
    const bbo = ev.kind === 'bbo';
    const bid = bbo ? ev.bidPx : bookBid(ev);
    const ask = bbo ? ev.askPx : bookAsk(ev);
    const rxTime = ev.rxTime;
    const exTime = ev.exTime;
    this.touch.bestBid = bid > 0 ? bid : Number.NaN;
    this.touch.bestAsk = ask > 0 ? ask : Number.NaN;
    if (rxTime > this.lastMarketRx) this.lastMarketRx = rxTime;
    if (this.gapUntilEx !== Number.NEGATIVE_INFINITY && exTime >= this.gapUntilEx) {
      this.gapUntilEx = Number.NEGATIVE_INFINITY;
      this.dirty = true;
    }
    const m = 0.5 * (bid + ask);
    if (bid > 0 && ask > 0 && m !== this.touch.mid) {
      this.touch.mid = m;
      this.portfolio.markAt(this.touch);
      this.evaluateRisk();
    }
  }

  private evaluateRisk(): void {
    const before = this.risk.state;
    if (this.risk.evaluateFor(this.clock, this.portfolio, this.touch) !== before) this.dirty = true;
  }

  private act(): void {
    if (this.acting) return;
    this.acting = true;
    try {
      // Reports a venue delivers synchronously during an action are handled after it, then we act again
      // (bounded: a venue that keeps answering synchronously cannot spin us forever).
      for (let round = 0; round < 8; round++) {
        const now = this.clock.now();
        const stale = this.risk.checkStale(now, this.lastMarketRx);
        const inGap = this.gapUntilEx !== Number.NEGATIVE_INFINITY;
        const want = stale || inGap ? NO_QUOTES : this.desired;
        this.orders.reconcile(this.risk.filterQuotes(want, this.portfolio.position), this.touch);
        if (this.queued.length === 0) break;
        while (this.queued.length > 0) this.handleReport(this.queued.shift()!);
      }
      this.dirty = false;
    } finally {
      this.acting = false;
    }
  }

  private armTimer(now: number): void {
    const i = this.timerIntervalMs;
    this.nextTimer = Math.floor(now / i) * i + i;
  }

  private makeContext(): StrategyContext {
    const engine = this;
    const lot = this.instrument.lotSize;
    return {
      clock: this.clock,
      instrument: this.instrument,
      get book() {
        return engine.book;
      },
      get bbo() {
        return engine.bbo;
      },
      position: () => engine.portfolio.position,
      inventoryLots: () => Math.round(engine.portfolio.position / lot),
      openOrders: () => ({
        bid: engine.orders.exposure('bid') / lot,
        ask: engine.orders.exposure('ask') / lot,
      }),
      log: (msg, fields, level) =>
        level === 'warn' ? engine.logger?.warn(fields ?? {}, msg) : engine.logger?.info(fields ?? {}, msg),
      logging: engine.logger !== undefined,
      // Absent without a journal, so `ctx.record?.(…)` does not even build the record.
      record: engine.journal
        ? (type, data) => engine.journal?.record({ type, rxTime: engine.clock.now(), data })
        : undefined,
    };
  }
}

function bookBid(ev: BookEvent): number {
  return Array.isArray(ev.bids) && ev.bids.length > 0 ? ev.bids[0].px : Number.NaN;
}

function bookAsk(ev: BookEvent): number {
  return Array.isArray(ev.asks) && ev.asks.length > 0 ? ev.asks[0].px : Number.NaN;
}
