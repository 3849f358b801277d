/**
 * The tunable parameters of each strategy, keyed by the config key each sets (src/strategies/config.ts; a dotted
 * key sets a nested field, e.g. `inventoryTarget.stdLots`):
 * type, the domain the config accepts, and the default search range `cjmm hyperopt` uses when a parameter is
 * named without a range or when no `--space` is given (then the ones marked `inDefaultSpace`).
 * Ranges marked `scale: 'tick'` or `'lot'` are in ticks / lots of the instrument and are turned into price /
 * coin units once the instrument is known.
 */
import type { StrategyName } from './config.ts';

export interface Tunable {
  /** The config key it sets. */
  key: string;
  type: 'float' | 'int' | 'categorical';
  /** What it is, with units. */
  doc: string;
  /** Domain the config accepts (numeric): min (inclusive unless minExclusive), max (inclusive). */
  min?: number;
  minExclusive?: boolean;
  max?: number;
  /** Default search range and scale (numeric). */
  low?: number;
  high?: number;
  log?: boolean;
  /** The default range searches integers only (a float key usually tuned in whole steps, e.g. ticks). */
  intRange?: boolean;
  /** Categorical choices. */
  choices?: readonly string[];
  /** Default range in units of the instrument: multiply low/high by the tick (price) or the lot (size). */
  scale?: 'tick' | 'lot';
  /** Values are rounded to the instrument's size step (order sizes). */
  sizeStep?: boolean;
  /** Config keys that cannot be set together with this one: dropped from the base config when this is tuned. */
  excludes?: readonly string[];
  /** Part of the strategy's default space (no --space given). */
  inDefaultSpace?: boolean;
}

const orderSize: Tunable = {
  key: 'orderSize',
  type: 'float',
  doc: 'order size = one lot, coin units (default range 1–10 lots of the instrument; rounded to its size step)',
  min: 0,
  minExclusive: true,
  low: 1,
  high: 10,
  scale: 'lot',
  sizeStep: true,
};

const reference: Tunable = {
  key: 'reference',
  type: 'categorical',
  doc: "the price quotes are centred on: mid, Stoikov's micro-price or the size-weighted mid",
  choices: ['mid', 'microprice', 'weighted-mid'],
};

const maxPosition: Tunable = {
  key: 'maxPosition',
  type: 'int',
  doc: 'inventory bound, lots',
  min: 1,
  low: 1,
  high: 20,
};

export const TUNABLES: Record<StrategyName, readonly Tunable[]> = {
  cj: [
    {
      key: 'phi',
      type: 'float',
      doc: 'running inventory penalty φ, USD/(lot²·s)',
      min: 0,
      low: 1e-6,
      high: 1e-1,
      log: true,
      excludes: ['inventoryTarget', 'inventoryTarget.stdLots'],
      inDefaultSpace: true,
    },
    {
      key: 'inventoryTarget.stdLots',
      type: 'float',
      doc: "inventory target: RMS of the stationary inventory, lots (φ solved for it; cj's default 2)",
      min: 0,
      minExclusive: true,
      low: 0.5,
      high: 8,
      log: true,
      excludes: ['phi'],
    },
    {
      key: 'alpha',
      type: 'float',
      doc: 'terminal inventory penalty α, USD/lot² (finite horizon only)',
      min: 0,
      low: 1e-6,
      high: 1e-1,
      log: true,
    },
    {
      key: 'qMax',
      type: 'int',
      doc: 'upper inventory bound, lots',
      min: 1,
      low: 1,
      high: 20,
      inDefaultSpace: true,
    },
    {
      key: 'qMin',
      type: 'int',
      doc: 'lower inventory bound, lots (default −qMax)',
      max: -1,
      low: -20,
      high: -1,
    },
    orderSize,
    {
      key: 'horizon',
      type: 'float',
      doc: "finite horizon T, seconds (sessions end at multiples of T; the config's 'inf' is the stationary policy)",
      min: 0,
      minExclusive: true,
      low: 30,
      high: 3600,
      log: true,
    },
    {
      key: 'mode',
      type: 'categorical',
      doc: 'depth: post at the optimal depths; touch: post at the touch or not',
      choices: ['depth', 'touch'],
      inDefaultSpace: true,
    },
    {
      key: 'touchHalfSpread',
      type: 'float',
      doc: 'touch mode: the half-spread Δ/2 the model assumes, USD (default range 0.5–5 ticks)',
      min: 0,
      minExclusive: true,
      low: 0.5,
      high: 5,
      scale: 'tick',
    },
    {
      key: 'windowMs',
      type: 'int',
      doc: 'rolling calibration window, ms of data time',
      min: 1,
      low: 60_000,
      high: 3_600_000,
      log: true,
    },
    {
      key: 'refreshMs',
      type: 'int',
      doc: 'calibration refresh period, ms',
      min: 1,
      low: 1000,
      high: 120_000,
      log: true,
    },
    reference,
  ],
  fixed: [
    {
      key: 'halfSpreadTicks',
      type: 'float',
      doc: 'half-spread around mid, ticks',
      min: 0,
      low: 0,
      high: 20,
      intRange: true,
      excludes: ['halfSpreadBps'],
      inDefaultSpace: true,
    },
    {
      key: 'halfSpreadBps',
      type: 'float',
      doc: 'half-spread around mid, basis points of mid',
      min: 0,
      low: 0,
      high: 20,
      excludes: ['halfSpreadTicks'],
    },
    { ...maxPosition, inDefaultSpace: true },
    orderSize,
    reference,
  ],
  as: [
    {
      key: 'gamma',
      type: 'float',
      doc: 'risk aversion γ per lot, 1/USD',
      min: 0,
      minExclusive: true,
      low: 1e-4,
      high: 10,
      log: true,
      inDefaultSpace: true,
    },
    {
      key: 'k',
      type: 'float',
      doc: 'fill decay k override, 1/USD (default: calibrated)',
      min: 0,
      minExclusive: true,
      low: 0.1,
      high: 100,
      log: true,
    },
    {
      key: 'tauSec',
      type: 'float',
      doc: 'receding horizon τ = T − t, seconds',
      min: 0,
      minExclusive: true,
      low: 1,
      high: 3600,
      log: true,
      inDefaultSpace: true,
    },
    maxPosition,
    orderSize,
    reference,
  ],
  glft: [
    {
      key: 'gamma',
      type: 'float',
      doc: 'risk aversion γ per lot, 1/USD',
      min: 0,
      minExclusive: true,
      low: 1e-4,
      high: 10,
      log: true,
      inDefaultSpace: true,
    },
    {
      key: 'xi',
      type: 'float',
      doc: "Guéant's ξ of the spread term, 1/USD (default γ; 0 = risk-neutral spread)",
      min: 0,
      low: 1e-4,
      high: 10,
      log: true,
      inDefaultSpace: true,
    },
    maxPosition,
    orderSize,
    reference,
  ],
};

export function tunablesOf(strategy: StrategyName): readonly Tunable[] {
  return TUNABLES[strategy];
}
