/**
 * Fill-rate models Λ(δ): the rate (1/s) at which a quote resting at depth δ from the mid is filled by market
 * orders of its side. The HJB needs, per side and state, the best quote against the value of a fill x:
 *
 *     G(x) = sup_δ Λ(δ)(δ + x),      x = h(q∓1) − h(q) − ε − c,
 *
 * its maximiser δ*(x) and G'(x) = Λ(δ*(x)) (envelope theorem), which is the Jacobian entry and the fill rate.
 *
 * - `exponential` Λ(δ) = λe^{−κδ} (the model of MATH.md): δ* = 1/κ − x, G = (λ/κ)e^{−1+κx}, smooth.
 * - `levels`: a one-tick book's price levels. Quotes can only rest on the grid δ_j = δ0 + j·tick (δ0 = tick/2
 *   is the touch of a one-tick book), and Λ is a step function: Λ(δ) = Λ_j for δ ∈ (δ_{j−1}, δ_j] (Λ_0 for
 *   δ ≤ δ0: a quote inside the touch fills no more often than one at it). Λ_0..Λ_{J−1} are given and beyond
 *   the last level Λ_{J−1+m} = Λ_{J−1}·r^m (a geometric tail). Within one step (δ + x) grows with δ, so the
 *   supremum sits on a grid point: G(x) = max_j Λ_j(δ_j + x), solved exactly — the head levels one by one, and
 *   the tail in closed form: f(m) = r^m(a + m·tick) (a = δ_{J−1} + x) is unimodal in m with its maximum at
 *   m* = −1/ln r − a/tick, so the best integer is ⌊m*⌋ or ⌈m*⌉ (clipped at 0, and at the depth where Λ has
 *   fallen to 1e-9 of the last level's: MIN_RATE_SHARE). With r = 0 (no tail) not
 *   quoting (gain 0, δ = ∞) is also an option. G is convex and piecewise linear: its kinks are where δ*
 *   jumps from one level to another.
 * The two-part depth model of docs/calibration.md (mass at the touch + exponential tail) is `levels` with
 * Λ_0 = touch rate, Λ_1 = Λ_0(1 − π0) and r = e^{−κ_tail·tick}.
 */

import { F0 } from '../util/shapes.ts';

export interface ExponentialFill {
  kind: 'exponential';
  /** Intensity at the mid (1/s). */
  lambda: number;
  /** Decay (1/price). */
  kappa: number;
}

export interface LevelsFill {
  kind: 'levels';
  /** Depth of level 0 from the mid (price): the touch of a one-tick book, tick/2. */
  delta0: number;
  /** Spacing of the levels (price): the tick. */
  tick: number;
  /** Λ at levels 0..J−1 (1/s); rates[0] > 0. */
  rates: number[];
  /** Λ_{j+1}/Λ_j beyond the last given level, in [0, 1): a geometric tail (0 = no fills beyond). */
  tailRatio: number;
}

export type FillCurve = ExponentialFill | LevelsFill;

/** Exponent cap (as in hjb.ts): e^230 stays far from overflow, its square too. */
const EXP_CAP = 230;

/**
 * Levels: the tail is searched down to Λ = 1e-9 × Λ at the last given level, no deeper. A quote filled a
 * billion times less often is, in practice, no quote; the cap keeps every fill rate positive, so the
 * inventory chain of any policy stays irreducible and policy evaluation well posed in states where the
 * value of a fill is hugely negative (far beyond a bound's penalty).
 */
const MIN_RATE_SHARE = 1e-9;

/** One side's best quote against the value x of a fill: depth (Infinity = do not quote), Λ there, gain. */
export interface BestQuote {
  delta: number;
  rate: number;
  gain: number;
}

/** Checks a curve; returns one message per problem, naming `name`'s fields. */
export function validateFillCurve(c: FillCurve, name: string): string[] {
  const errors: string[] = [];
  const bad = (field: string, v: unknown, want: string) =>
    errors.push(`${name}.${field} must be ${want} (got ${typeof v === 'number' ? v : JSON.stringify(v)})`);
  if (c.kind === 'exponential') {
    if (!(Number.isFinite(c.lambda) && c.lambda >= 0)) bad('lambda', c.lambda, 'a finite number >= 0');
    if (!(Number.isFinite(c.kappa) && c.kappa > 0)) bad('kappa', c.kappa, 'a finite number > 0');
    return errors;
  }
  if (c.kind !== 'levels') {
    errors.push(`${name}.kind must be 'exponential' or 'levels'`);
    return errors;
  }
  if (!(Number.isFinite(c.delta0) && c.delta0 >= 0)) bad('delta0', c.delta0, 'a finite number >= 0');
  if (!(Number.isFinite(c.tick) && c.tick > 0)) bad('tick', c.tick, 'a finite number > 0');
  if (!Array.isArray(c.rates) || c.rates.length === 0) bad('rates', c.rates, 'a non-empty array');
  else {
    c.rates.forEach((r, j) => {
      if (!(Number.isFinite(r) && r >= 0)) bad(`rates[${j}]`, r, 'a finite number >= 0');
    });
    if (!(c.rates[0] > 0)) bad('rates[0]', c.rates[0], '> 0 (the touch must fill)');
  }
  if (!(c.tailRatio >= 0 && c.tailRatio < 1)) bad('tailRatio', c.tailRatio, 'in [0, 1)');
  return errors;
}

/** Λ(δ) (1/s); 0 for δ = ∞ or NaN (not quoted). */
export function fillRate(c: FillCurve, delta: number): number {
  if (!(delta < Number.POSITIVE_INFINITY)) return 0;
  if (c.kind === 'exponential') return c.lambda * Math.exp(-c.kappa * delta);
  const j = Math.max(0, Math.ceil((delta - c.delta0) / c.tick - 1e-9));
  const J = c.rates.length;
  if (j < J) return c.rates[j];
  return c.rates[J - 1] * c.tailRatio ** (j - J + 1);
}

/** Rate of the MOs that can fill a quote at all: Λ at the touch (levels) or at the mid (exponential). */
export function arrivalRate(c: FillCurve): number {
  return c.kind === 'exponential' ? c.lambda : c.rates[0];
}

/** What a levels curve's solver needs, per curve object. */
interface PreparedLevels {
  rates: Float64Array;
  deltas: Float64Array;
  tailScale: number;
  maxTail: number;
  /**
   * e^{−m/tailScale} for tail steps m (NaN: not computed yet). A plain array of doubles: a curve is made per
   * refresh, and a typed array this size lives off the JS heap, several times costlier to make.
   */
  tailExp: number[];
}
/**
 * The curves prepared last, by identity: a rolling strategy makes two new curves per refresh and solves each
 * a few times in a row (a WeakMap's inserts and ephemeron upkeep cost more than the preparation). Entries are
 * never modified, only replaced, so a CompiledFill's arrays stay valid after its curve leaves the cache.
 */
const RECENT_SIZE = 8;
const RECENT_CURVES: (LevelsFill | undefined)[] = new Array(RECENT_SIZE).fill(undefined);
const RECENT_PREPARED: (PreparedLevels | undefined)[] = new Array(RECENT_SIZE).fill(undefined);
let recentNext = 0;

function preparedOf(c: LevelsFill): PreparedLevels | undefined {
  for (let i = 0; i < RECENT_SIZE; i++) if (RECENT_CURVES[i] === c) return RECENT_PREPARED[i];
  return undefined;
}

function remember(c: LevelsFill, pc: PreparedLevels): void {
  RECENT_CURVES[recentNext] = c;
  RECENT_PREPARED[recentNext] = pc;
  recentNext = (recentNext + 1) % RECENT_SIZE;
}
const TAIL_TABLE = 4096;
const EMPTY = new Float64Array(0);
/** An empty tail table with the elements kind of the real ones (doubles): one kind at the lookups. */
const EMPTY_TAIL: number[] = new Array<number>(1).fill(Number.NaN);
EMPTY_TAIL.length = 0;

/**
 * A fill curve prepared for the solvers' inner loops: best(x) returns G(x) and leaves δ* and Λ(δ*) in
 * `delta` and `rate` (no allocation).
 */
export class CompiledFill {
  readonly curve: FillCurve;
  delta = Number.NaN;
  rate = F0;
  /** G(x) of the last evaluate(x). */
  gain = Number.NaN;
  /** Exponential: the last best(x) hit the exponent cap (G is then treated as locally flat: Jacobian 0). */
  capped = false;
  private readonly expo: boolean;
  private readonly lambda: number;
  private readonly kappa: number;
  private readonly deltas: Float64Array;
  private readonly rates: Float64Array;
  private readonly tick: number;
  private readonly ratio: number;
  /** −1/ln r (levels with a tail). */
  private readonly tailScale: number;
  /** Deepest tail step considered: Λ there is still ≥ MIN_RATE_SHARE of Λ at the last given level. */
  private readonly maxTail: number;
  private readonly tailExp: number[];

  constructor(c: FillCurve) {
    this.curve = c;
    this.expo = c.kind === 'exponential';
    if (c.kind === 'exponential') {
      this.lambda = c.lambda;
      this.kappa = c.kappa;
      this.deltas = EMPTY;
      this.rates = EMPTY;
      this.tick = 0;
      this.ratio = 0;
      this.tailScale = 0;
      this.maxTail = 0;
      this.tailExp = EMPTY_TAIL;
    } else {
      // The arrays depend only on the curve (an immutable value): built once per curve, shared by every
      // solve on it (a target-φ search solves the same curves several times per refresh).
      let pc = preparedOf(c);
      if (!pc) {
        const tailScale = c.tailRatio > 0 ? -1 / Math.log(c.tailRatio) : 0;
        const maxTail = c.tailRatio > 0 ? Math.ceil(-Math.log(MIN_RATE_SHARE) * tailScale) : 0;
        // Plain loops: Float64Array.from goes through the iterator protocol (a curve per refresh and side).
        const J = c.rates.length;
        const rates = new Float64Array(J);
        const deltas = new Float64Array(J);
        for (let j = 0; j < J; j++) {
          rates[j] = c.rates[j];
          deltas[j] = c.delta0 + j * c.tick;
        }
        pc = {
          rates,
          deltas,
          tailScale,
          maxTail,
          tailExp: new Array<number>(Math.min(maxTail + 1, TAIL_TABLE)).fill(Number.NaN),
        };
        remember(c, pc);
      }
      this.lambda = c.rates[0];
      this.kappa = 0;
      this.rates = pc.rates;
      this.deltas = pc.deltas;
      this.tick = c.tick;
      this.ratio = c.tailRatio;
      this.tailScale = pc.tailScale;
      this.maxTail = pc.maxTail;
      this.tailExp = pc.tailExp;
    }
  }

  /** e^{−m/s} of the tail (s = tailScale), from a table filled as steps are first needed. */
  private tailFactor(m: number): number {
    if (m >= this.tailExp.length) return Math.exp(-m / this.tailScale);
    let e = this.tailExp[m];
    if (Number.isNaN(e)) e = this.tailExp[m] = Math.exp(-m / this.tailScale);
    return e;
  }

  /** Scale of the depths (price): 1/κ, or the tail's decay length (at least a tick). */
  get depthScale(): number {
    if (this.expo) return 1 / this.kappa;
    return Math.max(this.tick, this.tailScale * this.tick);
  }

  /** Λ at the touch (levels) or the mid (exponential). */
  get arrival(): number {
    return this.lambda;
  }

  /** G(x) = sup_δ Λ(δ)(δ + x); sets `delta` (Infinity = no quote) and `rate`. */
  best(x: number): number {
    this.evaluate(x);
    return this.gain;
  }

  /** The argument of the last evaluate(x) (see evaluateX). */
  x = F0;

  /**
   * best(x) leaving G(x) in `gain`: the solvers' inner loops call this (a number returned from a call that
   * is not inlined is a heap allocation; millions per backtest). A number passed to such a call is one too:
   * evaluate is small enough to be inlined, and hands x to the body through a field.
   */
  evaluate(x: number): void {
    this.x = x;
    this.evaluateX();
  }

  /** evaluate(this.x). */
  private evaluateX(): void {
    const x = this.x;
    if (this.expo) {
      const k = this.kappa;
      const y = k * x - 1;
      this.capped = y >= EXP_CAP;
      const e = Math.exp(Math.min(EXP_CAP, y));
      this.delta = 1 / k - x;
      this.rate = this.lambda * e;
      this.gain = this.rate / k;
      return;
    }
    const rates = this.rates;
    const deltas = this.deltas;
    const J = rates.length;
    // No tail: not quoting (gain 0) is an option; with a tail the far levels always gain > 0.
    let bestG = this.ratio > 0 ? Number.NEGATIVE_INFINITY : 0;
    let bestD = Number.POSITIVE_INFINITY;
    let bestR = 0;
    for (let j = 0; j < J - 1; j++) {
      const g = rates[j] * (deltas[j] + x);
      if (g > bestG) {
        bestG = g;
        bestD = deltas[j];
        bestR = rates[j];
      }
    }
    const a = deltas[J - 1] + x;
    const base = rates[J - 1];
    if (this.ratio > 0) {
      const mStar = this.tailScale - a / this.tick;
      const m = mStar > 0 ? Math.min(Math.floor(mStar), this.maxTail) : 0;
      const r0 = m === 0 ? base : base * this.tailFactor(m);
      const g0 = r0 * (a + m * this.tick);
      const last = m >= this.maxTail;
      const r1 = last ? r0 : r0 * this.ratio;
      const g1 = last ? g0 : r1 * (a + (m + 1) * this.tick);
      if (g0 >= g1) {
        if (g0 > bestG) {
          bestG = g0;
          bestD = deltas[J - 1] + m * this.tick;
          bestR = r0;
        }
      } else if (g1 > bestG) {
        bestG = g1;
        bestD = deltas[J - 1] + (m + 1) * this.tick;
        bestR = r1;
      }
    } else {
      const g = base * a;
      if (g > bestG) {
        bestG = g;
        bestD = deltas[J - 1];
        bestR = base;
      }
    }
    this.delta = bestD;
    this.rate = bestR;
    this.gain = bestG;
  }

  /**
   * evaluate(x) for the states i in [from, to), x = h[i + dir] − h[i] − cost: G(x) into out[gainAt + i] and
   * the Jacobian entry Λ(δ*(x)) (0 where the exponent is capped) into out[jacAt + i] — the numbers evaluate
   * gives, by the same operations, for a whole side of the HJB's right-hand side in one call (a call per state
   * and side was most of a φ search's cost). Leaves `delta`, `rate`, `gain` as they were.
   */
  evaluateRange(
    h: Float64Array,
    from: number,
    to: number,
    dir: number,
    cost: number,
    out: Float64Array,
    gainAt: number,
    jacAt: number,
  ): void {
    if (this.expo) {
      const k = this.kappa;
      const lambda = this.lambda;
      for (let i = from; i < to; i++) {
        const y = k * (h[i + dir] - h[i] - cost) - 1;
        const rate = lambda * Math.exp(Math.min(EXP_CAP, y));
        out[gainAt + i] = rate / k;
        out[jacAt + i] = y >= EXP_CAP ? 0 : rate;
      }
      return;
    }
    const rates = this.rates;
    const deltas = this.deltas;
    const J = rates.length;
    const ratio = this.ratio;
    const tick = this.tick;
    const tailScale = this.tailScale;
    const maxTail = this.maxTail;
    const tailExp = this.tailExp;
    const dLast = deltas[J - 1];
    const base = rates[J - 1];
    const start = ratio > 0 ? Number.NEGATIVE_INFINITY : 0;
    for (let i = from; i < to; i++) {
      const x = h[i + dir] - h[i] - cost;
      // evaluateX's search, keeping G and Λ only.
      let bestG = start;
      let bestR = 0;
      for (let j = 0; j < J - 1; j++) {
        const g = rates[j] * (deltas[j] + x);
        if (g > bestG) {
          bestG = g;
          bestR = rates[j];
        }
      }
      const a = dLast + x;
      if (ratio > 0) {
        const mStar = tailScale - a / tick;
        const m = mStar > 0 ? Math.min(Math.floor(mStar), maxTail) : 0;
        let r0 = base;
        if (m !== 0) {
          // tailFactor(m)
          let e: number;
          if (m >= tailExp.length) e = Math.exp(-m / tailScale);
          else {
            e = tailExp[m];
            if (Number.isNaN(e)) e = tailExp[m] = Math.exp(-m / tailScale);
          }
          r0 = base * e;
        }
        const g0 = r0 * (a + m * tick);
        const last = m >= maxTail;
        const r1 = last ? r0 : r0 * ratio;
        const g1 = last ? g0 : r1 * (a + (m + 1) * tick);
        if (g0 >= g1) {
          if (g0 > bestG) {
            bestG = g0;
            bestR = r0;
          }
        } else if (g1 > bestG) {
          bestG = g1;
          bestR = r1;
        }
      } else {
        const g = base * a;
        if (g > bestG) {
          bestG = g;
          bestR = base;
        }
      }
      out[gainAt + i] = bestG;
      out[jacAt + i] = bestR;
    }
  }

  /**
   * Levels: the x at which the best quote switches from depth dA (rate rA) to depth dB (rate rB), where
   * rA(dA + x) = rB(dB + x); NaN when the two never tie. Depth Infinity with rate 0 is "no quote".
   */
  static switchPoint(dA: number, rA: number, dB: number, rB: number): number {
    if (rA === rB) return Number.NaN;
    const a = rA > 0 ? rA * dA : 0;
    const b = rB > 0 ? rB * dB : 0;
    return (b - a) / (rA - rB);
  }
}

/** sup_δ Λ(δ)(δ + x) with its maximiser (allocating convenience form of CompiledFill.best). */
export function bestQuote(c: FillCurve, x: number): BestQuote {
  const f = new CompiledFill(c);
  const gain = f.best(x);
  return { delta: f.delta, rate: f.rate, gain };
}

/**
 * The two-part depth model of a one-tick book as a `levels` curve: MOs reach the touch at `touchRate`, a
 * share `touchShare` stops there, and beyond it the reach decays at κ_tail (1/price).
 */
export function twoPartCurve(
  tick: number,
  touchRate: number,
  touchShare: number,
  kappaTail: number,
): LevelsFill {
  return {
    kind: 'levels',
    delta0: tick / 2,
    tick,
    rates: [touchRate, touchRate * (1 - touchShare)],
    tailRatio: Math.exp(-kappaTail * tick),
  };
}
