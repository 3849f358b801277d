/**
 * MATH.md check 6: in the model's own world (exact event-driven simulation), the mean penalised objective
 * under the optimal feedback policy matches h(0, 0) within 3 standard errors — for three parameter sets
 * (no adverse selection; adverse selection with fee; asymmetric κ) plus touch mode. The test has teeth:
 * with the same random numbers an unskewed policy scores significantly lower, and the raw P&L is not h(0,0).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { meanAndStderr, optimalPolicy, type QuotePolicy, simulateMany } from '../../src/model/simulator.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import type { ModelParams, QuoteMode } from '../../src/model/types.ts';
import { params } from './helpers.ts';

const T = 120;
const PATHS = 3000;
const SIGMA = 0.05;

const sets: { name: string; p: ModelParams; mode: QuoteMode; halfSpread?: number }[] = [
  { name: 'no adverse selection', p: params({ phi: 2e-3, alpha: 5e-3, qMin: -8, qMax: 8 }), mode: 'depth' },
  {
    name: 'adverse selection and fee',
    p: params({
      lambdaMinus: 0.8,
      epsilonPlus: 0.03,
      epsilonMinus: 0.02,
      feePerFill: 0.01,
      phi: 2e-3,
      alpha: 5e-3,
      qMin: -8,
      qMax: 8,
    }),
    mode: 'depth',
  },
  {
    name: 'asymmetric κ with adverse selection',
    p: params({
      lambdaPlus: 1.2,
      lambdaMinus: 0.8,
      kappaPlus: 8,
      kappaMinus: 14,
      epsilonPlus: 0.02,
      epsilonMinus: 0.03,
      feePerFill: 0.01,
      phi: 2e-3,
      alpha: 5e-3,
      qMin: -8,
      qMax: 8,
    }),
    mode: 'depth',
  },
  {
    name: 'at the touch',
    p: params({
      lambdaPlus: 1.1,
      lambdaMinus: 0.9,
      epsilonPlus: 0.01,
      epsilonMinus: 0.015,
      phi: 5e-3,
      alpha: 5e-3,
      qMin: -5,
      qMax: 5,
    }),
    mode: 'touch',
    halfSpread: 0.05,
  },
];

describe('Monte Carlo: mean objective under the optimal policy = h(0, 0)', () => {
  for (const { name, p, mode, halfSpread = 0 } of sets) {
    test(name, () => {
      const { policy, h0 } = optimalPolicy(p, T, 1200, mode, halfSpread);
      const i0 = -p.qMin;
      // The grid's h(0,·) is the solver's value (front door, independently computed) to 1e-8.
      const direct = solveQuotes(p, {
        horizon: T,
        mode,
        halfSpread: mode === 'touch' ? halfSpread : undefined,
      });
      assert.ok(Math.abs(direct.h[i0] - h0[i0]) < 1e-8 * Math.abs(h0[i0]));
      const cfg = {
        world: { ...p, sigma: SIGMA },
        horizon: T,
        qMin: p.qMin,
        qMax: p.qMax,
        phi: p.phi,
        alpha: p.alpha,
        s0: 100,
        fillModel: mode === 'touch' ? ('touch' as const) : ('exponential' as const),
      };
      const opt = simulateMany(cfg, policy, PATHS, 20240601);
      const z = (opt.meanObjective - h0[i0]) / opt.stderrObjective;
      assert.ok(
        Math.abs(z) < 3,
        `mean ${opt.meanObjective} ± ${opt.stderrObjective} vs h(0,0) = ${h0[i0]} (z = ${z})`,
      );
      assert.ok(opt.meanFills > 20, 'the policy must actually trade');

      // Raw P&L omits the inventory penalties, so its mean is NOT h(0, 0).
      const zPnl = (opt.meanPnl - h0[i0]) / opt.stderrPnl;
      assert.ok(zPnl > 5, `raw P&L should exceed h(0,0) by the penalties (z = ${zPnl})`);

      // Same market (common random numbers), no inventory skew: significantly worse.
      const flat: QuotePolicy =
        mode === 'touch'
          ? (_t, q) => ({
              deltaPlus: q > p.qMin ? halfSpread : Number.NaN,
              deltaMinus: q < p.qMax ? halfSpread : Number.NaN,
            })
          : (_t, q) => ({
              deltaPlus: q > p.qMin ? 1 / p.kappaPlus + p.epsilonPlus + p.feePerFill : Number.NaN,
              deltaMinus: q < p.qMax ? 1 / p.kappaMinus + p.epsilonMinus + p.feePerFill : Number.NaN,
            });
      const alt = simulateMany(cfg, flat, PATHS, 20240601);
      const diff = meanAndStderr(opt.objectives.map((x, k) => x - alt.objectives[k]));
      assert.ok(diff.mean > 5 * diff.stderr, `optimal − unskewed = ${diff.mean} ± ${diff.stderr}`);
    });
  }
});
