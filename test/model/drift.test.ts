/**
 * The drift D = λ⁺ε⁺ − λ⁻ε⁻: its delta-method SE against sampling, the shrink rule, the drift override in the
 * solvers (exact translation of the policy; a simulated world with that drift earns the solver's g), and its
 * effect on the quotes at q = 0.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  DOMINANCE_RATIO,
  driftEffect,
  driftEstimate,
  shrinkFactor,
  usedDrift,
} from '../../src/model/drift.ts';
import { adverseDrift } from '../../src/model/params.ts';
import { simulateMany, tablePolicy } from '../../src/model/simulator.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import { Rng } from '../../src/util/rng.ts';
import { at, params } from './helpers.ts';

const INF = Number.POSITIVE_INFINITY;

test('SE of D by the delta method with Cov(ε⁺, ε⁻) matches the spread of D over sampled estimates', () => {
  const v = { lambdaPlus: 1.6, lambdaMinus: 1.1, epsilonPlus: 0.12, epsilonMinus: 0.15 };
  const se = { lambdaPlus: 0.05, lambdaMinus: 0.04, epsilonPlus: 0.02, epsilonMinus: 0.03 };
  const rho = -0.4; // the shared drift correction makes ε̂⁺ and ε̂⁻ negatively correlated
  const cov = rho * se.epsilonPlus * se.epsilonMinus;
  const est = driftEstimate(v, se, cov);
  assert.ok(Math.abs(est.value - (1.6 * 0.12 - 1.1 * 0.15)) < 1e-15);
  const rng = new Rng(3);
  const ds: number[] = [];
  for (let i = 0; i < 40_000; i++) {
    const z1 = rng.normal();
    const z2 = rho * z1 + Math.sqrt(1 - rho * rho) * rng.normal();
    const lp = v.lambdaPlus + se.lambdaPlus * rng.normal();
    const lm = v.lambdaMinus + se.lambdaMinus * rng.normal();
    ds.push(lp * (v.epsilonPlus + se.epsilonPlus * z1) - lm * (v.epsilonMinus + se.epsilonMinus * z2));
  }
  const m = ds.reduce((s, x) => s + x, 0) / ds.length;
  const sd = Math.sqrt(ds.reduce((s, x) => s + (x - m) ** 2, 0) / (ds.length - 1));
  // The delta method drops the product of the two errors (second order: ~0.3 % here).
  assert.ok(Math.abs(sd / est.stderr - 1) < 0.02, `sampled SD ${sd} vs delta-method SE ${est.stderr}`);
  const independent = driftEstimate(v, se, 0);
  assert.ok(independent.stderr < est.stderr, 'negative Cov(ε⁺, ε⁻) widens the SE of a difference');
  assert.equal(est.z, est.value / est.stderr);
});

test('shrink keeps max(0, 1 − 1/z²) of D; model and zero as named; no SE = as given', () => {
  assert.equal(shrinkFactor(0.03, 0.06), 0);
  assert.equal(shrinkFactor(0.06, 0.06), 0);
  assert.ok(Math.abs(shrinkFactor(0.12, 0.06) - 0.75) < 1e-15);
  assert.ok(Math.abs(shrinkFactor(-0.24, 0.06) - 0.9375) < 1e-15);
  assert.equal(shrinkFactor(0.1, Number.NaN), 1);
  assert.equal(usedDrift('model', 0.03, 0.06), 0.03);
  assert.equal(usedDrift('zero', 0.03, 0.06), 0);
  assert.equal(usedDrift('shrink', 0.03, 0.06), 0);
  assert.ok(Math.abs(usedDrift('shrink', 0.12, 0.06) - 0.09) < 1e-15);
  assert.equal(usedDrift('shrink', 0.03), 0.03);
  // Continuous in D: no jump as the estimate crosses any threshold.
  let last = 0;
  for (let d = 0.06; d < 0.2; d += 1e-4) {
    const u = usedDrift('shrink', d, 0.06);
    assert.ok(u >= last && u - last < 1e-3);
    last = u;
  }
});

test('the drift override is exact: symmetric sides, D = 2φq* translates the whole policy by q* lots', () => {
  // −φq² + qD = −φ(q − q*)² + const: away from the bounds the optimal policy at q is the driftless one at q − q*.
  const p = params({
    phi: 0.01,
    epsilonPlus: 0.03,
    epsilonMinus: 0.03,
    feePerFill: 0.1,
    qMin: -40,
    qMax: 40,
  });
  const shift = 3;
  const base = solveQuotes(p, { horizon: INF });
  const moved = solveQuotes({ ...p, drift: 2 * p.phi * shift }, { horizon: INF });
  for (let q = -20; q <= 20; q++) {
    for (const k of ['deltaPlus', 'deltaMinus'] as const) {
      const a = moved[k][at(moved, q)];
      const b = base[k][at(base, q - shift)];
      assert.ok(Math.abs(a - b) < 1e-9, `${k}(q=${q}) ${a} vs ${b}`);
    }
  }
  assert.equal(adverseDrift({ ...p, drift: 0.5 }), 0.5);
  assert.equal(adverseDrift({ ...p, lambdaPlus: 2, epsilonPlus: 0.1, epsilonMinus: 0.05 }), 2 * 0.1 - 0.05);
});

test('a world whose mid drifts at the overridden D earns the solver growth rate under its policy', () => {
  const p = params({
    lambdaPlus: 1.2,
    lambdaMinus: 0.9,
    epsilonPlus: 0.05,
    epsilonMinus: 0.02,
    phi: 0.01,
    qMin: -6,
    qMax: 6,
    feePerFill: 0.02,
    drift: 0.004,
  });
  const t = solveQuotes(p, { horizon: INF });
  const D = 1.2 * 0.05 - 0.9 * 0.02;
  const T = 3000;
  const mc = simulateMany(
    {
      world: { ...p, sigma: 0, midDrift: p.drift! - D },
      horizon: T,
      qMin: -6,
      qMax: 6,
      phi: p.phi,
      alpha: 0,
    },
    tablePolicy(t),
    30,
    5,
  );
  const rate = mc.meanObjective / T;
  const se = mc.stderrObjective / T;
  assert.ok(Math.abs(rate - t.growthRate!) < 3 * se + 2e-4, `simulated ${rate} ± ${se} vs g ${t.growthRate}`);
});

test('the skew at q = 0 a drift causes, and when it dominates (ETH: D = 0.028 USD/s at φ = 0.001)', () => {
  // The shared ETH window's calibration (cjmm calibrate), fee 1.5 bp at 3,350.
  const eth = params({
    lambdaPlus: 1.622,
    lambdaMinus: 1.095,
    kappaPlus: 8.404,
    kappaMinus: 8.581,
    epsilonPlus: 0.1168,
    epsilonMinus: 0.1472,
    phi: 0.001,
    alpha: 0.001,
    feePerFill: 0.5025,
  });
  const D = adverseDrift(eth);
  const e = driftEffect(eth, D);
  const t = solveQuotes(eth, { horizon: INF });
  const i = at(t, 0);
  assert.ok(Math.abs(e.skew - (t.deltaPlus[i] - t.deltaMinus[i]) / 2) < 1e-12);
  assert.ok(e.effect > 0, 'D > 0 leans long: the ask moves away, the bid closer');
  assert.ok(e.dominates && e.ratio > DOMINANCE_RATIO, `ratio ${e.ratio}`);
  // In bp of 3,350: the ask far out, the bid near the mid (the "ask 4.5 bp, bid 0.3 bp").
  assert.ok((t.deltaPlus[i] / 3350) * 1e4 > 3 && (t.deltaMinus[i] / 3350) * 1e4 < 1);
  const none = driftEffect(eth, 0);
  assert.equal(none.effect, 0);
  assert.equal(none.dominates, false);
  const small = driftEffect(eth, 0.002);
  assert.ok(small.effect > 0 && !small.dominates, `ratio ${small.ratio}`);
});
