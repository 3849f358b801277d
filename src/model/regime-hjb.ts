/**
 * The Cartea–Jaimungal HJB over (inventory, imbalance regime): Cartea, Donnelly & Jaimungal (2018),
 * "Enhancing trading strategies with order book signals", with the adverse-selection model of MATH.md in
 * every regime. The regime Z is a continuous-time Markov chain with generator C (rates 1/s); in regime z
 * MOs arrive at λ±_z, fill a quote at depth δ with probability e^{−κ±_z δ} and move the mid by ε±_z. With
 * h(t, q, z) (ansatz H = x + qS + h), in backward time τ = T − t:
 *
 *   ∂τ h(q,z) = −φq² + q·D_z + Σ_{z'≠z} C_{zz'} (h(q,z') − h(q,z))
 *             + (λ⁺_z/κ⁺_z) e^{−1 − κ⁺_z(ε⁺_z + c) + κ⁺_z(h(q−1,z) − h(q,z))}   (q > q̲)
 *             + (λ⁻_z/κ⁻_z) e^{−1 − κ⁻_z(ε⁻_z + c) + κ⁻_z(h(q+1,z) − h(q,z))}   (q < q̄)
 *
 * D_z = λ⁺_z ε⁺_z − λ⁻_z ε⁻_z, h(T, q, z) = −αq². Feedback depths per regime are today's formulas with the
 * regime's parameters: δ⁺(q,z) = 1/κ⁺_z + ε⁺_z + c − [h(q−1,z) − h(q,z)] (bid likewise).
 *
 * State order: index = i·m + z (inventory-major), so the Jacobian is block tridiagonal with m×m blocks:
 * the diagonal block holds the generator coupling, the off-diagonal blocks are diagonal (fills move q only).
 * Like the one-regime system, the Jacobian is generator-like (off-diagonals ≥ 0, rows sum to 0), so
 * I − hJ is an M-matrix for every h > 0 and the block LU (no pivoting) never breaks down.
 * The integrator is the one-regime scheme of hjb.ts (linearly implicit Euler extrapolated to order 8, the
 * common-mode split, re-centring), with block-tridiagonal stages in O(n·m³).
 */
import { qbdStationaryLaw } from './joint-law.ts';
import { adverseDrift } from './params.ts';
import type { ModelParams } from './types.ts';

/**
 * Exponents are kept in [−EXP_CAP, EXP_CAP]: the cap keeps e^x and the Jacobian finite (as hjb.ts); the
 * floor keeps every fill rate > 0 (e^−230 ≈ 1e−100, far below anything that matters), so a Newton or stage
 * matrix never has an exactly singular block where a fill rate would underflow to 0.
 */
const EXP_CAP = 230;
const K = 8;
/** Newton's tolerance on the ergodic residual max|F − g|, relative to the rate scale. */
const NEWTON_TOL = 1e-12;

export class RegimeHjbSystem {
  /** Total unknowns nq·m, inventory levels nq, regimes m. */
  readonly n: number;
  readonly nq: number;
  readonly m: number;
  readonly qMin: number;
  /** −φq² + q·D_z at index i·m + z. */
  readonly base: Float64Array;
  readonly lamP: Float64Array;
  readonly lamM: Float64Array;
  readonly kapP: Float64Array;
  readonly kapM: Float64Array;
  readonly offP: Float64Array;
  readonly offM: Float64Array;
  /** λ±/κ± per regime. */
  readonly cP: Float64Array;
  readonly cM: Float64Array;
  /** Off-diagonal generator rates C[z·m + z'] (diagonal 0) and each row's total outflow. */
  readonly gen: Float64Array;
  readonly out: Float64Array;
  readonly depthScale: number;
  /** Reference state (q = 0, first regime). */
  readonly ref: number;

  constructor(regimes: readonly ModelParams[], generator: ArrayLike<number>) {
    const m = regimes.length;
    const p0 = regimes[0];
    const nq = p0.qMax - p0.qMin + 1;
    this.m = m;
    this.nq = nq;
    this.n = nq * m;
    this.qMin = p0.qMin;
    this.base = new Float64Array(this.n);
    this.lamP = new Float64Array(m);
    this.lamM = new Float64Array(m);
    this.kapP = new Float64Array(m);
    this.kapM = new Float64Array(m);
    this.offP = new Float64Array(m);
    this.offM = new Float64Array(m);
    this.cP = new Float64Array(m);
    this.cM = new Float64Array(m);
    this.gen = new Float64Array(m * m);
    this.out = new Float64Array(m);
    let minKappa = Number.POSITIVE_INFINITY;
    for (let z = 0; z < m; z++) {
      const p = regimes[z];
      const D = adverseDrift(p);
      for (let i = 0; i < nq; i++) {
        const q = p.qMin + i;
        this.base[i * m + z] = -p.phi * q * q + q * D;
      }
      this.lamP[z] = p.lambdaPlus;
      this.lamM[z] = p.lambdaMinus;
      this.kapP[z] = p.kappaPlus;
      this.kapM[z] = p.kappaMinus;
      this.offP[z] = -1 - p.kappaPlus * (p.epsilonPlus + p.feePerFill);
      this.offM[z] = -1 - p.kappaMinus * (p.epsilonMinus + p.feePerFill);
      this.cP[z] = p.lambdaPlus / p.kappaPlus;
      this.cM[z] = p.lambdaMinus / p.kappaMinus;
      minKappa = Math.min(minKappa, p.kappaPlus, p.kappaMinus);
      for (let w = 0; w < m; w++) {
        if (w === z) continue;
        const c = generator[z * m + w];
        this.gen[z * m + w] = c;
        this.out[z] += c;
      }
    }
    this.depthScale = 1 / minKappa;
    this.ref = Math.min(Math.max(0, -p0.qMin), nq - 1) * m;
  }

  /**
   * out = F(h). With jP/jM also the fill parts of the Jacobian: jP[k] = ∂F_k/∂h(q−1, z), jM[k] = ∂F_k/∂h(q+1, z)
   * (the generator part is constant).
   */
  rhs(h: Float64Array, out: Float64Array, jP?: Float64Array, jM?: Float64Array): void {
    const { m, nq, base, lamP, lamM, kapP, kapM, offP, offM, cP, cM, gen, out: outflow } = this;
    for (let i = 0; i < nq; i++) {
      const row0 = i * m;
      const hasAsk = i > 0;
      const hasBid = i < nq - 1;
      for (let z = 0; z < m; z++) {
        const k = row0 + z;
        const hk = h[k];
        let f = base[k] - outflow[z] * hk;
        const g0 = z * m;
        for (let w = 0; w < m; w++) if (w !== z) f += gen[g0 + w] * h[row0 + w];
        if (hasAsk) {
          const x = offP[z] + kapP[z] * (h[k - m] - hk);
          const e = Math.exp(Math.max(-EXP_CAP, Math.min(x, EXP_CAP)));
          f += cP[z] * e;
          // Below the floor F is constant, but the tiny λe keeps the Newton and stage blocks regular.
          if (jP) jP[k] = x < EXP_CAP ? lamP[z] * e : 0;
        } else if (jP) jP[k] = 0;
        if (hasBid) {
          const x = offM[z] + kapM[z] * (h[k + m] - hk);
          const e = Math.exp(Math.max(-EXP_CAP, Math.min(x, EXP_CAP)));
          f += cM[z] * e;
          if (jM) jM[k] = x < EXP_CAP ? lamM[z] * e : 0;
        } else if (jM) jM[k] = 0;
        out[k] = f;
      }
    }
  }
}

/**
 * Twisted block-tridiagonal factorisation of  a·I + b·J + shift·e_ref e_refᵀ  (J the system's Jacobian: fill
 * parts jP, jM and the generator), without pivoting. Levels below the twist (the reference state's level)
 * are eliminated upwards from q̲, levels above it downwards from q̄, and the twist block takes both Schur
 * complements. For the Newton matrix (J − e_ref e_refᵀ, singular J) this keeps every eliminated block grounded
 * by its coupling toward the twist, so no Schur complement degenerates far from the reference (a one-way
 * sweep from q̲ leaves the last block nearly singular: its only grounding is ten levels away).
 */
export class BlockTridiagonal {
  readonly nq: number;
  readonly m: number;
  /** Twist level (set by factor: the level of the shifted state, else the constructor's). */
  twist: number;
  /** State whose diagonal gets `shift` (the Newton matrix's grounding state). */
  private shiftAt = -1;
  /** Inverses of the pivot blocks (nq × m × m), the scaled couplings b·jM (upper) and b·jP (lower). */
  private readonly winv: Float64Array;
  private readonly upper: Float64Array;
  private readonly lower: Float64Array;
  private readonly blk: Float64Array;
  private readonly tmp: Float64Array;
  private readonly vec: Float64Array;

  constructor(nq: number, m: number, twist = 0) {
    this.nq = nq;
    this.m = m;
    this.twist = Math.min(Math.max(0, twist), nq - 1);
    this.winv = new Float64Array(nq * m * m);
    this.upper = new Float64Array(nq * m);
    this.lower = new Float64Array(nq * m);
    this.blk = new Float64Array(m * m);
    this.tmp = new Float64Array(m * m);
    this.vec = new Float64Array(m);
  }

  /** Diagonal block of level i into blk, and the level's couplings. */
  private diagonalBlock(
    sys: RegimeHjbSystem,
    jP: Float64Array,
    jM: Float64Array,
    i: number,
    a: number,
    b: number,
    shift: number,
  ): void {
    const { m, nq, upper, lower, blk } = this;
    const { gen, out } = sys;
    for (let z = 0; z < m; z++) {
      const k = i * m + z;
      for (let w = 0; w < m; w++)
        blk[z * m + w] = z === w ? a - b * (jP[k] + jM[k] + out[z]) : b * gen[z * m + w];
      lower[k] = i > 0 ? b * jP[k] : 0;
      upper[k] = i < nq - 1 ? b * jM[k] : 0;
    }
    if (shift !== 0 && i * m <= this.shiftAt && this.shiftAt < (i + 1) * m) {
      const z = this.shiftAt - i * m;
      blk[z * m + z] += shift;
    }
  }

  /**
   * Factors; returns false on a zero pivot. With `shift`, it is added at state `at` (default the system's
   * reference) and the twist moves to that state's level.
   */
  factor(
    sys: RegimeHjbSystem,
    jP: Float64Array,
    jM: Float64Array,
    a: number,
    b: number,
    shift = 0,
    at = sys.ref,
  ): boolean {
    this.shiftAt = at;
    if (shift !== 0) this.twist = Math.floor(at / this.m);
    const { nq, m, winv, upper, lower, blk, twist } = this;
    // Couplings first (the Schur complements below read both neighbours').
    for (let i = 0; i < nq; i++) {
      for (let z = 0; z < m; z++) {
        const k = i * m + z;
        lower[k] = i > 0 ? b * jP[k] : 0;
        upper[k] = i < nq - 1 ? b * jM[k] : 0;
      }
    }
    // Upwards from q̲: blk_i −= diag(lower_i) W_{i−1} diag(upper_{i−1}).
    for (let i = 0; i < twist; i++) {
      this.diagonalBlock(sys, jP, jM, i, a, b, shift);
      if (i > 0) this.schur(i, i - 1, lower, upper);
      if (!invertSmall(blk, m, winv, i * m * m, this.tmp)) return false;
    }
    // Downwards from q̄: blk_i −= diag(upper_i) W_{i+1} diag(lower_{i+1}).
    for (let i = nq - 1; i > twist; i--) {
      this.diagonalBlock(sys, jP, jM, i, a, b, shift);
      if (i < nq - 1) this.schur(i, i + 1, upper, lower);
      if (!invertSmall(blk, m, winv, i * m * m, this.tmp)) return false;
    }
    this.diagonalBlock(sys, jP, jM, twist, a, b, shift);
    if (twist > 0) this.schur(twist, twist - 1, lower, upper);
    if (twist < nq - 1) this.schur(twist, twist + 1, upper, lower);
    return invertSmall(blk, m, winv, twist * m * m, this.tmp);
  }

  /** blk −= diag(cIn_i) · W_j · diag(cOut_j): the Schur complement of level i after eliminating level j. */
  private schur(i: number, j: number, cIn: Float64Array, cOut: Float64Array): void {
    const { m, winv, blk } = this;
    const w0 = j * m * m;
    for (let z = 0; z < m; z++) {
      const l = cIn[i * m + z];
      if (l === 0) continue;
      for (let w = 0; w < m; w++) blk[z * m + w] -= l * winv[w0 + z * m + w] * cOut[j * m + w];
    }
  }

  /** y_i = W_i (x_i − diag(c_i) y_j) in place at level i. */
  private reduce(x: Float64Array, i: number, j: number, c: Float64Array): void {
    const { m, winv, vec } = this;
    const o = i * m;
    for (let z = 0; z < m; z++) vec[z] = x[o + z] - (j >= 0 ? c[o + z] * x[j * m + z] : 0);
    const w0 = i * m * m;
    for (let z = 0; z < m; z++) {
      let s = 0;
      for (let w = 0; w < m; w++) s += winv[w0 + z * m + w] * vec[w];
      x[o + z] = s;
    }
  }

  /** x_i −= W_i diag(c_i) x_j at level i (the back substitution). */
  private backOut(x: Float64Array, i: number, j: number, c: Float64Array): void {
    const { m, winv, vec } = this;
    const o = i * m;
    const w0 = i * m * m;
    for (let z = 0; z < m; z++) {
      let s = 0;
      for (let w = 0; w < m; w++) s += winv[w0 + z * m + w] * c[o + w] * x[j * m + w];
      vec[z] = s;
    }
    for (let z = 0; z < m; z++) x[o + z] -= vec[z];
  }

  /** Solves in place: x ← M⁻¹x. */
  solve(x: Float64Array): void {
    const { nq, m, lower, upper, vec, winv, twist } = this;
    for (let i = 0; i < twist; i++) this.reduce(x, i, i - 1, lower);
    for (let i = nq - 1; i > twist; i--) this.reduce(x, i, i < nq - 1 ? i + 1 : -1, upper);
    // Twist level: both neighbours' reduced values enter.
    const o = twist * m;
    for (let z = 0; z < m; z++) {
      let r = x[o + z];
      if (twist > 0) r -= lower[o + z] * x[o - m + z];
      if (twist < nq - 1) r -= upper[o + z] * x[o + m + z];
      vec[z] = r;
    }
    const w0 = twist * m * m;
    for (let z = 0; z < m; z++) {
      let s = 0;
      for (let w = 0; w < m; w++) s += winv[w0 + z * m + w] * vec[w];
      x[o + z] = s;
    }
    for (let i = twist - 1; i >= 0; i--) this.backOut(x, i, i + 1, upper);
    for (let i = twist + 1; i < nq; i++) this.backOut(x, i, i - 1, lower);
  }
}

/** Inverse of the m×m block a (row-major) into out[off..], Gauss–Jordan with partial pivoting. */
function invertSmall(
  a: Float64Array,
  m: number,
  out: Float64Array,
  off: number,
  work: Float64Array,
): boolean {
  if (m === 1) {
    if (!(a[0] !== 0)) return false;
    out[off] = 1 / a[0];
    return true;
  }
  for (let k = 0; k < m * m; k++) work[k] = a[k];
  for (let z = 0; z < m; z++) for (let w = 0; w < m; w++) out[off + z * m + w] = z === w ? 1 : 0;
  for (let c = 0; c < m; c++) {
    let p = c;
    for (let r = c + 1; r < m; r++) if (Math.abs(work[r * m + c]) > Math.abs(work[p * m + c])) p = r;
    if (!(work[p * m + c] !== 0)) return false;
    if (p !== c) {
      for (let k = 0; k < m; k++) {
        let t = work[c * m + k];
        work[c * m + k] = work[p * m + k];
        work[p * m + k] = t;
        t = out[off + c * m + k];
        out[off + c * m + k] = out[off + p * m + k];
        out[off + p * m + k] = t;
      }
    }
    const inv = 1 / work[c * m + c];
    for (let k = 0; k < m; k++) {
      work[c * m + k] *= inv;
      out[off + c * m + k] *= inv;
    }
    for (let r = 0; r < m; r++) {
      if (r === c) continue;
      const f = work[r * m + c];
      if (f === 0) continue;
      for (let k = 0; k < m; k++) {
        work[r * m + k] -= f * work[c * m + k];
        out[off + r * m + k] -= f * out[off + c * m + k];
      }
    }
  }
  return true;
}

export interface RegimeIntegrateOptions {
  /** Relative tolerance on depths (differences of h, relative to the depth scale). Default 1e-11. */
  tol?: number;
  maxSteps?: number;
  /** Stop as soon as the ergodic residual max|F − F_ref| is below this (rate units): the stationary march. */
  untilStationary?: number;
}

/** Scratch of the integrator (reusable across solves of one size). */
export class RegimeIntegratorWork {
  readonly y0: Float64Array;
  readonly f: Float64Array;
  readonly jP: Float64Array;
  readonly jM: Float64Array;
  readonly y: Float64Array;
  readonly dy: Float64Array;
  readonly tmp: Float64Array;
  readonly inc: Float64Array;
  readonly table: Float64Array[];
  readonly commonTable: Float64Array;
  readonly lu: BlockTridiagonal;
  constructor(sys: RegimeHjbSystem) {
    const n = sys.n;
    const mk = () => new Float64Array(n);
    this.y0 = mk();
    this.f = mk();
    this.jP = mk();
    this.jM = mk();
    this.y = mk();
    this.dy = mk();
    this.tmp = mk();
    this.inc = mk();
    this.table = Array.from({ length: K }, mk);
    this.commonTable = new Float64Array(K);
    this.lu = new BlockTridiagonal(sys.nq, sys.m, Math.floor(sys.ref / sys.m));
  }
}

/**
 * Integrates dh/dτ = F(h) from τ = 0 (h given, in/out) to τ = tau: linearly implicit Euler extrapolated to
 * order 8 (as hjb.ts), with the increment split into a common mode (J·1 = 0) and a deviation, the step size
 * from the two highest-order tableau entries, and re-centring on the reference state after each step.
 */
export function integrateRegimeHjb(
  sys: RegimeHjbSystem,
  h: Float64Array,
  tau: number,
  opts: RegimeIntegrateOptions = {},
  work: RegimeIntegratorWork = new RegimeIntegratorWork(sys),
): { steps: number; rejected: number } {
  const n = sys.n;
  const tol = opts.tol ?? 1e-11;
  const maxSteps = opts.maxSteps ?? 100000;
  const { y0, f, jP, jM, y, dy, tmp, inc, table, commonTable, lu } = work;
  const ref = sys.ref;
  const diffTol = tol * sys.depthScale;
  let t = 0;
  y0.set(h);
  sys.rhs(y0, f, jP, jM);
  let jmax = 0;
  for (let k = 0; k < n; k++) {
    const z = k % sys.m;
    jmax = Math.max(jmax, jP[k] + jM[k] + sys.out[z], Math.abs(f[k]) / sys.depthScale);
  }
  // Steps never exceed a day (an infinite horizon is a march to stationarity).
  let H = Math.min(tau, 86_400, jmax > 0 ? 2 / jmax : 86_400);
  let steps = 0;
  let rejected = 0;
  let offset = 0;
  while (t < tau) {
    if (steps + rejected > maxSteps)
      throw new Error(`regime HJB integration did not finish in ${maxSteps} steps`);
    let hStep = Math.min(H, tau - t);
    if (tau - t - hStep < 1e-12 * Math.max(1, tau)) hStep = tau - t;
    const lastStep = hStep === tau - t;
    for (let j = 0; j < K; j++) {
      const nj = j + 1;
      const hs = hStep / nj;
      if (!lu.factor(sys, jP, jM, 1, -hs)) throw new Error('regime HJB: singular stage matrix');
      y.set(y0);
      inc.fill(0);
      let common = 0;
      for (let s = 0; s < nj; s++) {
        let src = f;
        if (s > 0) {
          sys.rhs(y, tmp);
          src = tmp;
        }
        const fr = src[ref];
        common += hs * fr;
        for (let k = 0; k < n; k++) dy[k] = hs * (src[k] - fr);
        lu.solve(dy);
        for (let k = 0; k < n; k++) {
          inc[k] += dy[k];
          y[k] = y0[k] + inc[k];
        }
      }
      table[j].set(inc);
      commonTable[j] = common;
      for (let k = 1; k <= j; k++) {
        const ratio = nj / (j + 1 - k) - 1;
        const a = table[j - k + 1];
        const b = table[j - k];
        for (let i = 0; i < n; i++) b[i] = a[i] + (a[i] - b[i]) / ratio;
        const ca = commonTable[j - k + 1];
        commonTable[j - k] = ca + (ca - commonTable[j - k]) / ratio;
      }
    }
    const best = table[0];
    const lower = table[1];
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
    const err = raw / (1 + noise / diffTol);
    const factor = err === 0 ? 4 : Math.min(4, Math.max(0.2, 0.9 * err ** (-1 / K)));
    if (err <= 1) {
      steps++;
      t = lastStep ? tau : t + hStep;
      const shift = y0[ref] + best[ref];
      offset += shift + commonTable[0];
      for (let i = 0; i < n; i++) y0[i] = y0[i] + best[i] - shift;
      sys.rhs(y0, f, jP, jM);
      if (t < tau) {
        // Stationary regime: the differences have stopped moving; only the common growth remains.
        let drift = 0;
        for (let i = 0; i < n; i++) drift = Math.max(drift, Math.abs(f[i] - f[ref]));
        if (opts.untilStationary !== undefined && drift <= opts.untilStationary) break;
        const remaining = tau - t;
        if (drift * remaining <= 0.1 * diffTol) {
          offset += f[ref] * remaining;
          t = tau;
          break;
        }
      }
      H = Math.min(86_400, hStep * factor);
    } else {
      rejected++;
      H = hStep * factor;
    }
  }
  for (let i = 0; i < n; i++) h[i] = y0[i] + offset;
  return { steps, rejected };
}

/**
 * Stationary (ergodic) solution: F(v) = g·1 with v(ref) = 0, by Newton with a backtracking line search from
 * the finite-horizon solution after a burn-in (as stationary.ts). The Newton matrix is J with the reference
 * column replaced by −1 (the unknown g): a rank-one change of the block-tridiagonal J − e_ref e_refᵀ, solved
 * by Sherman–Morrison. Needs an irreducible generator (a common long-run rate g). `warmTol`: the Newton
 * tolerance (relative to the rate scale) of the warm-started solve, default NEWTON_TOL.
 */
export function stationaryRegime(
  sys: RegimeHjbSystem,
  alphaTerminal: Float64Array,
  warmStart?: Float64Array,
  warmTol = NEWTON_TOL,
): {
  h: Float64Array;
  growthRate: number;
} {
  const n = sys.n;
  const ref = sys.ref;
  const v = Float64Array.from(alphaTerminal);
  const f = newtonScratch(sys).f;
  let maxBase = 0;
  let lamTot = 0;
  for (let i = 0; i < n; i++) maxBase = Math.max(maxBase, Math.abs(sys.base[i]));
  for (let z = 0; z < sys.m; z++) lamTot = Math.max(lamTot, sys.lamP[z] + sys.lamM[z]);
  const rateScale = lamTot * sys.depthScale + maxBase + 1e-300;
  newtonIterations = 0;
  solveStats.solves++;
  if (warmStart) solveStats.warmSolves++;
  // 0. From a previous solution (a re-calibration moves the parameters a little): two or three Newton steps.
  if (warmStart && warmStart.length === n) {
    v.set(warmStart);
    const g0 = newtonErgodic(sys, v, f, rateScale, warmTol);
    if (Number.isFinite(g0)) return { h: v, growthRate: g0 };
    v.set(alphaTerminal);
  }
  // 1. Newton from the terminal values: on this convex system it is policy iteration and usually converges
  //    in a few steps.
  let g = newtonErgodic(sys, v, f, rateScale);
  if (Number.isFinite(g)) return { h: v, growthRate: g };
  // 2. Otherwise march the finite-horizon equation until the differences settle (the ergodic residual
  //    max|F − F_ref| is small), then polish with Newton; if that still fails, march to full accuracy.
  const work = new RegimeIntegratorWork(sys);
  for (const settle of [1e-6, 1e-12]) {
    v.set(alphaTerminal);
    integrateRegimeHjb(
      sys,
      v,
      Number.POSITIVE_INFINITY,
      { tol: 1e-11, untilStationary: settle * rateScale },
      work,
    );
    const s0 = v[ref];
    for (let i = 0; i < n; i++) v[i] -= s0;
    g = newtonErgodic(sys, v, f, rateScale);
    if (Number.isFinite(g)) return { h: v, growthRate: g };
  }
  sys.rhs(v, f);
  let res = 0;
  for (let i = 0; i < n; i++) res = Math.max(res, Math.abs(f[i] - f[ref]));
  if (res <= 1e-9 * rateScale) return { h: v, growthRate: f[ref] };
  throw new Error(`stationary regime solution did not converge (${sys.m} regimes, qMin ${sys.qMin})`);
}

/**
 * Newton on F(v) = g·1, in place from v; returns g (NaN when it does not converge), with v normalised to
 * v(ref) = 0. The Newton matrix is grounded at a state the current policy visits often (see chooseGround),
 * not necessarily at ref: the normalisation is arbitrary, the conditioning is not. The tolerance is the larger
 * of `tol` (default 1e-12) of the rate scale and the rounding floor of F at v (terms as large as C·|v| cancel
 * in F).
 */
export function newtonErgodic(
  sys: RegimeHjbSystem,
  v: Float64Array,
  f: Float64Array,
  rateScale: number,
  tol = NEWTON_TOL,
): number {
  const n = sys.n;
  const m = sys.m;
  const sc = newtonScratch(sys);
  const { rhs, u, trial, b, lu } = sc;
  // F and its fill Jacobian at the iterate (fc, jP, jM), and at the line search's trial point (ft, tP, tM):
  // a trial's residual is computed with its Jacobian, so an accepted trial swaps buffers instead of
  // evaluating F again at the same point.
  let fc = f;
  let ft = sc.f2;
  let jP = sc.jP;
  let jM = sc.jM;
  let tP = sc.tP;
  let tM = sc.tM;
  const tolAt = (x: Float64Array): number => {
    let big = 0;
    for (let i = 0; i < n; i++) big = Math.max(big, Math.abs(x[i]) * sys.out[i % m], Math.abs(sys.base[i]));
    return Math.max(tol * rateScale, 64 * 2 ** -52 * big);
  };
  const maxDev = (y: Float64Array, g: number): number => {
    let r = 0;
    for (let i = 0; i < n; i++) r = Math.max(r, Math.abs(y[i] - g));
    return r;
  };
  sys.rhs(v, fc, jP, jM);
  const ground = chooseGround(sys, jP, jM);
  const s0 = v[ground];
  for (let i = 0; i < n; i++) v[i] -= s0;
  let g = fc[ground];
  sys.rhs(v, fc, jP, jM);
  let res = maxDev(fc, g);
  const done = (ok: boolean): number => {
    if (fc !== f) f.set(fc);
    if (!ok) return Number.NaN;
    const r0 = v[sys.ref];
    for (let i = 0; i < n; i++) v[i] -= r0;
    return g;
  };
  for (let it = 0; it < 40; it++) {
    if (res <= tolAt(v)) return done(true);
    for (let i = 0; i < n; i++) b[i] = -(fc[i] - g);
    if (!newtonStep(sys, jP, jM, lu, b, rhs, u, ground)) return done(false);
    // rhs now holds δv, with δg in the grounding slot.
    const dg = rhs[ground];
    let step = 1;
    let accepted = false;
    for (let ls = 0; ls < 30; ls++) {
      for (let i = 0; i < n; i++) trial[i] = i === ground ? 0 : v[i] + step * rhs[i];
      const gt = g + step * dg;
      sys.rhs(trial, ft, tP, tM);
      const r = maxDev(ft, gt);
      if (r < res) {
        v.set(trial);
        g = gt;
        res = r;
        [fc, ft] = [ft, fc];
        [jP, tP] = [tP, jP];
        [jM, tM] = [tM, jM];
        accepted = true;
        break;
      }
      step *= 0.5;
      solveStats.halvings++;
    }
    newtonIterations++;
    solveStats.newtonIterations++;
    if (!accepted) return done(res <= tolAt(v));
  }
  return done(res <= tolAt(v));
}

/** Scratch of the Newton solve, kept per state-space shape (solves are synchronous, never re-entrant). */
interface NewtonScratch {
  nq: number;
  m: number;
  f: Float64Array;
  f2: Float64Array;
  jP: Float64Array;
  jM: Float64Array;
  tP: Float64Array;
  tM: Float64Array;
  rhs: Float64Array;
  u: Float64Array;
  trial: Float64Array;
  b: Float64Array;
  /** The policy's stationary law (chooseGround). */
  law: Float64Array;
  lu: BlockTridiagonal;
}
let scratch: NewtonScratch | undefined;
function newtonScratch(sys: RegimeHjbSystem): NewtonScratch {
  if (scratch && scratch.nq === sys.nq && scratch.m === sys.m) return scratch;
  const n = sys.n;
  const mk = () => new Float64Array(n);
  scratch = {
    nq: sys.nq,
    m: sys.m,
    f: mk(),
    f2: mk(),
    jP: mk(),
    jM: mk(),
    tP: mk(),
    tM: mk(),
    rhs: mk(),
    u: mk(),
    trial: mk(),
    b: mk(),
    law: mk(),
    lu: new BlockTridiagonal(sys.nq, sys.m),
  };
  return scratch;
}

/**
 * The state the policy of the current iterate visits most: the argmax of the stationary law of the controlled
 * (inventory, regime) chain under its fill rates (bid fills jM move q up, ask fills jP move q down) and the
 * generator (joint-law.ts). The reference state (q = 0) may have almost no mass when the policy holds
 * inventory at a bound, and a per-regime approximation that ignores the switching can pick a state the
 * coupled chain rarely visits (each regime alone pushing inventory to a bound): both make the grounded
 * block system nearly singular and send the Newton step to the dense fallback. Should the chain not be
 * irreducible, the per-regime approximation below decides.
 */
function chooseGround(sys: RegimeHjbSystem, jP: Float64Array, jM: Float64Array): number {
  const { m, nq } = sys;
  try {
    const { joint } = qbdStationaryLaw(nq, m, sys.qMin, jM, jP, sys.gen, newtonScratch(sys).law);
    let best = sys.ref;
    for (let k = 0; k < joint.length; k++) if (joint[k] > joint[best]) best = k;
    return best;
  } catch {
    return chooseGroundPerRegime(sys, jP, jM);
  }
}

/**
 * Per regime, the birth–death law of inventory under its fill rates, weighted by the regime chain's own
 * stationary law (regime coupling ignored).
 */
function chooseGroundPerRegime(sys: RegimeHjbSystem, jP: Float64Array, jM: Float64Array): number {
  const { m, nq } = sys;
  const occ = generatorLaw(sys);
  let best = sys.ref;
  let bestScore = Number.NEGATIVE_INFINITY;
  const logPi = new Float64Array(nq);
  for (let z = 0; z < m; z++) {
    logPi[0] = 0;
    let max = 0;
    for (let i = 0; i + 1 < nq; i++) {
      logPi[i + 1] = logPi[i] + Math.log(jM[i * m + z] + 1e-300) - Math.log(jP[(i + 1) * m + z] + 1e-300);
      if (logPi[i + 1] > max) max = logPi[i + 1];
    }
    let sum = 0;
    for (let i = 0; i < nq; i++) sum += Math.exp(logPi[i] - max);
    const lse = max + Math.log(sum);
    for (let i = 0; i < nq; i++) {
      const score = Math.log(occ[z] + 1e-300) + logPi[i] - lse;
      if (score > bestScore) {
        bestScore = score;
        best = i * m + z;
      }
    }
  }
  return best;
}

/** Stationary law of the regime chain (power iteration on the uniformised generator; uniform if none). */
function generatorLaw(sys: RegimeHjbSystem): Float64Array {
  const m = sys.m;
  let lam = 0;
  for (let z = 0; z < m; z++) lam = Math.max(lam, sys.out[z]);
  let pi = new Float64Array(m).fill(1 / m);
  if (!(lam > 0)) return pi;
  const L = 1.05 * lam;
  for (let it = 0; it < 2000; it++) {
    const next = new Float64Array(m);
    for (let z = 0; z < m; z++) {
      next[z] += pi[z] * (1 - sys.out[z] / L);
      for (let w = 0; w < m; w++) if (w !== z) next[w] += (pi[z] * sys.gen[z * m + w]) / L;
    }
    let d = 0;
    for (let z = 0; z < m; z++) d = Math.max(d, Math.abs(next[z] - pi[z]));
    pi = next;
    if (d < 1e-12) break;
  }
  return pi;
}

/**
 * The Newton step: solves M x = b with M = J, column `ref` (the grounding state) replaced by −1 (x_ref is
 * δg). Fast path: M is a rank-one change of the block-tridiagonal A = J − e_ref e_refᵀ (Sherman–Morrison). A
 * is nearly singular when the current policy rarely visits the grounding state (A⁻¹1 ≈ −1/π_ref: the expected
 * time to be "killed" there), so the step is checked by its residual and, when inaccurate, recomputed by
 * dense LU with partial pivoting (M itself is well conditioned). x and u are outputs/scratch; `dense` is n×n.
 */
function newtonStep(
  sys: RegimeHjbSystem,
  jP: Float64Array,
  jM: Float64Array,
  lu: BlockTridiagonal,
  b: Float64Array,
  x: Float64Array,
  u: Float64Array,
  ref: number,
): boolean {
  const n = sys.n;
  let ok = lu.factor(sys, jP, jM, 0, 1, -1, ref);
  if (ok) {
    jacobianColumn(sys, jP, jM, ref, u);
    u[ref] -= 1; // column ref of A
    for (let i = 0; i < n; i++) u[i] = -1 - u[i]; // w
    x.set(b);
    lu.solve(x);
    lu.solve(u);
    const denom = 1 + u[ref];
    ok = Math.abs(denom) > 1e-300 && Number.isFinite(denom);
    if (ok) {
      const c = x[ref] / denom;
      for (let i = 0; i < n; i++) x[i] -= c * u[i];
      // Residual of M x = b, relative to |b| and |M||x|.
      let bMax = 0;
      for (let i = 0; i < n; i++) bMax = Math.max(bMax, Math.abs(b[i]));
      const dg = x[ref];
      x[ref] = 0;
      jacobianTimes(sys, jP, jM, x, u);
      let r = 0;
      let scale = bMax;
      for (let i = 0; i < n; i++) {
        r = Math.max(r, Math.abs(u[i] - dg - b[i]));
        scale = Math.max(scale, Math.abs(u[i]), Math.abs(dg));
      }
      x[ref] = dg;
      ok = Number.isFinite(r) && r <= 1e-9 * scale;
    }
  }
  if (ok) return true;
  // Fallback: Gaussian elimination with partial pivoting on M itself (well conditioned, unlike A), band-wise.
  denseRegimes++;
  solveStats.denseSteps++;
  x.set(b);
  return solveGroundedBand(sys, jP, jM, ref, x);
}

/** Band storage of solveGroundedBand, kept per shape (solves are synchronous, never re-entrant). */
let bandScratch:
  | { n: number; m: number; band: Float64Array; last: Float64Array; y: Float64Array }
  | undefined;

/**
 * Solves M x = b in place (x holds b on entry), M = J with column `ref` replaced by −1, by Gaussian
 * elimination with partial pivoting — the dense LU's algorithm on M with column ref moved last. The other
 * columns keep J's band (lower bandwidth m + 1 after the shift, upper m, m + 1 more for pivoting fill), the
 * moved column is carried as one dense vector, so a solve is O(n·m²) instead of O(n³): partial pivoting picks
 * its pivot among the rows that can be non-zero in the column, exactly as the dense elimination would.
 */
export function solveGroundedBand(
  sys: RegimeHjbSystem,
  jP: Float64Array,
  jM: Float64Array,
  ref: number,
  x: Float64Array,
): boolean {
  const { n, m, nq } = sys;
  const kl = m + 1;
  const ku = m;
  const w = 2 * kl + ku + 1;
  if (!bandScratch || bandScratch.n !== n || bandScratch.m !== m)
    bandScratch = {
      n,
      m,
      band: new Float64Array(n * w),
      last: new Float64Array(n),
      y: new Float64Array(n),
    };
  const { band, last, y } = bandScratch;
  band.fill(0);
  // Row r, permuted column c' (c' = c for c < ref, c − 1 for c > ref; ref itself → `last`).
  const at = (r: number, c: number) => r * w + (c - r + kl);
  const put = (r: number, c: number, v: number) => {
    if (c === ref) return; // replaced by −1
    band[at(r, c < ref ? c : c - 1)] = v;
  };
  for (let i = 0; i < nq; i++)
    for (let z = 0; z < m; z++) {
      const k = i * m + z;
      put(k, k, -(jP[k] + jM[k] + sys.out[z]));
      for (let v = 0; v < m; v++) if (v !== z) put(k, i * m + v, sys.gen[z * m + v]);
      if (i > 0) put(k, k - m, jP[k]);
      if (i < nq - 1) put(k, k + m, jM[k]);
      last[k] = -1;
    }
  const nb = n - 1; // banded columns 0..n−2; column n−1 is `last`
  for (let j = 0; j < nb; j++) {
    const rMax = Math.min(n - 1, j + kl);
    let piv = j;
    let best = Math.abs(band[at(j, j)]);
    for (let r = j + 1; r <= rMax; r++) {
      const v = Math.abs(band[at(r, j)]);
      if (v > best) {
        best = v;
        piv = r;
      }
    }
    if (!(best > 0)) return false;
    const cMax = Math.min(nb - 1, j + kl + ku);
    if (piv !== j) {
      for (let c = j; c <= cMax; c++) {
        const t = band[at(j, c)];
        band[at(j, c)] = band[at(piv, c)];
        band[at(piv, c)] = t;
      }
      let t = last[j];
      last[j] = last[piv];
      last[piv] = t;
      t = x[j];
      x[j] = x[piv];
      x[piv] = t;
    }
    const d = band[at(j, j)];
    for (let r = j + 1; r <= rMax; r++) {
      const f = band[at(r, j)] / d;
      if (f === 0) continue;
      band[at(r, j)] = 0;
      for (let c = j + 1; c <= cMax; c++) band[at(r, c)] -= f * band[at(j, c)];
      last[r] -= f * last[j];
      x[r] -= f * x[j];
    }
  }
  if (!(Math.abs(last[n - 1]) > 0)) return false;
  y[n - 1] = x[n - 1] / last[n - 1];
  for (let j = nb - 1; j >= 0; j--) {
    let s = x[j] - last[j] * y[n - 1];
    const cMax = Math.min(nb - 1, j + kl + ku);
    for (let c = j + 1; c <= cMax; c++) s -= band[at(j, c)] * y[c];
    y[j] = s / band[at(j, j)];
  }
  // Back to M's column order: δg (the moved column) into slot ref.
  for (let c = 0; c < n; c++) x[c] = c === ref ? y[n - 1] : y[c < ref ? c : c - 1];
  return Number.isFinite(y[n - 1]);
}

/** out = J x (fill parts jP, jM and the generator). */
function jacobianTimes(
  sys: RegimeHjbSystem,
  jP: Float64Array,
  jM: Float64Array,
  x: Float64Array,
  out: Float64Array,
): void {
  const m = sys.m;
  for (let i = 0; i < sys.nq; i++)
    for (let z = 0; z < m; z++) {
      const k = i * m + z;
      let s = -(jP[k] + jM[k] + sys.out[z]) * x[k];
      for (let w = 0; w < m; w++) if (w !== z) s += sys.gen[z * m + w] * x[i * m + w];
      if (i > 0) s += jP[k] * x[k - m];
      if (i < sys.nq - 1) s += jM[k] * x[k + m];
      out[k] = s;
    }
}

/** Newton steps that needed the dense fallback (diagnostics and benchmarks). */
export let denseRegimes = 0;

/** Newton iterations of the last stationaryRegime call (diagnostics and benchmarks). */
export let newtonIterations = 0;

/** Running totals of the stationary solver's work (benchmarks: what a φ search or a backtest costs). */
export const solveStats = {
  /** stationaryRegime calls, and those given a warm start. */
  solves: 0,
  warmSolves: 0,
  newtonIterations: 0,
  /** Line-search halvings (a Newton step that did not lower the residual in full). */
  halvings: 0,
  /** Newton steps solved by the banded fallback. */
  denseSteps: 0,
};

/** Column c of the Jacobian J (fill parts jP, jM from the last rhs call, plus the generator). */
function jacobianColumn(
  sys: RegimeHjbSystem,
  jP: Float64Array,
  jM: Float64Array,
  c: number,
  out: Float64Array,
): void {
  const m = sys.m;
  out.fill(0);
  const i = Math.floor(c / m);
  const z = c - i * m;
  // Row (i, z): the diagonal.
  out[c] = -(jP[c] + jM[c] + sys.out[z]);
  // Rows (i, w), w ≠ z: the generator C_{wz}.
  for (let w = 0; w < m; w++) if (w !== z) out[i * m + w] = sys.gen[w * m + z];
  // Row (i+1, z) depends on h(i, z) through its ask fill; row (i−1, z) through its bid fill.
  if (i + 1 < sys.nq) out[c + m] = jP[c + m];
  if (i > 0) out[c - m] = jM[c - m];
}
