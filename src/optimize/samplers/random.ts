/** Random search: every dimension uniform in its internal coordinate (log-uniform for :log ranges). */
import type { Rng } from '../../util/rng.ts';
import { type Dimension, fromInternal, internalBounds, type Params } from '../space.ts';
import { distinct, paramsKey, type Sampler, type Trial } from './types.ts';

export function randomParams(space: Dimension[], rng: Rng): Params {
  const p: Params = {};
  for (const d of space) {
    if (d.type === 'categorical') p[d.name] = fromInternal(d, rng.int(d.high + 1));
    else {
      const [lo, hi] = internalBounds(d);
      p[d.name] = fromInternal(d, lo + rng.uniform() * (hi - lo));
    }
  }
  return p;
}

export class RandomSampler implements Sampler {
  readonly name = 'random';
  readonly paramsOnly = true;
  suggest(
    space: Dimension[],
    history: readonly Trial[],
    count: number,
    rng: Rng,
    pending: readonly Params[] = [],
  ): Params[] {
    const seen = new Set([...history.map((t) => t.params), ...pending].map(paramsKey));
    const draw = () => randomParams(space, rng);
    return Array.from({ length: count }, () => distinct(seen, draw(), draw, draw));
  }
}
