/** Shared parameter sets and comparison helpers for the model tests. */
import type { ModelParams, QuoteTable } from '../../src/model/types.ts';

export function params(over: Partial<ModelParams> = {}): ModelParams {
  return {
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 10,
    kappaMinus: 10,
    epsilonPlus: 0,
    epsilonMinus: 0,
    phi: 0,
    alpha: 0,
    qMin: -10,
    qMax: 10,
    feePerFill: 0,
    ...over,
  };
}

/** Index of inventory q in a table. */
export const at = (t: { qMin: number }, q: number) => q - t.qMin;

/** Largest |a − b| over the quoted entries of two depth arrays (NaN must match NaN). */
export function maxDepthDiff(a: QuoteTable, b: QuoteTable): number {
  let m = 0;
  for (const k of ['deltaPlus', 'deltaMinus'] as const) {
    for (let i = 0; i < a[k].length; i++) {
      const x = a[k][i];
      const y = b[k][i];
      if (Number.isNaN(x) !== Number.isNaN(y)) return Number.POSITIVE_INFINITY;
      if (!Number.isNaN(x)) m = Math.max(m, Math.abs(x - y));
    }
  }
  return m;
}

export function assertClose(actual: number, expected: number, tol: number, what: string): void {
  if (!(Math.abs(actual - expected) <= tol)) {
    throw new Error(
      `${what}: got ${actual}, expected ${expected} (±${tol}, off by ${Math.abs(actual - expected)})`,
    );
  }
}
