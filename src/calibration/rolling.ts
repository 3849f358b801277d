/**
 * The rolling calibrator: fed the event stream (live, paper, backtest, or a whole file), it keeps the
 * sufficient statistics of every estimator for a window in data time and emits a parameter set on refresh.
 *
 * Incremental by construction: each MO, quote interval and σ-grid increment is added once when it is
 * resolved and subtracted once when it leaves the window, so a refresh costs O(new events) plus
 * O(histogram bins), never O(window). Estimators: docs/calibration.md.
 *
 * Event order: the exchange clock drives everything. The feed may interleave channels out of exchange
 * order (each channel has its own latency); an MO is resolved only once the quote channel has moved past
 * it (FIFO per channel), or, at a refresh, once `settleMs` of data time has passed.
 */
import type { BookEvent, Gap, MarketEvent, TradeEvent } from '../marketdata/events.ts';
import { QuoteTimeline } from './depth.ts';
import { fitKappaGeometric, fitLambda, geometricGoodnessOfFit } from './intensity.ts';
import { isValidTrade, type MarketOrder, MarketOrderGrouper } from './market-orders.ts';
import { DEFAULT_HORIZONS, type HorizonSpec, parseHorizon, QuantizedSample } from './markout.ts';
import { TickInferrer } from './tick.ts';
import type { CalibrationResult, DepthFit, MarkoutEstimate, ParamKey } from './types.ts';
import { PARAM_KEYS } from './types.ts';

export interface RollingCalibratorOptions {
  coin: string;
  /** Window in data time (ms), gaps excluded from the observed time. Default 30 min; Infinity = all data. */
  windowMs?: number;
  /** Minimum data time between two emitted sets in maybeRefresh (ms). Default 15 s. */
  refreshMs?: number;
  /** Markout horizon whose ε feeds the model (ms). Default 1000. */
  markoutHorizonMs?: number;
  /** Markout horizons reported ('next', '1s', …). Default next, 1s, 5s, 30s (+ the model's horizon). */
  horizons?: string[];
  /** Fallback values when there has never been a good estimate for a parameter. */
  priors?: Partial<Record<ParamKey, number>>;
  /** Sanity bounds [min, max]: a fresh value outside is clamped and flagged. */
  bounds?: Partial<Record<ParamKey, [number, number]>>;
  /** EWMA half-life of the emitted values in data time (ms); undefined = no smoothing. */
  ewmaHalfLife?: number;
  /** Price grid; inferred from the first quotes when omitted. */
  tick?: number;
  /** σ sampling grid (ms). Default 1000. */
  gridMs?: number;
  /** A quote older than this (ms) no longer gives "the mid": the feed is treated as stale. Default 30 s. */
  staleQuoteMs?: number;
  /** Below this many MOs on a side, that side's parameters are "insufficient data". Default 30. */
  minMosPerSide?: number;
  /** Below this much observed time (s) the whole window is "insufficient data". Default 60. */
  minObservedSec?: number;
  /** Which feed gives the mid: the bbo feed when present ('auto'), else the book. */
  quoteSource?: 'auto' | 'bbo' | 'book';
  /** Data time after which pending MOs are resolved even if no later quote came (ms). Default 5000 (> the
   * receive-latency spread between channels, ~1 s on Hyperliquid). */
  settleMs?: number;
}

const HIST_MAX = 40; // depth histogram: k = 0..HIST_MAX−1, last bin "≥ HIST_MAX"
const SPREAD_BINS = 64; // time at spread = s ticks, s = 1..63, bin 64 = wider
const MAX_DEPTH_TICKS = 10_000; // deeper than this is a bad print, not an MO
const WARNING_PREFIXES = [
  'out-of-order',
  'malformed-skipped',
  'crossed-quotes',
  'inside-touch-fills',
  'mos-without-quote',
  'depth-misfit',
  'other-coin-skipped',
  'events-in-gap-skipped',
];

interface MoRec {
  t: number;
  plus: boolean;
  fills: number;
  extremePx: number;
  /** 0 = waiting for the quote feed, 1 = depth counted, 2 = no usable mid (not counted). */
  state: 0 | 1 | 2;
  k: number;
  insideTouch: boolean;
  midQ: number;
  /** Markout per horizon in quanta; NaN = unresolved or unusable. */
  mk: number[];
  mkDone: boolean[];
}

/**
 * Per-time-block sums for the block-jackknife standard error of the drift-corrected markouts: markouts of
 * nearby MOs overlap each other and the drift estimate, so their errors are correlated; blocks longer than
 * the horizons make the delete-one-block replicates nearly independent.
 */
interface Block {
  /** Per horizon j and side (2j plain, 2j+1 minus): sum of markouts (quanta) and count. */
  mkSum: Float64Array;
  mkN: Float64Array;
  incSum: number;
  incN: number;
}

const MIN_JACKKNIFE_BLOCKS = 8;

interface SideStats {
  n: number;
  sumK: number;
  fills: number;
  insideTouch: number;
  hist: Float64Array;
}

function newSide(): SideStats {
  return { n: 0, sumK: 0, fills: 0, insideTouch: 0, hist: new Float64Array(HIST_MAX + 1) };
}

type Source = CalibrationResult['source'];

export class RollingCalibrator {
  readonly coin: string;
  private readonly windowMs: number;
  private readonly refreshMs: number;
  private readonly horizons: HorizonSpec[];
  private readonly modelHorizon: number;
  private readonly priors: Partial<Record<ParamKey, number>>;
  private readonly bounds: Partial<Record<ParamKey, [number, number]>>;
  private readonly ewmaHalfLife: number | undefined;
  private readonly gridMs: number;
  private readonly staleMs: number;
  private readonly minMos: number;
  private readonly minObservedSec: number;
  private readonly settleMs: number;
  private quoteSource: 'auto' | 'bbo' | 'book';

  private tick: number;
  private quantum: number;
  private readonly tickInferrer = new TickInferrer();
  private pendingForTick: MarketEvent[] = [];

  private readonly quotes = new QuoteTimeline();
  private readonly grouper: MarketOrderGrouper;
  private readonly gaps: Gap[] = [];

  // Previous in-order quote (for exposure intervals and the σ grid).
  private prevT = Number.NaN;
  private prevMidQ = Number.NaN;
  private prevSpreadBin = 0;
  private firstQuoteT = Number.NaN;
  private nextGrid = Number.NaN;
  private lastGridValid = false;
  private lastGridQ = 0;

  // Exposure: quote intervals with a usable mid (ms at each spread width).
  private readonly expStart = new DoubleQueue();
  private readonly expEnd = new DoubleQueue();
  private readonly expBin = new DoubleQueue();
  private expHead = 0;
  private readonly expMs = new Float64Array(SPREAD_BINS + 1);

  // σ grid increments (quanta).
  private incT: number[] = [];
  private incD: number[] = [];
  private incHead = 0;
  private incN = 0;
  private incS1 = 0;
  private incS2 = 0;
  private incS4 = 0;
  private readonly blocks = new Map<number, Block>();
  private readonly blockMs: number;

  // MOs.
  private mos: MoRec[] = [];
  private moHead = 0;
  private depthCursor = 0;
  private readonly mkCursor: number[];
  private readonly sides = { plus: newSide(), minus: newSide() };
  private readonly mkSamples: { plus: QuantizedSample; minus: QuantizedSample }[];
  private mosWithoutQuote = 0;

  // Data-quality counters (cumulative).
  private readonly counters = {
    outOfOrder: 0,
    malformed: 0,
    crossedQuotes: 0,
    inGapSkipped: 0,
    otherCoin: 0,
    quotes: 0,
    trades: 0,
  };
  private readonly lastExByKind: Record<string, number> = {
    trade: -Infinity,
    bbo: -Infinity,
    book: -Infinity,
  };

  private lastRefreshAt = Number.NaN;
  private emitted: CalibrationResult | undefined;
  private readonly lastGood: Partial<Record<ParamKey, { v: number; se: number }>> = {};
  private lastStatus: { at: number; flags: string[] } | undefined;

  constructor(opts: RollingCalibratorOptions) {
    if (!opts.coin) throw new RangeError('RollingCalibrator: coin is required');
    this.coin = opts.coin;
    this.windowMs = opts.windowMs ?? 30 * 60_000;
    this.refreshMs = opts.refreshMs ?? 15_000;
    this.modelHorizon = opts.markoutHorizonMs ?? 1000;
    this.priors = opts.priors ?? {};
    this.bounds = opts.bounds ?? {};
    this.ewmaHalfLife = opts.ewmaHalfLife;
    this.gridMs = opts.gridMs ?? 1000;
    this.staleMs = opts.staleQuoteMs ?? 30_000;
    this.minMos = opts.minMosPerSide ?? 30;
    this.minObservedSec = opts.minObservedSec ?? 60;
    this.settleMs = opts.settleMs ?? 5000;
    this.quoteSource = opts.quoteSource ?? 'auto';
    for (const [name, v] of [
      ['windowMs', this.windowMs],
      ['refreshMs', this.refreshMs],
      ['markoutHorizonMs', this.modelHorizon],
      ['gridMs', this.gridMs],
      ['staleQuoteMs', this.staleMs],
    ] as const) {
      if (!(v > 0)) throw new RangeError(`RollingCalibrator: ${name} must be > 0 (got ${v})`);
    }
    if (this.ewmaHalfLife !== undefined && !(this.ewmaHalfLife > 0))
      throw new RangeError('RollingCalibrator: ewmaHalfLife must be > 0 ms when given');
    for (const [k, b] of Object.entries(this.bounds)) {
      if (!b || !(b[0] <= b[1]))
        throw new RangeError(`RollingCalibrator: bounds.${k} must be [min, max] with min ≤ max`);
    }
    const specs = (opts.horizons ?? DEFAULT_HORIZONS).map(parseHorizon);
    if (!specs.some((h) => !h.next && h.ms === this.modelHorizon)) {
      specs.push({ label: formatMs(this.modelHorizon), ms: this.modelHorizon, next: false });
    }
    specs.sort((a, b) => (a.next ? -1 : b.next ? 1 : a.ms - b.ms));
    this.horizons = specs;
    this.mkCursor = specs.map(() => 0);
    this.mkSamples = specs.map(() => ({ plus: new QuantizedSample(), minus: new QuantizedSample() }));
    this.blockMs = Math.max(60_000, 4 * Math.max(...specs.map((h) => h.ms)));
    this.tick = opts.tick ?? Number.NaN;
    if (opts.tick !== undefined && !(opts.tick > 0))
      throw new RangeError('RollingCalibrator: tick must be > 0');
    this.quantum = this.tick / 2;
    this.grouper = new MarketOrderGrouper((mo) => this.addMo(mo));
  }

  /** The latest emitted parameter set (undefined until there is one). */
  current(): CalibrationResult | undefined {
    return this.emitted;
  }

  /** Flags of the last refresh attempt, also when it could not emit a set. */
  status(): { at: number; flags: string[] } | undefined {
    return this.lastStatus;
  }

  /** The price grid in use (NaN until known). */
  tickSize(): number {
    return this.tick;
  }

  onGap(gap: Gap): void {
    if (gap.coin !== this.coin) return;
    if (!(gap.end > gap.start)) return;
    let i = this.gaps.length;
    while (i > 0 && this.gaps[i - 1].start > gap.start) i--;
    this.gaps.splice(i, 0, gap);
  }

  onEvent(ev: MarketEvent): void {
    if (ev.coin !== this.coin) {
      this.counters.otherCoin++;
      return;
    }
    if (!Number.isFinite(ev.exTime)) {
      this.counters.malformed++;
      return;
    }
    if (Number.isNaN(this.tick)) {
      if (ev.kind !== 'trade') this.tickInferrer.observe(ev);
      this.pendingForTick.push(ev);
      if (this.tickInferrer.samples >= 400 || this.pendingForTick.length >= 50_000) this.fixTick();
      return;
    }
    this.process(ev);
  }

  /** Emits a new set when `refreshMs` of data time has passed since the last one. */
  maybeRefresh(nowEx: number): CalibrationResult | undefined {
    if (!Number.isNaN(this.lastRefreshAt) && nowEx - this.lastRefreshAt < this.refreshMs) return undefined;
    return this.refresh(nowEx);
  }

  /**
   * Recomputes the estimates for the window ending at `nowEx` (exchange ms). `final` resolves every
   * pending MO whose horizon lies inside the data (end of a batch). Returns undefined only when some
   * parameter has neither a usable fresh estimate, a last good value nor a prior (see status()).
   */
  refresh(nowEx: number, final = false): CalibrationResult | undefined {
    this.lastRefreshAt = nowEx;
    if (Number.isNaN(this.tick)) {
      if (this.tickInferrer.samples > 0) this.fixTick();
      else {
        this.lastStatus = { at: nowEx, flags: ['no-quotes'] };
        return undefined;
      }
    }
    // Close trade groups nobody will add to any more, then resolve what the data allows.
    if (final) this.grouper.flush();
    else this.grouper.flushBefore(nowEx - this.settleMs);
    this.resolve(this.quotes.lastTime, final ? nowEx : nowEx - this.settleMs, final);
    const windowStart = nowEx - this.windowMs;
    this.evict(windowStart);
    return this.compute(nowEx, windowStart);
  }

  // ---------------------------------------------------------------- ingestion

  private fixTick(): void {
    const t = this.tickInferrer.infer();
    if (!(t > 0)) return;
    this.tick = t;
    this.quantum = t / 2;
    const pending = this.pendingForTick;
    this.pendingForTick = [];
    for (const ev of pending) this.process(ev);
  }

  private inGap(t: number): boolean {
    for (const g of this.gaps) if (g.start < t && t < g.end) return true;
    return false;
  }

  /** Start of the first gap inside (a, b], or b. */
  private cutAtGap(a: number, b: number): number {
    let end = b;
    for (const g of this.gaps) if (g.start >= a && g.start < end) end = g.start;
    return end;
  }

  private gapBetween(a: number, b: number): boolean {
    for (const g of this.gaps) if (g.start < b && g.end > a) return true;
    return false;
  }

  private process(ev: MarketEvent): void {
    if (this.gaps.length > 0 && this.inGap(ev.exTime)) {
      this.counters.inGapSkipped++;
      return;
    }
    const last = this.lastExByKind[ev.kind];
    if (ev.exTime < last) this.counters.outOfOrder++;
    else this.lastExByKind[ev.kind] = ev.exTime;
    if (ev.kind === 'trade') this.onTrade(ev);
    else if (ev.kind === 'bbo') {
      if (this.quoteSource === 'auto') this.quoteSource = 'bbo';
      if (this.quoteSource === 'bbo') this.onQuote(ev.exTime, ev.bidPx, ev.askPx);
    } else if (this.quoteSource !== 'bbo') this.onBook(ev);
  }

  private onBook(ev: BookEvent): void {
    const bid = ev.bids.length > 0 ? ev.bids[0].px : Number.NaN;
    const ask = ev.asks.length > 0 ? ev.asks[0].px : Number.NaN;
    this.onQuote(ev.exTime, bid, ask);
  }

  private onTrade(ev: TradeEvent): void {
    if (!isValidTrade(ev)) {
      this.counters.malformed++;
      return;
    }
    this.counters.trades++;
    this.grouper.add(ev);
  }

  private onQuote(t: number, bid: number, ask: number): void {
    if (!(Number.isFinite(bid) && Number.isFinite(ask) && bid > 0 && ask > bid)) {
      if (Number.isFinite(bid) && Number.isFinite(ask) && bid >= ask) this.counters.crossedQuotes++;
      else this.counters.malformed++;
      bid = Number.NaN; // an unusable quote still ends the previous one's validity
      ask = Number.NaN;
    }
    this.counters.quotes++;
    const inOrder = this.quotes.push(t, bid, ask);
    if (inOrder) {
      const valid = !Number.isNaN(bid);
      const midQ = valid ? Math.round((bid + ask) / 2 / this.quantum) : Number.NaN;
      const bin = valid ? Math.min(SPREAD_BINS, Math.max(1, Math.round((ask - bid) / this.tick))) : 0;
      this.advanceClock(t);
      this.prevT = t;
      this.prevMidQ = midQ;
      this.prevSpreadBin = bin;
      if (Number.isNaN(this.firstQuoteT)) this.firstQuoteT = t;
    }
    this.resolve(this.quotes.lastTime, Number.NEGATIVE_INFINITY, false);
  }

  /** Books the previous quote's interval up to t (exposure) and the σ-grid points it covers. */
  private advanceClock(t: number): void {
    if (Number.isNaN(this.prevT)) {
      this.nextGrid = Math.ceil(t / this.gridMs) * this.gridMs;
      return;
    }
    const prevValid = !Number.isNaN(this.prevMidQ);
    const end = this.cutAtGap(this.prevT, Math.min(t, this.prevT + this.staleMs));
    if (prevValid && end > this.prevT) {
      this.expStart.push(this.prevT);
      this.expEnd.push(end);
      this.expBin.push(this.prevSpreadBin);
      this.expMs[this.prevSpreadBin] += end - this.prevT;
    }
    while (this.nextGrid < t) {
      const g = this.nextGrid;
      const valid = prevValid && g >= this.prevT && g <= end;
      if (valid) {
        if (this.lastGridValid) this.addIncrement(g, this.prevMidQ - this.lastGridQ);
        this.lastGridQ = this.prevMidQ;
      }
      this.lastGridValid = valid;
      this.nextGrid += this.gridMs;
      if (!valid && this.nextGrid < t) {
        this.nextGrid = Math.ceil(t / this.gridMs) * this.gridMs;
        this.lastGridValid = false;
      }
    }
  }

  private addIncrement(g: number, d: number): void {
    this.incT.push(g);
    this.incD.push(d);
    this.incN++;
    this.incS1 += d;
    this.incS2 += d * d;
    this.incS4 += d * d * d * d;
    const b = this.block(g);
    b.incSum += d;
    b.incN++;
  }

  private block(t: number): Block {
    const key = Math.floor(t / this.blockMs);
    let b = this.blocks.get(key);
    if (!b) {
      const n = 2 * this.horizons.length;
      b = { mkSum: new Float64Array(n), mkN: new Float64Array(n), incSum: 0, incN: 0 };
      this.blocks.set(key, b);
    }
    return b;
  }

  private addMo(mo: MarketOrder): void {
    const rec: MoRec = {
      t: mo.exTime,
      plus: mo.side === 'buy',
      fills: mo.fills,
      extremePx: mo.extremePx,
      state: 0,
      k: 0,
      insideTouch: false,
      midQ: Number.NaN,
      mk: this.horizons.map(() => Number.NaN),
      mkDone: this.horizons.map(() => false),
    };
    const n = this.mos.length;
    if (n === this.moHead || rec.t >= this.mos[n - 1].t) {
      this.mos.push(rec);
      return;
    }
    // Out of exchange order: insert in place and resolve it directly if cursors already passed it.
    let i = n;
    while (i > this.moHead && this.mos[i - 1].t > rec.t) i--;
    this.mos.splice(i, 0, rec);
    if (i < this.depthCursor) {
      this.depthCursor++;
      this.resolveDepth(rec);
    }
    for (let j = 0; j < this.horizons.length; j++) {
      if (i < this.mkCursor[j]) {
        this.mkCursor[j]++;
        if (rec.state === 1) this.resolveMarkout(rec, j);
        rec.mkDone[j] = true;
      }
    }
  }

  // ---------------------------------------------------------------- resolution

  /**
   * Resolves MOs whose quotes are complete: depth once the quote feed reached the MO's time (or data time
   * `settledTo` passed it), markouts once it passed t + h. `nowEx` bounds forced resolution in a final pass.
   */
  private resolve(quotesTo: number, settledTo: number, final: boolean): void {
    const reach = Math.max(quotesTo, settledTo);
    while (this.depthCursor < this.mos.length) {
      const mo = this.mos[this.depthCursor];
      if (!(mo.t <= quotesTo || mo.t <= settledTo)) break;
      this.resolveDepth(mo);
      this.depthCursor++;
    }
    for (let j = 0; j < this.horizons.length; j++) {
      const h = this.horizons[j];
      while (this.mkCursor[j] < this.depthCursor) {
        const mo = this.mos[this.mkCursor[j]];
        const target = mo.t + h.ms;
        const ready = h.next
          ? mo.t <= quotesTo || (final && mo.t <= reach)
          : target < quotesTo || target <= settledTo;
        if (!ready) break;
        if (mo.state === 1) this.resolveMarkout(mo, j);
        mo.mkDone[j] = true;
        this.mkCursor[j]++;
      }
    }
  }

  private resolveDepth(mo: MoRec): void {
    const i = this.quotes.indexBefore(mo.t);
    if (i < 0 || !this.usableAt(i, mo.t)) {
      mo.state = 2;
      this.mosWithoutQuote++;
      return;
    }
    const mid = this.quotes.mid(i);
    const half = this.quotes.halfSpread(i);
    const depth = mo.plus ? mo.extremePx - mid : mid - mo.extremePx;
    const raw = Math.round((depth - half) / this.tick);
    if (raw > MAX_DEPTH_TICKS) {
      mo.state = 2;
      this.counters.malformed++;
      return;
    }
    mo.state = 1;
    mo.k = Math.max(raw, 0);
    mo.insideTouch = raw < 0;
    mo.midQ = Math.round(mid / this.quantum);
    const s = mo.plus ? this.sides.plus : this.sides.minus;
    s.n++;
    s.sumK += mo.k;
    s.fills += mo.fills;
    s.hist[Math.min(HIST_MAX, mo.k)]++;
    if (mo.insideTouch) s.insideTouch++;
  }

  private usableAt(i: number, t: number): boolean {
    const qt = this.quotes.time(i);
    return !Number.isNaN(this.quotes.mid(i)) && t - qt <= this.staleMs && !this.gapBetween(qt, t);
  }

  private resolveMarkout(mo: MoRec, j: number): void {
    const h = this.horizons[j];
    let i: number;
    if (h.next) {
      i = this.quotes.indexAtOrAfter(mo.t);
      if (i < 0 || this.quotes.time(i) - mo.t > this.staleMs || this.gapBetween(mo.t, this.quotes.time(i)))
        return;
      if (Number.isNaN(this.quotes.mid(i))) return;
    } else {
      const target = mo.t + h.ms;
      i = this.quotes.indexAtOrBefore(target);
      if (i < 0 || !this.usableAt(i, target) || this.gapBetween(mo.t, target)) return;
    }
    const after = Math.round(this.quotes.mid(i) / this.quantum);
    const signed = mo.plus ? after - mo.midQ : mo.midQ - after;
    mo.mk[j] = signed;
    const b = this.block(mo.t);
    b.mkSum[2 * j + (mo.plus ? 0 : 1)] += signed;
    b.mkN[2 * j + (mo.plus ? 0 : 1)]++;
    (mo.plus ? this.mkSamples[j].plus : this.mkSamples[j].minus).add(signed);
  }

  // ---------------------------------------------------------------- eviction

  private evict(windowStart: number): void {
    if (!Number.isFinite(windowStart)) return;
    while (this.moHead < this.mos.length && this.mos[this.moHead].t < windowStart) {
      const mo = this.mos[this.moHead];
      if (mo.state === 1) {
        const s = mo.plus ? this.sides.plus : this.sides.minus;
        s.n--;
        s.sumK -= mo.k;
        s.fills -= mo.fills;
        s.hist[Math.min(HIST_MAX, mo.k)]--;
        if (mo.insideTouch) s.insideTouch--;
        for (let j = 0; j < this.horizons.length; j++) {
          if (Number.isNaN(mo.mk[j])) continue;
          (mo.plus ? this.mkSamples[j].plus : this.mkSamples[j].minus).remove(mo.mk[j]);
          const b = this.block(mo.t);
          b.mkSum[2 * j + (mo.plus ? 0 : 1)] -= mo.mk[j];
          b.mkN[2 * j + (mo.plus ? 0 : 1)]--;
        }
      } else if (mo.state === 2) this.mosWithoutQuote--;
      this.moHead++;
    }
    if (this.depthCursor < this.moHead) this.depthCursor = this.moHead;
    for (let j = 0; j < this.mkCursor.length; j++)
      if (this.mkCursor[j] < this.moHead) this.mkCursor[j] = this.moHead;
    if (this.moHead > 4096 && this.moHead * 2 > this.mos.length) {
      this.mos = this.mos.slice(this.moHead);
      this.depthCursor -= this.moHead;
      for (let j = 0; j < this.mkCursor.length; j++) this.mkCursor[j] -= this.moHead;
      this.moHead = 0;
    }
    const expStart = this.expStart.values;
    const expEnd = this.expEnd.values;
    const expBin = this.expBin.values;
    while (this.expHead < this.expEnd.length && expEnd[this.expHead] <= windowStart) {
      this.expMs[expBin[this.expHead]] -= expEnd[this.expHead] - expStart[this.expHead];
      this.expHead++;
    }
    if (this.expHead > 4096 && this.expHead * 2 > this.expEnd.length) {
      this.expStart.dropFront(this.expHead);
      this.expEnd.dropFront(this.expHead);
      this.expBin.dropFront(this.expHead);
      this.expHead = 0;
    }
    while (this.incHead < this.incT.length && this.incT[this.incHead] - this.gridMs < windowStart) {
      const d = this.incD[this.incHead];
      this.incN--;
      this.incS1 -= d;
      this.incS2 -= d * d;
      this.incS4 -= d * d * d * d;
      const b = this.block(this.incT[this.incHead]);
      b.incSum -= d;
      b.incN--;
      this.incHead++;
    }
    if (this.incHead > 4096 && this.incHead * 2 > this.incT.length) {
      this.incT = this.incT.slice(this.incHead);
      this.incD = this.incD.slice(this.incHead);
      this.incHead = 0;
    }
    const firstBlock = Math.floor(windowStart / this.blockMs);
    for (const [key, b] of this.blocks) {
      if (key < firstBlock && b.incN === 0 && b.mkN.every((n) => n === 0)) this.blocks.delete(key);
    }
    this.quotes.evictBefore(windowStart);
    while (this.gaps.length > 0 && this.gaps[0].end < windowStart - this.staleMs) this.gaps.shift();
  }

  // ---------------------------------------------------------------- estimates

  /** Block-jackknife SE (price) of the drift-corrected markout at horizon j for one side (0 plus, 1 minus). */
  private jackknifeMarkoutSe(j: number, sideIdx: number, sign: number, hSec: number): number {
    const list: JackknifeBlock[] = [];
    for (const b of this.blocks.values()) {
      list.push({
        mkSum: b.mkSum[2 * j + sideIdx],
        mkN: b.mkN[2 * j + sideIdx],
        incSum: b.incSum,
        incN: b.incN,
      });
    }
    return jackknifeDriftCorrectedSe(list, sign, hSec, this.gridMs / 1000) * this.quantum;
  }

  private compute(nowEx: number, windowStart: number): CalibrationResult | undefined {
    const tick = this.tick;
    const q = this.quantum;
    // Exposure per spread width: committed intervals, minus the part of the oldest before the window,
    // plus the open interval of the current quote.
    const expMs = Float64Array.from(this.expMs);
    if (this.expHead < this.expEnd.length && this.expStart.values[this.expHead] < windowStart) {
      expMs[this.expBin.values[this.expHead]] -= windowStart - this.expStart.values[this.expHead];
    }
    if (!Number.isNaN(this.prevMidQ) && nowEx > this.prevT) {
      const openEnd = this.cutAtGap(this.prevT, Math.min(nowEx, this.prevT + this.staleMs));
      const openStart = Math.max(this.prevT, windowStart);
      if (openEnd > openStart) expMs[this.prevSpreadBin] += openEnd - openStart;
    }
    const halfSpreads = new Float64Array(SPREAD_BINS + 1);
    const seconds = new Float64Array(SPREAD_BINS + 1);
    let observedSec = 0;
    let weightedHalf = 0;
    for (let s = 1; s <= SPREAD_BINS; s++) {
      halfSpreads[s] = (s * tick) / 2;
      seconds[s] = Math.max(0, expMs[s]) / 1000;
      observedSec += seconds[s];
      weightedHalf += seconds[s] * halfSpreads[s];
    }

    const flags: string[] = [];
    const unusable = new Set<ParamKey>();
    const fresh = {} as Record<ParamKey, number>;
    const se = {} as Record<ParamKey, number>;
    const windowShort = observedSec < this.minObservedSec;
    if (windowShort) {
      flags.push('insufficient-data:window');
      for (const k of PARAM_KEYS) unusable.add(k);
    }

    const fit: { plus: DepthFit; minus: DepthFit } = {
      plus: { chi2: Number.NaN, df: 0, pValue: Number.NaN, histogram: [] },
      minus: { chi2: Number.NaN, df: 0, pValue: Number.NaN, histogram: [] },
    };
    for (const side of ['plus', 'minus'] as const) {
      const S = this.sides[side];
      const suffix = side === 'plus' ? 'Plus' : 'Minus';
      const kKey = `kappa${suffix}` as ParamKey;
      const lKey = `lambda${suffix}` as ParamKey;
      const rKey = `moRate${suffix}` as ParamKey;
      const eKey = `epsilon${suffix}` as ParamKey;
      const kf = fitKappaGeometric(S.n, S.sumK, tick);
      const lf = fitLambda(S.n, halfSpreads, seconds, kf.kappa, kf.stderr);
      fresh[kKey] = kf.kappa;
      se[kKey] = kf.stderr;
      fresh[lKey] = lf.lambda;
      se[lKey] = lf.stderr;
      fresh[rKey] = observedSec > 0 ? S.n / observedSec : Number.NaN;
      se[rKey] = observedSec > 0 ? Math.sqrt(S.n) / observedSec : Number.NaN;
      let lastNonZero = 0;
      for (let k = 0; k <= HIST_MAX; k++) if (S.hist[k] > 0) lastNonZero = k;
      const histogram = Array.from(S.hist.subarray(0, lastNonZero + 1));
      const gof = geometricGoodnessOfFit(histogram, kf.q, true);
      fit[side] = { chi2: gof.chi2, df: gof.df, pValue: gof.pValue, histogram };
      if (S.n < this.minMos) {
        flags.push(`insufficient-data:${side}`);
        for (const k of [kKey, lKey, rKey, eKey]) unusable.add(k);
      } else if (!(S.sumK > 0)) {
        flags.push(`kappa-unidentified:${side}`);
        unusable.add(kKey);
        unusable.add(lKey);
      } else if (gof.pValue < 0.001) flags.push(`depth-misfit:${side}`);
      if (S.n > 0 && S.insideTouch > 0.05 * S.n) flags.push(`inside-touch-fills:${side}`);
    }

    // Drift of the mid over the window (price/s), removed from markouts at horizon h (see docs).
    const gridSec = this.gridMs / 1000;
    const drift = this.incN > 0 ? (this.incS1 * q) / (this.incN * gridSec) : 0;
    const driftVar =
      this.incN > 1
        ? Math.max(0, this.incS2 - (this.incS1 * this.incS1) / this.incN) / (this.incN - 1) / this.incN
        : 0;
    const driftSe = (Math.sqrt(driftVar) * q) / gridSec;
    const markouts: MarkoutEstimate[] = [];
    for (let j = 0; j < this.horizons.length; j++) {
      const h = this.horizons[j];
      const hSec = h.ms / 1000;
      const est = (sample: QuantizedSample, sign: number) => {
        const r = sample.robustMean(q);
        const mean = r.mean - sign * drift * hSec;
        const jack = this.jackknifeMarkoutSe(j, sign > 0 ? 0 : 1, sign, hSec);
        const stderr = Number.isFinite(jack)
          ? jack
          : Math.sqrt(r.stderr * r.stderr + hSec * hSec * driftSe * driftSe);
        return { mean, stderr, n: r.n };
      };
      markouts.push({
        horizon: h.label,
        horizonSec: hSec,
        plus: est(this.mkSamples[j].plus, 1),
        minus: est(this.mkSamples[j].minus, -1),
      });
    }
    const modelIdx = this.horizons.findIndex((h) => !h.next && h.ms === this.modelHorizon);
    const mm = markouts[modelIdx];
    fresh.epsilonPlus = mm.plus.mean;
    se.epsilonPlus = mm.plus.stderr;
    fresh.epsilonMinus = mm.minus.mean;
    se.epsilonMinus = mm.minus.stderr;
    for (const side of ['plus', 'minus'] as const) {
      const key = side === 'plus' ? 'epsilonPlus' : 'epsilonMinus';
      if (mm[side].n < this.minMos && !flags.includes(`insufficient-data:${side}`)) {
        flags.push(`insufficient-markouts:${side}`);
        unusable.add(key);
      }
    }

    // σ: variance of grid increments per second (jumps included).
    if (this.incN >= 30) {
      const n = this.incN;
      const mean = this.incS1 / n;
      const v = Math.max(0, (this.incS2 - n * mean * mean) / (n - 1));
      const m4 = this.incS4 / n;
      const sigma2 = (v * q * q) / gridSec;
      fresh.sigma = Math.sqrt(sigma2);
      const seSigma2 = (Math.sqrt(Math.max(0, m4 - v * v) / n) * q * q) / gridSec;
      se.sigma = fresh.sigma > 0 ? seSigma2 / (2 * fresh.sigma) : Number.NaN;
    } else {
      fresh.sigma = Number.NaN;
      se.sigma = Number.NaN;
      flags.push('insufficient-data:sigma');
      unusable.add('sigma');
    }

    // Values that are not finite (or not positive where they must be) are unusable too.
    for (const k of PARAM_KEYS) {
      const v = fresh[k];
      const mustBePositive = !k.startsWith('epsilon');
      if (!Number.isFinite(v) || (mustBePositive && !(v > 0)) || !Number.isFinite(se[k])) unusable.add(k);
    }

    // Sanity bounds on fresh values.
    for (const k of PARAM_KEYS) {
      const b = this.bounds[k];
      if (!b || unusable.has(k)) continue;
      if (fresh[k] < b[0] || fresh[k] > b[1]) {
        fresh[k] = Math.min(b[1], Math.max(b[0], fresh[k]));
        flags.push(`bound:${k}`);
      }
    }

    // Assemble: fresh where usable (EWMA-smoothed if asked), else the last good value, else the prior.
    const values = {} as Record<ParamKey, number>;
    const stderr = {} as Record<ParamKey, number>;
    let source: Source = 'fresh';
    const prev = this.emitted;
    const w =
      this.ewmaHalfLife !== undefined && prev !== undefined && nowEx > prev.at
        ? 1 - 2 ** (-(nowEx - prev.at) / this.ewmaHalfLife)
        : 1;
    const missing: ParamKey[] = [];
    for (const k of PARAM_KEYS) {
      if (!unusable.has(k)) {
        values[k] = prev !== undefined && w < 1 ? prev[k] + w * (fresh[k] - prev[k]) : fresh[k];
        stderr[k] = se[k];
        continue;
      }
      const lg = this.lastGood[k];
      if (lg) {
        values[k] = lg.v;
        stderr[k] = lg.se;
        if (source === 'fresh') source = 'last-good';
        continue;
      }
      const p = this.priors[k];
      if (p !== undefined && Number.isFinite(p)) {
        values[k] = p;
        stderr[k] = Math.abs(p); // a prior is known only to its order of magnitude
        source = 'prior';
        continue;
      }
      missing.push(k);
    }

    if (this.counters.outOfOrder > 0) flags.push('out-of-order');
    if (this.counters.malformed > 0) flags.push('malformed-skipped');
    if (this.counters.crossedQuotes > 0) flags.push('crossed-quotes');
    if (this.mosWithoutQuote > 0) flags.push('mos-without-quote');
    if (this.counters.otherCoin > 0) flags.push('other-coin-skipped');
    if (this.counters.inGapSkipped > 0) flags.push('events-in-gap-skipped');
    this.lastStatus = {
      at: nowEx,
      flags: missing.length > 0 ? [...flags, ...missing.map((k) => `no-value:${k}`)] : flags,
    };
    if (missing.length > 0) return undefined;

    for (const k of PARAM_KEYS) if (!unusable.has(k)) this.lastGood[k] = { v: values[k], se: stderr[k] };
    const P = this.sides.plus;
    const M = this.sides.minus;
    const samples: Record<string, number> = {
      mosPlus: P.n,
      mosMinus: M.n,
      fillsPlus: P.fills,
      fillsMinus: M.fills,
      fillsPerMoPlus: P.n > 0 ? P.fills / P.n : 0,
      fillsPerMoMinus: M.n > 0 ? M.fills / M.n : 0,
      insideTouchPlus: P.insideTouch,
      insideTouchMinus: M.insideTouch,
      mosWithoutQuote: this.mosWithoutQuote,
      sigmaIncrements: this.incN,
      markoutPlus: mm.plus.n,
      markoutMinus: mm.minus.n,
      quotesSeen: this.counters.quotes,
      tradesSeen: this.counters.trades,
      outOfOrder: this.counters.outOfOrder,
      malformed: this.counters.malformed,
      crossedQuotes: this.counters.crossedQuotes,
      eventsInGapSkipped: this.counters.inGapSkipped,
      otherCoinSkipped: this.counters.otherCoin,
    };
    const seriousFlags = flags.filter((f) => !WARNING_PREFIXES.some((p) => f.startsWith(p)));
    const start = Number.isFinite(windowStart) ? Math.max(windowStart, this.firstQuoteT) : this.firstQuoteT;
    const result: CalibrationResult = {
      coin: this.coin,
      at: nowEx,
      ...values,
      window: { start, end: nowEx, observedSec },
      stderr,
      samples,
      markouts,
      spread: {
        tick,
        fracAtOneTick: observedSec > 0 ? seconds[1] / observedSec : 0,
        meanHalfSpread: observedSec > 0 ? weightedHalf / observedSec : 0,
      },
      toxicityPlus: values.kappaPlus * values.epsilonPlus,
      toxicityMinus: values.kappaMinus * values.epsilonMinus,
      source,
      quality: { ok: source === 'fresh' && seriousFlags.length === 0, flags },
      fit,
      markoutHorizon: this.horizons[modelIdx].label,
    };
    if (!Number.isNaN(this.prevMidQ)) result.mid = Number((this.prevMidQ * q).toFixed(12));
    this.emitted = result;
    return result;
  }
}

export interface JackknifeBlock {
  mkSum: number;
  mkN: number;
  incSum: number;
  incN: number;
}

/**
 * Delete-one-block jackknife SE of the drift-corrected mean markout m̄ − sign·h·D̂ (in the units of the sums;
 * D̂ = increments per grid step / gridSec). NaN with fewer than 8 usable blocks.
 */
export function jackknifeDriftCorrectedSe(
  blocks: JackknifeBlock[],
  sign: number,
  hSec: number,
  gridSec: number,
): number {
  let M = 0;
  let n = 0;
  let S = 0;
  let N = 0;
  for (const b of blocks) {
    M += b.mkSum;
    n += b.mkN;
    S += b.incSum;
    N += b.incN;
  }
  const reps: number[] = [];
  for (const b of blocks) {
    if (b.mkN === 0 && b.incN === 0) continue;
    const nn = n - b.mkN;
    const NN = N - b.incN;
    if (nn <= 0) continue;
    const drift = NN > 0 ? (S - b.incSum) / (NN * gridSec) : 0;
    reps.push((M - b.mkSum) / nn - sign * hSec * drift);
  }
  const B = reps.length;
  if (B < MIN_JACKKNIFE_BLOCKS) return Number.NaN;
  const mean = reps.reduce((a, v) => a + v, 0) / B;
  const ss = reps.reduce((a, v) => a + (v - mean) * (v - mean), 0);
  return Math.sqrt(((B - 1) / B) * ss);
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}

/**
 * An append-only series of doubles in a typed array, trimmed from the front: the exposure intervals, pushed on
 * every quote (a plain array's push was a top self-time entry of the cj backtest).
 */
class DoubleQueue {
  values = new Float64Array(1024);
  length = 0;

  push(v: number): void {
    if (this.length === this.values.length) {
      const grown = new Float64Array(2 * this.values.length);
      grown.set(this.values);
      this.values = grown;
    }
    this.values[this.length++] = v;
  }

  /** Removes the first k values. */
  dropFront(k: number): void {
    this.values.copyWithin(0, k, this.length);
    this.length -= k;
  }
}
