/**
 * Imbalance regimes for the regime model (Cartea, Donnelly & Jaimungal 2018): the touch imbalance
 * I = Q_bid/(Q_bid + Q_ask) of each quote, cut at `thresholds` into `count` regimes, and per regime the same
 * sufficient statistics as the pooled window — exposure per spread width, per-side depth sums, markouts with
 * their jackknife blocks, mid-grid increments (the regime's own drift) — plus the regime chain's transitions.
 *
 * - An MO belongs to the regime of the quote just before it (the quote that gives its mid).
 * - A σ-grid increment belongs to the regime at its start; the regime's drift corrects its markouts.
 * - Generator MLE of a continuous-time chain observed continuously: Ĉ_{zw} = N_{zw}/T_z (transitions over
 *   time in z), SE = √N_{zw}/T_z. T_z is the regime's exposure (usable quote time, gaps and stale feed cut
 *   out); a transition is counted only between two quotes not separated by a cut, so N and T match.
 *
 * Everything is added once and removed once on eviction, like the pooled statistics: incremental.
 */
import { fitKappaGeometric, fitLambda } from '../intensity.ts';
import type { HorizonSpec } from '../markout.ts';
import type { RegimeCalibration, RegimeParams } from '../types.ts';
import { Exposure, exposureSeconds, type OpenInterval } from './exposure.ts';
import { JackknifeBlocks } from './jackknife.ts';
import { MarkoutTracker } from './markout-tracker.ts';
import type { MidDrift } from './mid-grid.ts';
import type { MoRec } from './mo-window.ts';
import { SideStats } from './side-stats.ts';
import type { WindowQuotes } from './window-quotes.ts';

export interface RegimeOptions {
  /** Number of regimes (1 to 10). */
  count: number;
  /** Ascending cut points in (0, 1), count − 1 of them; default equal width (k/count). */
  thresholds?: number[];
}

export interface RegimeSpec {
  count: number;
  thresholds: number[];
}

export const MAX_REGIME_COUNT = 10;

/** Defaults and validation (RangeError naming the field). */
export function resolveRegimeSpec(o: RegimeOptions): RegimeSpec {
  const count = o.count;
  if (!(Number.isInteger(count) && count >= 1 && count <= MAX_REGIME_COUNT))
    throw new RangeError(`regimes.count must be an integer from 1 to ${MAX_REGIME_COUNT} (got ${count})`);
  const thresholds = o.thresholds ?? Array.from({ length: count - 1 }, (_, k) => (k + 1) / count);
  if (thresholds.length !== count - 1)
    throw new RangeError(
      `regimes.thresholds must hold count − 1 = ${count - 1} cut points (got ${thresholds.length})`,
    );
  for (let k = 0; k < thresholds.length; k++) {
    const t = thresholds[k];
    if (!(t > 0 && t < 1) || (k > 0 && !(t > thresholds[k - 1])))
      throw new RangeError(
        `regimes.thresholds must be ascending numbers in (0, 1) (got ${thresholds.join(', ')})`,
      );
  }
  return { count, thresholds: [...thresholds] };
}

/** Regime of an imbalance: the number of thresholds ≤ I (0 = ask-heavy … count−1 = bid-heavy); −1 if NaN. */
export function regimeOfImbalance(imbalance: number, thresholds: readonly number[]): number {
  if (!(imbalance >= 0 && imbalance <= 1)) return -1;
  let z = 0;
  while (z < thresholds.length && imbalance >= thresholds[z]) z++;
  return z;
}

/** Regime of a touch with sizes (−1 when the sizes are not usable). */
export function regimeOfTouch(bidSz: number, askSz: number, thresholds: readonly number[]): number {
  const tot = bidSz + askSz;
  if (!(bidSz >= 0 && askSz >= 0 && tot > 0)) return -1;
  return regimeOfImbalance(bidSz / tot, thresholds);
}

/** One regime's window statistics. */
class RegimeStats {
  readonly exposure = new Exposure();
  readonly sides = { plus: new SideStats(), minus: new SideStats() };
  readonly blocks: JackknifeBlocks;
  readonly markouts: MarkoutTracker;
  incN = 0;
  incS1 = 0;
  incS2 = 0;

  constructor(horizons: HorizonSpec[], quotes: WindowQuotes, blockMs: number) {
    this.blocks = new JackknifeBlocks(blockMs, horizons.length);
    this.markouts = new MarkoutTracker(horizons, quotes, this.blocks);
  }

  drift(quantum: number, gridSec: number): MidDrift {
    const n = this.incN;
    const drift = n > 0 ? (this.incS1 * quantum) / (n * gridSec) : 0;
    const v = n > 1 ? Math.max(0, this.incS2 - (this.incS1 * this.incS1) / n) / (n - 1) / n : 0;
    return { drift, driftSe: (Math.sqrt(v) * quantum) / gridSec };
  }
}

/** What a refresh needs from the calibrator (beyond the regime statistics themselves). */
export interface RegimeRefreshInput {
  windowStart: number;
  tick: number;
  quantum: number;
  gridSec: number;
  modelHorizonIdx: number;
  minMos: number;
  /** The quote open at refresh time (its interval up to now) and its regime. */
  open: OpenInterval | undefined;
  openRegime: number;
  /** The pooled set of this refresh: the fallback of a regime without enough data of its own. */
  pooled: Record<
    | 'lambdaPlus'
    | 'lambdaMinus'
    | 'kappaPlus'
    | 'kappaMinus'
    | 'epsilonPlus'
    | 'epsilonMinus'
    | 'moRatePlus'
    | 'moRateMinus',
    number
  > & { stderr: Record<string, number> };
}

export class RegimeWindow {
  readonly spec: RegimeSpec;
  private readonly stats: RegimeStats[];
  private readonly quotes: WindowQuotes;
  private readonly gridMs: number;
  // Transitions (time, from, to) in the window and their counts.
  private trT: number[] = [];
  private trFrom: number[] = [];
  private trTo: number[] = [];
  private trHead = 0;
  private readonly counts: Float64Array;
  // Grid increments (time, value in quanta, regime) in the window.
  private incT: number[] = [];
  private incD: number[] = [];
  private incZ: number[] = [];
  private incHead = 0;

  constructor(
    spec: RegimeSpec,
    horizons: HorizonSpec[],
    quotes: WindowQuotes,
    blockMs: number,
    gridMs: number,
  ) {
    this.spec = spec;
    this.quotes = quotes;
    this.gridMs = gridMs;
    this.stats = Array.from({ length: spec.count }, () => new RegimeStats(horizons, quotes, blockMs));
    this.counts = new Float64Array(spec.count * spec.count);
  }

  setQuantum(quantum: number): void {
    for (const s of this.stats) s.markouts.setQuantum(quantum);
  }

  /** Regime tag of a quote (−1 when the quote or its sizes are unusable). */
  tagOf(validMid: boolean, bidSz: number, askSz: number): number {
    return validMid ? regimeOfTouch(bidSz, askSz, this.spec.thresholds) : -1;
  }

  /** A quote's interval [start, end) in regime z (the calibrator books the pooled exposure alongside). */
  interval(start: number, end: number, bin: number, z: number): void {
    if (z >= 0) this.stats[z].exposure.add(start, end, bin);
  }

  /** The regime changed from `from` to `to` at t, with no cut in between. */
  transition(t: number, from: number, to: number): void {
    if (from < 0 || to < 0 || from === to) return;
    this.trT.push(t);
    this.trFrom.push(from);
    this.trTo.push(to);
    this.counts[from * this.spec.count + to]++;
  }

  /** A σ-grid increment over (g − grid, g], d quanta: booked in the regime at its start. */
  increment(g: number, d: number): void {
    const i = this.quotes.timeline.indexAtOrBefore(g - this.gridMs);
    const z = i >= 0 ? this.quotes.timeline.tag(i) : -1;
    this.incT.push(g);
    this.incD.push(d);
    this.incZ.push(z);
    if (z >= 0) this.bookIncrement(z, g, d, 1);
  }

  private bookIncrement(z: number, g: number, d: number, w: 1 | -1): void {
    const s = this.stats[z];
    s.incN += w;
    s.incS1 += w * d;
    s.incS2 += w * d * d;
    s.blocks.increment(g, d, w);
  }

  // MO hooks (MoWindow): depth booked, markout resolved, MO evicted.

  depth(mo: MoRec): void {
    if (mo.regime >= 0)
      this.stats[mo.regime].sides[mo.plus ? 'plus' : 'minus'].book(
        mo.k,
        mo.fills,
        mo.insideTouch,
        mo.oneTick,
        1,
      );
  }

  markout(mo: MoRec, j: number): void {
    if (mo.regime >= 0) this.stats[mo.regime].markouts.resolve(mo, j);
  }

  evictMo(mo: MoRec): void {
    if (mo.regime < 0) return;
    const s = this.stats[mo.regime];
    s.sides[mo.plus ? 'plus' : 'minus'].book(mo.k, mo.fills, mo.insideTouch, mo.oneTick, -1);
    s.markouts.remove(mo);
  }

  evict(windowStart: number): void {
    for (const s of this.stats) {
      s.exposure.evict(windowStart);
      s.blocks.prune(windowStart);
    }
    while (this.trHead < this.trT.length && this.trT[this.trHead] < windowStart) {
      this.counts[this.trFrom[this.trHead] * this.spec.count + this.trTo[this.trHead]]--;
      this.trHead++;
    }
    if (this.trHead > 4096 && this.trHead * 2 > this.trT.length) {
      this.trT = this.trT.slice(this.trHead);
      this.trFrom = this.trFrom.slice(this.trHead);
      this.trTo = this.trTo.slice(this.trHead);
      this.trHead = 0;
    }
    // Same rule as the pooled grid: an increment leaves when its interval began before the window.
    while (this.incHead < this.incT.length && this.incT[this.incHead] - this.gridMs < windowStart) {
      const z = this.incZ[this.incHead];
      if (z >= 0) this.bookIncrement(z, this.incT[this.incHead], this.incD[this.incHead], -1);
      this.incHead++;
    }
    if (this.incHead > 4096 && this.incHead * 2 > this.incT.length) {
      this.incT = this.incT.slice(this.incHead);
      this.incD = this.incD.slice(this.incHead);
      this.incZ = this.incZ.slice(this.incHead);
      this.incHead = 0;
    }
  }

  /** The regime model of the window: generator with SEs and per-regime λ±, κ±, ε± with SEs. */
  estimate(r: RegimeRefreshInput): RegimeCalibration {
    const m = this.spec.count;
    const flags: string[] = [];
    const timeSec: number[] = [];
    const params: RegimeParams[] = [];
    let total = 0;
    for (let z = 0; z < m; z++) {
      const s = this.stats[z];
      const exp = exposureSeconds(
        s.exposure.snapshot(r.windowStart, r.openRegime === z ? r.open : undefined),
        r.tick,
      );
      timeSec.push(exp.observedSec);
      total += exp.observedSec;
      const drift = s.drift(r.quantum, r.gridSec);
      const mk = s.markouts.estimate(r.modelHorizonIdx, drift, r.gridSec);
      const own: Record<string, number> = {};
      const se: Record<string, number> = {};
      const src: Record<string, 'fresh' | 'pooled'> = {};
      const pFlags: string[] = [];
      for (const side of ['plus', 'minus'] as const) {
        const S = s.sides[side];
        const suf = side === 'plus' ? 'Plus' : 'Minus';
        const kf = fitKappaGeometric(S.n, S.sumK, r.tick);
        const lf = fitLambda(S.n, exp.halfSpreads, exp.seconds, kf.kappa, kf.stderr);
        own[`kappa${suf}`] = kf.kappa;
        se[`kappa${suf}`] = kf.stderr;
        own[`lambda${suf}`] = lf.lambda;
        se[`lambda${suf}`] = lf.stderr;
        own[`moRate${suf}`] = exp.observedSec > 0 ? S.n / exp.observedSec : Number.NaN;
        se[`moRate${suf}`] = exp.observedSec > 0 ? Math.sqrt(S.n) / exp.observedSec : Number.NaN;
        own[`epsilon${suf}`] = mk[side].mean;
        se[`epsilon${suf}`] = mk[side].stderr;
        const enough = S.n >= r.minMos && S.sumK > 0 && mk[side].n >= r.minMos;
        if (!enough)
          pFlags.push(
            S.n < r.minMos
              ? `insufficient-data:${side}`
              : S.sumK > 0
                ? `insufficient-markouts:${side}`
                : `kappa-unidentified:${side}`,
          );
        for (const k of ['kappa', 'lambda', 'moRate', 'epsilon']) {
          const key = `${k}${suf}`;
          const v = own[key];
          const ok = enough && Number.isFinite(v) && Number.isFinite(se[key]) && (k === 'epsilon' || v > 0);
          if (ok) src[key] = 'fresh';
          else {
            own[key] = r.pooled[key as keyof RegimeRefreshInput['pooled']] as number;
            se[key] = r.pooled.stderr[key];
            src[key] = 'pooled';
          }
        }
      }
      for (const f of pFlags) flags.push(`regime${z}:${f}`);
      params.push({
        regime: z,
        imbalance: [z === 0 ? 0 : this.spec.thresholds[z - 1], z === m - 1 ? 1 : this.spec.thresholds[z]],
        lambdaPlus: own.lambdaPlus,
        lambdaMinus: own.lambdaMinus,
        kappaPlus: own.kappaPlus,
        kappaMinus: own.kappaMinus,
        epsilonPlus: own.epsilonPlus,
        epsilonMinus: own.epsilonMinus,
        moRatePlus: own.moRatePlus,
        moRateMinus: own.moRateMinus,
        midDrift: drift.drift,
        stderr: { ...se, midDrift: drift.driftSe },
        source: Object.values(src).every((x) => x === 'fresh') ? 'fresh' : 'pooled',
        samples: {
          seconds: exp.observedSec,
          mosPlus: s.sides.plus.n,
          mosMinus: s.sides.minus.n,
          markoutPlus: mk.plus.n,
          markoutMinus: mk.minus.n,
          sigmaIncrements: s.incN,
        },
      });
    }
    const generator: number[][] = [];
    const generatorStderr: number[][] = [];
    const transitions: number[][] = [];
    for (let z = 0; z < m; z++) {
      const row: number[] = [];
      const rowSe: number[] = [];
      const rowN: number[] = [];
      let out = 0;
      for (let w = 0; w < m; w++) {
        const n = this.counts[z * m + w];
        rowN.push(n);
        if (w === z) {
          row.push(0);
          rowSe.push(0);
          continue;
        }
        const T = timeSec[z];
        const c = T > 0 ? n / T : Number.NaN;
        row.push(c);
        rowSe.push(T > 0 ? Math.sqrt(n) / T : Number.NaN);
        out += T > 0 ? c : 0;
      }
      row[z] = timeSec[z] > 0 ? 0 - out : Number.NaN;
      if (!(timeSec[z] > 0)) flags.push(`regime${z}:never-observed`);
      else if (out === 0 && m > 1) flags.push(`regime${z}:never-left`);
      generator.push(row);
      generatorStderr.push(rowSe);
      transitions.push(rowN);
    }
    const serious = flags.filter((f) => f.endsWith('never-observed') || f.endsWith('never-left'));
    return {
      count: m,
      thresholds: [...this.spec.thresholds],
      generator,
      generatorStderr,
      transitions,
      timeSec,
      occupancy: timeSec.map((t) => (total > 0 ? t / total : Number.NaN)),
      params,
      quality: { ok: serious.length === 0 && params.every((p) => p.source === 'fresh'), flags },
    };
  }
}
