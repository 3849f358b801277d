/**
 * TPE against random search on standard test functions, over repeated seeds: a one-sided Mann–Whitney U test
 * on the best value found per seed (H1: TPE's best is smaller). Also the sampler's contract: deterministic
 * for a seed, in range, integer and categorical dimensions respected, batches spread by the constant liar.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RandomSampler } from '../../src/optimize/samplers/random.ts';
import { observationWeights, TpeSampler } from '../../src/optimize/samplers/tpe/sampler.ts';
import type { Sampler, Trial } from '../../src/optimize/samplers/types.ts';
import { batchRng } from '../../src/optimize/seed.ts';
import type { Dimension, Params } from '../../src/optimize/space.ts';
import { BRANIN_MIN, branin, HARTMANN6_MIN, hartmann6 } from './functions.ts';
import { mannWhitneyLess } from './stats.ts';

const float = (name: string, low: number, high: number, log = false): Dimension => ({
  name,
  type: 'float',
  low,
  high,
  log,
  integer: false,
});

/** Runs `budget` evaluations in batches of `batch`; returns the best value and the trials. */
function minimise(
  sampler: Sampler,
  space: Dimension[],
  f: (p: Params) => number,
  budget: number,
  seed: number,
  batch = 1,
): { best: number; trials: Trial[] } {
  const trials: Trial[] = [];
  let best = Number.POSITIVE_INFINITY;
  for (let b = 0; trials.length < budget; b++) {
    const ps = sampler.suggest(space, trials, Math.min(batch, budget - trials.length), batchRng(seed, 0, b));
    for (const p of ps) {
      const loss = f(p);
      trials.push({ n: trials.length + 1, params: p, status: 'ok', loss });
      if (loss < best) best = loss;
    }
  }
  return { best, trials };
}

const braninSpace = [float('x1', -5, 10), float('x2', 0, 15)];
const braninF = (p: Params) => branin(p.x1 as number, p.x2 as number);
const hSpace = [0, 1, 2, 3, 4, 5].map((i) => float(`x${i}`, 0, 1));
const hF = (p: Params) => hartmann6([0, 1, 2, 3, 4, 5].map((i) => p[`x${i}`] as number));

function compare(
  name: string,
  space: Dimension[],
  f: (p: Params) => number,
  budget: number,
  seeds: number,
  batch: number,
) {
  const tpe: number[] = [];
  const rnd: number[] = [];
  for (let s = 1; s <= seeds; s++) {
    tpe.push(minimise(new TpeSampler(), space, f, budget, s, batch).best);
    rnd.push(minimise(new RandomSampler(), space, f, budget, 1000 + s, batch).best);
  }
  const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const r = mannWhitneyLess(tpe, rnd);
  return { name, tpeMedian: med(tpe), randomMedian: med(rnd), ...r };
}

test('TPE beats random search on Branin (2-D), 25 seeds × 100 evaluations: Mann–Whitney p < 0.01', () => {
  const r = compare('branin', braninSpace, braninF, 100, 25, 1);
  console.log(
    `branin: median best TPE ${r.tpeMedian.toFixed(4)} vs random ${r.randomMedian.toFixed(4)} (min ${BRANIN_MIN}); U ${r.u}, z ${r.z.toFixed(2)}, p ${r.p.toExponential(2)}`,
  );
  assert.ok(r.p < 0.01, `p = ${r.p}`);
  assert.ok(r.tpeMedian < 0.6, `TPE median best ${r.tpeMedian} should be near the minimum ${BRANIN_MIN}`);
});

test('TPE beats random search on Hartmann-6, 20 seeds × 100 evaluations in batches of 4: Mann–Whitney p < 0.01', () => {
  const r = compare('hartmann6', hSpace, hF, 100, 20, 4);
  console.log(
    `hartmann6: median best TPE ${r.tpeMedian.toFixed(4)} vs random ${r.randomMedian.toFixed(4)} (min ${HARTMANN6_MIN}); U ${r.u}, z ${r.z.toFixed(2)}, p ${r.p.toExponential(2)}`,
  );
  assert.ok(r.p < 0.01, `p = ${r.p}`);
});

test('Mann–Whitney helper: known cases', () => {
  // Completely separated samples of 10 and 10: U = 0, exact one-sided p = 1/C(20,10) ≈ 5.4e-6; the normal
  // approximation gives z ≈ −3.74, p ≈ 9e-5.
  const a = Array.from({ length: 10 }, (_, i) => i);
  const b = Array.from({ length: 10 }, (_, i) => 100 + i);
  const r = mannWhitneyLess(a, b);
  assert.equal(r.u, 0);
  assert.ok(Math.abs(r.z - -3.742) < 0.01, `z ${r.z}`);
  assert.ok(r.p < 1e-4 && r.p > 5e-5);
  // Identical samples: p ≈ 0.5.
  const same = mannWhitneyLess([1, 2, 3, 4], [1, 2, 3, 4]);
  assert.ok(Math.abs(same.p - 0.5) < 0.15);
  // Reversed: p close to 1.
  assert.ok(mannWhitneyLess(b, a).p > 0.999);
});

test('TPE is deterministic for a seed, stays in range, respects integer and categorical dimensions', () => {
  const space: Dimension[] = [
    float('a', 1e-4, 10, true),
    { name: 'n', type: 'int', low: 1, high: 20, log: false, integer: true },
    {
      name: 'm',
      type: 'categorical',
      low: 0,
      high: 1,
      log: false,
      integer: true,
      choices: ['depth', 'touch'],
    },
  ];
  const f = (p: Params) =>
    (Math.log10(p.a as number) - 0.5) ** 2 + ((p.n as number) - 7) ** 2 / 10 + (p.m === 'touch' ? 0 : 1);
  const one = minimise(new TpeSampler(), space, f, 40, 7, 3);
  const two = minimise(new TpeSampler(), space, f, 40, 7, 3);
  assert.deepEqual(one.trials, two.trials);
  for (const t of one.trials) {
    const a = t.params.a as number;
    const n = t.params.n as number;
    assert.ok(a >= 1e-4 && a <= 10);
    assert.ok(Number.isInteger(n) && n >= 1 && n <= 20);
    assert.ok(t.params.m === 'depth' || t.params.m === 'touch');
  }
  // It learns: the last 15 proposals favour the better category and n near 7.
  const late = one.trials.slice(-15);
  assert.ok(late.filter((t) => t.params.m === 'touch').length >= 10);
  assert.ok(Math.abs(late.map((t) => t.params.n as number).sort((x, y) => x - y)[7] - 7) <= 2);
});

test('a batch proposed from the same history is spread out (constant liar), not one point repeated', () => {
  const space = [float('x', 0, 1)];
  const history: Trial[] = Array.from({ length: 20 }, (_, i) => ({
    n: i + 1,
    params: { x: (i + 0.5) / 20 },
    status: 'ok' as const,
    loss: ((i + 0.5) / 20 - 0.3) ** 2,
  }));
  const batch = new TpeSampler().suggest(space, history, 6, batchRng(3, 0, 9));
  const xs = batch.map((p) => p.x as number);
  assert.equal(new Set(xs).size, 6);
  for (const x of xs) assert.ok(Math.abs(x - 0.3) < 0.3, `proposal ${x} near the good region`);
});

test('observation weights: flat up to 25, a ramp for older ones beyond', () => {
  assert.deepEqual(observationWeights(3), [1, 1, 1]);
  const w = observationWeights(40);
  assert.equal(w.length, 40);
  assert.ok(Math.abs(w[0] - 1 / 40) < 1e-12);
  assert.ok(w[10] < 1 && w[10] > w[0] && w[14] === 1);
  assert.deepEqual(w.slice(15), Array(25).fill(1));
});

test('scoring each discrete cell once per proposer gives the very same proposals as scoring every candidate', () => {
  // A small integer × integer × log-integer × categorical × float space, searched long enough that draws
  // repeat finished epochs and are redrawn (where the memo saves the most), with pruned and infeasible epochs.
  const space: Dimension[] = [
    { name: 'a', type: 'int', low: 0, high: 12, log: false, integer: true },
    { name: 'b', type: 'int', low: 1, high: 9, log: false, integer: true },
    { name: 'c', type: 'int', low: 1, high: 64, log: true, integer: true },
    { name: 'm', type: 'categorical', low: 0, high: 2, log: false, integer: true, choices: ['x', 'y', 'z'] },
    float('f', -1, 1),
  ];
  const f = (p: Params) =>
    ((p.a as number) - 7) ** 2 + ((p.b as number) - 3) ** 2 + Math.log(p.c as number) + (p.f as number) ** 2;
  for (const seed of [1, 2]) {
    const memo = new TpeSampler();
    const plain = new TpeSampler({ memoCells: false });
    const trials: Trial[] = [];
    for (let b = 0; b < 40; b++) {
      const rngA = batchRng(seed, 0, b);
      const rngB = batchRng(seed, 0, b);
      const ps = memo.suggest(space, trials, 3, rngA);
      assert.deepEqual(ps, plain.suggest(space, trials, 3, rngB), `seed ${seed} batch ${b}`);
      for (const p of ps) {
        const i = trials.length;
        trials.push(
          i % 9 === 4
            ? { n: i + 1, params: p, status: 'pruned', loss: null, prunedStep: i % 3, prunedLoss: f(p) }
            : { n: i + 1, params: p, status: i % 13 === 6 ? 'infeasible' : 'ok', loss: f(p) },
        );
      }
    }
  }
});
