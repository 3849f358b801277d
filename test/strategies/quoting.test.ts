import assert from 'node:assert/strict';
import { test } from 'node:test';
import { quotesFromDepths, roundAsk, roundBid, timeToHorizon } from '../../src/strategies/quoting.ts';
import { ETH } from './ctx.ts';

test('depths are rounded to the passive side of the tick', () => {
  const q = quotesFromDepths(
    { mid: 3000.15, deltaPlus: 0.22, deltaMinus: 0.22, bestBid: 3000.1, bestAsk: 3000.2, size: 0.01 },
    ETH,
  );
  assert.deepEqual(q, { bid: { px: 2999.9, sz: 0.01 }, ask: { px: 3000.4, sz: 0.01 } });
  // Already on the grid: unchanged (no float drift one tick away).
  assert.equal(roundBid(3350.1, ETH), 3350.1);
  assert.equal(roundAsk(3350.1, ETH), 3350.1);
  assert.equal(roundBid(3350.19999, ETH), 3350.1);
  assert.equal(roundAsk(3350.10001, ETH), 3350.2);
});

test('never crossing or touching through the opposite touch, even for negative depths', () => {
  // The model wants to buy 0.5 above mid (δ⁻ < 0): the bid stops one tick under the best ask.
  const q = quotesFromDepths(
    { mid: 3000.15, deltaPlus: 0.5, deltaMinus: -0.5, bestBid: 3000.1, bestAsk: 3000.2, size: 0.01 },
    ETH,
  );
  assert.equal(q.bid?.px, 3000.1);
  assert.equal(q.ask?.px, 3000.7);
  const q2 = quotesFromDepths(
    { mid: 3000.15, deltaPlus: -1, deltaMinus: 0.3, bestBid: 3000.1, bestAsk: 3000.2, size: 0.01 },
    ETH,
  );
  assert.equal(q2.ask?.px, 3000.2);
  assert.equal(q2.bid?.px, 2999.8);
  // Wide book, both depths negative: bid ≤ ask − tick, ask ≥ bid + tick, and bid < ask.
  const q3 = quotesFromDepths(
    { mid: 3000.5, deltaPlus: -0.4, deltaMinus: -0.4, bestBid: 3000.0, bestAsk: 3001.0, size: 0.01 },
    ETH,
  );
  assert.ok(q3.bid && q3.ask);
  assert.ok(
    q3.bid.px <= 3001.0 - 0.1 + 1e-9 && q3.ask.px >= 3000.0 + 0.1 - 1e-9 && q3.bid.px < q3.ask.px,
    JSON.stringify(q3),
  );
});

test('NaN depth = no quote; size rounded down; minimum notional enforced', () => {
  const q = quotesFromDepths(
    {
      mid: 3000.15,
      deltaPlus: Number.NaN,
      deltaMinus: 0.2,
      bestBid: 3000.1,
      bestAsk: 3000.2,
      size: 0.012345,
    },
    ETH,
  );
  assert.equal(q.ask, null);
  assert.deepEqual(q.bid, { px: 2999.9, sz: 0.0123 });
  const tiny = quotesFromDepths(
    { mid: 3000.15, deltaPlus: 0.2, deltaMinus: 0.2, bestBid: 3000.1, bestAsk: 3000.2, size: 0.003 },
    ETH,
  );
  assert.deepEqual(tiny, { bid: null, ask: null }, '0.003 × 3000 = $9 < $10');
});

test('finite horizon: sessions end at multiples of T (UTC); inf uses the receding window', () => {
  assert.equal(timeToHorizon(3600, Date.UTC(2025, 0, 1, 10, 15, 0)), 45 * 60);
  assert.equal(timeToHorizon(3600, Date.UTC(2025, 0, 1, 10, 0, 0)), 3600);
  assert.equal(timeToHorizon('inf', 123, 60), 60);
});

test('quotesFromDepths with the last quotes: the same object back when nothing changed, new quotes otherwise', () => {
  const at = (deltaPlus: number, deltaMinus: number) => ({
    mid: 3000,
    deltaPlus,
    deltaMinus,
    bestBid: 2999.9,
    bestAsk: 3000.1,
    size: 0.01,
  });
  const first = quotesFromDepths(at(0.5, 0.5), ETH);
  // Depths that round to the same prices: the previous object, unchanged.
  const same = quotesFromDepths(at(0.48, 0.49), ETH, undefined, 0, first);
  assert.equal(same, first);
  assert.deepEqual(first, quotesFromDepths(at(0.48, 0.49), ETH));
  // A side moves, or stops quoting: new quotes equal to those made without `prev`.
  for (const [dp, dm] of [
    [0.7, 0.5],
    [0.5, Number.NaN],
    [Number.NaN, Number.NaN],
  ]) {
    const next = quotesFromDepths(at(dp, dm), ETH, undefined, 0, first);
    assert.notEqual(next, first);
    assert.deepEqual(next, quotesFromDepths(at(dp, dm), ETH));
  }
  const none = quotesFromDepths(at(Number.NaN, Number.NaN), ETH);
  assert.equal(quotesFromDepths(at(Number.NaN, Number.NaN), ETH, undefined, 0, none), none);
});
