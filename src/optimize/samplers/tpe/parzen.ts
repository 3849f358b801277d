/**
 * The Parzen estimator of the Tree-structured Parzen Estimator (Bergstra et al. 2011), one dimension at a
 * time, as Optuna builds it (optuna/samplers/_tpe/parzen_estimator.py, univariate):
 * - numeric: a mixture of normals truncated to the range, one per observation (in the internal coordinate:
 *   ln x for log ranges), bandwidth = the larger distance to its sorted neighbours (the range ends count as
 *   neighbours), plus a prior component N(mid-range, range²) of weight `priorWeight`; bandwidths clipped to
 *   [range / min(100, 1 + components), range] ("magic clip"). Integers are scored by the mass of their cell
 *   [v − ½, v + ½];
 * - categorical: each observation a kernel (1 on its choice plus priorWeight / k on every choice), plus a
 *   uniform prior kernel.
 * Observation weights (older epochs count less once there are more than 25) come from the sampler.
 * Pure: no I/O, randomness only from the Rng passed in.
 */
import type { Rng } from '../../../util/rng.ts';
import { type Dimension, internalBounds, internalCell } from '../../space.ts';
import { logNormMass, truncNormSample } from './truncnorm.ts';

const LOG_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

export interface ParzenOptions {
  /** Weight of the prior component relative to one observation (Optuna: 1). */
  priorWeight: number;
  /** Lower-bound the bandwidths by range / min(100, 1 + components) (Optuna: true). */
  magicClip: boolean;
}

export const DEFAULT_PARZEN: ParzenOptions = { priorWeight: 1, magicClip: true };

export type Parzen =
  | {
      kind: 'numeric';
      dim: Dimension;
      lo: number;
      hi: number;
      weights: Float64Array;
      mus: Float64Array;
      sigmas: Float64Array;
      /** ln weight − ln(truncation mass) per component (the part of the log density that does not depend on x). */
      logNorm: Float64Array;
    }
  | { kind: 'categorical'; dim: Dimension; probs: Float64Array };

/**
 * Builds the estimator of one dimension from observations (internal coordinates; categoricals: choice
 * indices) and their weights (any positive scale; normalised here together with the prior).
 */
export function buildParzen(
  dim: Dimension,
  observations: readonly number[],
  obsWeights: readonly number[],
  opts: ParzenOptions = DEFAULT_PARZEN,
): Parzen {
  const n = observations.length;
  if (dim.type === 'categorical') {
    const k = dim.high + 1;
    const probs = new Float64Array(k);
    let total = opts.priorWeight;
    for (let c = 0; c < k; c++) probs[c] = opts.priorWeight / k; // the uniform prior kernel
    for (let i = 0; i < n; i++) {
      const w = obsWeights[i];
      total += w;
      // Kernel of one observation: (onehot + priorWeight / k) / (1 + priorWeight).
      for (let c = 0; c < k; c++) probs[c] += (w * opts.priorWeight) / k / (1 + opts.priorWeight);
      probs[observations[i]] += w / (1 + opts.priorWeight);
    }
    for (let c = 0; c < k; c++) probs[c] /= total;
    return { kind: 'categorical', dim, probs };
  }
  const [lo, hi] = internalBounds(dim);
  const range = hi - lo;
  const mus = new Float64Array(n + 1);
  const sigmas = new Float64Array(n + 1);
  const weights = new Float64Array(n + 1);
  if (n > 0) {
    const idx = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => observations[a] - observations[b] || a - b,
    );
    const sorted = idx.map((i) => observations[i]);
    const withEnds = [lo, ...sorted, hi];
    for (let r = 0; r < n; r++) {
      let s = Math.max(withEnds[r + 1] - withEnds[r], withEnds[r + 2] - withEnds[r + 1]);
      // consider_endpoints = false: the outermost observations take the distance to their inner neighbour.
      if (n >= 2 && r === 0) s = withEnds[2] - withEnds[1];
      if (n >= 2 && r === n - 1) s = withEnds[n] - withEnds[n - 1];
      mus[idx[r]] = sorted[r];
      sigmas[idx[r]] = s;
    }
  }
  mus[n] = 0.5 * (lo + hi);
  sigmas[n] = range;
  const minSigma = opts.magicClip ? range / Math.min(100, 1 + (n + 1)) : range * 1e-12;
  for (let i = 0; i <= n; i++) sigmas[i] = Math.min(range, Math.max(minSigma, sigmas[i]));
  let total = opts.priorWeight;
  for (let i = 0; i < n; i++) total += obsWeights[i];
  for (let i = 0; i < n; i++) weights[i] = obsWeights[i] / total;
  weights[n] = opts.priorWeight / total;
  const logNorm = new Float64Array(n + 1);
  for (let i = 0; i <= n; i++)
    logNorm[i] = Math.log(weights[i]) - logNormMass((lo - mus[i]) / sigmas[i], (hi - mus[i]) / sigmas[i]);
  return { kind: 'numeric', dim, lo, hi, weights, mus, sigmas, logNorm };
}

function pickComponent(weights: Float64Array, u: number): number {
  let acc = 0;
  for (let i = 0; i < weights.length; i++) {
    acc += weights[i];
    if (u < acc) return i;
  }
  return weights.length - 1;
}

/** `count` draws (internal coordinates; categoricals: choice indices). */
export function sampleParzen(p: Parzen, count: number, rng: Rng): number[] {
  const out: number[] = [];
  for (let s = 0; s < count; s++) {
    if (p.kind === 'categorical') out.push(pickComponent(p.probs, rng.uniform()));
    else {
      const k = pickComponent(p.weights, rng.uniform());
      out.push(truncNormSample(rng.uniform(), p.mus[k], p.sigmas[k], p.lo, p.hi));
    }
  }
  return out;
}

function logSumExp(xs: Float64Array): number {
  let m = Number.NEGATIVE_INFINITY;
  for (const x of xs) if (x > m) m = x;
  if (m === Number.NEGATIVE_INFINITY) return m;
  let s = 0;
  for (const x of xs) s += Math.exp(x - m);
  return m + Math.log(s);
}

/**
 * The value logPdfParzen scores x by on a discrete dimension (the integer x rounds to, the choice index), so
 * equal keys have equal log densities; null on a continuous dimension (every x its own density).
 */
export function cellKey(dim: Dimension, x: number): number | null {
  if (dim.type === 'categorical') return Math.round(x);
  if (dim.integer) return Math.round(dim.log ? Math.exp(x) : x);
  return null;
}

/**
 * ln of the density at x (internal coordinate) — for integer dimensions ln of the probability of x's cell
 * (x is rounded to its value first), for categoricals ln of the choice's probability.
 */
export function logPdfParzen(p: Parzen, x: number): number {
  if (p.kind === 'categorical') return Math.log(p.probs[Math.round(x)]);
  const d = p.dim;
  const terms = new Float64Array(p.weights.length);
  if (d.integer) {
    const v = Math.round(d.log ? Math.exp(x) : x);
    const [a0, b0] = internalCell(d, v);
    const a = Math.max(a0, p.lo);
    const b = Math.min(b0, p.hi);
    for (let k = 0; k < terms.length; k++)
      terms[k] = p.logNorm[k] + logNormMass((a - p.mus[k]) / p.sigmas[k], (b - p.mus[k]) / p.sigmas[k]);
  } else {
    for (let k = 0; k < terms.length; k++) {
      const z = (x - p.mus[k]) / p.sigmas[k];
      terms[k] = p.logNorm[k] - 0.5 * z * z - LOG_SQRT_2PI - Math.log(p.sigmas[k]);
    }
  }
  return logSumExp(terms);
}
