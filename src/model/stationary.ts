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
import { birthDeathWeights } from './birth-death.ts';
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
  /** The system of exactly these p, mode and half-spread, when the caller keeps one (a φ search). */
  system?: HjbSystem,
  /**
   * Receives the Jacobian's off-diagonals of F at the solution (sub: J[i][i−1], sup: J[i][i+1]; length n):
   * with fill curves these are Λ⁺(δ⁺*) and Λ⁻(δ⁻*), the policy's fill rates (G'(x) = Λ(δ*)).
   */
  jacobian?: { sub: Float64Array; sup: Float64Array },
  /** Where to write v (length n; overwritten): the returned h is this array. Default a new one. */
  out?: Float64Array,
): StationarySolution {
  const sys = system ?? new HjbSystem(p, mode, halfSpread);
  const n = sys.n;
  const scratch = takeScratch(n);
  try {
    const s = solveGeneral(p, mode, halfSpread, init, sys, scratch, out);
    // Every converged return of solveGeneral has just evaluated F with its Jacobian at the returned v.
    if (jacobian) {
      jacobian.sub.set(scratch.sub);
      jacobian.sup.set(scratch.sup);
    }
    return s;
  } finally {
    scratch.busy = false;
  }
}

/**
 * Work arrays of one solve, reused by the next solve of the same size (a rolling strategy solves thousands of
 * times; small typed arrays live outside the JS heap and are costly to make and collect). Every array is
 * written before it is read; a nested solve (the exponential start below) takes a set of its own.
 */
interface Scratch {
  busy: boolean;
  /** The growth rate g of newton's last iterate. */
  g: number;
  f: Float64Array;
  sub: Float64Array;
  sup: Float64Array;
  rhs: Float64Array;
  trial: Float64Array;
  start: Float64Array;
  pe: PolicyEvaluation;
  /** The dense Newton system (n × n; made on the first damped step). */
  mat: Float64Array;
}
const SCRATCH = new Map<number, Scratch>();
const EMPTY = new Float64Array(0);

function takeScratch(n: number): Scratch {
  const cached = SCRATCH.get(n);
  if (cached && !cached.busy) {
    cached.busy = true;
    return cached;
  }
  const s: Scratch = {
    busy: true,
    g: Number.NaN,
    f: new Float64Array(n),
    sub: new Float64Array(n),
    sup: new Float64Array(n),
    rhs: new Float64Array(n),
    trial: new Float64Array(n),
    start: new Float64Array(n),
    pe: new PolicyEvaluation(n),
    mat: EMPTY,
  };
  if (!cached) SCRATCH.set(n, s);
  return s;
}

function solveGeneral(
  p: ModelParams,
  mode: QuoteMode,
  halfSpread: number,
  init: Float64Array | undefined,
  sys: HjbSystem,
  scratch: Scratch,
  out: Float64Array | undefined,
): StationarySolution {
  const n = sys.n;
  const ref = zeroIndex(p);
  const v = out ? out.fill(0) : new Float64Array(n);
  if (mode === 'touch') for (let i = 0; i < n; i++) v[i] = -Math.abs(p.qMin + i) * halfSpread;
  let work: IntegratorWork | undefined; // only for a burn-in
  let maxBase = 0;
  for (let i = 0; i < n; i++) maxBase = Math.max(maxBase, Math.abs(sys.base[i]));
  const rateScale = sys.rateScale + maxBase + 1e-300;
  const resTol = 1e-12 * rateScale;
  // Burn-in horizon: a few mean inter-arrival times, doubled on every failed Newton attempt.
  let burn = 10 / Math.max(sys.lamP + sys.lamM, 1e-9);
  const start = scratch.start;
  start.set(v);
  if (init && init.length === n && allFinite(init)) {
    v.set(init);
    if (newton(sys, v, ref, resTol, scratch, sys.curves !== undefined))
      return { h: v, growthRate: scratch.g };
    v.set(start);
  }
  if (sys.curves) {
    // Policy iteration needs a start whose greedy policy is sane: from v = 0 the first policies can quote
    // absurdly deep or cross, and their values overflow. The same model with exponential fills is solved
    // by the robust paths and is close enough.
    const { fillPlus: _p, fillMinus: _m, ...plain } = p;
    const exp =
      plain.kappaPlus === plain.kappaMinus && mode === 'depth'
        ? (stationarySymmetric(plain) ?? stationaryGeneral(plain, mode, halfSpread))
        : stationaryGeneral(plain, mode, halfSpread);
    v.set(exp.h);
    if (newton(sys, v, ref, resTol, scratch, true)) return { h: v, growthRate: scratch.g };
    v.set(start);
  }
  for (let attempt = 0; attempt < 12; attempt++) {
    // Only a starting point for Newton: moderate accuracy, no kink location.
    work ??= new IntegratorWork(n);
    integrateHjb(sys, v, burn, { tol: 1e-8, locateKinks: false }, work);
    if (newton(sys, v, ref, resTol, scratch, false)) return { h: v, growthRate: scratch.g };
    burn *= 4;
  }
  throw new Error(`stationary ${mode} solution did not converge (qMin ${p.qMin}, qMax ${p.qMax})`);
}

/*
 * The ergodic Newton iteration, in top-level functions on the solve's scratch rather than closures made per
 * solve (the JIT compiles a function once; a closure re-made per solve was compiled again in every hyperopt
 * worker), and with policy iteration and the damped dense Newton apart (each compiled with the type feedback
 * of its own path: a function serving both met the second path only after it was compiled).
 */

/** max_i |F(x)_i − g|, with F in scratch.f (and its Jacobian in scratch.sub/sup when `withJac`). */
function residualOf(sys: HjbSystem, x: Float64Array, g: number, withJac: boolean, s: Scratch): number {
  const f = s.f;
  sys.rhs(x, f, withJac ? s.sub : undefined, withJac ? s.sup : undefined);
  let r = 0;
  for (let i = 0; i < sys.n; i++) r = Math.max(r, Math.abs(f[i] - g));
  return r;
}

/**
 * Newton from v (in place); true when F(v) = g·1 to the tolerance, with g in s.g. `fullSteps`: no line search,
 * which for fill curves is policy iteration (the Newton step solves for the value of the policy that is
 * greedy at v, and G± are convex), monotone from any start; otherwise each step must reduce the residual.
 */
function newton(
  sys: HjbSystem,
  v: Float64Array,
  ref: number,
  resTol: number,
  s: Scratch,
  fullSteps: boolean,
): boolean {
  const n = sys.n;
  const { f, sub, sup } = s;
  const shift = v[ref];
  for (let i = 0; i < n; i++) v[i] -= shift;
  // Initial g: F at the reference state (exact once v has converged). With fill curves F comes out the
  // same with or without the Jacobian, so one evaluation serves both.
  let g: number;
  let res: number;
  if (sys.curves) {
    sys.rhs(v, f, sub, sup);
    g = f[ref];
    res = 0;
    for (let i = 0; i < n; i++) res = Math.max(res, Math.abs(f[i] - g));
  } else {
    sys.rhs(v, f);
    g = f[ref];
    res = residualOf(sys, v, g, true, s);
  }
  s.g = g;
  if (res <= resTol) return true;
  return fullSteps ? policyIteration(sys, v, ref, resTol, s) : dampedNewton(sys, v, ref, resTol, s, res);
}

/** newton's full steps from v, F and its Jacobian at v in s, g in s.g. */
function policyIteration(sys: HjbSystem, v: Float64Array, ref: number, resTol: number, s: Scratch): boolean {
  const { f, sub, sup, pe } = s;
  let converged = false;
  for (let it = 0; it < 200 && !converged; it++) {
    const gNew = pe.evaluate(sub, sup, f, v, ref);
    if (!Number.isFinite(gNew)) break;
    s.g = gNew;
    const res = residualOf(sys, v, gNew, true, s);
    converged = res <= resTol;
    if (!Number.isFinite(res)) break;
  }
  return converged;
}

/** newton's damped steps from v, F and its Jacobian at v in s, g in s.g, the residual `res`. */
function dampedNewton(
  sys: HjbSystem,
  v: Float64Array,
  ref: number,
  resTol: number,
  s: Scratch,
  res: number,
): boolean {
  const n = sys.n;
  const { f, sub, sup, rhs, trial } = s;
  let g = s.g;
  let converged = false;
  for (let it = 0; it < 60 && !converged; it++) {
    // J δv − δg·1 = −R, δv_ref = 0: column ref of J carries δg instead.
    if (s.mat.length !== n * n) s.mat = new Float64Array(n * n);
    const mat = s.mat.fill(0);
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
    let step = 1;
    let accepted = false;
    for (let ls = 0; ls < 40; ls++) {
      for (let i = 0; i < n; i++) trial[i] = i === ref ? 0 : v[i] + step * rhs[i];
      const r = residualOf(sys, trial, g + step * dg, false, s);
      if (r < res || r <= resTol) {
        v.set(trial);
        g += step * dg;
        s.g = g;
        res = residualOf(sys, v, g, true, s);
        accepted = true;
        break;
      }
      step *= 0.5;
    }
    if (!accepted) break;
    converged = res <= resTol;
  }
  return converged;
}

function allFinite(x: Float64Array): boolean {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return false;
  return true;
}

/**
 * Policy evaluation for a birth–death chain in O(n), through its stationary law (the Perron vector of the
 * chain): for the policy with up-rates u_i = sup[i], down-rates l_i = sub[i] and reward r_i, solve
 * J v + r = g·1 with v_ref = 0. Then g = Σ π_i r_i, and summing π_i × (row i) over i ≤ k telescopes by
 * detailed balance (π_i u_i = π_{i+1} l_{i+1}) to π_k u_k (v_{k+1} − v_k) = Σ_{i≤k} π_i (g − r_i). The
 * differences come from the recursion from the bottom below the mode of π and from the top above it (there
 * the ratios π_{k−1}/π_k = l_k/u_{k−1}, resp. π_{k+1}/π_k = u_k/l_{k+1}, are < 1: no growth of errors), the
 * same twist as the Perron eigenvector's. r_i is recovered from F(v) = r + J v at the current v.
 */
class PolicyEvaluation {
  private readonly r: Float64Array;
  private readonly d: Float64Array;
  constructor(n: number) {
    this.r = new Float64Array(n);
    this.d = new Float64Array(n);
  }

  /** Overwrites v with the policy's value (v_ref = 0) and returns g; NaN if the chain is reducible. */
  evaluate(sub: Float64Array, sup: Float64Array, f: Float64Array, v: Float64Array, ref: number): number {
    const n = v.length;
    const { r, d } = this;
    for (let i = 0; i < n; i++) {
      let jv = 0;
      if (i > 0) jv += sub[i] * (v[i - 1] - v[i]);
      if (i < n - 1) jv += sup[i] * (v[i + 1] - v[i]);
      r[i] = f[i] - jv;
    }
    // π's weights (the same numbers whether remembered or computed; their sum z in the same order).
    const law = birthDeathWeights(n);
    const mode = law.of(sup, sub, 0, n - 1);
    if (mode < 0) return Number.NaN;
    const w = law.w;
    let g = 0;
    for (let i = 0; i < n; i++) g += w[i] * r[i];
    g /= law.z;
    let s = 0;
    for (let k = 0; k < mode; k++) {
      s = (k > 0 ? (s * sub[k]) / sup[k - 1] : 0) + (g - r[k]);
      d[k] = s / sup[k];
    }
    let t = 0;
    for (let k = n - 2; k >= mode; k--) {
      const a = g - r[k + 1] + t;
      d[k] = -a / sub[k + 1];
      t = (sup[k] / sub[k + 1]) * a;
    }
    v[0] = 0;
    for (let k = 0; k < n - 1; k++) v[k + 1] = v[k] + d[k];
    const shift = v[ref];
    for (let i = 0; i < n; i++) v[i] -= shift;
    return Number.isFinite(g) && Number.isFinite(v[0]) && Number.isFinite(v[n - 1]) ? g : Number.NaN;
  }
}
