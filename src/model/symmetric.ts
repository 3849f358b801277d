/**
 * Symmetric κ (κ⁺ = κ⁻ = κ): the exact linear solution ω(τ) = exp(Aτ) z, h = (1/κ) ln ω (MATH.md).
 *
 * A is tridiagonal with constant positive off-diagonals l (below) and u (above), so A = D⁻¹ S D with
 * D = diag((u/l)^{i/2}) and S symmetric tridiagonal (off-diagonal √(lu)). With S = V Λ Vᵀ:
 *   ω = D⁻¹ V e^{Λτ} Vᵀ D z,
 * with the common factors e^{μ_max τ} and max(Dz) kept as logarithms, so it cannot overflow for any horizon.
 * An a-posteriori bound on the rounding/cancellation error is checked for every component; when the
 * spectral sum cannot deliver the requested relative accuracy (strong penalties or a large fee, where ω spans
 * more orders of magnitude than double-precision eigenvectors resolve), it returns false and the caller falls
 * back to the log-domain ODE, which solves the same equation.
 */
import { symmetricTridiagonalEigen } from './linalg.ts';
import { adverseDrift, stateCount } from './params.ts';
import type { ModelParams } from './types.ts';

export interface SymmetricWork {
  n: number;
  diag: Float64Array;
  off: Float64Array;
  vecs: Float64Array;
  logD: Float64Array;
  coef: Float64Array;
  coef2: Float64Array;
}

export function symmetricWork(n: number): SymmetricWork {
  return {
    n,
    diag: new Float64Array(n),
    off: new Float64Array(n),
    vecs: new Float64Array(n * n),
    logD: new Float64Array(n),
    coef: new Float64Array(n),
    coef2: new Float64Array(n),
  };
}

/** Off-diagonals of A: l = λ⁺e^{−1−κ(ε⁺+c)} (q → q−1), u = λ⁻e^{−1−κ(ε⁻+c)} (q → q+1), in log form. */
export function symmetricCouplings(p: ModelParams): { logL: number; logU: number } {
  const k = p.kappaPlus;
  return {
    logL: Math.log(p.lambdaPlus) - 1 - k * (p.epsilonPlus + p.feePerFill),
    logU: Math.log(p.lambdaMinus) - 1 - k * (p.epsilonMinus + p.feePerFill),
  };
}

/**
 * Writes h(τ, q) = (1/κ) ln ω into `h` (index i ↔ q = qMin + i). Returns false (h then unspecified) when the
 * spectral evaluation cannot guarantee relative accuracy `tol` on every ω_q, or when a side has λ = 0
 * (A is then not symmetrisable).
 */
export function solveSymmetricMatrix(
  p: ModelParams,
  tau: number,
  h: Float64Array,
  tol = 1e-9,
  work: SymmetricWork = symmetricWork(stateCount(p)),
  terminal?: Float64Array,
): boolean {
  const n = stateCount(p);
  const kappa = p.kappaPlus;
  // Terminal condition h(T, ·), default −αq²; z = e^{κ h(T,·)}.
  const hT = (i: number) => (terminal ? terminal[i] : -p.alpha * (p.qMin + i) * (p.qMin + i));
  if (tau === 0) {
    for (let i = 0; i < n; i++) h[i] = hT(i);
    return true;
  }
  if (!(p.lambdaPlus > 0 && p.lambdaMinus > 0)) return false;
  const { logL, logU } = symmetricCouplings(p);
  const s = Math.exp(0.5 * (logL + logU));
  const D = adverseDrift(p);
  const { diag, off, vecs, logD, coef } = work;
  for (let i = 0; i < n; i++) {
    const q = p.qMin + i;
    diag[i] = q * kappa * D - p.phi * kappa * q * q;
    off[i] = s;
    logD[i] = 0.5 * i * (logU - logL);
  }
  if (n === 1) {
    // One state: ω = e^{a τ} z.
    h[0] = (diag[0] * tau) / kappa + hT(0);
    return true;
  }
  if (!symmetricTridiagonalEigen(diag, off, vecs)) return false;
  // w = D z scaled by its maximum (log scale M), coef = Vᵀ w.
  let M = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) M = Math.max(M, logD[i] + kappa * hT(i));
  let wNorm2 = 0;
  coef.fill(0);
  for (let j = 0; j < n; j++) {
    const w = Math.exp(logD[j] + kappa * hT(j) - M);
    wNorm2 += w * w;
    if (w === 0) continue;
    const row = j * n;
    for (let k = 0; k < n; k++) coef[k] += vecs[row + k] * w;
  }
  // Error model: V and coef carry absolute errors ~ε (V orthonormal, ‖coef‖ = ‖w‖), so by Cauchy–Schwarz
  // |error of ω̃_i| ≲ 4ε(‖w‖·√(Σ_k e^{2μ_k τ}) + Σ_k |V_ik coef_k| e^{μ_k τ}).
  const muMax = diag[n - 1] * tau;
  let sumExp2 = 0;
  for (let k = 0; k < n; k++) sumExp2 += Math.exp(2 * (diag[k] * tau - muMax));
  const logVecErr = muMax + 0.5 * Math.log(sumExp2) + 0.5 * Math.log(wNorm2);
  const logTol = Math.log(tol / (4 * 2 ** -52));
  // e^{(μ_k − μ_max)τ} ≤ 1: the common factor e^{μ_max τ} stays in the log scale, so nothing overflows;
  // terms that underflow are below 1e-300 of the Perron term and cannot matter unless the accuracy test fails.
  const growth = work.coef2;
  for (let k = 0; k < n; k++) growth[k] = coef[k] * Math.exp(diag[k] * tau - muMax);
  for (let i = 0; i < n; i++) {
    let sum = 0;
    let absSum = 0;
    const row = i * n;
    for (let k = 0; k < n; k++) {
      const term = vecs[row + k] * growth[k];
      sum += term;
      absSum += Math.abs(term);
    }
    if (!(sum > 0)) return false;
    const logOmegaTilde = muMax + Math.log(sum);
    const logTerms = muMax + Math.log(absSum);
    // log(error bound) − log ω̃_i must stay below log(tol / 4ε).
    const big = Math.max(logVecErr, logTerms);
    const logErr = big + Math.log(Math.exp(logVecErr - big) + Math.exp(logTerms - big));
    if (logErr - logOmegaTilde > logTol) return false;
    h[i] = (logOmegaTilde + M - logD[i]) / kappa;
  }
  return true;
}
