/**
 * From market parameters (calibrated or priors) and the cj settings to the model the strategy solves:
 * - the drift D = λ⁺ε⁺ − λ⁻ε⁻ the quotes use (`drift: model | shrink | zero`, src/model/drift.ts);
 * - the depth model per side (`depthModel: auto | exponential | two-part`): the exponential λe^{−κδ}, or the
 *   two-part model of a one-tick book (mass at the touch + exponential tail) as a `levels` fill curve;
 * - φ: as configured, or solved from `inventoryTarget` so the stationary inventory law meets it.
 * Pure: cj.ts, `cjmm quote` and `cjmm calibrate` share it.
 */
import type {
  CalibrationResult,
  QuotingSummary,
  RegimeCalibration,
  RegimeQuotingSummary,
} from '../calibration/types.ts';
import {
  DOMINANCE_RATIO,
  type DriftEffect,
  type DriftPolicy,
  driftEffect,
  driftEstimate,
  shrinkFactor,
  usedDrift,
} from '../model/drift.ts';
import { type LevelsFill, twoPartCurve } from '../model/fill-rate.ts';
import {
  type InventoryLaw,
  type InventoryTarget,
  type PhiSolution,
  solvePhiForTarget,
  stationaryInventory,
} from '../model/inventory.ts';
import { modelDrift } from '../model/params.ts';
import {
  generatorIrreducible,
  type RegimeQuoteTable,
  regimeStationaryLaw,
  solveRegimeQuotes,
} from '../model/regime.ts';
import { type RegimeMarket, regimeMarketOf } from '../model/regime-file.ts';
import { solveRegimePhiForTarget, stationaryRegimeInventory } from '../model/regime-inventory.ts';
import { solveQuotes } from '../model/solve.ts';
import type { ModelParams, QuoteMode, QuoteTable } from '../model/types.ts';

/** The inventory target cj uses when neither `phi` nor `inventoryTarget` is configured. */
export const DEFAULT_INVENTORY_TARGET: Readonly<InventoryTarget> = { stdLots: 2 };

/** The market part of the model's parameters (what calibration estimates). */
export interface MarketParams {
  lambdaPlus: number;
  lambdaMinus: number;
  kappaPlus: number;
  kappaMinus: number;
  epsilonPlus: number;
  epsilonMinus: number;
  sigma?: number;
  /** SE of D = λ⁺ε⁺ − λ⁻ε⁻ (price/s); absent for user-given parameters (then `shrink` uses D as given). */
  driftStderr?: number;
  /** Two-part fill curves per side where the calibration could fit them, and whether it prefers them. */
  twoPartPlus?: LevelsFill;
  twoPartMinus?: LevelsFill;
  preferTwoPartPlus?: boolean;
  preferTwoPartMinus?: boolean;
}

/** ε± from the markout at `markoutMs` when the calibration reports it, else the headline ε±; with D's SE. */
export function marketParamsFromCalibration(r: CalibrationResult, markoutMs: number): MarketParams {
  let epsilonPlus = r.epsilonPlus;
  let epsilonMinus = r.epsilonMinus;
  let sePlus = r.stderr?.epsilonPlus;
  let seMinus = r.stderr?.epsilonMinus;
  let cov = 0;
  const headline = r.markouts?.find((x) => x.horizon === r.markoutHorizon);
  if (headline?.covariance !== undefined && Number.isFinite(headline.covariance)) cov = headline.covariance;
  if (markoutMs > 0) {
    const m = r.markouts?.find((x) => Math.abs(x.horizonSec * 1000 - markoutMs) < 1e-6);
    if (m && Number.isFinite(m.plus.mean) && Number.isFinite(m.minus.mean)) {
      epsilonPlus = m.plus.mean;
      epsilonMinus = m.minus.mean;
      sePlus = m.plus.stderr;
      seMinus = m.minus.stderr;
      cov = m.covariance !== undefined && Number.isFinite(m.covariance) ? m.covariance : 0;
    }
  }
  const out: MarketParams = {
    lambdaPlus: r.lambdaPlus,
    lambdaMinus: r.lambdaMinus,
    kappaPlus: r.kappaPlus,
    kappaMinus: r.kappaMinus,
    epsilonPlus,
    epsilonMinus,
    sigma: r.sigma,
  };
  const se = r.stderr;
  if (se && [se.lambdaPlus, se.lambdaMinus, sePlus, seMinus].every((x) => Number.isFinite(x))) {
    out.driftStderr = driftEstimate(
      out,
      { lambdaPlus: se.lambdaPlus, lambdaMinus: se.lambdaMinus, epsilonPlus: sePlus, epsilonMinus: seMinus },
      cov,
    ).stderr;
  }
  const dm = r.depthModel;
  const tick = r.spread?.tick;
  if (dm && tick > 0) {
    const tp = dm.plus.twoPart;
    const tm = dm.minus.twoPart;
    if (tp) out.twoPartPlus = twoPartCurve(tick, tp.touchRate, tp.touchShare, tp.kappaTail);
    if (tm) out.twoPartMinus = twoPartCurve(tick, tm.touchRate, tm.touchShare, tm.kappaTail);
    out.preferTwoPartPlus = dm.plus.use === 'two-part';
    out.preferTwoPartMinus = dm.minus.use === 'two-part';
  }
  return out;
}

export type DepthModelSetting = 'auto' | 'exponential' | 'two-part';

export interface CjModelSettings {
  /** Fixed φ; undefined = solve it from `inventoryTarget` (or DEFAULT_INVENTORY_TARGET). */
  phi?: number;
  inventoryTarget?: InventoryTarget;
  alpha: number;
  qMin: number;
  qMax: number;
  feePerFill: number;
  drift: DriftPolicy;
  depthModel: DepthModelSetting;
  mode: QuoteMode;
  /** Touch mode: Δ/2. */
  halfSpread?: number;
  /** false: a finite horizon, where the two-part model is not used by `auto` (its solve is too slow to repeat). */
  stationary: boolean;
}

export interface CjModel {
  params: ModelParams;
  /** D = λ⁺ε⁺ − λ⁻ε⁻, its SE (NaN when unknown), z, the share `shrink` keeps, and the D used. */
  drift: {
    model: number;
    stderr: number;
    z: number;
    shrinkFactor: number;
    used: number;
    policy: DriftPolicy;
  };
  depthModel: { plus: 'exponential' | 'two-part'; minus: 'exponential' | 'two-part' };
  /** φ and where it came from; with a target, the solve's status. */
  phi: number;
  phiSource: 'config' | 'target';
  target?: InventoryTarget;
  phiStatus?: PhiSolution['status'];
  /**
   * The stationary quote table at φ (depth or touch mode) and its inventory law; undefined only for a finite
   * horizon whose parameters have no stationary solution (a side with λ = 0).
   */
  stationary: QuoteTable | undefined;
  law: InventoryLaw | undefined;
}

/**
 * Builds the model. `warm` (the previous φ and stationary h) warm-starts the target solve, which then stops at
 * 1 % of the target or 2 % of φ (a risk target needs no more, and a rolling strategy re-solves every refresh). Throws what the solvers throw
 * (invalid parameters, no stationary solution); the caller decides what to do with the parameter set.
 */
export function buildCjModel(
  m: MarketParams,
  s: CjModelSettings,
  warm?: { phi: number; h?: Float64Array },
): CjModel {
  const D = modelDrift(m);
  const se = m.driftStderr ?? Number.NaN;
  const used = usedDrift(s.drift, D, m.driftStderr);
  const twoPartAllowed = s.mode === 'depth' && (s.stationary || s.depthModel === 'two-part');
  const pick = (curve: LevelsFill | undefined, prefer: boolean | undefined) =>
    curve && twoPartAllowed && (s.depthModel === 'two-part' || (s.depthModel === 'auto' && prefer))
      ? curve
      : undefined;
  const fillPlus = pick(m.twoPartPlus, m.preferTwoPartPlus);
  const fillMinus = pick(m.twoPartMinus, m.preferTwoPartMinus);
  const base: ModelParams = {
    lambdaPlus: m.lambdaPlus,
    lambdaMinus: m.lambdaMinus,
    kappaPlus: m.kappaPlus,
    kappaMinus: m.kappaMinus,
    epsilonPlus: m.epsilonPlus,
    epsilonMinus: m.epsilonMinus,
    phi: s.phi ?? 0,
    alpha: s.alpha,
    qMin: s.qMin,
    qMax: s.qMax,
    feePerFill: s.feePerFill,
  };
  // Only what differs from the default model enters the params (an unchanged model solves exactly as before).
  if (s.drift !== 'model') base.drift = used;
  if (fillPlus) base.fillPlus = fillPlus;
  if (fillMinus) base.fillMinus = fillMinus;
  const opts = { horizon: Number.POSITIVE_INFINITY, mode: s.mode, halfSpread: s.halfSpread };
  let phi = s.phi ?? 0;
  let stationary: QuoteTable | undefined;
  let law: InventoryLaw | undefined;
  let phiStatus: PhiSolution['status'] | undefined;
  const target = s.phi === undefined ? (s.inventoryTarget ?? DEFAULT_INVENTORY_TARGET) : undefined;
  if (target) {
    const sol = solvePhiForTarget(base, target, {
      mode: s.mode,
      halfSpread: s.halfSpread,
      guess: warm?.phi,
      init: warm?.h,
      relTol: warm ? 0.01 : undefined,
      phiRelTol: warm ? 0.02 : undefined,
      secant: warm !== undefined,
    });
    phi = sol.phi;
    stationary = sol.table;
    law = sol.law;
    phiStatus = sol.status;
  } else {
    // A fixed φ: where the quotes are discrete in the policy (fill levels on both sides, or touch mode), the
    // previous model's h starts the solve (policy iteration from the last policy instead of a cold start
    // through the exponential model's burn-in): the same policy, so the same depths, fill rates and law; only
    // the table's h and g differ, in their last bits. Depths continuous in h keep the cold solve.
    const discrete = s.mode === 'touch' || (fillPlus?.kind === 'levels' && fillMinus?.kind === 'levels');
    try {
      stationary = solveQuotes(base, discrete && warm?.h ? { ...opts, init: warm.h } : opts);
      law = inventoryLawOrUndefined(stationary);
    } catch (err) {
      if (s.stationary) throw err;
      stationary = undefined;
    }
  }
  return {
    params: { ...base, phi },
    drift: { model: D, stderr: se, z: D / se, shrinkFactor: shrinkFactor(D, se), used, policy: s.drift },
    depthModel: {
      plus: fillPlus ? 'two-part' : 'exponential',
      minus: fillMinus ? 'two-part' : 'exponential',
    },
    phi,
    phiSource: target ? 'target' : 'config',
    target,
    phiStatus,
    stationary,
    law,
  };
}

function inventoryLawOrUndefined(t: QuoteTable): InventoryLaw | undefined {
  try {
    return stationaryInventory(t);
  } catch {
    return undefined;
  }
}

/**
 * The drift's effect at q = 0 on the stationary quotes of `model`: of the D used, and of the model's D had it
 * been used (same φ, same depth model).
 */
export function cjDriftEffects(
  model: CjModel,
  mode: QuoteMode,
  halfSpread?: number,
  withModel = true,
): { used: DriftEffect; model: DriftEffect | undefined } | undefined {
  if (!model.stationary) return undefined;
  const opts = { mode, halfSpread };
  const used = driftEffect(model.params, model.drift.used, { ...opts, table: model.stationary });
  if (model.drift.model === model.drift.used) return { used, model: used };
  if (!withModel) return { used, model: undefined };
  const full = driftEffect(model.params, model.drift.model, {
    ...opts,
    init: model.stationary.h,
    without: model.drift.used === 0 ? model.stationary : undefined,
  });
  return { used, model: full };
}

/**
 * What `cj` with its defaults (inventory target, drift shrink, depth model auto, q ±10, Hyperliquid's base
 * maker fee at the window's last mid) would quote on a calibration: φ, the inventory law, the depths and the
 * drift's skew at q = 0. Undefined without a mid. Throws what the solvers throw.
 */
export function cjQuotingSummary(
  r: CalibrationResult,
  opts: { markoutMs?: number; makerFee?: number; qMax?: number } = {},
): QuotingSummary | undefined {
  const mid = r.mid;
  if (!(mid !== undefined && mid > 0)) return undefined;
  const makerFee = opts.makerFee ?? 0.00015;
  const qMax = opts.qMax ?? 10;
  const settings: CjModelSettings = {
    alpha: 0,
    qMin: -qMax,
    qMax,
    feePerFill: makerFee * mid,
    drift: 'shrink',
    depthModel: 'auto',
    mode: 'depth',
    stationary: true,
  };
  const model = buildCjModel(marketParamsFromCalibration(r, opts.markoutMs ?? 0), settings);
  const fx = cjDriftEffects(model, 'depth');
  if (!model.stationary || !fx) return undefined;
  const i = qMax;
  // The stationary depths by inventory with the drift used, and with the estimated D (its effect).
  const rows = (t: QuoteTable) => ({ plus: Array.from(t.deltaPlus), minus: Array.from(t.deltaMinus) });
  const q = Array.from({ length: 2 * qMax + 1 }, (_v, k) => k - qMax);
  let withModel: QuoteTable | undefined;
  if (model.drift.model !== model.drift.used) {
    try {
      withModel = solveQuotes(
        { ...model.params, drift: model.drift.model },
        { horizon: Number.POSITIVE_INFINITY, init: model.stationary.h },
      );
    } catch {
      withModel = undefined;
    }
  } else withModel = model.stationary;
  const depths = {
    q,
    used: rows(model.stationary),
    ...(withModel ? { model: rows(withModel) } : {}),
  };
  let regimes: RegimeQuotingSummary | undefined;
  try {
    regimes = cjRegimeQuotingSummary(r, model);
  } catch {
    regimes = undefined; // the regime model has no stationary solution: the pooled summary stands alone
  }
  return {
    settings: {
      inventoryTarget: { ...DEFAULT_INVENTORY_TARGET },
      qMin: -qMax,
      qMax,
      makerFee,
      mid,
      drift: 'shrink',
      depthModel: 'auto',
    },
    phi: model.phi,
    phiStatus: model.phiStatus ?? 'given',
    inventoryRms: model.law?.rms ?? Number.NaN,
    inventoryAtBounds: model.law?.atBounds ?? Number.NaN,
    depthModel: model.depthModel,
    driftUsed: model.drift.used,
    deltaPlusAtZero: model.stationary.deltaPlus[i],
    deltaMinusAtZero: model.stationary.deltaMinus[i],
    skewAtZero: fx.used.effect,
    skewAtZeroModel: fx.model?.effect ?? Number.NaN,
    halfSpreadAtZero: fx.used.halfSpread,
    dominates: fx.used.dominates,
    dominatesWithModel: fx.model?.dominates ?? false,
    depths,
    ...(regimes ? { regimes } : {}),
  };
}

/** SE of a regime's D from its λ±, ε± standard errors (calibrated regimes carry them; priors do not). */
export function regimeDriftStderr(x: object): number | undefined {
  const se = (x as { stderr?: Record<string, number> }).stderr;
  if (!se) return undefined;
  const s = {
    lambdaPlus: se.lambdaPlus,
    lambdaMinus: se.lambdaMinus,
    epsilonPlus: se.epsilonPlus,
    epsilonMinus: se.epsilonMinus,
  };
  if (!Object.values(s).every((v) => Number.isFinite(v))) return undefined;
  return driftEstimate(x as Parameters<typeof modelDrift>[0], s, 0).stderr;
}

/**
 * The regimes' ModelParams as cj solves them with `signal: imbalance`: each regime carries its own drift
 * D_z = λ⁺_zε⁺_z − λ⁻_zε⁻_z (the signal), under the same `drift` policy as the pooled model — shrunk by its
 * own SE (per-regime λ±, ε± SEs; no ε covariance per regime), as given for priors, which have none. The
 * regimes keep exponential fills and share φ, α, the bounds and the fee with the pooled model `pooled`.
 */
export function regimeModelParams(
  params: readonly MarketParams[],
  pooled: ModelParams,
  policy: DriftPolicy,
): { regimes: ModelParams[]; driftsModel: number[]; driftsStderr: number[]; driftsUsed: number[] } {
  const { drift: _d, fillPlus: _fp, fillMinus: _fm, ...shared } = pooled;
  const driftsModel: number[] = [];
  const driftsStderr: number[] = [];
  const driftsUsed: number[] = [];
  const regimes = params.map((x) => {
    const D = modelDrift(x);
    const se = regimeDriftStderr(x);
    const u = usedDrift(policy, D, se);
    driftsModel.push(D);
    driftsStderr.push(se ?? Number.NaN);
    driftsUsed.push(u);
    const q: ModelParams = {
      ...shared,
      lambdaPlus: x.lambdaPlus,
      lambdaMinus: x.lambdaMinus,
      kappaPlus: x.kappaPlus,
      kappaMinus: x.kappaMinus,
      epsilonPlus: x.epsilonPlus,
      epsilonMinus: x.epsilonMinus,
    };
    if (policy !== 'model') q.drift = u;
    return q;
  });
  return { regimes, driftsModel, driftsStderr, driftsUsed };
}

/** The regime model from a calibration, when it can be used (every regime seen and left, finite values). */
export function regimeMarketFromCalibration(r: RegimeCalibration): RegimeMarket | undefined {
  if (r.count < 2) return r.count === 1 ? regimeMarketOf({ generator: [[0]], params: r.params }) : undefined;
  const m = r.count;
  const flat = r.generator.flat();
  if (!flat.every((c, k) => (k % (m + 1) === 0 ? true : c >= 0 && Number.isFinite(c)))) return undefined;
  if (!generatorIrreducible(flat, m)) return undefined;
  for (const p of r.params) {
    for (const k of ['lambdaPlus', 'lambdaMinus', 'kappaPlus', 'kappaMinus'] as const)
      if (!(p[k] > 0 && Number.isFinite(p[k]))) return undefined;
    if (!Number.isFinite(p.epsilonPlus) || !Number.isFinite(p.epsilonMinus)) return undefined;
  }
  return regimeMarketOf({ thresholds: r.thresholds, generator: r.generator, params: r.params });
}

/**
 * What `cj` with `signal: imbalance` and its defaults would quote on a calibration's regime model: φ solved
 * from the default inventory target on the joint (inventory, regime) law (and what the pooled model's φ
 * would give there), the joint law, and per regime the drift D_z (estimated, SE, used under `shrink`), the
 * stationary depths at q = 0 and the skew the drifts cause there (with the drifts used, and with the
 * estimated ones), with the dominance test of the pooled model (skew > half the half-spread). Undefined
 * without a usable multi-regime model. Throws what the solvers throw.
 */
export function cjRegimeQuotingSummary(
  r: CalibrationResult,
  pooled: CjModel,
): RegimeQuotingSummary | undefined {
  const rc = r.regimes;
  if (!rc || rc.count < 2) return undefined;
  const rm = regimeMarketFromCalibration(rc);
  if (!rm) return undefined;
  const target = pooled.target ?? DEFAULT_INVENTORY_TARGET;
  const { regimes, driftsModel, driftsStderr, driftsUsed } = regimeModelParams(
    rm.params,
    pooled.params,
    'shrink',
  );
  const generator = rm.generator;
  const sol = solveRegimePhiForTarget({ regimes, generator }, target, { guess: pooled.phi });
  const at = (drifts: (number | undefined)[], warmStart: RegimeQuoteTable) =>
    solveRegimeQuotes(
      { regimes: regimes.map((p, z) => ({ ...p, phi: sol.phi, drift: drifts[z] })), generator },
      { horizon: Number.POSITIVE_INFINITY, warmStart },
    );
  const withoutDrift = at(
    regimes.map(() => 0),
    sol.solution,
  );
  const withModel = at(driftsModel, sol.solution);
  const atPooled = solveRegimeQuotes(
    { regimes: regimes.map((p) => ({ ...p, phi: pooled.phi })), generator },
    { horizon: Number.POSITIVE_INFINITY, warmStart: sol.solution },
  );
  const lawAtPooled = stationaryRegimeInventory(atPooled.tables, generator);
  const i = Math.max(0, -pooled.params.qMin);
  const skewHalf = (t: QuoteTable) => ({
    skew: (t.deltaPlus[i] - t.deltaMinus[i]) / 2,
    half: (t.deltaPlus[i] + t.deltaMinus[i]) / 2,
  });
  const m = regimes.length;
  const pi = regimeStationaryLaw(generator, m);
  return {
    phi: sol.phi,
    phiStatus: sol.status,
    inventoryRms: sol.law.rms,
    inventoryAtBounds: sol.law.atBounds,
    atBoundsByRegime: Array.from(sol.law.atBoundsByRegime),
    pooledPhi: pooled.phi,
    inventoryRmsAtPooledPhi: lawAtPooled.rms,
    inventoryAtBoundsAtPooledPhi: lawAtPooled.atBounds,
    regimes: regimes.map((_p, z) => {
      const used = skewHalf(sol.solution.tables[z]);
      const none = skewHalf(withoutDrift.tables[z]);
      const model = skewHalf(withModel.tables[z]);
      const effect = used.skew - none.skew;
      const effectModel = model.skew - none.skew;
      return {
        regime: z,
        occupancy: pi[z],
        driftModel: driftsModel[z],
        driftStderr: driftsStderr[z],
        driftUsed: driftsUsed[z],
        deltaPlusAtZero: sol.solution.tables[z].deltaPlus[i],
        deltaMinusAtZero: sol.solution.tables[z].deltaMinus[i],
        skewAtZero: effect,
        skewAtZeroModel: effectModel,
        halfSpreadAtZero: none.half,
        dominates: Math.abs(effect) > DOMINANCE_RATIO * none.half,
        dominatesWithModel: Math.abs(effectModel) > DOMINANCE_RATIO * none.half,
      };
    }),
  };
}

/**
 * What to tell a user whose quotes a drift dominates: what applies under the policy in force, never the setting
 * already in force. `z` = D / SE (NaN without a standard error); `flag` writes a setting as the user does.
 */
export function driftDominanceHint(
  policy: DriftPolicy,
  z: number,
  flag: (policy: DriftPolicy) => string = (p) => `drift: '${p}'`,
): string {
  if (policy === 'model') return `${flag('shrink')} scales D by its significance, ${flag('zero')} ignores it`;
  if (policy === 'shrink' && !Number.isFinite(z))
    return `D has no standard error (priors or parameters given by hand), so ${flag('shrink')} uses it as given (a rolling cj shrinks it from the first calibration); ${flag('zero')} ignores it`;
  if (policy === 'shrink')
    return `D is significant (|z| = ${Math.abs(z).toFixed(1)}), so ${flag('shrink')} keeps ${(100 * Math.max(0, 1 - 1 / (z * z))).toFixed(0)} % of it; ${flag('zero')} ignores it`;
  return `${flag('zero')} is in force: the skew comes from elsewhere`;
}
