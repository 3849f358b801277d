/**
 * What a sampler sees and returns. A sampler is pure: given the space, the finished epochs of earlier
 * batches and a seeded random stream, it proposes a batch of parameter sets; the same inputs give the same
 * batch (which is what makes runs reproducible for equal --seed and -j, and resumable).
 */
import type { Rng } from '../../util/rng.ts';
import type { Dimension, Params } from '../space.ts';

export type TrialStatus = 'ok' | 'infeasible' | 'pruned' | 'failed';

export interface Trial {
  /** Epoch number (chronological order). */
  n: number;
  params: Params;
  status: TrialStatus;
  /** Final loss (ok and infeasible epochs); null otherwise. */
  loss: number | null;
  /** Pruned epochs: the index of the checkpoint they stopped at and the running loss there. */
  prunedStep?: number;
  prunedLoss?: number;
}

export interface Sampler {
  readonly name: string;
  /**
   * True when proposals depend only on the history's parameter sets, not on their results (random search):
   * with no pruning, a batch can then be proposed before the earlier ones finish (no batch barrier).
   */
  readonly paramsOnly?: boolean;
  /**
   * Proposes `count` parameter sets from the finished trials of earlier batches; `pending`: parameter sets
   * proposed but not finished (earlier batches still running), never proposed again and, for TPE, constant
   * liars like the batch's own earlier proposals.
   */
  suggest(
    space: Dimension[],
    history: readonly Trial[],
    count: number,
    rng: Rng,
    pending?: readonly Params[],
  ): Params[];
}

/** Identity of a parameter set (for de-duplication). */
export function paramsKey(p: Params): string {
  return JSON.stringify(
    Object.keys(p)
      .sort()
      .map((k) => [k, p[k]]),
  );
}

/**
 * The backtest is deterministic, so evaluating a parameter set twice wastes an epoch: proposals equal to a
 * finished epoch or to an earlier proposal of the batch are drawn again (`retry`, up to `tries` times), then
 * replaced by a random unseen point; only when none is found (a nearly exhausted discrete space) is the
 * duplicate kept.
 */
export function distinct(
  seen: Set<string>,
  first: Params,
  retry: () => Params,
  random: () => Params,
  tries = 8,
): Params {
  let p = first;
  for (let i = 0; i < tries && seen.has(paramsKey(p)); i++) p = retry();
  for (let i = 0; i < 4 * tries && seen.has(paramsKey(p)); i++) p = random();
  seen.add(paramsKey(p));
  return p;
}
