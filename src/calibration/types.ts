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
  /**
   * The depth model of a one-tick book per side: the single exponential and the two-part model (mass at the
   * touch + exponential tail) fitted to the MOs that met a one-tick spread, and which one the quotes use.
   */
  depthModel?: { plus: SideDepthModel; minus: SideDepthModel };
  /** The model's adverse-selection drift D = λ⁺ε⁺ − λ⁻ε⁻ (price/s), its SE, and the mid's observed drift. */
  drift?: DriftReport;
  /** `cjmm calibrate` only: what `cj` with its default settings would quote on these parameters. */
  quoting?: QuotingSummary;
};

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
