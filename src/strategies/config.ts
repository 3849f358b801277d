/**
 * Strategy configuration: one zod schema per strategy, discriminated by `strategy`. Used by
 * `cjmm backtest --config` and by the trading config. Every field has a documented default
 * (docs/engine.md); unknown fields are refused so a typo never silently falls back to a default.
 * Units: prices and depths in USD, κ in 1/USD, λ/A in 1/s, σ in USD/√s, sizes in coin units,
 * inventories (qMax, maxPosition) in lots (one lot = the order size), times in ms unless named *Sec.
 */
import { z } from 'zod';
import { RegimeModelSchema } from '../model/regime-file.ts';
import { checkBoundOrder, type SideBounds, sideBoundsField } from './spread-bounds.ts';

/** Default `regimes.minChangeSe` (see the schema). */
export const DEFAULT_REGIME_MIN_CHANGE_SE = 0.5;

export const STRATEGY_NAMES = ['cj', 'fixed', 'as', 'glft'] as const;
export type StrategyName = (typeof STRATEGY_NAMES)[number];

const num = () =>
  z.number({ error: (iss) => (iss.input === undefined ? 'required (a number)' : 'must be a number') });
const nonNeg = () => num().finite('must be finite').min(0, 'must be ≥ 0');
const positive = () => num().finite('must be finite').positive('must be > 0');
const posInt = () => num().int('must be an integer').positive('must be ≥ 1');
const horizon = z.union([z.literal('inf'), positive()], {
  error: "must be 'inf' (stationary) or a positive number of seconds",
});

export const REFERENCE_KINDS = ['mid', 'microprice', 'weighted-mid'] as const;
export type ReferenceKind = (typeof REFERENCE_KINDS)[number];

/** Micro-price estimation settings (Stoikov 2018; docs/calibration.md). */
export const MicropriceSettingsSchema = z.strictObject({
  /** Imbalance buckets (equal width over [0, 1]). */
  imbalanceBuckets: num()
    .int('must be an integer')
    .min(2, 'must be ≥ 2')
    .max(100, 'must be ≤ 100')
    .default(10),
  /** Spread buckets: 1..m ticks, wider spreads counted as m. */
  spreadBuckets: num().int('must be an integer').min(1, 'must be ≥ 1').max(20, 'must be ≤ 20').default(2),
  /** Mid jumps larger than this (ticks) are discarded, as in the paper. */
  maxMoveTicks: num().finite('must be finite').min(0.5, 'must be ≥ 0.5').max(100, 'must be ≤ 100').default(2),
  /** Estimation window (data time, ms) and re-estimation period (ms). */
  windowMs: positive().default(30 * 60_000),
  refreshMs: positive().default(15_000),
  /** Fewer transitions than this in the window: the reference stays the mid. */
  minTransitions: posInt().default(200),
});
export type MicropriceSettings = z.infer<typeof MicropriceSettingsSchema>;

/** Order-manager settings every strategy carries (the engine's order manager uses them). */
const common = {
  /** The price the quotes are centred on: mid (default), Stoikov's micro-price, or the size-weighted mid. */
  reference: z
    .enum(REFERENCE_KINDS, { error: "must be 'mid', 'microprice' or 'weighted-mid'" })
    .default('mid'),
  /** Micro-price estimation (reference: 'microprice'); every field has a default. */
  microprice: MicropriceSettingsSchema.optional(),
  /** Order size in coin units; default the instrument's lot size. Inventory is counted in these lots. */
  orderSize: positive().optional(),
  /**
   * Requote tolerance: keep a resting order whose price is less than this many ticks from the wish (1 = move
   * on any change), saving the request a modify costs; the side that reduces inventory and an order that
   * now crosses the touch always move.
   */
  priceToleranceTicks: nonNeg().default(1),
  /** Do not re-price an order younger than this (ms). */
  minQuoteLifeMs: nonNeg().default(0),
  /**
   * Spread bounds on the model's depths, applied before rounding: {ticks} or {bps} for both sides, or
   * {bid, ask} per side (src/strategies/spread-bounds.ts).
   */
  minHalfSpread: sideBoundsField(),
  maxHalfSpread: sideBoundsField(),
};

/** min ≤ max per side where both are in the same unit. */
const boundOrder = (c: { minHalfSpread?: SideBounds; maxHalfSpread?: SideBounds }, ctx: z.RefinementCtx) => {
  for (const msg of checkBoundOrder(c.minHalfSpread, c.maxHalfSpread))
    ctx.addIssue({ code: 'custom', message: msg, path: ['maxHalfSpread'] });
};

/** Rolling-calibration settings for strategies that estimate their parameters from the data. */
const calibration = {
  /** Rolling window (data time, gaps excluded), ms. */
  windowMs: positive().default(30 * 60_000),
  /** Re-estimation period, ms. */
  refreshMs: positive().default(15_000),
};

const Priors = z.strictObject({
  lambdaPlus: positive(),
  lambdaMinus: positive(),
  kappaPlus: positive(),
  kappaMinus: positive(),
  epsilonPlus: num().finite('must be finite').default(0),
  epsilonMinus: num().finite('must be finite').default(0),
  sigma: nonNeg().optional(),
});
export type CjPriors = z.infer<typeof Priors>;

const InventoryTarget = z
  .strictObject({
    /** √E[q²] of the stationary inventory law, lots. */
    stdLots: positive().optional(),
    /** Stationary share of time at q̲ or q̄, a fraction in (0, 1). */
    maxTimeAtBound: num().gt(0, 'must be > 0').lt(1, 'must be < 1').optional(),
  })
  .refine((t) => t.stdLots !== undefined || t.maxTimeAtBound !== undefined, {
    error: 'give stdLots and/or maxTimeAtBound',
  });

export const CjConfigSchema = z
  .strictObject({
    strategy: z.literal('cj'),
    ...common,
    ...calibration,
    /** Running inventory penalty φ, USD/(lot²·s). Default: solved from `inventoryTarget`. */
    phi: nonNeg().optional(),
    /**
     * Inventory risk to solve φ for (when `phi` is not given): √E[q²] ≤ stdLots and/or the stationary share
     * of time at a bound ≤ maxTimeAtBound. Default { stdLots: 2 } (DEFAULT_INVENTORY_TARGET).
     */
    inventoryTarget: InventoryTarget.optional(),
    /** The drift D = λ⁺ε⁺ − λ⁻ε⁻ in the quotes: as estimated, shrunk by its significance, or none. */
    drift: z
      .enum(['model', 'shrink', 'zero'], { error: "must be 'model', 'shrink' or 'zero'" })
      .default('shrink'),
    /** Fill model per side: the calibration's choice, always the exponential, or the two-part model. */
    depthModel: z
      .enum(['auto', 'exponential', 'two-part'], { error: "must be 'auto', 'exponential' or 'two-part'" })
      .default('auto'),
    /** Terminal inventory penalty α, USD/lot² (finite horizon). */
    alpha: nonNeg().default(0.001),
    /** Inventory bounds in lots; qMin defaults to −qMax. */
    qMax: posInt().default(10),
    qMin: num().int('must be an integer').max(-1, 'must be ≤ −1').optional(),
    /** depth: post at the optimal depth δ±; touch: post at the touch or not (§10.2.2). */
    mode: z.enum(['depth', 'touch'], { error: "must be 'depth' or 'touch'" }).default('depth'),
    /** 'inf' = stationary quotes; a number T = finite horizon of T seconds, sessions ending at multiples of T (UTC). */
    horizon: horizon.default('inf'),
    /** Finite horizon: re-solve at least this often (ms) as the time to horizon shrinks. */
    solveIntervalMs: positive().default(1000),
    /** Markout horizon whose estimate is used as ε (ms); 0 = the calibrator's headline ε. */
    markoutMs: nonNeg().default(1000),
    /** Parameters used before the first good calibration (and always when calibrate is false). */
    priors: Priors.optional(),
    /** false: never re-estimate, quote on the priors (model-world tests, fixed-parameter runs). */
    calibrate: z.boolean({ error: 'must be true or false' }).default(true),
    /** Before the first good calibration: quote on the priors, or not at all. Default: priors when given. */
    beforeCalibration: z.enum(['priors', 'no-quote'], { error: "must be 'priors' or 'no-quote'" }).optional(),
    /** Touch mode: the half-spread Δ/2 the model assumes (USD); default half a tick (a one-tick book). */
    touchHalfSpread: positive().optional(),
    /**
     * Order-book signal: 'imbalance' = the imbalance-regime model (Cartea, Donnelly & Jaimungal 2018): the
     * touch imbalance cut into `regimes.count` regimes, λ±, κ±, ε± and the regime generator calibrated per
     * regime, quotes from the HJB over (inventory, regime) for the current regime.
     */
    signal: z.enum(['none', 'imbalance'], { error: "must be 'none' or 'imbalance'" }).default('none'),
    /** Regimes of the imbalance signal: how many (default 3) and the imbalance cut points (default equal width). */
    regimes: z
      .strictObject({
        count: posInt().max(10, 'must be ≤ 10').default(3),
        thresholds: z.array(num().gt(0, 'must be > 0').lt(1, 'must be < 1')).optional(),
        /**
         * Re-solve the regime model (stationary) at a new calibration only when some regime's λ±, κ±, ε± or a
         * generator rate moved by more than this many of its standard errors since the last solve (or the fee
         * by 0.5 %); 0 re-solves at every new calibration. Default ½: a move within half an SE is noise, and
         * chasing it cost ≈ 1 s of CPU per day of ETH.
         */
        minChangeSe: nonNeg().default(DEFAULT_REGIME_MIN_CHANGE_SE),
      })
      .optional(),
    /** A regime model (the `regimes` object of cjmm calibrate --json) used before the first good regime
     * calibration, and always when calibrate is false. */
    regimePriors: RegimeModelSchema.optional(),
  })
  .refine((c) => c.calibrate || c.priors !== undefined, {
    error: 'required when calibrate is false (the strategy quotes on the priors only)',
    path: ['priors'],
  })
  .refine((c) => c.phi === undefined || c.inventoryTarget === undefined, {
    error: 'give phi or inventoryTarget, not both (phi fixes the penalty; the target solves for it)',
    path: ['inventoryTarget'],
  })
  .refine((c) => c.depthModel !== 'two-part' || (c.horizon === 'inf' && c.mode === 'depth'), {
    error:
      "'two-part' needs horizon 'inf' and mode 'depth' (the finite-horizon solve with fill levels is too slow to repeat every solveIntervalMs)",
    path: ['depthModel'],
  })
  .refine((c) => c.signal === 'none' || c.mode === 'depth', {
    error: "signal 'imbalance' needs mode 'depth' (the regime model has no at-the-touch solver)",
    path: ['signal'],
  })
  .refine((c) => c.signal === 'none' || c.calibrate || c.regimePriors !== undefined, {
    error: "required when signal is 'imbalance' and calibrate is false",
    path: ['regimePriors'],
  })
  .refine(
    (c) =>
      c.regimes?.thresholds === undefined ||
      (c.regimes.thresholds.length === c.regimes.count - 1 &&
        c.regimes.thresholds.every((t, k, a) => k === 0 || t > a[k - 1])),
    { error: 'must be count − 1 ascending cut points in (0, 1)', path: ['regimes', 'thresholds'] },
  )
  .refine(
    (c) =>
      c.regimePriors === undefined ||
      c.regimes === undefined ||
      c.regimePriors.params.length === c.regimes.count,
    { error: 'must have regimes.count regimes', path: ['regimePriors'] },
  )
  .superRefine(boundOrder);

export const FixedConfigSchema = z
  .strictObject({
    strategy: z.literal('fixed'),
    ...common,
    /** Half-spread around mid, in ticks or in basis points of mid (give one; default 1 tick). */
    halfSpreadTicks: nonNeg().optional(),
    halfSpreadBps: nonNeg().optional(),
    /** Inventory bound in lots: no quote on the side that would go beyond it. */
    maxPosition: posInt().default(10),
  })
  .refine((c) => c.halfSpreadTicks === undefined || c.halfSpreadBps === undefined, {
    error: 'give halfSpreadTicks or halfSpreadBps, not both',
    path: ['halfSpreadTicks'],
  })
  .superRefine(boundOrder);

export const AsConfigSchema = z
  .strictObject({
    strategy: z.literal('as'),
    ...common,
    ...calibration,
    /** Risk aversion γ per lot (1/USD of price): q in lots enters as qγσ²(T−t). */
    gamma: positive().default(0.01),
    /** Fill decay k (1/USD) and mid volatility σ (USD/√s); default: from the rolling calibrator. */
    k: positive().optional(),
    sigma: positive().optional(),
    /** 'inf' = receding horizon with a fixed time-to-horizon tauSec; a number T = sessions of T seconds. */
    horizon: horizon.default('inf'),
    tauSec: positive().default(60),
    maxPosition: posInt().default(10),
  })
  .superRefine(boundOrder);

export const GlftConfigSchema = z
  .strictObject({
    strategy: z.literal('glft'),
    ...common,
    ...calibration,
    /** Risk aversion γ per lot (1/USD of price). */
    gamma: positive().default(0.01),
    /** Guéant (2017)'s ξ in the spread term (1/USD): default γ (the CARA model); 0 = risk-neutral spread 1/κ. */
    xi: nonNeg().optional(),
    /** Intensity Λ(δ) = A e^{−κδ}: A (1/s), κ (1/USD), and σ (USD/√s); default: from the rolling calibrator. */
    A: positive().optional(),
    kappa: positive().optional(),
    sigma: positive().optional(),
    maxPosition: posInt().default(10),
  })
  .superRefine(boundOrder);

export const StrategyConfigSchema = z.discriminatedUnion('strategy', [
  CjConfigSchema,
  FixedConfigSchema,
  AsConfigSchema,
  GlftConfigSchema,
]);

export type CjConfig = z.infer<typeof CjConfigSchema>;
export type FixedConfig = z.infer<typeof FixedConfigSchema>;
export type AsConfig = z.infer<typeof AsConfigSchema>;
export type GlftConfig = z.infer<typeof GlftConfigSchema>;
export type StrategyConfig = z.infer<typeof StrategyConfigSchema>;
/** What users write (defaults not yet applied). */
export type StrategyConfigInput = z.input<typeof StrategyConfigSchema>;

/** A config error; the message names every bad field, e.g. `strategy.phi: must be ≥ 0`. */
export class StrategyConfigError extends Error {
  readonly issues: string[];
  constructor(issues: string[]) {
    super(issues.join('; '));
    this.name = 'StrategyConfigError';
    this.issues = issues;
  }
}

/**
 * Parses and validates a strategy config (defaults applied). `prefix` names the config's place in a larger
 * file for error messages (default 'strategy').
 */
export function parseStrategyConfig(input: unknown, prefix = 'strategy'): StrategyConfig {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw new StrategyConfigError([`${prefix}: must be an object with a "strategy" field`]);
  }
  const name = (input as Record<string, unknown>).strategy;
  if (!STRATEGY_NAMES.includes(name as StrategyName)) {
    throw new StrategyConfigError([
      `${prefix}.strategy: must be one of ${STRATEGY_NAMES.join(', ')}, got ${JSON.stringify(name)}`,
    ]);
  }
  const r = StrategyConfigSchema.safeParse(input);
  if (r.success) return r.data;
  throw new StrategyConfigError(r.error.issues.map((i) => formatIssue(prefix, i)));
}

/** Defaults for a strategy given only its name. */
export function defaultStrategyConfig(name: StrategyName): StrategyConfig {
  return parseStrategyConfig({ strategy: name });
}

function formatIssue(prefix: string, issue: z.core.$ZodIssue): string {
  const path = [prefix, ...issue.path.map(String)].join('.');
  if (issue.code === 'unrecognized_keys') {
    return issue.keys
      .map((k) => `${path}.${k}: unknown field (check the spelling; see docs/engine.md)`)
      .join('; ');
  }
  return `${path}: ${issue.message}`;
}
