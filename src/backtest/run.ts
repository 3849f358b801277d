/**
 * The tick-level backtest: one replay loop merging, on the local (receive) clock,
 *   1. market events reaching the matching engine (exchange-time order, mapped by the tape's clock offset),
 *   2. scheduled venue work (orders/cancels arriving after their latency, reports coming back),
 *   3. market events reaching the strategy (receive-time order),
 *   4. the engine's timer,
 * in that priority at equal times (the exchange state at t is settled before anything reacts to it).
 * Deterministic: no wall clock, no Math.random (profile latencies use a seeded RNG); the same inputs give
 * byte-identical results.
 */
import { MID_REFERENCE, type ReferenceModel, type TopOfBook } from '../engine/attribution.ts';
import { Engine } from '../engine/engine.ts';
import type { OrderManagerConfig } from '../engine/order-manager.ts';
import type { RiskConfig } from '../engine/risk.ts';
import type { InstrumentSpec, Strategy } from '../engine/types.ts';
import { checkFees, type FeeSchedule, type FeeTier } from '../exchange/fees.ts';
import { MatchingEngine } from '../exchange/matching.ts';
import type { QueueModelName } from '../exchange/queue.ts';
import type { EventColumns } from '../marketdata/columnar.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { ConstantLatency, type LatencyModel } from '../sim/latency.ts';
import { EventQueue } from '../sim/scheduler.ts';
import { SimulatedVenue, type VenueStats } from '../sim/simulated-venue.ts';
import { STRATEGY_NAMES, type StrategyName } from '../strategies/index.ts';
import {
  CalibrationThread,
  type CalibrationThreadMode,
  wantsCalibrationThread,
} from './calibration-thread.ts';
import {
  type BacktestMetrics,
  type FillPoint,
  MetricsRecorder,
  type ParamPoint,
  type SeriesPoint,
} from './metrics.ts';
import { buildStrategy } from './setup.ts';
import { buildTape, EventMaker, type ReplayBlock, type Tape, TapeBlocks, type TapeHeader } from './tape.ts';

export interface BacktestOptions {
  /** A prepared tape (replay many times), or events (+ gaps) to build one from. */
  tape?: Tape;
  events?: MarketEvent[];
  gaps?: Gap[];
  instrument: InstrumentSpec;
  /**
   * A strategy object, or `{ name, config }` (config raw, may be {}): then the config is validated (errors name
   * the field) and its order-manager settings, risk bound and inventory bound apply unless given here.
   */
  strategy: Strategy | { name: StrategyName; config?: Record<string, unknown> };
  queue?: QueueModelName;
  /** Power n of the probabilistic queue model (default 2). */
  queuePower?: number;
  /** A latency model, or a constant one-way latency in ms (default 50). */
  latency?: LatencyModel | number;
  /** Default: the instrument's makerFee / takerFee. */
  fees?: FeeSchedule;
  /** Exchange-time window [from, to), ms (only when building the tape here). */
  from?: number;
  to?: number;
  /** Local − exchange clock offset (see tape.ts); default 'min'. */
  clockOffsetMs?: number | 'min' | 'max';
  risk?: Partial<RiskConfig>;
  orderManager?: Partial<OrderManagerConfig>;
  timerIntervalMs?: number;
  startingEquity?: number;
  /** Inventory bound in lots for "time at the bounds" (default risk.maxPositionLots when finite). */
  boundLots?: number;
  /** Hyperliquid asset index for error strings (default 0). */
  asset?: number;
  /** Chart sample spacing (ms); default: the span / 2000, at least 1 s. */
  sampleMs?: number;
  /** Spacing of strategy-diagnostics samples (ms); default: the span / 300, at least 1 s. */
  paramsSampleMs?: number;
  /** Cloid generator seed (default 1). */
  seed?: number;
  /** Called with the fraction done, every ~65k events. */
  progress?: (fraction: number) => void;
  /** Reference price of the P&L attribution (default the mid); see src/engine/attribution.ts. */
  reference?: ReferenceModel;
  /** Markout horizon of the attribution's adverse-selection term, ms (default 1000). */
  markoutMs?: number;
  /**
   * Hourly funding (perps): recorded rates (exchange time of the funding hour, hourly fraction; positive =
   * longs pay shorts), charged on the position at every hour boundary of exchange time, at the recorded oracle
   * price when there is one, else the mid. The rate of a boundary is the recorded one at or within the hour
   * before it, else `fundingRate`.
   */
  funding?: FundingRate[];
  /** Constant hourly funding rate (fraction) where no recorded rate applies (default 0: no funding). */
  fundingRate?: number;
  /** The Hyperliquid fee tier the fees came from, reported in settings (the fees themselves are `fees`). */
  feeTier?: FeeTier & { description: string };
  /**
   * Checkpoints (for pruning in `cjmm hyperopt`): for each fraction f (ascending, in (0, 1]), once the first
   * ⌈f·n⌉ of the n events have reached the exchange side, `onCheckpoint` gets the running metrics; returning
   * false stops the replay there (the result then has `stoppedAt` = f and covers the part replayed).
   * Without it the replay loop pays one integer comparison per market event.
   */
  checkpoints?: {
    fractions: readonly number[];
    onCheckpoint: (c: BacktestCheckpoint) => boolean | undefined;
  };
  /** Rows per block of an in-memory tape (default 65,536; the result does not depend on it). */
  blockRows?: number;
  /**
   * The strategy's rolling calibrator on a thread of its own, ahead of the replay (calibration-thread.ts):
   * 'auto' (default) when the strategy calibrates, the tape is long, there is a second core and this is the
   * main thread; 'on'; 'off'. The result is the same either way.
   */
  calibrationThread?: CalibrationThreadMode;
}

/** The running state of a replay at a checkpoint. */
export interface BacktestCheckpoint {
  /** Index in `checkpoints.fractions`, and the fraction. */
  index: number;
  fraction: number;
  /** Exchange time reached, ms. */
  time: number;
  /** The metrics so far (as if the data ended here, positions marked at the current mid). */
  metrics: BacktestMetrics;
  /** The chart series so far (samples every `sampleMs`). */
  series: readonly SeriesPoint[];
}

/**
 * One recorded funding rate: settlement time (exchange ms), the hourly rate as a fraction of notional, and the
 * oracle price it is charged at when recorded (else the mid at the boundary).
 */
export interface FundingRate {
  time: number;
  rate: number;
  price?: number;
}

const HOUR_MS = 3_600_000;

/**
 * The funding rate of the hour boundary `h` (ms): the latest recorded rate at or before h and less than an
 * hour old, else the constant (undefined: none). `series` sorted by time.
 */
export function fundingRateAt(
  h: number,
  series: FundingRate[],
  constant?: number,
): { rate: number; price?: number } | undefined {
  let lo = 0;
  let hi = series.length;
  while (lo < hi) {
    const m = (lo + hi) >>> 1;
    if (series[m].time <= h) lo = m + 1;
    else hi = m;
  }
  const p = lo > 0 ? series[lo - 1] : undefined;
  if (p && h - p.time < HOUR_MS && Number.isFinite(p.rate))
    return { rate: p.rate, price: p.price !== undefined && p.price > 0 ? p.price : undefined };
  return constant === undefined ? undefined : { rate: constant };
}

export interface BacktestResult {
  coin: string;
  strategy: string;
  /** Exchange-time span replayed, ms. */
  start: number;
  end: number;
  events: { total: number; book: number; trade: number; bbo: number; skipped: number };
  settings: {
    queue: QueueModelName;
    queuePower?: number;
    latency: string;
    clockOffsetMs: number;
    fees: FeeSchedule;
    instrument: InstrumentSpec;
    gaps: number;
    /** The Hyperliquid fee tier the fees came from (absent: fees given directly or the base default). */
    feeTier?: FeeTier & { description: string };
    /** The attribution's reference price and markout horizon. */
    attribution: { reference: string; markoutMs: number };
    /** Funding: recorded rates available, the constant rate (null: none), hour boundaries charged. */
    funding: { recordedRates: number; constantRate: number | null; payments: number };
  };
  metrics: BacktestMetrics;
  /** The engine's own view at the end: risk state and its portfolio (should agree with metrics). */
  engine: {
    riskState: string;
    riskReason: string;
    position: number;
    netPnl: number;
    fees: number;
    fills: number;
  };
  venue: VenueStats;
  series: SeriesPoint[];
  fills: FillPoint[];
  params: ParamPoint[];
  /** Set only when a checkpoint stopped the replay early: the fraction reached. */
  stoppedAt?: number;
  /** The strategy's diagnostics at the end of the run (cj: φ, drift D and its effect, depth model, …). */
  diagnostics?: Record<string, unknown>;
}

/** Numeric fields of a diagnostics object (one level of nesting flattened as a.b). */
function numericFields(d: Record<string, unknown> | undefined): Record<string, number> {
  const out: Record<string, number> = {};
  if (!d) return out;
  for (const [k, v] of Object.entries(d)) {
    if (typeof v === 'number' && Number.isFinite(v)) out[k] = v;
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      for (const [k2, v2] of Object.entries(v as Record<string, unknown>))
        if (typeof v2 === 'number' && Number.isFinite(v2)) out[`${k}.${k2}`] = v2;
    }
  }
  return out;
}

/** The exchange's top of book for a reference model. */
function topOf(m: MatchingEngine): TopOfBook {
  const bidPx = m.bestBid();
  const askPx = m.bestAsk();
  return {
    bidPx,
    askPx,
    bidSz: bidPx > 0 ? m.displayedAt('bid', bidPx) : Number.NaN,
    askSz: askPx > 0 ? m.displayedAt('ask', askPx) : Number.NaN,
  };
}

/** The options with the strategy built (its order-manager settings, risk and inventory bound applied). */
export type ResolvedOptions = BacktestOptions & { strategy: Strategy };

/**
 * A `{name, config?}` spec (nothing but those keys) rather than a strategy object: a built strategy such as
 * CjStrategy has a `config` field too, and must run as given, not be rebuilt from it.
 */
function isStrategySpec(
  s: BacktestOptions['strategy'],
): s is { name: StrategyName; config?: Record<string, unknown> } {
  return (
    (STRATEGY_NAMES as readonly string[]).includes(s.name) &&
    Object.keys(s).every((k) => k === 'name' || k === 'config')
  );
}

export function resolveOptions(opts: BacktestOptions): ResolvedOptions {
  if (!isStrategySpec(opts.strategy)) return opts as ResolvedOptions;
  const spec = opts.strategy;
  const b = buildStrategy(spec.name, spec.config, opts.instrument);
  return {
    ...opts,
    strategy: b.strategy,
    orderManager: { ...b.orderManager, ...opts.orderManager },
    risk: { ...b.risk, ...opts.risk },
    boundLots: opts.boundLots ?? b.boundLots,
    reference: opts.reference ?? b.reference,
  };
}

export type FeedStatus = 'bound' | 'steps' | 'stopped';

// The kinds of replay step, in their priority at equal times (see the header comment).
const STEP_EXCHANGE = 0;
const STEP_QUEUE = 1;
const STEP_STRATEGY = 2;
const STEP_TIMER = 3;

/** Default rows per block of an in-memory tape (bounds the per-block index arrays; results do not depend on it). */
export const DEFAULT_BLOCK_ROWS = 1 << 16;

/**
 * One backtest as a replay that is fed blocks of the tape (src/backtest/tape.ts): `feed` runs every step whose
 * local time is below the block's bound, in the two-clock order; `finish` assembles the result. The same
 * replay runs a whole tape in memory (`runBacktest`) and a store streamed chunk by chunk (stream.ts).
 */
export class BacktestReplay {
  private readonly o: ResolvedOptions;
  private readonly header: TapeHeader;
  private readonly q = new EventQueue();
  private readonly maker = new EventMaker();
  private readonly metrics: MetricsRecorder;
  private readonly matching: MatchingEngine;
  private readonly venue: SimulatedVenue;
  private readonly engine: Engine;
  private readonly latency: LatencyModel;
  private readonly queueName: QueueModelName;
  private readonly fees: FeeSchedule;
  private readonly markoutMs: number;
  private readonly offset: number;
  private readonly fundingSeries: FundingRate[];
  private readonly fundingPayments: number;
  private readonly params: ParamPoint[] = [];
  private readonly paramsEvery: number;
  /**
   * The strategy when it has diagnostics (called as its method: a closure made per replay would be a new call
   * target for the replay loop's compiled code in every backtest of a process, and cost it a recompile).
   */
  private readonly diag: Strategy | undefined;
  // (Numeric fields start as numbers, see MetricsRecorder.last.)
  private nextParams = Number.NaN;
  /** Global counts of events replayed on the exchange side (i) and the strategy side (j), of n. */
  private i = 0;
  private j = 0;
  private readonly n: number;
  private steps = 0;
  private lastT = Number.NaN;
  private seenVersion = -1;
  private stoppedAt: number | undefined;
  // Checkpoints: `ckAt` is the exchange-side event count of the next one (−1: none, never equal to i ≥ 1).
  private readonly ckIdx: number[];
  private ckNext = 0;
  private ckAt = -1;

  constructor(opts: ResolvedOptions, header: TapeHeader) {
    const o = opts;
    this.o = o;
    this.header = header;
    if (header.coin !== o.instrument.coin)
      throw new Error(
        `instrument.coin '${o.instrument.coin}' does not match the data's coin '${header.coin}'`,
      );
    const fees = o.fees ?? { maker: o.instrument.makerFee, taker: o.instrument.takerFee };
    const feeError = checkFees(fees);
    if (feeError) throw new Error(feeError);
    this.fees = fees;
    this.queueName = o.queue ?? 'conservative';
    this.latency =
      o.latency === undefined
        ? new ConstantLatency(50)
        : typeof o.latency === 'number'
          ? new ConstantLatency(o.latency)
          : o.latency;
    const offset = header.clockOffsetMs;
    this.offset = offset;
    this.markoutMs = o.markoutMs ?? 1000;
    if (!(this.markoutMs >= 0)) throw new Error(`markoutMs must be ≥ 0 (got ${this.markoutMs})`);
    const q = this.q;
    this.n = header.length;
    // Every event reaches the strategy no earlier than the exchange (rxAt ≥ exTime + offset): the first step
    // is the first event at the exchange.
    const t0 = this.n > 0 ? header.start + offset : 0;
    q.current = t0;
    this.lastT = t0;
    const span = Math.max(1, header.end - header.start);
    const metrics = new MetricsRecorder({
      start: t0,
      clockOffsetMs: offset,
      lotSize: o.instrument.lotSize,
      boundLots:
        o.boundLots ??
        (o.risk?.maxPositionLots !== undefined && Number.isFinite(o.risk.maxPositionLots)
          ? o.risk.maxPositionLots
          : undefined),
      sampleMs: o.sampleMs ?? Math.max(1000, Math.ceil(span / 2000)),
      attributionHorizonMs: this.markoutMs,
    });
    this.metrics = metrics;
    const matching = new MatchingEngine({
      coin: header.coin,
      asset: o.asset ?? 0,
      szDecimals: o.instrument.szDecimals,
      tick: o.instrument.tick,
      minNotional: o.instrument.minNotional,
      fees,
      queue: this.queueName,
      queuePower: o.queuePower,
    });
    this.matching = matching;
    const venue = new SimulatedVenue({
      scheduler: q,
      matching,
      latency: this.latency,
      onExchangeFill: (f) => metrics.onFill(f.exTime + offset, f.side, f.px, f.sz, f.fee, f.liquidity),
    });
    this.venue = venue;
    const engine = new Engine({
      clock: q,
      venue,
      strategy: o.strategy,
      instrument: o.instrument,
      risk: o.risk,
      orderManager: o.orderManager,
      timerIntervalMs: o.timerIntervalMs,
      startingEquity: o.startingEquity,
      cloidSeed: o.seed ?? 1,
    });
    this.engine = engine;

    // Data gaps: the exchange side stops matching (our orders are pulled), the engine stops quoting.
    // Overlapping gaps nest: matching resumes when the last one ends.
    let openGaps = 0;
    for (const g of header.gaps) {
      if (g.kind === 'trade') continue;
      q.at(g.start + offset, () => {
        if (openGaps++ === 0) {
          venue.halt(`data gap: ${g.reason}`, g.start);
          metrics.setHalted(true);
        }
        engine.onGap(g);
      });
      q.at(g.end + offset, () => {
        if (--openGaps === 0) {
          venue.resume();
          metrics.setHalted(false);
        }
      });
    }

    // Hourly funding at every hour boundary of exchange time inside the data, on both books (the exchange-side
    // metrics and the engine's portfolio, each on its own position), at the boundary's local time.
    this.fundingSeries = o.funding ? [...o.funding].sort((a, b) => a.time - b.time) : [];
    if (o.fundingRate !== undefined && !Number.isFinite(o.fundingRate))
      throw new Error(`fundingRate must be a finite hourly fraction (got ${o.fundingRate})`);
    let fundingPayments = 0;
    if (this.fundingSeries.length > 0 || (o.fundingRate !== undefined && o.fundingRate !== 0)) {
      for (let h = Math.floor(header.start / HOUR_MS) * HOUR_MS + HOUR_MS; h <= header.end; h += HOUR_MS) {
        const f = fundingRateAt(h, this.fundingSeries, o.fundingRate);
        if (f === undefined || f.rate === 0) continue;
        const { rate, price } = f;
        fundingPayments++;
        q.at(h + offset, () => {
          metrics.onFunding(h + offset, rate, price);
          const pf = engine.portfolio;
          const mark = price ?? engine.lastMid;
          if (pf.position !== 0 && mark > 0) pf.applyFunding(-pf.position * mark * rate);
        });
      }
    }
    this.fundingPayments = fundingPayments;

    this.paramsEvery = o.paramsSampleMs ?? Math.max(1000, Math.ceil(span / 300));
    this.nextParams = t0;
    const strategy = o.strategy;
    this.diag = strategy.diagnostics ? strategy : undefined;
    const ck = o.checkpoints;
    this.ckIdx = ck ? ck.fractions.map((f) => Math.min(this.n, Math.max(1, Math.ceil(f * this.n)))) : [];
    this.ckAt = this.ckIdx.length > 0 ? this.ckIdx[0] : -1;
    engine.start();
  }

  /** Whether every event has been replayed on both sides (or a checkpoint stopped the replay). */
  get done(): boolean {
    return this.stoppedAt !== undefined || (this.i >= this.n && this.j >= this.n);
  }

  /**
   * Replay a block: every step with local time below `block.bound` (all of them for the last block), or
   * `maxSteps` steps (then call again with the same block). Returns 'bound' when the block is done (or the
   * whole tape), 'steps' at the step limit, 'stopped' when a checkpoint stopped the replay.
   */
  feed(block: ReplayBlock, maxSteps = Number.POSITIVE_INFINITY): FeedStatus {
    if (this.stoppedAt !== undefined) return 'stopped';
    const { cols, carry, exHi, rxRows, rxAt, rxN, bound } = block;
    const exTime = cols.exTime;
    const offset = this.offset;
    const n = this.n;
    const q = this.q;
    const metrics = this.metrics;
    const matching = this.matching;
    const venue = this.venue;
    const engine = this.engine;
    const reference = this.o.reference;
    const diag = this.diag;
    const progress = this.o.progress;
    const maker = this.maker;
    let i = this.i;
    let j = this.j;
    let row = block.exPos;
    let rx = block.rxPos;
    let lastT = this.lastT;
    let steps = this.steps;
    const stepLimit = steps + maxSteps;
    let status: FeedStatus = 'bound';
    while (i < n || j < n) {
      if (steps >= stepLimit) {
        status = 'steps';
        break;
      }
      const tEx = row < exHi ? exTime[row] + offset : Number.POSITIVE_INFINITY;
      const tRx = rx < rxN ? rxAt[rx] : Number.POSITIVE_INFINITY;
      const tQ = q.peekTime();
      const tTimer = engine.nextTimerAt();
      // The next step: the earliest of the four, ties in that order. One advance() call site for all of
      // them, so that the compiler inlines it (the time is then never boxed into a heap number).
      let t: number;
      let step: number;
      if (tEx <= tQ && tEx <= tRx && tEx <= tTimer) {
        t = tEx;
        step = STEP_EXCHANGE;
      } else if (tQ <= tRx && tQ <= tTimer) {
        t = tQ;
        step = STEP_QUEUE;
      } else if (tRx <= tTimer) {
        t = tRx;
        step = STEP_STRATEGY;
      } else {
        t = tTimer;
        step = STEP_TIMER;
      }
      if (t >= bound) break;
      metrics.advance(t);
      lastT = t;
      if (step === STEP_EXCHANGE) {
        q.current = t;
        const ev = maker.ex(cols, row++);
        i++;
        venue.onMarket(ev);
        if (reference !== undefined) {
          reference.onEvent?.(ev);
          metrics.onMid(matching.mid(), reference.price(topOf(matching)));
        } else if (ev.kind !== 'trade') metrics.onExchangeMid(matching);
        if (matching.version !== this.seenVersion) this.refreshQuotes();
        if (i === this.ckAt && !this.checkpoint(i, t)) {
          status = 'stopped';
          steps++;
          break;
        }
      } else if (step === STEP_QUEUE) {
        q.runNext();
        if (matching.version !== this.seenVersion) this.refreshQuotes();
      } else if (step === STEP_STRATEGY) {
        q.current = t;
        const r = rxRows[rx];
        engine.onMarket(r >= 0 ? maker.rx(cols, r, t) : maker.rx(carry as EventColumns, -1 - r, t));
        rx++;
        j++;
      } else {
        q.current = t;
        engine.onTimer(t);
      }
      if (diag !== undefined && lastT >= this.nextParams) {
        this.params.push({ t: lastT - offset, values: numericFields(diag.diagnostics?.()) });
        this.nextParams = lastT + this.paramsEvery;
      }
      if ((++steps & 0xffff) === 0 && progress !== undefined) progress((i + j) / (2 * n));
    }
    this.i = i;
    this.j = j;
    block.exPos = row;
    block.rxPos = rx;
    this.lastT = lastT;
    this.steps = steps;
    return status;
  }

  private refreshQuotes(): void {
    this.seenVersion = this.matching.version;
    this.metrics.onQuotes(this.matching.restingPx('bid'), this.matching.restingPx('ask'));
  }

  /** Checkpoints reached at exchange-side count i (time tEx); false: one of them stops the replay. */
  private checkpoint(i: number, tEx: number): boolean {
    const ck = this.o.checkpoints;
    if (!ck) return true;
    const venue = this.venue;
    const placed = venue.stats.placeRequests + venue.stats.modifyRequests;
    this.metrics.requests = placed + venue.stats.cancelRequests;
    const snap = this.metrics.snapshot(placed);
    let go = true;
    while (go && this.ckNext < this.ckIdx.length && this.ckIdx[this.ckNext] <= i) {
      const fraction = ck.fractions[this.ckNext];
      go =
        ck.onCheckpoint({
          index: this.ckNext,
          fraction,
          time: tEx - this.offset,
          metrics: snap,
          series: this.metrics.series,
        }) !== false;
      if (!go) this.stoppedAt = fraction;
      this.ckNext++;
    }
    this.ckAt = this.ckNext < this.ckIdx.length ? this.ckIdx[this.ckNext] : -1;
    return go;
  }

  /** The result (call once, after the last block or a stop). */
  finish(): BacktestResult {
    const { o, header, venue, engine, matching, metrics, latency, queueName, lastT } = this;
    this.o.progress?.(1);
    const quotesPlaced = venue.stats.placeRequests + venue.stats.modifyRequests;
    metrics.requests = quotesPlaced + venue.stats.cancelRequests;
    const m = metrics.finish(lastT, quotesPlaced, o.strategy.spreadBoundBinding?.(lastT) ?? null);
    const mark = matching.mid();
    const pf = engine.portfolio;
    const reference = o.reference;
    return {
      coin: header.coin,
      strategy: o.strategy.name,
      start: header.start,
      end: header.end,
      events: {
        total: header.length,
        book: header.counts.book,
        trade: header.counts.trade,
        bbo: header.counts.bbo,
        skipped: header.counts.skipped,
      },
      settings: {
        queue: queueName,
        queuePower: queueName === 'prob' ? (o.queuePower ?? 2) : undefined,
        latency: latency.describe(),
        clockOffsetMs: this.offset,
        fees: this.fees,
        instrument: o.instrument,
        gaps: header.gaps.length,
        feeTier: o.feeTier,
        attribution: { reference: (reference ?? MID_REFERENCE).name, markoutMs: this.markoutMs },
        funding: {
          recordedRates: this.fundingSeries.length,
          constantRate: o.fundingRate ?? null,
          payments: this.fundingPayments,
        },
      },
      metrics: m,
      engine: {
        riskState: engine.risk.state,
        riskReason: engine.risk.reason,
        position: pf.position,
        netPnl: Number.isFinite(mark) ? pf.cash + pf.position * mark : pf.cash,
        fees: pf.feesPaid,
        fills: pf.fills.length,
      },
      venue: { ...venue.stats },
      series: metrics.series,
      fills: metrics.fillPoints,
      params: this.params,
      ...(this.stoppedAt !== undefined ? { stoppedAt: this.stoppedAt } : {}),
      diagnostics: this.diag?.diagnostics?.(),
    };
  }
}

/**
 * A whole tape in memory (a prepared tape, or events + gaps to build one from), replayed block by block
 * (`blockRows` rows each; one block when Infinity): synchronous, same result for any block size.
 */
export function runBacktest(opts: BacktestOptions): BacktestResult {
  const o = resolveOptions(opts);
  const tape =
    o.tape ??
    buildTape(o.events ?? [], o.gaps ?? [], {
      coin: o.instrument.coin,
      from: o.from,
      to: o.to,
      clockOffsetMs: o.clockOffsetMs,
    });
  const replay = new BacktestReplay(o, tape);
  const blocks = new TapeBlocks(tape.clockOffsetMs, tape.seq);
  const ex = tape.cols.exTime;
  const size = Math.max(1, o.blockRows ?? DEFAULT_BLOCK_ROWS);
  const feed = wantsCalibrationThread(o.strategy, o.calibrationThread, tape.length);
  const thread = feed ? CalibrationThread.forTape(feed, tape, size) : undefined;
  try {
    let lo = tape.lo;
    let stopped = false;
    for (;;) {
      // Blocks end where the exchange time strictly increases, so every later row has exTime ≥ the bound's.
      let hi = Math.min(tape.hi, lo + size);
      while (hi < tape.hi && ex[hi] === ex[hi - 1]) hi++;
      const bound = hi < tape.hi ? ex[hi] + tape.clockOffsetMs : Number.POSITIVE_INFINITY;
      stopped = replay.feed(blocks.inPlace(tape.cols, lo, hi, bound)) === 'stopped';
      if (stopped || hi >= tape.hi) break;
      lo = hi;
    }
    if (!stopped) thread?.finish();
    return replay.finish();
  } finally {
    thread?.close();
  }
}
