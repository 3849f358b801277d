/**
 * The params file accepted by `cjmm quote --params` and reusable by the trading config:
 * (a) the calibration output (top-level lambdaPlus … epsilonMinus, sigma, spread.tick, …; unknown keys
 *     ignored), or (b) a plain params file that may also hold phi, alpha, qMin, qMax, fee, mid, tick,
 *     horizon, elapsed, mode and halfSpread. Every field is optional here; what is still missing after the
 *     command-line flags is filled from QUOTE_DEFAULTS or reported by resolveQuoteInputs.
 * Pure: parsing takes the file's text, the caller does the reading.
 */
import { z } from 'zod';
import { validateModelParams } from './params.ts';
import type { ModelParams, QuoteMode } from './types.ts';

const num = z.number().refine(Number.isFinite, 'must be a finite number');

export const paramsFileSchema = z.object({
  lambdaPlus: num.optional(),
  lambdaMinus: num.optional(),
  kappaPlus: num.optional(),
  kappaMinus: num.optional(),
  epsilonPlus: num.optional(),
  epsilonMinus: num.optional(),
  phi: num.optional(),
  alpha: num.optional(),
  qMin: z.number().int().optional(),
  qMax: z.number().int().optional(),
  /** Maker fee as a fraction of notional. */
  fee: num.optional(),
  mid: num.optional(),
  tick: num.optional(),
  /** Seconds, or 'inf' for stationary quotes. */
  horizon: z.union([num, z.literal('inf'), z.literal('Infinity')]).optional(),
  elapsed: num.optional(),
  mode: z.enum(['depth', 'touch']).optional(),
  halfSpread: num.optional(),
  /** Calibration output: tick size inferred from the book. */
  spread: z.object({ tick: num.optional() }).partial().optional(),
  coin: z.string().optional(),
});

export type ParamsFile = z.infer<typeof paramsFileSchema>;

/** Defaults used when neither a flag nor the params file gives a value (documented in docs/model.md). */
export const QUOTE_DEFAULTS = {
  phi: 0,
  alpha: 0,
  qMin: -10,
  qMax: 10,
  horizon: Number.POSITIVE_INFINITY,
  elapsed: 0,
  /** Hyperliquid base maker fee (fraction of notional). */
  fee: 0.00015,
  mode: 'depth' as QuoteMode,
} as const;

/** Parses a params file's text; throws Error with every offending field named. */
export function parseParamsFile(text: string, source = 'params file'): ParamsFile {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  const r = paramsFileSchema.safeParse(json);
  if (!r.success) {
    const msgs = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new Error(`${source}: ${msgs.join('; ')}`);
  }
  return r.data;
}

/** Everything `cjmm quote` (or a trading session) needs to solve and price quotes. */
export interface QuoteInputs {
  /** Model parameters; feePerFill = fee × mid (0 when the mid is unknown, see warnings). */
  params: ModelParams;
  fee: number;
  mid: number | null;
  tick: number | null;
  /** Total horizon T (s) or Infinity, and the elapsed time t; the solver uses T − t. */
  horizon: number;
  elapsed: number;
  mode: QuoteMode;
  /** Δ/2 for touch mode (price); null in depth mode. */
  halfSpread: number | null;
  warnings: string[];
}

/** A field merged from flags over the file; `name` is how the user spelt it (for messages). */
export type QuoteField = keyof Omit<ParamsFile, 'spread' | 'coin'>;

/**
 * Merges flag values over the params file over the defaults, checks every range and returns the inputs,
 * or the list of problems (each naming the field as `flagName(field)` spells it, with the valid range).
 */
export function resolveQuoteInputs(
  file: ParamsFile,
  flags: Partial<ParamsFile>,
  flagName: (field: QuoteField) => string = (f) => f,
): { inputs: QuoteInputs; errors: [] } | { inputs: null; errors: string[] } {
  const errors: string[] = [];
  const warnings: string[] = [];
  const pick = <K extends QuoteField>(k: K): ParamsFile[K] => (flags[k] !== undefined ? flags[k] : file[k]);
  const required = (k: QuoteField): number => {
    const v = pick(k);
    if (v === undefined) {
      errors.push(`${flagName(k)} is required (give the flag or put ${k} in --params)`);
      return Number.NaN;
    }
    return v as number;
  };
  const lambdaPlus = required('lambdaPlus');
  const lambdaMinus = required('lambdaMinus');
  const kappaPlus = required('kappaPlus');
  const kappaMinus = required('kappaMinus');
  const epsilonPlus = required('epsilonPlus');
  const epsilonMinus = required('epsilonMinus');
  const phi = pick('phi') ?? QUOTE_DEFAULTS.phi;
  const alpha = pick('alpha') ?? QUOTE_DEFAULTS.alpha;
  const qMin = pick('qMin') ?? QUOTE_DEFAULTS.qMin;
  const qMax = pick('qMax') ?? QUOTE_DEFAULTS.qMax;
  const fee = pick('fee') ?? QUOTE_DEFAULTS.fee;
  const mid = pick('mid') ?? null;
  const tick = pick('tick') ?? file.spread?.tick ?? null;
  const mode = pick('mode') ?? QUOTE_DEFAULTS.mode;
  const horizonRaw = pick('horizon') ?? QUOTE_DEFAULTS.horizon;
  const horizon = typeof horizonRaw === 'string' ? Number.POSITIVE_INFINITY : horizonRaw;
  const elapsed = pick('elapsed') ?? QUOTE_DEFAULTS.elapsed;
  if (!(fee > -0.01 && fee < 0.1)) {
    errors.push(`${flagName('fee')} must be a fraction in (-0.01, 0.1), negative for a rebate (got ${fee})`);
  }
  if (mid !== null && !(mid > 0)) errors.push(`${flagName('mid')} must be a price > 0 (got ${mid})`);
  if (tick !== null && !(tick > 0))
    errors.push(`${flagName('tick')} must be a price increment > 0 (got ${tick})`);
  if (!(horizon > 0))
    errors.push(`${flagName('horizon')} must be a number of seconds > 0 or inf (got ${horizon})`);
  if (!(elapsed >= 0) || (Number.isFinite(horizon) && elapsed > horizon)) {
    errors.push(`${flagName('elapsed')} must be in [0, horizon] seconds (got ${elapsed})`);
  }
  if (!Number.isFinite(horizon) && elapsed > 0)
    warnings.push('elapsed time ignored: the horizon is infinite');
  if (!Number.isFinite(horizon)) {
    for (const k of ['lambdaPlus', 'lambdaMinus'] as const) {
      const v = pick(k) as number | undefined;
      if (v === 0)
        errors.push(
          `${flagName(k)} must be > 0 for stationary quotes (horizon inf); give a finite ${flagName('horizon')}`,
        );
    }
  }
  let halfSpread: number | null = null;
  if (mode === 'touch') {
    const hs = pick('halfSpread') ?? (tick !== null ? tick / 2 : undefined);
    if (hs === undefined) {
      errors.push(
        `touch mode needs the spread: give ${flagName('tick')} (1-tick market, Δ = tick) or ${flagName('halfSpread')}`,
      );
    } else if (!(hs > 0)) errors.push(`${flagName('halfSpread')} must be a price > 0 (got ${hs})`);
    else halfSpread = hs;
  }
  if (mid === null && fee !== 0) {
    warnings.push(
      'no mid price: the maker fee (c = fee × mid) is left out of the depths, and no prices or bps are shown',
    );
  }
  const params: ModelParams = {
    lambdaPlus,
    lambdaMinus,
    kappaPlus,
    kappaMinus,
    epsilonPlus,
    epsilonMinus,
    phi,
    alpha,
    qMin,
    qMax,
    feePerFill: mid !== null && mid > 0 ? fee * mid : 0,
  };
  if (errors.length === 0) {
    const fieldOf: Record<string, QuoteField> = { feePerFill: 'fee' };
    for (const msg of validateModelParams(params)) {
      const field = msg.split(' ')[0];
      if (!(field in params)) {
        errors.push(msg.replace('qMin..qMax', `${flagName('qMin')}..${flagName('qMax')}`));
        continue;
      }
      const k = (fieldOf[field] ?? field) as QuoteField;
      errors.push(msg.replace(field, flagName(k)).replace('<= qMax', `<= ${flagName('qMax')}`));
    }
  }
  if (errors.length > 0) return { inputs: null, errors };
  return {
    inputs: {
      params,
      fee,
      mid,
      tick,
      horizon,
      elapsed: Number.isFinite(horizon) ? elapsed : 0,
      mode,
      halfSpread,
      warnings,
    },
    errors: [],
  };
}
