/**
 * The micro-price of Stoikov (2018), "The micro-price: a high-frequency estimator of future prices",
 * estimated by the paper's Markov-chain method. Pure: quotes in, a model out; no I/O.
 *
 * State x = (imbalance bucket, spread bucket): I = Q_bid/(Q_bid + Q_ask) at the touch cut into n equal-width
 * buckets, the spread in ticks (1..m, wider spreads counted in the top bucket). Between consecutive quotes
 * the chain moves x → y and the mid changes by k half-ticks. From the window's transitions (symmetrised:
 * every observed (x, y, k) is also counted mirrored, (x̄, ȳ, −k), x̄ = the same spread with bucket n−1−b):
 *
 *   Q_xy = P(mid unchanged, next state y | x)          (transient part)
 *   R_xk = P(mid changes by K_k | x)                    (absorbing part; K = ±1..±J half-ticks)
 *   T_xy = P(mid changes, next state y | x)
 *   G¹   = (I − Q)⁻¹ R K      the expected next mid change from x
 *   B    = (I − Q)⁻¹ T        the law of the state just after that change
 *   G*   = Σ_{k≥0} Bᵏ G¹      micro-price = mid + G*(x)
 *
 * Symmetrisation makes G¹ odd under the mirror and B's stationary law even, so πG¹ = 0 and the series
 * converges (Theorem 3.1 of the paper); it is summed term by term until the next term is below `tol`.
 *
 * Incremental: each transition is added once to the counts and removed once when it leaves the window,
 * so a refresh costs O(new transitions) plus one O(S³) solve for S = n·m states (S = 20 by default).
 */
import { luFactor, luSolve } from '../model/linalg.ts';

export interface MicropriceOptions {
  /** Price grid (mid changes are counted in half-ticks). */
  tick: number;
  /** Imbalance buckets n (equal width over [0, 1]). Default 10. */
  imbalanceBuckets?: number;
  /** Spread buckets m: spreads of 1..m ticks, wider ones counted as m. Default 2. */
  spreadBuckets?: number;
  /** Largest mid change kept (ticks); larger jumps are discarded and counted, as in the paper. Default 2. */
  maxMoveTicks?: number;
  /** Estimation window in data time (ms). Default 30 min; Infinity = all data. */
  windowMs?: number;
  /** Consecutive quotes further apart than this (ms) are not a transition (feed stale). Default 30 s. */
  staleMs?: number;
  /** Fewer transitions (before symmetrisation) than this in the window: no model. Default 200. */
  minTransitions?: number;
  /** Series G* = Σ Bᵏ G¹ summed until the next term is below tol·tick. Default 1e-10. */
  tol?: number;
  /** Cap on the number of terms. Default 5000. */
  maxIterations?: number;
}

export interface MicropriceModel {
  tick: number;
  imbalanceBuckets: number;
  spreadBuckets: number;
  /** G*(x), price units, x = spreadBucket·n + imbalanceBucket. micro-price = mid + adjustment[x]. */
  adjustment: Float64Array;
  /** G¹(x): expected next mid change (price). */
  g1: Float64Array;
  /** Symmetrised transitions out of each state in the window (0 = state never seen: adjustment 0). */
  visits: Float64Array;
  /** Terms summed, whether the series converged, and the size of the last term (price). */
  iterations: number;
  converged: boolean;
  lastTerm: number;
  /** Transitions in the window (as observed, before symmetrisation) and mid jumps beyond maxMoveTicks. */
  transitions: number;
  discardedMoves: number;
  window: { start: number; end: number };
}

export interface MicropriceQuote {
  t: number;
  bidPx: number;
  bidSz: number;
  askPx: number;
  askSz: number;
}

/** Size-weighted mid: I·ask + (1 − I)·bid with I = Q_bid/(Q_bid + Q_ask); the mid when sizes are unknown. */
export function weightedMid(bidPx: number, bidSz: number, askPx: number, askSz: number): number {
  const tot = bidSz + askSz;
  if (!(bidSz >= 0 && askSz >= 0 && tot > 0)) return 0.5 * (bidPx + askPx);
  const i = bidSz / tot;
  return i * askPx + (1 - i) * bidPx;
}

/** Touch imbalance I = Q_bid/(Q_bid + Q_ask) ∈ [0, 1]; NaN when the sizes are not usable. */
export function touchImbalance(bidSz: number, askSz: number): number {
  const tot = bidSz + askSz;
  return bidSz >= 0 && askSz >= 0 && tot > 0 ? bidSz / tot : Number.NaN;
}

/** Equal-width bucket of an imbalance in [0, 1] (I = 1 goes to the top bucket). */
export function imbalanceBucket(imbalance: number, buckets: number): number {
  return Math.min(buckets - 1, Math.floor(imbalance * buckets));
}

/**
 * State index of a quote (spreadBucket·n + imbalanceBucket), or −1 when the quote is unusable (missing or
 * crossed prices, sizes not positive, spread not on the tick grid's positive values).
 */
export function micropriceState(
  bidPx: number,
  bidSz: number,
  askPx: number,
  askSz: number,
  tick: number,
  imbalanceBuckets: number,
  spreadBuckets: number,
): number {
  if (!(bidPx > 0 && askPx > bidPx && bidSz > 0 && askSz > 0)) return -1;
  const ticks = Math.round((askPx - bidPx) / tick);
  if (!(ticks >= 1)) return -1;
  const s = Math.min(spreadBuckets, ticks) - 1;
  return s * imbalanceBuckets + imbalanceBucket(bidSz / (bidSz + askSz), imbalanceBuckets);
}

/**
 * mid + G*(state of the quote); the plain mid when the state is unusable, was never seen in the window, or
 * the series did not converge.
 */
export function micropriceOf(
  m: MicropriceModel,
  bidPx: number,
  bidSz: number,
  askPx: number,
  askSz: number,
): number {
  const mid = 0.5 * (bidPx + askPx);
  const x = micropriceState(bidPx, bidSz, askPx, askSz, m.tick, m.imbalanceBuckets, m.spreadBuckets);
  if (x < 0 || !(m.visits[x] > 0) || !m.converged) return mid;
  return mid + m.adjustment[x];
}

/** Growable ring of transitions (start time, from, to, move in half-ticks), oldest first. */
class TransitionLog {
  t = new Float64Array(1024);
  x = new Int32Array(1024);
  y = new Int32Array(1024);
  k = new Int32Array(1024);
  head = 0;
  length = 0;

  push(t: number, x: number, y: number, k: number): void {
    if (this.length === this.t.length) {
      if (this.head > 0) this.compact();
      if (this.length === this.t.length) {
        const grow = <A extends Float64Array | Int32Array>(a: A, b: A): A => {
          b.set(a);
          return b;
        };
        const n = 2 * this.t.length;
        this.t = grow(this.t, new Float64Array(n));
        this.x = grow(this.x, new Int32Array(n));
        this.y = grow(this.y, new Int32Array(n));
        this.k = grow(this.k, new Int32Array(n));
      }
    }
    const i = this.length++;
    this.t[i] = t;
    this.x[i] = x;
    this.y[i] = y;
    this.k[i] = k;
  }

  compact(): void {
    const { head, length } = this;
    this.t.copyWithin(0, head, length);
    this.x.copyWithin(0, head, length);
    this.y.copyWithin(0, head, length);
    this.k.copyWithin(0, head, length);
    this.length -= head;
    this.head = 0;
  }
}

/** Sentinel in the log's k column: a mid jump beyond maxMoveTicks (counted, not used). */
const DISCARDED = 0x7fffffff;

export class MicropriceEstimator {
  readonly tick: number;
  readonly imbalanceBuckets: number;
  readonly spreadBuckets: number;
  readonly maxMove: number;
  private readonly windowMs: number;
  private readonly staleMs: number;
  private readonly minTransitions: number;
  private readonly tol: number;
  private readonly maxIterations: number;
  private readonly S: number;
  private readonly nK: number;

  // Counts over the window, symmetrised.
  private readonly nX: Float64Array;
  private readonly nQ: Float64Array;
  private readonly nT: Float64Array;
  private readonly nR: Float64Array;
  private inWindow = 0;
  private discardedInWindow = 0;
  private readonly log = new TransitionLog();

  // The previous usable quote.
  private prevT = Number.NaN;
  private prevX = -1;
  private prevMidQ = 0;
  private lastT = Number.NEGATIVE_INFINITY;
  private readonly gaps: { start: number; end: number }[] = [];
  /** Quotes going backwards in time (ignored) and quotes that could not be classified. */
  outOfOrder = 0;
  unusable = 0;

  private model: MicropriceModel | undefined;

  private readonly work: MicropriceWork;

  constructor(opts: MicropriceOptions) {
    this.tick = opts.tick;
    this.imbalanceBuckets = opts.imbalanceBuckets ?? 10;
    this.spreadBuckets = opts.spreadBuckets ?? 2;
    const maxMoveTicks = opts.maxMoveTicks ?? 2;
    this.windowMs = opts.windowMs ?? 30 * 60_000;
    this.staleMs = opts.staleMs ?? 30_000;
    this.minTransitions = opts.minTransitions ?? 200;
    this.tol = opts.tol ?? 1e-10;
    this.maxIterations = opts.maxIterations ?? 5000;
    const checks: [string, number, boolean][] = [
      ['tick', this.tick, this.tick > 0 && Number.isFinite(this.tick)],
      [
        'imbalanceBuckets',
        this.imbalanceBuckets,
        Number.isInteger(this.imbalanceBuckets) && this.imbalanceBuckets >= 2 && this.imbalanceBuckets <= 100,
      ],
      [
        'spreadBuckets',
        this.spreadBuckets,
        Number.isInteger(this.spreadBuckets) && this.spreadBuckets >= 1 && this.spreadBuckets <= 20,
      ],
      ['maxMoveTicks', maxMoveTicks, maxMoveTicks >= 0.5 && maxMoveTicks <= 100],
      ['windowMs', this.windowMs, this.windowMs > 0],
      ['staleMs', this.staleMs, this.staleMs > 0],
      ['minTransitions', this.minTransitions, this.minTransitions >= 1],
      ['tol', this.tol, this.tol > 0],
      ['maxIterations', this.maxIterations, Number.isInteger(this.maxIterations) && this.maxIterations >= 1],
    ];
    for (const [name, v, ok] of checks) {
      if (!ok) throw new RangeError(`microprice: ${name} out of range (got ${v}); see docs/calibration.md`);
    }
    this.maxMove = Math.round(2 * maxMoveTicks);
    this.S = this.imbalanceBuckets * this.spreadBuckets;
    this.nK = 2 * this.maxMove;
    const S = this.S;
    this.nX = new Float64Array(S);
    this.nQ = new Float64Array(S * S);
    this.nT = new Float64Array(S * S);
    this.nR = new Float64Array(S * this.nK);
    this.work = micropriceWork(S);
  }

  /** The last model (undefined until a refresh had enough data). */
  current(): MicropriceModel | undefined {
    return this.model;
  }

  /** Mirror of a state: same spread bucket, imbalance bucket n−1−b. */
  private mirror(x: number): number {
    const n = this.imbalanceBuckets;
    const s = Math.floor(x / n);
    return s * n + (n - 1 - (x - s * n));
  }

  /** A data gap: no transition is counted across it. */
  onGap(start: number, end: number): void {
    if (end > start) this.gaps.push({ start, end });
  }

  /** One top-of-book observation, in exchange-time order (older ones are counted and ignored). */
  onQuote(t: number, bidPx: number, bidSz: number, askPx: number, askSz: number): void {
    if (t < this.lastT) {
      this.outOfOrder++;
      return;
    }
    this.lastT = t;
    const x = micropriceState(
      bidPx,
      bidSz,
      askPx,
      askSz,
      this.tick,
      this.imbalanceBuckets,
      this.spreadBuckets,
    );
    if (x < 0) {
      this.unusable++;
      this.prevX = -1; // an unusable quote ends the chain
      return;
    }
    const midQ = Math.round((bidPx + askPx) / this.tick); // mid in half-ticks
    if (this.prevX >= 0 && t - this.prevT <= this.staleMs && !this.gapBetween(this.prevT, t)) {
      const k = midQ - this.prevMidQ;
      if (Math.abs(k) > this.maxMove) {
        this.log.push(this.prevT, this.prevX, x, DISCARDED);
        this.discardedInWindow++;
      } else {
        this.log.push(this.prevT, this.prevX, x, k);
        this.count(this.prevX, x, k, 1);
        this.count(this.mirror(this.prevX), this.mirror(x), -k, 1);
        this.inWindow++;
      }
    }
    this.prevT = t;
    this.prevX = x;
    this.prevMidQ = midQ;
  }

  private gapBetween(a: number, b: number): boolean {
    for (const g of this.gaps) if (g.start < b && g.end > a) return true;
    return false;
  }

  private count(x: number, y: number, k: number, w: number): void {
    const S = this.S;
    this.nX[x] += w;
    if (k === 0) this.nQ[x * S + y] += w;
    else {
      this.nT[x * S + y] += w;
      const j = k < 0 ? k + this.maxMove : k + this.maxMove - 1;
      this.nR[x * this.nK + j] += w;
    }
  }

  /** Drops transitions that started before `windowStart`. */
  private evict(windowStart: number): void {
    const L = this.log;
    while (L.head < L.length && L.t[L.head] < windowStart) {
      const k = L.k[L.head];
      if (k === DISCARDED) this.discardedInWindow--;
      else {
        const x = L.x[L.head];
        const y = L.y[L.head];
        this.count(x, y, k, -1);
        this.count(this.mirror(x), this.mirror(y), -k, -1);
        this.inWindow--;
      }
      L.head++;
    }
    if (L.head > 4096 && L.head * 2 > L.length) L.compact();
    while (this.gaps.length > 0 && this.gaps[0].end < windowStart) this.gaps.shift();
  }

  /**
   * Re-estimates on the window ending at `now` (exchange ms). Returns undefined (and keeps the previous
   * model available through current()) when the window holds fewer than minTransitions transitions.
   */
  refresh(now: number): MicropriceModel | undefined {
    const start = now - this.windowMs;
    if (Number.isFinite(start)) this.evict(start);
    if (this.inWindow < this.minTransitions) return undefined;
    this.model = this.solve(start, now);
    return this.model;
  }

  /** Transitions in the window (before symmetrisation). */
  get transitions(): number {
    return this.inWindow;
  }

  private solve(start: number, end: number): MicropriceModel {
    const m = solveMicroprice(
      { nX: this.nX, nQ: this.nQ, nT: this.nT, nR: this.nR },
      {
        tick: this.tick,
        imbalanceBuckets: this.imbalanceBuckets,
        spreadBuckets: this.spreadBuckets,
        maxMoveHalfTicks: this.maxMove,
        tol: this.tol,
        maxIterations: this.maxIterations,
      },
      this.work,
    );
    return {
      ...m,
      transitions: this.inWindow,
      discardedMoves: this.discardedInWindow,
      window: { start: Number.isFinite(start) ? start : Number.NaN, end },
    };
  }
}

/**
 * Transition counts over S = n·m states (symmetrised or not; the solver takes them as they are):
 * nX[x] = transitions out of x, nQ[x·S + y] = to y with the mid unchanged, nT[x·S + y] = to y with a mid
 * change, nR[x·2J + j] = mid changes by K_j, K = (−J..−1, 1..J) half-ticks.
 */
export interface MicropriceCounts {
  nX: ArrayLike<number>;
  nQ: ArrayLike<number>;
  nT: ArrayLike<number>;
  nR: ArrayLike<number>;
}

export interface MicropriceSolveOptions {
  tick: number;
  imbalanceBuckets: number;
  spreadBuckets: number;
  /** J: mid changes K = ±1..±J half-ticks. */
  maxMoveHalfTicks: number;
  tol?: number;
  maxIterations?: number;
}

export interface MicropriceWork {
  a: Float64Array;
  piv: Int32Array;
  col: Float64Array;
  bMat: Float64Array;
}

export function micropriceWork(S: number): MicropriceWork {
  return {
    a: new Float64Array(S * S),
    piv: new Int32Array(S),
    col: new Float64Array(S),
    bMat: new Float64Array(S * S),
  };
}

/**
 * The paper's solution from transition counts: G¹ = (I − Q)⁻¹RK, B = (I − Q)⁻¹T, G* = Σ Bᵏ G¹ (terms added
 * until the next is below tol·tick). States from which no mid change was ever observed (directly or through
 * unchanged-mid transitions) get G¹ = 0 and no continuation (absorbing with a zero adjustment).
 */
export function solveMicroprice(
  counts: MicropriceCounts,
  o: MicropriceSolveOptions,
  work: MicropriceWork = micropriceWork(o.imbalanceBuckets * o.spreadBuckets),
): Omit<MicropriceModel, 'transitions' | 'discardedMoves' | 'window'> {
  const S = o.imbalanceBuckets * o.spreadBuckets;
  const J = o.maxMoveHalfTicks;
  const nK = 2 * J;
  const half = o.tick / 2;
  const { nX, nQ, nT, nR } = counts;
  const { a, piv, col, bMat } = work;
  const live = new Uint8Array(S);
  for (let x = 0; x < S; x++) {
    if (nX[x] > 0) for (let j = 0; j < nK; j++) if (nR[x * nK + j] > 0) live[x] = 1;
  }
  for (let changed = true; changed; ) {
    changed = false;
    for (let x = 0; x < S; x++) {
      if (live[x] || !(nX[x] > 0)) continue;
      for (let y = 0; y < S; y++) {
        if (live[y] && nQ[x * S + y] > 0) {
          live[x] = 1;
          changed = true;
          break;
        }
      }
    }
  }
  // A = I − Q on live rows, identity rows elsewhere.
  a.fill(0);
  for (let x = 0; x < S; x++) {
    a[x * S + x] = 1;
    if (!live[x]) continue;
    const inv = 1 / nX[x];
    for (let y = 0; y < S; y++) a[x * S + y] -= nQ[x * S + y] * inv;
  }
  if (!luFactor(a, S, piv)) throw new Error('microprice: I − Q is singular (cannot happen for live states)');
  // G¹ = (I − Q)⁻¹ R K.
  const g1 = new Float64Array(S);
  for (let x = 0; x < S; x++) {
    let s = 0;
    if (live[x]) {
      for (let j = 0; j < nK; j++) s += nR[x * nK + j] * (j < J ? j - J : j - J + 1);
      s = (s * half) / nX[x];
    }
    g1[x] = s;
  }
  luSolve(a, S, piv, g1);
  // B = (I − Q)⁻¹ T, column by column.
  for (let y = 0; y < S; y++) {
    for (let x = 0; x < S; x++) col[x] = live[x] ? nT[x * S + y] / nX[x] : 0;
    luSolve(a, S, piv, col);
    for (let x = 0; x < S; x++) bMat[x * S + y] = col[x];
  }
  // G* = Σ_{k≥0} Bᵏ G¹.
  const g = Float64Array.from(g1);
  let term = Float64Array.from(g1);
  let next = new Float64Array(S);
  const tol = (o.tol ?? 1e-10) * o.tick;
  const maxIterations = o.maxIterations ?? 5000;
  let iterations = 1;
  let lastTerm = maxAbs(term);
  let converged = lastTerm <= tol;
  while (!converged && iterations < maxIterations) {
    for (let x = 0; x < S; x++) {
      let s = 0;
      const row = x * S;
      for (let y = 0; y < S; y++) s += bMat[row + y] * term[y];
      next[x] = s;
    }
    const t = term;
    term = next;
    next = t;
    for (let x = 0; x < S; x++) g[x] += term[x];
    iterations++;
    lastTerm = maxAbs(term);
    converged = lastTerm <= tol;
  }
  return {
    tick: o.tick,
    imbalanceBuckets: o.imbalanceBuckets,
    spreadBuckets: o.spreadBuckets,
    adjustment: g,
    g1,
    visits: Float64Array.from(nX),
    iterations,
    converged,
    lastTerm,
  };
}

function maxAbs(v: Float64Array): number {
  let m = 0;
  for (let i = 0; i < v.length; i++) m = Math.max(m, Math.abs(v[i]));
  return m;
}

/** Batch estimate from a quote series (exchange order): the estimator run once over the data. */
export function estimateMicroprice(
  quotes: readonly MicropriceQuote[],
  opts: MicropriceOptions & { at?: number },
): MicropriceModel | undefined {
  const at = opts.at ?? (quotes.length > 0 ? quotes[quotes.length - 1].t : Number.NaN);
  const est = new MicropriceEstimator(opts);
  for (const q of quotes) {
    if (q.t > at) break;
    est.onQuote(q.t, q.bidPx, q.bidSz, q.askPx, q.askSz);
  }
  return Number.isFinite(at) ? est.refresh(at) : undefined;
}
