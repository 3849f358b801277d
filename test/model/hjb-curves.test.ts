/**
 * F on fill curves remembers its last evaluation with the Jacobian (the gains do not depend on φ, so a φ
 * search's next solve from the last solution re-sums them with the new φ): F and the Jacobian must be the very
 * numbers a fresh system gives, at every φ and h, whatever was evaluated before.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { twoPartCurve } from '../../src/model/fill-rate.ts';
import { HjbSystem } from '../../src/model/hjb.ts';
import { Rng } from '../../src/util/rng.ts';
import { params } from './helpers.ts';

test('F and its Jacobian on fill curves are those of a fresh system after any sequence of φ and h', () => {
  const rng = new Rng(3);
  const p = params({
    qMin: -6,
    qMax: 6,
    epsilonPlus: 0.01,
    epsilonMinus: -0.02,
    feePerFill: 0.005,
    fillPlus: twoPartCurve(0.1, 1.2, 0.7, 4),
    fillMinus: twoPartCurve(0.1, 0.9, 0.6, 3),
  });
  const sys = new HjbSystem(p, 'depth');
  const n = sys.n;
  const fresh = (phi: number, h: Float64Array) => {
    const s = new HjbSystem({ ...p, phi }, 'depth');
    const f = new Float64Array(n);
    const sub = new Float64Array(n);
    const sup = new Float64Array(n);
    s.rhs(h, f, sub, sup);
    return { f, sub, sup };
  };
  let h = Float64Array.from({ length: n }, (_v, i) => -0.01 * (i - 6) ** 2);
  for (let step = 0; step < 200; step++) {
    const r = rng.uniform();
    // Same h again (the memo's case), a new h, or the same h with a signed zero flipped.
    if (r < 0.4) h = Float64Array.from(h, (x) => x + 0.002 * (rng.uniform() - 0.5));
    else if (r < 0.5) h = Float64Array.from(h, (x) => (x === 0 ? -x : x));
    const phi = rng.uniform() < 0.5 ? 1e-3 * rng.uniform() : 0;
    sys.setPhi(phi);
    const f = new Float64Array(n);
    const sub = new Float64Array(n);
    const sup = new Float64Array(n);
    if (rng.uniform() < 0.2) sys.rhs(h, f); // F alone in between (the memo is for F with the Jacobian)
    sys.rhs(h, f, sub, sup);
    const want = fresh(phi, h);
    assert.deepEqual([...f], [...want.f], `F at step ${step}`);
    assert.deepEqual([...sub], [...want.sub], `J⁺ at step ${step}`);
    assert.deepEqual([...sup], [...want.sup], `J⁻ at step ${step}`);
  }
});
