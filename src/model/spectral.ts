/**
 * Symmetric κ, finite horizon, by the few dominant eigenmodes with componentwise accuracy.
 *
 * ω(τ) = D⁻¹ e^{Sτ} D z (symmetric.ts for the notation). With S = Σ_k μ_k v_k v_kᵀ (μ_0 > μ_1 > …) and
 * w = Dz, ω_q ∝ Σ_k c_k e^{(μ_k−μ_0)τ} v_{k,q}, c_k = v_kᵀw. Past a short horizon only a few modes matter, but
 * the components v_{k,q} span hundreds of orders of magnitude (strong penalties, a large fee, wide bounds):
 * eigenvectors from QR/QL carry absolute errors ~ε and lose the small ones. Here every mode is computed to
 * componentwise relative accuracy instead:
 *  - eigenvalues: rational QL (values only) on a central window of states (the dominant modes decay outside
 *    it), each refined on the full matrix by Rayleigh-quotient steps of the twisted factorisation;
 *  - eigenvectors: the twisted ratio recursion (ratios from each end, run towards the twist index where the
 *    vector is large — the stable direction for the decaying solution), products kept as mantissa × e^E so
 *    nothing underflows.
 * Sturm counts on the full matrix check that the m modes found are exactly the m largest and that every
 * other eigenvalue lies below a point x; the modes left out are then bounded by e^{(x−μ_0)τ}‖w‖
 * (|Σ_{k≥m} c_k v_{k,q}| ≤ ‖w‖ by Cauchy–Schwarz), and every kept term carries a relative error bound. If
 * any ω_q misses the requested relative accuracy the caller falls back (full QL spectral sum, then the ODE).
 * Cost O(n·m) plus O(w²) for a window of w states; nothing O(n³).
 */
import { adverseDrift, stateCount } from './params.ts';
import { symmetricCouplings } from './symmetric.ts';
import type { ModelParams } from './types.ts';

const EPS = 2 ** -52;
/** At most this many modes; beyond, the horizon is short and the other paths are the better tool. */
const MAX_MODES = 10;
/** Largest central window whose eigenvalues are computed (rational QL, O(w²)). */
const MAX_WINDOW = 64;
/** Window: states with a_i ≥ max a − 2s − WINDOW_RANGE/τ, plus WINDOW_PAD on each side. */
const WINDOW_RANGE = 200;
const WINDOW_PAD = 5;
/** Chunk scale of the mantissa × e^E representation. */
const TINY = 1e-150;
const HUGE = 1e150;

/** Scratch buffers, reusable across solves of the same size. */
export class SpectralWork {
  readonly n: number;
  readonly a: Float64Array;
  readonly logD: Float64Array;
  readonly logW: Float64Array;
  readonly w: Float64Array;
  readonly top: Float64Array;
  readonly bot: Float64Array;
  readonly mant: Float64Array;
  readonly expo: Float64Array;
  readonly winDiag: Float64Array;
  readonly winOff: Float64Array;
  readonly mu: Float64Array;
  readonly coef: Float64Array;
  /** Absolute error bound of coef (c_k, and the rounding of the term it multiplies). */
  readonly coefErr: Float64Array;
  constructor(n: number) {
    this.n = n;
    this.a = new Float64Array(n);
    this.logD = new Float64Array(n);
    this.logW = new Float64Array(n);
    this.w = new Float64Array(n);
    this.top = new Float64Array(n);
    this.bot = new Float64Array(n);
    this.mant = new Float64Array(MAX_MODES * n);
    this.expo = new Float64Array(MAX_MODES * n);
    this.winDiag = new Float64Array(MAX_WINDOW);
    this.winOff = new Float64Array(MAX_WINDOW);
    this.mu = new Float64Array(MAX_MODES + 1);
    this.coef = new Float64Array(MAX_MODES);
    this.coefErr = new Float64Array(MAX_MODES);
  }
}

let cachedWork: SpectralWork | null = null;
function workFor(n: number): SpectralWork {
  if (cachedWork === null || cachedWork.n !== n) cachedWork = new SpectralWork(n);
  return cachedWork;
}

/**
 * Eigenvalues (ascending, into d) of the symmetric tridiagonal with diagonal d and squared off-diagonal e2
 * (e2[i] couples i and i+1; destroyed) by the rational QL method without square roots in the sweeps
 * (EISPACK tqlrat). Returns false if an eigenvalue fails to converge in 30 sweeps.
 */
export function tridiagonalEigenvaluesRational(d: Float64Array, e2: Float64Array): boolean {
  const n = d.length;
  e2[n - 1] = 0;
  let f = 0;
  let t = 0;
  let b = 0;
  let c = 0;
  for (let l = 0; l < n; l++) {
    let sweeps = 0;
    const size = Math.abs(d[l]) + Math.sqrt(e2[l]);
    if (t <= size) {
      t = size;
      b = t * EPS;
      c = b * b;
    }
    for (;;) {
      let m = l;
      while (m < n - 1 && !(e2[m] <= c)) m++;
      if (m === l) break;
      if (sweeps++ === 30) return false;
      // Shift from the leading 2×2 block.
      let sq = Math.sqrt(e2[l]);
      let g = d[l];
      let p = (d[l + 1] - g) / (2 * sq);
      let r = Math.sqrt(p * p + 1);
      d[l] = sq / (p + (p >= 0 ? r : -r));
      let h = g - d[l];
      for (let i = l + 1; i < n; i++) d[i] -= h;
      f += h;
      // Rational QL transformation.
      g = d[m];
      if (g === 0) g = b;
      h = g;
      sq = 0;
      for (let i = m - 1; i >= l; i--) {
        p = g * h;
        r = p + e2[i];
        e2[i + 1] = sq * r;
        sq = e2[i] / r;
        d[i + 1] = h + sq * (h + d[i]);
        g = d[i] - e2[i] / g;
        if (g === 0) g = b;
        h = (g * p) / r;
      }
      e2[l] = sq * g;
      d[l] = h;
      if (h === 0 || Math.abs(e2[l]) <= Math.abs(c / h)) break;
      e2[l] *= h;
      if (e2[l] === 0) break;
    }
    // Insert into the sorted prefix.
    const val = d[l] + f;
    let i = l;
    while (i > 0 && val < d[i - 1]) {
      d[i] = d[i - 1];
      i--;
    }
    d[i] = val;
  }
  return true;
}

/**
 * Twisted factorisation of S − μ (diagonal a, off-diagonal s): fills top[i] = x_i/x_{i+1} (from the first
 * state) and bot[i] = x_i/x_{i−1} (from the last), returns the twist index r minimising |γ_r| and γ_r, where
 * (μ − S)x = γ_r e_r for the vector x with x_r = 1 built from those ratios.
 */
function twisted(
  a: Float64Array,
  s: number,
  mu: number,
  top: Float64Array,
  bot: Float64Array,
  floor: number,
): { r: number; gamma: number } {
  const n = a.length;
  let prev = 0;
  for (let i = 0; i < n; i++) {
    let g = mu - a[i] - s * prev;
    if (Math.abs(g) < floor) g = g < 0 ? -floor : floor;
    prev = s / g;
    top[i] = prev;
  }
  prev = 0;
  for (let i = n - 1; i >= 0; i--) {
    let g = mu - a[i] - s * prev;
    if (Math.abs(g) < floor) g = g < 0 ? -floor : floor;
    prev = s / g;
    bot[i] = prev;
  }
  let r = 0;
  let best = Number.POSITIVE_INFINITY;
  let gammaR = 0;
  for (let k = 0; k < n; k++) {
    const g = mu - a[k] - (k > 0 ? s * top[k - 1] : 0) - (k < n - 1 ? s * bot[k + 1] : 0);
    if (Math.abs(g) < best) {
      best = Math.abs(g);
      r = k;
      gammaR = g;
    }
  }
  return { r, gamma: gammaR };
}

/** Number of eigenvalues of the symmetric tridiagonal (a, off-diagonal with square s2) below x (LDLᵀ pivots). */
function sturmCountBelow(a: Float64Array, s2: number, x: number): number {
  let count = 0;
  let piv = 1;
  for (let i = 0; i < a.length; i++) {
    piv = a[i] - x - (i > 0 ? s2 / (piv === 0 ? 1e-300 : piv) : 0);
    if (piv < 0) count++;
  }
  return count;
}

/** ‖x‖² of the twisted vector (x_r = 1); underflowing tails contribute nothing, as they should. */
function twistedNorm2(top: Float64Array, bot: Float64Array, r: number): number {
  let sum = 1;
  let x = 1;
  for (let i = r - 1; i >= 0; i--) {
    x *= top[i];
    const x2 = x * x;
    if (x2 < 1e-300) break;
    sum += x2;
  }
  x = 1;
  for (let i = r + 1; i < bot.length; i++) {
    x *= bot[i];
    const x2 = x * x;
    if (x2 < 1e-300) break;
    sum += x2;
  }
  return sum;
}

/** Writes mode k's eigenvector (unit norm) as mant·e^{expo} into the k-th row of the work arrays. */
function storeVector(wk: SpectralWork, k: number, r: number): void {
  const { n, top, bot, mant, expo } = wk;
  const base = k * n;
  mant[base + r] = 1;
  expo[base + r] = 0;
  let x = 1;
  let E = 0;
  for (let i = r - 1; i >= 0; i--) {
    x *= top[i];
    const ax = Math.abs(x);
    if (ax < TINY || ax > HUGE) {
      E += Math.log(ax);
      x = x < 0 ? -1 : 1;
    }
    mant[base + i] = x;
    expo[base + i] = E;
  }
  x = 1;
  E = 0;
  for (let i = r + 1; i < n; i++) {
    x *= bot[i];
    const ax = Math.abs(x);
    if (ax < TINY || ax > HUGE) {
      E += Math.log(ax);
      x = x < 0 ? -1 : 1;
    }
    mant[base + i] = x;
    expo[base + i] = E;
  }
  let norm2 = 0;
  for (let i = 0; i < n; i++) {
    const e = expo[base + i];
    const m = mant[base + i];
    norm2 += e === 0 ? m * m : m * m * Math.exp(2 * e);
  }
  const inv = 1 / Math.sqrt(norm2);
  for (let i = 0; i < n; i++) mant[base + i] *= inv;
}

/**
 * Writes h(T − τ, q) = (1/κ) ln ω_q into `h` (index i ↔ q = qMin + i) and returns true when every ω_q is
 * guaranteed to relative accuracy `tol`; returns false (h unspecified) otherwise — short horizons, where more
 * than a few modes matter — or when a side has λ = 0.
 */
export function solveSymmetricSpectral(
  p: ModelParams,
  tau: number,
  h: Float64Array,
  tol = 1e-10,
  terminal?: Float64Array,
): boolean {
  const n = stateCount(p);
  if (!(tau > 0) || n < 2 || !(p.lambdaPlus > 0 && p.lambdaMinus > 0)) return false;
  const wk = workFor(n);
  const { a, logD, logW, w, top, bot, mant, expo, winDiag, winOff, mu, coef, coefErr } = wk;
  const kappa = p.kappaPlus;
  const { logL, logU } = symmetricCouplings(p);
  const s = Math.exp(0.5 * (logL + logU));
  const drift = adverseDrift(p);
  let aMax = Number.NEGATIVE_INFINITY;
  let aAbs = 0;
  for (let i = 0; i < n; i++) {
    const q = p.qMin + i;
    a[i] = q * kappa * drift - p.phi * kappa * q * q;
    aMax = Math.max(aMax, a[i]);
    aAbs = Math.max(aAbs, Math.abs(a[i]));
    logD[i] = 0.5 * i * (logU - logL);
  }
  const sNorm = aAbs + 2 * s;
  // w = D z, scaled by its maximum e^M.
  let M = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const hT = terminal ? terminal[i] : -p.alpha * (p.qMin + i) * (p.qMin + i);
    logW[i] = logD[i] + kappa * hT;
    M = Math.max(M, logW[i]);
  }
  let wNorm2 = 0;
  for (let i = 0; i < n; i++) {
    w[i] = Math.exp(logW[i] - M);
    wNorm2 += w[i] * w[i];
  }
  const logWNorm = 0.5 * Math.log(wNorm2);
  const logTol = Math.log(tol);
  const logHalfTol = logTol - Math.LN2;

  // Central window: the modes that can matter have μ ≥ μ_0 − (a few hundred)/τ and decay geometrically
  // wherever a_i < μ − 2s. The window's eigenvalues only seed the Rayleigh-quotient refinement on the full
  // matrix (cubic convergence), so a few states of padding suffice; a Sturm count on the full matrix checks
  // afterwards that no mode was missed.
  const cut = aMax - 2 * s - WINDOW_RANGE / tau;
  let lo = 0;
  let hi = n - 1;
  while (lo < n - 1 && a[lo] < cut) lo++;
  while (hi > 0 && a[hi] < cut) hi--;
  if (lo > hi) lo = hi = a.indexOf(aMax);
  lo = Math.max(0, lo - WINDOW_PAD);
  hi = Math.min(n - 1, hi + WINDOW_PAD);
  const win = hi - lo + 1;
  if (win > MAX_WINDOW) return false;
  const wd = winDiag.subarray(0, win);
  const wo = winOff.subarray(0, win);
  for (let i = 0; i < win; i++) {
    wd[i] = a[lo + i];
    wo[i] = s * s;
  }
  if (!tridiagonalEigenvaluesRational(wd, wo)) return false;
  // Window eigenvalues, descending.
  const maxModes = Math.min(MAX_MODES, win);
  for (let k = 0; k <= maxModes && k < win; k++) mu[k] = wd[win - 1 - k];
  const floor = EPS * sNorm;
  let m = 0;
  let logV0Min = 0;
  let remBound = Number.NEGATIVE_INFINITY;
  for (; m < maxModes; m++) {
    // Refine μ_m on the full matrix by Rayleigh-quotient steps (cubic convergence from the window value).
    let muK = mu[m];
    const upperGap = m > 0 ? mu[m - 1] - muK : Number.POSITIVE_INFINITY;
    const lowerGap = m + 1 < win ? muK - mu[m + 1] : Number.POSITIVE_INFINITY;
    const gap = Math.min(upperGap, lowerGap);
    let t = twisted(a, s, muK, top, bot, floor);
    let converged = false;
    for (let it = 0; it < 6; it++) {
      const step = t.gamma / twistedNorm2(top, bot, t.r);
      muK -= step;
      t = twisted(a, s, muK, top, bot, floor);
      if (Math.abs(step) <= 4 * EPS * sNorm) {
        converged = true;
        break;
      }
    }
    // The refined value must still be the same mode (well inside the gaps to its neighbours).
    if (!converged || !(Math.abs(muK - mu[m]) < 0.25 * gap)) return false;
    // Rigorously the (m+1)-th largest: exactly m eigenvalues of the full matrix lie above the midpoint
    // between it and the previous one (no mode skipped or found twice).
    if (m > 0 && n - sturmCountBelow(a, s * s, 0.5 * (mu[m - 1] + muK)) !== m) return false;
    mu[m] = muK;
    storeVector(wk, m, t.r);
    // Componentwise relative error of the vector (ratio recursion, eigenvalue error ~ε‖S‖ over the gap),
    // then of c_k = v_kᵀw (cancellation measured by Σ|v_kq w_q|).
    const rhoV = 16 * n * EPS + (8 * EPS * sNorm) / gap;
    const base = m * n;
    let c = 0;
    let cAbs = 0;
    for (let i = 0; i < n; i++) {
      const e = expo[base + i];
      const term = e === 0 ? mant[base + i] * w[i] : mant[base + i] * Math.exp(e + logW[i] - M);
      c += term;
      cAbs += Math.abs(term);
    }
    if (m === 0 && !(c > 0)) return false;
    coef[m] = c;
    // |c̃_k − c_k| ≤ (ρ_v + 2nε)Σ|v_kq w_q|; the term's other relative errors (vector component, sum,
    // and e^{(μ_k−μ_0)τ} through the eigenvalue error) scale with |c_k|.
    coefErr[m] =
      (rhoV + 2 * n * EPS) * cAbs + Math.abs(c) * (rhoV + 4 * n * EPS + (m > 0 ? 8 * EPS * sNorm * tau : 0));
    if (m === 0) {
      logV0Min = Number.POSITIVE_INFINITY;
      let plainMin = Number.POSITIVE_INFINITY;
      for (let i = 0; i < n; i++) {
        const v = Math.abs(mant[i]);
        if (expo[i] !== 0) logV0Min = Math.min(logV0Min, expo[i] + Math.log(v));
        else plainMin = Math.min(plainMin, v);
      }
      logV0Min = Math.min(logV0Min, Math.log(plainMin));
      if (!Number.isFinite(logV0Min)) return false;
    }
    // Stop once the modes left out are below tol/4 of the Perron term: every μ_k left out is below x, a
    // point just above the next window eigenvalue (close enough to cost < e in the bound, far enough
    // from it to be on the right side of it beyond any rounding).
    const nextMu = m + 1 < win ? mu[m + 1] : win === n ? Number.NEGATIVE_INFINITY : cut + 2 * s;
    remBound = Number.isFinite(nextMu)
      ? nextMu + Math.min(0.05 * (muK - nextMu), 1 / tau)
      : Number.NEGATIVE_INFINITY;
    if ((remBound - mu[0]) * tau + logWNorm - Math.log(coef[0]) - logV0Min <= logTol - Math.log(4)) {
      m++;
      break;
    }
    if (m + 1 === maxModes) return false;
  }
  // Rigorous bound on the modes left out: a Sturm count on the full matrix confirms that exactly the m
  // computed eigenvalues lie above x = remBound, so every other μ_k < x.
  let logRem = Number.NEGATIVE_INFINITY;
  if (m < n) {
    if (!Number.isFinite(remBound) || !(remBound < mu[m - 1])) return false;
    if (n - sturmCountBelow(a, s * s, remBound) !== m) return false;
    logRem = (remBound - mu[0]) * tau + logWNorm;
  }
  const mu0tau = mu[0] * tau;
  for (let k = 0; k < m; k++) {
    const decay = Math.exp((mu[k] - mu[0]) * tau);
    coef[k] *= decay;
    coefErr[k] *= decay;
  }
  for (let i = 0; i < n; i++) {
    let eMax = Number.NEGATIVE_INFINITY;
    let plain = true;
    for (let k = 0; k < m; k++) {
      const e = expo[k * n + i];
      if (e !== 0) plain = false;
      if (mant[k * n + i] !== 0 && coef[k] !== 0) eMax = Math.max(eMax, e);
    }
    if (plain) eMax = 0;
    if (!Number.isFinite(eMax)) return false;
    let sum = 0;
    let err = 0;
    for (let k = 0; k < m; k++) {
      const idx = k * n + i;
      const e = expo[idx];
      const v = plain ? mant[idx] : mant[idx] * Math.exp(e - eMax);
      sum += coef[k] * v;
      err += Math.abs(v) * coefErr[k];
    }
    if (!(sum > 0)) return false;
    // Relative error: kept terms, rounding of the sum, and the modes left out.
    const relKept = err / sum + 2 * m * EPS;
    const logSum = Math.log(sum);
    const logRelRem = logRem - eMax - logSum;
    // Cheap sufficient test first (no exponential); the exact one only near the limit.
    if (!(relKept <= 0.5 * tol && logRelRem <= logHalfTol)) {
      if (!(logRelRem <= 0 && relKept + Math.exp(logRelRem) <= tol)) return false;
    }
    h[i] = (mu0tau + logSum + eMax + M - logD[i]) / kappa;
  }
  return true;
}
