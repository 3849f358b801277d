/** Estimator building blocks against closed forms and simulated samples with known parameters. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { moDepth, QuoteTimeline } from '../../src/calibration/depth.ts';
import {
  chiSquareSurvival,
  exposure,
  fitKappaGeometric,
  fitLambda,
  geometricGoodnessOfFit,
  logGamma,
  regularizedGammaQ,
} from '../../src/calibration/intensity.ts';
import {
  groupMarketOrders,
  type MarketOrder,
  MarketOrderGrouper,
} from '../../src/calibration/market-orders.ts';
import { parseDurationMs, parseHorizon, QuantizedSample } from '../../src/calibration/markout.ts';
import { jackknifeDriftCorrectedSe } from '../../src/calibration/rolling/jackknife.ts';
import { inferTick, inferTickFromDiffs } from '../../src/calibration/tick.ts';
import type { TradeEvent } from '../../src/marketdata/events.ts';
import { Rng } from '../../src/util/rng.ts';

const close = (a: number, b: number, tol: number, msg?: string) =>
  assert.ok(Math.abs(a - b) <= tol, `${msg ?? ''} ${a} vs ${b} (tol ${tol})`);

test('special functions match known values', () => {
  close(logGamma(5), Math.log(24), 1e-12);
  close(logGamma(0.5), 0.5 * Math.log(Math.PI), 1e-12);
  close(regularizedGammaQ(1, 2.3), Math.exp(-2.3), 1e-12);
  close(chiSquareSurvival(3.841458820694124, 1), 0.05, 1e-9);
  close(chiSquareSurvival(18.307038053275146, 10), 0.05, 1e-9);
  close(chiSquareSurvival(2, 2), Math.exp(-1), 1e-12);
});

test('geometric κ MLE: closed form and Fisher standard error', () => {
  const tick = 0.1;
  const f = fitKappaGeometric(100, 100, tick); // q̂ = 1/2
  close(f.kappa, Math.LN2 / tick, 1e-12);
  close(f.q, 0.5, 1e-15);
  close(f.stderr, 0.5 / (tick * Math.sqrt(50)), 1e-12);
  assert.ok(Number.isNaN(fitKappaGeometric(50, 0, tick).kappa), 'all MOs at the touch: κ is not identified');
});

test('κ confidence intervals cover the truth at the nominal rate (simulated geometric depths)', () => {
  const rng = new Rng(7);
  const tick = 0.5;
  const kappa = 1.3;
  let covered = 0;
  const reps = 300;
  for (let r = 0; r < reps; r++) {
    let sumK = 0;
    const n = 400;
    for (let i = 0; i < n; i++) sumK += Math.floor(rng.exponential(kappa) / tick);
    const f = fitKappaGeometric(n, sumK, tick);
    if (Math.abs(f.kappa - kappa) <= 1.96 * f.stderr) covered++;
  }
  const rate = covered / reps;
  assert.ok(rate > 0.91 && rate < 0.985, `95 % CI coverage ${rate}`);
});

test('λ from exposure: Poisson MLE over the time spent at each half-spread', () => {
  const kappa = 10;
  const e = exposure([0.05, 0.15], [900, 100], kappa);
  close(e.exposure, 900 * Math.exp(-0.5) + 100 * Math.exp(-1.5), 1e-9);
  const fit = fitLambda(600, [0.05, 0.15], [900, 100], kappa, 0);
  close(fit.lambda, 600 / e.exposure, 1e-12);
  close(fit.stderr, fit.lambda / Math.sqrt(600), 1e-12);
  // κ uncertainty widens the λ error by δ̄0·SE(κ).
  const wider = fitLambda(600, [0.05, 0.15], [900, 100], kappa, 2);
  close(wider.stderr, fit.lambda * Math.sqrt(1 / 600 + (e.meanDelta0 * 2) ** 2), 1e-12);
});

test('goodness of fit accepts geometric data and rejects a touch-heavy mixture', () => {
  const rng = new Rng(3);
  const q = 0.4;
  const hist = new Array(20).fill(0);
  let n = 0;
  let sumK = 0;
  for (let i = 0; i < 3000; i++) {
    const k = Math.min(19, Math.floor(Math.log(rng.uniformPos()) / Math.log(q)));
    hist[k]++;
    n++;
    sumK += k;
  }
  const fit = fitKappaGeometric(n, sumK, 1);
  const good = geometricGoodnessOfFit(hist, fit.q);
  assert.ok(good.pValue > 0.01, `geometric data rejected: p = ${good.pValue}`);
  assert.ok(good.df >= 3);
  // 80 % at the touch plus a long tail (what real ETH looks like) is not geometric.
  const mixed = new Array(20).fill(0);
  mixed[0] = 2400;
  for (let k = 1; k < 20; k++) mixed[k] = Math.round(600 * 0.2 * 0.8 ** (k - 1));
  let mn = 0;
  let ms = 0;
  mixed.forEach((c, k) => {
    mn += c;
    ms += c * k;
  });
  const bad = geometricGoodnessOfFit(mixed, fitKappaGeometric(mn, ms, 1).q);
  assert.ok(bad.pValue < 1e-6, `mixture accepted: p = ${bad.pValue}`);
});

test('winsorised markout mean: ignores a wild print, equals the plain mean on clean data, add/remove symmetric', () => {
  const s = new QuantizedSample();
  const values = [2, 2, 3, 1, 2, 4, 0, 2, 3, 1, 2, 2];
  for (const v of values) s.add(v);
  const plain = values.reduce((a, b) => a + b, 0) / values.length;
  close(s.robustMean(0.05).mean, plain * 0.05, 1e-12);
  s.add(5000); // a bad print
  assert.ok(
    Math.abs(s.robustMean(0.05).mean - plain * 0.05) < 0.05,
    `outlier moved the mean: ${s.robustMean(0.05).mean}`,
  );
  s.remove(5000);
  close(s.robustMean(0.05).mean, plain * 0.05, 1e-12);
  const sd = Math.sqrt(values.reduce((a, v) => a + (v - plain) ** 2, 0) / (values.length - 1));
  close(s.robustMean(1).stderr, sd / Math.sqrt(values.length), 1e-12);
  assert.equal(new QuantizedSample().robustMean(1).n, 0);
});

test('durations and horizons parse, bad input names the problem', () => {
  assert.equal(parseDurationMs('30m'), 1_800_000);
  assert.equal(parseDurationMs('2h'), 7_200_000);
  assert.equal(parseDurationMs('250ms'), 250);
  assert.deepEqual(parseHorizon('next'), { label: 'next', ms: 0, next: true });
  assert.throws(() => parseDurationMs('3 parsecs'), /duration/);
  assert.throws(() => parseHorizon('0s'), /horizon/);
});

const tr = (exTime: number, side: 'buy' | 'sell', px: number, taker?: string, tid = 1): TradeEvent => ({
  kind: 'trade',
  coin: 'X',
  exTime,
  rxTime: exTime + 5,
  px,
  sz: 1,
  side,
  tid,
  ...(taker ? (side === 'buy' ? { buyer: taker, seller: '0xm' } : { seller: taker, buyer: '0xm' }) : {}),
});

test('fills are grouped into market orders by time, side and taker', () => {
  const mos = groupMarketOrders([
    tr(1000, 'buy', 10.1, '0xa'),
    tr(1000, 'buy', 10.3, '0xa'),
    tr(1000, 'buy', 10.2, '0xa'),
    tr(1000, 'buy', 10.1, '0xb'), // another taker in the same block
    tr(1000, 'sell', 9.9, '0xc'),
    tr(1000, 'sell', 9.7, '0xc'),
    tr(1001, 'buy', 10.1), // no addresses
    tr(1001, 'buy', 10.2),
    { ...tr(1002, 'buy', Number.NaN), tid: 9 }, // malformed: skipped
  ]);
  assert.equal(mos.length, 4);
  const a = mos.find((m) => m.taker === '0xa')!;
  assert.equal(a.fills, 3);
  assert.equal(a.extremePx, 10.3);
  assert.equal(mos.find((m) => m.taker === '0xc')!.extremePx, 9.7);
  const anon = mos.find((m) => m.exTime === 1001)!;
  assert.equal(anon.fills, 2);
});

test('a grouper that recycles its groups hands out the same market orders as one that does not', () => {
  // The rolling calibrator's grouper reuses closed groups (its consumer copies them): the MOs it reports,
  // copied as they come, must equal the batch grouping's fresh objects, which must stay distinct.
  const rng = new Rng(5);
  const fills: TradeEvent[] = [];
  let t = 1000;
  for (let i = 0; i < 2000; i++) {
    if (rng.uniform() < 0.4) t += 1 + Math.floor(rng.uniform() * 3);
    const side = rng.uniform() < 0.5 ? 'buy' : 'sell';
    const taker = rng.uniform() < 0.3 ? undefined : `0x${Math.floor(rng.uniform() * 3)}`;
    fills.push(tr(t, side, 10 + Math.round(rng.uniform() * 10) / 10, taker, i));
  }
  const batch = groupMarketOrders(fills);
  const copies: MarketOrder[] = [];
  const seen = new Set<MarketOrder>();
  const g = new MarketOrderGrouper(
    (mo) => {
      seen.add(mo);
      copies.push({ ...mo });
    },
    { reuse: true },
  );
  for (const f of fills) g.add(f);
  g.flush();
  assert.deepEqual(copies, batch);
  assert.equal(new Set(batch).size, batch.length, 'batch MOs are distinct objects');
  assert.ok(seen.size < batch.length / 4, `recycled: ${seen.size} objects for ${batch.length} MOs`);
});

test('tick inference survives float noise and a stray price', () => {
  assert.equal(inferTickFromDiffs([3350.1 - 3350.0, 3350.3 - 3350.1, 0.1, 0.30000000000001, 0.1]), 0.1);
  const diffs = new Array(500).fill(0).map((_, i) => (1 + (i % 3)) * 0.01 + 1e-13);
  diffs.push(0.003); // one bad print
  assert.equal(inferTickFromDiffs(diffs), 0.01);
  const book = {
    kind: 'book' as const,
    coin: 'X',
    exTime: 1,
    rxTime: 1,
    bids: [3350.0, 3349.9, 3349.7].map((px) => ({ px, sz: 1, n: 1 })),
    asks: [3350.1, 3350.2, 3350.5].map((px) => ({ px, sz: 1, n: 1 })),
  };
  assert.equal(inferTick([book, book]), 0.1);
  assert.ok(Number.isNaN(inferTick([])));
});

test('mid just before an MO: strictly earlier quote; same-millisecond quotes count as after', () => {
  const tl = new QuoteTimeline();
  tl.push(100, 10.0, 10.1);
  tl.push(200, 10.1, 10.2);
  tl.push(300, 10.2, 10.3);
  assert.equal(tl.indexBefore(200), 0);
  assert.equal(tl.indexAtOrAfter(200), 1);
  assert.equal(tl.indexAtOrBefore(250), 1);
  assert.equal(tl.push(150, 9.0, 9.1), false, 'out-of-order insert is reported');
  assert.equal(tl.time(tl.indexBefore(200)), 150);
  tl.push(400, 10.3, 10.3); // locked: unusable
  assert.ok(Number.isNaN(tl.mid(tl.indexAtOrBefore(400))));
  const d = moDepth('buy', 10.3, 10.05, 0.05, 0.1);
  close(d.depth, 0.25, 1e-12);
  assert.equal(d.k, 2);
  const inside = moDepth('sell', 10.1, 10.05, 0.05, 0.1);
  assert.equal(inside.k, 0);
  assert.equal(inside.insideTouch, true);
});

test('block jackknife SE: equals the SE of block means for equal blocks; drift correction enters', () => {
  const sums = [3, 5, 4, 6, 2, 5, 4, 3, 7, 1];
  const blocks = sums.map((m) => ({ mkSum: m * 10, mkN: 10, incSum: 0, incN: 60 }));
  const means = sums;
  const avg = means.reduce((a, b) => a + b, 0) / means.length;
  const sd = Math.sqrt(means.reduce((a, v) => a + (v - avg) ** 2, 0) / (means.length - 1));
  close(jackknifeDriftCorrectedSe(blocks, 1, 0, 1), sd / Math.sqrt(means.length), 1e-12);
  // A drift that co-moves with the markouts block by block cancels in the corrected estimate.
  const coMoving = sums.map((m) => ({ mkSum: m * 10, mkN: 10, incSum: m * 60, incN: 60 }));
  close(jackknifeDriftCorrectedSe(coMoving, 1, 1, 1), 0, 1e-12);
  assert.ok(Number.isNaN(jackknifeDriftCorrectedSe(blocks.slice(0, 5), 1, 0, 1)), 'too few blocks');
});
