import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloidGenerator, isCloid } from '../../src/engine/cloid.ts';
import { Engine } from '../../src/engine/engine.ts';
import { MemoryJournal } from '../../src/engine/journal.ts';
import type { Strategy, StrategyContext } from '../../src/engine/types.ts';
import { bbo, ETH, MockVenue, ScriptedStrategy, TestClock } from './mock-venue.ts';

test('timer ticks on multiples of the interval; the strategy sees them', () => {
  const clock = new TestClock(1_700_000_000_250);
  const venue = new MockVenue(clock);
  const ticks: number[] = [];
  const strategy: Strategy = { name: 't', onTimer: (now) => void ticks.push(now) };
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, timerIntervalMs: 500 });
  assert.equal(engine.nextTimerAt(), Number.POSITIVE_INFINITY, 'not armed before start');
  engine.start();
  assert.equal(engine.nextTimerAt(), 1_700_000_000_500);
  for (let k = 0; k < 3; k++) {
    clock.t = engine.nextTimerAt();
    engine.onTimer(clock.t);
  }
  assert.deepEqual(ticks, [1_700_000_000_500, 1_700_000_001_000, 1_700_000_001_500]);
  assert.throws(
    () => new Engine({ clock, venue, strategy, instrument: ETH, timerIntervalMs: 0 }),
    /timerIntervalMs/,
  );
});

test('a data gap pulls quotes until data newer than its end arrives', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const journal = new MemoryJournal();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, journal });
  engine.start();
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: { px: 3000.3, sz: 0.01 } };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  for (const a of venue.take()) venue.ack(a.cloid);
  engine.onGap({ coin: 'ETH', kind: 'all', start: clock.t, end: clock.t + 60_000, reason: 'disconnect' });
  const pulled = venue.take();
  assert.deepEqual(
    pulled.map((a) => a.kind),
    ['cancel', 'cancel'],
  );
  for (const a of pulled) venue.canceled(a.cloid);
  clock.t += 30_000;
  const inside = bbo(clock, 3000.1, 3000.2);
  engine.onMarket(inside); // exchange time still inside the gap
  assert.equal(venue.take().length, 0);
  clock.t += 31_000;
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.deepEqual(
    venue.take().map((a) => a.kind),
    ['place', 'place'],
  );
  assert.equal(journal.ofType('risk')[0]?.data.event, 'gap');
});

test('journal records every order, ack, modify, cancel, fill and parameter change', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const journal = new MemoryJournal();
  let want = { bid: { px: 3000.0, sz: 0.01 }, ask: null } as ReturnType<NonNullable<Strategy['onBbo']>>;
  const strategy: Strategy = {
    name: 's',
    onBbo: (_ev, ctx: StrategyContext) => {
      ctx.record?.('params', { x: 1 });
      return want;
    },
  };
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, journal });
  engine.start();
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  want = { bid: { px: 2999.9, sz: 0.01 }, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [m] = venue.take();
  if (m.kind !== 'modify') throw new Error('expected a modify');
  venue.canceled(m.cloid, 'modified');
  venue.ack(m.newCloid);
  venue.fill(m.newCloid, 'bid', 2999.9, 0.01, { fee: 0.0045 });
  // The filled bid is re-placed at once (the wish still has a bid): a second 'order'.
  want = { bid: null, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.deepEqual(
    { ...journal.counts },
    { order: 2, ack: 2, reject: 0, fill: 1, cancel: 0, modify: 1, params: 3, risk: 0, state: 0 },
  );
  const f = journal.ofType('fill')[0].data;
  assert.equal(f.px, 2999.9);
  assert.equal(f.position, 0.01);
});

test('other coins and malformed events are ignored and counted, never crash', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const engine = new Engine({ clock, venue, strategy: new ScriptedStrategy(), instrument: ETH });
  engine.start();
  engine.onMarket({ ...bbo(clock, 1, 2), coin: 'BTC' });
  engine.onMarket({ ...bbo(clock, Number.NaN, Number.NaN) });
  engine.onMarket({
    kind: 'trade',
    coin: 'ETH',
    exTime: clock.t,
    rxTime: clock.t,
    px: -1,
    sz: 1,
    side: 'buy',
    tid: 1,
  });
  engine.onMarket({ kind: 'book', coin: 'ETH', exTime: clock.t, rxTime: clock.t, bids: [], asks: [] });
  engine.onMarket(bbo(clock, 3000.2, 3000.1)); // crossed
  engine.onMarket({ kind: 'book', coin: 'ETH', exTime: clock.t, rxTime: clock.t } as never); // no levels at all
  assert.equal(engine.ignoredEvents, 6);
  assert.ok(Number.isNaN(engine.lastMid), 'no mid from malformed data');
});

test('stop() pulls every quote', async () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH });
  engine.start();
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: { px: 3000.3, sz: 0.01 } };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  for (const a of venue.take()) venue.ack(a.cloid);
  await engine.stop();
  assert.deepEqual(
    venue.take().map((a) => a.kind),
    ['cancel', 'cancel'],
  );
  assert.equal(engine.isRunning, false);
});

test('cloids: Hyperliquid format, deterministic per seed, distinct across seeds', () => {
  const a = new CloidGenerator(7);
  const b = new CloidGenerator(7);
  const c = new CloidGenerator(8);
  const ids = Array.from({ length: 5 }, () => a.next());
  assert.ok(ids.every(isCloid));
  assert.deepEqual(
    ids,
    Array.from({ length: 5 }, () => b.next()),
  );
  assert.notEqual(ids[0], c.next());
  assert.equal(new Set(ids).size, 5);
  assert.throws(() => new CloidGenerator(-1), /cloid seed/);
});
