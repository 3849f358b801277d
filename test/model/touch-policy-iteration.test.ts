/**
 * Stationary touch mode by Howard's policy iteration (touch.ts) against the general ergodic solver it replaced
 * there (burn-in integration + Newton, still the fallback): the same policy state by state and the same values
 * to the solvers' tolerance, on a grid that includes quoting that never pays (Δ/2 < ε + c: flatten, then stop
 * posting — states that post neither side), a drift that moves the resting inventory off zero, asymmetric rates
 * and asymmetric bounds; and the result solves the ergodic equation F(v) = g·1 itself.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HjbSystem } from '../../src/model/hjb.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import { stationaryGeneral } from '../../src/model/stationary.ts';
import { postAsk, postBid, touchPolicyIteration } from '../../src/model/touch.ts';
import type { ModelParams } from '../../src/model/types.ts';
import { params } from './helpers.ts';

test('touch-mode policy iteration: the general solver’s policy and values, and F(v) = g·1', () => {
  let cases = 0;
  let silent = 0;
  // Drifts that leave −φq² + qD a unique maximum on the grid (see the last test for a tie).
  const drifts = [undefined, 0.023, -0.047];
  for (const phi of [1e-6, 1e-4, 1e-2])
    for (const halfSpread of [0.05, 0.5])
      for (const [epsilonPlus, epsilonMinus] of [
        [0.01, 0.02],
        [0.13, 0.1],
      ])
        for (const feePerFill of [0, 0.5])
          for (const drift of drifts)
            for (const [lambdaPlus, lambdaMinus] of [
              [2.7, 2.4],
              [0.5, 3],
            ])
              for (const [qMin, qMax] of [
                [-6, 6],
                [-3, 9],
              ]) {
                const p: ModelParams = params({
                  lambdaPlus,
                  lambdaMinus,
                  epsilonPlus,
                  epsilonMinus,
                  feePerFill,
                  phi,
                  qMin,
                  qMax,
                  ...(drift === undefined ? {} : { drift }),
                });
                const what = JSON.stringify({
                  phi,
                  halfSpread,
                  epsilonPlus,
                  feePerFill,
                  drift,
                  lambdaPlus,
                  qMin,
                });
                const pi = touchPolicyIteration(p, halfSpread);
                assert.ok(pi, `policy iteration solved it: ${what}`);
                const ref = stationaryGeneral(p, 'touch', halfSpread);
                const n = qMax - qMin + 1;
                let scale = 1;
                for (let i = 0; i < n; i++) scale = Math.max(scale, Math.abs(ref.h[i]));
                for (let i = 0; i < n; i++) {
                  assert.equal(
                    postAsk(p, halfSpread, pi.h, i),
                    postAsk(p, halfSpread, ref.h, i),
                    `ask at ${i}: ${what}`,
                  );
                  assert.equal(
                    postBid(p, halfSpread, pi.h, i),
                    postBid(p, halfSpread, ref.h, i),
                    `bid at ${i}: ${what}`,
                  );
                  assert.ok(
                    Math.abs(pi.h[i] - ref.h[i]) <= 1e-9 * scale,
                    `v at ${i}: ${pi.h[i]} vs ${ref.h[i]}: ${what}`,
                  );
                  if (!postAsk(p, halfSpread, pi.h, i) && !postBid(p, halfSpread, pi.h, i)) silent++;
                }
                // The ergodic equation itself, to the general solver's tolerance (1e-12 of the rate scale).
                const sys = new HjbSystem(p, 'touch', halfSpread);
                let maxBase = 0;
                for (let i = 0; i < n; i++) maxBase = Math.max(maxBase, Math.abs(sys.base[i]));
                const tol = 1e-12 * (sys.rateScale + maxBase);
                assert.ok(Math.abs(pi.growthRate - ref.growthRate) <= 10 * tol, `g: ${what}`);
                const f = new Float64Array(n);
                sys.rhs(pi.h, f);
                for (let i = 0; i < n; i++)
                  assert.ok(Math.abs(f[i] - pi.growthRate) <= tol, `F at ${i}: ${what}`);
                assert.equal(pi.h[-qMin], 0);
                cases++;
              }
  assert.equal(cases, 288);
  assert.ok(silent > 50, `the grid has states that post neither side (${silent})`);
});

test('touch-mode quotes: a warm start from a nearby solution gives the same table as a cold solve', () => {
  const p = params({ lambdaPlus: 2.7, lambdaMinus: 2.4, epsilonPlus: 0.02, epsilonMinus: 0.01, phi: 1e-3 });
  const opts = { horizon: Number.POSITIVE_INFINITY, mode: 'touch' as const, halfSpread: 0.05 };
  const near = solveQuotes({ ...p, phi: 1.3e-3 }, opts);
  const cold = solveQuotes(p, opts);
  const warm = solveQuotes(p, { ...opts, init: near.h });
  assert.deepEqual(Array.from(warm.deltaPlus), Array.from(cold.deltaPlus));
  assert.deepEqual(Array.from(warm.deltaMinus), Array.from(cold.deltaMinus));
  for (let i = 0; i < cold.h.length; i++)
    assert.ok(Math.abs(warm.h[i] - cold.h[i]) <= 1e-9 * (1 + Math.abs(cold.h[i])));
});

test('touch mode with two resting states of equal rate (−φq² + qD tied): solved, where the integrator path is not', () => {
  // φ = 0.01, D = −0.05: −φq² + qD is 0.06 at q = −3 and q = −2; quoting never pays (Δ/2 < ε + c), so the
  // solution rests at either, and the values of the states that lead there are not unique.
  const p = params({
    lambdaPlus: 2.7,
    lambdaMinus: 2.4,
    epsilonPlus: 0.01,
    epsilonMinus: 0.02,
    feePerFill: 0.5,
  });
  const tied: ModelParams = { ...p, phi: 1e-2, drift: -0.05, qMin: -3, qMax: 9 };
  assert.throws(() => stationaryGeneral(tied, 'touch', 0.05), /did not converge/);
  const pi = touchPolicyIteration(tied, 0.05);
  assert.ok(pi);
  assert.ok(Math.abs(pi.growthRate - 0.06) < 1e-15);
  const sys = new HjbSystem(tied, 'touch', 0.05);
  const f = new Float64Array(sys.n);
  sys.rhs(pi.h, f);
  for (let i = 0; i < sys.n; i++)
    assert.ok(Math.abs(f[i] - pi.growthRate) <= 1e-12 * sys.rateScale, `F at ${i}`);
  const t = solveQuotes(tied, { horizon: Number.POSITIVE_INFINITY, mode: 'touch', halfSpread: 0.05 });
  // Above the resting states (q ≥ −1) the quotes only sell, towards them; at a resting state nothing is posted.
  for (let q = -1; q <= 9; q++)
    assert.ok(t.deltaPlus[q + 3] === 0.05 && Number.isNaN(t.deltaMinus[q + 3]), `q ${q}`);
  const silent = [0, 1].filter((i) => Number.isNaN(t.deltaPlus[i]) && Number.isNaN(t.deltaMinus[i]));
  assert.ok(silent.length >= 1);
});
