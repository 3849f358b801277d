/**
 * The truncated normal distribution the Parzen estimator is built from: log mass of an interval, log density,
 * and inverse-CDF sampling, accurate in the tails (upper-tail quantities are computed through erfc, never as
 * 1 − Φ). Pure.
 */

const SQRT2 = Math.SQRT2;
const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/**
 * ln erfc(x) for x ≥ 0 (Numerical Recipes' Chebyshev fit of erfc: fractional error < 1.2e-7 everywhere),
 * computed in log space so that it never underflows.
 */
function logErfcPos(x: number): number {
  const t = 1 / (1 + 0.5 * x);
  const poly =
    -1.26551223 +
    t *
      (1.00002368 +
        t *
          (0.37409196 +
            t *
              (0.09678418 +
                t *
                  (-0.18628806 +
                    t *
                      (0.27886807 +
                        t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277))))))));
  return Math.log(t) - x * x + poly;
}

/** erfc(x), relative error < 1.2e-7. */
export function erfc(x: number): number {
  const e = Math.exp(logErfcPos(Math.abs(x)));
  return x >= 0 ? e : 2 - e;
}

/** Standard normal CDF Φ(z). */
export function normCdf(z: number): number {
  return 0.5 * erfc(-z / SQRT2);
}

/** ln Φ(z), accurate for very negative z. */
export function logNormCdf(z: number): number {
  if (z < 0) return Math.log(0.5) + logErfcPos(-z / SQRT2);
  return Math.log1p(-0.5 * erfc(z / SQRT2));
}

/** ln(e^a − e^b) for a ≥ b. */
function logDiffExp(a: number, b: number): number {
  if (b === Number.NEGATIVE_INFINITY) return a;
  return a + Math.log1p(-Math.exp(b - a));
}

/** ln(Φ(b) − Φ(a)) for a < b, through the tail that keeps precision. */
export function logNormMass(a: number, b: number): number {
  if (!(b > a)) return Number.NEGATIVE_INFINITY;
  // Φ(b) − Φ(a) = Φ(−a) − Φ(−b): use whichever side lies in a lower tail.
  if (a > 0) return logDiffExp(logNormCdf(-a), logNormCdf(-b));
  return logDiffExp(logNormCdf(b), logNormCdf(a));
}

/** Inverse of Φ (Acklam's rational approximation refined by one Halley step): z with Φ(z) = p. */
export function normPpf(p: number): number {
  if (p <= 0) return Number.NEGATIVE_INFINITY;
  if (p >= 1) return Number.POSITIVE_INFINITY;
  const a = [
    -39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716,
    2.506628277459239,
  ];
  const b = [
    -54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572,
  ];
  const c = [
    -0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968,
    2.938163982698783,
  ];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const pLow = 0.02425;
  let x: number;
  if (p < pLow) {
    const q = Math.sqrt(-2 * Math.log(p));
    x =
      (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - pLow) {
    const q = p - 0.5;
    const r = q * q;
    x =
      ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) /
      (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x =
      -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
      ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  // One Halley step against our Φ.
  const e = normCdf(x) - p;
  const u = e * Math.sqrt(2 * Math.PI) * Math.exp((x * x) / 2);
  return x - u / (1 + (x * u) / 2);
}

/** ln of the density at x of N(mu, sigma²) truncated to [lo, hi]. */
export function truncNormLogPdf(x: number, mu: number, sigma: number, lo: number, hi: number): number {
  if (x < lo || x > hi) return Number.NEGATIVE_INFINITY;
  const z = (x - mu) / sigma;
  return -0.5 * z * z - LOG_SQRT_2PI - Math.log(sigma) - logNormMass((lo - mu) / sigma, (hi - mu) / sigma);
}

/** ln of the probability of [a, b] ⊂ [lo, hi] under N(mu, sigma²) truncated to [lo, hi]. */
export function truncNormLogMass(
  a: number,
  b: number,
  mu: number,
  sigma: number,
  lo: number,
  hi: number,
): number {
  const aa = Math.max(a, lo);
  const bb = Math.min(b, hi);
  if (!(bb > aa)) return Number.NEGATIVE_INFINITY;
  return (
    logNormMass((aa - mu) / sigma, (bb - mu) / sigma) - logNormMass((lo - mu) / sigma, (hi - mu) / sigma)
  );
}

/** A draw from N(mu, sigma²) truncated to [lo, hi], by inverting the CDF at the uniform u ∈ [0, 1). */
export function truncNormSample(u: number, mu: number, sigma: number, lo: number, hi: number): number {
  const a = (lo - mu) / sigma;
  const b = (hi - mu) / sigma;
  let z: number;
  if (a > 0) {
    // Both bounds in the upper tail: work with Q = 1 − Φ = Φ(−·).
    const qa = normCdf(-a);
    const qb = normCdf(-b);
    z = -normPpf(qa - u * (qa - qb));
  } else {
    const pa = normCdf(a);
    const pb = normCdf(b);
    z = normPpf(pa + u * (pb - pa));
  }
  if (!Number.isFinite(z)) z = u < 0.5 ? a : b;
  return mu + sigma * Math.min(b, Math.max(a, z));
}
