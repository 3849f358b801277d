/** Statistics for the optimiser tests: the one-sided Mann–Whitney U test (normal approximation, tie-corrected). */

/** Standard normal upper tail Q(z) = 1 − Φ(z) (Abramowitz–Stegun 26.2.17 is not needed: erfc through a series). */
export function normalUpperTail(z: number): number {
  // Φ via the complementary error function, computed with a continued fraction / series split.
  return 0.5 * erfc(z / Math.SQRT2);
}

function erfc(x: number): number {
  if (x < 0) return 2 - erfc(-x);
  if (x < 2) {
    // erf series: erf(x) = 2/√π Σ (−1)^n x^{2n+1} / (n! (2n+1))
    let sum = 0;
    let term = x;
    for (let n = 0; n < 80; n++) {
      sum += term / (2 * n + 1);
      term *= (-x * x) / (n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // Continued fraction (Lentz) for large x.
  let f = x;
  let C = x;
  let D = 0;
  for (let n = 1; n < 200; n++) {
    const a = n / 2;
    D = x + a * D;
    D = 1 / D;
    C = x + a / C;
    const delta = C * D;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-x * x) / (f * Math.sqrt(Math.PI));
}

/**
 * One-sided Mann–Whitney U test of H1: values in `a` tend to be SMALLER than in `b`.
 * Returns U of a, the z statistic and the p-value (normal approximation with tie correction, continuity 0.5).
 */
export function mannWhitneyLess(a: number[], b: number[]): { u: number; z: number; p: number } {
  const all = [...a.map((v) => ({ v, g: 0 })), ...b.map((v) => ({ v, g: 1 }))].sort((x, y) => x.v - y.v);
  const ranks = new Array<number>(all.length);
  let tieTerm = 0;
  for (let i = 0; i < all.length; ) {
    let j = i;
    while (j + 1 < all.length && all[j + 1].v === all[i].v) j++;
    const r = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) ranks[k] = r;
    const t = j - i + 1;
    tieTerm += t * t * t - t;
    i = j + 1;
  }
  let ra = 0;
  for (let k = 0; k < all.length; k++) if (all[k].g === 0) ra += ranks[k];
  const n1 = a.length;
  const n2 = b.length;
  const u = ra - (n1 * (n1 + 1)) / 2; // U of a: number of (a, b) pairs with a > b
  const mu = (n1 * n2) / 2;
  const n = n1 + n2;
  const sigma = Math.sqrt(((n1 * n2) / 12) * (n + 1 - tieTerm / (n * (n - 1))));
  // Small U = a smaller. z for the lower tail with continuity correction.
  const z = (u - mu + 0.5) / sigma;
  return { u, z, p: 1 - normalUpperTail(z) };
}
