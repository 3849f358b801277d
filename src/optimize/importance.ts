/**
 * Parameter importances, fANOVA-style (Hutter, Hoos & Leyton-Brown 2014): fit a random forest of regression
 * trees to (parameters → loss), then for each tree decompose the variance of its prediction over the whole
 * (uniform) search space, and report for each parameter the share of that variance explained by its main
 * effect (the variance of the tree's marginal prediction as a function of that parameter alone), averaged
 * over the trees. Shares need not add up to 1: the remainder is interactions. Optuna's default importance
 * evaluator does the same with 64 trees.
 * Inputs are in [0, 1] per dimension (the caller maps each parameter's internal coordinate onto its range),
 * so "uniform over the search space" is uniform on the unit cube. Pure and seeded.
 */
import { Rng } from '../util/rng.ts';

export interface ForestOptions {
  trees: number;
  maxDepth: number;
  minLeaf: number;
  seed: number;
}

export const DEFAULT_FOREST: ForestOptions = { trees: 64, maxDepth: 16, minLeaf: 2, seed: 1 };

interface Leaf {
  lo: Float64Array;
  hi: Float64Array;
  value: number;
}

/** Grows one regression tree on the rows `idx` (bootstrap sample); returns its leaves as boxes. */
function growTree(
  X: readonly Float64Array[],
  y: readonly number[],
  idx: number[],
  d: number,
  o: ForestOptions,
): Leaf[] {
  const leaves: Leaf[] = [];
  const stack: { rows: number[]; lo: Float64Array; hi: Float64Array; depth: number }[] = [
    { rows: idx, lo: new Float64Array(d), hi: new Float64Array(d).fill(1), depth: 0 },
  ];
  while (stack.length > 0) {
    const node = stack.pop() as (typeof stack)[number];
    const rows = node.rows;
    let sum = 0;
    for (const r of rows) sum += y[r];
    const mean = sum / rows.length;
    let best: { dim: number; thr: number; gain: number } | undefined;
    if (node.depth < o.maxDepth && rows.length >= 2 * o.minLeaf) {
      let sse0 = 0;
      for (const r of rows) sse0 += (y[r] - mean) ** 2;
      if (sse0 > 1e-300) {
        for (let k = 0; k < d; k++) {
          const sorted = [...rows].sort((a, b) => X[a][k] - X[b][k]);
          let sl = 0;
          let sl2 = 0;
          let tot = 0;
          let tot2 = 0;
          for (const r of sorted) {
            tot += y[r];
            tot2 += y[r] * y[r];
          }
          for (let m = 0; m < sorted.length - 1; m++) {
            const v = y[sorted[m]];
            sl += v;
            sl2 += v * v;
            const nl = m + 1;
            const nr = sorted.length - nl;
            if (nl < o.minLeaf || nr < o.minLeaf) continue;
            const a = X[sorted[m]][k];
            const b = X[sorted[m + 1]][k];
            if (!(b > a)) continue;
            const sseL = sl2 - (sl * sl) / nl;
            const sr = tot - sl;
            const sseR = tot2 - sl2 - (sr * sr) / nr;
            const gain = sse0 - sseL - sseR;
            if (!best || gain > best.gain + 1e-12) best = { dim: k, thr: 0.5 * (a + b), gain };
          }
        }
      }
    }
    if (!best || !(best.gain > 0)) {
      leaves.push({ lo: node.lo, hi: node.hi, value: mean });
      continue;
    }
    const left: number[] = [];
    const right: number[] = [];
    for (const r of rows) (X[r][best.dim] <= best.thr ? left : right).push(r);
    const loL = node.lo.slice();
    const hiL = node.hi.slice();
    hiL[best.dim] = best.thr;
    const loR = node.lo.slice();
    loR[best.dim] = best.thr;
    stack.push({ rows: left, lo: loL, hi: hiL, depth: node.depth + 1 });
    stack.push({ rows: right, lo: loR, hi: node.hi.slice(), depth: node.depth + 1 });
  }
  return leaves;
}

/** Main-effect variance shares of one tree (NaN when the tree is constant). */
export function treeMainEffects(leaves: readonly Leaf[], d: number): number[] {
  let mu = 0;
  let m2 = 0;
  const vols = leaves.map((l) => {
    let v = 1;
    for (let k = 0; k < d; k++) v *= l.hi[k] - l.lo[k];
    return v;
  });
  leaves.forEach((l, i) => {
    mu += vols[i] * l.value;
    m2 += vols[i] * l.value * l.value;
  });
  const total = m2 - mu * mu;
  if (!(total > 1e-300 * Math.max(1, m2))) return Array.from({ length: d }, () => Number.NaN);
  const out: number[] = [];
  for (let k = 0; k < d; k++) {
    const cuts = new Set<number>([0, 1]);
    for (const l of leaves) {
      cuts.add(l.lo[k]);
      cuts.add(l.hi[k]);
    }
    const xs = [...cuts].sort((a, b) => a - b);
    let vk = 0;
    for (let s = 0; s + 1 < xs.length; s++) {
      const a = xs[s];
      const b = xs[s + 1];
      const w = b - a;
      if (!(w > 0)) continue;
      const mid = 0.5 * (a + b);
      // Marginal prediction on this interval: average over all other dimensions.
      let marg = 0;
      leaves.forEach((l, i) => {
        if (mid > l.lo[k] && mid < l.hi[k]) marg += (l.value * vols[i]) / (l.hi[k] - l.lo[k]);
      });
      vk += w * (marg - mu) ** 2;
    }
    out.push(vk / total);
  }
  return out;
}

/**
 * Importance of each column of X (rows in [0, 1]^d) for y: the main-effect variance shares averaged over a
 * random forest's trees. Needs at least 4 rows; returns zeros when y is constant.
 */
export function importances(
  X: readonly number[][],
  y: readonly number[],
  opts: Partial<ForestOptions> = {},
): number[] {
  const o = { ...DEFAULT_FOREST, ...opts };
  const n = X.length;
  const d = n > 0 ? X[0].length : 0;
  if (n < 4 || d === 0) return Array.from({ length: d }, () => 0);
  const Xf = X.map((r) => Float64Array.from(r));
  const rng = new Rng(o.seed);
  const acc = new Float64Array(d);
  let used = 0;
  for (let t = 0; t < o.trees; t++) {
    const idx = Array.from({ length: n }, () => rng.int(n));
    const shares = treeMainEffects(growTree(Xf, y, idx, d, o), d);
    if (shares.some((s) => Number.isNaN(s))) continue;
    for (let k = 0; k < d; k++) acc[k] += shares[k];
    used++;
  }
  return Array.from(acc, (s) => (used > 0 ? s / used : 0));
}
