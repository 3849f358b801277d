/** Matrix vs ODE, stationary vs long horizons, GLFT asymptotics, numerical ranges, additive invariance. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { depthTerminal, solveDepthOde } from '../../src/model/asymmetric.ts';
import { HjbSystem, integrateHjb } from '../../src/model/hjb.ts';
import { validateModelParams } from '../../src/model/params.ts';
import { solveQuotes, solveValue } from '../../src/model/solve.ts';
import { solveSymmetricSpectral } from '../../src/model/spectral.ts';
import { stationaryGeneral, stationarySymmetric } from '../../src/model/stationary.ts';
import { solveSymmetricMatrix } from '../../src/model/symmetric.ts';
import type { ModelParams } from '../../src/model/types.ts';
import { assertClose, at, maxDepthDiff, params } from './helpers.ts';

const symmetricSets: Record<string, ModelParams> = {
  'no penalties': params({ qMin: -8, qMax: 8 }),
  'adverse selection + fee + penalties': params({
    lambdaPlus: 1.1,
    lambdaMinus: 0.9,
    epsilonPlus: 0.02,
    epsilonMinus: 0.025,
    feePerFill: 0.05,
    phi: 5e-4,
    alpha: 2e-3,
  }),
  'strong inventory aversion, uneven bounds': params({
    phi: 2e-3,
    alpha: 1e-3,
    qMin: -4,
    qMax: 8,
    kappaPlus: 20,
    kappaMinus: 20,
  }),
};

describe('symmetric κ: the matrix exponential agrees with the stiff ODE to 1e-9 relative', () => {
  for (const [name, p] of Object.entries(symmetricSets)) {
    test(name, () => {
      for (const tau of [1, 60, 1800, 86400]) {
        const m = solveValue(p, { horizon: tau });
        assert.equal(m.method, 'matrix', `τ=${tau} should use the matrix path`);
        const o = solveDepthOde(p, tau, { tol: 1e-12 }).h;
        let scale = 0;
        for (const x of m.h) scale = Math.max(scale, Math.abs(x));
        for (let i = 0; i < o.length; i++) {
          assertClose(o[i], m.h[i], 1e-9 * scale, `h(q=${p.qMin + i}, τ=${tau})`);
          if (i > 0) {
            const dm = m.h[i - 1] - m.h[i];
            const dOde = o[i - 1] - o[i];
            // Depths are 1/κ + ε + c − Δh: relative agreement on the depth scale 1/κ.
            assertClose(
              dOde,
              dm,
              1e-9 * Math.max(1 / p.kappaPlus, Math.abs(dm)),
              `Δh(q=${p.qMin + i}, τ=${tau})`,
            );
          }
        }
      }
    });
  }
});

describe('symmetric κ, wide bounds and a large fee: the dominant-mode spectral path agrees with the ODE', () => {
  // ω spans ~1e-60 (q̄ = 50) and ~1e-100 (c = 0.50 at q̄ = 50) in these sets: exactly the cases where
  // eigenvectors with only absolute accuracy fail. The mode solver must take them (method 'matrix') and
  // match the independent log-domain ODE to 1e-9 relative on h and on the depths.
  const eth = params({
    lambdaPlus: 0.9,
    lambdaMinus: 0.8,
    kappaPlus: 8,
    kappaMinus: 8,
    epsilonPlus: 0.04,
    epsilonMinus: 0.045,
    phi: 1e-3,
    alpha: 1e-3,
  });
  const cases: [string, ModelParams, number[]][] = [
    ['q̄ = 50', { ...eth, qMin: -50, qMax: 50 }, [1800, 86400]],
    ['base fee c = 0.50, q̄ = 10', { ...eth, feePerFill: 0.5025 }, [1800, 86400]],
    ['base fee c = 0.50, q̄ = 50', { ...eth, feePerFill: 0.5025, qMin: -50, qMax: 50 }, [1800]],
    ['φ = 0.1, q̄ = 100', { ...eth, phi: 0.1, qMin: -100, qMax: 100 }, [1800]],
  ];
  for (const [name, p, horizons] of cases) {
    test(name, () => {
      for (const tau of horizons) {
        const h = new Float64Array(p.qMax - p.qMin + 1);
        assert.ok(solveSymmetricSpectral(p, tau, h, 1e-10), `τ=${tau} should be accepted by the mode solver`);
        assert.equal(solveValue(p, { horizon: tau }).method, 'matrix');
        const o = solveDepthOde(p, tau, { tol: 1e-12 }).h;
        let scale = 0;
        for (const x of o) scale = Math.max(scale, Math.abs(x));
        for (let i = 0; i < o.length; i++) {
          assertClose(h[i], o[i], 1e-9 * scale, `h(q=${p.qMin + i}, τ=${tau})`);
          if (i > 0)
            assertClose(
              h[i - 1] - h[i],
              o[i - 1] - o[i],
              1e-9 / p.kappaPlus,
              `Δh(q=${p.qMin + i}, τ=${tau})`,
            );
        }
      }
    });
  }
  test('agrees with the full QL spectral sum where both apply, and declines short horizons at q̄ = 50', () => {
    for (const tau of [60, 300, 1800]) {
      const a = new Float64Array(21);
      const b = new Float64Array(21);
      assert.ok(solveSymmetricSpectral(eth, tau, a, 1e-10), `τ=${tau}`);
      assert.ok(solveSymmetricMatrix(eth, tau, b, 1e-10), `τ=${tau}`);
      for (let i = 0; i < 21; i++)
        assertClose(a[i], b[i], 1e-9 * Math.max(1, Math.abs(b[i])), `h(${i - 10})`);
    }
    // At τ = 1 s dozens of modes matter: the mode solver must say so rather than truncate.
    assert.equal(solveSymmetricSpectral({ ...eth, qMin: -50, qMax: 50 }, 1, new Float64Array(101)), false);
  });
});

test('asymmetric κ: the front door (default tolerance 1e-10) is accurate to 1e-10 of the depth scale', () => {
  const p = params({
    kappaPlus: 8,
    kappaMinus: 11,
    lambdaPlus: 0.9,
    lambdaMinus: 0.8,
    epsilonPlus: 0.04,
    epsilonMinus: 0.045,
    phi: 1e-3,
    alpha: 1e-3,
    feePerFill: 0.2,
  });
  for (const tau of [5, 300, 1800]) {
    const fast = solveQuotes(p, { horizon: tau });
    const ref = solveDepthOde(p, tau, { tol: 1e-13 }).h;
    for (let i = 1; i < ref.length; i++) {
      const exact = 1 / p.kappaPlus + p.epsilonPlus + p.feePerFill - (ref[i - 1] - ref[i]);
      assertClose(fast.deltaPlus[i], exact, 1e-10 / p.kappaMinus, `δ⁺(q=${p.qMin + i}, τ=${tau})`);
    }
  }
});

describe('stationary quotes are the long-horizon limit', () => {
  const cases: [string, ModelParams, 'depth' | 'touch', string][] = [
    ['symmetric κ (Perron)', symmetricSets['adverse selection + fee + penalties'], 'depth', 'perron'],
    [
      'asymmetric κ (ergodic Newton)',
      params({
        kappaPlus: 7,
        kappaMinus: 12,
        lambdaPlus: 1.2,
        lambdaMinus: 0.8,
        epsilonPlus: 0.03,
        epsilonMinus: 0.01,
        phi: 1e-3,
        alpha: 1e-3,
      }),
      'depth',
      'ergodic',
    ],
    [
      'touch (policy iteration)',
      params({
        kappaPlus: 7,
        kappaMinus: 12,
        lambdaPlus: 1.2,
        lambdaMinus: 0.8,
        epsilonPlus: 0.01,
        epsilonMinus: 0.015,
        phi: 1e-3,
        alpha: 1e-3,
      }),
      'touch',
      'ergodic',
    ],
  ];
  for (const [name, p, mode, method] of cases) {
    test(name, () => {
      const halfSpread = mode === 'touch' ? 0.05 : undefined;
      const s = solveQuotes(p, { horizon: Number.POSITIVE_INFINITY, mode, halfSpread });
      assert.equal(s.method, method);
      const T = 20000;
      const long = solveQuotes(p, { horizon: T, mode, halfSpread });
      const half = solveQuotes(p, { horizon: T / 2, mode, halfSpread });
      assert.ok(maxDepthDiff(s, long) < 1e-8, `depths differ by ${maxDepthDiff(s, long)}`);
      // h(τ, q) ≈ gτ + v(q): the growth rate is the slope of h over the second half of the horizon.
      const slope = (long.h[at(p, 0)] - half.h[at(p, 0)]) / (T / 2);
      assertClose(s.growthRate ?? Number.NaN, slope, 1e-9 * Math.max(1, Math.abs(slope)), 'growth rate');
      // v is normalised to 0 at q = 0 and v(q) = lim h(τ, q) − h(τ, 0).
      assert.equal(s.h[at(p, 0)], 0);
      for (let i = 0; i < s.h.length; i++) {
        assertClose(s.h[i], long.h[i] - long.h[at(p, 0)], 1e-7, `v(q=${p.qMin + i})`);
      }
    });
  }
  test('Perron eigenvector and the ergodic Newton solve agree for symmetric κ', () => {
    const p = symmetricSets['strong inventory aversion, uneven bounds'];
    const a = stationarySymmetric(p);
    const b = stationaryGeneral(p, 'depth');
    assert.ok(a);
    assertClose(a.growthRate, b.growthRate, 1e-10 * Math.abs(a.growthRate), 'growth rate');
    for (let i = 0; i < a.h.length; i++) assertClose(a.h[i], b.h[i], 1e-8, `v(${p.qMin + i})`);
  });
});

test('stationary depths match the GLFT asymptotic form δ± ≈ 1/κ + ε ∓ ((2q ∓ 1)/2)·√(φe^{1+κε}/(κλ))', () => {
  for (const phi of [1e-5, 1e-4]) {
    const eps = 0.01;
    const p = params({ phi, epsilonPlus: eps, epsilonMinus: eps, qMin: -30, qMax: 30 });
    const t = solveQuotes(p, { horizon: Number.POSITIVE_INFINITY });
    const k = p.kappaPlus;
    const w = Math.sqrt((phi * Math.exp(1 + k * eps)) / (k * p.lambdaPlus));
    for (let q = -5; q <= 5; q++) {
      const i = at(t, q);
      // The asymptotic form is a continuum approximation: within 5 % of one skew step w.
      assertClose(t.deltaPlus[i], 1 / k + eps - ((2 * q - 1) / 2) * w, 0.05 * w, `δ⁺(${q}), φ=${phi}`);
      assertClose(t.deltaMinus[i], 1 / k + eps + ((2 * q + 1) / 2) * w, 0.05 * w, `δ⁻(${q}), φ=${phi}`);
    }
  }
});

describe('numerical range: horizons 1 s … 1 day, bounds up to ±100, φ from 0 to 0.1 stay finite', () => {
  const grid: { qBar: number; horizons: number[]; phis: number[] }[] = [
    { qBar: 10, horizons: [1, 60, 3600, 86400, Number.POSITIVE_INFINITY], phis: [0, 1e-4, 1e-2, 1e-1] },
    { qBar: 100, horizons: [1, 86400, Number.POSITIVE_INFINITY], phis: [0, 1e-1] },
  ];
  for (const { qBar, horizons, phis } of grid) {
    for (const kappaMinus of [10, 15]) {
      test(`±${qBar}, κ⁻ = ${kappaMinus}`, () => {
        for (const horizon of horizons) {
          for (const phi of phis) {
            const p = params({
              qMin: -qBar,
              qMax: qBar,
              phi,
              alpha: 1e-3,
              kappaMinus,
              epsilonPlus: 0.02,
              epsilonMinus: 0.02,
              feePerFill: 0.5,
            });
            const t = solveQuotes(p, { horizon });
            const what = `horizon ${horizon}, φ ${phi}`;
            for (let i = 0; i < t.h.length; i++) {
              assert.ok(Number.isFinite(t.h[i]), `h not finite at q=${p.qMin + i}, ${what}`);
              if (i > 0) assert.ok(Number.isFinite(t.deltaPlus[i]), `δ⁺ not finite, ${what}`);
              if (i < t.h.length - 1) assert.ok(Number.isFinite(t.deltaMinus[i]), `δ⁻ not finite, ${what}`);
              assert.ok(Number.isFinite(t.drift[i]), `drift not finite, ${what}`);
            }
            if (phi > 0) {
              // Inventory aversion: the ask gets cheaper as inventory grows, everywhere in range.
              for (let i = 2; i < t.h.length; i++)
                assert.ok(t.deltaPlus[i] < t.deltaPlus[i - 1], `skew, ${what}`);
            }
          }
        }
      });
    }
  }
});

describe('results are invariant to an additive constant in h', () => {
  const p = params({ phi: 1e-3, alpha: 1e-3, epsilonPlus: 0.01, epsilonMinus: 0.02, qMin: -6, qMax: 6 });
  const C = 1234.5;
  test('matrix exponential: terminal condition + C gives h + C and the same depths', () => {
    const n = 13;
    const base = new Float64Array(n);
    depthTerminal(p, base);
    const shifted = base.map((x) => x + C);
    const a = new Float64Array(n);
    const b = new Float64Array(n);
    assert.ok(solveSymmetricMatrix(p, 300, a, 1e-10, undefined, base));
    assert.ok(solveSymmetricMatrix(p, 300, b, 1e-10, undefined, shifted));
    for (let i = 0; i < n; i++) {
      assertClose(b[i] - a[i], C, 1e-9 * C, `h shift at ${i}`);
      if (i > 0) assertClose(b[i - 1] - b[i], a[i - 1] - a[i], 1e-10, `Δh at ${i}`);
    }
  });
  for (const mode of ['depth', 'touch'] as const) {
    test(`ODE (${mode}, asymmetric κ): h(T) + C gives h + C and the same depths`, () => {
      const q = { ...p, kappaMinus: 14 };
      const sys = new HjbSystem(q, mode, 0.05);
      const a = new Float64Array(13);
      depthTerminal(q, a);
      const b = a.map((x) => x + C);
      integrateHjb(sys, a, 300, { tol: 1e-11 });
      integrateHjb(sys, b, 300, { tol: 1e-11 });
      for (let i = 0; i < 13; i++) {
        assertClose(b[i] - a[i], C, 1e-9 * C, `h shift at ${i}`);
        if (i > 0) assertClose(b[i - 1] - b[i], a[i - 1] - a[i], 1e-10, `Δh at ${i}`);
      }
    });
  }
});

test('validateModelParams names the field and the valid range', () => {
  const bad = params({ kappaPlus: -1, lambdaMinus: -0.5, phi: Number.NaN, qMin: 3, qMax: 1 });
  const errors = validateModelParams(bad);
  assert.ok(errors.includes('kappaPlus must be a number > 0 (got -1)'), errors.join('\n'));
  assert.ok(errors.includes('lambdaMinus must be a number >= 0 (got -0.5)'), errors.join('\n'));
  assert.ok(errors.includes('phi must be a finite number (got NaN)'), errors.join('\n'));
  assert.ok(
    errors.some((e) => e.startsWith('qMin must be <= qMax')),
    errors.join('\n'),
  );
  assert.deepEqual(validateModelParams(params()), []);
  assert.throws(() => solveQuotes(bad, { horizon: 10 }), /kappaPlus must be a number > 0/);
  assert.throws(() => solveQuotes(params(), { horizon: -1 }), /horizon must be/);
  assert.throws(() => solveQuotes(params(), { horizon: 10, mode: 'touch' }), /halfSpread must be/);
  assert.throws(
    () => solveQuotes(params({ lambdaMinus: 0 }), { horizon: Number.POSITIVE_INFINITY }),
    /lambdaMinus must be > 0 for stationary/,
  );
  // A dead side is fine with a finite horizon: the other side still trades.
  const oneSided = solveQuotes(params({ lambdaMinus: 0, phi: 1e-3 }), { horizon: 60 });
  assert.ok(oneSided.h.every(Number.isFinite) && oneSided.fillRateMinus.every((x) => x === 0));
});
