/**
 * The HJB right-hand side in backward time τ = T − t (dh/dτ = F(h)) for the depth and at-the-touch
 * variants, its tridiagonal Jacobian, and a stiff-stable integrator with error control.
 *
 * F depends on h only through neighbour differences, so h ↦ h + const is a symmetry of the flow
 * (the additive-constant invariance), and the Jacobian is generator-like: off-diagonals ≥ 0, rows sum to 0.
 * I − ΔτJ is then a diagonally dominant M-matrix for every Δτ > 0, so linearly implicit steps never break
 * down however stiff the problem (large φq̄², large α, large κ).
 */
import { CompiledFill } from './fill-rate.ts';
import { adverseDrift, hasFillCurves, stateCount } from './params.ts';
import type { ModelParams, QuoteMode } from './types.ts';

/**
 * Exponents are capped so e^x and the Jacobian stay far from overflow (e^230 ≈ 1e100, squares still finite).
 * Reached only where the optimal depth would be below −230/κ (crossing the mid by hundreds of 1/κ), i.e. in
 * the first instants after an absurd terminal penalty; the relaxation there is instantaneous either way.
 */
const EXP_CAP = 230;

export class HjbSystem {
  readonly n: number;
  readonly qMin: number;
  readonly mode: QuoteMode;
  /** −φq² + qD per state. */
  readonly base: Float64Array;
  /** D, the adverse-selection drift in `base`. */
  private readonly drift: number;
  readonly lamP: number;
  readonly lamM: number;
  readonly kapP: number;
  readonly kapM: number;
  /** Depth mode: −1 − κ(ε + c). Touch mode: Δ/2 − ε − c. */
  readonly offP: number;
  readonly offM: number;
  /** Scale of the depths (price), for error control on neighbour differences. */
  readonly depthScale: number;
  /**
   * Depth mode with a general fill-rate model on either side (fill-rate.ts): F uses G±(x) = sup Λ±(δ)(δ + x)
   * with x = h(q∓1) − h(q) − ε± − c. Undefined: the closed-form exponential path.
   */
  readonly curves: { plus: CompiledFill; minus: CompiledFill } | undefined;
  /** ε± + c: the fill's cost, subtracted from h(q∓1) − h(q) to give x (curves only). */
  readonly costP: number;
  readonly costM: number;
  /** Rates × depth scale: the scale of F (for residual tolerances). */
  readonly rateScale: number;
  /** True when F is piecewise linear (kinks the integrator should step onto): touch mode, fill levels. */
  readonly piecewiseLinear: boolean;

  /**
   * `work`: arrays of length n and 5n for `base` and the fill curves' memo, owned by this system while it is
   * used (a φ search's system per parameter refresh: small typed arrays are costly to make); their contents
   * are not read.
   */
  constructor(
    p: ModelParams,
    mode: QuoteMode,
    halfSpread = 0,
    work?: { base: Float64Array; memo: Float64Array },
  ) {
    const n = stateCount(p);
    this.n = n;
    this.qMin = p.qMin;
    this.mode = mode;
    const D = adverseDrift(p);
    this.drift = D;
    this.base = work ? work.base : new Float64Array(n);
    this.memo = work?.memo;
    this.setPhi(p.phi);
    this.lamP = p.lambdaPlus;
    this.lamM = p.lambdaMinus;
    this.kapP = p.kappaPlus;
    this.kapM = p.kappaMinus;
    this.costP = p.epsilonPlus + p.feePerFill;
    this.costM = p.epsilonMinus + p.feePerFill;
    this.curves = undefined;
    if (mode === 'depth' && hasFillCurves(p)) {
      const plus = new CompiledFill(
        p.fillPlus ?? { kind: 'exponential', lambda: p.lambdaPlus, kappa: p.kappaPlus },
      );
      const minus = new CompiledFill(
        p.fillMinus ?? { kind: 'exponential', lambda: p.lambdaMinus, kappa: p.kappaMinus },
      );
      this.curves = { plus, minus };
      this.lamP = plus.arrival;
      this.lamM = minus.arrival;
      this.offP = Number.NaN;
      this.offM = Number.NaN;
      this.depthScale = Math.min(plus.depthScale, minus.depthScale);
    } else if (mode === 'depth') {
      this.offP = -1 - p.kappaPlus * (p.epsilonPlus + p.feePerFill);
      this.offM = -1 - p.kappaMinus * (p.epsilonMinus + p.feePerFill);
      this.depthScale = 1 / Math.min(p.kappaPlus, p.kappaMinus);
    } else {
      this.offP = halfSpread - p.epsilonPlus - p.feePerFill;
      this.offM = halfSpread - p.epsilonMinus - p.feePerFill;
      this.depthScale = Math.max(halfSpread, Math.abs(p.epsilonPlus), Math.abs(p.epsilonMinus), 1e-12);
    }
    this.rateScale = (this.lamP + this.lamM) * this.depthScale;
    const c = this.curves;
    this.piecewiseLinear =
      mode === 'touch' ||
      (c !== undefined && (c.plus.curve.kind === 'levels' || c.minus.curve.kind === 'levels'));
  }

  /**
   * Re-targets the system to another φ, everything else unchanged (only `base` depends on φ): a φ search
   * solves one model at many φ.
   */
  setPhi(phi: number): void {
    const D = this.drift;
    for (let i = 0; i < this.n; i++) {
      const q = this.qMin + i;
      this.base[i] = -phi * q * q + q * D;
    }
  }

  /**
   * Touch mode: the fraction θ ∈ (0, 1] of a step from h0 to h0 + inc at which the first posting decision
   * flips (switching functions Δ/2 − ε − c + h(q∓1) − h(q) change sign), by linear interpolation; 1 if none.
   * `end` is scratch.
   */
  switchFraction(h0: Float64Array, inc: Float64Array, end: Float64Array, kinkTol: number): number {
    const n = this.n;
    for (let i = 0; i < n; i++) end[i] = h0[i] + inc[i];
    if (this.curves) return this.levelSwitchFraction(h0, end, kinkTol);
    let theta = 1;
    // A flip counts only if it starts and ends clearly off the kink: a step starting on a kink (just
    // located) or a solution sliding along one (g ≈ 0) must be allowed through.
    const flip = (g0: number, g1: number) => {
      if (g0 > 0 !== g1 > 0 && Math.abs(g0) > kinkTol && Math.abs(g1) > kinkTol) {
        theta = Math.min(theta, Math.max(0.01, g0 / (g0 - g1)));
      }
    };
    for (let i = 0; i < n; i++) {
      if (i > 0 && this.lamP > 0) flip(this.offP + h0[i - 1] - h0[i], this.offP + end[i - 1] - end[i]);
      if (i < n - 1 && this.lamM > 0) flip(this.offM + h0[i + 1] - h0[i], this.offM + end[i + 1] - end[i]);
    }
    return theta;
  }

  /**
   * Fill levels: the fraction of the step from h0 to end at which the first best level changes, found where
   * the gains of the old and the new level tie (both affine in x, x affine along the step); 1 if none.
   */
  private levelSwitchFraction(h0: Float64Array, end: Float64Array, kinkTol: number): number {
    const n = this.n;
    let theta = 1;
    const sides = [
      [this.curves!.plus, -1, this.costP],
      [this.curves!.minus, 1, this.costM],
    ] as const;
    for (const [f, dir, cost] of sides) {
      if (f.curve.kind !== 'levels' || !(f.arrival > 0)) continue;
      for (let i = 0; i < n; i++) {
        const k = i + dir;
        if (k < 0 || k >= n) continue;
        const x0 = h0[k] - h0[i] - cost;
        const x1 = end[k] - end[i] - cost;
        f.evaluate(x0);
        const dA = f.delta;
        const rA = f.rate;
        f.evaluate(x1);
        if (f.delta === dA) continue;
        const xs = CompiledFill.switchPoint(dA, rA, f.delta, f.rate);
        if (!Number.isFinite(xs) || x1 === x0) continue;
        if (Math.abs(x0 - xs) > kinkTol && Math.abs(x1 - xs) > kinkTol) {
          const t = (xs - x0) / (x1 - x0);
          if (t > 0 && t < 1) theta = Math.min(theta, Math.max(0.01, t));
        }
      }
    }
    return theta;
  }

  /**
   * The last F-with-Jacobian evaluation on fill curves: h, and per state the gains G±(x) and the Jacobian
   * entries (rows of n: h, G⁺, G⁻, J⁺, J⁻). These depend on h only, not on φ, so when a φ search starts its
   * next solve from the previous solution (the h of its last evaluation), F = base + G⁺ + G⁻ is re-summed
   * with the new φ's base instead of evaluating the curves again (the same numbers, in the same order).
   */
  private memo: Float64Array | undefined;
  private memoValid = false;

  /** General fill curves: F and the Jacobian from G±(x), G±'(x) = Λ±(δ*). */
  private rhsCurves(h: Float64Array, out: Float64Array, sub?: Float64Array, sup?: Float64Array): void {
    const n = this.n;
    const { base, costP, costM } = this;
    const { plus, minus } = this.curves!;
    const hasP = plus.arrival > 0;
    const hasM = minus.arrival > 0;
    if (sub === undefined || sup === undefined) {
      for (let i = 0; i < n; i++) {
        let f = base[i];
        const hi = h[i];
        let jP = 0;
        let jM = 0;
        if (i > 0 && hasP) {
          plus.evaluate(h[i - 1] - hi - costP);
          f += plus.gain;
          jP = plus.capped ? 0 : plus.rate;
        }
        if (i < n - 1 && hasM) {
          minus.evaluate(h[i + 1] - hi - costM);
          f += minus.gain;
          jM = minus.capped ? 0 : minus.rate;
        }
        out[i] = f;
        if (sub) sub[i] = jP;
        if (sup) sup[i] = jM;
      }
      return;
    }
    let memo = this.memo;
    if (memo === undefined) memo = this.memo = new Float64Array(5 * n);
    if (!(this.memoValid && sameNumbers(memo, h, n))) this.fillMemo(h, memo);
    for (let i = 0; i < n; i++) {
      let f = base[i];
      if (i > 0 && hasP) f += memo[n + i];
      if (i < n - 1 && hasM) f += memo[2 * n + i];
      out[i] = f;
      sub[i] = memo[3 * n + i];
      sup[i] = memo[4 * n + i];
    }
  }

  /**
   * The memo's rows at h: G⁺ and J⁺ of states 1..n−1, G⁻ and J⁻ of states 0..n−2, each side in one call (the
   * numbers CompiledFill.evaluate gives); J± is 0 where a side has no fill.
   */
  private fillMemo(h: Float64Array, memo: Float64Array): void {
    const n = this.n;
    const { plus, minus } = this.curves!;
    for (let i = 0; i < n; i++) memo[i] = h[i];
    if (plus.arrival > 0) plus.evaluateRange(h, 1, n, -1, this.costP, memo, n, 3 * n);
    else memo.fill(0, 3 * n, 4 * n);
    if (minus.arrival > 0) minus.evaluateRange(h, 0, n - 1, 1, this.costM, memo, 2 * n, 4 * n);
    else memo.fill(0, 4 * n, 5 * n);
    memo[3 * n] = 0;
    memo[5 * n - 1] = 0;
    this.memoValid = true;
  }

  /** out = F(h). If sub/sup are given, also fills the Jacobian's off-diagonals (diag = −(sub + sup)). */
  rhs(h: Float64Array, out: Float64Array, sub?: Float64Array, sup?: Float64Array): void {
    if (this.curves) {
      this.rhsCurves(h, out, sub, sup);
      return;
    }
    const n = this.n;
    const { base, lamP, lamM, kapP, kapM, offP, offM } = this;
    if (this.mode === 'depth') {
      const cP = lamP / kapP;
      const cM = lamM / kapM;
      if (!sub && n > 1) {
        // F only (the integrator's substeps): one exponential per neighbour pair and side, no branches.
        out[0] = base[0] + cM * Math.exp(Math.min(EXP_CAP, offM + kapM * (h[1] - h[0])));
        for (let i = 1; i < n - 1; i++) {
          const hi = h[i];
          out[i] =
            base[i] +
            cP * Math.exp(Math.min(EXP_CAP, offP + kapP * (h[i - 1] - hi))) +
            cM * Math.exp(Math.min(EXP_CAP, offM + kapM * (h[i + 1] - hi)));
        }
        out[n - 1] = base[n - 1] + cP * Math.exp(Math.min(EXP_CAP, offP + kapP * (h[n - 2] - h[n - 1])));
        return;
      }
      for (let i = 0; i < n; i++) {
        let f = base[i];
        const hi = h[i];
        let jP = 0;
        let jM = 0;
        // Where capped, F is locally constant: its Jacobian entry is 0 (and steps can grow through it).
        if (i > 0) {
          const x = offP + kapP * (h[i - 1] - hi);
          const e = Math.exp(Math.min(EXP_CAP, x));
          f += cP * e;
          jP = x < EXP_CAP ? lamP * e : 0;
        }
        if (i < n - 1) {
          const x = offM + kapM * (h[i + 1] - hi);
          const e = Math.exp(Math.min(EXP_CAP, x));
          f += cM * e;
          jM = x < EXP_CAP ? lamM * e : 0;
        }
        out[i] = f;
        if (sub) sub[i] = jP;
        if (sup) sup[i] = jM;
      }
    } else {
      for (let i = 0; i < n; i++) {
        let f = base[i];
        const hi = h[i];
        let jP = 0;
        let jM = 0;
        if (i > 0) {
          const g = offP + h[i - 1] - hi;
          if (g > 0) {
            f += lamP * g;
            jP = lamP;
          }
        }
        if (i < n - 1) {
          const g = offM + h[i + 1] - hi;
          if (g > 0) {
            f += lamM * g;
            jM = lamM;
          }
        }
        out[i] = f;
        if (sub) sub[i] = jP;
        if (sup) sup[i] = jM;
      }
    }
  }
}

/**
 * a[0..n) and b[0..n) hold the same numbers (a signed zero counts as different from the other; NaN as equal
 * to NaN: the curves give the same numbers for it). Object.is on every element: no branch that runs only on
 * zeros (the reference state's), which the JIT would first meet after compiling this.
 */
function sameNumbers(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (!Object.is(a[i], b[i])) return false;
  return true;
}

export interface IntegrateOptions {
  /** Relative tolerance on depths (neighbour differences, relative to the depth scale) and on h. */
  tol?: number;
  /** Backward times τ (ascending, in (0, tau]) at which to report h; the integrator steps onto them exactly. */
  outputTimes?: ArrayLike<number>;
  onOutput?: (index: number, tau: number, h: Float64Array) => void;
  maxSteps?: number;
  /** Touch mode: end steps at switches of the posting decision (default true; off for rough burn-ins). */
  locateKinks?: boolean;
}

export interface IntegrateStats {
  steps: number;
  rejected: number;
}

/**
 * Extrapolation stage count: linearly implicit Euler with step sequence 1..K, order K (SEULEX-style).
 * 8 was the fastest at 1e-10..1e-12 accuracy on the model's problems (6 needs 3× the steps; ≥ 10 amplifies
 * rounding beyond the tolerances).
 */
const K = 8;

/** Scratch buffers of the integrator, reusable across solves of the same size (allocation-light). */
export class IntegratorWork {
  readonly n: number;
  readonly y0: Float64Array;
  readonly f: Float64Array;
  readonly jSub: Float64Array;
  readonly jSup: Float64Array;
  /** LU factors of I − h_s J for the current substep size: sub-diagonal, 1/pivot, eliminated super-diagonal. */
  readonly mSub: Float64Array;
  readonly mInvPivot: Float64Array;
  readonly mUpper: Float64Array;
  readonly y: Float64Array;
  readonly dy: Float64Array;
  readonly tmp: Float64Array;
  readonly inc: Float64Array;
  readonly yEnd: Float64Array;
  /** Extrapolation tableau rows T[j] (K × n). */
  readonly table: Float64Array[];
  readonly commonTable: Float64Array;
  /** The last integration's accepted and rejected steps, and the next output index. */
  steps = 0;
  rejected = 0;
  outIdx = 0;
  constructor(n: number) {
    this.n = n;
    const mk = () => new Float64Array(n);
    this.y0 = mk();
    this.f = mk();
    this.jSub = mk();
    this.jSup = mk();
    this.mSub = mk();
    this.mInvPivot = mk();
    this.mUpper = mk();
    this.y = mk();
    this.dy = mk();
    this.tmp = mk();
    this.inc = mk();
    this.yEnd = mk();
    this.table = Array.from({ length: K }, mk);
    this.commonTable = new Float64Array(K);
  }
}

/**
 * Integrates dh/dτ = F(h) from τ = 0 (h given, in/out) to τ = tau. Linearly implicit Euler steps
 * (L-stable) extrapolated to order K, with the step size chosen from the difference between the two
 * highest-order tableau entries; the tridiagonal systems are solved in O(n).
 */
export function integrateHjb(
  sys: HjbSystem,
  h: Float64Array,
  tau: number,
  opts: IntegrateOptions = {},
  work: IntegratorWork = new IntegratorWork(sys.n),
): IntegrateStats {
  const offset = integrateSteps(sys, h, tau, opts, work);
  const { n, y0 } = work;
  for (let i = 0; i < n; i++) h[i] = y0[i] + offset;
  const outputs = opts.outputTimes;
  while (outputs && work.outIdx < outputs.length) {
    opts.onOutput?.(work.outIdx, tau, h);
    work.outIdx++;
  }
  return { steps: work.steps, rejected: work.rejected };
}

/**
 * integrateHjb's steps: leaves the solution − offset in work.y0 and returns the offset. A function of its own so
 * that the code after the loop is not part of it: a first integration long enough to be compiled while it
 * runs (on-stack replacement) would otherwise reach that code with no type feedback and be deoptimised
 * there, then compiled again (each hyperopt worker thread paid that).
 */
function integrateSteps(
  sys: HjbSystem,
  h: Float64Array,
  tau: number,
  opts: IntegrateOptions,
  work: IntegratorWork,
): number {
  const n = sys.n;
  const tol = opts.tol ?? 1e-11;
  const maxSteps = opts.maxSteps ?? 100000;
  const outputs = opts.outputTimes;
  const { y0, f, jSub, jSup, mSub, mInvPivot, mUpper, y, dy, tmp, inc, table, commonTable, yEnd } = work;
  const hMin = 1e-10 * Math.max(tau, 1);
  const locateKinks = sys.piecewiseLinear && opts.locateKinks !== false;
  const ref = Math.min(Math.max(0, -sys.qMin), n - 1);
  const diffTol = tol * sys.depthScale;
  let t = 0;
  let outIdx = 0;
  while (outputs && outIdx < outputs.length && outputs[outIdx] <= 0) {
    opts.onOutput?.(outIdx, 0, h);
    outIdx++;
  }
  work.outIdx = outIdx;
  y0.set(h);
  sys.rhs(y0, f, jSub, jSup);
  let jmax = 0;
  for (let i = 0; i < n; i++) jmax = Math.max(jmax, jSub[i] + jSup[i], Math.abs(f[i]) / sys.depthScale);
  let H = Math.min(tau, jmax > 0 ? 2 / jmax : tau);
  work.steps = 0;
  work.rejected = 0;
  let offset = 0;
  while (t < tau) {
    if (work.steps + work.rejected > maxSteps)
      throw new Error(`HJB integration did not finish in ${maxSteps} steps`);
    const next = outputs && outIdx < outputs.length ? Math.min(outputs[outIdx], tau) : tau;
    let hStep = Math.min(H, next - t);
    // Avoid a sliver of a step just before an output time.
    if (next - t - hStep < 1e-12 * Math.max(1, next)) hStep = next - t;
    const lastStep = hStep === next - t;
    // Build T[j][0] for j = 0..K−1 with n_j = j + 1 substeps; Jacobian frozen at y0.
    for (let j = 0; j < K; j++) {
      const nj = j + 1;
      const hs = hStep / nj;
      // Factor I − h_s J once for the nj substeps (Thomas algorithm; an M-matrix, no pivoting needed).
      let upperPrev = 0;
      for (let i = 0; i < n; i++) {
        const sub = -hs * jSub[i];
        const inv = 1 / (1 + hs * (jSub[i] + jSup[i]) - sub * upperPrev);
        mSub[i] = sub;
        mInvPivot[i] = inv;
        upperPrev = -hs * jSup[i] * inv;
        mUpper[i] = upperPrev;
      }
      // The increment over the step is split into a common mode (F at the reference state, a scalar) and a
      // deviation. J·1 = 0, so the common mode passes through (I − hJ)⁻¹ unchanged and never enters F
      // (F is shift-invariant): extrapolation then works on the deviation only, which is small and vanishes
      // in the stationary regime, instead of amplifying the rounding of h's growth g·τ into the depths.
      y.set(y0);
      inc.fill(0);
      let common = 0;
      for (let m = 0; m < nj; m++) {
        let src = f;
        if (m > 0) {
          sys.rhs(y, tmp);
          src = tmp;
        }
        const fr = src[ref];
        common += hs * fr;
        // (I − h_s J) dy = h_s (F − F_ref): forward elimination, then back substitution fused with the update.
        let prev = 0;
        for (let i = 0; i < n; i++) {
          prev = (hs * (src[i] - fr) - mSub[i] * prev) * mInvPivot[i];
          dy[i] = prev;
        }
        let below = 0;
        for (let i = n - 1; i >= 0; i--) {
          below = dy[i] - mUpper[i] * below;
          inc[i] += below;
          y[i] = y0[i] + inc[i];
        }
      }
      table[j].set(inc);
      commonTable[j] = common;
      // Aitken–Neville in place: table[j−k] holds T_{j,k} after the update (error expansion in powers of h).
      for (let k = 1; k <= j; k++) {
        const ratio = nj / (j + 1 - k) - 1;
        const a = table[j - k + 1];
        const b = table[j - k];
        // T_{j,k} = T_{j,k−1} + (T_{j,k−1} − T_{j−1,k−1}) / ratio, stored into table[j−k].
        for (let i = 0; i < n; i++) b[i] = a[i] + (a[i] - b[i]) / ratio;
        const ca = commonTable[j - k + 1];
        commonTable[j - k] = ca + (ca - commonTable[j - k]) / ratio;
      }
    }
    // table[0] = T_{K−1,K−1} (order K), table[1] = T_{K−1,K−2} (order K−1).
    const best = table[0];
    const lower = table[1];
    // Increments over the step; errors are measured on neighbour differences (the depths) and on the
    // reference state. Rounding noise of the values (F is evaluated at y0 + increment, and extrapolation
    // amplifies rounding) is not truncation error: the tolerance is widened by it.
    let yMax = 0;
    for (let i = 0; i < n; i++) yMax = Math.max(yMax, Math.abs(best[i]), Math.abs(y0[i]));
    const noise = 1024 * 2 ** -52 * yMax;
    const eRef = best[ref] - lower[ref];
    const eCommon = eRef + commonTable[0] - commonTable[1];
    let raw = Math.abs(eCommon) / (tol * (sys.depthScale + Math.abs(best[ref] + commonTable[0])));
    for (let i = 0; i < n; i++) {
      const a = Math.abs(best[i] - lower[i] - eRef) / diffTol;
      if (a > raw || Number.isNaN(a)) raw = Number.isNaN(a) ? Number.POSITIVE_INFINITY : a;
    }
    if (!Number.isFinite(best[ref]) || !Number.isFinite(commonTable[0])) raw = Number.POSITIVE_INFINITY;
    const noiseRatio = noise / diffTol;
    const err = raw / (1 + noiseRatio);
    const factor = err === 0 ? 4 : Math.min(4, Math.max(0.2, 0.9 * err ** (-1 / K)));
    // Touch mode: F is piecewise affine. A step across a switch of the posting decision (a kink) would
    // defeat the error estimate, so such steps are shortened to end at the switch (linear interpolation
    // of the switching function), and only steps shorter than hMin may straddle one.
    if (err <= 1 && locateKinks && hStep > hMin) {
      const theta = sys.switchFraction(y0, best, yEnd, 1000 * diffTol);
      if (theta < 1) {
        work.rejected++;
        H = Math.max(hMin, theta * hStep * 0.999);
        continue;
      }
    }
    if (err <= 1) {
      work.steps++;
      t = lastStep ? next : t + hStep;
      // Re-centre on the reference state: F sees only differences, and keeping |y| small keeps the
      // differences (the depths) accurate however large h grows with the horizon.
      const shift = y0[ref] + best[ref];
      offset += shift + commonTable[0];
      for (let i = 0; i < n; i++) y0[i] = y0[i] + best[i] - shift;
      sys.rhs(y0, f, jSub, jSup);
      if (!outputs && t < tau) {
        // Stationary regime: the differences (an autonomous, contracting flow) move at most
        // max|F − F_ref|·(τ − t) from here; below the tolerance, only the common growth F_ref remains.
        let drift = 0;
        const fRef = f[ref];
        for (let i = 0; i < n; i++) drift = Math.max(drift, Math.abs(f[i] - fRef));
        const remaining = tau - t;
        // Computed on every step, used once: the exit's arithmetic must not be code the JIT has never seen run.
        const offsetAtEnd = offset + fRef * remaining;
        if (drift * remaining <= 0.1 * diffTol) {
          offset = offsetAtEnd;
          t = tau;
          break;
        }
      }
      if (lastStep && outputs && outIdx < outputs.length && next === Math.min(outputs[outIdx], tau)) {
        for (let i = 0; i < n; i++) tmp[i] = y0[i] + offset;
        opts.onOutput?.(outIdx, t, tmp);
        outIdx++;
        work.outIdx = outIdx;
      }
      // Keep the step the controller wants, not the one truncated to hit an output time.
      H = lastStep && hStep < H ? Math.max(H, hStep * factor) : hStep * factor;
    } else {
      work.rejected++;
      H = hStep * factor;
    }
  }
  return offset;
}
