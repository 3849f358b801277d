/** The simulator against closed forms that do not involve the HJB solvers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fillProbability, simulateMany, simulatePath } from '../../src/model/simulator.ts';
import { Rng } from '../../src/util/rng.ts';

const world = {
  lambdaPlus: 1.5,
  lambdaMinus: 0.5,
  kappaPlus: 10,
  kappaMinus: 6,
  epsilonPlus: 0.02,
  epsilonMinus: 0.01,
  sigma: 0.1,
  feePerFill: 0.003,
};

test('fill probability: e^{−κδ}, 1 when crossing, 0 when not quoted', () => {
  assert.equal(fillProbability(10, 0.1), Math.exp(-1));
  assert.equal(fillProbability(10, -0.3), 1);
  assert.equal(fillProbability(10, Number.POSITIVE_INFINITY), 0);
  assert.equal(fillProbability(10, Number.NaN), 0);
});

test('constant depths, ε = 0, no penalties: E[P&L] = T Σ± λ±e^{−κ±δ±}(δ± − c)', () => {
  // With ε = 0 the mid is a martingale and every fill earns δ − c against it.
  const w = { ...world, epsilonPlus: 0, epsilonMinus: 0 };
  const dp = 0.08;
  const dm = 0.15;
  const T = 50;
  const cfg = { world: w, horizon: T, qMin: -1000, qMax: 1000, phi: 0, alpha: 0, s0: 10 };
  const r = simulateMany(cfg, () => ({ deltaPlus: dp, deltaMinus: dm }), 4000, 7);
  const rateP = w.lambdaPlus * Math.exp(-w.kappaPlus * dp);
  const rateM = w.lambdaMinus * Math.exp(-w.kappaMinus * dm);
  const expected = T * (rateP * (dp - w.feePerFill) + rateM * (dm - w.feePerFill));
  assert.ok(Math.abs(r.meanPnl - expected) < 3 * r.stderrPnl, `${r.meanPnl} ± ${r.stderrPnl} vs ${expected}`);
  assert.ok(Math.abs(r.meanFills - T * (rateP + rateM)) < 0.05 * T * (rateP + rateM));
});

test('no quotes: no fills, the mid drifts by (λ⁺ε⁺ − λ⁻ε⁻)T and objective = 0', () => {
  const T = 100;
  const cfg = { world, horizon: T, qMin: -5, qMax: 5, phi: 1, alpha: 1, s0: 50 };
  const rng = new Rng(3);
  let sumMid = 0;
  const n = 2000;
  for (let k = 0; k < n; k++) {
    const r = simulatePath(cfg, () => ({ deltaPlus: Number.NaN, deltaMinus: Number.POSITIVE_INFINITY }), rng);
    assert.equal(r.fillsPlus + r.fillsMinus, 0);
    assert.equal(r.objective, 0);
    sumMid += r.mid;
  }
  const drift = (world.lambdaPlus * world.epsilonPlus - world.lambdaMinus * world.epsilonMinus) * T;
  // sd of the mid at T: σ√T plus the compound-Poisson jump noise.
  const sd = Math.sqrt(
    world.sigma ** 2 * T +
      T * (world.lambdaPlus * world.epsilonPlus ** 2 + world.lambdaMinus * world.epsilonMinus ** 2),
  );
  assert.ok(Math.abs(sumMid / n - 50 - drift) < (4 * sd) / Math.sqrt(n));
});

test('bounds are enforced and the penalised objective is assembled from its parts', () => {
  const cfg = { world, horizon: 200, qMin: -2, qMax: 3, phi: 0.01, alpha: 0.1, s0: 20 };
  const rng = new Rng(11);
  for (let k = 0; k < 200; k++) {
    // Crossing quotes on both sides fill on every MO: inventory hits the bounds constantly.
    const r = simulatePath(cfg, () => ({ deltaPlus: -1, deltaMinus: -1 }), rng);
    assert.ok(r.inventory >= -2 && r.inventory <= 3);
    assert.equal(r.fillsMinus - r.fillsPlus, r.inventory);
    const expected =
      r.cash + r.inventory * (r.mid - cfg.alpha * r.inventory) - cfg.phi * r.inventorySquaredIntegral;
    assert.ok(Math.abs(r.objective - expected) < 1e-9);
    assert.ok(r.inventorySquaredIntegral <= 9 * 200 + 1e-9);
  }
});

test('same seed, same paths (reproducible)', () => {
  const cfg = { world, horizon: 30, qMin: -5, qMax: 5, phi: 0, alpha: 0 };
  const pol = () => ({ deltaPlus: 0.1, deltaMinus: 0.1 });
  const a = simulateMany(cfg, pol, 50, 99);
  const b = simulateMany(cfg, pol, 50, 99);
  assert.deepEqual(Array.from(a.objectives), Array.from(b.objectives));
});
