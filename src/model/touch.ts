/**
 * At-the-touch variant (CJP §10.2.2) for 1-tick markets: on each side either post at the touch (a posted
 * order is filled by every MO of its side, earning the half-spread Δ/2) or do not post.
 * Finite horizon: the piecewise-linear HJB integrated backwards from h(T, q) = −|q|Δ/2 − αq² (liquidate at
 * the far touch, plus the terminal penalty). Stationary: the ergodic problem by policy iteration.
 */
import { HjbSystem, type IntegrateOptions, integrateHjb } from './hjb.ts';
import { stateCount } from './params.ts';
import { type StationarySolution, stationaryGeneral } from './stationary.ts';
import type { ModelParams } from './types.ts';

/** h(T, q) = −|q|Δ/2 − αq². */
export function touchTerminal(p: ModelParams, halfSpread: number, out: Float64Array): void {
  for (let i = 0; i < out.length; i++) {
    const q = p.qMin + i;
    out[i] = -Math.abs(q) * halfSpread - p.alpha * q * q;
  }
}

/** h(T − tau, ·) for the at-the-touch problem. */
export function solveTouchFinite(
  p: ModelParams,
  halfSpread: number,
  tau: number,
  opts: IntegrateOptions = {},
): Float64Array {
  const h = new Float64Array(stateCount(p));
  touchTerminal(p, halfSpread, h);
  if (tau > 0) integrateHjb(new HjbSystem(p, 'touch', halfSpread), h, tau, opts);
  return h;
}

export function solveTouchStationary(
  p: ModelParams,
  halfSpread: number,
  init?: Float64Array,
): StationarySolution {
  return stationaryGeneral(p, 'touch', halfSpread, init);
}

/** ℓ⁺ at state index i: post the ask at the touch iff Δ/2 − ε⁺ − c + h(q−1) − h(q) > 0 (and q > q̲). */
export function postAsk(p: ModelParams, halfSpread: number, h: Float64Array, i: number): boolean {
  return i > 0 && halfSpread - p.epsilonPlus - p.feePerFill + h[i - 1] - h[i] > 0;
}

/** ℓ⁻ at state index i: post the bid at the touch iff Δ/2 − ε⁻ − c + h(q+1) − h(q) > 0 (and q < q̄). */
export function postBid(p: ModelParams, halfSpread: number, h: Float64Array, i: number): boolean {
  return i < h.length - 1 && halfSpread - p.epsilonMinus - p.feePerFill + h[i + 1] - h[i] > 0;
}
