/**
 * Stationary (infinite-horizon / receding) quotes. As T − t → ∞, h(τ, q) = g·τ + v(q) + o(1): the depths
 * (which depend on differences of h) converge, and g is the long-run reward rate (price/s).
 *
 * - Symmetric κ, depth mode: v is (1/κ) ln of the Perron eigenvector of A, g = μ_max/κ. The eigenvalue
 *   comes from bisection on Sturm counts and the eigenvector from a twisted ratio recursion in the log
 *   domain, so every component has relative accuracy even when they span hundreds of orders of magnitude.
 * - Otherwise (asymmetric κ, touch mode): the ergodic equation F(v) = g·1, v(0) = 0, solved by Newton
 *   (in touch mode F is piecewise linear and Newton is Howard's policy iteration), started from the
 *   finite-horizon solution after a burn-in horizon, with a backtracking line search.
 */
import { HjbSystem, IntegratorWork, integrateHjb } from './hjb.ts';
import { solveDense } from './linalg.ts';
import { adverseDrift, stateCount, zeroIndex } from './params.ts';
import { symmetricCouplings } from './symmetric.ts';
import type { ModelParams, QuoteMode } from './types.ts';

export interface StationarySolution {
  /** v(q) with v(0) = 0 (index i ↔ q = qMin + i). */
  h: Float64Array;
  /** Long-run reward rate g (price/s): h(τ, q) ≈ g τ + v(q). */
  growthRate: number;
}

/** Number of eigenvalues of the symmetric tridiagonal (a, s) strictly below x (Sturm count via LDLᵀ). */
function sturmCount(a: Float64Array, s2: number, x: number): number {
  let count = 0;
  let p = a[0] - x;
  if (p < 0) count++;
  for (let i = 1; i < a.length; i++) {
    const prev = p === 0 ? 1e-300 : p;
    p = a[i] - x - s2 / prev;
    if (p < 0) count++;
  }
  return count;
}

/** Perron (largest) eigenvalue of the symmetric tridiagonal matrix with diagonal a and constant off-diagonal s. */
export function perronEigenvalue(a: Float64Array, s: number): number {
  const n = a.length;
  let lo = Number.POSITIVE_INFINITY;
  let hi = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    lo = Math.min(lo, a[i]);
    hi = Math.max(hi, a[i]);
  }
  // μ_max ≥ max a_i (Rayleigh quotient) and ≤ max a_i + 2s (Gershgorin).
  lo = hi;
  hi = hi + 2 * s;
  const s2 = s * s;
  for (let it = 0; it < 200; it++) {
    const mid = 0.5 * (lo + hi);
    if (mid <= lo || mid >= hi) break;
    if (sturmCount(a, s2, mid) === n) hi = mid;
    else lo = mid;
  }
  return 0.5 * (lo + hi);
}

/**
 * Log of the eigenvector of the symmetric tridiagonal (a, s) for eigenvalue μ, by the twisted ratio
 * recursion: ratios from the top are used above the twist index, ratios from the bottom below it.
 * For the Perron eigenvalue every ratio is positive.
 */
export function logPerronVector(a: Float64Array, s: number, mu: number, out: Float64Array): void {
  const n = a.length;
  const top = new Float64Array(n); // top[i] = v_i / v_{i+1}
  const bot = new Float64Array(n); // bot[i] = v_i / v_{i−1}
  const gTop = new Float64Array(n);
  const gBot = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    gTop[i] = mu - a[i] - (i > 0 ? s * top[i - 1] : 0);
    top[i] = s / gTop[i];
  }
  for (let i = n - 1; i >= 0; i--) {
    gBot[i] = mu - a[i] - (i < n - 1 ? s * bot[i + 1] : 0);
    bot[i] = s / gBot[i];
  }
  let twist = 0;
  let best = Number.POSITIVE_INFINITY;
  for (let k = 0; k < n; k++) {
    const g = Math.abs(mu - a[k] - (k > 0 ? s * top[k - 1] : 0) - (k < n - 1 ? s * bot[k + 1] : 0));
    if (g < best) {
      best = g;
      twist = k;
    }
  }
  out[twist] = 0;
  for (let i = twist - 1; i >= 0; i--) out[i] = out[i + 1] + Math.log(Math.abs(top[i]));
  for (let i = twist + 1; i < n; i++) out[i] = out[i - 1] + Math.log(Math.abs(bot[i]));
}

/** Symmetric-κ depth-mode stationary solution from the Perron eigenvector (null if a side has λ = 0). */
export function stationarySymmetric(p: ModelParams): StationarySolution | null {
  if (!(p.lambdaPlus > 0 && p.lambdaMinus > 0)) return null;
  const n = stateCount(p);
  const kappa = p.kappaPlus;
  const D = adverseDrift(p);
  const a = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const q = p.qMin + i;
    a[i] = q * kappa * D - p.phi * kappa * q * q;
  }
  const h = new Float64Array(n);
  if (n === 1) return { h, growthRate: a[0] / kappa };
  const { logL, logU } = symmetricCouplings(p);
  const s = Math.exp(0.5 * (logL + logU));
  const mu = perronEigenvalue(a, s);
  logPerronVector(a, s, mu, h);
  // ω = D⁻¹ v_S, ln d_i = (i/2)(ln u − ln l).
  for (let i = 0; i < n; i++) h[i] = (h[i] - 0.5 * i * (logU - logL)) / kappa;
  const z = h[zeroIndex(p)];
  for (let i = 0; i < n; i++) h[i] -= z;
  return { h, growthRate: mu / kappa };
}

/**
 * General stationary solution (any κ±, fill-rate curves, depth or touch mode) of F(v) = g·1 with v(0) = 0.
 * `init` (optional) is a guess of v, e.g. the solution for nearby parameters: Newton starts from it first,
 * and only if that fails from the burn-in. Throws if Newton does not converge after repeated burn-in
 * extensions (not observed in the tested ranges).
 */
export function stationaryGeneral(
  p: ModelParams,
  mode: QuoteMode,
  halfSpread = 0,
  init?: Float64Array,
): StationarySolution {
  const sys = new HjbSystem(p, mode, halfSpread);
  const n = sys.n;
  const ref = zeroIndex(p);
  const v = new Float64Array(n);
  if (mode === 'touch') for (let i = 0; i < n; i++) v[i] = -Math.abs(p.qMin + i) * halfSpread;
  const work = new IntegratorWork(n);
  const f = new Float64Array(n);
  const sub = new Float64Array(n);
  const sup = new Float64Array(n);
  const mat = new Float64Array(n * n);
  const rhs = new Float64Array(n);
  const trial = new Float64Array(n);
  let maxBase = 0;
  for (let i = 0; i < n; i++) maxBase = Math.max(maxBase, Math.abs(sys.base[i]));
  const rateScale = sys.rateScale + maxBase + 1e-300;
  const resTol = 1e-12 * rateScale;
  // Burn-in horizon: a few mean inter-arrival times, doubled on every failed Newton attempt.
  let burn = 10 / Math.max(sys.lamP + sys.lamM, 1e-9);
  const residual = (x: Float64Array, g: number, withJac: boolean): number => {
    sys.rhs(x, f, withJac ? sub : undefined, withJac ? sup : undefined);
    let r = 0;
    for (let i = 0; i < n; i++) r = Math.max(r, Math.abs(f[i] - g));
    return r;
  };
  /**
   * Newton from v (in place); converged when F(v) = g·1 to the tolerance. `fullSteps`: no line search, which
   * for fill curves is policy iteration (the Newton step solves for the value of the policy that is greedy
   * at v, and G± are convex), monotone from any start; otherwise each step must reduce the residual.
   */
  const newton = (fullSteps = false): { converged: boolean; g: number } => {
    const shift = v[ref];
    for (let i = 0; i < n; i++) v[i] -= shift;
    // Initial g: F at the reference state (exact once v has converged).
    sys.rhs(v, f);
    let g = f[ref];
    let res = residual(v, g, true);
    let converged = res <= resTol;
    for (let it = 0; it < (fullSteps ? 200 : 60) && !converged; it++) {
      // J δv − δg·1 = −R, δv_ref = 0: column ref of J carries δg instead.
      mat.fill(0);
      for (let i = 0; i < n; i++) {
        const row = i * n;
        if (i > 0) mat[row + i - 1] = sub[i];
        if (i < n - 1) mat[row + i + 1] = sup[i];
        mat[row + i] = -(sub[i] + sup[i]);
        mat[row + ref] = -1;
        rhs[i] = -(f[i] - g);
      }
      if (!solveDense(mat, rhs, n)) break;
      const dg = rhs[ref];
      if (fullSteps) {
        for (let i = 0; i < n; i++) if (i !== ref) v[i] += rhs[i];
        g += dg;
        res = residual(v, g, true);
        converged = res <= resTol;
        if (!Number.isFinite(res)) break;
        continue;
      }
      let step = 1;
      let accepted = false;
      for (let ls = 0; ls < 40; ls++) {
        for (let i = 0; i < n; i++) trial[i] = i === ref ? 0 : v[i] + step * rhs[i];
        const r = residual(trial, g + step * dg, false);
        if (r < res || r <= resTol) {
          v.set(trial);
          g += step * dg;
          res = residual(v, g, true);
          accepted = true;
          break;
        }
        step *= 0.5;
      }
      if (!accepted) break;
      converged = res <= resTol;
    }
    return { converged, g };
  };
  const start = Float64Array.from(v);
  if (init && init.length === n && init.every(Number.isFinite)) {
    v.set(init);
    const r = newton(sys.curves !== undefined);
    if (r.converged) return { h: v, growthRate: r.g };
    v.set(start);
  }
  if (sys.curves) {
    // Policy iteration from the terminal-like start needs no burn-in.
    const r = newton(true);
    if (r.converged) return { h: v, growthRate: r.g };
    v.set(start);
  }
  for (let attempt = 0; attempt < 12; attempt++) {
    // Only a starting point for Newton: moderate accuracy, no kink location.
    integrateHjb(sys, v, burn, { tol: 1e-8, locateKinks: false }, work);
    const r = newton();
    if (r.converged) return { h: v, growthRate: r.g };
    burn *= 4;
  }
  throw new Error(`stationary ${mode} solution did not converge (qMin ${p.qMin}, qMax ${p.qMax})`);
}
