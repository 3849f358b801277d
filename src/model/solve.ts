/**
 * The model's front door: one call gives the optimal quotes for every inventory level.
 *
 *   solveQuotes(params, { horizon: 1800 })               finite horizon, T − t = 1800 s
 *   solveQuotes(params, { horizon: Infinity })           stationary (receding-horizon) quotes
 *   solveQuotes(params, { horizon, mode: 'touch', halfSpread: tick / 2 })   post at the touch or not
 *
 * Depth mode picks the exact matrix solution when κ⁺ = κ⁻ (falling back to the stiff ODE when the spectral
 * sum cannot guarantee accuracy), the stiff ODE otherwise, and the Perron eigenvector / ergodic Newton
 * solve for an infinite horizon.
 */
import { depthTerminal, solveDepthOde } from './asymmetric.ts';
import { arrivalRate, CompiledFill } from './fill-rate.ts';
import { HjbSystem, integrateHjb } from './hjb.ts';
import { assertModelParams, hasFillCurves, stateCount } from './params.ts';
import { solveSymmetricSpectral } from './spectral.ts';
import { stationaryGeneral, stationarySymmetric } from './stationary.ts';
import { solveSymmetricMatrix } from './symmetric.ts';
import { postAsk, postBid, solveTouchStationary, touchTerminal } from './touch.ts';
import type { Horizon, ModelParams, QuoteMode, QuoteTable } from './types.ts';

export interface SolveOptions {
  /** T − t in seconds; Infinity for stationary quotes. */
  horizon: Horizon;
  mode?: QuoteMode;
  /** Δ/2 (price) for touch mode: the half-spread earned by a fill at the touch. */
  halfSpread?: number;
  /** Relative accuracy of the depths (default 1e-10). */
  tol?: number;
  /**
   * Stationary solves by Newton (asymmetric κ, fill curves, touch mode): a guess of h, e.g. the table of a
   * nearby parameter set, to start from instead of a burn-in integration.
   */
  init?: Float64Array;
}

export function checkOptions(opts: SolveOptions): void {
  const { horizon, mode = 'depth', halfSpread } = opts;
  if (!(horizon >= 0))
    throw new RangeError(`horizon must be a number of seconds >= 0 or Infinity (got ${horizon})`);
  if (mode !== 'depth' && mode !== 'touch')
    throw new RangeError(`mode must be 'depth' or 'touch' (got ${mode})`);
  if (
    mode === 'touch' &&
    !(typeof halfSpread === 'number' && halfSpread > 0 && Number.isFinite(halfSpread))
  ) {
    throw new RangeError(`halfSpread must be a number > 0 in touch mode (got ${halfSpread})`);
  }
}

/** Builds the quote table (depths, fill rates, drift) from a value function h over qMin..qMax. */
export function quoteTableFromH(
  p: ModelParams,
  h: Float64Array,
  mode: QuoteMode = 'depth',
  halfSpread = 0,
  /** Backing store for the five rows (≥ 5·n doubles from its start; zeroed here). */
  into?: ArrayBuffer,
  /** Fill curves: `p`'s, compiled (e.g. an HjbSystem's), instead of compiling them again. */
  compiled?: { plus: CompiledFill; minus: CompiledFill },
): QuoteTable {
  const n = h.length;
  // One backing store for the five rows: a rolling strategy builds a table per solve, and each small typed
  // array of its own is an off-heap allocation the collector must free.
  const buf = into ?? new ArrayBuffer(5 * n * Float64Array.BYTES_PER_ELEMENT);
  if (into) new Float64Array(into, 0, 5 * n).fill(0);
  const deltaPlus = new Float64Array(buf, 0, n);
  const deltaMinus = new Float64Array(buf, 8 * n, n);
  const fillRatePlus = new Float64Array(buf, 16 * n, n);
  const fillRateMinus = new Float64Array(buf, 24 * n, n);
  const drift = new Float64Array(buf, 32 * n, n);
  const c = p.feePerFill;
  if (mode === 'depth' && hasFillCurves(p)) {
    fillCurveTable(p, h, deltaPlus, deltaMinus, fillRatePlus, fillRateMinus, compiled);
    for (let i = 0; i < n; i++) drift[i] = fillRateMinus[i] - fillRatePlus[i];
    return { qMin: p.qMin, qMax: p.qMax, h, deltaPlus, deltaMinus, fillRatePlus, fillRateMinus, drift };
  }
  if (mode === 'depth') {
    // The parameters read once (the same expressions, evaluated in the same order, as per row).
    const { kappaPlus: kP, kappaMinus: kM, lambdaPlus: lP, lambdaMinus: lM } = p;
    const aP = 1 / kP + p.epsilonPlus + c;
    const aM = 1 / kM + p.epsilonMinus + c;
    for (let i = 0; i < n; i++) {
      if (i > 0) {
        const d = aP - (h[i - 1] - h[i]);
        deltaPlus[i] = d;
        fillRatePlus[i] = lP * Math.exp(-kP * d);
      } else deltaPlus[i] = Number.NaN;
      if (i < n - 1) {
        const d = aM - (h[i + 1] - h[i]);
        deltaMinus[i] = d;
        fillRateMinus[i] = lM * Math.exp(-kM * d);
      } else deltaMinus[i] = Number.NaN;
      drift[i] = fillRateMinus[i] - fillRatePlus[i];
    }
    return { qMin: p.qMin, qMax: p.qMax, h, deltaPlus, deltaMinus, fillRatePlus, fillRateMinus, drift };
  }
  for (let i = 0; i < n; i++) {
    if (postAsk(p, halfSpread, h, i)) {
      deltaPlus[i] = halfSpread;
      fillRatePlus[i] = p.lambdaPlus;
    } else deltaPlus[i] = Number.NaN;
    if (postBid(p, halfSpread, h, i)) {
      deltaMinus[i] = halfSpread;
      fillRateMinus[i] = p.lambdaMinus;
    } else deltaMinus[i] = Number.NaN;
    drift[i] = fillRateMinus[i] - fillRatePlus[i];
  }
  return { qMin: p.qMin, qMax: p.qMax, h, deltaPlus, deltaMinus, fillRatePlus, fillRateMinus, drift };
}

/** Depths and fill rates of the general fill-rate model: δ* and Λ(δ*) of each side's best quote. */
function fillCurveTable(
  p: ModelParams,
  h: Float64Array,
  deltaPlus: Float64Array,
  deltaMinus: Float64Array,
  fillRatePlus: Float64Array,
  fillRateMinus: Float64Array,
  compiled: { plus: CompiledFill; minus: CompiledFill } | undefined,
): void {
  const n = h.length;
  const plus =
    compiled?.plus ??
    new CompiledFill(p.fillPlus ?? { kind: 'exponential', lambda: p.lambdaPlus, kappa: p.kappaPlus });
  const minus =
    compiled?.minus ??
    new CompiledFill(p.fillMinus ?? { kind: 'exponential', lambda: p.lambdaMinus, kappa: p.kappaMinus });
  const cP = p.epsilonPlus + p.feePerFill;
  const cM = p.epsilonMinus + p.feePerFill;
  for (let i = 0; i < n; i++) {
    deltaPlus[i] = Number.NaN;
    deltaMinus[i] = Number.NaN;
    if (i > 0 && plus.arrival > 0) {
      plus.evaluate(h[i - 1] - h[i] - cP);
      if (plus.delta < Number.POSITIVE_INFINITY) {
        deltaPlus[i] = plus.delta;
        fillRatePlus[i] = plus.rate;
      }
    }
    if (i < n - 1 && minus.arrival > 0) {
      minus.evaluate(h[i + 1] - h[i] - cM);
      if (minus.delta < Number.POSITIVE_INFINITY) {
        deltaMinus[i] = minus.delta;
        fillRateMinus[i] = minus.rate;
      }
    }
  }
}

/** Value function h(T − horizon, ·) for a finite horizon, and the solver used. */
export function solveValue(
  p: ModelParams,
  opts: SolveOptions,
): { h: Float64Array; method: 'matrix' | 'ode'; growthRate?: undefined } {
  const { horizon, mode = 'depth', halfSpread = 0, tol = 1e-10 } = opts;
  const n = stateCount(p);
  const h = new Float64Array(n);
  if (mode === 'touch') {
    touchTerminal(p, halfSpread, h);
    if (horizon > 0) integrateHjb(new HjbSystem(p, 'touch', halfSpread), h, horizon, { tol });
    return { h, method: 'ode' };
  }
  // Relative accuracy tol on every ω_q means accuracy 2·tol on the depths' scale 1/κ (Δh = Δ ln ω / κ).
  // Symmetric κ: the dominant eigenmodes with componentwise accuracy (O(n) per mode, any horizon past a
  // short transient), else the full spectral sum (short horizons, small n), else the ODE.
  if (
    !hasFillCurves(p) &&
    p.kappaPlus === p.kappaMinus &&
    (solveSymmetricSpectral(p, horizon, h, tol) || solveSymmetricMatrix(p, horizon, h, tol))
  )
    return { h, method: 'matrix' };
  depthTerminal(p, h);
  // The integrator's estimate bounds the error of the order-7 tableau entry; the order-8 result it returns
  // is far more accurate (measured: tolerance 1e-9 gives depths to ~2e-11 of 1/κ), so ask for 10·tol.
  solveDepthOde(p, horizon, { tol: 10 * tol }, h);
  return { h, method: 'ode' };
}

/** Optimal quotes at T − t = horizon (Infinity = stationary) for every inventory level. */
export function solveQuotes(p: ModelParams, opts: SolveOptions): QuoteTable {
  assertModelParams(p);
  checkOptions(opts);
  return solveQuotesValid(p, opts);
}

/** With one side never trading, inventory only drifts one way: there is no steady state to quote at. */
function checkStationaryRates(p: ModelParams, curves: boolean): void {
  for (const k of ['lambdaPlus', 'lambdaMinus'] as const) {
    const curve = curves ? (k === 'lambdaPlus' ? p.fillPlus : p.fillMinus) : undefined;
    const rate = curve ? arrivalRate(curve) : p[k];
    if (!(rate > 0))
      throw new RangeError(`${k} must be > 0 for stationary quotes (got ${rate}); use a finite horizon`);
  }
}

/**
 * Stationary depth-mode solves of one model at many φ, for a φ search: where solveQuotesValid takes the
 * ergodic Newton path (fill curves or κ⁺ ≠ κ⁻), the HJB system is built once and re-targeted per φ, and a
 * solve gives v, g and the fill rates (in arrays reused by the next solve) without a table; `table(v, g)`
 * then builds the kept point's table, the numbers solveQuotesValid gives. Undefined on the other paths.
 * `p` is the caller's parameter object, validated, with φ set by the caller before each solve.
 */
export function stationaryPhiSolver(
  p: ModelParams,
  opts: SolveOptions,
):
  | {
      solve(init: Float64Array | undefined): {
        h: Float64Array;
        growthRate: number;
        fillRatePlus: Float64Array;
        fillRateMinus: Float64Array;
      };
      table(h: Float64Array, growthRate: number): QuoteTable;
    }
  | undefined {
  const mode = opts.mode ?? 'depth';
  if (opts.horizon !== Number.POSITIVE_INFINITY || mode !== 'depth') return undefined;
  const curves = hasFillCurves(p);
  if (!curves && p.kappaPlus === p.kappaMinus) return undefined;
  checkStationaryRates(p, curves);
  const n = stateCount(p);
  // The work arrays (each step's v, the system's, the fill rates) come from a pool per state count, shared
  // by the searches one after another: small typed arrays are costly to make, and a rolling strategy makes
  // a search per parameter refresh. A solver made later takes the pool over; an earlier one still in use
  // then solves with arrays (and a system) of its own — the same numbers (the system's memo is a cache).
  const pool = takePhiPool(n);
  const owner = pool.owner;
  const owns = () => pool.owner === owner;
  const shared = new HjbSystem(p, 'depth', 0, pool);
  let own: HjbSystem | undefined;
  // Fill levels on both sides: the fill rates of the solution's policy are the Jacobian's off-diagonals at
  // it (G'(x) = Λ(δ*), from the same evaluations of the same curves as the table's, and a levels curve is
  // never capped), which the solve has just computed: no table per φ step.
  const c = shared.curves;
  const levels = c !== undefined && c.plus.curve.kind === 'levels' && c.minus.curve.kind === 'levels';
  let ownJacobian: { sub: Float64Array; sup: Float64Array } | undefined;
  let buf: ArrayBuffer | undefined;
  let used = 0;
  return {
    solve(init) {
      const mine = owns();
      const sys = mine ? shared : (own ??= new HjbSystem(p, 'depth', 0));
      sys.setPhi(p.phi);
      let out: Float64Array;
      if (mine) {
        if (used === pool.arrays.length) pool.arrays.push(new Float64Array(n));
        out = pool.arrays[used++];
      } else out = new Float64Array(n);
      const jacobian = !levels
        ? undefined
        : mine
          ? pool.jacobian
          : (ownJacobian ??= { sub: new Float64Array(n), sup: new Float64Array(n) });
      const s = stationaryGeneral(p, 'depth', 0, init, sys, jacobian, out);
      if (jacobian)
        return { h: s.h, growthRate: s.growthRate, fillRatePlus: jacobian.sub, fillRateMinus: jacobian.sup };
      buf ??= new ArrayBuffer(5 * n * Float64Array.BYTES_PER_ELEMENT);
      const t = quoteTableFromH(p, s.h, 'depth', 0, buf);
      return {
        h: s.h,
        growthRate: s.growthRate,
        fillRatePlus: t.fillRatePlus,
        fillRateMinus: t.fillRateMinus,
      };
    },
    table(h, growthRate) {
      // The table's rows and its copy of h in one backing store; the curves as the system compiled them.
      const store = new ArrayBuffer(6 * n * Float64Array.BYTES_PER_ELEMENT);
      const kept = new Float64Array(store, 5 * n * Float64Array.BYTES_PER_ELEMENT, n);
      kept.set(h);
      return {
        ...quoteTableFromH(p, kept, 'depth', 0, store, shared.curves),
        growthRate,
        method: 'ergodic',
      };
    },
  };
}

/** A φ search's work arrays for n states; `owner` changes with each solver that takes them. */
interface PhiPool {
  owner: object;
  /** Each step's v. */
  arrays: Float64Array[];
  /** The HjbSystem's (n and 5n). */
  base: Float64Array;
  memo: Float64Array;
  /** The fill rates of a step's policy (fill levels on both sides). */
  jacobian: { sub: Float64Array; sup: Float64Array };
}

const PHI_POOLS = new Map<number, PhiPool>();

function takePhiPool(n: number): PhiPool {
  let pool = PHI_POOLS.get(n);
  if (!pool) {
    pool = {
      owner: {},
      arrays: [],
      base: new Float64Array(n),
      memo: new Float64Array(5 * n),
      jacobian: { sub: new Float64Array(n), sup: new Float64Array(n) },
    };
    PHI_POOLS.set(n, pool);
  } else pool.owner = {};
  return pool;
}

/**
 * solveQuotes for parameters and options already validated (assertModelParams, and the options once): a search
 * that solves the same model at many φ checks it once.
 */
export function solveQuotesValid(p: ModelParams, opts: SolveOptions): QuoteTable {
  const mode = opts.mode ?? 'depth';
  const halfSpread = opts.halfSpread ?? 0;
  if (opts.horizon === Number.POSITIVE_INFINITY) {
    const curves = mode === 'depth' && hasFillCurves(p);
    checkStationaryRates(p, curves);
    if (mode === 'depth' && !curves && p.kappaPlus === p.kappaMinus) {
      const s = stationarySymmetric(p);
      if (s) return { ...quoteTableFromH(p, s.h), growthRate: s.growthRate, method: 'perron' };
    }
    const s =
      mode === 'touch'
        ? solveTouchStationary(p, halfSpread, opts.init)
        : stationaryGeneral(p, 'depth', 0, opts.init);
    return { ...quoteTableFromH(p, s.h, mode, halfSpread), growthRate: s.growthRate, method: 'ergodic' };
  }
  const { h, method } = solveValue(p, opts);
  return { ...quoteTableFromH(p, h, mode, halfSpread), method };
}

/**
 * Value functions on a grid of backward times τ_k = k·T/steps (k = 0..steps), from one backward
 * integration (row k of the result is h(T − τ_k, ·)). For simulators and backtests that need the
 * time-dependent finite-horizon policy.
 */
export function valueGrid(
  p: ModelParams,
  T: number,
  steps: number,
  mode: QuoteMode = 'depth',
  halfSpread = 0,
  tol = 1e-10,
): Float64Array[] {
  assertModelParams(p);
  checkOptions({ horizon: T, mode, halfSpread });
  const n = stateCount(p);
  const h = new Float64Array(n);
  if (mode === 'touch') touchTerminal(p, halfSpread, h);
  else depthTerminal(p, h);
  const times = new Float64Array(steps + 1);
  for (let k = 0; k <= steps; k++) times[k] = (k * T) / steps;
  const rows: Float64Array[] = new Array(steps + 1);
  integrateHjb(new HjbSystem(p, mode, halfSpread), h, T, {
    tol,
    outputTimes: times,
    onOutput: (k, _tau, y) => {
      rows[k] = Float64Array.from(y);
    },
  });
  return rows;
}
