/**
 * Baseline: Guéant, Lehalle & Fernandez-Tapia (2013), "Dealing with the inventory risk", closed-form
 * asymptotic (T → ∞) quotes:
 *   δᵇ(q) = (1/γ) ln(1 + γ/κ) + ((2q + 1)/2) ω,   δᵃ(q) = (1/γ) ln(1 + γ/κ) − ((2q − 1)/2) ω,
 *   ω = sqrt( (σ²γ / (2κA)) · (1 + γ/κ)^{1 + κ/γ} ),
 * with intensity Λ(δ) = A e^{−κδ} per side, q in lots (orders of one lot; γ is then per lot, as in
 * Guéant's 2017 generalisation with order size Δ: γ_lot = γ·Δ), no quote on a side at ±maxPosition.
 * A, κ, σ come from the config or, when absent, from the rolling calibrator (means of the two sides).
 * ξ (`xi`, default γ): Guéant (2017)'s second risk parameter, the one in the spread term: ξ = γ is the CARA
 * utility model (the formulas above), ξ = 0 the risk-neutral-in-spread model (half-spread 1/κ, the power → e):
 *   δ = (1/ξ) ln(1 + ξ/κ) ± …,   ω = sqrt( (σ²γ / (2κA)) · (1 + ξ/κ)^{1 + κ/ξ} ).
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type { DesiredQuotes, InstrumentSpec, StrategyContext } from '../engine/types.ts';
import { FeedQuoter } from './calibrated.ts';
import type { GlftConfig } from './config.ts';
import type { ParamFeed } from './param-feed.ts';
import { contextTouch, inventoryLots } from './quoting.ts';

export interface GlftDepths {
  /** Bid depth δᵇ and ask depth δᵃ (price below / above mid). */
  deltaBid: number;
  deltaAsk: number;
  halfSpread: number;
  omega: number;
}

export function glftDepths(
  q: number,
  gamma: number,
  sigma: number,
  A: number,
  kappa: number,
  xi: number = gamma,
): GlftDepths {
  // ξ → 0: ln(1 + ξ/κ)/ξ → 1/κ and (1 + ξ/κ)^{1+κ/ξ} → e.
  const halfSpread = xi > 0 ? Math.log(1 + xi / kappa) / xi : 1 / kappa;
  const power = xi > 0 ? (1 + xi / kappa) ** (1 + kappa / xi) : Math.E;
  const omega = Math.sqrt(((sigma * sigma * gamma) / (2 * kappa * A)) * power);
  return {
    deltaBid: halfSpread + ((2 * q + 1) / 2) * omega,
    deltaAsk: halfSpread - ((2 * q - 1) / 2) * omega,
    halfSpread,
    omega,
  };
}

export class GlftStrategy extends FeedQuoter {
  readonly name = 'glft';
  readonly config: GlftConfig;
  private A: number;
  private kappa: number;
  private sigma: number;
  private lastDepths: GlftDepths | undefined;

  constructor(config: GlftConfig, instrument: InstrumentSpec, feed?: ParamFeed) {
    const allGiven = config.A !== undefined && config.kappa !== undefined && config.sigma !== undefined;
    super(instrument, config.orderSize, allGiven ? undefined : feed, config);
    this.config = config;
    this.A = config.A ?? Number.NaN;
    this.kappa = config.kappa ?? Number.NaN;
    this.sigma = config.sigma ?? Number.NaN;
  }

  quote(ctx: StrategyContext): DesiredQuotes | undefined {
    const t = contextTouch(ctx, this.touch);
    if (!t || !(t.mid > 0) || !(this.A > 0) || !(this.kappa > 0) || !(this.sigma >= 0)) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    const q = inventoryLots(ctx.position(), this.size);
    const { ref, key } = this.referenceOf(t);
    if (this.inputs.same(t.bid, t.ask, q, this.version, key)) return undefined;
    const d = glftDepths(q, this.config.gamma, this.sigma, this.A, this.kappa, this.config.xi);
    this.lastDepths = d;
    return this.emitBounded(t, q, this.config.maxPosition, d.deltaAsk, d.deltaBid, ctx.clock.now(), ref);
  }

  diagnostics(): Record<string, unknown> {
    return {
      gamma: this.config.gamma,
      A: this.A,
      kappa: this.kappa,
      sigma: this.sigma,
      ...this.lastDepths,
      ...this.reference.diagnostics(),
    };
  }

  protected useCalibration(r: CalibrationResult, ctx: StrategyContext): boolean {
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
    return true;
  }
}
