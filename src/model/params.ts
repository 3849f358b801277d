/**
 * Validation and small helpers for ModelParams. Messages name the field and its valid range so the CLI and
 * the trading config can show them to the user as they are.
 */
import { validateFillCurve } from './fill-rate.ts';
import type { ModelParams } from './types.ts';

/** Largest supported |inventory bound| (lots): keeps the state space (and solve time) bounded. */
export const MAX_INVENTORY_BOUND = 1000;

function describe(v: unknown): string {
  return typeof v === 'number' ? String(v) : JSON.stringify(v);
}

/** Returns one message per invalid field (empty when the parameters are usable). */
export function validateModelParams(p: ModelParams): string[] {
  const errors: string[] = [];
  const finite = (name: keyof ModelParams, v: number) => {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      errors.push(`${name} must be a finite number (got ${describe(v)})`);
      return false;
    }
    return true;
  };
  for (const k of ['lambdaPlus', 'lambdaMinus'] as const) {
    if (finite(k, p[k]) && p[k] < 0) errors.push(`${k} must be a number >= 0 (got ${p[k]})`);
  }
  for (const k of ['kappaPlus', 'kappaMinus'] as const) {
    if (finite(k, p[k]) && p[k] <= 0) errors.push(`${k} must be a number > 0 (got ${p[k]})`);
  }
  for (const k of ['epsilonPlus', 'epsilonMinus'] as const) finite(k, p[k]);
  // feePerFill may be negative: a maker rebate.
  finite('feePerFill', p.feePerFill);
  for (const k of ['phi', 'alpha'] as const) {
    if (finite(k, p[k]) && p[k] < 0) errors.push(`${k} must be a number >= 0 (got ${p[k]})`);
  }
  if (p.drift !== undefined) finite('drift', p.drift);
  if (p.fillPlus !== undefined) errors.push(...validateFillCurve(p.fillPlus, 'fillPlus'));
  if (p.fillMinus !== undefined) errors.push(...validateFillCurve(p.fillMinus, 'fillMinus'));
  let boundsOk = true;
  for (const k of ['qMin', 'qMax'] as const) {
    const v = p[k];
    if (!Number.isInteger(v) || Math.abs(v) > MAX_INVENTORY_BOUND) {
      errors.push(
        `${k} must be an integer in [-${MAX_INVENTORY_BOUND}, ${MAX_INVENTORY_BOUND}] (got ${describe(v)})`,
      );
      boundsOk = false;
    }
  }
  if (boundsOk) {
    if (p.qMin > p.qMax) errors.push(`qMin must be <= qMax (got qMin ${p.qMin} > qMax ${p.qMax})`);
    else if (p.qMin > 0 || p.qMax < 0) {
      errors.push(`the inventory range qMin..qMax must contain 0 (got ${p.qMin}..${p.qMax})`);
    }
  }
  return errors;
}

/** Throws a RangeError listing every problem; used by the solvers' front door. */
export function assertModelParams(p: ModelParams): void {
  const errors = validateModelParams(p);
  if (errors.length > 0) throw new RangeError(`invalid model parameters: ${errors.join('; ')}`);
}

/** Number of inventory states qMin..qMax. */
export function stateCount(p: ModelParams): number {
  return p.qMax - p.qMin + 1;
}

/** The model's adverse-selection drift of the mid, D = λ⁺ε⁺ − λ⁻ε⁻ (price/s), whatever drift is used. */
export function modelDrift(
  p: Pick<ModelParams, 'lambdaPlus' | 'lambdaMinus' | 'epsilonPlus' | 'epsilonMinus'>,
): number {
  return p.lambdaPlus * p.epsilonPlus - p.lambdaMinus * p.epsilonMinus;
}

/** The drift in the HJB's qD term (price/s): `drift` when given, else D = λ⁺ε⁺ − λ⁻ε⁻. */
export function adverseDrift(p: ModelParams): number {
  return p.drift ?? modelDrift(p);
}

/** True when either side has a fill-rate model other than the default exponential. */
export function hasFillCurves(p: ModelParams): boolean {
  return p.fillPlus !== undefined || p.fillMinus !== undefined;
}

/** Index of the state closest to q = 0 (the range always contains 0 after validation). */
export function zeroIndex(p: ModelParams): number {
  return Math.min(Math.max(0, -p.qMin), p.qMax - p.qMin);
}

/**
 * Toxicity gauge κ±ε± per side (dimensionless): the adverse-selection loss per fill in units of the
 * depth scale 1/κ. Rule of thumb: < 1 workable, 1–2 competitive, ≥ 2 avoid.
 */
export function toxicityGauge(
  p: Pick<ModelParams, 'kappaPlus' | 'kappaMinus' | 'epsilonPlus' | 'epsilonMinus'>,
): {
  plus: number;
  minus: number;
} {
  return { plus: p.kappaPlus * p.epsilonPlus, minus: p.kappaMinus * p.epsilonMinus };
}
