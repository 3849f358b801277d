/**
 * Baseline: Guéant, Lehalle & Fernandez-Tapia (2013), "Dealing with the inventory risk", closed-form
 * asymptotic (T → ∞) quotes:
 *   δᵇ(q) = (1/γ) ln(1 + γ/κ) + ((2q + 1)/2) ω,   δᵃ(q) = (1/γ) ln(1 + γ/κ) − ((2q − 1)/2) ω,
 *   ω = sqrt( (σ²γ / (2κA)) · (1 + γ/κ)^{1 + κ/γ} ),
 * with intensity Λ(δ) = A e^{−κδ} per side, q in lots (orders of one lot; γ is then per lot, as in
 * Guéant's 2017 generalisation with order size Δ: γ_lot = γ·Δ), no quote on a side at ±maxPosition.
 * A, κ, σ come from the config or, when absent, from the rolling calibrator (means of the two sides).
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type { DesiredQuotes, InstrumentSpec, Strategy, StrategyContext } from '../engine/types.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import type { GlftConfig } from './config.ts';
import type { ParamFeed } from './param-feed.ts';
import {
  contextTouch,
  inventoryLots,
  newTouch,
  QuoteInputs,
  quotesFromDepths,
  sameQuotes,
} from './quoting.ts';

export interface GlftDepths {
  /** Bid depth δᵇ and ask depth δᵃ (price below / above mid). */
  deltaBid: number;
  deltaAsk: number;
  halfSpread: number;
  omega: number;
}

export function glftDepths(q: number, gamma: number, sigma: number, A: number, kappa: number): GlftDepths {
  const halfSpread = Math.log(1 + gamma / kappa) / gamma;
  const omega = Math.sqrt(
    ((sigma * sigma * gamma) / (2 * kappa * A)) * (1 + gamma / kappa) ** (1 + kappa / gamma),
  );
  return {
    deltaBid: halfSpread + ((2 * q + 1) / 2) * omega,
    deltaAsk: halfSpread - ((2 * q - 1) / 2) * omega,
    halfSpread,
    omega,
  };
}

export class GlftStrategy implements Strategy {
  readonly name = 'glft';
  readonly config: GlftConfig;
  private readonly inst: InstrumentSpec;
  private readonly size: number;
  private readonly feed: ParamFeed | undefined;
  private A: number;
  private kappa: number;
  private sigma: number;
  private last: DesiredQuotes | undefined;
  private readonly touch = newTouch();
  private lastDepths: GlftDepths | undefined;
  private readonly inputs = new QuoteInputs();
  private version = 0;

  constructor(config: GlftConfig, instrument: InstrumentSpec, feed?: ParamFeed) {
    this.config = config;
    this.inst = instrument;
    this.size = config.orderSize ?? instrument.lotSize;
    this.A = config.A ?? Number.NaN;
    this.kappa = config.kappa ?? Number.NaN;
    this.sigma = config.sigma ?? Number.NaN;
    const allGiven = config.A !== undefined && config.kappa !== undefined && config.sigma !== undefined;
    this.feed = allGiven ? undefined : feed;
  }

  onBook(ev: MarketEvent, ctx: StrategyContext) {
    this.feedEvent(ev, ctx);
    return this.quote(ctx);
  }
  onBbo(ev: MarketEvent, ctx: StrategyContext) {
    this.feedEvent(ev, ctx);
    return this.quote(ctx);
  }
  onTrade(ev: MarketEvent, ctx: StrategyContext) {
    this.feedEvent(ev, ctx);
    return undefined;
  }
  onFill(_f: unknown, ctx: StrategyContext) {
    return this.quote(ctx);
  }
  onGap(gap: Gap) {
    this.feed?.onGap(gap);
  }

  quote(ctx: StrategyContext): DesiredQuotes | undefined {
    const t = contextTouch(ctx, this.touch);
    if (!t || !(t.mid > 0) || !(this.A > 0) || !(this.kappa > 0) || !(this.sigma >= 0)) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    const q = inventoryLots(ctx.position(), this.size);
    if (this.inputs.same(t.bid, t.ask, q, this.version)) return undefined;
    const d = glftDepths(q, this.config.gamma, this.sigma, this.A, this.kappa);
    this.lastDepths = d;
    const max = this.config.maxPosition;
    return this.emit(
      quotesFromDepths(
        {
          mid: t.mid,
          deltaPlus: q <= -max ? Number.NaN : d.deltaAsk,
          deltaMinus: q >= max ? Number.NaN : d.deltaBid,
          bestBid: t.bid,
          bestAsk: t.ask,
          size: this.size,
        },
        this.inst,
      ),
    );
  }

  diagnostics(): Record<string, unknown> {
    return { gamma: this.config.gamma, A: this.A, kappa: this.kappa, sigma: this.sigma, ...this.lastDepths };
  }

  private feedEvent(ev: MarketEvent, ctx: StrategyContext): void {
    if (!this.feed) return;
    const r = this.feed.onEvent(ev);
    if (r) this.useCalibration(r, ctx);
  }

  private useCalibration(r: CalibrationResult, ctx: StrategyContext): void {
    const A = 0.5 * (r.lambdaPlus + r.lambdaMinus);
    const kappa = 0.5 * (r.kappaPlus + r.kappaMinus);
    if (this.config.A === undefined && A > 0 && Number.isFinite(A)) this.A = A;
    if (this.config.kappa === undefined && kappa > 0 && Number.isFinite(kappa)) this.kappa = kappa;
    if (this.config.sigma === undefined && r.sigma >= 0 && Number.isFinite(r.sigma)) this.sigma = r.sigma;
    ctx.record?.('params', {
      strategy: 'glft',
      A: this.A,
      kappa: this.kappa,
      sigma: this.sigma,
      source: r.source,
      at: r.at,
    });
  }

  private emit(q: DesiredQuotes): DesiredQuotes | undefined {
    if (sameQuotes(this.last, q)) return undefined;
    this.last = q;
    return q;
  }
}
