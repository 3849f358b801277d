/**
 * The long-run expected P&L of the stationary Cartea–Jaimungal policy, and the maker fee at which it is zero.
 *
 * Under the optimal stationary policy the inventory q is a birth–death chain on q̲..q̄ (bid fills q → q+1 at
 * f⁻(q) = λ⁻e^{−κ⁻δ⁻(q)}, ask fills q → q−1 at f⁺(q) = λ⁺e^{−κ⁺δ⁺(q)}) with stationary law π. While at q the
 * marked-to-mid P&L (cash + q·S) grows at the expected rate
 *
 *     r(q) = q·D + f⁺(q)·(δ⁺(q) − ε⁺ − c) + f⁻(q)·(δ⁻(q) − ε⁻ − c)        (price × lots per second)
 *
 * (a fill earns its depth less the fee c; the mid then jumps ε against the lot just traded; the held q earns
 * the mid's drift D = λ⁺ε⁺ − λ⁻ε⁻ from the jumps of every MO; the diffusion has mean zero). The stationary HJB
 * g = max_δ[r(q) − φq²] + f⁺(h(q−1) − h(q)) + f⁻(h(q+1) − h(q)) averaged over π (the generator terms
 * average to zero under the chain's own stationary law) gives
 *
 *     g = E_π[r(q)] − φ·E_π[q²],   so the expected P&L rate is   E_π[r] = g + φ·E_π[q²],
 *
 * g being the value function's long-run growth rate (stationary.ts). In USD per hour for a lot of L coin units:
 * 3600 · L · (g + φ·E_π[q²]). It is never negative: g ≥ 0 (not quoting at all earns 0, and the policy is
 * optimal) and φ·E_π[q²] ≥ 0 — the model can always quote wide enough to expect a profit; a small value means
 * the model finds little edge. `pnlRateDirect` computes E_π[r] from π directly (the two agree; tests check it),
 * and the simulation test checks both against a backtest in the model world.
 */
import { birthDeathLogPi, birthDeathPi } from './birth-death.ts';
import { adverseDrift } from './params.ts';
import { solveQuotes } from './solve.ts';
import type { ModelParams, QuoteMode, QuoteTable } from './types.ts';

export interface ExpectedPnl {
  /** Long-run growth rate g of the objective (price × lots / s). */
  growthRate: number;
  /** E_π[q²] (lots²). */
  meanSquaredInventory: number;
  /** E_π[q] (lots). */
  meanInventory: number;
  /** Expected P&L rate g + φ·E_π[q²] (price × lots / s): multiply by the lot (coin units) for USD/s. */
  pnlRate: number;
  /** E_π[r(q)], computed from the stationary law (equals pnlRate up to the solver's accuracy). */
  pnlRateDirect: number;
  /** Expected fills per second (both sides). */
  fillRate: number;
  /** Stationary law of the inventory, index i ↔ q = qMin + i. */
  pi: Float64Array;
  table: QuoteTable;
}

/**
 * Stationary law of the inventory chain of a quote table: the closed communicating class reached from q = 0
 * (every state when both sides are quoted everywhere inside the bounds, as in depth mode).
 */
export function inventoryLaw(t: QuoteTable): Float64Array {
  const n = t.fillRatePlus.length;
  const up = t.fillRateMinus; // bid fill: q → q + 1
  const down = t.fillRatePlus; // ask fill: q → q − 1
  let z = Math.min(Math.max(0, -t.qMin), n - 1);
  for (let guard = 0; guard <= n; guard++) {
    let lo = z;
    let hi = z;
    while (hi < n - 1 && up[hi] > 0 && down[hi + 1] > 0) hi++;
    while (lo > 0 && down[lo] > 0 && up[lo - 1] > 0) lo--;
    // Leaving the class one way without coming back: follow the chain.
    if (hi < n - 1 && up[hi] > 0) {
      z = hi + 1;
      continue;
    }
    if (lo > 0 && down[lo] > 0) {
      z = lo - 1;
      continue;
    }
    const logPi = new Float64Array(n).fill(Number.NEGATIVE_INFINITY);
    const pi = new Float64Array(n);
    birthDeathPi(logPi, lo, hi, birthDeathLogPi(up, down, lo, hi, logPi), pi);
    return pi;
  }
  throw new Error('inventoryLaw: no closed class found');
}

/** Expected P&L of the stationary optimal policy at these parameters (depth or touch mode). */
export function stationaryExpectedPnl(
  p: ModelParams,
  mode: QuoteMode = 'depth',
  halfSpread?: number,
): ExpectedPnl {
  return expectedPnlOf(p, solveQuotes(p, { horizon: Number.POSITIVE_INFINITY, mode, halfSpread }));
}

/**
 * Expected P&L of a stationary quote table already solved at `p` (its growth rate, depths and fill rates, for
 * any fill-rate model: the rates are the table's).
 */
export function expectedPnlOf(p: ModelParams, table: QuoteTable): ExpectedPnl {
  const g = table.growthRate ?? Number.NaN;
  const pi = inventoryLaw(table);
  const D = adverseDrift(p);
  const c = p.feePerFill;
  let q1 = 0;
  let q2 = 0;
  let direct = 0;
  let fills = 0;
  for (let i = 0; i < pi.length; i++) {
    if (pi[i] === 0) continue;
    const q = p.qMin + i;
    const fp = table.fillRatePlus[i];
    const fm = table.fillRateMinus[i];
    let r = q * D;
    if (fp > 0) r += fp * (table.deltaPlus[i] - p.epsilonPlus - c);
    if (fm > 0) r += fm * (table.deltaMinus[i] - p.epsilonMinus - c);
    direct += pi[i] * r;
    q1 += pi[i] * q;
    q2 += pi[i] * q * q;
    fills += pi[i] * (fp + fm);
  }
  return {
    growthRate: g,
    meanSquaredInventory: q2,
    meanInventory: q1,
    pnlRate: g + p.phi * q2,
    pnlRateDirect: direct,
    fillRate: fills,
    pi,
    table,
  };
}

/**
 * The maker fee (fraction of notional) at which the expected P&L of this policy is zero, holding the policy —
 * its depths, hence its fills — fixed: the expected P&L is then linear in the fee, E[r](f) = E[r] − (f − f₀)·
 * mid·F with F the expected fill rate, so f* = f₀ + E[r] / (mid·F). (Re-optimised at every fee the policy never
 * expects a loss — it can always quote wider — so, as in the backtest's metric, the fills are held fixed.)
 * null when the policy does not trade (F = 0).
 */
export function breakEvenMakerFee(e: ExpectedPnl, p: ModelParams, mid: number): number | null {
  if (!(e.fillRate > 0) || !(mid > 0)) return null;
  return (p.feePerFill + e.pnlRate / e.fillRate) / mid;
}
