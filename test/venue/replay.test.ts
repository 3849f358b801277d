/** The loopback server's replay clock: ordering, deterministic stepping, looping without repeated trade keys. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { ReplayClock } from '../../src/venue/loopback/replay.ts';
import { bbo, book, T0, trade } from './fixtures.ts';

test('advanceTo delivers events up to a time in exchange-time order, ties in recording order', () => {
  const evs: MarketEvent[] = [
    trade(T0 + 20, 2, 1, 1, 'buy'),
    book(T0 + 10),
    bbo(T0 + 10),
    trade(T0 + 30, 3, 1, 1, 'sell'),
  ];
  const got: MarketEvent[] = [];
  const r = new ReplayClock({ events: evs, speed: 1, onEvents: (b) => got.push(...b) });
  assert.equal(r.now(), T0 + 10);
  r.advanceTo(T0 + 20);
  assert.deepEqual(
    got.map((e) => [e.kind, e.exTime - T0]),
    [
      ['book', 10],
      ['bbo', 10],
      ['trade', 20],
    ],
  );
  assert.equal(r.now(), T0 + 20);
  r.advanceTo(T0 + 100);
  assert.equal(got.length, 4);
  assert.throws(
    () => new ReplayClock({ events: evs, speed: 0, onEvents: () => {} }),
    /speed must be a positive/,
  );
});

test('loop: the data set restarts with times and trade ids shifted, never repeating (tid, exTime)', async () => {
  const evs: MarketEvent[] = [book(T0), trade(T0 + 5, 100, 1, 1, 'buy'), trade(T0 + 9, 101, 1, 1, 'sell')];
  const got: MarketEvent[] = [];
  const r = new ReplayClock({ events: evs, speed: 1000, loop: true, onEvents: (b) => got.push(...b) });
  r.start();
  await new Promise<void>((resolve) => {
    const tick = () => (got.length >= 9 ? resolve() : setTimeout(tick, 5));
    tick();
  });
  r.stop();
  const trades = got.filter((e): e is TradeEvent => e.kind === 'trade');
  const span = 9 + 1000; // last − first + 1 s
  assert.deepEqual(
    trades.slice(0, 6).map((t) => [t.tid, t.exTime - T0]),
    [
      [100, 5],
      [101, 9],
      [102, 5 + span],
      [103, 9 + span],
      [104, 5 + 2 * span],
      [105, 9 + 2 * span],
    ],
  );
  for (let i = 1; i < got.length; i++) assert.ok(got[i].exTime >= got[i - 1].exTime);
});
