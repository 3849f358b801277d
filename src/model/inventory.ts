/**
 * The controlled inventory process and the inventory target.
 *
 * Under a quote table, inventory is a birth–death chain on q̲..q̄: a bid fill (rate Λ⁻(δ⁻(q))) takes q → q+1,
 * an ask fill (rate Λ⁺(δ⁺(q))) takes q → q−1. Its stationary law π is the Perron eigenvector (eigenvalue 0)
 * of the chain's generator Qᵀ; for a birth–death chain that vector has the detailed-balance product form
 * π(q+1)/π(q) = Λ⁻(q)/Λ⁺(q+1), computed here in the log domain (components may span hundreds of orders of
 * magnitude). The chain is taken from q = 0: π lives on the states reachable from it.
 *
 * φ from a target: the user states the inventory risk they accept — `stdLots`, the root-mean-square
 * inventory √E_π[q²] (the standard deviation about flat), and/or `maxTimeAtBound`, the stationary share of
 * time at q̲ or q̄ — and φ is solved so the stationary policy's π meets it. E_π[q²] is non-increasing in φ
 * (the stationary policy maximises the long-run rate R − φE_π[q²]; comparing the optima at φ₁ < φ₂ gives
 * (φ₂ − φ₁)(M₁ − M₂) ≥ 0), so the root is bracketed by stepping φ and then found by the Illinois method
 * on ln φ. The time at the bounds is monotone in practice, not by proof: the search keeps the bracket and
 * always returns the φ on the side that meets the target.
 */
import { birthDeathWeights } from './birth-death.ts';
import { assertModelParams, zeroIndex } from './params.ts';
import { checkOptions, solveQuotesValid, stationaryPhiSolver } from './solve.ts';
import type { ModelParams, QuoteMode, QuoteTable } from './types.ts';

export interface InventoryLaw {
  qMin: number;
  qMax: number;
  /** π(q) for q = qMin..qMax (index q − qMin); 0 outside the states reachable from q = 0. */
  pi: Float64Array;
  mean: number;
  /** √E[q²] (lots): the standard deviation about flat. */
  rms: number;
  /** √Var(q) (lots). */
  std: number;
  /** π(q̲), π(q̄) and their sum: the long-run share of time at each bound. */
  atLow: number;
  atHigh: number;
  atBounds: number;
}

/**
 * The stationary inventory law of the chain a quote table induces, started from q = 0. Throws a RangeError
 * when that chain is not irreducible on the states it reaches (a policy that stops quoting the side that
 * would bring inventory back), where the long-run law would depend on the path.
 */
export function stationaryInventory(
  t: Pick<QuoteTable, 'qMin' | 'qMax' | 'fillRatePlus' | 'fillRateMinus'>,
): InventoryLaw {
  const pi = new Float64Array(t.qMax - t.qMin + 1);
  stationaryPi(t, pi);
  return inventoryLawOf(t.qMin, t.qMax, pi);
}

/** π(q) of the chain into `pi` (zeros, length qMax − qMin + 1); throws as stationaryInventory documents. */
function stationaryPi(
  t: Pick<QuoteTable, 'qMin' | 'qMax' | 'fillRatePlus' | 'fillRateMinus'>,
  pi: Float64Array,
): void {
  const n = t.qMax - t.qMin + 1;
  const up = t.fillRateMinus; // bid fills: q → q+1
  const down = t.fillRatePlus; // ask fills: q → q−1
  const z = zeroIndex({ qMin: t.qMin, qMax: t.qMax } as ModelParams);
  let hi = z;
  while (hi < n - 1 && up[hi] > 0) hi++;
  let lo = z;
  while (lo > 0 && down[lo] > 0) lo--;
  for (let i = lo; i < hi; i++) {
    if (!(up[i] > 0 && down[i + 1] > 0)) {
      throw new RangeError(
        `the inventory chain is not irreducible from q = 0: no ${up[i] > 0 ? 'ask' : 'bid'} fill at q = ${t.qMin + (up[i] > 0 ? i + 1 : i)}`,
      );
    }
  }
  // birthDeathPi's numbers from the shared weights (a φ search's last policy evaluation usually has them).
  const law = birthDeathWeights(n);
  law.of(up, down, lo, hi);
  const w = law.w;
  const sum = law.z;
  for (let i = lo; i <= hi; i++) pi[i] = w[i] / sum;
}

/** What a φ search reads of a law: its RMS and its time at the bounds. */
export type InventoryMetrics = Pick<InventoryLaw, 'rms' | 'atBounds'>;

let PI = new Float64Array(0);

/**
 * stationaryInventory's rms and atBounds (the same numbers), with π in scratch: a φ search reads only these
 * at each step, and keeps the whole law of the point it returns only (a law per step was an array per solve).
 */
function stationaryMetrics(
  t: Pick<QuoteTable, 'qMin' | 'qMax' | 'fillRatePlus' | 'fillRateMinus'>,
): InventoryMetrics {
  const n = t.qMax - t.qMin + 1;
  if (PI.length !== n) PI = new Float64Array(n);
  else PI.fill(0);
  const pi = PI;
  stationaryPi(t, pi);
  // inventoryLawOf's sums, in its order.
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const q = t.qMin + i;
    m2 += pi[i] * q * q;
  }
  return { rms: Math.sqrt(m2), atBounds: n > 1 ? pi[0] + pi[n - 1] : pi[0] };
}

/** The law's moments and bound shares from π(q), q = qMin..qMax (a normalised distribution). */
export function inventoryLawOf(qMin: number, qMax: number, pi: Float64Array): InventoryLaw {
  const n = qMax - qMin + 1;
  let mean = 0;
  let m2 = 0;
  for (let i = 0; i < n; i++) {
    const q = qMin + i;
    mean += pi[i] * q;
    m2 += pi[i] * q * q;
  }
  return {
    qMin,
    qMax,
    pi,
    mean,
    rms: Math.sqrt(m2),
    std: Math.sqrt(Math.max(0, m2 - mean * mean)),
    atLow: pi[0],
    atHigh: pi[n - 1],
    atBounds: n > 1 ? pi[0] + pi[n - 1] : pi[0],
  };
}

/** What the user asks of inventory; give one or both. */
export interface InventoryTarget {
  /** √E_π[q²] at most this many lots. */
  stdLots?: number;
  /** Stationary share of time at q̲ or q̄ at most this (0 < x < 1). */
  maxTimeAtBound?: number;
}

export interface PhiSolveOptions {
  mode?: QuoteMode;
  halfSpread?: number;
  /** Where to start the search (e.g. the previous solution's φ); default from the rates and decays. */
  guess?: number;
  /** A nearby stationary solution's h (e.g. the previous one) to warm-start the first solve. */
  init?: Float64Array;
  /** Relative accuracy of the target metric at the returned φ (default 1e-3), or … */
  relTol?: number;
  /** … of φ itself, where the metric jumps (default 1e-3): the search stops at whichever comes first. */
  phiRelTol?: number;
  /** Search range of φ (price/(lot²·s)); default [1e-12, 1e6]. */
  phiMin?: number;
  phiMax?: number;
  /**
   * A rolling re-solve (with `guess`): secant steps on ln φ from the guess (warmSecantPhi) instead of
   * bracketing steps; the same stopping rule (relTol / phiRelTol).
   */
  secant?: boolean;
}

export interface PhiSolution {
  phi: number;
  /**
   * 'met': the target binds and φ meets it; 'unconstrained': φ = 0 already meets it; 'unreachable': even the
   * largest φ misses it (φ = phiMax, the law says by how much).
   */
  status: 'met' | 'unconstrained' | 'unreachable';
  /** The stationary inventory law at φ. */
  law: InventoryLaw;
  /** The stationary quote table at φ. */
  table: QuoteTable;
  /** Stationary solves spent. */
  evaluations: number;
}

/** Checks a target; one message per problem. */
export function validateInventoryTarget(t: InventoryTarget, name = 'inventoryTarget'): string[] {
  const errors: string[] = [];
  if (t.stdLots === undefined && t.maxTimeAtBound === undefined)
    errors.push(`${name}: give stdLots and/or maxTimeAtBound`);
  if (t.stdLots !== undefined && !(Number.isFinite(t.stdLots) && t.stdLots > 0))
    errors.push(`${name}.stdLots must be a number of lots > 0 (got ${t.stdLots})`);
  if (t.maxTimeAtBound !== undefined && !(t.maxTimeAtBound > 0 && t.maxTimeAtBound < 1))
    errors.push(`${name}.maxTimeAtBound must be a fraction in (0, 1) (got ${t.maxTimeAtBound})`);
  return errors;
}

/**
 * φ such that the stationary policy's inventory law meets `target` (with both targets: the larger of the two
 * φ, since each metric falls as φ grows). `p.phi` is ignored. Pure; cost: one stationary solve per step
 * (warm-started from the previous one), typically 6–12.
 */
export function solvePhiForTarget(
  p: ModelParams,
  target: InventoryTarget,
  opts: PhiSolveOptions = {},
): PhiSolution {
  const errors = validateInventoryTarget(target);
  if (errors.length > 0) throw new RangeError(errors.join('; '));
  let best: PhiSolution | undefined;
  let evaluations = 0;
  let guess = opts.guess;
  for (const kind of ['stdLots', 'maxTimeAtBound'] as const) {
    const goal = target[kind];
    if (goal === undefined) continue;
    const metric = kind === 'stdLots' ? (l: InventoryMetrics) => l.rms : (l: InventoryMetrics) => l.atBounds;
    const s = solveOne(p, metric, goal, { ...opts, guess });
    evaluations += s.evaluations;
    targetSearchStats.searches++;
    targetSearchStats.evaluations += s.evaluations;
    guess = s.phi > 0 ? s.phi : guess;
    if (!best || s.phi > best.phi) best = s;
  }
  return { ...best!, evaluations };
}

/** Running totals of the one-regime φ searches (benchmarks: stationary solves per parameter refresh). */
export const targetSearchStats = { searches: 0, evaluations: 0 };

function solveOne(
  p: ModelParams,
  metric: (l: InventoryMetrics) => number,
  goal: number,
  opts: PhiSolveOptions,
): PhiSolution {
  const mode = opts.mode ?? 'depth';
  let init = opts.init;
  // The model is checked once; each step changes only φ (checked when it is not a plain φ ≥ 0), in one
  // parameter object (the solvers keep no reference to it).
  const at: ModelParams = { ...p, phi: 0 };
  assertModelParams(at);
  const solveOpts = { horizon: Number.POSITIVE_INFINITY, mode, halfSpread: opts.halfSpread, init };
  checkOptions(solveOpts);
  const searchOpts = { ...opts, guess: opts.guess ?? defaultGuess(p), warm: opts.guess !== undefined };
  // A rolling re-solve: secant steps from the last φ (the same stopping rule).
  const search = opts.secant && opts.guess !== undefined ? warmSecantPhi : searchPhi;
  // The ergodic Newton path: one HJB system for the whole search, and no table but the kept point's.
  const fast = stationaryPhiSolver(at, solveOpts);
  if (fast) {
    const range: Pick<QuoteTable, 'qMin' | 'qMax' | 'fillRatePlus' | 'fillRateMinus'> = {
      qMin: at.qMin,
      qMax: at.qMax,
      fillRatePlus: EMPTY,
      fillRateMinus: EMPTY,
    };
    const r = search(
      (phi) => {
        at.phi = phi;
        if (!(phi >= 0 && Number.isFinite(phi))) assertModelParams(at);
        const s = fast.solve(init);
        init = s.h;
        range.fillRatePlus = s.fillRatePlus;
        range.fillRateMinus = s.fillRateMinus;
        return { h: s.h, growthRate: s.growthRate, law: stationaryMetrics(range) };
      },
      metric,
      goal,
      searchOpts,
    );
    at.phi = r.phi;
    const table = fast.table(r.value.h, r.value.growthRate);
    // The kept point's law, from its table's fill rates: the very rates its search step had.
    const law = stationaryInventory(table);
    return { phi: r.phi, status: r.status, law, table, evaluations: r.evaluations };
  }
  const r = search(
    (phi) => {
      at.phi = phi;
      if (!(phi >= 0 && Number.isFinite(phi))) assertModelParams(at);
      solveOpts.init = init;
      const table = solveQuotesValid(at, solveOpts);
      init = table.h;
      return { table, law: stationaryInventory(table) };
    },
    metric,
    goal,
    searchOpts,
  );
  return { phi: r.phi, status: r.status, law: r.value.law, table: r.value.table, evaluations: r.evaluations };
}

const EMPTY = new Float64Array(0);

/** The search's options (PhiSolveOptions without the model's own). */
export type PhiSearchOptions = Pick<PhiSolveOptions, 'relTol' | 'phiRelTol' | 'phiMin' | 'phiMax'> & {
  /** Where to start (required: the caller knows the model's scale); see `warm`. */
  guess: number;
  /** True when `guess` comes from a nearby solution (smaller bracketing steps). Default: `opts.guess` given. */
  warm?: boolean;
  /**
   * A rolling re-solve: keep `guess` when its metric is within this relative band of the goal on EITHER side
   * (|ln(metric/goal)| ≤ keepWithin), so a target that drifts by a few % between refreshes costs one solve;
   * and stop the search at the first φ within the band.
   */
  keepWithin?: number;
  /**
   * d ln(metric) / d ln φ near the root (< 0), e.g. the previous search's: the first bracketing step then
   * jumps to where that slope puts the root (with 10 % overshoot, at most ×10) instead of stepping ×1.2.
   */
  slope?: number;
};

/**
 * The φ search shared by the one-regime and the regime models: `evaluate(φ)` solves the stationary policy at
 * φ and returns its inventory law (and anything else, kept for the returned point); the root of
 * ln(metric(law)/goal) is bracketed by geometric steps in φ and found by the Illinois method on ln φ, always
 * returning a φ that meets the target (status as PhiSolution's).
 */
export function searchPhi<T extends { law: L }, L>(
  evaluate: (phi: number) => T,
  metric: (l: L) => number,
  goal: number,
  opts: PhiSearchOptions,
): {
  phi: number;
  status: PhiSolution['status'];
  law: L;
  value: T;
  evaluations: number;
  /** d ln(metric) / d ln φ across the final bracket (undefined without one): `slope` for the next search. */
  slope?: number;
} {
  const relTol = opts.relTol ?? 1e-3;
  const uTol = Math.log1p(opts.phiRelTol ?? 1e-3);
  const phiMin = opts.phiMin ?? 1e-12;
  const phiMax = opts.phiMax ?? 1e6;
  let evaluations = 0;
  const evalAt = (phi: number) => {
    const value = evaluate(phi);
    evaluations++;
    // f = ln(metric / goal): > 0 too much inventory risk, ≤ 0 the target is met.
    const m = metric(value.law);
    const f = Math.log(Math.max(m, 1e-300) / goal);
    return { phi, value, f };
  };
  type Point = ReturnType<typeof evalAt>;
  const done = (pt: Point, status: PhiSolution['status'], slope?: number) => ({
    phi: pt.phi,
    status,
    law: pt.value.law,
    value: pt.value,
    evaluations,
    slope,
  });
  const start = clamp(opts.guess, phiMin, phiMax);
  let a: Point; // f > 0 (φ too small)
  let b: Point; // f ≤ 0 (φ large enough)
  const first = evalAt(start);
  // The start already meets the target to the tolerance (a warm start usually does): done.
  if (first.f <= 0 && -first.f <= relTol && first.phi > phiMin) return done(first, 'met');
  const band = opts.keepWithin;
  const inBand = (pt: Point) => band !== undefined && Math.abs(pt.f) <= band && pt.phi > phiMin;
  if (inBand(first)) return done(first, 'met');
  // Bracketing steps grow geometrically (squared each time): small around a warm guess, ×4 otherwise.
  let step = opts.warm ? 1.2 : 4;
  if (opts.slope !== undefined && opts.slope < 0 && Number.isFinite(opts.slope))
    step = Math.min(10, Math.max(1.2, 1.1 * Math.exp(Math.abs(first.f / opts.slope))));
  if (first.f > 0) {
    a = first;
    let pt = first;
    while (pt.f > 0) {
      if (pt.phi >= phiMax) return done(pt, 'unreachable');
      a = pt;
      pt = evalAt(Math.min(phiMax, pt.phi * step));
      if (inBand(pt)) return done(pt, 'met');
      step = Math.min(step * step, 1e4);
    }
    b = pt;
  } else {
    b = first;
    let pt = first;
    while (pt.f <= 0) {
      if (pt.phi <= phiMin) {
        const zero = evalAt(0);
        return zero.f <= 0 ? done(zero, 'unconstrained') : done(pt, 'met');
      }
      b = pt;
      pt = evalAt(Math.max(phiMin, pt.phi / step));
      if (inBand(pt)) return done(pt, 'met');
      step = Math.min(step * step, 1e4);
    }
    a = pt;
  }
  // Illinois (regula falsi with halving of the stale end) on u = ln φ.
  let ua = Math.log(a.phi);
  let ub = Math.log(b.phi);
  let fa = a.f;
  let fb = b.f;
  let side = 0;
  for (let it = 0; it < 60; it++) {
    // The metric is piecewise constant in φ where the policy moves between tick levels: then the search
    // converges on the jump, stopped at phiRelTol of φ.
    if (-b.f <= relTol || ub - ua <= uTol) break;
    const u = (ua * fb - ub * fa) / (fb - fa);
    const uu = u > ua && u < ub ? u : 0.5 * (ua + ub);
    const pt = evalAt(Math.exp(uu));
    if (inBand(pt)) return done(pt, 'met');
    if (pt.f > 0) {
      a = pt;
      ua = uu;
      fa = pt.f;
      if (side === -1) fb /= 2;
      side = -1;
    } else {
      b = pt;
      ub = uu;
      fb = pt.f;
      if (side === 1) fa /= 2;
      side = 1;
    }
  }
  const du = Math.log(b.phi) - Math.log(a.phi);
  return done(b, 'met', du > 0 && b.phi > 0 && a.phi > 0 ? (b.f - a.f) / du : undefined);
}

/**
 * d ln(metric)/d ln φ of warmSecantPhi's steps: the trend of the RMS through the steps of its staircase (a
 * one-regime law's RMS goes about as φ^−¼). Not re-estimated from the points of a search: two points a few %
 * apart on a staircase give 0 (same step) or a jump's slope (across one), neither the trend.
 */
const PHI_SLOPE = -0.25;
/** Secant evaluations before warmSecantPhi hands an unbracketed search to searchPhi. */
const SECANT_STEPS = 5;
/** Largest factor on φ of one secant step. */
const SECANT_MAX_STEP = Math.log(10);

/**
 * A rolling re-solve's φ search, warm from the previous φ, with searchPhi's stopping rule (a φ whose metric
 * lies in [goal·(1 − relTol), goal], or the meeting end of a bracket narrower than phiRelTol). From the old φ
 * it steps on u = ln φ by the secant rule with the trend's slope (PHI_SLOPE), aimed at the middle of the band
 * (f = ln(metric/goal) = −relTol/2); once the root is bracketed, regula falsi with the Illinois weights,
 * never nearer than phiRelTol to an end.
 * With fill levels (the two-part depth model) the metric is a staircase in φ — it moves only where the
 * policy changes tick level — so the search mostly ends on a phiRelTol bracket across a step: the secant
 * step puts the first new point near that step (the trend through the steps is smooth), where bracketing
 * steps from the old φ (×1.2, squared each time) overshoot and then bisect. Unbracketed after a few steps,
 * or at the ends of the range, searchPhi finishes from the last point.
 */
export function warmSecantPhi<T extends { law: L }, L>(
  evaluate: (phi: number) => T,
  metric: (l: L) => number,
  goal: number,
  opts: PhiSearchOptions,
): ReturnType<typeof searchPhi<T, L>> {
  const relTol = opts.relTol ?? 1e-3;
  const uTol = Math.log1p(opts.phiRelTol ?? 1e-3);
  const phiMin = opts.phiMin ?? 1e-12;
  const phiMax = opts.phiMax ?? 1e6;
  const aim = -relTol / 2;
  let evaluations = 0;
  const evalAt = (u: number) => {
    const phi = Math.exp(u);
    const value = evaluate(phi);
    evaluations++;
    return { phi, u, value, f: Math.log(Math.max(metric(value.law), 1e-300) / goal) };
  };
  type Point = ReturnType<typeof evalAt>;
  const met = (pt: Point) => pt.f <= 0 && -pt.f <= relTol && pt.phi > phiMin;
  const done = (pt: Point) => ({
    phi: pt.phi,
    status: 'met' as const,
    law: pt.value.law,
    value: pt.value,
    evaluations,
  });
  let pt = evalAt(Math.log(clamp(opts.guess, phiMin, phiMax)));
  if (met(pt)) return done(pt);
  // a: f > 0 (φ too small); b: f < −relTol (φ larger than needed). g = f − aim changes sign between them.
  let a: Point | undefined;
  let b: Point | undefined;
  let ga = 0;
  let gb = 0;
  let side = 0;
  // A step just inside phiRelTol: where the metric jumps across the band, a bracket this wide ends the search.
  const minStep = uTol * (1 - 1e-9);
  for (let k = 1; k < 60; k++) {
    if (pt.f > 0) {
      a = pt;
      ga = pt.f - aim;
      if (side === -1) gb /= 2;
      side = -1;
    } else {
      b = pt;
      gb = pt.f - aim;
      if (side === 1) ga /= 2;
      side = 1;
    }
    let u: number;
    if (a && b) {
      const width = b.u - a.u;
      if (width <= uTol) return done(b);
      u = (a.u * gb - b.u * ga) / (gb - ga);
      if (!(u > a.u && u < b.u)) u = 0.5 * (a.u + b.u);
      // Safeguard (the metric is piecewise constant where the policy changes tick level): never closer than
      // phiRelTol to an end, so each step either ends the search or shrinks the bracket by phiRelTol.
      if (width <= 2 * minStep) u = 0.5 * (a.u + b.u);
      else u = Math.min(b.u - minStep, Math.max(a.u + minStep, u));
    } else {
      if (k >= SECANT_STEPS) break;
      let du = Math.min(SECANT_MAX_STEP, Math.max(-SECANT_MAX_STEP, (aim - pt.f) / PHI_SLOPE));
      if (Math.abs(du) < minStep) du = pt.f > 0 ? minStep : -minStep;
      u = pt.u + du;
    }
    if (!(Math.exp(u) > phiMin && Math.exp(u) < phiMax)) break;
    pt = evalAt(u);
    if (met(pt)) return done(pt);
  }
  // Unbracketed (or at the range's ends): the bracketing search from the last point.
  const r = searchPhi(evaluate, metric, goal, { ...opts, guess: pt.phi, warm: true });
  return { ...r, evaluations: evaluations + r.evaluations };
}

function clamp(x: number, lo: number, hi: number): number {
  return Math.min(hi, Math.max(lo, x));
}

/** A starting φ of the right order: 1 % of the mean λ/κ (price/s) per lot². */
export function defaultGuess(p: ModelParams): number {
  const g = 0.005 * (p.lambdaPlus / p.kappaPlus + p.lambdaMinus / p.kappaMinus);
  return g > 0 && Number.isFinite(g) ? g : 1e-3;
}
