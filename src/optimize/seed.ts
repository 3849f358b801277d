/**
 * Derived seeds: the random stream of each batch is a pure function of (--seed, fold, batch), so a batch can
 * be re-proposed identically after a resume without replaying the streams of the batches before it.
 */
import { Rng } from '../util/rng.ts';

/** 32-bit mix (murmur3 finaliser) of a sequence of integers. */
export function mixSeed(...parts: number[]): number {
  let h = 0x811c9dc5;
  for (const p of parts) {
    h = Math.imul(h ^ (p >>> 0), 0x01000193);
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
  }
  return h >>> 0;
}

export function batchRng(seed: number, fold: number, batch: number): Rng {
  return new Rng(mixSeed(seed, fold, batch));
}
