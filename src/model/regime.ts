/**
 * Imbalance-regime Cartea–Jaimungal quotes: the front door of the (inventory, regime) solver (regime-hjb.ts).
 *
 *   solveRegimeQuotes({ regimes: [p0, p1, p2], generator }, { horizon: Infinity })
 *   → { tables: [QuoteTable per regime], growthRate, method }
 *
 * Every regime carries full ModelParams (its own λ±, κ±, ε±; φ, α, bounds and fee must agree across regimes);
 * `generator` is the m×m rate matrix of the regime chain (row-major, 1/s; off-diagonals ≥ 0, the diagonal is
 * implied by the rows summing to 0 and ignored). With one regime the problem IS today's problem: it is solved
 * by solveQuotes itself, so a one-regime model quotes byte-identically to the plain model. With several,
 * depth mode only (touch mode has no regime solver); stationary quotes need an irreducible generator, except
 * for a generator of zeros (decoupled regimes), which is solved regime by regime.
 */
import { assertModelParams } from './params.ts';
import { integrateRegimeHjb, RegimeHjbSystem, stationaryRegime } from './regime-hjb.ts';
import { quoteTableFromH, type SolveOptions, solveQuotes } from './solve.ts';
import type { ModelParams, QuoteTable } from './types.ts';

export interface RegimeModelParams {
  regimes: ModelParams[];
  /** m×m generator, row-major (off-diagonal rates 1/s; diagonal ignored). */
  generator: ArrayLike<number>;
}

/** Solve options, plus a previous stationary solution of the same shape to start Newton from. */
export interface RegimeSolveOptions extends SolveOptions {
  warmStart?: RegimeQuoteTable;
  /**
   * Newton's tolerance for the warm-started stationary solve: max|F − g| relative to the rate scale
   * (λ/κ + max|φq² − qD|), default 1e-12. A rolling φ search uses a looser one (its depths then move by
   * ~tol·rateScale/λ, far below a tick).
   */
  warmTol?: number;
}

export interface RegimeQuoteTable {
  /** One table per regime (index = regime). */
  tables: QuoteTable[];
  /** Stationary only: the common long-run reward rate g (price/s); per regime when decoupled. */
  growthRate?: number;
  growthRates?: number[];
  method: 'single' | 'decoupled' | 'coupled';
}

/** Largest number of regimes the solver accepts. */
export const MAX_REGIMES = 10;

/** One message per problem (empty when usable). */
export function validateRegimeParams(rp: RegimeModelParams): string[] {
  const errors: string[] = [];
  const m = rp.regimes?.length ?? 0;
  if (!(m >= 1 && m <= MAX_REGIMES)) {
    errors.push(`regimes must hold 1 to ${MAX_REGIMES} parameter sets (got ${m})`);
    return errors;
  }
  if (!rp.generator || rp.generator.length !== m * m) {
    errors.push(
      `generator must be ${m}×${m} (row-major, ${m * m} numbers; got ${rp.generator?.length ?? 0})`,
    );
    return errors;
  }
  for (let z = 0; z < m; z++)
    for (let w = 0; w < m; w++) {
      const c = rp.generator[z * m + w];
      if (z !== w && !(Number.isFinite(c) && c >= 0))
        errors.push(`generator[${z}][${w}] must be a finite rate >= 0 (got ${c})`);
    }
  const p0 = rp.regimes[0];
  for (const k of ['phi', 'alpha', 'qMin', 'qMax', 'feePerFill'] as const) {
    for (let z = 1; z < m; z++) {
      if (rp.regimes[z][k] !== p0[k])
        errors.push(`regimes[${z}].${k} must equal regimes[0].${k} (${p0[k]}); only market parameters vary`);
    }
  }
  return errors;
}

/** True when every regime can reach every other through the generator's positive rates. */
export function generatorIrreducible(generator: ArrayLike<number>, m: number): boolean {
  for (let s = 0; s < m; s++) {
    const seen = new Uint8Array(m);
    seen[s] = 1;
    const stack = [s];
    while (stack.length > 0) {
      const z = stack.pop()!;
      for (let w = 0; w < m; w++)
        if (w !== z && !seen[w] && generator[z * m + w] > 0) {
          seen[w] = 1;
          stack.push(w);
        }
    }
    if (seen.some((x) => x === 0)) return false;
  }
  return true;
}

/** The optimal quotes of every regime at T − t = horizon (Infinity = stationary). */
export function solveRegimeQuotes(
  rp: RegimeModelParams,
  opts: RegimeSolveOptions,
  internal: { forceCoupled?: boolean } = {},
): RegimeQuoteTable {
  const errors = validateRegimeParams(rp);
  if (errors.length > 0) throw new RangeError(`invalid regime parameters: ${errors.join('; ')}`);
  for (const p of rp.regimes) assertModelParams(p);
  const m = rp.regimes.length;
  const mode = opts.mode ?? 'depth';
  if (m === 1 && !internal.forceCoupled) {
    const t = solveQuotes(rp.regimes[0], opts);
    return { tables: [t], growthRate: t.growthRate, method: 'single' };
  }
  if (mode !== 'depth')
    throw new RangeError("regime quotes need mode 'depth' (touch mode has no regime solver)");
  const horizon = opts.horizon;
  if (!(horizon >= 0))
    throw new RangeError(`horizon must be a number of seconds >= 0 or Infinity (got ${horizon})`);
  const stationary = horizon === Number.POSITIVE_INFINITY;
  let decoupled = true;
  for (let z = 0; z < m; z++)
    for (let w = 0; w < m; w++) if (z !== w && rp.generator[z * m + w] > 0) decoupled = false;
  if (decoupled && !internal.forceCoupled) {
    // No switching: each regime is the plain problem with its own parameters.
    const tables = rp.regimes.map((p) => solveQuotes(p, opts));
    return {
      tables,
      growthRates: stationary ? tables.map((t) => t.growthRate ?? Number.NaN) : undefined,
      method: 'decoupled',
    };
  }
  if (stationary) {
    for (let z = 0; z < m; z++) {
      const p = rp.regimes[z];
      if (!(p.lambdaPlus > 0 && p.lambdaMinus > 0))
        throw new RangeError(`regimes[${z}]: λ± must be > 0 for stationary quotes; use a finite horizon`);
    }
    if (!generatorIrreducible(rp.generator, m))
      throw new RangeError(
        'stationary regime quotes need every regime reachable from every other (an irreducible generator); use a finite horizon',
      );
  }
  const sys = new RegimeHjbSystem(rp.regimes, rp.generator);
  const p0 = rp.regimes[0];
  const terminal = new Float64Array(sys.n);
  for (let i = 0; i < sys.nq; i++) {
    const q = p0.qMin + i;
    for (let z = 0; z < m; z++) terminal[i * m + z] = -p0.alpha * q * q;
  }
  let h: Float64Array;
  let growthRate: number | undefined;
  if (stationary) {
    let warm: Float64Array | undefined;
    const prev = opts.warmStart;
    if (prev && prev.method === 'coupled' && prev.tables.length === m && prev.tables[0].h.length === sys.nq) {
      warm = new Float64Array(sys.n);
      for (let i = 0; i < sys.nq; i++) for (let z = 0; z < m; z++) warm[i * m + z] = prev.tables[z].h[i];
    }
    const s = stationaryRegime(sys, terminal, warm, opts.warmTol);
    h = s.h;
    growthRate = s.growthRate;
  } else {
    h = terminal;
    // Relative accuracy tol on the depths: the extrapolation's estimate bounds the order-7 entry (see solve.ts).
    if (horizon > 0) integrateRegimeHjb(sys, h, horizon, { tol: 10 * (opts.tol ?? 1e-10) });
  }
  const tables: QuoteTable[] = [];
  for (let z = 0; z < m; z++) {
    const hz = new Float64Array(sys.nq);
    for (let i = 0; i < sys.nq; i++) hz[i] = h[i * m + z];
    const t = quoteTableFromH(rp.regimes[z], hz);
    tables.push(stationary ? { ...t, growthRate, method: 'ergodic' } : { ...t, method: 'ode' });
  }
  return { tables, growthRate, method: 'coupled' };
}

/** Stationary law of the regime chain (π C = 0, Σπ = 1); uniform when the generator is all zeros. */
export function regimeStationaryLaw(generator: ArrayLike<number>, m: number): Float64Array {
  // Power iteration on the uniformised chain P = I + C/Λ.
  let lam = 0;
  for (let z = 0; z < m; z++) {
    let out = 0;
    for (let w = 0; w < m; w++) if (w !== z) out += generator[z * m + w];
    lam = Math.max(lam, out);
  }
  let pi = new Float64Array(m).fill(1 / m);
  if (!(lam > 0)) return pi;
  const L = 1.05 * lam;
  for (let it = 0; it < 100_000; it++) {
    const next = new Float64Array(m);
    for (let z = 0; z < m; z++) {
      let out = 0;
      for (let w = 0; w < m; w++)
        if (w !== z) {
          next[w] += (pi[z] * generator[z * m + w]) / L;
          out += generator[z * m + w];
        }
      next[z] += pi[z] * (1 - out / L);
    }
    let d = 0;
    for (let z = 0; z < m; z++) d = Math.max(d, Math.abs(next[z] - pi[z]));
    pi = next;
    if (d < 1e-15) break;
  }
  return pi;
}
