/**
 * The stationary law of a level-dependent quasi-birth–death chain on (level i, phase z): the controlled
 * (inventory, regime) process of the imbalance-regime model. Levels i = 0..nq−1 (inventory q = qMin + i),
 * phases z = 0..m−1 (regimes). Transitions: up[i·m + z] (i → i+1, a bid fill), down[i·m + z] (i → i−1, an ask
 * fill), and the phase generator C (z → w at C[z·m + w], whatever the level). Up at the top level and down at
 * the bottom are ignored; NaN and non-positive rates are no transition. Pure, no imports: shared by the
 * inventory law (regime-inventory.ts) and the regime solver's Newton grounding (regime-hjb.ts).
 *
 * Linear level reduction, twisted at the level of q = 0: levels above are eliminated from the top,
 * π_{i+1} = π_i R_i with R_i = U_i (−(A_{i+1} + R_{i+1} D_{i+2}))⁻¹, levels below from the bottom likewise,
 * and the censored chain on the middle level is solved by GTH (Grassmann–Taksar–Heyman). Every matrix
 * inverted is a nonsingular M-matrix whose pivots are computed from off-diagonals and known exit rates
 * (never by subtraction), so every component of π has relative accuracy even when π spans hundreds of orders
 * of magnitude; each level carries its own log scale (no underflow). O(nq·m³).
 */

export interface QbdLaw {
  /** π(i, z) at i·m + z, summing to 1; 0 outside the levels reachable from the start level. */
  joint: Float64Array;
  /** The reachable levels lo..hi. */
  lo: number;
  hi: number;
}

/**
 * The law on the levels reachable from the level of q = 0 (with an irreducible C every phase is visited at
 * every level). Throws a RangeError naming q when that chain is not irreducible (a level from which no phase
 * brings the level back). `out` (nq·m), when given, receives the law instead of a new array.
 */
export function qbdStationaryLaw(
  nq: number,
  m: number,
  qMin: number,
  upRates: ArrayLike<number>,
  downRates: ArrayLike<number>,
  C: ArrayLike<number>,
  out?: Float64Array,
): QbdLaw {
  const n = nq;
  const i0 = Math.min(Math.max(-qMin, 0), n - 1);
  const mm = m * m;
  const sc = scratchFor(n, m);
  const { up, down, R, S, work, N, Wup, Wdown, G, v, scale, x } = sc;
  up.fill(0);
  down.fill(0);
  for (let i = 0; i < n; i++)
    for (let z = 0; z < m; z++) {
      const k = i * m + z;
      const u = upRates[k];
      const d = downRates[k];
      // NaN (not quoted) and 0 alike: no transition.
      if (i < n - 1 && u > 0) up[k] = u;
      if (i > 0 && d > 0) down[k] = d;
    }
  const anyUp = (i: number) => {
    for (let z = 0; z < m; z++) if (up[i * m + z] > 0) return true;
    return false;
  };
  const anyDown = (i: number) => {
    for (let z = 0; z < m; z++) if (down[i * m + z] > 0) return true;
    return false;
  };
  // Levels reachable from q = 0 (every regime is visited at every level: the generator is irreducible).
  let hi = i0;
  while (hi < n - 1 && anyUp(hi)) hi++;
  let lo = i0;
  while (lo > 0 && anyDown(lo)) lo--;
  for (let i = lo; i < hi; i++) {
    if (!anyDown(i + 1))
      throw new RangeError(
        `the (inventory, regime) chain is not irreducible from q = 0: no ask fill in any regime at q = ${qMin + i + 1}`,
      );
    if (!anyUp(i))
      throw new RangeError(
        `the (inventory, regime) chain is not irreducible from q = 0: no bid fill in any regime at q = ${qMin + i}`,
      );
  }
  // Off-diagonal part of the censored chain's blocks. Upper side: for i > i0, W_i = R_i·D_{i+1} restricted to
  // level i (the return flow from above), computed top-down; R_{i−1} = U_{i−1}·N_i, N_i = M_i⁻¹,
  // M_i = −(A_i + W_i). Lower side symmetric.
  // R at i·mm: level i → level i+1 (π_{i+1} = π_i R_i), i0 ≤ i < hi; S at i·mm: level i → level i−1
  // (π_{i−1} = π_i S_i), lo < i ≤ i0; Wup, Wdown: the return flow into the current level from the eliminated
  // side.
  Wup.fill(0);
  for (let i = hi; i > i0; i--) {
    mMatrixInverse(C, Wup, down, i * m, m, work, N); // exit of level i downwards: its ask fills
    // R_{i−1} = diag(up_{i−1}) N; W for level i−1 = R_{i−1} · diag(down_i)
    const o = (i - 1) * mm;
    for (let z = 0; z < m; z++) {
      const u = up[(i - 1) * m + z];
      for (let w = 0; w < m; w++) {
        const r = u * N[z * m + w];
        R[o + z * m + w] = r;
        Wup[z * m + w] = r * down[i * m + w];
      }
    }
  }
  Wdown.fill(0);
  for (let i = lo; i < i0; i++) {
    mMatrixInverse(C, Wdown, up, i * m, m, work, N); // exit of level i upwards: its bid fills
    const o = (i + 1) * mm;
    for (let z = 0; z < m; z++) {
      const d = down[(i + 1) * m + z];
      for (let w = 0; w < m; w++) {
        const x = d * N[z * m + w];
        S[o + z * m + w] = x;
        Wdown[z * m + w] = x * up[i * m + w];
      }
    }
  }
  // The censored chain on level i0: off-diagonals C + Wup + Wdown (the diagonal parts of W are self-returns).
  G.fill(0);
  for (let z = 0; z < m; z++)
    for (let w = 0; w < m; w++) if (z !== w) G[z * m + w] = C[z * m + w] + Wup[z * m + w] + Wdown[z * m + w];
  const mid = gth(G, m);
  // Propagate outward with a log scale per level: π_i = exp(scale_i)·v_i, max(v_i) = 1.
  v.fill(0);
  scale.fill(Number.NEGATIVE_INFINITY);
  const put = (i: number, x: Float64Array, s: number) => {
    let mx = 0;
    for (let z = 0; z < m; z++) mx = Math.max(mx, x[z]);
    if (!(mx > 0)) return;
    for (let z = 0; z < m; z++) v[i * m + z] = x[z] / mx;
    scale[i] = s + Math.log(mx);
  };
  put(i0, mid, 0);
  const step = (from: number, to: number, M: Float64Array) => {
    const o = from * mm;
    for (let w = 0; w < m; w++) {
      let a = 0;
      for (let z = 0; z < m; z++) a += v[from * m + z] * M[o + z * m + w];
      x[w] = a;
    }
    put(to, x, scale[from]);
  };
  for (let i = i0; i < hi; i++) if (Number.isFinite(scale[i])) step(i, i + 1, R);
  for (let i = i0; i > lo; i--) if (Number.isFinite(scale[i])) step(i, i - 1, S);
  let top = Number.NEGATIVE_INFINITY;
  for (let i = lo; i <= hi; i++) top = Math.max(top, scale[i]);
  const joint = out && out.length === n * m ? out.fill(0) : new Float64Array(n * m);
  let sum = 0;
  for (let i = lo; i <= hi; i++) {
    if (!Number.isFinite(scale[i])) continue;
    const f = Math.exp(scale[i] - top);
    for (let z = 0; z < m; z++) {
      joint[i * m + z] = f * v[i * m + z];
      sum += joint[i * m + z];
    }
  }
  for (let k = 0; k < n * m; k++) joint[k] /= sum;
  return { joint, lo, hi };
}

interface Scratch {
  n: number;
  m: number;
  up: Float64Array;
  down: Float64Array;
  R: Float64Array;
  S: Float64Array;
  work: Float64Array;
  N: Float64Array;
  Wup: Float64Array;
  Wdown: Float64Array;
  G: Float64Array;
  v: Float64Array;
  scale: Float64Array;
  x: Float64Array;
}
/** Work arrays kept per shape (the law is computed synchronously, never re-entrantly). */
let scratch: Scratch | undefined;
function scratchFor(n: number, m: number): Scratch {
  if (scratch && scratch.n === n && scratch.m === m) return scratch;
  const mm = m * m;
  const f = (k: number) => new Float64Array(k);
  scratch = {
    n,
    m,
    up: f(n * m),
    down: f(n * m),
    R: f(n * mm),
    S: f(n * mm),
    work: f(3 * mm + 2 * m),
    N: f(mm),
    Wup: f(mm),
    Wdown: f(mm),
    G: f(mm),
    v: f(n * m),
    scale: f(n),
    x: f(m),
  };
  return scratch;
}

/**
 * (M)⁻¹ for the M-matrix M = −(A + W) of one level: off-diagonals −(C_zw + W_zw), diagonal = the sum of the
 * off-diagonal magnitudes plus the level's exit rate `exit[base + z]` towards the side not yet eliminated
 * (rows of A + W sum to minus that exit: W returns everything that leaves towards the eliminated side).
 * Gauss–Jordan without pivoting, each pivot recomputed from its row's off-diagonals and exit (GTH-style, no
 * subtraction), so the (non-negative) inverse has componentwise relative accuracy.
 */
function mMatrixInverse(
  C: ArrayLike<number>,
  W: Float64Array,
  exit: Float64Array,
  base: number,
  m: number,
  work: Float64Array,
  out: Float64Array,
): void {
  const mm = m * m;
  // a: the off-diagonal magnitudes (≥ 0), e: each row's exit; M = diag(Σ_w a_zw + e_z) − a. The right-hand
  // side I is transformed along in `inv`; d keeps the pivots.
  const a = work.subarray(0, mm);
  const inv = work.subarray(mm, 2 * mm);
  const e = work.subarray(2 * mm, 2 * mm + m);
  const d = work.subarray(2 * mm + m, 2 * mm + 2 * m);
  inv.fill(0);
  for (let z = 0; z < m; z++) {
    e[z] = exit[base + z];
    inv[z * m + z] = 1;
    for (let w = 0; w < m; w++) a[z * m + w] = z === w ? 0 : C[z * m + w] + W[z * m + w];
  }
  // Eliminate x_0, x_1, … in turn (Schur complements keep the form: eliminating p sends p's flows on to
  // its neighbours, in proportion a_pw / d_p), each pivot from its row's remaining off-diagonals and exit.
  for (let p = 0; p < m; p++) {
    let dp = e[p];
    for (let w = p + 1; w < m; w++) dp += a[p * m + w];
    if (!(dp > 0)) throw new RangeError('the (inventory, regime) chain has a level it never leaves');
    d[p] = dp;
    for (let z = p + 1; z < m; z++) {
      const f = a[z * m + p] / dp;
      if (f === 0) continue;
      for (let w = p + 1; w < m; w++) if (w !== z) a[z * m + w] += f * a[p * m + w];
      e[z] += f * e[p];
      for (let c = 0; c < m; c++) inv[z * m + c] += f * inv[p * m + c];
      a[z * m + p] = 0;
    }
  }
  // Back substitution: x_p = (rhs_p + Σ_{w > p} a_pw x_w) / d_p.
  for (let p = m - 1; p >= 0; p--) {
    for (let c = 0; c < m; c++) {
      let s = inv[p * m + c];
      for (let w = p + 1; w < m; w++) s += a[p * m + w] * out[w * m + c];
      out[p * m + c] = s / d[p];
    }
  }
}

/** Stationary law of the m-state generator with off-diagonal rates G (row-major) by GTH; irreducible. */
function gth(G: Float64Array, m: number): Float64Array {
  const a = Float64Array.from(G);
  const out = new Float64Array(m); // out[k]: k's total rate to states below it when it was eliminated
  for (let k = m - 1; k > 0; k--) {
    let s = 0;
    for (let j = 0; j < k; j++) s += a[k * m + j];
    if (!(s > 0)) throw new RangeError('the censored regime chain is not irreducible');
    out[k] = s;
    // Censor k out: its inflow from i is passed on to the states below it in proportion a_kj / s.
    for (let i = 0; i < k; i++) {
      const f = a[i * m + k] / s;
      if (f === 0) continue;
      for (let j = 0; j < k; j++) if (j !== i) a[i * m + j] += f * a[k * m + j];
    }
  }
  const pi = new Float64Array(m);
  pi[0] = 1;
  for (let k = 1; k < m; k++) {
    let s = 0;
    for (let i = 0; i < k; i++) s += pi[i] * a[i * m + k];
    pi[k] = s / out[k];
  }
  let t = 0;
  for (let k = 0; k < m; k++) t += pi[k];
  for (let k = 0; k < m; k++) pi[k] /= t;
  return pi;
}
