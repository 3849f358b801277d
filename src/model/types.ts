/**
 * Parameters and outputs of the Cartea–Jaimungal model. Units follow ../shared/docs/MATH.md:
 * λ in 1/s, κ in 1/price, ε and δ in price, φ in price/(lot²·s), α in price/lot², q in lots.
 */
import type { FillCurve } from './fill-rate.ts';

export interface ModelParams {
  lambdaPlus: number;
  lambdaMinus: number;
  kappaPlus: number;
  kappaMinus: number;
  epsilonPlus: number;
  epsilonMinus: number;
  phi: number;
  alpha: number;
  qMin: number;
  qMax: number;
  /** Maker fee per fill in PRICE units (c = f·S); charged once per fill, inside δ. */
  feePerFill: number;
  /**
   * Mid drift in the HJB's qD term (price/s). Default: the adverse-selection drift D = λ⁺ε⁺ − λ⁻ε⁻. Giving it
   * (e.g. 0, or a shrunk D) adds a deterministic drift D_used − D to the mid, so ε± still price every fill.
   */
  drift?: number;
  /** Fill-rate model Λ⁺(δ) of the ask (default: λ⁺e^{−κ⁺δ}); see fill-rate.ts. */
  fillPlus?: FillCurve;
  /** Fill-rate model Λ⁻(δ) of the bid (default: λ⁻e^{−κ⁻δ}). */
  fillMinus?: FillCurve;
}

/** Horizon in seconds remaining (T − t), or Infinity for stationary (receding-horizon) quotes. */
export type Horizon = number;

export type QuoteMode = 'depth' | 'touch';

/** Optimal policy at one time, for every inventory level qMin..qMax (index i ↔ q = qMin + i). */
export interface QuoteTable {
  qMin: number;
  qMax: number;
  /** Value function h(t,q) (defined up to an additive constant in the stationary case). */
  h: Float64Array;
  /** Ask depth above mid (price units); NaN where not quoted (q = qMin, or touch mode says no). */
  deltaPlus: Float64Array;
  /** Bid depth below mid (price units); NaN where not quoted (q = qMax, or touch mode says no). */
  deltaMinus: Float64Array;
  /** Fill intensities λ⁺e^{−κ⁺δ⁺}, λ⁻e^{−κ⁻δ⁻} (1/s; 0 where not quoted). */
  fillRatePlus: Float64Array;
  fillRateMinus: Float64Array;
  /** Inventory drift μ(q) = λ⁻e^{−κ⁻δ⁻} − λ⁺e^{−κ⁺δ⁺} (lots/s). */
  drift: Float64Array;
  /** Stationary only: long-run reward rate g (price/s), h(τ, q) ≈ g·τ + h(q) as τ → ∞. */
  growthRate?: number;
  /** Solver that produced the table: exact matrix exponential, stiff ODE, Perron eigenvector, ergodic Newton. */
  method?: 'matrix' | 'ode' | 'perron' | 'ergodic';
}
