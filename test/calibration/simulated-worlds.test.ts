/**
 * Validation on simulated markets with known parameters: two hours of data per case, estimates must recover
 * the truth within 3 standard errors, and the standard errors must be honest (z-scores neither all tiny
 * nor large) across the grid. Grid: κ·tick from 0.1 to 1.5, asymmetric sides, ε from 0 to 2 ticks,
 * bbo-fed and book-only, with and without taker addresses.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate } from '../../src/calibration/calibrate.ts';
import type { ParamKey } from '../../src/calibration/types.ts';
import { type MarketSimOptions, simulateMarket } from '../../src/model/market-sim.ts';

const tick = 0.1;
type Case = Omit<MarketSimOptions, 'durationSec' | 'tick'> & { name: string };
const cases: Case[] = [
  {
    name: 'shallow book κ·tick=0.1, no adverse selection',
    seed: 11,
    lambdaPlus: 0.6,
    lambdaMinus: 0.6,
    kappaPlus: 0.1 / tick,
    kappaMinus: 0.1 / tick,
    epsilonPlus: 0,
    epsilonMinus: 0,
    sigma: 0.1,
  },
  {
    name: 'asymmetric κ·tick 0.5/1.5, ε 0.5/1.2 ticks',
    seed: 12,
    lambdaPlus: 1.5,
    lambdaMinus: 0.6,
    kappaPlus: 0.5 / tick,
    kappaMinus: 1.5 / tick,
    epsilonPlus: 0.5 * tick,
    epsilonMinus: 1.2 * tick,
    sigma: 0.08,
  },
  {
    name: 'asymmetric κ·tick 1.5/0.3, ε 2/0.3 ticks, wide spreads 25 %',
    seed: 13,
    lambdaPlus: 0.7,
    lambdaMinus: 1.2,
    kappaPlus: 1.5 / tick,
    kappaMinus: 0.3 / tick,
    epsilonPlus: 2 * tick,
    epsilonMinus: 0.3 * tick,
    sigma: 0.15,
    wideSpreadFrac: 0.25,
  },
  {
    name: 'book-only feed (l2Book on change, no bbo), no addresses, κ·tick=1, ε 1.5/0.7 ticks',
    seed: 14,
    lambdaPlus: 1.2,
    lambdaMinus: 1.0,
    kappaPlus: 1 / tick,
    kappaMinus: 1 / tick,
    epsilonPlus: 1.5 * tick,
    epsilonMinus: 0.7 * tick,
    sigma: 0.12,
    withBbo: false,
    bookOnChange: true,
    withAddresses: false,
  },
];

const checked: ParamKey[] = [
  'lambdaPlus',
  'lambdaMinus',
  'kappaPlus',
  'kappaMinus',
  'epsilonPlus',
  'epsilonMinus',
  'sigma',
];
const allZ: number[] = [];

for (const c of cases) {
  test(`recovers the truth within 3 SE: ${c.name}`, () => {
    const { events, truth } = simulateMarket({ ...c, durationSec: 7200, tick, rxLatencyMs: 800 });
    const out = calibrate(events, [], { coin: 'SIM' });
    const r = out.result;
    assert.ok(r, `no result: ${out.flags.join(', ')}`);
    assert.equal(r.source, 'fresh');
    assert.equal(r.spread.tick, tick);
    // MO reconstruction: every simulated MO found once (fills grouped, not counted).
    assert.equal(r.samples.mosPlus, truth.mosPlus);
    assert.equal(r.samples.mosMinus, truth.mosMinus);
    assert.ok(r.samples.fillsPerMoPlus > 1);
    for (const k of checked) {
      const want = k === 'sigma' ? truth.sigmaTotal : truth[k];
      const se = r.stderr[k];
      assert.ok(Number.isFinite(r[k]) && se > 0, `${k}: estimate ${r[k]} ± ${se}`);
      const z = (r[k] - want) / se;
      allZ.push(z);
      assert.ok(Math.abs(z) <= 3, `${k}: estimate ${r[k]} ± ${se} vs truth ${want} (z = ${z.toFixed(2)})`);
    }
    for (const k of ['moRatePlus', 'moRateMinus'] as const) {
      const z = (r[k] - truth[k]) / r.stderr[k];
      assert.ok(Math.abs(z) <= 3, `${k}: ${r[k]} vs ${truth[k]} (z = ${z.toFixed(2)})`);
    }
    // The depth model is the true one here: the goodness-of-fit test must not reject it, and the quotes keep it.
    assert.ok(r.fit && r.fit.plus.pValue > 0.001 && r.fit.minus.pValue > 0.001, JSON.stringify(r.fit));
    assert.equal(r.depthModel?.plus.use, 'exponential');
    assert.equal(r.depthModel?.minus.use, 'exponential');
    // The drift D = λ⁺ε⁺ − λ⁻ε⁻ within 3 SE (delta method with the jackknife Cov(ε⁺, ε⁻)).
    const D = truth.lambdaPlus * truth.epsilonPlus - truth.lambdaMinus * truth.epsilonMinus;
    const zD = (r.drift!.value - D) / r.drift!.stderr;
    assert.ok(Math.abs(zD) <= 3, `D ${r.drift!.value} ± ${r.drift!.stderr} vs ${D} (z = ${zD.toFixed(2)})`);
    // Markouts at 'next' see exactly the MO's own jump.
    const next = r.markouts.find((m) => m.horizon === 'next')!;
    assert.ok(Math.abs(next.plus.mean - truth.epsilonPlus) <= 3 * next.plus.stderr + 1e-9);
  });
}

test('standard errors are honest across the grid (z-scores neither all tiny nor inflated)', () => {
  assert.equal(allZ.length, cases.length * checked.length, 'run with the grid tests above');
  const rms = Math.sqrt(allZ.reduce((s, z) => s + z * z, 0) / allZ.length);
  // 28 z-scores of a well-calibrated estimator: RMS ≈ 1 (χ²₂₈/28 lies in [0.5, 1.7] with 99 % prob.).
  assert.ok(rms > 0.5 && rms < 1.6, `RMS z = ${rms.toFixed(2)} (${allZ.map((z) => z.toFixed(1)).join(' ')})`);
});

test('the simulated market is well formed: grid prices, uncrossed books, rx ≥ ex, FIFO per channel, reproducible', () => {
  const opts = {
    seed: 5,
    durationSec: 600,
    tick,
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 8,
    kappaMinus: 8,
    epsilonPlus: 0.05,
    epsilonMinus: 0.05,
    sigma: 0.1,
    rxLatencyMs: 800,
  };
  const { events, truth } = simulateMarket(opts);
  const onGrid = (px: number) => Math.abs(px / tick - Math.round(px / tick)) < 1e-6;
  const lastEx: Record<string, number> = {};
  let lastRx = 0;
  for (const ev of events) {
    assert.ok(ev.rxTime >= ev.exTime && ev.rxTime >= lastRx);
    lastRx = ev.rxTime;
    assert.ok(ev.exTime >= (lastEx[ev.kind] ?? 0), `${ev.kind} out of exchange order`);
    lastEx[ev.kind] = ev.exTime;
    if (ev.kind === 'bbo') assert.ok(onGrid(ev.bidPx) && onGrid(ev.askPx) && ev.askPx > ev.bidPx);
    if (ev.kind === 'book') assert.ok(ev.bids[0].px < ev.asks[0].px && ev.bids.every((l) => onGrid(l.px)));
    if (ev.kind === 'trade') assert.ok(onGrid(ev.px) && ev.sz > 0);
  }
  const trades = events.filter((e) => e.kind === 'trade').length;
  assert.equal(trades, truth.fills);
  assert.ok(truth.fills > 1.5 * (truth.mosPlus + truth.mosMinus), 'several fills per MO');
  // Visible MO counts are Poisson(moRate·T): within 4 SD.
  for (const [n, rate] of [
    [truth.mosPlus, truth.moRatePlus],
    [truth.mosMinus, truth.moRateMinus],
  ]) {
    assert.ok(Math.abs(n - rate * 600) < 4 * Math.sqrt(rate * 600), `${n} vs ${rate * 600}`);
  }
  assert.deepEqual(simulateMarket(opts).events.slice(0, 50), events.slice(0, 50));
});
