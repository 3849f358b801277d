/**
 * Tree-structured Parzen Estimator sampler (Bergstra, Bardenet, Bengio & Kégl 2011, "Algorithms for
 * Hyper-Parameter Optimization"), univariate, with Optuna's defaults:
 * - the first `nStartup` (10) finished epochs are random;
 * - then the finished epochs are ordered best first — feasible completed by loss, then pruned ones (deeper
 *   checkpoint first, then running loss), then infeasible ones, then (constant liar) the epochs already
 *   proposed in this batch — and the first γ(n) = min(⌈0.1 n⌉, 25) form the "good" set, the rest the "bad";
 * - per dimension, l(x) and g(x) are Parzen estimators of the good and bad observations (parzen.ts);
 *   `nCandidates` (24) draws from l are scored by ln l(x) − ln g(x) (∝ expected improvement) and the best
 *   is proposed.
 * Proposals of one batch see the same history; each proposal joins the bad set while the rest of the batch is
 * drawn (Optuna's constant liar), so a batch spreads out instead of repeating one point; so do the pending
 * proposals of earlier batches still running (hyperopt --lag). Failed epochs
 * (loss module threw) are left out. Pure and seeded.
 */
import type { Rng } from '../../../util/rng.ts';
import { type Dimension, fromInternal, type Params, toInternal } from '../../space.ts';
import { randomParams } from '../random.ts';
import { distinct, paramsKey, type Sampler, type Trial } from '../types.ts';
import {
  buildParzen,
  cellKey,
  DEFAULT_PARZEN,
  logPdfParzen,
  type ParzenOptions,
  sampleParzen,
} from './parzen.ts';

export interface TpeOptions {
  nStartup: number;
  nCandidates: number;
  parzen: ParzenOptions;
  /** Size of the good set for n ordered trials. */
  gamma: (n: number) => number;
  /**
   * Score each cell of a discrete dimension once per proposer (the same values as without: the score of a
   * candidate depends on its cell only). A batch's draws that repeat a finished epoch are drawn again, up to
   * 40 times, and a small integer space repeats often once the search has narrowed: without the memo a
   * `fixed` batch of 2 took ~30–55 ms at 100–200 epochs, longer than an epoch. Off only in tests.
   */
  memoCells: boolean;
}

export const DEFAULT_TPE: TpeOptions = {
  nStartup: 10,
  nCandidates: 24,
  parzen: DEFAULT_PARZEN,
  gamma: (n) => Math.min(Math.ceil(0.1 * n), 25),
  memoCells: true,
};

/** Optuna's default observation weights: flat for the last 25, a ramp from 1/n for older ones. */
export function observationWeights(n: number): number[] {
  if (n < 25) return Array.from({ length: n }, () => 1);
  const ramp = n - 25;
  const out: number[] = [];
  for (let i = 0; i < ramp; i++) out.push(ramp === 1 ? 1 / n : 1 / n + ((1 - 1 / n) * i) / (ramp - 1));
  for (let i = 0; i < 25; i++) out.push(1);
  return out;
}

/** Good-first order of finished trials (see the header); ties broken by epoch number. */
export function orderTrials(trials: readonly Trial[]): Trial[] {
  const rank = (t: Trial) => (t.status === 'ok' ? 0 : t.status === 'pruned' ? 1 : 2);
  return [...trials].sort((a, b) => {
    const ra = rank(a);
    const rb = rank(b);
    if (ra !== rb) return ra - rb;
    if (ra === 0) return (a.loss as number) - (b.loss as number) || a.n - b.n;
    if (ra === 1)
      return (
        (b.prunedStep ?? 0) - (a.prunedStep ?? 0) || (a.prunedLoss ?? 0) - (b.prunedLoss ?? 0) || a.n - b.n
      );
    return a.n - b.n;
  });
}

export class TpeSampler implements Sampler {
  readonly name = 'tpe';
  readonly opts: TpeOptions;

  constructor(opts: Partial<TpeOptions> = {}) {
    this.opts = { ...DEFAULT_TPE, ...opts };
  }

  suggest(
    space: Dimension[],
    history: readonly Trial[],
    count: number,
    rng: Rng,
    pending: readonly Params[] = [],
  ): Params[] {
    const finished = history.filter((t) => t.status !== 'failed');
    const seen = new Set([...history.map((t) => t.params), ...pending].map(paramsKey));
    const out: Params[] = [];
    const random = () => randomParams(space, rng);
    for (let k = 0; k < count; k++) {
      if (finished.length < this.opts.nStartup) out.push(distinct(seen, random(), random, random));
      else {
        // The estimators depend on the history and the batch so far, not on the draw: build them once.
        const draw = this.proposer(space, finished, [...pending, ...out], rng);
        out.push(distinct(seen, draw(), draw, random));
      }
    }
    return out;
  }

  /** One proposal from the finished trials, with the batch's earlier proposals as (bad) liars. */
  suggestOne(space: Dimension[], finished: readonly Trial[], liars: readonly Params[], rng: Rng): Params {
    return this.proposer(space, finished, liars, rng)();
  }

  /** The l/g estimators of every dimension, and a function drawing one proposal from them. */
  proposer(space: Dimension[], finished: readonly Trial[], liars: readonly Params[], rng: Rng): () => Params {
    const ordered = orderTrials(finished);
    const n = ordered.length + liars.length;
    const nGood = Math.min(ordered.length, Math.max(1, this.opts.gamma(n)));
    const good = ordered.slice(0, nGood).sort((a, b) => a.n - b.n);
    const badTrials = ordered.slice(nGood).sort((a, b) => a.n - b.n);
    const bad: Params[] = [...badTrials.map((t) => t.params), ...liars];
    const wGood = observationWeights(good.length);
    const wBad = observationWeights(bad.length);
    const est = space.map((d) => ({
      d,
      l: buildParzen(
        d,
        good.map((t) => toInternal(d, t.params[d.name])),
        wGood,
        this.opts.parzen,
      ),
      g: buildParzen(
        d,
        bad.map((x) => toInternal(d, x[d.name])),
        wBad,
        this.opts.parzen,
      ),
    }));
    const memo = space.map(() => new Map<number, number>());
    const score = (i: number, c: number): number => {
      const { d, l, g } = est[i];
      const key = this.opts.memoCells ? cellKey(d, c) : null;
      if (key === null) return logPdfParzen(l, c) - logPdfParzen(g, c);
      let s = memo[i].get(key);
      if (s === undefined) {
        s = logPdfParzen(l, c) - logPdfParzen(g, c);
        memo[i].set(key, s);
      }
      return s;
    };
    return () => {
      const p: Params = {};
      for (let i = 0; i < est.length; i++) {
        const { d, l } = est[i];
        const candidates = sampleParzen(l, this.opts.nCandidates, rng);
        let best = candidates[0];
        let bestScore = Number.NEGATIVE_INFINITY;
        for (const c of candidates) {
          const s = score(i, c);
          if (s > bestScore) {
            bestScore = s;
            best = c;
          }
        }
        p[d.name] = fromInternal(d, best);
      }
      return p;
    };
  }
}
