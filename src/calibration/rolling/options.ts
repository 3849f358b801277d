/**
 * The rolling calibrator's settings: the options a caller gives, their defaults and their validation, and the
 * resolved settings the calibrator's parts work from (markout horizons sorted, the model's horizon included).
 */
import { DEFAULT_HORIZONS, type HorizonSpec, parseHorizon } from '../markout.ts';
import type { MicropriceOptions } from '../microprice.ts';
import type { ParamKey } from '../types.ts';
import { type RegimeOptions, type RegimeSpec, resolveRegimeSpec } from './regimes.ts';

export interface RollingCalibratorOptions {
  coin: string;
  /** Window in data time (ms), gaps excluded from the observed time. Default 30 min; Infinity = all data. */
  windowMs?: number;
  /** Minimum data time between two emitted sets in maybeRefresh (ms). Default 15 s. */
  refreshMs?: number;
  /** Markout horizon whose ε feeds the model (ms). Default 1000. */
  markoutHorizonMs?: number;
  /**
   * Markout horizons reported ('next', '1s', …). Default next, 1s, 5s, 30s (+ the model's horizon); [] = the
   * model's horizon alone (a strategy's feed: the other horizons cost work per MO and per refresh that only
   * a report reads).
   */
  horizons?: string[];
  /**
   * Jackknife block length (ms). Default max(60 s, 4 × the longest reported horizon): longer than every
   * horizon, so blocks are nearly independent. A feed that reports fewer horizons passes
   * defaultBlockMs(modelHorizon) to keep the standard errors of the default report.
   */
  blockMs?: number;
  /** Fallback values when there has never been a good estimate for a parameter. */
  priors?: Partial<Record<ParamKey, number>>;
  /** Sanity bounds [min, max]: a fresh value outside is clamped and flagged. */
  bounds?: Partial<Record<ParamKey, [number, number]>>;
  /** EWMA half-life of the emitted values in data time (ms); undefined = no smoothing. */
  ewmaHalfLife?: number;
  /** Price grid; inferred from the first quotes when omitted. */
  tick?: number;
  /** σ sampling grid (ms). Default 1000. */
  gridMs?: number;
  /** A quote older than this (ms) no longer gives "the mid": the feed is treated as stale. Default 30 s. */
  staleQuoteMs?: number;
  /** Below this many MOs on a side, that side's parameters are "insufficient data". Default 30. */
  minMosPerSide?: number;
  /** Below this much observed time (s) the whole window is "insufficient data". Default 60. */
  minObservedSec?: number;
  /** Which feed gives the mid: the bbo feed when present ('auto'), else the book. */
  quoteSource?: 'auto' | 'bbo' | 'book';
  /** Data time after which pending MOs are resolved even if no later quote came (ms). Default 5000 (> the
   * receive-latency spread between channels, ~1 s on Hyperliquid). */
  settleMs?: number;
  /** Track imbalance regimes and estimate the regime model (result key `regimes`). Default: off. */
  regimes?: RegimeOptions;
  /** Estimate the micro-price on the same window (result key `microprice`). Default: off. */
  microprice?: Omit<MicropriceOptions, 'tick' | 'windowMs' | 'staleMs'>;
}

/** Options with defaults applied and checked. */
export interface RollingSettings {
  windowMs: number;
  refreshMs: number;
  /** Markout horizon whose ε feeds the model (ms). */
  modelHorizon: number;
  /** Reported horizons: 'next' first, then ascending; always includes the model's horizon. */
  horizons: HorizonSpec[];
  /** Index of the model's horizon in `horizons`. */
  modelHorizonIdx: number;
  priors: Partial<Record<ParamKey, number>>;
  bounds: Partial<Record<ParamKey, [number, number]>>;
  ewmaHalfLife: number | undefined;
  gridMs: number;
  staleMs: number;
  minMos: number;
  minObservedSec: number;
  settleMs: number;
  quoteSource: 'auto' | 'bbo' | 'book';
  /** NaN when it is to be inferred from the data. */
  tick: number;
  /** Jackknife block length (ms): longer than every horizon, so blocks are nearly independent. */
  blockMs: number;
  regimes: RegimeSpec | undefined;
  microprice: Omit<MicropriceOptions, 'tick' | 'windowMs' | 'staleMs'> | undefined;
}

/** Applies the defaults and refuses bad values with a RangeError naming the option. */
export function resolveRollingOptions(opts: RollingCalibratorOptions): RollingSettings {
  if (!opts.coin) throw new RangeError('RollingCalibrator: coin is required');
  const windowMs = opts.windowMs ?? 30 * 60_000;
  const refreshMs = opts.refreshMs ?? 15_000;
  const modelHorizon = opts.markoutHorizonMs ?? 1000;
  const gridMs = opts.gridMs ?? 1000;
  const staleMs = opts.staleQuoteMs ?? 30_000;
  for (const [name, v] of [
    ['windowMs', windowMs],
    ['refreshMs', refreshMs],
    ['markoutHorizonMs', modelHorizon],
    ['gridMs', gridMs],
    ['staleQuoteMs', staleMs],
  ] as const) {
    if (!(v > 0)) throw new RangeError(`RollingCalibrator: ${name} must be > 0 (got ${v})`);
  }
  const ewmaHalfLife = opts.ewmaHalfLife;
  if (ewmaHalfLife !== undefined && !(ewmaHalfLife > 0))
    throw new RangeError('RollingCalibrator: ewmaHalfLife must be > 0 ms when given');
  const bounds = opts.bounds ?? {};
  for (const [k, b] of Object.entries(bounds)) {
    if (!b || !(b[0] <= b[1]))
      throw new RangeError(`RollingCalibrator: bounds.${k} must be [min, max] with min ≤ max`);
  }
  const horizons = (opts.horizons ?? DEFAULT_HORIZONS).map(parseHorizon);
  if (!horizons.some((h) => !h.next && h.ms === modelHorizon)) {
    horizons.push({ label: formatMs(modelHorizon), ms: modelHorizon, next: false });
  }
  horizons.sort((a, b) => (a.next ? -1 : b.next ? 1 : a.ms - b.ms));
  if (opts.blockMs !== undefined && !(opts.blockMs > 0 && Number.isFinite(opts.blockMs)))
    throw new RangeError(`RollingCalibrator: blockMs must be > 0 (got ${opts.blockMs})`);
  const tick = opts.tick ?? Number.NaN;
  if (opts.tick !== undefined && !(opts.tick > 0))
    throw new RangeError('RollingCalibrator: tick must be > 0');
  return {
    windowMs,
    refreshMs,
    modelHorizon,
    horizons,
    modelHorizonIdx: horizons.findIndex((h) => !h.next && h.ms === modelHorizon),
    priors: opts.priors ?? {},
    bounds,
    ewmaHalfLife,
    gridMs,
    staleMs,
    minMos: opts.minMosPerSide ?? 30,
    minObservedSec: opts.minObservedSec ?? 60,
    settleMs: opts.settleMs ?? 5000,
    quoteSource: opts.quoteSource ?? 'auto',
    tick,
    blockMs: opts.blockMs ?? blockMsFor(horizons),
    regimes: opts.regimes ? resolveRegimeSpec(opts.regimes) : undefined,
    microprice: opts.microprice,
  };
}

function blockMsFor(horizons: HorizonSpec[]): number {
  return Math.max(60_000, 4 * Math.max(...horizons.map((h) => h.ms)));
}

/** The jackknife block length of the default horizons with this model horizon (ms). */
export function defaultBlockMs(markoutHorizonMs = 1000): number {
  return blockMsFor([
    ...DEFAULT_HORIZONS.map(parseHorizon),
    { label: '', ms: markoutHorizonMs, next: false },
  ]);
}

function formatMs(ms: number): string {
  if (ms % 60_000 === 0) return `${ms / 60_000}m`;
  if (ms % 1000 === 0) return `${ms / 1000}s`;
  return `${ms}ms`;
}
