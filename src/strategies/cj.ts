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
 * - Inventory control (src/strategies/cj-model.ts): the drift D the quotes use (`drift`), the fill model per
 *   side (`depthModel`: the two-part model of a one-tick book where the calibration prefers it) and φ (fixed,
 *   or solved each refresh from `inventoryTarget`); a warning when D dominates the quotes.
 * - `reference`: the quotes are centred on the mid (default), the micro-price or the weighted mid.
 * - `signal: 'imbalance'`: the calibrator also estimates the imbalance-regime model (generator and per-regime
 *   λ±, κ±, ε±); the HJB over (inventory, regime) is solved for every regime (src/model/regime.ts) and each
 *   quote uses the table of the current regime, read from the touch sizes. With one regime this is exactly
 *   the plain model. A regime model that cannot be used (a regime never seen or never left) keeps the last
 *   good one, else the pooled model quotes (counted).
 */
import { regimeOfTouch } from '../calibration/rolling/regimes.ts';
import type { CalibrationResult } from '../calibration/types.ts';
import type { DesiredQuotes, InstrumentSpec, StrategyContext } from '../engine/types.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import type { DriftEffect } from '../model/drift.ts';
import { validateModelParams } from '../model/params.ts';
import { type RegimeQuoteTable, solveRegimeQuotes } from '../model/regime.ts';
import { type RegimeMarket, regimeMarketOf } from '../model/regime-file.ts';
import {
  type JointInventoryLaw,
  type RegimePhiSolution,
  solveRegimePhiForTarget,
  stationaryRegimeInventory,
} from '../model/regime-inventory.ts';
import { solveQuotes } from '../model/solve.ts';
import type { ModelParams, QuoteTable } from '../model/types.ts';
import { FeedQuoter } from './calibrated.ts';
import {
  buildCjModel,
  type CjModel,
  cjDriftEffects,
  driftDominanceHint,
  type MarketParams,
  marketParamsFromCalibration,
  regimeMarketFromCalibration,
  regimeModelParams,
} from './cj-model.ts';
import { type CjConfig, DEFAULT_REGIME_MIN_CHANGE_SE } from './config.ts';
import type { ParamFeed } from './param-feed.ts';
import {
  contextTouch,
  inventoryLots,
  newDepthQuote,
  quotesFromDepths,
  type Touch,
  timeToHorizon,
} from './quoting.ts';

export {
  type MarketParams,
  marketParamsFromCalibration,
  regimeMarketFromCalibration,
} from './cj-model.ts';

export class CjStrategy extends FeedQuoter {
  readonly name = 'cj';
  readonly config: CjConfig;
  private readonly qMin: number;
  private readonly qMax: number;
  private market: MarketParams | undefined;
  private marketSource: 'prior' | 'calibration' | undefined;
  private calibratedAt = Number.NaN;
  private params: ModelParams | undefined;
  /** The model in force (drift, depth model, φ) and its stationary table; rebuilt per parameter set and mid move. */
  private model: CjModel | undefined;
  /** The last model built, kept across parameter sets to warm-start the next φ solve. */
  private warm: { phi: number; h?: Float64Array } | undefined;
  /**
   * The drift's effect at q = 0 (one more stationary solve), of the last model built: computed when first
   * asked for (diagnostics, journal, the dominance warning), not at every rebuild.
   */
  private effects: { used: DriftEffect } | undefined;
  private effectsOf: CjModel | undefined;
  private builtModel: CjModel | undefined;
  private table: QuoteTable | undefined;
  private solvedTau = Number.NaN;
  private solvedMid = Number.NaN;
  /** Parameter sets refused by the model's validation, and solver failures. */
  rejectedParams = 0;
  solves = 0;
  private lastQ = 0;
  private lastMid = Number.NaN;
  /** The quoting layer's input, filled per quote (quotesFromDepths keeps no reference to it). */
  private readonly depthQuote = newDepthQuote();
  // Imbalance signal: the regime model in force, its per-regime tables, and where it came from.
  private readonly thresholds: number[];
  private regimeMarket: RegimeMarket | undefined;
  private regimeSource: 'prior' | 'calibration' | undefined;
  private regimeTables: QuoteTable[] | undefined;
  /** The last regime solution (Newton's warm start at the next re-solve). */
  private regimeSolution: RegimeQuoteTable | undefined;
  private lastRegime = -1;
  /** The pooled model of the last solve and its horizon (its table is solved lazily with a regime model). */
  private pooledParams: ModelParams | undefined;
  private pooledHorizon = Number.POSITIVE_INFINITY;
  /** Calibrations whose regime model could not be used; quotes made with the pooled table (regime unknown). */
  regimeFallbacks = 0;
  pooledQuotes = 0;
  /** The drift each regime's table uses (after the `drift` policy). */
  private regimeDriftsUsed: number[] = [];
  /**
   * φ of the regime tables: from the inventory target on the joint (inventory, regime) law of the regime
   * model's controlled chain (the pooled model's φ would ignore how long each regime pushes inventory its
   * way); the config's φ when fixed. With the law at that φ (stationary) and the solve's status.
   */
  private regimePhi: number | undefined;
  private regimePhiStatus: RegimePhiSolution['status'] | 'config' | 'pooled' | undefined;
  private regimeLaw: JointInventoryLaw | undefined;
  /** d ln(metric)/d ln φ of the last regime φ search (its first step at the next refresh). */
  private regimePhiSlope: number | undefined;
  /** Standard errors of the calibrated generator's rates (row-major), with the regime model in force. */
  private regimeGeneratorStderr: number[] | undefined;
  /**
   * What the last stationary regime solve was made from (`regimes.minChangeSe`: its tables stand while every
   * calibrated input stays within that many SEs of these).
   */
  private regimeSolvedFrom:
    | {
        market: RegimeMarket;
        generatorStderr: number[] | undefined;
        pooled: ModelParams;
        tables: QuoteTable[];
      }
    | undefined;
  /** New calibrations whose regime model stayed within `regimes.minChangeSe` of the last solve's. */
  regimeSolvesSkipped = 0;

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
    const count = config.regimes?.count ?? config.regimePriors?.params.length ?? 3;
    this.thresholds =
      config.regimes?.thresholds ??
      config.regimePriors?.thresholds ??
      Array.from({ length: count - 1 }, (_, k) => (k + 1) / count);
    if (config.signal === 'imbalance' && config.regimePriors && (usePriors || !config.calibrate)) {
      this.regimeMarket = regimeMarketOf({ ...config.regimePriors, thresholds: this.thresholds });
      this.regimeSource = 'prior';
    }
  }

  /** The per-regime tables in force (signal 'imbalance'; undefined otherwise or before the first model). */
  get regimeQuoteTables(): QuoteTable[] | undefined {
    return this.regimeTables;
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
    if (!this.table && !this.regimeTables) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    const q = inventoryLots(ctx.position(), this.size);
    // The reference and its cache key as referenceOf gives them, without its object (every market event).
    const ref = this.reference.price(t);
    const key = this.reference.sizeDependent ? ref : 0;
    // The current regime (signal 'imbalance'): from the touch sizes; −1 when unknown.
    const regime = this.regimeTables ? regimeOfTouch(t.bidSz, t.askSz, this.thresholds) : -1;
    if (this.inputs.same(t.bid, t.ask, q, this.solves * 16 + regime + 1, key)) return undefined;
    this.lastQ = q;
    this.lastMid = t.mid;
    this.lastRegime = regime;
    const use = regime >= 0 && this.regimeTables ? this.regimeTables[regime] : this.pooledTable(ctx);
    if (!use) return this.emit({ bid: null, ask: null });
    if (this.regimeTables && regime < 0) this.pooledQuotes++;
    const i = Math.min(Math.max(q, this.qMin), this.qMax) - this.qMin;
    let dPlus = use.deltaPlus[i];
    let dMinus = use.deltaMinus[i];
    // Beyond a bound (position from elsewhere): only the reducing side.
    if (q > this.qMax) dMinus = Number.NaN;
    if (q < this.qMin) dPlus = Number.NaN;
    // Touch mode posts at the touch (or not): the depth is the live distance from the reference to our side's
    // touch. Worked out on every call whatever the mode and side, used in touch mode where the side is quoted:
    // arithmetic that runs only there was first met by the compiled quote() of a hyperopt worker (epochs of
    // the other mode, or of a touch policy resting at q = 0 that quotes neither side) — a deopt and a recompile.
    const toAsk = t.ask - ref;
    const toBid = ref - t.bid;
    const postAsk = t.ask > 0 && Number.isFinite(dPlus);
    const postBid = t.bid > 0 && Number.isFinite(dMinus);
    const none = Number.NaN;
    if (this.config.mode === 'touch') {
      dPlus = postAsk ? toAsk : none;
      dMinus = postBid ? toBid : none;
    }
    const d = this.depthQuote;
    d.mid = ref;
    d.deltaPlus = dPlus;
    d.deltaMinus = dMinus;
    d.bestBid = t.bid;
    d.bestAsk = t.ask;
    d.size = this.size;
    return this.emit(quotesFromDepths(d, this.inst, this.limiter, ctx.clock.now(), this.last));
  }

  diagnostics(): Record<string, unknown> {
    const p = this.params;
    const tbl = this.regimeTables && this.lastRegime >= 0 ? this.regimeTables[this.lastRegime] : this.table;
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
      ...this.reference.diagnostics(),
      ...(this.config.signal === 'imbalance'
        ? {
            signal: 'imbalance',
            regime: this.lastRegime,
            regimeSource: this.regimeSource ?? 'none',
            regimeFallbacks: this.regimeFallbacks,
            regimeSolvesSkipped: this.regimeSolvesSkipped,
            pooledQuotes: this.pooledQuotes,
            regimeDriftUsed: Object.fromEntries(this.regimeDriftsUsed.map((d, z) => [z, d])),
            regimePhi: this.regimePhi ?? null,
            regimePhiStatus: this.regimePhiStatus ?? null,
            regimeInventoryRms: this.regimeLaw ? this.regimeLaw.rms : null,
            regimeInventoryAtBounds: this.regimeLaw ? this.regimeLaw.atBounds : null,
          }
        : {}),
    };
  }

  /** φ, the drift D (model, SE, used) and its effect at q = 0, the depth model, the inventory law. */
  private modelDiagnostics(): Record<string, unknown> {
    const m = this.model;
    if (!m) return {};
    const e = this.driftEffects();
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
    this.regimeTables = undefined;
    if (this.config.signal === 'imbalance') {
      const rm = r.regimes ? regimeMarketFromCalibration(r.regimes) : undefined;
      if (rm) {
        this.regimeMarket = rm;
        this.regimeGeneratorStderr = r.regimes?.generatorStderr.flat();
        this.regimeSource = 'calibration';
      } else {
        this.regimeFallbacks++;
        ctx.record?.('params', {
          strategy: 'cj',
          regimeModel: 'unusable',
          at: r.at,
          flags: r.regimes?.quality.flags,
        });
      }
    }
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
    const finite = this.config.horizon !== 'inf';
    // The fee c = f·mid is part of the model: rebuild it when the mid moved by more than 0.5%.
    const midMoved = !this.model || Math.abs(t.mid - this.solvedMid) > 0.005 * this.solvedMid;
    const solved = this.table !== undefined || this.regimeTables !== undefined;
    // Stationary quotes do not move with time: nothing to do (this runs on every market event).
    if (solved && !midMoved && !finite) return;
    const tau = finite ? timeToHorizon(this.config.horizon, ctx.clock.now()) : Number.POSITIVE_INFINITY;
    if (solved && !midMoved) {
      // Finite horizon: re-solve when T − t moved by the solve interval (or a new session began).
      const tauMoved = Math.abs(this.solvedTau - tau) * 1000 >= this.config.solveIntervalMs;
      if (!tauMoved) return;
    }
    if (!this.model || midMoved) {
      if (!this.rebuildModel(this.market, t.mid, ctx)) return;
    }
    const model = this.model!;
    const p = model.params;
    const horizon = finite ? tau : Number.POSITIVE_INFINITY;
    this.table = !finite && model.stationary ? model.stationary : undefined;
    this.regimeTables = undefined;
    this.pooledParams = p;
    this.pooledHorizon = horizon;
    // With a regime model the pooled table is only a fallback (regime unknown): solved when first needed.
    if (this.config.signal === 'imbalance' && this.regimeMarket) this.solveRegimes(p, horizon, ctx);
    if (!this.regimeTables && !this.pooledTable(ctx)) return;
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

  /** The effect of the drift used, for the last model built (computed once per model). */
  private driftEffects(): { used: DriftEffect } | undefined {
    const model = this.builtModel;
    if (model !== this.effectsOf) {
      this.effectsOf = model;
      try {
        // The used drift's effect only (the model D's would cost another solve per refresh).
        this.effects = model ? cjDriftEffects(model, this.config.mode, this.halfSpread(), false) : undefined;
      } catch {
        this.effects = undefined;
      }
    }
    return this.effects;
  }

  private halfSpread(): number | undefined {
    return this.config.mode === 'touch' ? (this.config.touchHalfSpread ?? this.inst.tick / 2) : undefined;
  }

  /** The model for the current market and mid: drift policy, depth model, φ (from the target). */
  private rebuildModel(m: MarketParams, mid: number, ctx: StrategyContext): boolean {
    const c = this.config;
    const feePerFill = this.inst.makerFee * mid;
    const errors = validateModelParams({
      ...m,
      phi: c.phi ?? 0,
      alpha: c.alpha,
      qMin: this.qMin,
      qMax: this.qMax,
      feePerFill,
    });
    if (errors.length > 0) {
      this.rejectedParams++;
      this.market = undefined;
      this.model = undefined;
      this.table = undefined;
      this.regimeTables = undefined;
      ctx.record?.('params', { strategy: 'cj', rejected: true, errors });
      ctx.log('cj: parameters refused by the model', { errors });
      return false;
    }
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
      this.regimeTables = undefined;
      ctx.log('cj: solver failed', { error: err instanceof Error ? err.message : String(err) });
      return false;
    }
    // The dominance warning compares with the previous model's effect: needed only when logs are read.
    const wasDominating = ctx.logging !== false ? (this.driftEffects()?.used.dominates ?? false) : false;
    this.model = model;
    this.builtModel = model;
    this.warm = { phi: model.phi, h: model.stationary?.h };
    this.solvedMid = mid;
    if (ctx.logging === false) return true;
    const e = this.driftEffects()?.used;
    if (e?.dominates && !wasDominating) {
      ctx.log(
        'cj: the drift D dominates the quotes',
        {
          drift: model.drift.used,
          driftModel: model.drift.model,
          driftStderr: model.drift.stderr,
          skewAtZero: e.effect,
          halfSpread: e.halfSpread,
          hint: `D moves the quote centre by more than half the half-spread; ${driftDominanceHint(model.drift.policy, model.drift.z)}`,
        },
        'warn',
      );
    }
    return true;
  }

  /** The pooled (one-regime) table of the parameters in force, solved on first use. */
  private pooledTable(ctx: StrategyContext): QuoteTable | undefined {
    if (this.table) return this.table;
    const p = this.pooledParams;
    if (!p) return undefined;
    try {
      this.table = solveQuotes(p, {
        horizon: this.pooledHorizon,
        mode: this.config.mode,
        halfSpread:
          this.config.mode === 'touch' ? (this.config.touchHalfSpread ?? this.inst.tick / 2) : undefined,
      });
    } catch (err) {
      this.rejectedParams++;
      this.pooledParams = undefined;
      ctx.log('cj: solver failed', { error: err instanceof Error ? err.message : String(err) });
      return undefined;
    }
    return this.table;
  }

  /** Per-regime tables from the regime model in force, with φ, α, bounds and fee of the pooled model p. */
  private solveRegimes(p: ModelParams, horizon: number, ctx: StrategyContext): void {
    const rm = this.regimeMarket;
    if (!rm) return;
    // One regime is the pooled model (with its drift policy and depth model): its table, exactly.
    if (rm.params.length === 1) {
      const t = this.pooledTable(ctx);
      this.regimeTables = t ? [t] : undefined;
      return;
    }
    const stationary = horizon === Number.POSITIVE_INFINITY;
    const minChangeSe = this.config.regimes?.minChangeSe ?? DEFAULT_REGIME_MIN_CHANGE_SE;
    const from = this.regimeSolvedFrom;
    if (stationary && minChangeSe > 0 && from) {
      if (regimeModelWithin(from, rm, this.regimeGeneratorStderr, p, minChangeSe)) {
        this.regimeSolvesSkipped++;
        this.regimeTables = from.tables;
        return;
      }
    }
    this.regimeSolvedFrom = undefined;
    const { regimes, driftsUsed: used } = regimeModelParams(rm.params, p, this.config.drift);
    this.regimeDriftsUsed = used;
    // φ: from the inventory target on the joint (inventory, regime) law, warm-started from the last refresh
    // (and first from the pooled φ); the pooled φ if that solve fails; the config's φ when fixed.
    let phi = p.phi;
    let fromTarget: RegimePhiSolution | undefined;
    const target = this.model?.phiSource === 'target' ? this.model.target : undefined;
    if (target) {
      const warm = this.regimePhi !== undefined && this.regimePhiStatus !== 'pooled';
      try {
        fromTarget = solveRegimePhiForTarget({ regimes, generator: rm.generator }, target, {
          guess: warm ? this.regimePhi : p.phi,
          warmStart: this.regimeSolution,
          relTol: warm ? REGIME_TARGET_BAND : undefined,
          phiRelTol: warm ? REGIME_TARGET_BAND : undefined,
          keepWithin: warm ? REGIME_TARGET_BAND : undefined,
          slope: warm ? this.regimePhiSlope : undefined,
        });
        if (fromTarget.slope !== undefined) this.regimePhiSlope = fromTarget.slope;
        phi = fromTarget.phi;
        this.regimePhiStatus = fromTarget.status;
      } catch (err) {
        this.regimePhiStatus = 'pooled';
        ctx.log('cj: φ from the inventory target on the regime model failed; using the pooled φ', {
          error: err instanceof Error ? err.message : String(err),
        });
      }
    } else this.regimePhiStatus = 'config';
    this.regimePhi = phi;
    if (phi !== p.phi) for (const q of regimes) q.phi = phi;
    try {
      const sol =
        stationary && fromTarget
          ? fromTarget.solution
          : solveRegimeQuotes(
              { regimes, generator: rm.generator },
              { horizon, warmStart: stationary ? this.regimeSolution : undefined },
            );
      // Newton's warm start for the next stationary solve (the φ search's, also under a finite horizon).
      if (fromTarget) this.regimeSolution = fromTarget.solution;
      else if (stationary) this.regimeSolution = sol;
      this.regimeTables = sol.tables;
      this.regimeLaw = fromTarget?.law ?? (stationary ? jointLawOrUndefined(sol, rm.generator) : undefined);
      if (stationary && minChangeSe > 0)
        this.regimeSolvedFrom = {
          market: rm,
          generatorStderr: this.regimeGeneratorStderr,
          pooled: p,
          tables: sol.tables,
        };
    } catch (err) {
      this.regimeFallbacks++;
      this.regimeTables = undefined;
      this.regimeLaw = undefined;
      ctx.log('cj: regime solver failed; quoting the pooled model', {
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }
}

const REGIME_KEYS = [
  'lambdaPlus',
  'lambdaMinus',
  'kappaPlus',
  'kappaMinus',
  'epsilonPlus',
  'epsilonMinus',
] as const;

/** |a − b| ≤ k·SE; without a finite SE > 0 only an unchanged value is within. */
function withinSe(a: number, b: number, se: number | undefined, k: number): boolean {
  if (a === b) return true;
  return se !== undefined && se > 0 && Number.isFinite(se) && Math.abs(a - b) <= k * se;
}

/**
 * True when the regime model `rm` (with its generator's SEs) and the pooled model `p` it is solved with are
 * close enough to what the last regime solve was made from for its tables to stand: the same α and bounds, the fee within 0.5 % (as a mid move re-solves), and every regime's λ±, κ±, ε± and every
 * generator rate within k of its standard error (the new calibration's), so a re-solve would only follow the
 * estimates' noise. Compared with the last SOLVE's inputs, so a parameter that keeps drifting is re-solved.
 */
function regimeModelWithin(
  from: NonNullable<CjStrategy['regimeSolvedFrom']>,
  rm: RegimeMarket,
  generatorStderr: number[] | undefined,
  p: ModelParams,
  k: number,
): boolean {
  // φ: fixed by the config, or the regime search's own (the pooled φ only seeds it); the pooled drift is not
  // the regimes' (each has its own).
  const q = from.pooled;
  if (q.alpha !== p.alpha || q.qMin !== p.qMin || q.qMax !== p.qMax) return false;
  if (!(Math.abs(p.feePerFill - q.feePerFill) <= 0.005 * Math.abs(q.feePerFill))) return false;
  const a = from.market;
  const m = rm.params.length;
  if (a.params.length !== m) return false;
  for (let z = 0; z < m; z++) {
    const x = rm.params[z];
    const y = a.params[z];
    const se = (x as { stderr?: Record<string, number> }).stderr;
    for (const key of REGIME_KEYS) if (!withinSe(x[key], y[key], se?.[key], k)) return false;
  }
  for (let i = 0; i < m * m; i++)
    if (!withinSe(rm.generator[i], a.generator[i], generatorStderr?.[i], k)) return false;
  return true;
}

/**
 * A rolling refresh keeps the regime model's φ while the joint law's metric stays within ±5 % of the target
 * (one regime solve, as without a target); further off it searches again (to 1 % of the target). The regime
 * solves on calibrated regimes are ~10× the pooled one's, and a risk target needs no more precision.
 */
const REGIME_TARGET_BAND = 0.05;

function jointLawOrUndefined(
  sol: RegimeQuoteTable,
  generator: ArrayLike<number>,
): JointInventoryLaw | undefined {
  try {
    return stationaryRegimeInventory(sol.tables, generator);
  } catch {
    return undefined;
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
