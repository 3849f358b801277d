/**
 * Asymmetric κ (κ⁺ ≠ κ⁻): no closed form; the nonlinear HJB ODE in h is integrated backwards from
 * h(T, q) = −αq² with the stiff-stable extrapolated linearly implicit Euler scheme of hjb.ts
 * (error-controlled, O(n) per stage). Also valid, and used as the fallback, for symmetric κ.
 */
import {
  HjbSystem,
  type IntegrateOptions,
  type IntegrateStats,
  IntegratorWork,
  integrateHjb,
} from './hjb.ts';
import { stateCount } from './params.ts';
import type { ModelParams } from './types.ts';

/** h(T, q) = −αq². */
export function depthTerminal(p: ModelParams, out: Float64Array): void {
  for (let i = 0; i < out.length; i++) {
    const q = p.qMin + i;
    out[i] = -p.alpha * q * q;
  }
}

/** Writes h(T − tau, ·) into `h` (allocated if omitted) and returns it. */
export function solveDepthOde(
  p: ModelParams,
  tau: number,
  opts: IntegrateOptions = {},
  h: Float64Array = new Float64Array(stateCount(p)),
  work?: IntegratorWork,
): { h: Float64Array; stats: IntegrateStats } {
  depthTerminal(p, h);
  if (!(tau > 0)) return { h, stats: { steps: 0, rejected: 0 } };
  const sys = new HjbSystem(p, 'depth');
  const stats = integrateHjb(sys, h, tau, opts, work ?? new IntegratorWork(sys.n));
  return { h, stats };
}
