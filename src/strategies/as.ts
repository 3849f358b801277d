/**
 * Baseline: Avellaneda & Stoikov (2008), "High-frequency trading in a limit order book".
 * Reservation price r = s − q γ σ² (T − t); total spread γ σ² (T − t) + (2/γ) ln(1 + γ/k), centred on r:
 *   δ⁻ (bid depth) = s − bid = q γ σ² τ + spread/2,   δ⁺ (ask depth) = ask − s = −q γ σ² τ + spread/2.
 * q in lots (orders of one lot), γ per lot (1/USD), σ in USD/√s, k in 1/USD, τ = T − t in seconds.
 * AS is a finite-horizon model; for a perpetual the "infinite" variant holds τ fixed at `tauSec`
 * (receding horizon), a finite `horizon` uses sessions ending at multiples of T seconds (UTC).
 * σ and k come from the config or, when absent, from the rolling calibrator (k = mean of κ⁺, κ⁻).
 * s is the configured reference price (mid by default; micro-price or weighted mid: reference.ts).
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type { DesiredQuotes, InstrumentSpec, StrategyContext } from '../engine/types.ts';
import { FeedQuoter } from './calibrated.ts';
import type { AsConfig } from './config.ts';
import type { ParamFeed } from './param-feed.ts';
import { contextTouch, inventoryLots, timeToHorizon } from './quoting.ts';

export interface AsDepths {
  deltaPlus: number;
  deltaMinus: number;
  reservationOffset: number;
  spread: number;
}

/** The AS closed form: depths from mid for inventory q (lots). */
export function asDepths(q: number, gamma: number, sigma: number, k: number, tau: number): AsDepths {
  const risk = gamma * sigma * sigma * tau;
  const spread = risk + (2 / gamma) * Math.log(1 + gamma / k);
  const reservationOffset = -q * risk;
  return {
    deltaPlus: spread / 2 + reservationOffset,
    deltaMinus: spread / 2 - reservationOffset,
    reservationOffset,
    spread,
  };
}

export class AvellanedaStoikovStrategy extends FeedQuoter {
  readonly name = 'as';
  readonly config: AsConfig;
  private sigma: number;
  private k: number;
  private lastDepths: AsDepths | undefined;

  constructor(config: AsConfig, instrument: InstrumentSpec, feed?: ParamFeed) {
    // Only calibrate what the config leaves open.
    super(
      instrument,
      config.orderSize,
      config.sigma !== undefined && config.k !== undefined ? undefined : feed,
      config,
    );
    this.config = config;
    this.sigma = config.sigma ?? Number.NaN;
    this.k = config.k ?? Number.NaN;
  }

  onTimer(_now: number, ctx: StrategyContext) {
    return this.config.horizon === 'inf' ? undefined : this.quote(ctx);
  }

  quote(ctx: StrategyContext): DesiredQuotes | undefined {
    const t = contextTouch(ctx, this.touch);
    if (!t || !(t.mid > 0) || !(this.sigma >= 0) || !(this.k > 0)) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    const q = inventoryLots(ctx.position(), this.size);
    const tau = timeToHorizon(this.config.horizon, ctx.clock.now(), this.config.tauSec);
    const { ref, key } = this.referenceOf(t);
    // With a finite horizon τ changes every call: the cache key includes it through the version.
    if (this.inputs.same(t.bid, t.ask, q, this.config.horizon === 'inf' ? this.version : -2 - tau, key))
      return undefined;
    const d = asDepths(q, this.config.gamma, this.sigma, this.k, tau);
    this.lastDepths = d;
    return this.emitBounded(t, q, this.config.maxPosition, d.deltaPlus, d.deltaMinus, ctx.clock.now(), ref);
  }

  diagnostics(): Record<string, unknown> {
    return {
      gamma: this.config.gamma,
      sigma: this.sigma,
      k: this.k,
      ...this.lastDepths,
      ...this.reference.diagnostics(),
    };
  }

  protected useCalibration(r: CalibrationResult, ctx: StrategyContext): boolean {
    const k = 0.5 * (r.kappaPlus + r.kappaMinus);
    if (this.config.k === undefined && k > 0 && Number.isFinite(k)) this.k = k;
    if (this.config.sigma === undefined && r.sigma >= 0 && Number.isFinite(r.sigma)) this.sigma = r.sigma;
    ctx.record?.('params', { strategy: 'as', k: this.k, sigma: this.sigma, source: r.source, at: r.at });
    return true;
  }
}
