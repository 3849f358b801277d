import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isCloid } from '../../src/engine/cloid.ts';
import { Engine, type EngineOptions } from '../../src/engine/engine.ts';
import { MemoryJournal } from '../../src/engine/journal.ts';
import type { DesiredQuotes } from '../../src/engine/types.ts';
import { bbo, ETH, MockVenue, ScriptedStrategy, TestClock } from './mock-venue.ts';

function setup(opts: Partial<EngineOptions> = {}) {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const journal = new MemoryJournal();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, journal, ...opts });
  engine.start();
  return { clock, venue, strategy, engine, journal };
}

const q = (px: number, sz = 0.01) => ({ px, sz });

test('places once, keeps orders within tolerance, re-prices by one modify per side', () => {
  const { clock, venue, strategy, engine } = setup({ orderManager: { priceToleranceTicks: 3 } });
  strategy.want = { bid: q(3000.0), ask: q(3000.5) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const placed = venue.take();
  assert.deepEqual(
    placed.map((a) => [a.kind, 'side' in a ? a.side : '', 'px' in a ? a.px : 0]),
    [
      ['place', 'bid', 3000.0],
      ['place', 'ask', 3000.5],
    ],
  );
  assert.ok(placed.every((a) => isCloid(a.cloid)));
  for (const a of placed) venue.ack(a.cloid);
  // Same wish again: nothing to do.
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  // 2 ticks away on the bid: inside a tolerance of 3 ticks → keep.
  strategy.want = { bid: q(2999.8), ask: q(3000.5) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  // 3 ticks away: one modify, the ask untouched.
  strategy.want = { bid: q(2999.7), ask: q(3000.5) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const acts = venue.take();
  assert.equal(acts.length, 1);
  assert.equal(acts[0].kind, 'modify');
  assert.equal(acts[0].cloid, placed[0].cloid);
  if (acts[0].kind !== 'modify') throw new Error('unreachable');
  assert.equal(acts[0].px, 2999.7);
  assert.notEqual(acts[0].newCloid, acts[0].cloid);
  // While the modify is in flight, nothing more is sent on that side.
  strategy.want = { bid: q(2999.0), ask: q(3000.5) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  // Venue (as the simulated one does): old cancelled as modified, new open. Then the pending wish goes out.
  venue.canceled(acts[0].cloid, 'modified');
  venue.ack(acts[0].newCloid);
  const next = venue.take();
  assert.equal(next.length, 1);
  assert.equal(next[0].kind, 'modify');
  assert.equal(next[0].cloid, acts[0].newCloid);
  assert.equal(engine.orders.stats.placed, 2);
  assert.equal(engine.orders.stats.modified, 2);
});

test('a price change smaller than the tolerance still moves an order that now crosses the touch', () => {
  const { clock, venue, strategy, engine } = setup({
    orderManager: { priceToleranceTicks: 5, minQuoteLifeMs: 10_000 },
  });
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  clock.t += 10;
  // The market drops through our bid: best ask 3000.0 ≤ our bid. The wish moves 1 tick (within tolerance,
  // within min life) but the resting order crosses, so it must go.
  strategy.want = { bid: q(2999.9), ask: null };
  engine.onMarket(bbo(clock, 2999.9, 3000.0));
  const acts = venue.take();
  assert.equal(acts.length, 1);
  assert.equal(acts[0].kind, 'modify');
});

test('requote tolerance: the side that reduces inventory follows every tick, the adding side keeps its order', () => {
  const { clock, venue, strategy, engine } = setup({ orderManager: { priceToleranceTicks: 4 } });
  strategy.want = { bid: q(3000.0), ask: q(3000.5) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [b, a] = venue.take();
  for (const x of [b, a]) venue.ack(x.cloid);
  // Flat: a 2-tick move on either side is inside the tolerance.
  strategy.want = { bid: q(2999.8), ask: q(3000.7) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0, 'flat: both sides keep their orders');
  // Our bid fills: long 1 lot. The ask now reduces inventory: it moves to its wish at once (2 ticks, inside
  // the tolerance); the bid is replaced (its order filled) at the wish.
  venue.fill(b.cloid, 'bid', 3000.0, 0.01);
  venue.filled(b.cloid);
  const after = venue.take();
  assert.deepEqual(
    after.map((x) => [
      x.kind,
      'side' in x ? x.side : x.cloid === a.cloid ? 'ask' : '?',
      'px' in x ? x.px : 0,
    ]),
    [
      ['place', 'bid', 2999.8],
      ['modify', 'ask', 3000.7],
    ],
  );
  venue.ack(after[0].cloid);
  if (after[1].kind !== 'modify') throw new Error('expected a modify');
  venue.canceled(after[1].cloid, 'modified');
  venue.ack(after[1].newCloid);
  // Then a 1-tick move of the reducing ask is sent; a 2-tick move of the adding bid is not.
  strategy.want = { bid: q(2999.6), ask: q(3000.6) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const acts = venue.take();
  assert.deepEqual(
    acts.map((x) => [x.kind, x.cloid, 'px' in x ? x.px : 0]),
    [['modify', after[1].newCloid, 3000.6]],
    'only the reducing ask moves (1 tick); the adding bid stays (2 ticks < 4)',
  );
});

test('minimum quote life defers re-pricing until the order is old enough', () => {
  const { clock, venue, strategy, engine } = setup({ orderManager: { minQuoteLifeMs: 500 } });
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  clock.t += 100;
  strategy.want = { bid: q(2999.9), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0, 'too young to move');
  clock.t += 450;
  engine.onTimer(clock.t);
  const acts = venue.take();
  assert.equal(acts.length, 1);
  assert.equal(acts[0].kind, 'modify');
});

test('without modify, a re-price is one cancel plus one place', () => {
  const { clock, venue, strategy, engine } = setup({ orderManager: { useModify: false } });
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  strategy.want = { bid: q(2999.9), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const acts = venue.take();
  assert.deepEqual(
    acts.map((a) => a.kind),
    ['cancel', 'place'],
  );
  assert.equal(acts[0].cloid, p.cloid);
});

test('late fill after a cancel and a duplicate fill are both handled: counted once, never lost', () => {
  const { clock, venue, strategy, engine, journal } = setup();
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  strategy.want = { bid: null, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [c] = venue.take();
  assert.equal(c.kind, 'cancel');
  assert.equal(engine.orders.get(p.cloid)?.state, 'pending-cancel');
  // The order was hit before our cancel arrived.
  venue.fill(p.cloid, 'bid', 3000.0, 0.004, { tid: 11 });
  venue.fill(p.cloid, 'bid', 3000.0, 0.004, { tid: 11 }); // replayed duplicate
  venue.canceled(p.cloid);
  assert.equal(engine.orders.get(p.cloid)?.state, 'canceled');
  venue.fill(p.cloid, 'bid', 3000.0, 0.002, { tid: 12 }); // late fill after the cancel confirmation
  assert.ok(Math.abs(engine.portfolio.position - 0.006) < 1e-12);
  assert.equal(engine.portfolio.fills.length, 2);
  assert.equal(engine.portfolio.duplicateFills, 1);
  assert.equal(engine.orders.stats.lateFills, 1);
  assert.equal(journal.counts.fill, 2);
});

test('a fully filled order finishes; an unknown open order is cancelled', () => {
  const { clock, venue, strategy, engine } = setup();
  strategy.want = { bid: null, ask: q(3000.3) };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  venue.fill(p.cloid, 'ask', 3000.3, 0.01);
  assert.equal(engine.orders.get(p.cloid)?.state, 'filled');
  assert.ok(Math.abs(engine.portfolio.position + 0.01) < 1e-12);
  venue.take(); // the strategy's ask is re-placed after the fill
  venue.ack('0x' + 'f'.repeat(32));
  const acts = venue.take();
  assert.deepEqual(acts, [{ kind: 'cancel', coin: 'ETH', cloid: '0x' + 'f'.repeat(32) }]);
  assert.equal(engine.orders.stats.unknownReports, 1);
});

test('rejects back off per side, doubling, instead of retrying on every event', () => {
  const { clock, venue, strategy, engine } = setup({
    orderManager: { rejectBackoffMs: 100, maxRejectBackoffMs: 1000 },
  });
  strategy.want = { bid: q(3000.1), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  let [p] = venue.take();
  venue.reject(p.cloid);
  assert.equal(engine.orders.get(p.cloid)?.state, 'rejected');
  for (let i = 0; i < 5; i++) {
    clock.t += 10;
    engine.onMarket(bbo(clock, 3000.1, 3000.2));
  }
  assert.equal(venue.take().length, 0, 'no retry inside the back-off');
  clock.t += 60; // 110 ms after the reject
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  [p] = venue.take();
  assert.equal(p.kind, 'place');
  venue.reject(p.cloid);
  clock.t += 150; // second back-off is 200 ms
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  clock.t += 60;
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  [p] = venue.take();
  assert.equal(p.kind, 'place');
  venue.ack(p.cloid); // success resets the back-off
  assert.equal(engine.orders.stats.rejected, 2);
});

test('a rejected modify cancels the original, and the side is re-quoted afterwards', () => {
  const { clock, venue, strategy, engine } = setup({ orderManager: { rejectBackoffMs: 50 } });
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  strategy.want = { bid: q(3000.1), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [m] = venue.take();
  assert.equal(m.kind, 'modify');
  if (m.kind !== 'modify') throw new Error('unreachable');
  // A venue that refuses the replacement without saying what happened to the original:
  venue.reject(m.newCloid);
  const [c] = venue.take();
  assert.deepEqual([c.kind, c.cloid], ['cancel', p.cloid]);
  venue.canceled(p.cloid);
  assert.equal(engine.orders.openOrders().length, 0);
  clock.t += 60;
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [again] = venue.take();
  assert.equal(again.kind, 'place');
});

test('an order not yet acknowledged is cancelled as soon as it is acknowledged', () => {
  const { clock, venue, strategy, engine } = setup();
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  strategy.want = { bid: null, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0, 'nothing to cancel yet');
  venue.ack(p.cloid);
  assert.deepEqual(
    venue.take().map((a) => [a.kind, a.cloid]),
    [['cancel', p.cloid]],
  );
});

/** Quotes `next` once when set, then says "no change" — as real strategies do on an unchanged book. */
class OneShotStrategy {
  readonly name = 'one-shot';
  next: DesiredQuotes | undefined;
  onBbo() {
    const n = this.next;
    this.next = undefined;
    return n;
  }
}

test('with an unchanged wish, a deferred re-price still happens on the next event once allowed', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new OneShotStrategy();
  const engine = new Engine({
    clock,
    venue,
    strategy,
    instrument: ETH,
    orderManager: { minQuoteLifeMs: 500 },
  });
  engine.start();
  strategy.next = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  clock.t += 100;
  strategy.next = { bid: q(2999.9), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  clock.t += 100;
  engine.onMarket(bbo(clock, 3000.1, 3000.2)); // no change from the strategy, still too young
  assert.equal(venue.take().length, 0);
  clock.t += 400;
  engine.onMarket(bbo(clock, 3000.1, 3000.2)); // no change from the strategy, now old enough
  assert.deepEqual(
    venue.take().map((a) => a.kind),
    ['modify'],
  );
});

test('a resting order the touch moved through is pulled even when the strategy says no change', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new OneShotStrategy();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH });
  engine.start();
  strategy.next = { bid: q(3000.1), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  venue.ack(p.cloid);
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0, 'nothing changed: nothing sent');
  engine.onMarket(bbo(clock, 2999.9, 3000.0)); // best ask 3000.0 < our bid 3000.1
  assert.deepEqual(
    venue.take().map((a) => [a.kind, a.cloid]),
    [['cancel', p.cloid]],
  );
});

test('a wish on the wrong side of the known touch is never sent; a resting order stays put', () => {
  const { clock, venue, strategy, engine } = setup({ orderManager: { priceToleranceTicks: 1 } });
  // No order yet, and the strategy (stale) wants a bid at the best ask: nothing is placed.
  strategy.want = { bid: q(3000.2), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  // A sane wish goes out.
  strategy.want = { bid: q(3000.0), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [p] = venue.take();
  assert.equal(p.kind, 'place');
  venue.ack(p.cloid);
  clock.t += 10;
  // The wish jumps through the touch again: the resting (non-crossing) bid is neither modified nor cancelled.
  strategy.want = { bid: q(3000.3), ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().length, 0);
  assert.equal(engine.orders.stats.placed, 1);
});
