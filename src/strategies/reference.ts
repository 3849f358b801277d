/**
 * The price a strategy centres its quotes on (`reference` in every strategy's config):
 * - `mid`: (bid + ask)/2 — the default, and what every result before this setting used;
 * - `weighted-mid`: the naive size-weighted mid I·ask + (1 − I)·bid, I = Q_bid/(Q_bid + Q_ask);
 * - `microprice`: Stoikov's (2018) micro-price, mid + G*(imbalance, spread), with G* estimated by the
 *   Markov-chain method (src/calibration/microprice.ts) on a rolling window of the strategy's own quote feed,
 *   re-estimated every `refreshMs` of data time. Until the first estimate, and in states the window never
 *   saw, it is the mid.
 * A reference outside the touch is clamped to [bid, ask] (counted): it is a fair value of the current
 * market, and on ETH the estimated micro-price can lie beyond the touch at extreme imbalance.
 * The same code runs in backtest, paper and live: it only reads the market events the strategy sees.
 */
import {
  MicropriceEstimator,
  type MicropriceModel,
  micropriceOf,
  weightedMid,
} from '../calibration/microprice.ts';
import type { ReferenceModel, TopOfBook } from '../engine/attribution.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import type { MicropriceSettings, ReferenceKind } from './config.ts';
import type { Touch } from './quoting.ts';

export class ReferencePrice {
  readonly kind: ReferenceKind;
  private readonly settings: MicropriceSettings;
  private readonly tick: number;
  private estimator: MicropriceEstimator | undefined;
  private model: MicropriceModel | undefined;
  private lastRefresh = Number.NEGATIVE_INFINITY;
  /** Quote source for the estimator: the bbo once one was seen, else the book's top level. */
  private useBbo = false;
  /** References that fell outside the touch and were clamped to it; micro-price models estimated. */
  clamped = 0;
  refreshes = 0;
  private last = Number.NaN;

  constructor(kind: ReferenceKind, settings: MicropriceSettings, tick: number) {
    this.kind = kind;
    this.settings = settings;
    this.tick = tick;
    if (kind === 'microprice') {
      this.estimator = new MicropriceEstimator({
        tick,
        imbalanceBuckets: settings.imbalanceBuckets,
        spreadBuckets: settings.spreadBuckets,
        maxMoveTicks: settings.maxMoveTicks,
        windowMs: settings.windowMs,
        minTransitions: settings.minTransitions,
      });
    }
  }

  /** True when the reference is not a function of bid and ask alone (it then needs the sizes). */
  get sizeDependent(): boolean {
    return this.kind !== 'mid';
  }

  /** Every market event the strategy sees (only quotes matter; exchange clock). */
  onEvent(ev: MarketEvent): void {
    const est = this.estimator;
    if (!est) return;
    if (ev.kind === 'bbo') {
      this.useBbo = true;
      est.onQuote(ev.exTime, ev.bidPx, ev.bidSz, ev.askPx, ev.askSz);
    } else if (ev.kind === 'book' && !this.useBbo) {
      const b = ev.bids[0];
      const a = ev.asks[0];
      est.onQuote(ev.exTime, b ? b.px : Number.NaN, b ? b.sz : 0, a ? a.px : Number.NaN, a ? a.sz : 0);
    } else return;
    if (ev.exTime - this.lastRefresh >= this.settings.refreshMs) {
      this.lastRefresh = ev.exTime;
      const m = est.refresh(ev.exTime);
      if (m) {
        this.model = m;
        this.refreshes++;
      }
    }
  }

  onGap(gap: Gap): void {
    this.estimator?.onGap(gap.start, gap.end);
  }

  /** The reference price for this touch (NaN when the touch has no mid). */
  price(t: Touch): number {
    // The mid: small enough to be inlined into the quote (a number returned from a call is boxed).
    if (this.kind === 'mid') return t.mid > 0 ? t.mid : Number.NaN;
    return this.sizedPrice(t);
  }

  /** price() of the size-dependent references (weighted mid, micro-price), clamped into the touch. */
  private sizedPrice(t: Touch): number {
    if (!(t.mid > 0)) return Number.NaN;
    let p: number;
    if (this.kind === 'weighted-mid') p = weightedMid(t.bid, t.bidSz, t.ask, t.askSz);
    else p = this.model ? micropriceOf(this.model, t.bid, t.bidSz, t.ask, t.askSz) : t.mid;
    if (p > t.ask) {
      p = t.ask;
      this.clamped++;
    } else if (p < t.bid) {
      p = t.bid;
      this.clamped++;
    }
    this.last = p;
    return p;
  }

  /** The micro-price model in use (undefined before the first estimate, or for other references). */
  get micropriceModel(): MicropriceModel | undefined {
    return this.model;
  }

  diagnostics(): Record<string, unknown> {
    if (this.kind === 'mid') return { reference: 'mid' };
    return {
      reference: this.kind,
      lastReference: this.last,
      clamped: this.clamped,
      ...(this.kind === 'microprice'
        ? {
            micropriceModels: this.refreshes,
            micropriceTransitions: this.model?.transitions ?? 0,
            tick: this.tick,
          }
        : {}),
    };
  }
}

/**
 * The strategy's reference as the P&L attribution's reference model (engine/attribution.ts): spread capture
 * and adverse selection are then measured against the price the strategy quotes around. A separate estimator
 * of the same settings, fed every market event in exchange order by the backtester.
 */
export class ReferenceAttributionModel implements ReferenceModel {
  readonly name: string;
  private readonly rp: ReferencePrice;
  private readonly touch: Touch = {
    bid: Number.NaN,
    ask: Number.NaN,
    mid: Number.NaN,
    bidSz: Number.NaN,
    askSz: Number.NaN,
    exTime: Number.NaN,
    rxTime: Number.NaN,
  };

  constructor(kind: ReferenceKind, settings: MicropriceSettings, tick: number) {
    this.name = kind;
    this.rp = new ReferencePrice(kind, settings, tick);
  }

  onEvent(ev: MarketEvent): void {
    this.rp.onEvent(ev);
  }

  price(top: TopOfBook): number {
    const t = this.touch;
    t.bid = top.bidPx;
    t.ask = top.askPx;
    t.bidSz = top.bidSz;
    t.askSz = top.askSz;
    t.mid = 0.5 * (top.bidPx + top.askPx);
    const p = this.rp.price(t);
    return Number.isFinite(p) ? p : Number.NaN;
  }
}
