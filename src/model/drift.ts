/**
 * The adverse-selection drift D = λ⁺ε⁺ − λ⁻ε⁻ as a signal: its standard error, what the quotes use
 * (`drift: model | shrink | zero`), and its effect on the quotes.
 *
 * - SE by the delta method with the estimators' covariances:
 *     Var D = ε⁺²Var λ⁺ + ε⁻²Var λ⁻ + λ⁺²Var ε⁺ + λ⁻²Var ε⁻ − 2λ⁺λ⁻Cov(ε⁺, ε⁻).
 *   λ± come from MO counts and depth marks, ε± from the mid's later moves: independent of each other and
 *   across sides, except ε⁺ and ε⁻, which share the window's drift correction (Cov from the calibrator's
 *   block jackknife, docs/calibration.md).
 * - shrink: D_used = D·max(0, 1 − SE²/D²) = D·max(0, 1 − 1/z²). It is the posterior mean of D under a normal
 *   prior N(0, τ²) whose τ² = (D² − SE²)₊ is estimated from the one observation (empirical Bayes; the
 *   positive-part James–Stein form for one coordinate, without Stein's dominance claim, which needs three or
 *   more). Chosen over a hard SE gate because it is continuous in D: a rolling estimate crossing a threshold
 *   would make the quotes jump between refreshes. |z| ≤ 1 → 0; z = 2 → 75 % of D; z = 4 → 94 %.
 * - Effect: the skew at q = 0 the drift causes, s(D) − s(0) with s = (δ⁺(0) − δ⁻(0))/2 of the stationary
 *   quotes (the quote centre's offset from the mid). The drift DOMINATES the quotes when that effect exceeds
 *   half the half-spread w = (δ⁺(0) + δ⁻(0))/2 of the quotes without it: the near side then sits at less than
 *   a third of the far side's distance, and which side trades is decided by D rather than by inventory.
 */
import { modelDrift } from './params.ts';
import { solveQuotes } from './solve.ts';
import type { ModelParams, QuoteMode, QuoteTable } from './types.ts';

export const DRIFT_POLICIES = ['model', 'shrink', 'zero'] as const;
export type DriftPolicy = (typeof DRIFT_POLICIES)[number];

/** The drift's effect counts as dominating above this share of the half-spread. */
export const DOMINANCE_RATIO = 0.5;

type Rates = { lambdaPlus: number; lambdaMinus: number; epsilonPlus: number; epsilonMinus: number };

export interface DriftEstimate {
  /** D = λ⁺ε⁺ − λ⁻ε⁻ (price/s). */
  value: number;
  stderr: number;
  /** value / stderr. */
  z: number;
}

/** D and its delta-method SE from the estimates, their SEs and Cov(ε⁺, ε⁻) (price²; default 0). */
export function driftEstimate(v: Rates, se: Rates, covEpsilon = 0): DriftEstimate {
  const value = modelDrift(v);
  const variance =
    v.epsilonPlus ** 2 * se.lambdaPlus ** 2 +
    v.epsilonMinus ** 2 * se.lambdaMinus ** 2 +
    v.lambdaPlus ** 2 * se.epsilonPlus ** 2 +
    v.lambdaMinus ** 2 * se.epsilonMinus ** 2 -
    2 * v.lambdaPlus * v.lambdaMinus * covEpsilon;
  const stderr = Math.sqrt(Math.max(0, variance));
  return { value, stderr, z: stderr > 0 ? value / stderr : Number.NaN };
}

/** max(0, 1 − SE²/D²): the share of D that `shrink` keeps (1 without a finite SE, 0 for D = 0). */
export function shrinkFactor(value: number, stderr: number): number {
  if (!(Number.isFinite(stderr) && stderr >= 0)) return 1;
  if (value === 0) return 0;
  return Math.max(0, 1 - (stderr * stderr) / (value * value));
}

/**
 * The drift the quotes use under `policy`. `stderr` undefined or not finite (parameters given by the user,
 * not estimated): shrink has nothing to weigh, so D is used as given.
 */
export function usedDrift(policy: DriftPolicy, value: number, stderr?: number): number {
  if (policy === 'zero') return 0;
  if (policy === 'model' || stderr === undefined) return value;
  return value * shrinkFactor(value, stderr);
}

export interface DriftEffect {
  /** Drift used for `skew` (price/s). */
  drift: number;
  /** (δ⁺(0) − δ⁻(0))/2 of the stationary quotes with the drift and with none (price). */
  skew: number;
  skewWithoutDrift: number;
  /** skew − skewWithoutDrift: the skew at q = 0 the drift causes (price). */
  effect: number;
  /** (δ⁺(0) + δ⁻(0))/2 without the drift (price). */
  halfSpread: number;
  /** |effect| / halfSpread. */
  ratio: number;
  /** ratio > DOMINANCE_RATIO. */
  dominates: boolean;
}

export interface DriftEffectOptions {
  mode?: QuoteMode;
  halfSpread?: number;
  /** The stationary table already solved with this drift (saves a solve). */
  table?: QuoteTable;
  /** The stationary table already solved with drift 0 (saves a solve). */
  without?: QuoteTable;
  /** Warm start for the solves (a nearby table's h). */
  init?: Float64Array;
}

function skewAndHalf(t: QuoteTable): { skew: number; half: number } {
  const i = Math.min(Math.max(0, -t.qMin), t.qMax - t.qMin);
  const a = t.deltaPlus[i];
  const b = t.deltaMinus[i];
  return { skew: (a - b) / 2, half: (a + b) / 2 };
}

/**
 * The stationary skew at q = 0 that `drift` causes in the model `p` (its own `drift` field is replaced).
 * NaN fields (and dominates false) when a side is not quoted at q = 0 (touch mode declining).
 */
export function driftEffect(p: ModelParams, drift: number, opts: DriftEffectOptions = {}): DriftEffect {
  const solve = (d: number, init?: Float64Array) =>
    solveQuotes(
      { ...p, drift: d },
      { horizon: Number.POSITIVE_INFINITY, mode: opts.mode, halfSpread: opts.halfSpread, init },
    );
  const withD = opts.table ?? (drift === 0 && opts.without ? opts.without : solve(drift, opts.init));
  const without = opts.without ?? (drift === 0 ? withD : solve(0, withD.h));
  const a = skewAndHalf(withD);
  const b = skewAndHalf(without);
  const effect = a.skew - b.skew;
  const ratio = Math.abs(effect) / b.half;
  return {
    drift,
    skew: a.skew,
    skewWithoutDrift: b.skew,
    effect,
    halfSpread: b.half,
    ratio,
    dominates: Number.isFinite(ratio) && ratio > DOMINANCE_RATIO,
  };
}
