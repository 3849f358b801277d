/**
 * The controlled (inventory, regime) process of the imbalance-regime model, and φ from an inventory target on it.
 *
 * Under per-regime quote tables the state (q, z) is a continuous-time Markov chain: a bid fill (rate
 * Λ⁻_z(δ⁻(q, z))) takes q → q+1, an ask fill (Λ⁺_z(δ⁺(q, z))) takes q → q−1, and the regime switches z → w
 * at the generator's rate C_zw whatever q is. Its generator is block tridiagonal in q (levels) with m×m blocks:
 * the diagonal block carries C, the off-diagonal blocks are diagonal (a fill changes q, not z). The long-run
 * law π(q, z) — what the strategy's inventory spends its time at when the regime keeps switching — is NOT the
 * pooled one-regime law: while a regime lasts, its own flow and drift push inventory its way. Solved by linear
 * level reduction with GTH, to componentwise relative accuracy (joint-law.ts).
 *
 * φ from a target: as solvePhiForTarget (inventory.ts) with the joint law's inventory marginal. E_π[q²] is
 * non-increasing in φ here too: the stationary policy maximises the long-run rate R − φE_π[q²] over the same
 * set of (q, z)-feedback policies whatever φ is, and comparing the optima at φ₁ < φ₂ gives
 * (φ₂ − φ₁)(M₁ − M₂) ≥ 0.
 */
import {
  type InventoryLaw,
  type InventoryTarget,
  inventoryLawOf,
  type PhiSolution,
  searchPhi,
  validateInventoryTarget,
} from './inventory.ts';
import { qbdStationaryLaw } from './joint-law.ts';
import {
  type RegimeModelParams,
  type RegimeQuoteTable,
  regimeStationaryLaw,
  solveRegimeQuotes,
} from './regime.ts';
import type { QuoteTable } from './types.ts';

export interface JointInventoryLaw extends InventoryLaw {
  /** Number of regimes. */
  m: number;
  /** π(q, z), index (q − qMin)·m + z; 0 outside the levels reachable from q = 0. */
  joint: Float64Array;
  /** Marginal law of the regime (equals the regime chain's own stationary law). */
  regime: Float64Array;
  /** Per regime z: π(q̲ or q̄ | z), the share of regime z's time spent at a bound. */
  atBoundsByRegime: Float64Array;
}

type Rates = Pick<QuoteTable, 'qMin' | 'qMax' | 'fillRatePlus' | 'fillRateMinus'>;

/**
 * The stationary law of (q, z) under per-regime tables (one per regime, same bounds) and the regime generator
 * (m×m row-major, diagonal ignored; irreducible). Started from q = 0: the law lives on the inventory levels
 * reachable from it. Throws a RangeError when that chain is not irreducible (a level from which no regime's
 * fills bring inventory back).
 */
export function stationaryRegimeInventory(
  tables: readonly Rates[],
  generator: ArrayLike<number>,
): JointInventoryLaw {
  const m = tables.length;
  if (m < 1) throw new RangeError('stationaryRegimeInventory: give at least one regime table');
  if (generator.length !== m * m)
    throw new RangeError(`generator must be ${m}×${m} (got ${generator.length})`);
  const { qMin, qMax } = tables[0];
  for (const t of tables)
    if (t.qMin !== qMin || t.qMax !== qMax)
      throw new RangeError('stationaryRegimeInventory: every regime table needs the same inventory bounds');
  const n = qMax - qMin + 1;
  // Rates per (level, regime): up = bid fills (q → q+1), down = ask fills (q → q−1).
  const { up, down } = ratesScratch(n, m);
  for (let z = 0; z < m; z++) {
    const t = tables[z];
    for (let i = 0; i < n; i++) {
      up[i * m + z] = t.fillRateMinus[i];
      down[i * m + z] = t.fillRatePlus[i];
    }
  }
  const C = new Float64Array(m * m);
  for (let z = 0; z < m; z++)
    for (let w = 0; w < m; w++) {
      const c = generator[z * m + w];
      if (z !== w) {
        if (!(Number.isFinite(c) && c >= 0))
          throw new RangeError(`generator[${z}][${w}] must be a finite rate >= 0 (got ${c})`);
        C[z * m + w] = c;
      }
    }
  const { joint } = qbdStationaryLaw(n, m, qMin, up, down, C);
  const pi = new Float64Array(n);
  const regime = new Float64Array(m);
  for (let i = 0; i < n; i++) {
    let a = 0;
    for (let z = 0; z < m; z++) {
      a += joint[i * m + z];
      regime[z] += joint[i * m + z];
    }
    pi[i] = a;
  }
  const atBoundsByRegime = new Float64Array(m);
  for (let z = 0; z < m; z++) {
    const b = joint[z] + (n > 1 ? joint[(n - 1) * m + z] : 0);
    atBoundsByRegime[z] = regime[z] > 0 ? b / regime[z] : 0;
  }
  return { ...inventoryLawOf(qMin, qMax, pi), m, joint, regime, atBoundsByRegime };
}

/** The per-(level, regime) fill rates handed to the law (kept per shape: the law is computed synchronously). */
let rates: { up: Float64Array; down: Float64Array } | undefined;
function ratesScratch(n: number, m: number): { up: Float64Array; down: Float64Array } {
  if (rates?.up.length !== n * m) rates = { up: new Float64Array(n * m), down: new Float64Array(n * m) };
  return rates;
}

export interface RegimePhiSolveOptions {
  /** Where to start the search (e.g. the previous refresh's φ, or the pooled model's); default from λ/κ. */
  guess?: number;
  /** A nearby stationary regime solution (e.g. the previous one) to warm-start the first solve. */
  warmStart?: RegimeQuoteTable;
  /** Relative accuracy of the target metric (default 1e-3), or of φ where the metric jumps (default 1e-3). */
  relTol?: number;
  phiRelTol?: number;
  /** Search range of φ (price/(lot²·s)); default [1e-12, 1e6]. */
  phiMin?: number;
  phiMax?: number;
  /** Keep `guess` when its metric is within this relative band of the target on either side (searchPhi). */
  keepWithin?: number;
  /** d ln(metric)/d ln φ near the root, e.g. the previous search's `slope` (searchPhi). */
  slope?: number;
}

export interface RegimePhiSolution {
  phi: number;
  status: PhiSolution['status'];
  /** The joint stationary law at φ (its inventory marginal is what the target constrains). */
  law: JointInventoryLaw;
  /** The stationary regime quotes at φ. */
  solution: RegimeQuoteTable;
  evaluations: number;
  /** d ln(metric)/d ln φ across the last search's final bracket (for the next refresh), when there was one. */
  slope?: number;
}

/**
 * φ such that the regime model's stationary policy, run with the regime switching by its generator, has a
 * long-run inventory law (the joint law's marginal in q) meeting `target`; with both targets the larger φ.
 * `rp.regimes[*].phi` is ignored. Pure; one stationary regime solve per step, each warm-started from the last.
 */
export function solveRegimePhiForTarget(
  rp: RegimeModelParams,
  target: InventoryTarget,
  opts: RegimePhiSolveOptions = {},
): RegimePhiSolution {
  const errors = validateInventoryTarget(target);
  if (errors.length > 0) throw new RangeError(errors.join('; '));
  const m = rp.regimes.length;
  // Two regimes of equal φ must not differ otherwise; the solver checks the rest.
  let warm = opts.warmStart;
  // A rolling refresh (a warm guess and a band): its solves stop at ROLLING_NEWTON_TOL.
  const rolling = opts.guess !== undefined && opts.keepWithin !== undefined;
  const evaluate = (phi: number) => {
    const solution = solveRegimeQuotes(
      { regimes: rp.regimes.map((p) => ({ ...p, phi })), generator: rp.generator },
      {
        horizon: Number.POSITIVE_INFINITY,
        warmStart: warm,
        warmTol: rolling ? ROLLING_NEWTON_TOL : undefined,
      },
    );
    warm = solution;
    return { solution, law: stationaryRegimeInventory(solution.tables, m === 1 ? [0] : rp.generator) };
  };
  let best: RegimePhiSolution | undefined;
  let evaluations = 0;
  let guess = opts.guess;
  for (const kind of ['stdLots', 'maxTimeAtBound'] as const) {
    const goal = target[kind];
    if (goal === undefined) continue;
    const metric = kind === 'stdLots' ? (l: InventoryLaw) => l.rms : (l: InventoryLaw) => l.atBounds;
    const searchOpts = {
      relTol: opts.relTol,
      phiRelTol: opts.phiRelTol,
      phiMin: opts.phiMin,
      phiMax: opts.phiMax,
      keepWithin: opts.keepWithin,
      slope: opts.slope,
      guess: guess ?? regimeGuess(rp, regimeStationaryLaw(rp.generator, m)),
      warm: guess !== undefined,
    };
    const r =
      guess !== undefined && opts.keepWithin !== undefined
        ? secantPhi(evaluate, metric, goal, { ...searchOpts, keepWithin: opts.keepWithin })
        : searchPhi(evaluate, metric, goal, searchOpts);
    evaluations += r.evaluations;
    phiSearchStats.searches++;
    phiSearchStats.evaluations += r.evaluations;
    guess = r.phi > 0 ? r.phi : guess;
    if (!best || r.phi > best.phi)
      best = {
        phi: r.phi,
        status: r.status,
        law: r.value.law,
        solution: r.value.solution,
        evaluations: 0,
        slope: r.slope,
      };
  }
  return { ...best!, evaluations };
}

type SearchResult<T> = ReturnType<typeof searchPhi<T & { law: InventoryLaw }, InventoryLaw>>;

/**
 * Newton's tolerance (relative to the rate scale) of a rolling search's regime solves: the depths then carry
 * errors ~1e-9 of λ/κ (≈1e-7 of a tick on ETH), against round-off at the default 1e-12, and each solve saves
 * its last Newton step.
 */
const ROLLING_NEWTON_TOL = 1e-9;

/** d ln(metric)/d ln φ assumed when no previous search gave one (a one-regime law's RMS goes about as φ^−¼). */
const DEFAULT_SLOPE = -0.25;
/** Secant evaluations before the bracketing search takes over. */
const SECANT_EVALUATIONS = 5;
/** Largest factor on φ of one secant step. */
const SECANT_MAX_STEP = Math.log(10);

/**
 * A rolling refresh's φ search (a warm guess and a band, `keepWithin`, around the goal): secant steps on
 * u = ln φ towards f = ln(metric/goal) = 0 — the first with the previous search's slope, the next with the
 * slope through the last two points, inside the bracket once there is one (Illinois) — stopping at the first
 * φ whose metric lies in the band, as searchPhi does. f is smooth and nearly linear in u (depth mode: the
 * depths are continuous in φ), so the first step usually lands in the band: each evaluation is near the last
 * and its regime solve, warm-started from it, takes few Newton steps. Where it does not land within a few
 * evaluations (or φ reaches the range's ends), searchPhi finishes from the point nearest the goal.
 */
function secantPhi<T extends { law: InventoryLaw }>(
  evaluate: (phi: number) => T,
  metric: (l: InventoryLaw) => number,
  goal: number,
  opts: Parameters<typeof searchPhi>[3] & { keepWithin: number },
): SearchResult<T> {
  const phiMin = opts.phiMin ?? 1e-12;
  const phiMax = opts.phiMax ?? 1e6;
  const band = opts.keepWithin;
  let evaluations = 0;
  const evalAt = (phi: number) => {
    const value = evaluate(phi);
    evaluations++;
    return { phi, u: Math.log(phi), value, f: Math.log(Math.max(metric(value.law), 1e-300) / goal) };
  };
  type Point = ReturnType<typeof evalAt>;
  const inBand = (pt: Point) => Math.abs(pt.f) <= band && pt.phi > phiMin;
  const done = (pt: Point, slope?: number): SearchResult<T> => ({
    phi: pt.phi,
    status: 'met',
    law: pt.value.law,
    value: pt.value,
    evaluations,
    slope,
  });
  let pt = evalAt(Math.min(phiMax, Math.max(phiMin, opts.guess)));
  if (inBand(pt)) return done(pt);
  let slope =
    opts.slope !== undefined && opts.slope < 0 && Number.isFinite(opts.slope) ? opts.slope : DEFAULT_SLOPE;
  // a: f > 0 (φ too small), b: f ≤ 0, once seen; the Illinois weights halve a stale end.
  let a: Point | undefined;
  let b: Point | undefined;
  let fa = 0;
  let fb = 0;
  let side = 0;
  let best = pt;
  let measured: number | undefined;
  for (let k = 1; k < SECANT_EVALUATIONS; k++) {
    if (pt.f > 0) {
      a = pt;
      fa = pt.f;
      if (side === -1) fb /= 2;
      side = -1;
    } else {
      b = pt;
      fb = pt.f;
      if (side === 1) fa /= 2;
      side = 1;
    }
    let u: number;
    if (a && b) {
      u = (a.u * fb - b.u * fa) / (fb - fa);
      if (!(u > a.u && u < b.u)) u = 0.5 * (a.u + b.u);
    } else {
      const du = -pt.f / slope;
      u = pt.u + Math.min(SECANT_MAX_STEP, Math.max(-SECANT_MAX_STEP, du));
    }
    const phi = Math.exp(u);
    if (!(phi > phiMin && phi < phiMax)) break;
    const next = evalAt(phi);
    const s = (next.f - pt.f) / (next.u - pt.u);
    if (s < 0 && Number.isFinite(s)) slope = measured = s;
    pt = next;
    if (Math.abs(pt.f) < Math.abs(best.f)) best = pt;
    if (inBand(pt)) return done(pt, measured);
  }
  const r = searchPhi(evaluate, metric, goal, { ...opts, guess: best.phi, warm: true, slope });
  return { ...r, evaluations: evaluations + r.evaluations };
}

/** Running totals of the regime φ searches (benchmarks: regime solves per parameter refresh). */
export const phiSearchStats = { searches: 0, evaluations: 0 };

/** 1 % of the regime-averaged λ/κ per lot² (the one-regime default guess, averaged by time share). */
function regimeGuess(rp: RegimeModelParams, pi: Float64Array): number {
  let g = 0;
  rp.regimes.forEach((p, z) => {
    g += pi[z] * 0.005 * (p.lambdaPlus / p.kappaPlus + p.lambdaMinus / p.kappaMinus);
  });
  return g > 0 && Number.isFinite(g) ? g : 1e-3;
}
