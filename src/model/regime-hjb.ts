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
import { adverseDrift } from './params.ts';
import type { ModelParams } from './types.ts';

const EXP_CAP = 230;
const K = 8;

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
          const e = Math.exp(Math.min(x, EXP_CAP));
          f += cP[z] * e;
          if (jP) jP[k] = x < EXP_CAP ? lamP[z] * e : 0;
        } else if (jP) jP[k] = 0;
        if (hasBid) {
          const x = offM[z] + kapM[z] * (h[k + m] - hk);
          const e = Math.exp(Math.min(x, EXP_CAP));
          f += cM[z] * e;
          if (jM) jM[k] = x < EXP_CAP ? lamM[z] * e : 0;
        } else if (jM) jM[k] = 0;
        out[k] = f;
      }
    }
  }
}

/**
 * Block-tridiagonal LU of the matrix  a·I + b·J + shift·e_ref e_refᵀ,  J the system's Jacobian (fill parts jP,
 * jM and the generator), factored without pivoting (an M-matrix or its negative in every use here).
 */
export class BlockTridiagonal {
  readonly nq: number;
  readonly m: number;
  /** Inverses of the pivot blocks (nq × m × m) and the scaled super-diagonals b·jM. */
  private readonly winv: Float64Array;
  private readonly upper: Float64Array;
  private readonly lower: Float64Array;
  private readonly blk: Float64Array;
  private readonly tmp: Float64Array;
  private readonly vec: Float64Array;

  constructor(nq: number, m: number) {
    this.nq = nq;
    this.m = m;
    this.winv = new Float64Array(nq * m * m);
    this.upper = new Float64Array(nq * m);
    this.lower = new Float64Array(nq * m);
    this.blk = new Float64Array(m * m);
    this.tmp = new Float64Array(m * m);
    this.vec = new Float64Array(m);
  }

  /** Factors; returns false on a zero pivot. */
  factor(sys: RegimeHjbSystem, jP: Float64Array, jM: Float64Array, a: number, b: number, shift = 0): boolean {
    const { nq, m, winv, upper, lower, blk } = this;
    const { gen, out } = sys;
    for (let i = 0; i < nq; i++) {
      // Diagonal block of a·I + b·J at inventory level i.
      for (let z = 0; z < m; z++) {
        const k = i * m + z;
        for (let w = 0; w < m; w++)
          blk[z * m + w] = z === w ? a - b * (jP[k] + jM[k] + out[z]) : b * gen[z * m + w];
        lower[k] = i > 0 ? b * jP[k] : 0;
        upper[k] = i < nq - 1 ? b * jM[k] : 0;
      }
      if (shift !== 0 && i * m <= sys.ref && sys.ref < (i + 1) * m) {
        const z = sys.ref - i * m;
        blk[z * m + z] += shift;
      }
      if (i > 0) {
        // Schur complement: blk −= diag(lower_i) · W_{i−1} · diag(upper_{i−1}).
        const prev = (i - 1) * m * m;
        for (let z = 0; z < m; z++) {
          const l = lower[i * m + z];
          if (l === 0) continue;
          for (let w = 0; w < m; w++) blk[z * m + w] -= l * winv[prev + z * m + w] * upper[(i - 1) * m + w];
        }
      }
      if (!invertSmall(blk, m, winv, i * m * m, this.tmp)) return false;
    }
    return true;
  }

  /** Solves in place: x ← M⁻¹x. */
  solve(x: Float64Array): void {
    const { nq, m, winv, upper, lower, vec } = this;
    // Forward: y_i = W_i (x_i − diag(lower_i) y_{i−1}).
    for (let i = 0; i < nq; i++) {
      const o = i * m;
      for (let z = 0; z < m; z++) vec[z] = x[o + z] - (i > 0 ? lower[o + z] * x[o - m + z] : 0);
      const w0 = i * m * m;
      for (let z = 0; z < m; z++) {
        let s = 0;
        for (let w = 0; w < m; w++) s += winv[w0 + z * m + w] * vec[w];
        x[o + z] = s;
      }
    }
    // Backward: x_i = y_i − W_i diag(upper_i) x_{i+1}.
    for (let i = nq - 2; i >= 0; i--) {
      const o = i * m;
      const w0 = i * m * m;
      for (let z = 0; z < m; z++) {
        let s = 0;
        for (let w = 0; w < m; w++) s += winv[w0 + z * m + w] * upper[o + w] * x[o + m + w];
        vec[z] = s;
      }
      for (let z = 0; z < m; z++) x[o + z] -= vec[z];
    }
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
    this.lu = new BlockTridiagonal(sys.nq, sys.m);
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
  let H = Math.min(tau, jmax > 0 ? 2 / jmax : tau);
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
        const remaining = tau - t;
        if (drift * remaining <= 0.1 * diffTol) {
          offset += f[ref] * remaining;
          t = tau;
          break;
        }
      }
      H = hStep * factor;
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
 * by Sherman–Morrison. Needs an irreducible generator (a common long-run rate g).
 */
export function stationaryRegime(
  sys: RegimeHjbSystem,
  alphaTerminal: Float64Array,
): {
  h: Float64Array;
  growthRate: number;
} {
  const n = sys.n;
  const ref = sys.ref;
  const v = Float64Array.from(alphaTerminal);
  const work = new RegimeIntegratorWork(sys);
  const f = new Float64Array(n);
  const jP = new Float64Array(n);
  const jM = new Float64Array(n);
  const rhs = new Float64Array(n);
  const u = new Float64Array(n);
  const trial = new Float64Array(n);
  const lu = new BlockTridiagonal(sys.nq, sys.m);
  let maxBase = 0;
  let lamTot = 0;
  for (let i = 0; i < n; i++) maxBase = Math.max(maxBase, Math.abs(sys.base[i]));
  for (let z = 0; z < sys.m; z++) lamTot = Math.max(lamTot, sys.lamP[z] + sys.lamM[z]);
  const resTol = 1e-12 * (lamTot * sys.depthScale + maxBase + 1e-300);
  let burn = 10 / Math.max(lamTot, 1e-9);
  const residual = (x: Float64Array, g: number, withJac: boolean): number => {
    sys.rhs(x, f, withJac ? jP : undefined, withJac ? jM : undefined);
    let r = 0;
    for (let i = 0; i < n; i++) r = Math.max(r, Math.abs(f[i] - g));
    return r;
  };
  newtonIterations = 0;
  // Newton on this convex system is policy iteration (the Jacobian is a generator): it converges from the
  // terminal values in a few steps. Only if it does not is the integrator run first, for longer each time.
  for (let attempt = 0; attempt < 12; attempt++) {
    if (attempt > 0) {
      v.set(alphaTerminal);
      integrateRegimeHjb(sys, v, burn, { tol: 1e-8 }, work);
      burn *= 4;
    }
    const s0 = v[ref];
    for (let i = 0; i < n; i++) v[i] -= s0;
    sys.rhs(v, f);
    let g = f[ref];
    let res = residual(v, g, true);
    let converged = res <= resTol;
    for (let it = 0; it < 60 && !converged; it++) {
      // M = A + w e_refᵀ, A = J − e_ref e_refᵀ, w = −1 − A[:, ref].
      if (!lu.factor(sys, jP, jM, 0, 1, -1)) break;
      jacobianColumn(sys, jP, jM, ref, u);
      u[ref] -= 1; // column ref of A
      for (let i = 0; i < n; i++) u[i] = -1 - u[i]; // w
      for (let i = 0; i < n; i++) rhs[i] = -(f[i] - g);
      lu.solve(rhs);
      lu.solve(u);
      const denom = 1 + u[ref];
      if (!(Math.abs(denom) > 1e-300)) break;
      const c = rhs[ref] / denom;
      for (let i = 0; i < n; i++) rhs[i] -= c * u[i];
      // rhs now holds δv (δv_ref replaced by δg).
      const dg = rhs[ref];
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
      newtonIterations++;
      converged = res <= resTol;
    }
    if (converged) return { h: v, growthRate: g };
  }
  throw new Error(`stationary regime solution did not converge (${sys.m} regimes, qMin ${sys.qMin})`);
}

/** Newton iterations of the last stationaryRegime call (diagnostics and benchmarks). */
export let newtonIterations = 0;

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
