/** Small dense/tridiagonal linear algebra for the solvers (pure, Float64Array, no allocation in loops). */

/** √(x² + y²): Math.hypot is slow in V8; the plain form is exact enough and falls back when it over/underflows. */
function hypot(x: number, y: number): number {
  const r = Math.sqrt(x * x + y * y);
  return r > 1e-150 && r < 1e150 ? r : Math.hypot(x, y);
}

/**
 * Eigen-decomposition of a real symmetric tridiagonal matrix by the implicit QL method (EISPACK tql2).
 * In: d (diagonal, n), e (off-diagonal, e[i] couples i and i+1, length ≥ n−1). Out: d overwritten with the
 * eigenvalues (ascending), z (n×n row-major, z[i*n+k] = component i of eigenvector k), orthonormal.
 * With z = null only the eigenvalues are computed (O(n²) instead of O(n³)).
 * Returns false if an eigenvalue failed to converge (never seen for the model's matrices).
 */
export function symmetricTridiagonalEigen(
  d: Float64Array,
  offDiag: Float64Array,
  z: Float64Array | null,
): boolean {
  const n = d.length;
  const e = new Float64Array(n);
  for (let i = 0; i < n - 1; i++) e[i] = offDiag[i];
  if (z) {
    z.fill(0);
    for (let i = 0; i < n; i++) z[i * n + i] = 1;
  }
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l++) {
    tst1 = Math.max(tst1, Math.abs(d[l]) + Math.abs(e[l]));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m]) <= eps * tst1) break;
      m++;
    }
    if (m > l) {
      let iter = 0;
      do {
        if (++iter > 60) return false;
        let g = d[l];
        let p = (d[l + 1] - g) / (2 * e[l]);
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = e[l] / (p + r);
        d[l + 1] = e[l] * (p + r);
        const dl1 = d[l + 1];
        let h = g - d[l];
        for (let i = l + 2; i < n; i++) d[i] -= h;
        f += h;
        p = d[m];
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1];
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i--) {
          c3 = c2;
          c2 = c;
          s2 = s;
          g = c * e[i];
          h = c * p;
          r = hypot(p, e[i]);
          e[i + 1] = s * r;
          s = e[i] / r;
          c = p / r;
          p = c * d[i] - s * g;
          d[i + 1] = h + s * (c * g + s * d[i]);
          if (z === null) continue;
          for (let k = 0; k < n; k++) {
            h = z[k * n + i + 1];
            z[k * n + i + 1] = s * z[k * n + i] + c * h;
            z[k * n + i] = c * z[k * n + i] - s * h;
          }
        }
        p = (-s * s2 * c3 * el1 * e[l]) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l]) > eps * tst1);
    }
    d[l] += f;
    e[l] = 0;
  }
  // Sort ascending (selection sort on columns; n is small).
  for (let i = 0; i < n - 1; i++) {
    let k = i;
    let p = d[i];
    for (let j = i + 1; j < n; j++) {
      if (d[j] < p) {
        k = j;
        p = d[j];
      }
    }
    if (k !== i) {
      d[k] = d[i];
      d[i] = p;
      for (let j = 0; z !== null && j < n; j++) {
        const t = z[j * n + i];
        z[j * n + i] = z[j * n + k];
        z[j * n + k] = t;
      }
    }
  }
  return true;
}

/**
 * Solves the tridiagonal system (sub, diag, sup) x = rhs by the Thomas algorithm; sub[i] multiplies x[i−1],
 * sup[i] multiplies x[i+1]. `work` (length n) is scratch. The solvers only call it on diagonally dominant
 * M-matrices (I − hJ with J a generator-like Jacobian), for which no pivoting is needed.
 */
export function solveTridiagonal(
  sub: Float64Array,
  diag: Float64Array,
  sup: Float64Array,
  rhs: Float64Array,
  x: Float64Array,
  work: Float64Array,
): void {
  const n = diag.length;
  let beta = diag[0];
  x[0] = rhs[0] / beta;
  for (let i = 1; i < n; i++) {
    work[i] = sup[i - 1] / beta;
    beta = diag[i] - sub[i] * work[i];
    x[i] = (rhs[i] - sub[i] * x[i - 1]) / beta;
  }
  for (let i = n - 2; i >= 0; i--) x[i] -= work[i + 1] * x[i + 1];
}

/**
 * Solves the dense n×n system a x = b in place by Gaussian elimination with partial pivoting
 * (a row-major, destroyed; b overwritten with x). Returns false if singular.
 */
export function solveDense(a: Float64Array, b: Float64Array, n: number): boolean {
  for (let col = 0; col < n; col++) {
    let piv = col;
    let best = Math.abs(a[col * n + col]);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(a[r * n + col]);
      if (v > best) {
        best = v;
        piv = r;
      }
    }
    if (!(best > 0)) return false;
    if (piv !== col) {
      for (let k = col; k < n; k++) {
        const t = a[col * n + k];
        a[col * n + k] = a[piv * n + k];
        a[piv * n + k] = t;
      }
      const t = b[col];
      b[col] = b[piv];
      b[piv] = t;
    }
    const inv = 1 / a[col * n + col];
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col] * inv;
      if (f === 0) continue;
      for (let k = col + 1; k < n; k++) a[r * n + k] -= f * a[col * n + k];
      b[r] -= f * b[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= a[r * n + k] * b[k];
    b[r] = s / a[r * n + r];
  }
  return true;
}

/**
 * LU factorisation with partial pivoting of the dense n×n row-major matrix a, in place (L unit lower, U upper);
 * `piv[k]` is the row swapped with row k. Returns false if singular (a zero pivot).
 */
export function luFactor(a: Float64Array, n: number, piv: Int32Array): boolean {
  for (let col = 0; col < n; col++) {
    let p = col;
    let best = Math.abs(a[col * n + col]);
    for (let r = col + 1; r < n; r++) {
      const v = Math.abs(a[r * n + col]);
      if (v > best) {
        best = v;
        p = r;
      }
    }
    piv[col] = p;
    if (!(best > 0)) return false;
    if (p !== col) {
      for (let k = 0; k < n; k++) {
        const t = a[col * n + k];
        a[col * n + k] = a[p * n + k];
        a[p * n + k] = t;
      }
    }
    const inv = 1 / a[col * n + col];
    for (let r = col + 1; r < n; r++) {
      const f = a[r * n + col] * inv;
      a[r * n + col] = f;
      if (f === 0) continue;
      for (let k = col + 1; k < n; k++) a[r * n + k] -= f * a[col * n + k];
    }
  }
  return true;
}

/** Solves a x = b with the factors of luFactor; b (length n) is overwritten with x. */
export function luSolve(a: Float64Array, n: number, piv: Int32Array, b: Float64Array): void {
  for (let k = 0; k < n; k++) {
    const p = piv[k];
    if (p !== k) {
      const t = b[k];
      b[k] = b[p];
      b[p] = t;
    }
  }
  for (let r = 1; r < n; r++) {
    let s = b[r];
    for (let k = 0; k < r; k++) s -= a[r * n + k] * b[k];
    b[r] = s;
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = b[r];
    for (let k = r + 1; k < n; k++) s -= a[r * n + k] * b[k];
    b[r] = s / a[r * n + r];
  }
}
