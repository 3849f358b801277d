/**
 * From market parameters (calibrated or priors) and the cj settings to the model the strategy solves:
 * - the drift D = λ⁺ε⁺ − λ⁻ε⁻ the quotes use (`drift: model | shrink | zero`, src/model/drift.ts);
 * - the depth model per side (`depthModel: auto | exponential | two-part`): the exponential λe^{−κδ}, or the
 *   two-part model of a one-tick book (mass at the touch + exponential tail) as a `levels` fill curve;
 * - φ: as configured, or solved from `inventoryTarget` so the stationary inventory law meets it.
 * Pure: cj.ts, `cjmm quote` and `cjmm calibrate` share it.
 */
import type { CalibrationResult, QuotingSummary } from '../calibration/types.ts';
import {
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
    });
    phi = sol.phi;
    stationary = sol.table;
    law = sol.law;
    phiStatus = sol.status;
  } else {
    try {
      stationary = solveQuotes(base, opts);
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
  };
}
