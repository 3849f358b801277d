/**
 * At-the-touch variant (CJP §10.2.2) for 1-tick markets: on each side either post at the touch (a posted
 * order is filled by every MO of its side, earning the half-spread Δ/2) or do not post.
 * Finite horizon: the piecewise-linear HJB integrated backwards from h(T, q) = −|q|Δ/2 − αq² (liquidate at
 * the far touch, plus the terminal penalty). Stationary: the ergodic problem by policy iteration.
 */
import { birthDeathLogPi } from './birth-death.ts';
import { HjbSystem, type IntegrateOptions, integrateHjb } from './hjb.ts';
import { stateCount, zeroIndex } from './params.ts';
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

/**
 * The stationary touch-mode solution: Howard's policy iteration (touchPolicyIteration), or — where a policy on
 * its way has more than one closed class, or its result misses the solver's residual tolerance — the general
 * ergodic solver (burn-in integration and Newton).
 */
export function solveTouchStationary(
  p: ModelParams,
  halfSpread: number,
  init?: Float64Array,
): StationarySolution {
  return touchPolicyIteration(p, halfSpread, init) ?? stationaryGeneral(p, 'touch', halfSpread, init);
}

/**
 * Howard's policy iteration on the touch-mode ergodic equation F(v) = g·1, v(0) = 0. A policy posts the ask
 * (rate λ⁺, q → q−1) and/or the bid (λ⁻, q → q+1) per state; its value solves the linear equations
 * r + J v = g·1 (r_q = −φq² + qD + ℓ⁺λ⁺(Δ/2 − ε⁺ − c) + ℓ⁻λ⁻(Δ/2 − ε⁻ − c)), and the next policy posts a side
 * where that side's gain Δ/2 − ε − c + v(q∓1) − v(q) is > 0 (keeping the old choice on a tie). It stops when
 * the policy repeats: the same solution as the Newton path, which often cannot take it: a policy that posts
 * neither side in some states (typical when Δ/2 < ε + c: flatten, then stop quoting) makes the Newton
 * system singular, and that path then falls back to integrating the HJB until it is stationary (thousands of
 * steps). Every evaluation is O(n). Undefined when a policy is multichain (more than one closed class: no
 * common long-run rate), when none repeats within 100 iterations, or when F(v) = g·1 is not met to the
 * general solver's tolerance (1e-12 of the rate scale).
 */
export function touchPolicyIteration(
  p: ModelParams,
  halfSpread: number,
  init?: Float64Array,
): StationarySolution | undefined {
  const sys = new HjbSystem(p, 'touch', halfSpread);
  const n = sys.n;
  const ref = zeroIndex(p);
  const { base, lamP, lamM, offP, offM } = sys;
  // The policy's rates: sub[i] = λ⁺ where the ask is posted (q → q−1), sup[i] = λ⁻ where the bid is (q → q+1).
  const sub = new Float64Array(n);
  const sup = new Float64Array(n);
  const v = new Float64Array(n);
  const r = new Float64Array(n);
  const d = new Float64Array(n);
  const logPi = new Float64Array(n);
  const fromInit = init !== undefined && init.length === n && init.every(Number.isFinite);
  for (let i = 0; i < n; i++) {
    // Start: the policy greedy at `init`, else every side that can be posted (an irreducible chain).
    sub[i] = i > 0 && (!fromInit || offP + init[i - 1] - init[i] > 0) ? lamP : 0;
    sup[i] = i < n - 1 && (!fromInit || offM + init[i + 1] - init[i] > 0) ? lamM : 0;
  }
  const rewards = () => {
    for (let i = 0; i < n; i++)
      r[i] = base[i] + (sub[i] > 0 ? lamP * offP : 0) + (sup[i] > 0 ? lamM * offM : 0);
  };
  for (let it = 0; it < 100; it++) {
    rewards();
    let g = birthDeathPolicyValue(sub, sup, r, v, d, logPi, ref);
    if (Number.isNaN(g)) {
      // A greedy policy may strand states (stop quoting where the value it was chosen from says so): keep the
      // closed class with the best long-run rate and let the others leave towards it, then evaluate that.
      if (!keepOneClosedClass(sub, sup, r, logPi, lamP, lamM)) return undefined;
      rewards();
      g = birthDeathPolicyValue(sub, sup, r, v, d, logPi, ref);
      if (Number.isNaN(g)) return undefined;
    }
    let changed = false;
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        const gain = offP + v[i - 1] - v[i];
        const post = gain > 0 || (gain === 0 && sub[i] > 0);
        if (post !== sub[i] > 0) {
          sub[i] = post ? lamP : 0;
          changed = true;
        }
      }
      if (i < n - 1) {
        const gain = offM + v[i + 1] - v[i];
        const post = gain > 0 || (gain === 0 && sup[i] > 0);
        if (post !== sup[i] > 0) {
          sup[i] = post ? lamM : 0;
          changed = true;
        }
      }
    }
    if (changed) continue;
    // The policy repeats: v is its value and the greedy policy at v is the policy itself; F(v) = g·1.
    let maxBase = 0;
    for (let i = 0; i < n; i++) maxBase = Math.max(maxBase, Math.abs(base[i]));
    const resTol = 1e-12 * (sys.rateScale + maxBase + 1e-300);
    const f = r; // no longer needed
    sys.rhs(v, f);
    for (let i = 0; i < n; i++) if (!(Math.abs(f[i] - g) <= resTol)) return undefined;
    return { h: v, growthRate: g };
  }
  return undefined;
}

/**
 * Makes a birth–death policy unichain: while it has more than one closed class, keeps the one with the largest
 * long-run rate Σ π r (the first on a tie) and posts, in each other, the side that leaves it towards the kept one
 * (at its top the bid, at its bottom the ask). Adding a way out never makes a class closed, so each round
 * removes one. False if that cannot be done (a rate of 0 to post).
 */
function keepOneClosedClass(
  sub: Float64Array,
  sup: Float64Array,
  r: Float64Array,
  logPi: Float64Array,
  lamP: number,
  lamM: number,
): boolean {
  const n = r.length;
  for (let round = 0; round < n; round++) {
    const classes: [number, number][] = [];
    let start = 0;
    for (let k = 0; k < n; k++) {
      if (k < n - 1 && sup[k] > 0 && sub[k + 1] > 0) continue;
      if (!(sub[start] > 0) && !(sup[k] > 0)) classes.push([start, k]);
      start = k + 1;
    }
    if (classes.length <= 1) return classes.length === 1;
    let best = -1;
    let bestRate = Number.NEGATIVE_INFINITY;
    for (let c = 0; c < classes.length; c++) {
      const [lo, hi] = classes[c];
      let rate = r[lo];
      if (lo < hi) {
        const mode = birthDeathLogPi(sup, sub, lo, hi, logPi);
        if (mode < 0) return false;
        rate = classMean(r, logPi, lo, hi, mode);
      }
      if (rate > bestRate) {
        bestRate = rate;
        best = c;
      }
    }
    if (best < 0) return false;
    for (let c = 0; c < classes.length; c++) {
      if (c === best) continue;
      const [lo, hi] = classes[c];
      if (c < best) {
        if (!(lamM > 0)) return false;
        sup[hi] = lamM;
      } else {
        if (!(lamP > 0)) return false;
        sub[lo] = lamP;
      }
    }
  }
  return false;
}

/** Σ π r over the class [lo, hi], π ∝ exp(logPi − logPi[mode]) (birthDeathLogPi's output and mode). */
function classMean(r: Float64Array, logPi: Float64Array, lo: number, hi: number, mode: number): number {
  let z = 0;
  let s = 0;
  for (let i = lo; i <= hi; i++) {
    const w = Math.exp(logPi[i] - logPi[mode]);
    z += w;
    s += w * r[i];
  }
  return s / z;
}

/**
 * The value of a birth–death policy (down-rates sub, up-rates sup, reward r) in the average-reward sense:
 * v with r + J v = g·1 and v[ref] = 0, and g, when the chain has exactly one closed class [lo, hi] (the
 * states outside it are transient and lead into it); NaN otherwise. In the class, g = Σ π r over its
 * stationary law and the differences d = v(q+1) − v(q) come from the twisted recursion of the ergodic
 * solver's policy evaluation (stationary.ts); below it each state's row gives d from the one before
 * (its up-rate is > 0: the chain leaves it upwards), above it from the one after.
 */
export function birthDeathPolicyValue(
  sub: Float64Array,
  sup: Float64Array,
  r: Float64Array,
  v: Float64Array,
  d: Float64Array,
  logPi: Float64Array,
  ref: number,
): number {
  const n = r.length;
  // Communicating classes are maximal runs of two-way links; a class is closed when no rate leaves it.
  let lo = -1;
  let hi = -1;
  let start = 0;
  for (let k = 0; k < n; k++) {
    if (k < n - 1 && sup[k] > 0 && sub[k + 1] > 0) continue; // k and k+1 communicate
    if (!(sub[start] > 0) && !(sup[k] > 0)) {
      if (lo >= 0) return Number.NaN; // a second closed class
      lo = start;
      hi = k;
    }
    start = k + 1;
  }
  if (lo < 0) return Number.NaN;
  let g: number;
  if (lo === hi) g = r[lo];
  else {
    const mode = birthDeathLogPi(sup, sub, lo, hi, logPi);
    if (mode < 0) return Number.NaN;
    g = classMean(r, logPi, lo, hi, mode);
    let acc = 0;
    for (let k = lo; k < mode; k++) {
      acc = (k > lo ? (acc * sub[k]) / sup[k - 1] : 0) + (g - r[k]);
      d[k] = acc / sup[k];
    }
    let t = 0;
    for (let k = hi - 1; k >= mode; k--) {
      const a = g - r[k + 1] + t;
      d[k] = -a / sub[k + 1];
      t = (sup[k] / sub[k + 1]) * a;
    }
  }
  // Transient states: below the class each leaves upwards (sup > 0), above it downwards (sub > 0).
  for (let i = 0; i < lo; i++) {
    if (!(sup[i] > 0)) return Number.NaN;
    d[i] = (g - r[i] + (i > 0 ? sub[i] * d[i - 1] : 0)) / sup[i];
  }
  for (let i = n - 1; i > hi; i--) {
    if (!(sub[i] > 0)) return Number.NaN;
    d[i - 1] = ((i < n - 1 ? sup[i] * d[i] : 0) - (g - r[i])) / sub[i];
  }
  v[lo] = 0;
  for (let k = lo; k < n - 1; k++) v[k + 1] = v[k] + d[k];
  for (let k = lo - 1; k >= 0; k--) v[k] = v[k + 1] - d[k];
  const shift = v[ref];
  for (let i = 0; i < n; i++) v[i] -= shift;
  for (let i = 0; i < n; i++) if (!Number.isFinite(v[i])) return Number.NaN;
  return Number.isFinite(g) ? g : Number.NaN;
}

/** ℓ⁺ at state index i: post the ask at the touch iff Δ/2 − ε⁺ − c + h(q−1) − h(q) > 0 (and q > q̲). */
export function postAsk(p: ModelParams, halfSpread: number, h: Float64Array, i: number): boolean {
  return i > 0 && halfSpread - p.epsilonPlus - p.feePerFill + h[i - 1] - h[i] > 0;
}

/** ℓ⁻ at state index i: post the bid at the touch iff Δ/2 − ε⁻ − c + h(q+1) − h(q) > 0 (and q < q̄). */
export function postBid(p: ModelParams, halfSpread: number, h: Float64Array, i: number): boolean {
  return i < h.length - 1 && halfSpread - p.epsilonMinus - p.feePerFill + h[i + 1] - h[i] > 0;
}
