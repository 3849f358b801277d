/**
 * The birth–death law: π(i+1)/π(i) = up[i]/down[i+1] (detailed balance, checked directly), and the remembered
 * weights (BirthDeathWeights) are the numbers a fresh computation gives after any sequence of chains — the same
 * chain again, one rate changed on either side, another range.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BirthDeathWeights, birthDeathLogPi, birthDeathPi } from '../../src/model/birth-death.ts';
import { Rng } from '../../src/util/rng.ts';

function fresh(up: Float64Array, down: Float64Array, lo: number, hi: number) {
  const n = up.length;
  const logPi = new Float64Array(n);
  const mode = birthDeathLogPi(up, down, lo, hi, logPi);
  const w = new Float64Array(n);
  let z = 0;
  for (let i = lo; i <= hi; i++) {
    w[i] = Math.exp(logPi[i] - logPi[mode]);
    z += w[i];
  }
  const pi = new Float64Array(n);
  if (mode >= 0) birthDeathPi(logPi, lo, hi, mode, pi);
  return { mode, w, z, pi };
}

test('birth–death law: detailed balance, normalised', () => {
  const up = Float64Array.from([2, 1.5, 0.7, 0.4, 0]);
  const down = Float64Array.from([0, 0.3, 0.9, 1.1, 2.5]);
  const { pi } = fresh(up, down, 0, 4);
  for (let i = 0; i < 4; i++) assert.ok(Math.abs(pi[i] * up[i] - pi[i + 1] * down[i + 1]) < 1e-15);
  assert.ok(Math.abs(pi.reduce((a, b) => a + b, 0) - 1) < 1e-15);
});

test('remembered birth–death weights equal a fresh computation after any sequence of chains', () => {
  const rng = new Rng(5);
  const n = 9;
  const law = new BirthDeathWeights(n);
  const level = [2.1, 0.6, 0.13];
  let up = Float64Array.from({ length: n }, () => level[Math.floor(3 * rng.uniform())]);
  let down = Float64Array.from({ length: n }, () => level[Math.floor(3 * rng.uniform())]);
  let lo = 0;
  let hi = n - 1;
  for (let step = 0; step < 400; step++) {
    const r = rng.uniform();
    if (r < 0.3) {
      up = up.slice();
      up[Math.floor(n * rng.uniform())] = level[Math.floor(3 * rng.uniform())];
    } else if (r < 0.6) {
      down = down.slice();
      down[Math.floor(n * rng.uniform())] = level[Math.floor(3 * rng.uniform())];
    } else if (r < 0.7) {
      lo = Math.floor(3 * rng.uniform());
      hi = n - 1 - Math.floor(3 * rng.uniform());
    } else if (r < 0.75) {
      down = down.slice();
      down[lo + 1] = 0; // a chain the law refuses
    }
    const want = fresh(up, down, lo, hi);
    const mode = law.of(up, down, lo, hi);
    assert.equal(mode, want.mode, `mode at step ${step}`);
    if (mode < 0) {
      down = down.slice();
      down[lo + 1] = level[0];
      continue;
    }
    for (let i = lo; i <= hi; i++) assert.ok(Object.is(law.w[i], want.w[i]), `w[${i}] at step ${step}`);
    assert.ok(Object.is(law.z, want.z), `z at step ${step}`);
    for (let i = lo; i <= hi; i++)
      assert.ok(Object.is(law.w[i] / law.z, want.pi[i]), `π[${i}] at step ${step}`);
  }
});
