/** Spread bounds: config forms and errors, clamping before rounding, and the share of time each bound binds. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { createStrategy, parseStrategyConfig, StrategyConfigError } from '../../src/strategies/index.ts';
import { quotesFromDepths } from '../../src/strategies/quoting.ts';
import { SpreadBoundLimiter } from '../../src/strategies/spread-bounds.ts';
import { ETH, makeCtx } from './ctx.ts';

test('config: {ticks}, {bps} or per side {bid, ask}; errors name the field', () => {
  const a = parseStrategyConfig({ strategy: 'fixed', minHalfSpread: { ticks: 2 } });
  assert.deepEqual(a.minHalfSpread, { bid: { ticks: 2 }, ask: { ticks: 2 } });
  const b = parseStrategyConfig({
    strategy: 'cj',
    maxHalfSpread: { bid: { bps: 5 }, ask: { ticks: 10 } },
  });
  assert.deepEqual(b.maxHalfSpread, { bid: { bps: 5 }, ask: { ticks: 10 } });
  assert.equal(parseStrategyConfig({ strategy: 'as' }).minHalfSpread, undefined);
  const bad: [unknown, RegExp][] = [
    [
      { strategy: 'glft', minHalfSpread: { ticks: -1 } },
      /strategy\.minHalfSpread\.ticks: must be a number ≥ 0/,
    ],
    [{ strategy: 'as', minHalfSpread: 3 }, /strategy\.minHalfSpread: give \{"ticks": n\}/],
    [{ strategy: 'cj', maxHalfSpread: { ticks: 1, bps: 2 } }, /strategy\.maxHalfSpread: give exactly one/],
    [{ strategy: 'cj', maxHalfSpread: { bid: { tick: 1 } } }, /strategy\.maxHalfSpread\.bid: unknown field/],
    [{ strategy: 'fixed', minHalfSpread: { bid: { ticks: 1 }, side: 2 } }, /unknown field\(s\) side/],
    [
      { strategy: 'fixed', minHalfSpread: { ticks: 5 }, maxHalfSpread: { ask: { ticks: 3 } } },
      /strategy\.maxHalfSpread: ask: maxHalfSpread 3 ticks is below minHalfSpread 5 ticks/,
    ],
  ];
  for (const [cfg, re] of bad)
    assert.throws(
      () => parseStrategyConfig(cfg),
      (e: Error) => {
        assert.ok(e instanceof StrategyConfigError, String(e));
        assert.match(e.message, re);
        return true;
      },
    );
});

test('the bounds clamp the model depths before rounding; an unquoted side stays unquoted', () => {
  // ETH tick 0.1. min 2 ticks on the bid, max 3 bps (≈ 0.9 at 3000) on the ask.
  const lim = new SpreadBoundLimiter({ bid: { ticks: 2 } }, { ask: { bps: 3 } }, ETH.tick);
  const q = quotesFromDepths(
    { mid: 3000.05, deltaPlus: 2.0, deltaMinus: 0.05, bestBid: 3000.0, bestAsk: 3000.1, size: 0.01 },
    ETH,
    lim,
    0,
  );
  // bid: δ⁻ 0.05 → 0.2 → 2999.85 → floor 2999.8; ask: δ⁺ 2.0 → 0.900015 → 3000.950015 → ceil 3001.0.
  assert.equal(q.bid?.px, 2999.8);
  assert.equal(q.ask?.px, 3001.0);
  assert.equal(lim.bindBid, 1);
  assert.equal(lim.bindAsk, 2);
  // Inside the bounds: nothing binds and the quotes are the model's.
  const q2 = quotesFromDepths(
    { mid: 3000.05, deltaPlus: 0.5, deltaMinus: 0.45, bestBid: 3000.0, bestAsk: 3000.1, size: 0.01 },
    ETH,
    lim,
    0,
  );
  assert.equal(q2.bid?.px, 2999.6);
  assert.equal(q2.ask?.px, 3000.6);
  assert.equal(lim.bindBid + lim.bindAsk, 0);
  // A side the model does not quote stays unquoted (an inventory bound), bounds or not.
  const q3 = quotesFromDepths(
    { mid: 3000.05, deltaPlus: 0.5, deltaMinus: Number.NaN, bestBid: 3000.0, bestAsk: 3000.1, size: 0.01 },
    ETH,
    lim,
    0,
  );
  assert.equal(q3.bid, null);
  // A negative depth (the model wants to cross) is lifted to the min bound.
  const q4 = quotesFromDepths(
    { mid: 3000.05, deltaPlus: 0.5, deltaMinus: -1, bestBid: 3000.0, bestAsk: 3000.1, size: 0.01 },
    ETH,
    lim,
    0,
  );
  assert.equal(q4.bid?.px, 2999.8);
  // Min and max crossing in different units: the max wins.
  const both = new SpreadBoundLimiter({ ask: { ticks: 10 } }, { ask: { bps: 1 } }, ETH.tick);
  both.apply(3000, 0.2, 0.2);
  assert.ok(Math.abs(both.deltaPlus - 0.3) < 1e-12);
  assert.equal(both.bindAsk, 2);
});

test('every strategy applies the bounds (fixed, as, glft, cj)', () => {
  const min = { ticks: 50 };
  const cfgs: Record<string, Record<string, unknown>> = {
    fixed: { halfSpreadTicks: 1 },
    as: { k: 10, sigma: 0.3 },
    glft: { A: 1, kappa: 10, sigma: 0.3 },
    cj: {
      calibrate: false,
      priors: {
        lambdaPlus: 1,
        lambdaMinus: 1,
        kappaPlus: 10,
        kappaMinus: 10,
        epsilonPlus: 0,
        epsilonMinus: 0,
      },
    },
  };
  for (const [name, cfg] of Object.entries(cfgs)) {
    const ctx = makeCtx();
    const s = createStrategy(name as 'fixed', { ...cfg, minHalfSpread: min }, ETH);
    const ev = ctx.setBbo(3000.0, 3000.1);
    const q = s.onBbo?.(ev, ctx);
    assert.ok(q?.bid && q.ask, name);
    assert.ok(q.bid.px <= 3000.05 - 5 + 1e-9, `${name} bid ${q.bid.px}`);
    assert.ok(q.ask.px >= 3000.05 + 5 - 1e-9, `${name} ask ${q.ask.px}`);
    ctx.now += 1000;
    const b = s.spreadBoundBinding?.(ctx.now);
    assert.deepEqual(b, { min: { bid: 1, ask: 1 }, max: { bid: 0, ask: 0 } }, name);
    // Without bounds: no binding report.
    const plain = createStrategy(name as 'fixed', cfg, ETH);
    assert.equal(plain.spreadBoundBinding?.(ctx.now) ?? null, null);
  }
});

test('backtest: metrics.spreadBoundBinding is the share of quoted time each bound binds', () => {
  // fixed at 3 ticks (0.3) with maxHalfSpread 29.9 bps: binding at mid 100.0 (0.299 < 0.3), not at 100.4
  // (0.30020 > 0.3). Mid 100.0 for 1 s of the strategy's clock, then 100.4 for 3 s.
  const inst: InstrumentSpec = {
    coin: 'TST',
    tick: 0.1,
    szDecimals: 2,
    lotSize: 1,
    minNotional: 10,
    makerFee: 0.00015,
    takerFee: 0.00045,
  };
  const T0 = 1_700_000_000_000;
  const book = (t: number, bid: number, ask: number): MarketEvent => ({
    kind: 'book',
    coin: 'TST',
    exTime: T0 + t,
    rxTime: T0 + t + 5,
    bids: [{ px: bid, sz: 5, n: 1 }],
    asks: [{ px: ask, sz: 5, n: 1 }],
  });
  const events = [
    book(0, 99.9, 100.1),
    book(1000, 100.3, 100.5),
    book(2500, 100.3, 100.5),
    book(4000, 100.3, 100.5),
  ];
  const r = runBacktest({
    events,
    instrument: inst,
    strategy: { name: 'fixed', config: { halfSpreadTicks: 3, maxHalfSpread: { bps: 29.9 } } },
    latency: 10,
  });
  const b = r.metrics.spreadBoundBinding;
  assert.ok(b);
  // Quoted from the first book (local 5) to the end (local 4005): the max binds for the first 1000 ms.
  assert.equal(r.metrics.durationSec, 4);
  assert.ok(Math.abs(b.max.bid - 0.25) < 1e-12, String(b.max.bid));
  assert.ok(Math.abs(b.max.ask - 0.25) < 1e-12, String(b.max.ask));
  assert.deepEqual(b.min, { bid: 0, ask: 0 });
});
