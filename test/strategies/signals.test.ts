/**
 * Order-book signals in the strategies: the reference price every strategy centres its quotes on
 * (mid | microprice | weighted-mid) and cj's imbalance-regime signal.
 * - weighted-mid and micro-price move the quotes exactly by what the formula / the estimator says;
 * - the default (mid) and a one-regime signal quote byte-identically to before;
 * - with a regime model, cj quotes the solver's table of the regime the touch sizes are in;
 * - validation in a simulated market with a known imbalance signal: cj with the signal earns more than
 *   without, by a margin far beyond the run-to-run spread (several seeds).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import { MicropriceEstimator, micropriceOf, weightedMid } from '../../src/calibration/microprice.ts';
import type { InstrumentSpec, StrategyContext } from '../../src/engine/types.ts';
import type { BboEvent, MarketEvent } from '../../src/marketdata/events.ts';
import { type MarketSimRegimes, simulateMarket } from '../../src/model/market-sim.ts';
import { solveRegimeQuotes } from '../../src/model/regime.ts';
import { CjStrategy } from '../../src/strategies/cj.ts';
import { type CjConfig, parseStrategyConfig, StrategyConfigError } from '../../src/strategies/config.ts';
import { createStrategy } from '../../src/strategies/index.ts';
import { roundAsk, roundBid } from '../../src/strategies/quoting.ts';
import { Rng } from '../../src/util/rng.ts';
import { ETH, makeCtx, type TestCtx } from './ctx.ts';

function bbo(ctx: TestCtx, bidPx: number, bidSz: number, askPx: number, askSz: number): BboEvent {
  ctx.lastBbo = { kind: 'bbo', coin: 'ETH', exTime: ctx.now, rxTime: ctx.now, bidPx, bidSz, askPx, askSz };
  return ctx.lastBbo;
}

test('weighted-mid reference: fixed quotes are centred on I·ask + (1 − I)·bid', () => {
  const s = createStrategy('fixed', { halfSpreadTicks: 5, reference: 'weighted-mid' }, ETH);
  const ctx = makeCtx();
  // A 10-tick book, bid-heavy 3:1: the weighted mid is 3000.75, the mid 3000.5.
  const q = s.onBbo!(bbo(ctx, 3000.0, 3, 3001.0, 1), ctx as StrategyContext)!;
  const w = weightedMid(3000.0, 3, 3001.0, 1);
  assert.equal(w, 3000.75);
  assert.deepEqual(q.bid, { px: 3000.2, sz: 0.01 });
  assert.deepEqual(q.ask, { px: 3001.3, sz: 0.01 });
  // The default centres on the mid.
  const m = createStrategy('fixed', { halfSpreadTicks: 5 }, ETH).onBbo!(bbo(ctx, 3000.0, 3, 3001.0, 1), ctx)!;
  assert.deepEqual([m.bid!.px, m.ask!.px], [3000.0, 3001.0]);
  // A size change alone re-quotes (the reference is part of the cache key).
  const again = s.onBbo!(bbo(ctx, 3000.0, 1, 3001.0, 3), ctx)!;
  assert.deepEqual(
    [again.bid!.px, again.ask!.px],
    [roundBid(3000.25 - 0.5, ETH), roundAsk(3000.25 + 0.5, ETH)],
  );
});

/** A quote stream with a predictive imbalance: bid-heavy books precede up-ticks. */
function predictiveQuotes(seed: number, n: number): BboEvent[] {
  const rng = new Rng(seed);
  let midHalf = 60_001; // 3000.05 with a 0.1 tick
  let imb = 0.5;
  const out: BboEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = 1_700_000_000_000 + 200 * i;
    imb = Math.min(0.98, Math.max(0.02, imb + 0.15 * (rng.uniform() - 0.5)));
    const u = rng.uniform();
    if (u < 0.08 * imb) midHalf += 2;
    else if (u < 0.08) midHalf -= 2;
    const bidPx = Number((((midHalf - 1) * 0.1) / 2).toFixed(2));
    const askPx = Number((((midHalf + 1) * 0.1) / 2).toFixed(2));
    out.push({
      kind: 'bbo',
      coin: 'ETH',
      exTime: t,
      rxTime: t,
      bidPx,
      bidSz: 10 * imb,
      askPx,
      askSz: 10 * (1 - imb),
    });
  }
  return out;
}

test('microprice reference: quotes move by the estimator’s adjustment, in the direction of the imbalance', () => {
  const settings = {
    imbalanceBuckets: 6,
    spreadBuckets: 1,
    windowMs: 3_600_000,
    refreshMs: 15_000,
    minTransitions: 200,
  };
  const s = createStrategy(
    'fixed',
    { halfSpreadTicks: 3, reference: 'microprice', microprice: settings },
    ETH,
  );
  // The same estimator, fed the same quotes and refreshed on the same schedule, is the independent truth.
  const est = new MicropriceEstimator({ tick: 0.1, ...settings });
  let lastRefresh = Number.NEGATIVE_INFINITY;
  let model = est.current();
  const ctx = makeCtx();
  const evs = predictiveQuotes(3, 6000);
  let shifted = 0;
  for (const ev of evs) {
    ctx.now = ev.rxTime;
    ctx.lastBbo = ev;
    const q = s.onBbo!(ev, ctx);
    est.onQuote(ev.exTime, ev.bidPx, ev.bidSz, ev.askPx, ev.askSz);
    if (ev.exTime - lastRefresh >= settings.refreshMs) {
      lastRefresh = ev.exTime;
      model = est.refresh(ev.exTime) ?? model;
    }
    if (!q) continue;
    const mid = 0.5 * (ev.bidPx + ev.askPx);
    let ref = model ? micropriceOf(model, ev.bidPx, ev.bidSz, ev.askPx, ev.askSz) : mid;
    ref = Math.min(ev.askPx, Math.max(ev.bidPx, ref));
    assert.deepEqual(q.bid, { px: roundBid(ref - 0.3, ETH), sz: 0.01 }, `bid at ${ev.exTime}`);
    assert.deepEqual(q.ask, { px: roundAsk(ref + 0.3, ETH), sz: 0.01 }, `ask at ${ev.exTime}`);
    if (ref !== mid) shifted++;
  }
  assert.ok(model?.converged, 'a micro-price model was estimated');
  assert.ok(shifted > 300, `the reference moved off the mid ${shifted} times`);
  // Bid-heavy: the micro-price is above the mid, so both quotes sit higher than the mid-centred ones.
  const m = model!;
  assert.ok(micropriceOf(m, 3000, 9, 3000.1, 1) > 3000.05 && micropriceOf(m, 3000, 1, 3000.1, 9) < 3000.05);
  const d = (s as unknown as { diagnostics(): Record<string, unknown> }).diagnostics();
  assert.equal(d.reference, 'microprice');
  assert.ok((d.micropriceModels as number) > 10);
  // Bounded by the spread: where the estimated adjustment exceeds the half-spread (it does here, as on ETH),
  // the reference is clamped to the touch — every expected quote above was computed with the clamp.
  assert.ok(Math.max(...Array.from(m.adjustment).map(Math.abs)) > 0.05, 'the model reaches beyond the touch');
  assert.ok((d.clamped as number) > 0, `clamped ${d.clamped}`);
});

test('every strategy takes the reference: as, glft and cj quotes shift with the weighted mid', () => {
  const priors = {
    lambdaPlus: 0.6,
    lambdaMinus: 0.4,
    kappaPlus: 8,
    kappaMinus: 12,
    epsilonPlus: 0.03,
    epsilonMinus: 0.01,
  };
  const configs: [string, Record<string, unknown>][] = [
    ['as', { k: 8, sigma: 0.5 }],
    ['glft', { A: 0.5, kappa: 8, sigma: 0.5 }],
    ['cj', { calibrate: false, priors }],
  ];
  for (const [name, cfg] of configs) {
    const ctx = makeCtx();
    const mid = createStrategy(name as 'as', cfg, ETH);
    const wm = createStrategy(name as 'as', { ...cfg, reference: 'weighted-mid' }, ETH);
    // A wide book so no clamp to the touch interferes; bid-heavy: the weighted mid is 0.6 above the mid.
    const a = mid.onBbo!(bbo(ctx, 2999.0, 4, 3001.0, 1), ctx)!;
    const b = wm.onBbo!(bbo(ctx, 2999.0, 4, 3001.0, 1), ctx)!;
    assert.ok(b.bid!.px - a.bid!.px >= 0.5 - 1e-9 && b.bid!.px - a.bid!.px <= 0.7 + 1e-9, `${name} bid`);
    assert.ok(b.ask!.px - a.ask!.px >= 0.5 - 1e-9 && b.ask!.px - a.ask!.px <= 0.7 + 1e-9, `${name} ask`);
  }
});

const regimePriors = {
  thresholds: [1 / 3, 2 / 3],
  generator: [
    [0, 0.8, 0.2],
    [0.6, 0, 0.6],
    [0.2, 0.8, 0],
  ],
  params: [
    { lambdaPlus: 1.0, lambdaMinus: 2.0, kappaPlus: 15, kappaMinus: 8, epsilonPlus: 0.05, epsilonMinus: 0.4 },
    { lambdaPlus: 1.5, lambdaMinus: 1.5, kappaPlus: 12, kappaMinus: 12, epsilonPlus: 0.1, epsilonMinus: 0.1 },
    { lambdaPlus: 2.0, lambdaMinus: 1.0, kappaPlus: 8, kappaMinus: 15, epsilonPlus: 0.4, epsilonMinus: 0.05 },
  ],
};

test('cj signal imbalance: the quote is the current regime’s row of the regime solution', () => {
  const pooled = regimePriors.params[1];
  const cfg = parseStrategyConfig({
    strategy: 'cj',
    calibrate: false,
    priors: pooled,
    signal: 'imbalance',
    regimePriors,
    qMax: 4,
    phi: 0.002,
  }) as CjConfig;
  const s = new CjStrategy(cfg, ETH);
  const ctx = makeCtx();
  const mid = 3000.05;
  const base = { phi: 0.002, alpha: 0.001, qMin: -4, qMax: 4, feePerFill: ETH.makerFee * mid };
  const truth = solveRegimeQuotes(
    {
      regimes: regimePriors.params.map((p) => ({ ...base, ...p })),
      generator: regimePriors.generator.flat(),
    },
    { horizon: Number.POSITIVE_INFINITY },
  ).tables;
  for (const [bidSz, askSz, z] of [
    [1, 9, 0],
    [5, 5, 1],
    [9, 1, 2],
  ] as const) {
    for (const q of [-2, 0, 3]) {
      ctx.pos = q * 0.01;
      s.onBbo(bbo(ctx, 3000.0, bidSz, 3000.1, askSz), ctx);
      const last = s.lastQuotes!;
      const i = q + 4;
      assert.equal(
        last.bid!.px,
        Math.min(roundBid(mid - truth[z].deltaMinus[i], ETH), 3000.0),
        `bid z=${z} q=${q}`,
      );
      assert.equal(
        last.ask!.px,
        Math.max(roundAsk(mid + truth[z].deltaPlus[i], ETH), 3000.1),
        `ask z=${z} q=${q}`,
      );
    }
  }
  // Buy pressure (regime 2) widens the ask against regime 0.
  assert.ok(truth[2].deltaPlus[4] > truth[0].deltaPlus[4] + 0.1);
  assert.equal(s.diagnostics().regimeSource, 'prior');
});

test('cj: signal errors name the field; a one-regime signal quotes byte-identically to no signal', () => {
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', signal: 'imbalance', mode: 'touch' }),
    (e: unknown) => e instanceof StrategyConfigError && /strategy\.signal: .*mode 'depth'/.test(e.message),
  );
  assert.throws(
    () =>
      parseStrategyConfig({
        strategy: 'cj',
        signal: 'imbalance',
        calibrate: false,
        priors: regimePriors.params[1],
      }),
    /strategy\.regimePriors: required/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'fixed', reference: 'vwap' }),
    /strategy\.reference: must be/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', signal: 'imbalance', regimes: { count: 2 }, regimePriors }),
    /strategy\.regimePriors: must have regimes.count/,
  );
  // Backtest on a regime market: count 1 = the plain model, fill for fill.
  const sim = simulateMarket({ ...world(3), seed: 8, durationSec: 900 });
  const run = (extra: Record<string, unknown>) =>
    runBacktest({
      events: sim.events,
      instrument: SIM,
      strategy: createStrategy('cj', { qMax: 4, phi: 0.002, ...extra }, SIM),
      latency: 1,
      fees: { maker: 0, taker: 0 },
      risk: { maxPositionLots: 4, maxOrdersPerSec: 1e6, orderBurst: 1e6 },
    });
  const a = run({});
  const b = run({ signal: 'imbalance', regimes: { count: 1 } });
  assert.ok(a.fills.length > 100);
  assert.deepEqual(b.fills, a.fills);
  assert.equal(b.metrics.netPnl, a.metrics.netPnl);
});

// ------------------------------------------------------------------ validation: the signal pays

const SIM: InstrumentSpec = {
  coin: 'SIM',
  tick: 0.01,
  szDecimals: 2,
  lotSize: 0.05,
  minNotional: 10,
  makerFee: 0,
  takerFee: 0,
};
/** Sell pressure / balanced / buy pressure: MO rates, fill decay and jumps all depend on the regime. */
const WORLD: MarketSimRegimes = {
  generator: [
    [0, 0.8, 0.2],
    [0.6, 0, 0.6],
    [0.2, 0.8, 0],
  ],
  params: [
    {
      lambdaPlus: 1.0,
      lambdaMinus: 2.0,
      kappaPlus: 15,
      kappaMinus: 8,
      epsilonPlus: 0.005,
      epsilonMinus: 0.04,
    },
    {
      lambdaPlus: 1.5,
      lambdaMinus: 1.5,
      kappaPlus: 12,
      kappaMinus: 12,
      epsilonPlus: 0.01,
      epsilonMinus: 0.01,
    },
    {
      lambdaPlus: 2.0,
      lambdaMinus: 1.0,
      kappaPlus: 8,
      kappaMinus: 15,
      epsilonPlus: 0.04,
      epsilonMinus: 0.005,
    },
  ],
};
function world(levels: number) {
  return {
    tick: 0.01,
    mid0: 300,
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 10,
    kappaMinus: 10,
    epsilonPlus: 0,
    epsilonMinus: 0,
    sigma: 0.02,
    rxLatencyMs: 1,
    wideSpreadFrac: 0,
    bookLevels: levels,
    coin: 'SIM',
    regimes: WORLD,
  };
}

/**
 * cj with and without the signal in the simulated market with a known imbalance signal, 4 seeds × 30 min, both
 * calibrating on the rolling window from no priors; `inventory` is φ (fixed) or the inventory target.
 */
function signalValidation(inventory: Record<string, unknown>) {
  const none: number[] = [];
  const signal: number[] = [];
  const lines: string[] = [];
  for (let seed = 1; seed <= 4; seed++) {
    const sim = simulateMarket({ ...world(3), seed, durationSec: 1800 });
    const pnl = (sig: 'none' | 'imbalance') => {
      const strategy = createStrategy(
        'cj',
        { signal: sig, qMax: 4, alpha: 0, beforeCalibration: 'no-quote', ...inventory },
        SIM,
      );
      const r = runBacktest({
        events: sim.events as MarketEvent[],
        instrument: SIM,
        strategy,
        latency: 1,
        fees: { maker: 0, taker: 0 },
        risk: { maxPositionLots: 4, maxOrdersPerSec: 1e6, orderBurst: 1e6 },
      });
      if (sig === 'imbalance') {
        // The sampled diagnostics show the strategy quoting by regime (regime ≥ 0) once calibrated.
        const regimes = r.params.map((p) => p.values.regime).filter((v) => typeof v === 'number' && v >= 0);
        assert.ok(regimes.length > r.params.length / 2, 'quoting by regime most of the run');
        // Without a fixed φ the regime tables' φ comes from the target on the joint (inventory, regime) law.
        const st = (r.diagnostics as Record<string, unknown>).regimePhiStatus;
        assert.ok(
          inventory.phi !== undefined ? st === 'config' : st === 'met' || st === 'unconstrained',
          `regime φ status ${st}`,
        );
      }
      return r.metrics.netPnl;
    };
    none.push(pnl('none'));
    signal.push(pnl('imbalance'));
    lines.push(
      `seed ${seed}: none ${none[seed - 1].toFixed(3)}, imbalance ${signal[seed - 1].toFixed(3)} USD`,
    );
  }
  const stats = (xs: number[]) => {
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    return { mean, sd };
  };
  const a = stats(none);
  const b = stats(signal);
  const margin = b.mean - a.mean;
  // Run-to-run standard error of the difference of the two means (seeds independent within a variant).
  const se = Math.sqrt((a.sd * a.sd + b.sd * b.sd) / none.length);
  lines.push(
    `mean: none ${a.mean.toFixed(3)} ± ${a.sd.toFixed(3)} (sd), imbalance ${b.mean.toFixed(3)} ± ${b.sd.toFixed(3)}; margin ${margin.toFixed(3)}, SE ${se.toFixed(3)}`,
  );
  console.log(lines.join('\n'));
  assert.ok(margin > 3 * se, lines.join('; '));
  assert.ok(margin > a.sd && margin > b.sd, 'the margin exceeds the run-to-run spread of either variant');
  for (let i = 0; i < none.length; i++) assert.ok(signal[i] > none[i], lines[i]);
}

test('validation: in a market with a known imbalance signal, cj with the signal earns more (4 seeds, fixed φ)', () => {
  signalValidation({ phi: 0.002 });
});

test('validation: the same with the default inventory target (φ on the joint inventory–regime law with the signal)', () => {
  signalValidation({});
});

test('the backtest attributes P&L against the strategy’s own reference, and the parts still sum to net P&L', () => {
  const sim = simulateMarket({ ...world(3), seed: 5, durationSec: 600 });
  const run = (reference: string) =>
    runBacktest({
      events: sim.events,
      instrument: SIM,
      strategy: { name: 'fixed', config: { halfSpreadTicks: 2, maxPosition: 4, reference } },
      latency: 1,
      fees: { maker: 0.0001, taker: 0.0003 },
      risk: { maxPositionLots: 4, maxOrdersPerSec: 1e6, orderBurst: 1e6 },
    });
  const mid = run('mid');
  const wm = run('weighted-mid');
  assert.equal(mid.settings.attribution.reference, 'mid');
  assert.equal(wm.settings.attribution.reference, 'weighted-mid');
  for (const r of [mid, wm]) {
    const a = r.metrics.pnlAttribution;
    const sum = a.spreadCapture + a.adverseSelection + a.inventoryCarry + a.fees + a.funding;
    assert.ok(Math.abs(sum - r.metrics.netPnl) < 1e-9, `${sum} vs ${r.metrics.netPnl}`);
  }
  assert.notEqual(wm.metrics.pnlAttribution.spreadCapture, mid.metrics.pnlAttribution.spreadCapture);
});

test('cj regimes.minChangeSe: the regime tables stand while the calibrated regime model moves less than that many SEs', () => {
  const sim = simulateMarket({ ...world(3), seed: 3, durationSec: 1200 });
  const run = (minChangeSe?: number) => {
    const strategy = createStrategy(
      'cj',
      {
        signal: 'imbalance',
        qMax: 4,
        alpha: 0,
        beforeCalibration: 'no-quote',
        ...(minChangeSe === undefined ? {} : { regimes: { count: 3, minChangeSe } }),
      },
      SIM,
    );
    const r = runBacktest({
      events: sim.events as MarketEvent[],
      instrument: SIM,
      strategy,
      latency: 1,
      fees: { maker: 0, taker: 0 },
      risk: { maxPositionLots: 4, maxOrdersPerSec: 1e6, orderBurst: 1e6 },
    });
    const d = r.diagnostics as Record<string, unknown>;
    // The strategy object passed in is the one that ran (not rebuilt from its `config`).
    assert.equal((strategy.diagnostics?.() as Record<string, unknown>).solves, d.solves);
    assert.ok((d.solves as number) > 0);
    return {
      skipped: d.regimeSolvesSkipped as number,
      solves: d.solves as number,
      status: d.regimePhiStatus,
    };
  };
  const every = run(0);
  const half = run(0.5);
  const byDefault = run();
  const never = run(1e9);
  assert.equal(every.skipped, 0, '0: a re-solve at every new calibration');
  assert.ok(half.skipped > 0, `0.5 SE: ${half.skipped} of ${half.solves} kept`);
  assert.deepEqual(byDefault, half, 'the default is ½ SE');
  // Far beyond any move (the fee is 0 here, so it never forces one): only the first solve is made.
  assert.ok(never.skipped > half.skipped && never.skipped >= never.solves - 2, JSON.stringify(never));
  for (const r of [every, half, never])
    assert.ok(r.status === 'met' || r.status === 'unconstrained', `regime φ status ${r.status}`);
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', signal: 'imbalance', regimes: { minChangeSe: -1 } }),
    /regimes\.minChangeSe/,
  );
});
