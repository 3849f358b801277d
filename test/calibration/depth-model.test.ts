/**
 * The two-part depth model of a one-tick book: MLE and standard errors on sampled depths, the model choice,
 * and the whole pipeline (simulated market → rolling calibrator → fits) against a market with known depths.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate } from '../../src/calibration/calibrate.ts';
import { fitSideDepthModel, pearsonGoodnessOfFit } from '../../src/calibration/depth-model.ts';
import { geometricGoodnessOfFit } from '../../src/calibration/intensity.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { Rng } from '../../src/util/rng.ts';

const tick = 0.1;

/** n depths k (ticks beyond the touch): two-part (touchShare, kappaTail) or geometric (touchShare undefined). */
function sample(rng: Rng, n: number, kappa: number, touchShare?: number) {
  const hist = new Array(41).fill(0);
  let sumK = 0;
  for (let i = 0; i < n; i++) {
    const k =
      touchShare === undefined
        ? Math.floor(rng.exponential(kappa) / tick)
        : rng.uniform() < touchShare
          ? 0
          : 1 + Math.floor(rng.exponential(kappa) / tick);
    hist[Math.min(40, k)]++;
    sumK += k;
  }
  let last = 40;
  while (last > 0 && hist[last] === 0) last--;
  return { hist: hist.slice(0, last + 1), sumK };
}

test('Pearson χ² with the geometric pmf reproduces the exponential fit’s goodness of fit', () => {
  const rng = new Rng(1);
  const { hist, sumK } = sample(rng, 2000, 8);
  const n = 2000;
  const q = sumK / (n + sumK);
  const a = geometricGoodnessOfFit(hist, q, true);
  const b = pearsonGoodnessOfFit(
    hist,
    (k) => (1 - q) * q ** k,
    (k) => q ** k,
    1,
  );
  assert.ok(Math.abs(a.chi2 - b.chi2) < 1e-9 && a.df === b.df && Math.abs(a.pValue - b.pValue) < 1e-12);
});

test('two-part depths: MLE within 3 SE of the truth, honest SEs, the two-part model chosen where the test rejects', () => {
  const z: number[] = [];
  for (let seed = 1; seed <= 12; seed++) {
    const rng = new Rng(seed);
    const n = 1500;
    const { hist, sumK } = sample(rng, n, 2.7, 0.83);
    const m = fitSideDepthModel({ n, sumK, hist, seconds: 1500, tick, misfit: true, minMos: 30 });
    const t = m.twoPart!;
    const zShare = (t.touchShare - 0.83) / t.touchShareStderr;
    const zKappa = (t.kappaTail - 2.7) / t.kappaTailStderr;
    z.push(zShare, zKappa);
    assert.ok(Math.abs(zShare) < 3.5 && Math.abs(zKappa) < 3.5, `seed ${seed}: z ${zShare}, ${zKappa}`);
    assert.equal(m.use, 'two-part');
    assert.ok(t.aic < m.exponential!.aic && m.lrPValue < 1e-6);
    assert.ok(t.pValue > 1e-4, `seed ${seed}: the true model is not rejected (p ${t.pValue})`);
    assert.ok(Math.abs(t.touchRate - n / 1500) < 1e-12);
    // Empirical level rates: the count reaching each level, per second.
    assert.equal(m.levels[0].mos, n);
    assert.equal(m.levels[1].mos, n - hist[0]);
  }
  const rms = Math.sqrt(z.reduce((s, x) => s + x * x, 0) / z.length);
  assert.ok(rms > 0.5 && rms < 1.5, `RMS z = ${rms}`);
});

test('geometric depths: the two-part model nests it (π0 ≈ 1 − q) and is not chosen without a rejected test', () => {
  let small = 0;
  for (let seed = 1; seed <= 20; seed++) {
    const rng = new Rng(100 + seed);
    const n = 1500;
    const { hist, sumK } = sample(rng, n, 6);
    const m = fitSideDepthModel({ n, sumK, hist, seconds: 1000, tick, misfit: false, minMos: 30 });
    assert.equal(m.use, 'exponential');
    const q = Math.exp(-6 * tick);
    assert.ok(Math.abs(m.twoPart!.touchShare - (1 - q)) < 4 * m.twoPart!.touchShareStderr);
    if (m.lrPValue < 0.01) small++;
  }
  // Under the null the LR test rejects at 1 % about 1 time in 100.
  assert.ok(small <= 2, `${small} of 20 LR p-values below 0.01`);
  // Too few MOs, or none beyond the touch: no two-part fit.
  assert.equal(
    fitSideDepthModel({ n: 10, sumK: 3, hist: [8, 1, 1], seconds: 10, tick, misfit: true, minMos: 30 })
      .twoPart,
    null,
  );
  const atTouch = fitSideDepthModel({
    n: 50,
    sumK: 0,
    hist: [50],
    seconds: 10,
    tick,
    misfit: true,
    minMos: 30,
  });
  assert.equal(atTouch.twoPart, null);
  assert.equal(atTouch.use, 'exponential');
});

test('pipeline: a simulated market with two-part depths is flagged, fitted and recovered by the rolling calibrator', () => {
  const truth = {
    lambdaPlus: 1.6,
    lambdaMinus: 1.1,
    kappaPlus: 8,
    kappaMinus: 8,
    plus: { touchShare: 0.82, kappaTail: 2.7 },
    minus: { touchShare: 0.8, kappaTail: 3.5 },
  };
  const { events } = simulateMarket({
    seed: 31,
    durationSec: 3600,
    tick,
    lambdaPlus: truth.lambdaPlus,
    lambdaMinus: truth.lambdaMinus,
    kappaPlus: truth.kappaPlus,
    kappaMinus: truth.kappaMinus,
    epsilonPlus: 0.05,
    epsilonMinus: 0.05,
    sigma: 0.1,
    rxLatencyMs: 300,
    wideSpreadFrac: 0.1,
    twoPartPlus: truth.plus,
    twoPartMinus: truth.minus,
  });
  const r = calibrate(events, [], { coin: 'SIM' }).result!;
  assert.ok(r.quality.flags.includes('depth-misfit:plus') && r.quality.flags.includes('depth-misfit:minus'));
  for (const side of ['plus', 'minus'] as const) {
    const m = r.depthModel![side];
    const t = m.twoPart!;
    assert.equal(m.use, 'two-part');
    assert.ok(
      m.n < (side === 'plus' ? r.samples.mosPlus : r.samples.mosMinus),
      'wide-spread MOs are left out',
    );
    assert.ok(Math.abs(m.seconds - r.window.observedSec * r.spread.fracAtOneTick) < 1e-6);
    const want = truth[side];
    assert.ok(
      Math.abs(t.touchShare - want.touchShare) < 3 * t.touchShareStderr,
      `${side} π0 ${t.touchShare}`,
    );
    assert.ok(
      Math.abs(t.kappaTail - want.kappaTail) < 3 * t.kappaTailStderr,
      `${side} κ_tail ${t.kappaTail}`,
    );
    // Visible MOs at a one-tick spread arrive at λe^{−κ·tick/2}.
    const lambda = side === 'plus' ? truth.lambdaPlus : truth.lambdaMinus;
    const rate = lambda * Math.exp((-truth.kappaPlus * tick) / 2);
    assert.ok(Math.abs(t.touchRate - rate) < 3 * t.touchRateStderr, `${side} Λ0 ${t.touchRate} vs ${rate}`);
    assert.ok(t.pValue > 1e-3, `${side}: the two-part model fits its own world (p ${t.pValue})`);
    assert.ok(m.exponential!.pValue < 1e-6);
  }
});
