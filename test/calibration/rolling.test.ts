/** The rolling calibrator: incremental == batch, fallbacks, bounds, smoothing, robustness to bad data. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate } from '../../src/calibration/calibrate.ts';
import { defaultBlockMs } from '../../src/calibration/rolling/options.ts';
import { RollingCalibrator } from '../../src/calibration/rolling.ts';
import { type CalibrationResult, PARAM_KEYS } from '../../src/calibration/types.ts';
import type { BboEvent, MarketEvent } from '../../src/marketdata/events.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';

const base = {
  tick: 0.1,
  lambdaPlus: 1.0,
  lambdaMinus: 0.8,
  kappaPlus: 6,
  kappaMinus: 9,
  epsilonPlus: 0.07,
  epsilonMinus: 0.04,
  sigma: 0.1,
  rxLatencyMs: 800,
};
// One hour of market, shared by several tests (generated once).
const hour = simulateMarket({ ...base, seed: 21, durationSec: 3600 });
const t0 = Date.UTC(2025, 0, 1);

function allFinite(r: CalibrationResult) {
  for (const k of PARAM_KEYS) {
    assert.ok(Number.isFinite(r[k]), `${k} = ${r[k]}`);
    assert.ok(Number.isFinite(r.stderr[k]) && r.stderr[k] >= 0, `stderr.${k} = ${r.stderr[k]}`);
  }
}

test('incremental refreshes over a 30-minute window give exactly the batch numbers for that window', () => {
  const at = t0 + 3_500_000;
  const cal = new RollingCalibrator({ coin: 'SIM', windowMs: 30 * 60_000, tick: 0.1 });
  let emitted = 0;
  // Receive order, as a live consumer sees it: channels interleave out of exchange order.
  for (const ev of hour.events) {
    if (ev.exTime > at) continue;
    cal.onEvent(ev);
    if (cal.maybeRefresh(ev.exTime)) emitted++;
  }
  assert.ok(emitted > 200, `refreshes: ${emitted}`);
  const rolled = cal.refresh(at, true)!;
  const batch = calibrate(hour.events, [], { coin: 'SIM', windowMs: 30 * 60_000, at, tick: 0.1 }).result!;
  assert.equal(rolled.samples.mosPlus, batch.samples.mosPlus);
  assert.equal(rolled.samples.mosMinus, batch.samples.mosMinus);
  assert.equal(rolled.samples.sigmaIncrements, batch.samples.sigmaIncrements);
  for (const k of PARAM_KEYS) {
    assert.ok(
      Math.abs(rolled[k] - batch[k]) <= 1e-9 * Math.abs(batch[k]) + 1e-12,
      `${k}: ${rolled[k]} vs ${batch[k]}`,
    );
  }
  close(rolled.window.observedSec, 1800, 1e-6);
  assert.equal(rolled.source, 'fresh');
  assert.equal(rolled.samples.outOfOrder, 0, 'per-channel FIFO is not out of order');
});

function close(a: number, b: number, tol: number) {
  assert.ok(Math.abs(a - b) <= tol, `${a} vs ${b}`);
}

test('maybeRefresh emits every refreshMs of data time', () => {
  const cal = new RollingCalibrator({ coin: 'SIM', refreshMs: 60_000, tick: 0.1 });
  const times: number[] = [];
  for (const ev of hour.events) {
    cal.onEvent(ev);
    if (cal.maybeRefresh(ev.exTime) !== undefined) times.push(ev.exTime);
  }
  assert.ok(times.length >= 50 && times.length <= 61, `emissions: ${times.length}`);
  for (let i = 1; i < times.length; i++) assert.ok(times[i] - times[i - 1] >= 60_000);
});

test('insufficient data: last good set with a flag, then priors; never NaN, never undefined once good', () => {
  const cal = new RollingCalibrator({ coin: 'SIM', windowMs: 10 * 60_000, tick: 0.1 });
  const cut = t0 + 20 * 60_000;
  for (const ev of hour.events) if (ev.exTime <= cut) cal.onEvent(ev);
  const good = cal.refresh(cut)!;
  assert.equal(good.source, 'fresh');
  // The feed goes silent: 25 minutes later the window holds nothing.
  const later = cal.refresh(cut + 25 * 60_000)!;
  assert.equal(later.source, 'last-good');
  assert.ok(later.quality.flags.includes('insufficient-data:window'));
  assert.equal(later.quality.ok, false);
  assert.equal(later.kappaPlus, good.kappaPlus);
  allFinite(later);

  const fresh = new RollingCalibrator({ coin: 'SIM', tick: 0.1 });
  assert.equal(fresh.refresh(t0), undefined, 'no data and no priors: nothing to emit');
  assert.ok(fresh.status()!.flags.some((f) => f.startsWith('insufficient-data')));
  const priors = { lambdaPlus: 1, lambdaMinus: 1, kappaPlus: 5, kappaMinus: 5, epsilonPlus: 0.05 };
  const withPriors = new RollingCalibrator({
    coin: 'SIM',
    tick: 0.1,
    priors: { ...priors, epsilonMinus: 0.05, sigma: 0.2, moRatePlus: 0.6, moRateMinus: 0.6 },
  });
  const p = withPriors.refresh(t0)!;
  assert.equal(p.source, 'prior');
  assert.equal(p.kappaPlus, 5);
  allFinite(p);
});

test('one-sided flow: the empty side falls back and is flagged, the other side is estimated', () => {
  const sim = simulateMarket({ ...base, lambdaMinus: 0, seed: 22, durationSec: 1800 });
  const out = calibrate(sim.events, [], {
    coin: 'SIM',
    priors: { lambdaMinus: 0.5, kappaMinus: 7, epsilonMinus: 0.03, moRateMinus: 0.3 },
  });
  const r = out.result!;
  assert.ok(r.quality.flags.includes('insufficient-data:minus'));
  assert.equal(r.source, 'prior');
  assert.equal(r.kappaMinus, 7);
  assert.ok(Math.abs(r.kappaPlus - base.kappaPlus) <= 3 * r.stderr.kappaPlus, `κ⁺ ${r.kappaPlus}`);
  allFinite(r);
  const none = calibrate(sim.events, [], { coin: 'SIM' });
  assert.equal(none.result, undefined);
  assert.ok(none.flags.includes('no-value:kappaMinus'));
});

test('sanity bounds clamp and flag; EWMA moves part way', () => {
  const bounded = calibrate(hour.events, [], { coin: 'SIM', bounds: { kappaPlus: [1, 4] } }).result!;
  assert.equal(bounded.kappaPlus, 4);
  assert.ok(bounded.quality.flags.includes('bound:kappaPlus'));
  assert.equal(bounded.quality.ok, false);

  const raw = new RollingCalibrator({ coin: 'SIM', windowMs: 5 * 60_000, tick: 0.1 });
  const a = t0 + 10 * 60_000;
  const b = t0 + 40 * 60_000;
  for (const ev of hour.events) if (ev.exTime <= b) raw.onEvent(ev);
  const s1 = new RollingCalibrator({ coin: 'SIM', windowMs: 5 * 60_000, tick: 0.1, ewmaHalfLife: 600_000 });
  for (const ev of hour.events) if (ev.exTime <= a) s1.onEvent(ev);
  const first = s1.refresh(a)!;
  for (const ev of hour.events) if (ev.exTime > a && ev.exTime <= b) s1.onEvent(ev);
  const second = s1.refresh(b)!;
  const rawB = raw.refresh(b)!;
  const w = 1 - 2 ** (-(b - a) / 600_000);
  close(second.lambdaPlus, first.lambdaPlus + w * (rawB.lambdaPlus - first.lambdaPlus), 1e-9);
  assert.ok(Math.abs(second.lambdaPlus - rawB.lambdaPlus) < Math.abs(first.lambdaPlus - rawB.lambdaPlus));
});

test('robust to crossed books, NaN rows, other coins, stale feeds and out-of-order quotes', () => {
  const clean = calibrate(hour.events, [], { coin: 'SIM', tick: 0.1 }).result!;
  const dirty: MarketEvent[] = [];
  let n = 0;
  const silenceFrom = t0 + 30 * 60_000;
  const silenceTo = t0 + 35 * 60_000;
  for (const ev of hour.events) {
    // A 5-minute stretch with no quotes and no declared gap: the feed went stale.
    if (ev.kind !== 'trade' && ev.exTime > silenceFrom && ev.exTime < silenceTo) continue;
    dirty.push(ev);
    if (ev.kind === 'bbo' && ++n % 97 === 0) {
      const crossed: BboEvent = { ...ev, bidPx: ev.askPx + 0.1, rxTime: ev.rxTime };
      dirty.push(crossed);
      dirty.push({ ...ev, coin: 'OTHER' });
      dirty.push({ ...ev, bidPx: Number.NaN });
    }
    if (ev.kind === 'trade' && n % 211 === 0) dirty.push({ ...ev, px: Number.NaN, tid: -1 });
  }
  // Swap two bbo messages: out of exchange order within the channel.
  const i = dirty.findIndex((e, j) => j > 1000 && e.kind === 'bbo');
  const j = dirty.findIndex((e, k) => k > i && e.kind === 'bbo');
  [dirty[i], dirty[j]] = [dirty[j], dirty[i]];

  const cal = new RollingCalibrator({ coin: 'SIM', windowMs: Number.POSITIVE_INFINITY, tick: 0.1 });
  for (const ev of dirty) cal.onEvent(ev);
  const r = cal.refresh(t0 + 3600_000, true)!;
  allFinite(r);
  assert.ok(r.samples.crossedQuotes > 0 && r.samples.malformed > 0 && r.samples.outOfOrder > 0);
  assert.ok(r.samples.otherCoinSkipped > 0);
  for (const f of ['crossed-quotes', 'malformed-skipped', 'out-of-order', 'mos-without-quote'])
    assert.ok(r.quality.flags.includes(f), `missing flag ${f}: ${r.quality.flags}`);
  // MOs during the stale stretch have no mid; observed time excludes the stale part.
  assert.ok(r.samples.mosWithoutQuote > 50, `mosWithoutQuote ${r.samples.mosWithoutQuote}`);
  assert.ok(
    r.window.observedSec < 3600 - 250 && r.window.observedSec > 3600 - 320,
    `${r.window.observedSec}`,
  );
  for (const k of ['lambdaPlus', 'kappaPlus', 'epsilonPlus', 'moRatePlus'] as const) {
    assert.ok(Math.abs(r[k] - clean[k]) <= 3 * clean.stderr[k], `${k}: ${r[k]} vs clean ${clean[k]}`);
  }
});

test('batch input in any order: the numbers of sorted input, disorder counted and flagged', () => {
  const sorted = calibrate(hour.events, [], { coin: 'SIM' }).result!;
  // Reverse blocks of 50 events: timestamps go backwards inside every channel.
  const shuffled: MarketEvent[] = [];
  for (let i = 0; i < hour.events.length; i += 50) shuffled.push(...hour.events.slice(i, i + 50).reverse());
  const r = calibrate(shuffled, [], { coin: 'SIM' }).result!;
  assert.ok(r.samples.outOfOrder > 1000, `outOfOrder ${r.samples.outOfOrder}`);
  assert.ok(r.quality.flags.includes('out-of-order'));
  assert.equal(sorted.samples.outOfOrder, 0);
  // Only the order of quotes sharing a millisecond is lost (it decides which one is "the" quote of that
  // millisecond), so the numbers agree to a small fraction of their standard errors.
  for (const k of PARAM_KEYS) close(r[k], sorted[k], 0.1 * sorted.stderr[k]);
});

test('declared gaps are excluded from the observed time and their events skipped', () => {
  const gap = { coin: 'SIM', kind: 'all' as const, start: t0 + 600_000, end: t0 + 900_000, reason: 'test' };
  const r = calibrate(hour.events, [gap], { coin: 'SIM' }).result!;
  close(r.window.observedSec, 3600 - 300, 2);
  assert.ok(r.samples.eventsInGapSkipped > 0);
  assert.ok(r.quality.flags.includes('events-in-gap-skipped'));
});

test('empty input and unknown coin give no set and a reason, not NaN', () => {
  const out = calibrate([], [], { coin: 'SIM' });
  assert.equal(out.result, undefined);
  assert.ok(out.flags.length > 0);
  const other = calibrate(hour.events, [], { coin: 'NOPE' });
  assert.equal(other.result, undefined);
});

test("a strategy's feed (the model's horizon alone, the default blocks) emits the default calibrator's numbers", () => {
  const full = new RollingCalibrator({ coin: 'SIM', tick: 0.1, markoutHorizonMs: 5000 });
  const lean = new RollingCalibrator({
    coin: 'SIM',
    tick: 0.1,
    markoutHorizonMs: 5000,
    horizons: [],
    blockMs: defaultBlockMs(5000),
  });
  let compared = 0;
  for (const ev of hour.events) {
    full.onEvent(ev);
    lean.onEvent(ev);
    const a = full.maybeRefresh(ev.exTime);
    const b = lean.maybeRefresh(ev.exTime);
    assert.equal(a === undefined, b === undefined);
    if (!a || !b) continue;
    compared++;
    // Everything but the other horizons' markouts is the same, to the bit (the SEs too: same blocks).
    assert.deepEqual(
      b.markouts.map((m) => m.horizon),
      ['5s'],
    );
    assert.deepEqual(
      b.markouts[0],
      a.markouts.find((m) => m.horizon === '5s'),
    );
    assert.deepEqual({ ...b, markouts: [] }, { ...a, markouts: [] });
  }
  assert.ok(compared > 200, `refreshes compared: ${compared}`);
  assert.throws(() => new RollingCalibrator({ coin: 'SIM', blockMs: 0 }), /blockMs must be > 0/);
});
