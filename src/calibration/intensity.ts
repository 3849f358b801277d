/**
 * λ and κ from the reach-or-beyond intensity Λ(δ) = λ e^{−κδ} (derivation: docs/calibration.md).
 *
 * Every visible MO reaches the touch δ0 (the half-spread at that moment); beyond it the model says
 * P(depth ≥ δ0 + x | visible) = e^{−κx}. Depths are observed on the tick grid as k = levels beyond the touch,
 * so k is geometric with q = e^{−κ·tick}: P(k) = (1 − q) q^k. The conditional MLE is
 *   κ̂ = ln(1 + n/Σk) / tick,   SE(κ̂) = (1 − q̂) / (tick·√(n q̂)).
 * The visible-MO count N over observed time is Poisson with mean λ·E(κ), E(κ) = ∫ e^{−κ δ0(t)} dt
 * (time-weighted over the half-spreads actually quoted), so λ̂ = N / E(κ̂), and by the delta method
 *   Var(ln λ̂) = 1/N + δ̄0² Var(κ̂),  δ̄0 = the e^{−κδ0}-weighted mean half-spread.
 */

export interface KappaFit {
  kappa: number;
  stderr: number;
  /** q̂ = e^{−κ̂·tick}: the probability an MO reaching a level goes one tick further. */
  q: number;
  n: number;
  sumK: number;
}

/** Geometric MLE of κ from n MOs whose depths beyond the touch sum to sumK ticks. */
export function fitKappaGeometric(n: number, sumK: number, tick: number): KappaFit {
  if (!(n > 0) || !(sumK > 0) || !(tick > 0)) {
    return { kappa: Number.NaN, stderr: Number.NaN, q: sumK > 0 ? Number.NaN : 0, n, sumK };
  }
  const q = sumK / (n + sumK);
  const kappa = Math.log1p(n / sumK) / tick;
  const stderr = (1 - q) / (tick * Math.sqrt(n * q));
  return { kappa, stderr, q, n, sumK };
}

/**
 * Exposure E(κ) = Σ_s T_s e^{−κ δ0_s} (seconds) and its κ-weighted mean half-spread, from the time spent
 * at each half-spread. halfSpreads[i] in price, seconds[i] ≥ 0.
 */
export function exposure(
  halfSpreads: ArrayLike<number>,
  seconds: ArrayLike<number>,
  kappa: number,
): { exposure: number; meanDelta0: number } {
  let e = 0;
  let ed = 0;
  for (let i = 0; i < halfSpreads.length; i++) {
    const s = seconds[i];
    if (!(s > 0)) continue;
    const w = s * Math.exp(-kappa * halfSpreads[i]);
    e += w;
    ed += w * halfSpreads[i];
  }
  return { exposure: e, meanDelta0: e > 0 ? ed / e : 0 };
}

export interface LambdaFit {
  lambda: number;
  stderr: number;
}

/** λ̂ = N / E(κ̂) with the delta-method SE (Poisson count plus κ uncertainty). */
export function fitLambda(
  n: number,
  halfSpreads: ArrayLike<number>,
  seconds: ArrayLike<number>,
  kappa: number,
  kappaStderr: number,
): LambdaFit {
  const { exposure: e, meanDelta0 } = exposure(halfSpreads, seconds, kappa);
  if (!(n > 0) || !(e > 0) || !Number.isFinite(kappa)) return { lambda: Number.NaN, stderr: Number.NaN };
  const lambda = n / e;
  const relVar = 1 / n + meanDelta0 * meanDelta0 * kappaStderr * kappaStderr;
  return { lambda, stderr: lambda * Math.sqrt(relVar) };
}

export interface GoodnessOfFit {
  chi2: number;
  df: number;
  pValue: number;
  /** Bins used (after merging so each expects ≥ 5): [kFrom, kTo] with observed and expected counts. */
  bins: { kFrom: number; kTo: number; observed: number; expected: number }[];
}

let POWERS = new Float64Array(64);

/**
 * base^k for k = 0..m (each the same `base ** k` as written out), in a scratch array valid until the next
 * call: the goodness-of-fit tests read each power two or three times per bin, on every calibration refresh.
 */
export function powers(base: number, m: number): Float64Array {
  if (POWERS.length <= m) POWERS = new Float64Array(2 * (m + 1));
  const p = POWERS;
  for (let k = 0; k <= m; k++) p[k] = base ** k;
  return p;
}

/**
 * Pearson chi-square of the observed histogram of k (hist[k] = count; the last entry may be an open
 * "≥ last" bin when `lastIsTail`) against the fitted geometric, merging bins until each expects ≥ 5.
 * df = bins − 2 (one fitted parameter). pValue NaN when df < 1.
 */
export function geometricGoodnessOfFit(hist: ArrayLike<number>, q: number, lastIsTail = true): GoodnessOfFit {
  let n = 0;
  for (let i = 0; i < hist.length; i++) n += hist[i];
  const bins: GoodnessOfFit['bins'] = [];
  if (!(n > 0) || !(q > 0 && q < 1)) return { chi2: Number.NaN, df: 0, pValue: Number.NaN, bins };
  const last = hist.length - 1;
  const qk = powers(q, last + 1);
  // Expected counts: P(K = k) = (1−q)q^k, and the open tail bin takes P(K ≥ last) = q^last.
  const expected = (k: number) => n * (k === last && lastIsTail ? qk[k] : (1 - q) * qk[k]);
  let from = 0;
  let obs = 0;
  let exp = 0;
  for (let k = 0; k <= last; k++) {
    obs += hist[k];
    exp += expected(k);
    const rest = lastIsTail ? n * qk[k + 1] : n * (qk[k + 1] - qk[last + 1]);
    if (k === last || (exp >= 5 && rest >= 5)) {
      bins.push({ kFrom: from, kTo: k, observed: obs, expected: exp });
      from = k + 1;
      obs = 0;
      exp = 0;
    }
  }
  // A final bin expecting < 5 is folded into its neighbour.
  if (bins.length > 1 && bins[bins.length - 1].expected < 5) {
    const tail = bins.pop()!;
    const b = bins[bins.length - 1];
    b.observed += tail.observed;
    b.expected += tail.expected;
    b.kTo = tail.kTo;
  }
  let chi2 = 0;
  for (const b of bins) chi2 += ((b.observed - b.expected) * (b.observed - b.expected)) / b.expected;
  const df = bins.length - 2;
  return { chi2, df, pValue: df >= 1 ? chiSquareSurvival(chi2, df) : Number.NaN, bins };
}

/** P(χ²_df > x). */
export function chiSquareSurvival(x: number, df: number): number {
  if (!(x > 0)) return 1;
  return regularizedGammaQ(df / 2, x / 2);
}

/** Regularised upper incomplete gamma Q(a, x) (series for x < a+1, continued fraction otherwise). */
export function regularizedGammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  const lnPre = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 500; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return Math.max(0, 1 - sum * Math.exp(lnPre));
  }
  // Lentz continued fraction.
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 500; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return Math.min(1, Math.exp(lnPre) * h);
}

/** ln Γ(x), Lanczos (g = 7, n = 9), |error| < 1e-13 for x > 0. */
export function logGamma(x: number): number {
  const g = 7;
  const c = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + g + 0.5;
  for (let i = 1; i < g + 2; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}
