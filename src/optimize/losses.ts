/**
 * Loss functions (lower is better) of a market-making backtest, and custom loss modules.
 * Built in:
 *   pnl      −netPnl (USD)
 *   sharpe   −Sharpe of the P&L increments per minute of exchange time, annualised × √525600 (metrics.sharpe)
 *   sortino  −Sortino of the same per-minute increments: mean / √(mean of min(0, x)²) × √525600; when no
 *            minute lost money it is capped at SORTINO_CAP (0 when the mean is ≤ 0 too)
 *   calmar   −(netPnl annualised linearly over the simulated time) / max(maxDrawdown, 0.01 USD)
 *   pnl-dd   −netPnl + maxDrawdown + timeAtBounds.total × (|netPnl| + maxDrawdown): the drawdown counts once
 *            against the P&L, and the fraction of time pinned at an inventory bound forfeits that share of it
 * A custom loss is a module exporting `loss(metrics, info): number` (or a default export of that function),
 * like freqtrade's IHyperOptLoss; `metrics` has the keys of `cjmm backtest --json`'s metrics.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { BacktestMetrics, SeriesPoint } from '../backtest/metrics.ts';
import type { Params } from './space.ts';

export const BUILTIN_LOSSES = ['pnl', 'sharpe', 'sortino', 'calmar', 'pnl-dd'] as const;
export type BuiltinLoss = (typeof BUILTIN_LOSSES)[number];

export const SORTINO_CAP = 1e4;
const MINUTES_PER_YEAR = 525_600;

/** What a loss sees besides the metrics. */
export interface LossInfo {
  /** P&L increments per whole minute of exchange time (the series Sharpe and Sortino use), USD. */
  minutePnl: number[];
  /** The epoch's parameters. */
  params: Params;
  /** Fraction of the tape replayed (1 at the end; less at a pruning checkpoint). */
  fraction: number;
}

export type LossFunction = (metrics: BacktestMetrics, info: LossInfo) => number;

/**
 * Per-minute P&L increments from a series sampled every `sampleMs` (a divisor of 60 s) from the start of the
 * replay: the equity at each whole minute is series[m · 60000/sampleMs] (the replay's last sample, taken at
 * the end, is left out — as the Sharpe ratio leaves out the last partial minute).
 */
export function minutePnl(
  series: readonly Pick<SeriesPoint, 'pnl'>[],
  sampleMs: number,
  final: boolean,
): number[] {
  const r = Math.round(60_000 / sampleMs);
  const samples = final ? series.length - 1 : series.length; // the last point of a finished run is the close
  const out: number[] = [];
  for (let m = 1; m * r < samples; m++) out.push(series[m * r].pnl - series[(m - 1) * r].pnl);
  return out;
}

/** Annualised Sortino ratio of per-minute increments (downside deviation around 0). */
export function sortino(inc: readonly number[]): number {
  if (inc.length < 2) return 0;
  let sum = 0;
  let down = 0;
  for (const x of inc) {
    sum += x;
    if (x < 0) down += x * x;
  }
  const mean = sum / inc.length;
  const dd = Math.sqrt(down / inc.length);
  if (dd === 0) return mean > 0 ? SORTINO_CAP : 0;
  return Math.min(SORTINO_CAP, (mean / dd) * Math.sqrt(MINUTES_PER_YEAR));
}

/** Calmar ratio: P&L per year (linear extrapolation of the simulated time) over the max drawdown (≥ 1 cent). */
export function calmar(m: BacktestMetrics): number {
  if (!(m.durationSec > 0)) return 0;
  const perYear = (m.netPnl * (MINUTES_PER_YEAR * 60)) / m.durationSec;
  return perYear / Math.max(m.maxDrawdown, 0.01);
}

export function builtinLoss(name: BuiltinLoss): LossFunction {
  switch (name) {
    case 'pnl':
      return (m) => -m.netPnl;
    case 'sharpe':
      return (m) => -m.sharpe;
    case 'sortino':
      return (_m, info) => -sortino(info.minutePnl);
    case 'calmar':
      return (m) => -calmar(m);
    case 'pnl-dd':
      return (m) => {
        const t = m.timeAtBounds?.total ?? 0;
        return -m.netPnl + m.maxDrawdown + t * (Math.abs(m.netPnl) + m.maxDrawdown);
      };
  }
}

/** How each loss is described in output (says where per-minute sampling is used). */
export function describeLoss(spec: string): string {
  switch (spec) {
    case 'pnl':
      return 'pnl: −net P&L (USD)';
    case 'sharpe':
      return 'sharpe: −Sharpe ratio of per-minute P&L (exchange clock), annualised';
    case 'sortino':
      return 'sortino: −Sortino ratio of per-minute P&L (exchange clock), annualised';
    case 'calmar':
      return 'calmar: −(net P&L per year, extrapolated) / max drawdown';
    case 'pnl-dd':
      return 'pnl-dd: −net P&L + max drawdown + time at the inventory bound × (|net P&L| + max drawdown)';
    default:
      return `custom loss module ${spec}`;
  }
}

export function isBuiltinLoss(spec: string): spec is BuiltinLoss {
  return (BUILTIN_LOSSES as readonly string[]).includes(spec);
}

export class LossError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LossError';
  }
}

/** A loss module's absolute path (custom losses are given as a path to a .ts/.js/.mjs file). */
export function resolveLossPath(spec: string, cwd = process.cwd()): string {
  return isAbsolute(spec) ? spec : resolve(cwd, spec);
}

/** Loads a built-in loss or a custom module (absolute path); throws LossError when it is not usable. */
export async function loadLoss(spec: string): Promise<LossFunction> {
  if (isBuiltinLoss(spec)) return builtinLoss(spec);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(pathToFileURL(spec).href)) as Record<string, unknown>;
  } catch (e) {
    throw new LossError(
      `--loss ${spec}: cannot load the module (${(e as Error).message}); give one of ${BUILTIN_LOSSES.join(', ')} or a .ts module exporting loss(metrics)`,
    );
  }
  const fn = (typeof mod.loss === 'function' ? mod.loss : mod.default) as unknown;
  if (typeof fn !== 'function')
    throw new LossError(`--loss ${spec}: the module must export a function loss(metrics, info): number`);
  return fn as LossFunction;
}
