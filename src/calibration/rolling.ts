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
 *
 * This file is the ingestion and the schedule; the parts live in ./rolling/: options (settings and
 * defaults), window-quotes (the mid, gaps and staleness), exposure (time at each spread width), mid-grid
 * (σ and the mid drift), mo-window (MOs and their resolution), side-stats (per-side depth sums),
 * markout-tracker (markouts per horizon), jackknife (block SEs), quality (data-quality counters and flags)
 * and refresh (the estimates assembled into a CalibrationResult).
 */
import type { BboEvent, BookEvent, BookLevel, Gap, MarketEvent, TradeEvent } from '../marketdata/events.ts';
import { isValidTrade, MarketOrderGrouper } from './market-orders.ts';
import { MicropriceEstimator, type MicropriceModel } from './microprice.ts';
import { Exposure, type OpenInterval, spreadBin } from './rolling/exposure.ts';
import { JackknifeBlocks } from './rolling/jackknife.ts';
import { MarkoutTracker } from './rolling/markout-tracker.ts';
import { MidGrid } from './rolling/mid-grid.ts';
import { MoWindow } from './rolling/mo-window.ts';
import {
  type RollingCalibratorOptions,
  type RollingSettings,
  resolveRollingOptions,
} from './rolling/options.ts';
import { newCounters } from './rolling/quality.ts';
import { RefreshMemory, refreshResult } from './rolling/refresh.ts';
import { RegimeWindow } from './rolling/regimes.ts';
import { SideStats } from './rolling/side-stats.ts';
import { WindowQuotes } from './rolling/window-quotes.ts';
import { TickInferrer } from './tick.ts';
import type { CalibrationResult, MicropriceSummary } from './types.ts';

export type { RollingCalibratorOptions } from './rolling/options.ts';

export class RollingCalibrator {
  readonly coin: string;
  private readonly s: RollingSettings;
  private quoteSource: 'auto' | 'bbo' | 'book';

  private tick: number;
  private quantum: number;
  private readonly tickInferrer = new TickInferrer();
  private pendingForTick: MarketEvent[] = [];

  private readonly quotes: WindowQuotes;
  private readonly grouper: MarketOrderGrouper;

  // Previous in-order quote (for exposure intervals and the σ grid).
  private prevT = Number.NaN;
  private prevMidQ = Number.NaN;
  private prevSpreadBin = 0;
  private prevRegime = -1;
  private firstQuoteT = Number.NaN;

  private readonly exposure = new Exposure();
  private readonly blocks: JackknifeBlocks;
  private readonly grid: MidGrid;
  private readonly sides = { plus: new SideStats(), minus: new SideStats() };
  private readonly markouts: MarkoutTracker;
  private readonly mos: MoWindow;
  /** Per-regime statistics (options.regimes) and the micro-price estimator (options.microprice). */
  private readonly regimes: RegimeWindow | undefined;
  private microprice: MicropriceEstimator | undefined;

  // Data-quality counters (cumulative).
  private readonly counters = newCounters();
  // The last in-order exchange time per channel: three plain fields, not a record keyed by kind (a keyed
  // load of a number boxes it: a heap allocation on every event).
  private lastTradeEx = Number.NEGATIVE_INFINITY;
  private lastBboEx = Number.NEGATIVE_INFINITY;
  private lastBookEx = Number.NEGATIVE_INFINITY;

  private lastRefreshAt = Number.NaN;
  private readonly memory = new RefreshMemory();
  private lastStatus: { at: number; flags: string[] } | undefined;

  constructor(opts: RollingCalibratorOptions) {
    this.s = resolveRollingOptions(opts);
    this.coin = opts.coin;
    this.quoteSource = this.s.quoteSource;
    this.quotes = new WindowQuotes(this.s.staleMs);
    this.blocks = new JackknifeBlocks(this.s.blockMs, this.s.horizons.length);
    const regimes = this.s.regimes
      ? new RegimeWindow(this.s.regimes, this.s.horizons, this.quotes, this.s.blockMs, this.s.gridMs)
      : undefined;
    this.regimes = regimes;
    this.grid = new MidGrid(
      this.s.gridMs,
      this.blocks,
      regimes ? (g: number, d: number) => regimes.increment(g, d) : undefined,
    );
    this.markouts = new MarkoutTracker(this.s.horizons, this.quotes, this.blocks);
    this.mos = new MoWindow(
      this.s.horizons,
      this.quotes,
      this.sides,
      this.markouts,
      () => {
        this.counters.malformed++;
      },
      regimes,
    );
    this.tick = Number.NaN;
    this.quantum = Number.NaN;
    if (this.s.tick > 0) this.setTick(this.s.tick);
    // MoWindow.add copies the MO's fields: the grouper may recycle its objects.
    this.grouper = new MarketOrderGrouper((mo) => this.mos.add(mo), { reuse: true });
  }

  /** The latest emitted parameter set (undefined until there is one). */
  current(): CalibrationResult | undefined {
    return this.memory.emitted;
  }

  /** Flags of the last refresh attempt, also when it could not emit a set. */
  status(): { at: number; flags: string[] } | undefined {
    return this.lastStatus;
  }

  /** The price grid in use (NaN until known). */
  tickSize(): number {
    return this.tick;
  }

  /** The last micro-price model (options.microprice; undefined until one was estimated). */
  micropriceModel(): MicropriceModel | undefined {
    return this.microprice?.current();
  }

  onGap(gap: Gap): void {
    if (gap.coin !== this.coin) return;
    if (!(gap.end > gap.start)) return;
    this.quotes.gaps.add(gap);
    this.microprice?.onGap(gap.start, gap.end);
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
      this.pendingForTick.push(copyOfEvent(ev));
      if (this.tickInferrer.samples >= 400 || this.pendingForTick.length >= 50_000) this.fixTick();
      return;
    }
    this.process(ev);
  }

  /** Emits a new set when `refreshMs` of data time has passed since the last one. */
  maybeRefresh(nowEx: number): CalibrationResult | undefined {
    if (!Number.isNaN(this.lastRefreshAt) && nowEx - this.lastRefreshAt < this.s.refreshMs) return undefined;
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
    else this.grouper.flushBefore(nowEx - this.s.settleMs);
    this.mos.resolve(this.quotes.timeline.lastTime, final ? nowEx : nowEx - this.s.settleMs, final);
    const windowStart = nowEx - this.s.windowMs;
    this.evict(windowStart);
    const out = refreshResult(
      {
        coin: this.coin,
        nowEx,
        windowStart,
        firstQuoteT: this.firstQuoteT,
        tick: this.tick,
        quantum: this.quantum,
        lastMidQ: this.prevMidQ,
        exposureMs: this.exposure.snapshot(windowStart, this.openInterval(nowEx, windowStart)),
        sides: this.sides,
        grid: this.grid,
        gridSec: this.s.gridMs / 1000,
        markouts: this.markouts,
        counters: this.counters,
        mosWithoutQuote: this.mos.withoutQuote,
      },
      this.s,
      this.memory,
    );
    this.lastStatus = { at: nowEx, flags: out.flags };
    const r = out.result;
    if (r && this.regimes) {
      r.regimes = this.regimes.estimate({
        windowStart,
        tick: this.tick,
        quantum: this.quantum,
        gridSec: this.s.gridMs / 1000,
        modelHorizonIdx: this.s.modelHorizonIdx,
        minMos: this.s.minMos,
        open: this.openInterval(nowEx, windowStart),
        openRegime: this.prevRegime,
        pooled: r,
      });
    }
    if (r && this.microprice) {
      const m = this.microprice.refresh(nowEx) ?? this.microprice.current();
      if (m) r.microprice = micropriceSummary(m);
    }
    return r;
  }

  // ---------------------------------------------------------------- ingestion

  private setTick(tick: number): void {
    this.tick = tick;
    this.quantum = tick / 2;
    this.mos.setTick(tick);
    this.markouts.setQuantum(tick / 2);
    this.regimes?.setQuantum(tick / 2);
    if (this.s.microprice) {
      this.microprice = new MicropriceEstimator({
        ...this.s.microprice,
        tick,
        windowMs: this.s.windowMs,
        staleMs: this.s.staleMs,
      });
      const mp = this.microprice;
      this.quotes.gaps.forEach((g) => {
        mp.onGap(g.start, g.end);
      });
    }
  }

  private fixTick(): void {
    const t = this.tickInferrer.infer();
    if (!(t > 0)) return;
    this.setTick(t);
    const pending = this.pendingForTick;
    this.pendingForTick = [];
    for (const ev of pending) this.process(ev);
  }

  private process(ev: MarketEvent): void {
    if (this.quotes.gaps.length > 0 && this.quotes.gaps.contains(ev.exTime)) {
      this.counters.inGapSkipped++;
      return;
    }
    const t = ev.exTime;
    if (ev.kind === 'trade') {
      if (t < this.lastTradeEx) this.counters.outOfOrder++;
      else this.lastTradeEx = t;
      this.onTrade(ev);
    } else if (ev.kind === 'bbo') {
      if (t < this.lastBboEx) this.counters.outOfOrder++;
      else this.lastBboEx = t;
      if (this.quoteSource === 'auto') this.quoteSource = 'bbo';
      if (this.quoteSource === 'bbo') this.onQuote(ev);
    } else {
      if (t < this.lastBookEx) this.counters.outOfOrder++;
      else this.lastBookEx = t;
      if (this.quoteSource !== 'bbo') this.onQuote(ev);
    }
  }

  private onTrade(ev: TradeEvent): void {
    if (!isValidTrade(ev)) {
      this.counters.malformed++;
      return;
    }
    this.counters.trades++;
    this.grouper.add(ev);
  }

  /**
   * A quote: the bbo, or the top of a book. Takes the event, not its five numbers: this is not inlined into
   * its caller, and numbers passed to a call are boxed (five heap allocations per quote).
   */
  private onQuote(ev: BboEvent | BookEvent): void {
    const t = ev.exTime;
    let bid: number;
    let ask: number;
    let bidSz: number;
    let askSz: number;
    if (ev.kind === 'bbo') {
      bid = ev.bidPx;
      ask = ev.askPx;
      bidSz = ev.bidSz;
      askSz = ev.askSz;
    } else {
      // `+`: a level's numbers as plain doubles, like the bbo's, so that the merge of the two branches is not
      // boxed into heap numbers on every quote.
      const b = ev.bids.length > 0 ? ev.bids[0] : undefined;
      const a = ev.asks.length > 0 ? ev.asks[0] : undefined;
      bid = b ? +b.px : Number.NaN;
      ask = a ? +a.px : Number.NaN;
      bidSz = b ? +b.sz : Number.NaN;
      askSz = a ? +a.sz : Number.NaN;
    }
    if (!(Number.isFinite(bid) && Number.isFinite(ask) && bid > 0 && ask > bid)) {
      if (Number.isFinite(bid) && Number.isFinite(ask) && bid >= ask) this.counters.crossedQuotes++;
      else this.counters.malformed++;
      bid = Number.NaN; // an unusable quote still ends the previous one's validity
      ask = Number.NaN;
    }
    this.counters.quotes++;
    const valid = !Number.isNaN(bid);
    const tag = this.regimes ? this.regimes.tagOf(valid, bidSz, askSz) : 0;
    const inOrder = this.quotes.timeline.push(t, bid, ask, tag);
    if (inOrder) {
      const midQ = valid ? Math.round((bid + ask) / 2 / this.quantum) : Number.NaN;
      const bin = valid ? spreadBin(bid, ask, this.tick) : 0;
      const uncut = this.advanceClock(t);
      if (this.regimes && uncut) this.regimes.transition(t, this.prevRegime, tag);
      this.prevT = t;
      this.prevMidQ = midQ;
      this.prevSpreadBin = bin;
      this.prevRegime = tag;
      if (Number.isNaN(this.firstQuoteT)) this.firstQuoteT = t;
      this.microprice?.onQuote(t, bid, bidSz, ask, askSz);
    }
    this.mos.resolve(this.quotes.timeline.lastTime, Number.NEGATIVE_INFINITY, false);
  }

  /**
   * Books the previous quote's interval up to t (exposure) and the σ-grid points it covers. True when the
   * previous quote was usable right up to t (no staleness or gap cut it short).
   */
  private advanceClock(t: number): boolean {
    if (Number.isNaN(this.prevT)) {
      this.grid.start(t);
      return false;
    }
    const end = this.quotes.gaps.cutAt(this.prevT, Math.min(t, this.prevT + this.s.staleMs));
    if (!Number.isNaN(this.prevMidQ) && end > this.prevT) {
      this.exposure.add(this.prevT, end, this.prevSpreadBin);
      this.regimes?.interval(this.prevT, end, this.prevSpreadBin, this.prevRegime);
    }
    this.grid.advance(t, this.prevT, end, this.prevMidQ);
    return !Number.isNaN(this.prevMidQ) && end === t;
  }

  /** The current quote's interval up to now, clipped to the window, staleness and gaps (undefined if none). */
  private openInterval(nowEx: number, windowStart: number): OpenInterval | undefined {
    if (Number.isNaN(this.prevMidQ) || !(nowEx > this.prevT)) return undefined;
    const end = this.quotes.gaps.cutAt(this.prevT, Math.min(nowEx, this.prevT + this.s.staleMs));
    return { start: Math.max(this.prevT, windowStart), end, bin: this.prevSpreadBin };
  }

  // ---------------------------------------------------------------- eviction

  private evict(windowStart: number): void {
    if (!Number.isFinite(windowStart)) return;
    this.mos.evict(windowStart);
    this.exposure.evict(windowStart);
    this.grid.evict(windowStart);
    this.blocks.prune(windowStart);
    this.regimes?.evict(windowStart);
    this.quotes.evictBefore(windowStart);
  }
}

/**
 * An event held past the call (the events before the tick is known): a copy of its fields, since a feed may
 * reuse its event objects (a replay's flyweights); the rest of the calibrator keeps numbers only.
 */
function copyOfEvent(ev: MarketEvent): MarketEvent {
  const { coin, exTime, rxTime } = ev;
  if (ev.kind === 'bbo') {
    const { bidPx, bidSz, askPx, askSz } = ev;
    return { kind: 'bbo', coin, exTime, rxTime, bidPx, bidSz, askPx, askSz };
  }
  if (ev.kind === 'book') {
    const level = (l: BookLevel): BookLevel => ({ px: l.px, sz: l.sz, n: l.n });
    return { kind: 'book', coin, exTime, rxTime, bids: ev.bids.map(level), asks: ev.asks.map(level) };
  }
  const t: TradeEvent = {
    kind: 'trade',
    coin,
    exTime,
    rxTime,
    px: ev.px,
    sz: ev.sz,
    side: ev.side,
    tid: ev.tid,
  };
  if (ev.hash !== undefined) t.hash = ev.hash;
  if (ev.buyer !== undefined) t.buyer = ev.buyer;
  if (ev.seller !== undefined) t.seller = ev.seller;
  return t;
}

/** The calibration output's view of a micro-price model (arrays per spread bucket). */
export function micropriceSummary(m: MicropriceModel): MicropriceSummary {
  const rows = (v: Float64Array) =>
    Array.from({ length: m.spreadBuckets }, (_, s) =>
      Array.from(v.subarray(s * m.imbalanceBuckets, (s + 1) * m.imbalanceBuckets)),
    );
  return {
    imbalanceBuckets: m.imbalanceBuckets,
    spreadBuckets: m.spreadBuckets,
    adjustment: rows(m.adjustment),
    g1: rows(m.g1),
    visits: rows(m.visits),
    iterations: m.iterations,
    converged: m.converged,
    transitions: m.transitions,
    discardedMoves: m.discardedMoves,
  };
}
