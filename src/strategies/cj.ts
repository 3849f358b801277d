/**
 * The Cartea–Jaimungal market maker (CJP ch. 10, ../shared/docs/MATH.md).
 * - Every market event feeds the rolling calibrator; each new parameter set (λ±, κ±, ε± at the configured
 *   markout horizon) is turned into ModelParams with the configured φ, α, bounds and the maker fee
 *   c = f·mid, and solved once for every inventory level (solveQuotes). A finite horizon is re-solved at
 *   least every `solveIntervalMs` as T − t shrinks.
 * - At each book/bbo/fill: q = inventory in lots (from the portfolio), bid = mid − δ⁻(q), ask = mid + δ⁺(q),
 *   rounded to the passive side and never crossing the opposite touch; no quote on a side where the model
 *   says none (δ NaN: at an inventory bound, or touch mode declining). Touch mode posts at the touch.
 * - Before the first good calibration: the configured priors, or no quotes. Never a NaN price.
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type { DesiredQuotes, InstrumentSpec, StrategyContext } from '../engine/types.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import type { DriftEffect } from '../model/drift.ts';
import { validateModelParams } from '../model/params.ts';
import { solveQuotes } from '../model/solve.ts';
import type { ModelParams, QuoteTable } from '../model/types.ts';
import { FeedQuoter } from './calibrated.ts';
import {
  buildCjModel,
  type CjModel,
  cjDriftEffects,
  type MarketParams,
  marketParamsFromCalibration,
} from './cj-model.ts';
import type { CjConfig } from './config.ts';
import type { ParamFeed } from './param-feed.ts';
import { contextTouch, inventoryLots, quotesFromDepths, type Touch, timeToHorizon } from './quoting.ts';

export { type MarketParams, marketParamsFromCalibration } from './cj-model.ts';

export class CjStrategy extends FeedQuoter {
  readonly name = 'cj';
  readonly config: CjConfig;
  private readonly qMin: number;
  private readonly qMax: number;
  private market: MarketParams | undefined;
  private marketSource: 'prior' | 'calibration' | undefined;
  private calibratedAt = Number.NaN;
  private params: ModelParams | undefined;
  private model: CjModel | undefined;
  /** The last model built, kept across parameter sets to warm-start the next φ solve. */
  private warm: { phi: number; h?: Float64Array } | undefined;
  private effects: { used: DriftEffect } | undefined;
  private table: QuoteTable | undefined;
  private solvedTau = Number.NaN;
  private solvedMid = Number.NaN;
  /** Parameter sets refused by the model's validation, and solver failures. */
  rejectedParams = 0;
  solves = 0;
  private lastQ = 0;
  private lastMid = Number.NaN;

  constructor(config: CjConfig, instrument: InstrumentSpec, feed?: ParamFeed) {
    super(instrument, config.orderSize, config.calibrate ? feed : undefined, config);
    this.config = config;
    this.qMax = config.qMax;
    this.qMin = config.qMin ?? -config.qMax;
    if (config.calibrate && !feed) throw new Error('cj: calibrate is true but no parameter feed was given');
    const usePriors = config.beforeCalibration
      ? config.beforeCalibration === 'priors'
      : config.priors !== undefined;
    if (config.priors && (usePriors || !config.calibrate)) {
      this.market = { ...config.priors };
      this.marketSource = 'prior';
    }
  }

  /** The solved policy (undefined before the first parameter set). */
  get quoteTable(): QuoteTable | undefined {
    return this.table;
  }
  get modelParams(): ModelParams | undefined {
    return this.params;
  }
  /** The last quotes computed (also when unchanged and therefore not re-emitted). */
  get lastQuotes(): DesiredQuotes | undefined {
    return this.last;
  }

  override onTrade(ev: MarketEvent, ctx: StrategyContext) {
    // Trades change no quote by themselves, but a refresh can be due on any event.
    return this.feedEvent(ev, ctx) ? this.quote(ctx) : undefined;
  }
  onTimer(_now: number, ctx: StrategyContext) {
    return this.quote(ctx);
  }

  quote(ctx: StrategyContext): DesiredQuotes | undefined {
    const t = contextTouch(ctx, this.touch);
    if (!t || !(t.mid > 0)) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    this.ensureSolved(t, ctx);
    const table = this.table;
    if (!table) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    const q = inventoryLots(ctx.position(), this.size);
    if (this.inputs.same(t.bid, t.ask, q, this.solves)) return undefined;
    this.lastQ = q;
    this.lastMid = t.mid;
    const i = Math.min(Math.max(q, this.qMin), this.qMax) - this.qMin;
    let dPlus = table.deltaPlus[i];
    let dMinus = table.deltaMinus[i];
    // Beyond a bound (position from elsewhere): only the reducing side.
    if (q > this.qMax) dMinus = Number.NaN;
    if (q < this.qMin) dPlus = Number.NaN;
    if (this.config.mode === 'touch') {
      // Post at the touch (or not): the depth is the live distance from mid to our side's touch.
      dPlus = Number.isFinite(dPlus) && t.ask > 0 ? t.ask - t.mid : Number.NaN;
      dMinus = Number.isFinite(dMinus) && t.bid > 0 ? t.mid - t.bid : Number.NaN;
    }
    return this.emit(
      quotesFromDepths(
        { mid: t.mid, deltaPlus: dPlus, deltaMinus: dMinus, bestBid: t.bid, bestAsk: t.ask, size: this.size },
        this.inst,
        this.limiter,
        ctx.clock.now(),
      ),
    );
  }

  diagnostics(): Record<string, unknown> {
    const p = this.params;
    const tbl = this.table;
    const i = tbl ? Math.min(Math.max(this.lastQ, this.qMin), this.qMax) - this.qMin : -1;
    return {
      source: this.marketSource ?? 'none',
      calibratedAt: this.calibratedAt,
      calibrationAgeMs: Number.isFinite(this.calibratedAt) ? this.lastEventEx - this.calibratedAt : null,
      params: p ? { ...p } : null,
      kappaEpsilonPlus: p ? p.kappaPlus * p.epsilonPlus : null,
      kappaEpsilonMinus: p ? p.kappaMinus * p.epsilonMinus : null,
      q: this.lastQ,
      mid: this.lastMid,
      deltaPlus: tbl ? tbl.deltaPlus[i] : null,
      deltaMinus: tbl ? tbl.deltaMinus[i] : null,
      solves: this.solves,
      rejectedParams: this.rejectedParams,
      ...this.modelDiagnostics(),
    };
  }

  /** φ, the drift D (model, SE, used) and its effect at q = 0, the depth model, the inventory law. */
  private modelDiagnostics(): Record<string, unknown> {
    const m = this.model;
    if (!m) return {};
    const e = this.effects;
    return {
      phi: m.phi,
      phiSource: m.phiSource,
      phiStatus: m.phiStatus ?? null,
      driftModel: m.drift.model,
      driftStderr: Number.isFinite(m.drift.stderr) ? m.drift.stderr : null,
      driftUsed: m.drift.used,
      driftPolicy: m.drift.policy,
      driftSkew: e ? e.used.effect : null,
      driftHalfSpread: e ? e.used.halfSpread : null,
      driftDominates: e ? e.used.dominates : false,
      depthModelPlus: m.depthModel.plus,
      depthModelMinus: m.depthModel.minus,
      inventoryRms: m.law ? m.law.rms : null,
      inventoryAtBounds: m.law ? m.law.atBounds : null,
    };
  }

  private lastEventEx = Number.NaN;

  /** Feeds the calibrator; true when a new parameter set was adopted. */
  protected override feedEvent(ev: MarketEvent, ctx: StrategyContext): boolean {
    this.lastEventEx = ev.exTime;
    return super.feedEvent(ev, ctx);
  }

  protected useCalibration(r: CalibrationResult, ctx: StrategyContext): boolean {
    if (r.source !== 'fresh' && r.source !== 'last-good') return false;
    const m = marketParamsFromCalibration(r, this.config.markoutMs);
    if (!this.acceptable(m)) {
      this.rejectedParams++;
      ctx.record?.('params', { strategy: 'cj', rejected: true, at: r.at, ...m });
      return false;
    }
    this.market = m;
    this.marketSource = 'calibration';
    this.calibratedAt = r.at;
    this.table = undefined; // re-solve at the next quote, with the fee at the then-current mid
    this.model = undefined;
    return true;
  }

  private acceptable(m: MarketParams): boolean {
    return (
      m.lambdaPlus >= 0 &&
      m.lambdaMinus >= 0 &&
      m.kappaPlus > 0 &&
      m.kappaMinus > 0 &&
      Number.isFinite(
        m.lambdaPlus + m.lambdaMinus + m.kappaPlus + m.kappaMinus + m.epsilonPlus + m.epsilonMinus,
      )
    );
  }

  private ensureSolved(t: Touch, ctx: StrategyContext): void {
    if (!this.market) return;
    const now = ctx.clock.now();
    const finite = this.config.horizon !== 'inf';
    const tau = timeToHorizon(this.config.horizon, now);
    // The fee c = f·mid is part of the model: rebuild it when the mid moved by more than 0.5%.
    const midMoved = !this.model || Math.abs(t.mid - this.solvedMid) > 0.005 * this.solvedMid;
    if (this.table && !midMoved) {
      // Finite horizon: re-solve when T − t moved by the solve interval (or a new session began).
      const tauMoved = finite && Math.abs(this.solvedTau - tau) * 1000 >= this.config.solveIntervalMs;
      if (!tauMoved) return;
    }
    if (!this.model || midMoved) {
      if (!this.rebuildModel(this.market, t.mid, ctx)) return;
    }
    const model = this.model!;
    const p = model.params;
    try {
      this.table =
        finite || !model.stationary
          ? solveQuotes(p, {
              horizon: finite ? tau : Number.POSITIVE_INFINITY,
              mode: this.config.mode,
              halfSpread: this.halfSpread(),
            })
          : model.stationary;
    } catch (err) {
      this.rejectedParams++;
      this.table = undefined;
      ctx.log('cj: solver failed', { error: err instanceof Error ? err.message : String(err) });
      return;
    }
    this.solves++;
    this.solvedTau = tau;
    if (this.params === undefined || !sameModel(this.params, p)) {
      const m = this.market;
      ctx.record?.('params', {
        strategy: 'cj',
        source: this.marketSource,
        ...p,
        sigma: m.sigma,
        kappaEpsilonPlus: p.kappaPlus * p.epsilonPlus,
        kappaEpsilonMinus: p.kappaMinus * p.epsilonMinus,
        horizonSec: finite ? tau : 'inf',
        ...this.modelDiagnostics(),
      });
    }
    this.params = p;
  }

  private halfSpread(): number | undefined {
    return this.config.mode === 'touch' ? (this.config.touchHalfSpread ?? this.inst.tick / 2) : undefined;
  }

  /** The model for the current market and mid: drift policy, depth model, φ (from the target). */
  private rebuildModel(m: MarketParams, mid: number, ctx: StrategyContext): boolean {
    const c = this.config;
    const refuse = (errors: string[]) => {
      this.rejectedParams++;
      this.market = undefined;
      this.model = undefined;
      this.table = undefined;
      ctx.record?.('params', { strategy: 'cj', rejected: true, errors });
      ctx.log('cj: parameters refused by the model', { errors });
      return false;
    };
    const feePerFill = this.inst.makerFee * mid;
    const probe = validateModelParams({
      ...m,
      phi: c.phi ?? 0,
      alpha: c.alpha,
      qMin: this.qMin,
      qMax: this.qMax,
      feePerFill,
    });
    if (probe.length > 0) return refuse(probe);
    let model: CjModel;
    try {
      model = buildCjModel(
        m,
        {
          phi: c.phi,
          inventoryTarget: c.inventoryTarget,
          alpha: c.alpha,
          qMin: this.qMin,
          qMax: this.qMax,
          feePerFill,
          drift: c.drift,
          depthModel: c.depthModel,
          mode: c.mode,
          halfSpread: this.halfSpread(),
          stationary: c.horizon === 'inf',
        },
        this.warm,
      );
    } catch (err) {
      this.rejectedParams++;
      this.model = undefined;
      this.table = undefined;
      ctx.log('cj: solver failed', { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    const wasDominating = this.effects?.used.dominates ?? false;
    this.model = model;
    this.warm = { phi: model.phi, h: model.stationary?.h };
    this.solvedMid = mid;
    try {
      // The used drift's effect only (the model D's would cost another solve per refresh).
      this.effects = cjDriftEffects(model, c.mode, this.halfSpread(), false);
    } catch {
      this.effects = undefined;
    }
    const e = this.effects?.used;
    if (e?.dominates && !wasDominating) {
      ctx.log(
        'cj: the drift D dominates the quotes',
        {
          drift: model.drift.used,
          driftModel: model.drift.model,
          driftStderr: model.drift.stderr,
          skewAtZero: e.effect,
          halfSpread: e.halfSpread,
          hint: "D moves the quote centre by more than half the half-spread; consider drift: 'shrink' or 'zero'",
        },
        'warn',
      );
    }
    return true;
  }
}

function sameModel(a: ModelParams, b: ModelParams): boolean {
  return (
    a.phi === b.phi &&
    a.drift === b.drift &&
    a.fillPlus === b.fillPlus &&
    a.fillMinus === b.fillMinus &&
    a.lambdaPlus === b.lambdaPlus &&
    a.lambdaMinus === b.lambdaMinus &&
    a.kappaPlus === b.kappaPlus &&
    a.kappaMinus === b.kappaMinus &&
    a.epsilonPlus === b.epsilonPlus &&
    a.epsilonMinus === b.epsilonMinus
  );
}
