/**
 * One refresh: from the window's sufficient statistics to a CalibrationResult, in named steps —
 * exposure → λ±, κ± and the depth fit per side → drift-corrected markouts and ε± → σ → validity and sanity
 * bounds → fresh / last-good / prior per parameter (EWMA-smoothed if asked) → flags and the result.
 * Estimators: docs/calibration.md.
 */
import { driftEstimate, shrinkFactor } from '../../model/drift.ts';
import { fitSideDepthModel, type SideDepthModel } from '../depth-model.ts';
import { fitKappaGeometric, fitLambda, geometricGoodnessOfFit } from '../intensity.ts';
import type { CalibrationResult, DepthFit, DriftReport, MarkoutEstimate, ParamKey } from '../types.ts';
import { PARAM_KEYS } from '../types.ts';
import { type ExposureSeconds, exposureSeconds } from './exposure.ts';
import type { MarkoutTracker } from './markout-tracker.ts';
import type { MidGrid } from './mid-grid.ts';
import type { RollingSettings } from './options.ts';
import { type DataCounters, dataQualityFlags, seriousFlags } from './quality.ts';
import type { SideStats } from './side-stats.ts';

type Source = CalibrationResult['source'];
type Side = 'plus' | 'minus';

/** What one refresh reads: the window's statistics at `nowEx`. */
export interface WindowState {
  coin: string;
  nowEx: number;
  windowStart: number;
  firstQuoteT: number;
  tick: number;
  quantum: number;
  /** Mid of the last quote in quanta (NaN when unusable). */
  lastMidQ: number;
  /** Ms of usable quotes per spread bin inside the window (Exposure.snapshot). */
  exposureMs: Float64Array;
  sides: { plus: SideStats; minus: SideStats };
  grid: MidGrid;
  gridSec: number;
  markouts: MarkoutTracker;
  counters: DataCounters;
  mosWithoutQuote: number;
}

/** What refreshes remember: the last emitted set (for EWMA smoothing) and each parameter's last good value. */
export class RefreshMemory {
  emitted: CalibrationResult | undefined;
  readonly lastGood: Partial<Record<ParamKey, { v: number; se: number }>> = {};
}

/** This window's own estimates: values, standard errors, which are unusable, and the flags raised. */
class FreshEstimates {
  readonly value = {} as Record<ParamKey, number>;
  readonly se = {} as Record<ParamKey, number>;
  readonly unusable = new Set<ParamKey>();
  readonly flags: string[] = [];

  set(k: ParamKey, value: number, se: number): void {
    this.value[k] = value;
    this.se[k] = se;
  }
}

export interface RefreshOutcome {
  /** undefined when some parameter has no fresh value, last good value or prior. */
  result: CalibrationResult | undefined;
  /** Flags of this attempt (with `no-value:<key>` for each missing parameter). */
  flags: string[];
}

export function refreshResult(w: WindowState, s: RollingSettings, mem: RefreshMemory): RefreshOutcome {
  const exposure = exposureSeconds(w.exposureMs, w.tick);
  const est = new FreshEstimates();
  if (exposure.observedSec < s.minObservedSec) {
    est.flags.push('insufficient-data:window');
    for (const k of PARAM_KEYS) est.unusable.add(k);
  }
  const fit = {
    plus: estimateSide(est, 'plus', w.sides.plus, exposure, w.tick, s.minMos),
    minus: estimateSide(est, 'minus', w.sides.minus, exposure, w.tick, s.minMos),
  };
  const midDrift = w.grid.drift(w.quantum);
  const markouts = w.markouts.estimates(midDrift, w.gridSec);
  const mm = markouts[s.modelHorizonIdx];
  estimateEpsilon(est, mm, s.minMos);
  estimateSigma(est, w.grid, w.quantum);
  rejectInvalid(est);
  clampToBounds(est, s.bounds);
  const chosen = chooseValues(est, mem, s, w.nowEx);
  const flags = est.flags;
  flags.push(...dataQualityFlags(w.counters, w.mosWithoutQuote));
  if (chosen.missing.length > 0) {
    return { result: undefined, flags: [...flags, ...chosen.missing.map((k) => `no-value:${k}`)] };
  }
  for (const k of PARAM_KEYS) {
    if (!est.unusable.has(k)) mem.lastGood[k] = { v: chosen.values[k], se: chosen.stderr[k] };
  }
  const result = assemble(w, s, exposure, chosen, markouts, fit, flags);
  result.depthModel = {
    plus: depthModel(w, s, exposure, 'plus', flags),
    minus: depthModel(w, s, exposure, 'minus', flags),
  };
  result.drift = driftReport(chosen, est, mm, midDrift.drift, midDrift.driftSe);
  mem.emitted = result;
  return { result, flags };
}

/** λ, κ (geometric MLE over ticks beyond the touch), the MO rate and the χ² depth fit of one side. */
function estimateSide(
  est: FreshEstimates,
  side: Side,
  S: SideStats,
  exposure: ExposureSeconds,
  tick: number,
  minMos: number,
): DepthFit {
  const suffix = side === 'plus' ? 'Plus' : 'Minus';
  const kKey = `kappa${suffix}` as ParamKey;
  const lKey = `lambda${suffix}` as ParamKey;
  const rKey = `moRate${suffix}` as ParamKey;
  const eKey = `epsilon${suffix}` as ParamKey;
  const { observedSec } = exposure;
  const kf = fitKappaGeometric(S.n, S.sumK, tick);
  const lf = fitLambda(S.n, exposure.halfSpreads, exposure.seconds, kf.kappa, kf.stderr);
  est.set(kKey, kf.kappa, kf.stderr);
  est.set(lKey, lf.lambda, lf.stderr);
  est.set(
    rKey,
    observedSec > 0 ? S.n / observedSec : Number.NaN,
    observedSec > 0 ? Math.sqrt(S.n) / observedSec : Number.NaN,
  );
  const histogram = S.histogram();
  const gof = geometricGoodnessOfFit(histogram, kf.q, true);
  if (S.n < minMos) {
    est.flags.push(`insufficient-data:${side}`);
    for (const k of [kKey, lKey, rKey, eKey]) est.unusable.add(k);
  } else if (!(S.sumK > 0)) {
    est.flags.push(`kappa-unidentified:${side}`);
    est.unusable.add(kKey);
    est.unusable.add(lKey);
  } else if (gof.pValue < 0.001) est.flags.push(`depth-misfit:${side}`);
  if (S.n > 0 && S.insideTouch > 0.05 * S.n) est.flags.push(`inside-touch-fills:${side}`);
  return { chi2: gof.chi2, df: gof.df, pValue: gof.pValue, histogram };
}

/** ε± = the drift-corrected markout at the model's horizon; too few markouts on a side make it unusable. */
function estimateEpsilon(est: FreshEstimates, mm: MarkoutEstimate, minMos: number): void {
  est.set('epsilonPlus', mm.plus.mean, mm.plus.stderr);
  est.set('epsilonMinus', mm.minus.mean, mm.minus.stderr);
  for (const side of ['plus', 'minus'] as const) {
    const key = side === 'plus' ? 'epsilonPlus' : 'epsilonMinus';
    if (mm[side].n < minMos && !est.flags.includes(`insufficient-data:${side}`)) {
      est.flags.push(`insufficient-markouts:${side}`);
      est.unusable.add(key);
    }
  }
}

/** σ: variance of the grid increments per second (jumps included). */
function estimateSigma(est: FreshEstimates, grid: MidGrid, quantum: number): void {
  const s = grid.sigma(quantum);
  if (s) {
    est.set('sigma', s.sigma, s.stderr);
    return;
  }
  est.set('sigma', Number.NaN, Number.NaN);
  est.flags.push('insufficient-data:sigma');
  est.unusable.add('sigma');
}

/** Values that are not finite (or not positive where they must be), or lack a finite SE, are unusable. */
function rejectInvalid(est: FreshEstimates): void {
  for (const k of PARAM_KEYS) {
    const v = est.value[k];
    const mustBePositive = !k.startsWith('epsilon');
    if (!Number.isFinite(v) || (mustBePositive && !(v > 0)) || !Number.isFinite(est.se[k]))
      est.unusable.add(k);
  }
}

/** Sanity bounds: a usable fresh value outside [min, max] is clamped and flagged `bound:<key>`. */
function clampToBounds(est: FreshEstimates, bounds: RollingSettings['bounds']): void {
  for (const k of PARAM_KEYS) {
    const b = bounds[k];
    if (!b || est.unusable.has(k)) continue;
    if (est.value[k] < b[0] || est.value[k] > b[1]) {
      est.value[k] = Math.min(b[1], Math.max(b[0], est.value[k]));
      est.flags.push(`bound:${k}`);
    }
  }
}

interface Chosen {
  values: Record<ParamKey, number>;
  stderr: Record<ParamKey, number>;
  source: Source;
  missing: ParamKey[];
}

/** Per parameter: the fresh value where usable (EWMA-smoothed if asked), else the last good value, else the prior. */
function chooseValues(est: FreshEstimates, mem: RefreshMemory, s: RollingSettings, nowEx: number): Chosen {
  const values = {} as Record<ParamKey, number>;
  const stderr = {} as Record<ParamKey, number>;
  let source: Source = 'fresh';
  const prev = mem.emitted;
  const w =
    s.ewmaHalfLife !== undefined && prev !== undefined && nowEx > prev.at
      ? 1 - 2 ** (-(nowEx - prev.at) / s.ewmaHalfLife)
      : 1;
  const missing: ParamKey[] = [];
  for (const k of PARAM_KEYS) {
    if (!est.unusable.has(k)) {
      values[k] = prev !== undefined && w < 1 ? prev[k] + w * (est.value[k] - prev[k]) : est.value[k];
      stderr[k] = est.se[k];
      continue;
    }
    const lg = mem.lastGood[k];
    if (lg) {
      values[k] = lg.v;
      stderr[k] = lg.se;
      if (source === 'fresh') source = 'last-good';
      continue;
    }
    const p = s.priors[k];
    if (p !== undefined && Number.isFinite(p)) {
      values[k] = p;
      stderr[k] = Math.abs(p); // a prior is known only to its order of magnitude
      source = 'prior';
      continue;
    }
    missing.push(k);
  }
  return { values, stderr, source, missing };
}

/** The emitted set (key order is part of the JSON contract). */
function assemble(
  w: WindowState,
  s: RollingSettings,
  exposure: ExposureSeconds,
  chosen: Chosen,
  markouts: MarkoutEstimate[],
  fit: { plus: DepthFit; minus: DepthFit },
  flags: string[],
): CalibrationResult {
  const { values, stderr, source } = chosen;
  const { observedSec } = exposure;
  const mm = markouts[s.modelHorizonIdx];
  const start = Number.isFinite(w.windowStart) ? Math.max(w.windowStart, w.firstQuoteT) : w.firstQuoteT;
  const result: CalibrationResult = {
    coin: w.coin,
    at: w.nowEx,
    ...values,
    window: { start, end: w.nowEx, observedSec },
    stderr,
    samples: sampleCounts(w, mm),
    markouts,
    spread: {
      tick: w.tick,
      fracAtOneTick: observedSec > 0 ? exposure.seconds[1] / observedSec : 0,
      meanHalfSpread: observedSec > 0 ? exposure.weightedHalf / observedSec : 0,
    },
    toxicityPlus: values.kappaPlus * values.epsilonPlus,
    toxicityMinus: values.kappaMinus * values.epsilonMinus,
    source,
    quality: { ok: source === 'fresh' && seriousFlags(flags).length === 0, flags },
    fit,
    markoutHorizon: s.horizons[s.modelHorizonIdx].label,
  };
  if (!Number.isNaN(w.lastMidQ)) result.mid = Number((w.lastMidQ * w.quantum).toFixed(12));
  return result;
}

/** Exponential vs two-part depth model of one side on the MOs that met a one-tick book. */
function depthModel(
  w: WindowState,
  s: RollingSettings,
  exposure: ExposureSeconds,
  side: Side,
  flags: string[],
): SideDepthModel {
  const S = w.sides[side];
  return fitSideDepthModel({
    n: S.nOneTick,
    sumK: S.sumKOneTick,
    hist: S.histogramOneTick(),
    seconds: exposure.seconds[1],
    tick: w.tick,
    misfit: flags.includes(`depth-misfit:${side}`),
    minMos: s.minMos,
  });
}

/**
 * D = λ⁺ε⁺ − λ⁻ε⁻ from the emitted values with its delta-method SE; Cov(ε⁺, ε⁻) enters only when both ε are
 * this window's own (a last-good or prior ε shares nothing with the other side's).
 */
function driftReport(
  chosen: Chosen,
  est: FreshEstimates,
  mm: MarkoutEstimate,
  observed: number,
  observedStderr: number,
): DriftReport {
  const freshEps = !est.unusable.has('epsilonPlus') && !est.unusable.has('epsilonMinus');
  const cov = freshEps && mm.covariance !== undefined && Number.isFinite(mm.covariance) ? mm.covariance : 0;
  const d = driftEstimate(chosen.values, chosen.stderr, cov);
  const k = shrinkFactor(d.value, d.stderr);
  return {
    value: d.value,
    stderr: d.stderr,
    z: d.z,
    shrinkFactor: k,
    shrunk: d.value * k,
    observed,
    observedStderr,
  };
}

function sampleCounts(w: WindowState, mm: MarkoutEstimate): Record<string, number> {
  const P = w.sides.plus;
  const M = w.sides.minus;
  const c = w.counters;
  return {
    mosPlus: P.n,
    mosMinus: M.n,
    fillsPlus: P.fills,
    fillsMinus: M.fills,
    fillsPerMoPlus: P.n > 0 ? P.fills / P.n : 0,
    fillsPerMoMinus: M.n > 0 ? M.fills / M.n : 0,
    insideTouchPlus: P.insideTouch,
    insideTouchMinus: M.insideTouch,
    mosWithoutQuote: w.mosWithoutQuote,
    sigmaIncrements: w.grid.n,
    markoutPlus: mm.plus.n,
    markoutMinus: mm.minus.n,
    quotesSeen: c.quotes,
    tradesSeen: c.trades,
    outOfOrder: c.outOfOrder,
    malformed: c.malformed,
    crossedQuotes: c.crossedQuotes,
    eventsInGapSkipped: c.inGapSkipped,
    otherCoinSkipped: c.otherCoin,
  };
}
