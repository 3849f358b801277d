import type { SideDepthModel } from './depth-model.ts';

/**
 * The calibration output (`cjmm calibrate --json`, `--out params.json`), also accepted by
 * `cjmm quote --params`. Top-level numbers are fixed by the CLI contract: users script against them.
 * Units: λ and MO rates in 1/s, κ in 1/price, ε in price, σ in price/√s.
 */
export const PARAM_KEYS = [
  'lambdaPlus',
  'lambdaMinus',
  'kappaPlus',
  'kappaMinus',
  'epsilonPlus',
  'epsilonMinus',
  'sigma',
  'moRatePlus',
  'moRateMinus',
] as const;
export type ParamKey = (typeof PARAM_KEYS)[number];

export interface MarkoutEstimate {
  /** Horizon label as given ('next', '1s', '5s', '30s'). */
  horizon: string;
  /** Horizon in seconds (0 for 'next': the next mid update). */
  horizonSec: number;
  /** Mean signed mid move in the direction of the MO (price units), with standard error and sample size. */
  plus: { mean: number; stderr: number; n: number };
  minus: { mean: number; stderr: number; n: number };
  /**
   * Cov(plus.mean, minus.mean) (price²): the two share the window's drift correction. Block jackknife, or
   * −h²·Var(drift) with too few blocks.
   */
  covariance?: number;
}

/** Depth-distribution fit of one side: Pearson χ² of the tick histogram against the fitted geometric. */
export interface DepthFit {
  chi2: number;
  df: number;
  pValue: number;
  /** MOs by whole ticks beyond the touch: histogram[k] (last entry = that many ticks or more). */
  histogram: number[];
}

export type CalibrationResult = Record<ParamKey, number> & {
  coin: string;
  /** Exchange time (ms) at which the estimate was made (end of window). */
  at: number;
  window: {
    start: number;
    end: number /** seconds of data actually used, gaps excluded */;
    observedSec: number;
  };
  stderr: Record<ParamKey, number>;
  samples: Record<string, number>;
  markouts: MarkoutEstimate[];
  /** Tick size and spread statistics. */
  spread: { tick: number; fracAtOneTick: number; meanHalfSpread: number };
  toxicityPlus: number;
  toxicityMinus: number;
  /** Whether these numbers came from this window's data ('fresh'), the last good set, or priors. */
  source: 'fresh' | 'last-good' | 'prior';
  quality: { ok: boolean; flags: string[] };
  /** Goodness of fit of the depth model per side (absent when a side had no data). */
  fit?: { plus: DepthFit; minus: DepthFit };
  /** Markout horizon whose ε fed epsilonPlus/epsilonMinus (e.g. '1s'). */
  markoutHorizon?: string;
  /** Mid of the last usable quote at the end of the window (price), for fee and price conversions. */
  mid?: number;
  /** Imbalance-regime model (when the calibrator tracks regimes). */
  regimes?: RegimeCalibration;
  /** Micro-price model (when the calibrator estimates it). */
  microprice?: MicropriceSummary /**
   * The depth model of a one-tick book per side: the single exponential and the two-part model (mass at the
   * touch + exponential tail) fitted to the MOs that met a one-tick spread, and which one the quotes use.
   */;
  depthModel?: { plus: SideDepthModel; minus: SideDepthModel };
  /** The model's adverse-selection drift D = λ⁺ε⁺ − λ⁻ε⁻ (price/s), its SE, and the mid's observed drift. */
  drift?: DriftReport;
  /** `cjmm calibrate` only: what `cj` with its default settings would quote on these parameters. */
  quoting?: QuotingSummary;
};

/** One imbalance regime's parameters (same units as the pooled set), with standard errors. */
export interface RegimeParams {
  regime: number;
  /** Touch-imbalance range [from, to) of the regime, I = Q_bid/(Q_bid + Q_ask). */
  imbalance: [number, number];
  lambdaPlus: number;
  lambdaMinus: number;
  kappaPlus: number;
  kappaMinus: number;
  epsilonPlus: number;
  epsilonMinus: number;
  moRatePlus: number;
  moRateMinus: number;
  /** Mean mid drift while in the regime (price/s), from the σ grid; it corrects the regime's markouts. */
  midDrift: number;
  stderr: Record<string, number>;
  /** 'pooled' when some parameter fell back to the pooled estimate (too few MOs in the regime). */
  source: 'fresh' | 'pooled';
  samples: Record<string, number>;
}

/**
 * The regime model of a window (`regimes` in `cjmm calibrate --json`): the generator of the regime chain
 * (1/s, rows sum to 0) with standard errors, transition counts and time per regime, and per-regime λ±, κ±, ε±.
 */
export interface RegimeCalibration {
  count: number;
  /** Imbalance cut points (count − 1, ascending). Regime 0 = ask-heavy … count−1 = bid-heavy. */
  thresholds: number[];
  generator: number[][];
  generatorStderr: number[][];
  transitions: number[][];
  timeSec: number[];
  occupancy: number[];
  params: RegimeParams[];
  quality: { ok: boolean; flags: string[] };
}

/** Micro-price summary (`microprice` in `cjmm calibrate --json`): the Stoikov adjustment per state. */
export interface MicropriceSummary {
  imbalanceBuckets: number;
  spreadBuckets: number;
  /** adjustment[s][b]: G* (price) at a spread of s+1 ticks and imbalance bucket b (micro-price = mid + G*). */
  adjustment: number[][];
  /** g1[s][b]: G¹, the expected next mid change (price). */
  g1: number[][];
  /** visits[s][b]: symmetrised transitions out of the state in the window. */
  visits: number[][];
  iterations: number;
  converged: boolean;
  transitions: number;
  discardedMoves: number;
}

/** The stationary cj model at the calibrated parameters (src/strategies/cj-model.ts, cjQuotingSummary). */
export interface QuotingSummary {
  settings: {
    inventoryTarget: { stdLots?: number; maxTimeAtBound?: number };
    qMin: number;
    qMax: number;
    makerFee: number;
    mid: number;
    drift: 'model' | 'shrink' | 'zero';
    depthModel: 'auto' | 'exponential' | 'two-part';
  };
  /** φ solved from the target (price/(lot²·s)) and the solve's status. */
  phi: number;
  phiStatus: string;
  /** √E[q²] and the share of time at a bound of the stationary inventory law at φ. */
  inventoryRms: number;
  inventoryAtBounds: number;
  depthModel: { plus: 'exponential' | 'two-part'; minus: 'exponential' | 'two-part' };
  /** The drift the quotes use (price/s). */
  driftUsed: number;
  /** Stationary depths at q = 0 (price). */
  deltaPlusAtZero: number;
  deltaMinusAtZero: number;
  /** Skew at q = 0 caused by the drift used, and by the model's D had it been used (price). */
  skewAtZero: number;
  skewAtZeroModel: number;
  /** Half-spread at q = 0 without any drift (price). */
  halfSpreadAtZero: number;
  /** The drift's skew exceeds half the half-spread (with the drift used / with the model's D). */
  dominates: boolean;
  dominatesWithModel: boolean;
  /**
   * The stationary depths δ±(q) (price; null where a side is not quoted) at q = qMin..qMax with the drift
   * used, and with the estimated D (`model`, when it could be solved): the drift's effect on every row.
   */
  depths?: {
    q: number[];
    used: { plus: (number | null)[]; minus: (number | null)[] };
    model?: { plus: (number | null)[]; minus: (number | null)[] };
  };
  /** With a usable regime model: what cj with `signal: imbalance` and these defaults would do. */
  regimes?: RegimeQuotingSummary;
}

/**
 * cj with `signal: imbalance` at the calibrated regime model (src/strategies/cj-model.ts,
 * cjRegimeQuotingSummary): φ from the inventory target on the joint (inventory, regime) law, and per regime
 * the drift and its skew at q = 0.
 */
export interface RegimeQuotingSummary {
  phi: number;
  phiStatus: string;
  /** The joint law at φ: RMS inventory, share of time at a bound, and that share per regime. */
  inventoryRms: number;
  inventoryAtBounds: number;
  atBoundsByRegime: number[];
  /** The pooled (one-regime) model's φ for the same target, and the joint law the regime model has at it. */
  pooledPhi: number;
  inventoryRmsAtPooledPhi: number;
  inventoryAtBoundsAtPooledPhi: number;
  regimes: {
    regime: number;
    /** Long-run share of time in the regime (the generator's stationary law). */
    occupancy: number;
    /** D_z = λ⁺_zε⁺_z − λ⁻_zε⁻_z (price/s), its SE (NaN when unknown) and what `shrink` keeps. */
    driftModel: number;
    driftStderr: number;
    driftUsed: number;
    deltaPlusAtZero: number;
    deltaMinusAtZero: number;
    /** Skew at q = 0 caused by the drifts used, and by the estimated drifts (price). */
    skewAtZero: number;
    skewAtZeroModel: number;
    halfSpreadAtZero: number;
    dominates: boolean;
    dominatesWithModel: boolean;
  }[];
}

export interface DriftReport {
  /** D from the emitted λ±, ε± (price/s). */
  value: number;
  /** Delta-method SE with Cov(ε⁺, ε⁻) (price/s). */
  stderr: number;
  /** value / stderr. */
  z: number;
  /** max(0, 1 − 1/z²): the share of D that `drift: shrink` keeps. */
  shrinkFactor: number;
  /** D × shrinkFactor (price/s). */
  shrunk: number;
  /** The mid's mean drift over the window from the σ grid (price/s), and its SE: what D would predict. */
  observed: number;
  observedStderr: number;
}
