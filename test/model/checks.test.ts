/** MATH.md "Checks that any correct implementation passes" 1–5 and 7, each against its closed form. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { solveQuotes } from '../../src/model/solve.ts';
import { assertClose, at, params } from './helpers.ts';

// κ⁺ = κ⁻ goes through the matrix exponential, κ⁺ ≠ κ⁻ through the stiff ODE: every check runs on both.
const kappaCases = [
  { name: 'symmetric κ (matrix)', kappaPlus: 10, kappaMinus: 10, method: 'matrix' },
  { name: 'asymmetric κ (ODE)', kappaPlus: 8, kappaMinus: 13, method: 'ode' },
] as const;

describe('check 1: φ = α = 0, ε = c = 0, wide bounds', () => {
  for (const kc of kappaCases) {
    test(kc.name, () => {
      // λ⁺ ≠ λ⁻ would make the symmetrising scaling span e^{37} over 120 states and send the symmetric case
      // to the ODE fallback; equal λ keeps it on the matrix path (the ODE case tests λ⁺ ≠ λ⁻).
      const lambdas =
        kc.method === 'matrix' ? { lambdaPlus: 1, lambdaMinus: 1 } : { lambdaPlus: 1.3, lambdaMinus: 0.7 };
      const p = params({
        kappaPlus: kc.kappaPlus,
        kappaMinus: kc.kappaMinus,
        ...lambdas,
        qMin: -60,
        qMax: 60,
      });
      for (const tau of [0.5, 5, 20]) {
        const t = solveQuotes(p, { horizon: tau });
        assert.equal(t.method, kc.method);
        // Bounds 60 lots away cannot matter at these horizons (≈ 0.5 fills/s).
        for (let q = -10; q <= 10; q++) {
          assertClose(t.deltaPlus[at(t, q)], 1 / p.kappaPlus, 1e-9, `δ⁺(q=${q}, τ=${tau})`);
          assertClose(t.deltaMinus[at(t, q)], 1 / p.kappaMinus, 1e-9, `δ⁻(q=${q}, τ=${tau})`);
        }
        const h00 = Math.exp(-1) * (p.lambdaPlus / p.kappaPlus + p.lambdaMinus / p.kappaMinus) * tau;
        assertClose(t.h[at(t, 0)], h00, 1e-9 * Math.max(1, h00), `h(0,0) at τ=${tau}`);
      }
    });
  }
});

describe('check 2: φ = α = 0 with adverse selection: δ± = 1/κ± + ε± ± D(T−t)', () => {
  for (const kc of kappaCases) {
    test(kc.name, () => {
      const p = params({
        kappaPlus: kc.kappaPlus,
        kappaMinus: kc.kappaMinus,
        lambdaPlus: 1.2,
        lambdaMinus: 0.9,
        epsilonPlus: 0.03,
        epsilonMinus: 0.01,
        qMin: -60,
        qMax: 60,
      });
      const D = p.lambdaPlus * p.epsilonPlus - p.lambdaMinus * p.epsilonMinus;
      assert.ok(D > 0.01, 'the drift must be large enough to see');
      // Longer horizons let the bounds 60 lots away leak in (1.4e-9 at τ = 10): the closed form assumes none.
      for (const tau of [1, 5]) {
        const t = solveQuotes(p, { horizon: tau });
        for (let q = -10; q <= 10; q++) {
          assertClose(
            t.deltaPlus[at(t, q)],
            1 / p.kappaPlus + p.epsilonPlus + D * tau,
            1e-9,
            `δ⁺(q=${q}, τ=${tau})`,
          );
          assertClose(
            t.deltaMinus[at(t, q)],
            1 / p.kappaMinus + p.epsilonMinus - D * tau,
            1e-9,
            `δ⁻(q=${q}, τ=${tau})`,
          );
        }
      }
    });
  }
});

describe('check 3: at t = T, δ⁺ = 1/κ + ε⁺ + c − α(2q−1), δ⁻ = 1/κ + ε⁻ + c + α(2q+1)', () => {
  for (const kc of kappaCases) {
    test(kc.name, () => {
      const p = params({
        kappaPlus: kc.kappaPlus,
        kappaMinus: kc.kappaMinus,
        epsilonPlus: 0.02,
        epsilonMinus: 0.03,
        feePerFill: 0.05,
        phi: 1e-3,
        alpha: 4e-3,
        qMin: -5,
        qMax: 5,
      });
      // τ = 0 exactly, and a tiny τ > 0 (continuity of the solver at the terminal time).
      for (const tau of [0, 1e-9]) {
        const t = solveQuotes(p, { horizon: tau });
        for (let q = p.qMin; q <= p.qMax; q++) {
          const i = at(t, q);
          const ePlus = 1 / p.kappaPlus + p.epsilonPlus + p.feePerFill - p.alpha * (2 * q - 1);
          const eMinus = 1 / p.kappaMinus + p.epsilonMinus + p.feePerFill + p.alpha * (2 * q + 1);
          if (q > p.qMin) assertClose(t.deltaPlus[i], ePlus, 1e-9, `δ⁺(T, ${q})`);
          else assert.ok(Number.isNaN(t.deltaPlus[i]), 'no ask at q̲');
          if (q < p.qMax) assertClose(t.deltaMinus[i], eMinus, 1e-9, `δ⁻(T, ${q})`);
          else assert.ok(Number.isNaN(t.deltaMinus[i]), 'no bid at q̄');
        }
      }
    });
  }
});

describe('check 4: symmetric parameters give δ⁺(q) = δ⁻(−q)', () => {
  const p = params({ epsilonPlus: 0.02, epsilonMinus: 0.02, phi: 2e-3, alpha: 1e-2, feePerFill: 0.03 });
  const cases: [string, Parameters<typeof solveQuotes>[1]][] = [
    ['finite horizon (matrix)', { horizon: 300 }],
    ['stationary (Perron)', { horizon: Number.POSITIVE_INFINITY }],
    ['touch, finite', { horizon: 300, mode: 'touch', halfSpread: 0.05 }],
    ['touch, stationary', { horizon: Number.POSITIVE_INFINITY, mode: 'touch', halfSpread: 0.05 }],
  ];
  for (const [name, opts] of cases) {
    test(name, () => {
      const t = solveQuotes(p, opts);
      for (let q = p.qMin; q <= p.qMax; q++) {
        const a = t.deltaPlus[at(t, q)];
        const b = t.deltaMinus[at(t, -q)];
        if (Number.isNaN(a)) assert.ok(Number.isNaN(b), `q=${q}: ask not quoted but mirrored bid is`);
        else assertClose(a, b, 1e-9, `δ⁺(${q}) vs δ⁻(${-q})`);
      }
    });
  }
  test('asymmetric κ: mirroring the sides mirrors the quotes', () => {
    const a = params({
      kappaPlus: 7,
      kappaMinus: 12,
      lambdaPlus: 1.4,
      lambdaMinus: 0.6,
      epsilonPlus: 0.01,
      epsilonMinus: 0.04,
      phi: 1e-3,
      alpha: 2e-3,
      qMin: -6,
      qMax: 9,
    });
    const b = {
      ...a,
      kappaPlus: 12,
      kappaMinus: 7,
      lambdaPlus: 0.6,
      lambdaMinus: 1.4,
      epsilonPlus: 0.04,
      epsilonMinus: 0.01,
      qMin: -9,
      qMax: 6,
    };
    for (const horizon of [120, Number.POSITIVE_INFINITY]) {
      const ta = solveQuotes(a, { horizon });
      const tb = solveQuotes(b, { horizon });
      for (let q = a.qMin + 1; q <= a.qMax; q++) {
        assertClose(ta.deltaPlus[at(ta, q)], tb.deltaMinus[at(tb, -q)], 1e-8, `q=${q}, T=${horizon}`);
      }
    }
  });
});

describe('check 5: monotone skew — with φ > 0, δ⁺ decreases and δ⁻ increases in q', () => {
  const sets = {
    symmetric: params({ phi: 1e-3, alpha: 1e-3, epsilonPlus: 0.01, epsilonMinus: 0.02 }),
    asymmetric: params({ phi: 1e-3, kappaPlus: 6, kappaMinus: 14, lambdaPlus: 0.7, lambdaMinus: 1.3 }),
  };
  for (const [name, p] of Object.entries(sets)) {
    for (const horizon of [30, 600, Number.POSITIVE_INFINITY]) {
      test(`${name}, T−t = ${horizon}`, () => {
        const t = solveQuotes(p, { horizon });
        for (let q = p.qMin + 2; q < p.qMax; q++) {
          const i = at(t, q);
          assert.ok(t.deltaPlus[i] < t.deltaPlus[i - 1], `δ⁺ not decreasing at q=${q}`);
          assert.ok(t.deltaMinus[i] > t.deltaMinus[i - 1], `δ⁻ not increasing at q=${q}`);
        }
      });
    }
  }
});

test('check 7: large φ|q| gives negative depths, reported as they are (not clamped)', () => {
  const p = params({ phi: 0.05, qMin: -10, qMax: 10 });
  for (const horizon of [60, Number.POSITIVE_INFINITY]) {
    const t = solveQuotes(p, { horizon });
    assert.ok(t.deltaPlus[at(t, 10)] < 0, `δ⁺(q̄) should be negative, got ${t.deltaPlus[at(t, 10)]}`);
    assert.ok(t.deltaMinus[at(t, -10)] < 0, 'δ⁻(q̲) should be negative');
    // The fill rate follows the formula even when it exceeds λ (the model's sup over δ ∈ ℝ).
    const i = at(t, 10);
    assertClose(
      t.fillRatePlus[i],
      p.lambdaPlus * Math.exp(-p.kappaPlus * t.deltaPlus[i]),
      1e-12,
      'fill rate',
    );
  }
});

test('bounds: no quote on the side that would breach a bound; derived outputs follow their formulas', () => {
  const p = params({ phi: 1e-3, epsilonPlus: 0.02, epsilonMinus: 0.01, kappaMinus: 12, qMin: -3, qMax: 4 });
  for (const horizon of [50, Number.POSITIVE_INFINITY]) {
    const t = solveQuotes(p, { horizon });
    assert.equal(t.h.length, 8);
    assert.ok(Number.isNaN(t.deltaPlus[0]) && t.fillRatePlus[0] === 0);
    assert.ok(Number.isNaN(t.deltaMinus[7]) && t.fillRateMinus[7] === 0);
    for (let i = 0; i < 8; i++) {
      if (i > 0) {
        assertClose(
          t.deltaPlus[i],
          1 / p.kappaPlus + p.epsilonPlus - (t.h[i - 1] - t.h[i]),
          1e-12,
          'δ⁺ feedback',
        );
        assertClose(
          t.fillRatePlus[i],
          p.lambdaPlus * Math.exp(-p.kappaPlus * t.deltaPlus[i]),
          1e-12,
          'fill⁺',
        );
      }
      if (i < 7)
        assertClose(
          t.fillRateMinus[i],
          p.lambdaMinus * Math.exp(-p.kappaMinus * t.deltaMinus[i]),
          1e-12,
          'fill⁻',
        );
      assertClose(t.drift[i], t.fillRateMinus[i] - t.fillRatePlus[i], 1e-15, 'drift');
    }
  }
});

test('the maker fee is charged once per fill: it shifts every depth by exactly c when φ = α = 0', () => {
  const base = params({ epsilonPlus: 0.01, epsilonMinus: 0.02, qMin: -40, qMax: 40 });
  const c = 0.37;
  const a = solveQuotes(base, { horizon: 5 });
  const b = solveQuotes({ ...base, feePerFill: c }, { horizon: 5 });
  for (let q = -5; q <= 5; q++) {
    assertClose(b.deltaPlus[at(b, q)] - a.deltaPlus[at(a, q)], c, 1e-10, `ask shift at q=${q}`);
    assertClose(b.deltaMinus[at(b, q)] - a.deltaMinus[at(a, q)], c, 1e-10, `bid shift at q=${q}`);
  }
});
