/**
 * General fill-rate models in the HJB: the exact 1-D maximiser on the tick grid, reduction to today's closed
 * form for the exponential, to touch mode for a single level, to the exponential as the grid gets fine, and a
 * Monte Carlo check of the two-part model's stationary policy.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  bestQuote,
  CompiledFill,
  type FillCurve,
  fillRate,
  type LevelsFill,
  twoPartCurve,
  validateFillCurve,
} from '../../src/model/fill-rate.ts';
import { simulateMany, tablePolicy } from '../../src/model/simulator.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import type { ModelParams } from '../../src/model/types.ts';
import { Rng } from '../../src/util/rng.ts';
import { maxDepthDiff, params } from './helpers.ts';

const INF = Number.POSITIVE_INFINITY;

test('exponential: δ* = 1/κ − x, G = (λ/κ)e^{−1+κx}, Λ(δ*) = λe^{−1+κx}, and nothing on a fine grid beats it', () => {
  const c: FillCurve = { kind: 'exponential', lambda: 1.7, kappa: 8.5 };
  for (const x of [-0.9, -0.3, 0, 0.2]) {
    const b = bestQuote(c, x);
    assert.equal(b.delta, 1 / 8.5 - x);
    assert.ok(Math.abs(b.gain - (1.7 / 8.5) * Math.exp(-1 + 8.5 * x)) <= 1e-15 * b.gain);
    assert.ok(Math.abs(b.rate - 1.7 * Math.exp(-1 + 8.5 * x)) <= 1e-15 * b.rate);
    let brute = Number.NEGATIVE_INFINITY;
    for (let d = -2; d <= 3; d += 1e-4) brute = Math.max(brute, fillRate(c, d) * (d + x));
    assert.ok(brute <= b.gain * (1 + 1e-12) && brute >= b.gain * (1 - 1e-6), `x=${x}: ${brute} vs ${b.gain}`);
  }
});

test('levels: the closed-form tail maximiser equals brute force over every level, with and without a tail', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 400; trial++) {
    const J = 1 + Math.floor(rng.uniform() * 4);
    const rates = [0.2 + rng.uniform() * 2];
    for (let j = 1; j < J; j++) rates.push(rates[j - 1] * rng.uniform());
    const c: LevelsFill = {
      kind: 'levels',
      delta0: 0.05,
      tick: 0.1,
      rates,
      tailRatio: trial % 5 === 0 ? 0 : 0.3 + 0.69 * rng.uniform(),
    };
    const x = -3 + 4 * rng.uniform();
    const b = bestQuote(c, x);
    let best = c.tailRatio === 0 ? 0 : Number.NEGATIVE_INFINITY;
    let bestDelta = INF;
    // The tail is searched down to Λ = 1e-9 × Λ at the last given level (fill-rate.ts, MIN_RATE_SHARE).
    const deepest = J - 1 + (c.tailRatio > 0 ? Math.ceil(Math.log(1e9) / -Math.log(c.tailRatio)) : 0);
    for (let j = 0; j <= Math.min(deepest, 5000); j++) {
      const d = c.delta0 + j * c.tick;
      const g = fillRate(c, d) * (d + x);
      if (g > best) {
        best = g;
        bestDelta = d;
      }
    }
    assert.ok(
      Math.abs(b.gain - best) <= 1e-12 * Math.max(1, Math.abs(best)),
      `trial ${trial}: ${b.gain} vs ${best}`,
    );
    if (best > 0)
      assert.ok(Math.abs(b.delta - bestDelta) < 1e-9, `trial ${trial}: δ ${b.delta} vs ${bestDelta}`);
    const want = Number.isFinite(b.delta) ? fillRate(c, b.delta) : 0;
    assert.ok(Math.abs(b.rate - want) <= 1e-12 * want, `trial ${trial}: Λ ${b.rate} vs ${want}`);
  }
  // No tail and nothing profitable: do not quote.
  const none = bestQuote({ kind: 'levels', delta0: 0.05, tick: 0.1, rates: [1], tailRatio: 0 }, -0.2);
  assert.deepEqual(none, { delta: INF, rate: 0, gain: 0 });
});

test('levels: a quote inside the touch fills no more often; switch points tie the two gains', () => {
  const c = twoPartCurve(0.1, 1, 0.8, 3);
  assert.equal(fillRate(c, -1), 1);
  assert.equal(fillRate(c, 0.05), 1);
  assert.ok(Math.abs(fillRate(c, 0.15) - 0.2) < 1e-15);
  assert.ok(Math.abs(fillRate(c, 0.25) - 0.2 * Math.exp(-0.3)) < 1e-15);
  const xs = CompiledFill.switchPoint(0.05, 1, 0.15, 0.2);
  assert.ok(Math.abs(1 * (0.05 + xs) - 0.2 * (0.15 + xs)) < 1e-15);
  assert.deepEqual(validateFillCurve({ ...c, tailRatio: 1 }, 'fillPlus'), [
    'fillPlus.tailRatio must be in [0, 1) (got 1)',
  ]);
  assert.match(validateFillCurve({ ...c, rates: [0, 0] }, 'fillMinus').join(';'), /fillMinus\.rates\[0\]/);
});

test("the general solver with exponential curves reduces to today's closed form (Perron, matrix exponential)", () => {
  const p = params({
    lambdaPlus: 1.3,
    lambdaMinus: 0.9,
    kappaPlus: 9,
    kappaMinus: 9,
    epsilonPlus: 0.06,
    epsilonMinus: 0.03,
    phi: 0.004,
    alpha: 0.002,
    feePerFill: 0.2,
  });
  const curves: Partial<ModelParams> = {
    fillPlus: { kind: 'exponential', lambda: p.lambdaPlus, kappa: p.kappaPlus },
    fillMinus: { kind: 'exponential', lambda: p.lambdaMinus, kappa: p.kappaMinus },
  };
  const stat = solveQuotes(p, { horizon: INF });
  const statG = solveQuotes({ ...p, ...curves }, { horizon: INF });
  assert.equal(stat.method, 'perron');
  assert.equal(statG.method, 'ergodic');
  assert.ok(maxDepthDiff(stat, statG) < 1e-10 / 9, `stationary: ${maxDepthDiff(stat, statG)}`);
  assert.ok(Math.abs(stat.growthRate! - statG.growthRate!) < 1e-12);
  for (const horizon of [5, 600]) {
    const a = solveQuotes(p, { horizon });
    const b = solveQuotes({ ...p, ...curves }, { horizon });
    if (horizon === 600) assert.equal(a.method, 'matrix');
    assert.equal(b.method, 'ode');
    assert.ok(maxDepthDiff(a, b) < 1e-9 / 9, `T = ${horizon}: ${maxDepthDiff(a, b)}`);
    for (let i = 0; i < a.h.length; i++) assert.ok(Math.abs(a.fillRatePlus[i] - b.fillRatePlus[i]) < 1e-9);
  }
});

test('a single level without a tail is touch mode (stationary: same value function and posting decisions)', () => {
  const p = params({ epsilonPlus: 0.01, epsilonMinus: 0.02, phi: 0.003, alpha: 0.01, qMin: -6, qMax: 6 });
  const half = 0.05;
  const level = (lambda: number): LevelsFill => ({
    kind: 'levels',
    delta0: half,
    tick: 0.1,
    rates: [lambda],
    tailRatio: 0,
  });
  const lv = { ...p, fillPlus: level(p.lambdaPlus), fillMinus: level(p.lambdaMinus) };
  // Stationary only: touch mode's terminal condition adds −|q|Δ/2 (liquidation at the far touch).
  for (const horizon of [INF]) {
    const a = solveQuotes(p, { horizon, mode: 'touch', halfSpread: half });
    const b = solveQuotes(lv, { horizon });
    const z = 6;
    for (let i = 0; i < a.h.length; i++) {
      assert.ok(Math.abs(a.h[i] - a.h[z] - (b.h[i] - b.h[z])) < 1e-9, `T=${horizon} i=${i}`);
      assert.equal(Number.isNaN(a.deltaPlus[i]), Number.isNaN(b.deltaPlus[i]));
      assert.equal(Number.isNaN(a.deltaMinus[i]), Number.isNaN(b.deltaMinus[i]));
    }
    assert.ok(a.deltaPlus.some(Number.isNaN) && a.deltaPlus.some(Number.isFinite), 'both decisions occur');
  }
});

test('geometric levels on a fine grid converge to the exponential solution', () => {
  // No depth near or below the touch here: the grid model cannot quote inside it, the exponential can.
  const p = params({
    kappaPlus: 8,
    kappaMinus: 11,
    epsilonPlus: 0.04,
    epsilonMinus: 0.04,
    phi: 0.0005,
    feePerFill: 0.2,
  });
  const tick = 0.001;
  const geo = (lambda: number, kappa: number): LevelsFill => ({
    kind: 'levels',
    delta0: tick / 2,
    tick,
    rates: [lambda * Math.exp((-kappa * tick) / 2)],
    tailRatio: Math.exp(-kappa * tick),
  });
  const a = solveQuotes(p, { horizon: INF });
  const b = solveQuotes({ ...p, fillPlus: geo(1, 8), fillMinus: geo(1, 11) }, { horizon: INF });
  for (const d of [...a.deltaPlus, ...a.deltaMinus])
    assert.ok(Number.isNaN(d) || d > 10 * tick, `depth ${d}`);
  // Depths land on the grid: within a tick of the continuous optimum (plus the O(tick) change in h).
  assert.ok(maxDepthDiff(a, b) < 2 * tick, `max |Δδ| = ${maxDepthDiff(a, b)}`);
  assert.ok(Math.abs(a.growthRate! - b.growthRate!) < 1e-3 * Math.abs(a.growthRate!));
});

test('two-part model, stationary policy: the simulated long-run reward rate equals the solver growth rate g', () => {
  const plus = twoPartCurve(0.1, 1.0, 0.8, 2.5);
  const minus = twoPartCurve(0.1, 0.8, 0.75, 3.5);
  // λ± = the touch rates, so D = λ⁺ε⁺ − λ⁻ε⁻ is the simulated world's drift.
  const p = params({
    lambdaPlus: 1.0,
    lambdaMinus: 0.8,
    epsilonPlus: 0.04,
    epsilonMinus: 0.03,
    phi: 0.003,
    qMin: -5,
    qMax: 5,
    feePerFill: 0.05,
    fillPlus: plus,
    fillMinus: minus,
  });
  const table = solveQuotes(p, { horizon: INF });
  const g = table.growthRate!;
  assert.ok(new Set(table.deltaPlus.filter(Number.isFinite)).size >= 3, 'the policy uses several levels');
  const T = 4000;
  const mc = simulateMany(
    {
      world: { ...p, sigma: 0, fillPlus: plus, fillMinus: minus },
      horizon: T,
      qMin: p.qMin,
      qMax: p.qMax,
      phi: p.phi,
      alpha: 0,
    },
    tablePolicy(table),
    30,
    11,
  );
  const rate = mc.meanObjective / T;
  const se = mc.stderrObjective / T;
  // Start-up bias: (v(0) − E v(Q_T))/T, below 1e-4 here.
  assert.ok(Math.abs(rate - g) < 3 * se + 1e-4, `simulated ${rate} ± ${se} vs g = ${g}`);
});

test('evaluateRange gives, state by state, the gain and the Jacobian entry evaluate gives (levels, tails, exponential, capped)', () => {
  const rng = new Rng(11);
  const curves: FillCurve[] = [
    twoPartCurve(0.1, 1.8, 0.75, 1.7),
    twoPartCurve(0.1, 0.6, 0.2, 40),
    { kind: 'levels', delta0: 0.05, tick: 0.1, rates: [2, 1, 0.5], tailRatio: 0 },
    { kind: 'levels', delta0: 0.05, tick: 0.1, rates: [1.5], tailRatio: 0.9999 },
    { kind: 'levels', delta0: 0.5, tick: 1, rates: [3, 1], tailRatio: 0.3 },
    { kind: 'exponential', lambda: 1.3, kappa: 9 },
    { kind: 'exponential', lambda: 0.4, kappa: 2500 },
  ];
  const n = 40;
  for (const c of curves) {
    const f = new CompiledFill(c);
    const g = new CompiledFill(structuredClone(c)); // a curve of its own: its own tail table
    for (let round = 0; round < 20; round++) {
      // Values whose neighbour differences reach every branch: deep in the tail, at the head, capped exponents.
      const scale = [0.01, 0.3, 3, 30][round % 4];
      const h = Float64Array.from({ length: n }, () => scale * (rng.uniform() - 0.5));
      const cost = 0.02 * rng.uniform();
      for (const dir of [-1, 1]) {
        const out = new Float64Array(3 * n).fill(-7);
        const from = dir < 0 ? 1 : 0;
        const to = dir < 0 ? n : n - 1;
        f.evaluateRange(h, from, to, dir, cost, out, n, 2 * n);
        for (let i = 0; i < 3 * n; i++) {
          const k = i % n;
          const inRange = i >= n && k >= from && k < to;
          if (!inRange) {
            assert.equal(out[i], -7, `untouched at ${i}`);
            continue;
          }
          g.evaluate(h[k + dir] - h[k] - cost);
          const want = i < 2 * n ? g.gain : g.capped ? 0 : g.rate;
          assert.ok(Object.is(out[i], want), `${c.kind} state ${k} dir ${dir}: ${out[i]} vs ${want}`);
        }
      }
    }
  }
});
