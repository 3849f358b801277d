/**
 * The depth model of a one-tick book: which MOs reach how far beyond the touch, fitted two ways on the MOs
 * that met a one-tick spread (k = whole ticks beyond the touch; docs/calibration.md, "Depth model").
 *
 * - Single exponential (geometric k): P(k) = (1 − q)q^k, q = e^{−κ·tick}; MLE q̂ = S/(n + S) (S = Σk).
 * - Two-part: a mass at the touch and a geometric tail beyond it,
 *       P(k = 0) = π0,   P(k = j) = (1 − π0)(1 − r)r^{j−1} (j ≥ 1),   r = e^{−κ_tail·tick}.
 *   The likelihood factorises: π̂0 = n0/n (binomial, SE √(π0(1 − π0)/n)), and k − 1 over the n′ = n − n0 MOs
 *   beyond the touch is geometric: r̂ = S′/(n′ + S′), S′ = S − n′, κ̂_tail = ln(1 + n′/S′)/tick with the
 *   Fisher SE (1 − r̂)/(tick√(n′r̂)). The two-part model nests the exponential (π0 = 1 − r).
 * - Touch rate Λ0 = n / (seconds at one tick), Poisson SE √n / seconds: MOs per second that reach the touch
 *   of a one-tick book. With the two-part model the fill rate of a quote j ticks beyond the touch is
 *   Λ_j = Λ0 (j = 0), Λ0(1 − π0)r^{j−1} (j ≥ 1): the `levels` fill curve of src/model/fill-rate.ts.
 * - Empirical Λ(δ) per level: Λ̂_j = #(k ≥ j)/seconds with Poisson SEs, reported for comparison.
 *
 * Which model the quotes use: the two-part model where the χ² test rejects the single exponential
 * (p < 0.001, the `depth-misfit` flag) AND the two-part model has the lower AIC (2·params − 2 ln L) on the
 * one-tick MOs; otherwise the exponential. The likelihood-ratio statistic 2(ℓ₂ − ℓ₁) and its χ²₁ p-value are
 * reported alongside.
 */
import { chiSquareSurvival, powers } from './intensity.ts';

export interface ExponentialDepthFit {
  /** MOs used (one-tick book). */
  n: number;
  kappa: number;
  kappaStderr: number;
  logLik: number;
  aic: number;
  chi2: number;
  df: number;
  pValue: number;
}

export interface TwoPartDepthFit {
  n: number;
  /** Λ0: MOs per second reaching the touch of a one-tick book (1/s). */
  touchRate: number;
  touchRateStderr: number;
  /** π0: share of those MOs that stop at the touch. */
  touchShare: number;
  touchShareStderr: number;
  /** Decay of the reach beyond the first level (1/price). */
  kappaTail: number;
  kappaTailStderr: number;
  logLik: number;
  aic: number;
  chi2: number;
  df: number;
  pValue: number;
}

/** Empirical rate of MOs reaching `ticks` levels beyond the touch of a one-tick book. */
export interface DepthLevel {
  ticks: number;
  /** 1/s */
  rate: number;
  stderr: number;
  mos: number;
}

export interface SideDepthModel {
  /** The model the quotes use on this side. */
  use: 'exponential' | 'two-part';
  /** MOs that met a one-tick book, and the seconds spent at one tick. */
  n: number;
  seconds: number;
  exponential: ExponentialDepthFit | null;
  twoPart: TwoPartDepthFit | null;
  /** 2(ℓ_two-part − ℓ_exponential) and its χ²₁ p-value (NaN when either fit is missing). */
  likelihoodRatio: number;
  lrPValue: number;
  levels: DepthLevel[];
}

export interface DepthModelInput {
  /** One-tick MOs: count, Σk, histogram of k (last entry open: "that many or more"). */
  n: number;
  sumK: number;
  hist: ArrayLike<number>;
  /** Seconds observed at a one-tick spread. */
  seconds: number;
  tick: number;
  /** The χ² test of the (all-spread) exponential fit rejected it on this side (`depth-misfit`). */
  misfit: boolean;
  /** Fewer one-tick MOs than this: the two-part model is not fitted. */
  minMos: number;
}

/** Most levels reported in `levels`. */
const MAX_LEVELS = 10;

const xlogy = (x: number, y: number) => (x === 0 ? 0 : x * Math.log(y));

export function fitSideDepthModel(d: DepthModelInput): SideDepthModel {
  const exponential = fitExponential(d);
  const twoPart = d.n >= d.minMos ? fitTwoPart(d) : null;
  const lr = exponential && twoPart ? Math.max(0, 2 * (twoPart.logLik - exponential.logLik)) : Number.NaN;
  const use =
    d.misfit && exponential && twoPart && twoPart.aic < exponential.aic ? 'two-part' : 'exponential';
  return {
    use,
    n: d.n,
    seconds: d.seconds,
    exponential,
    twoPart,
    likelihoodRatio: lr,
    lrPValue: Number.isFinite(lr) ? chiSquareSurvival(lr, 1) : Number.NaN,
    levels: empiricalLevels(d),
  };
}

function fitExponential(d: DepthModelInput): ExponentialDepthFit | null {
  const { n, sumK: S, tick } = d;
  if (!(n > 0 && S > 0)) return null;
  const q = S / (n + S);
  const logLik = xlogy(n, 1 - q) + xlogy(S, q);
  const qk = powers(q, d.hist.length);
  const gof = pearsonGoodnessOfFit(
    d.hist,
    (k) => (1 - q) * qk[k],
    (k) => qk[k],
    1,
  );
  return {
    n,
    kappa: Math.log1p(n / S) / tick,
    kappaStderr: (1 - q) / (tick * Math.sqrt(n * q)),
    logLik,
    aic: 2 - 2 * logLik,
    ...gof,
  };
}

function fitTwoPart(d: DepthModelInput): TwoPartDepthFit | null {
  const { n, tick } = d;
  const n0 = d.hist.length > 0 ? d.hist[0] : 0;
  const nBeyond = n - n0;
  const sTail = d.sumK - nBeyond;
  if (!(nBeyond > 0 && sTail > 0 && d.seconds > 0)) return null;
  const pi0 = n0 / n;
  const r = sTail / (nBeyond + sTail);
  const logLik = xlogy(n0, pi0) + xlogy(nBeyond, 1 - pi0) + xlogy(nBeyond, 1 - r) + xlogy(sTail, r);
  const rk = powers(r, d.hist.length);
  const gof = pearsonGoodnessOfFit(
    d.hist,
    (k) => (k === 0 ? pi0 : (1 - pi0) * (1 - r) * rk[k - 1]),
    (k) => (k === 0 ? 1 : (1 - pi0) * rk[k - 1]),
    2,
  );
  return {
    n,
    touchRate: n / d.seconds,
    touchRateStderr: Math.sqrt(n) / d.seconds,
    touchShare: pi0,
    touchShareStderr: Math.sqrt((pi0 * (1 - pi0)) / n),
    kappaTail: Math.log1p(nBeyond / sTail) / tick,
    kappaTailStderr: (1 - r) / (tick * Math.sqrt(nBeyond * r)),
    logLik,
    aic: 4 - 2 * logLik,
    ...gof,
  };
}

function empiricalLevels(d: DepthModelInput): DepthLevel[] {
  const out: DepthLevel[] = [];
  if (!(d.seconds > 0)) return out;
  let atLeast = d.n;
  for (let j = 0; j < Math.min(d.hist.length, MAX_LEVELS) && atLeast > 0; j++) {
    out.push({ ticks: j, rate: atLeast / d.seconds, stderr: Math.sqrt(atLeast) / d.seconds, mos: atLeast });
    atLeast -= d.hist[j];
  }
  return out;
}

/**
 * Pearson χ² of a histogram of k (last entry an open "≥ last" bin) against a fitted distribution with
 * probabilities pmf(k) and survival P(K ≥ k) = tail(k), bins merged until each expects ≥ 5 (as
 * geometricGoodnessOfFit does), df = bins − 1 − `fitted`. pValue NaN when df < 1.
 */
export function pearsonGoodnessOfFit(
  hist: ArrayLike<number>,
  pmf: (k: number) => number,
  tail: (k: number) => number,
  fitted: number,
): { chi2: number; df: number; pValue: number } {
  let n = 0;
  for (let i = 0; i < hist.length; i++) n += hist[i];
  if (!(n > 0)) return { chi2: Number.NaN, df: 0, pValue: Number.NaN };
  const last = hist.length - 1;
  // The bins are summed as they close, in order, with no list: every bin but the last two is final when the
  // next one closes; the last (closed at k = last) may still be folded into the one before it.
  let bins = 0;
  let chi2 = 0;
  let prevObs = 0; // the bin before the current last one (when bins ≥ 1 before it)
  let prevExp = 0;
  let obs = 0;
  let exp = 0;
  for (let k = 0; k <= last; k++) {
    obs += hist[k];
    exp += n * (k === last ? tail(k) : pmf(k));
    const rest = n * tail(k + 1);
    if (k === last) break;
    if (exp >= 5 && rest >= 5) {
      if (bins > 0) chi2 += chiTerm(prevObs, prevExp);
      prevObs = obs;
      prevExp = exp;
      bins++;
      obs = 0;
      exp = 0;
    }
  }
  // (obs, exp) is the bin closed at k = last; one expecting < 5 is folded into its neighbour.
  if (bins > 0 && exp < 5) chi2 += chiTerm(prevObs + obs, prevExp + exp);
  else {
    if (bins > 0) chi2 += chiTerm(prevObs, prevExp);
    chi2 += chiTerm(obs, exp);
    bins++;
  }
  const df = bins - 1 - fitted;
  return { chi2, df, pValue: df >= 1 ? chiSquareSurvival(chi2, df) : Number.NaN };
}

/** One bin's Pearson term. */
function chiTerm(observed: number, expected: number): number {
  return ((observed - expected) * (observed - expected)) / expected;
}
