/** Engine.quotingState: what the status line says when no quote rests (warming-up, stale, bound, paused, halted). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.ts';
import { bbo, ETH, MockVenue, ScriptedStrategy, TestClock } from './mock-venue.ts';

function setup(maxPositionLots = 2) {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const engine = new Engine({
    clock,
    venue,
    strategy,
    instrument: ETH,
    risk: { staleMs: 5000, maxPositionLots, maxDrawdownFrac: 0.5 },
  });
  engine.start();
  return { clock, venue, strategy, engine };
}

test('warming-up until the strategy wants a quote; paused while it awaits the exchange; quoting once acked', () => {
  const { clock, venue, strategy, engine } = setup();
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(engine.quotingState(), 'warming-up');
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: { px: 3000.3, sz: 0.01 } };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const sent = venue.take();
  assert.equal(sent.length, 2);
  assert.equal(engine.quotingState(), 'paused', 'orders sent, not yet on the book');
  venue.ack(sent[0].cloid);
  assert.equal(engine.quotingState(), 'quoting');
});

test('stale when the book is older than staleMs (and after a gap until data resumes)', () => {
  const { clock, venue, strategy, engine } = setup();
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  for (const a of venue.take()) venue.ack(a.cloid);
  clock.t += 6000;
  engine.onTimer(clock.t);
  for (const a of venue.take()) venue.canceled(a.cloid);
  assert.equal(engine.quotingState(), 'stale');
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  for (const a of venue.take()) venue.ack(a.cloid);
  assert.equal(engine.quotingState(), 'quoting');
  engine.onGap({ coin: 'ETH', kind: 'all', start: clock.t, end: clock.t + 60_000, reason: 'disconnect' });
  for (const a of venue.take()) venue.canceled(a.cloid);
  assert.equal(engine.quotingState(), 'stale', 'waiting for data after the gap');
});

test('bound when the strategy declines both sides after quoting, or the limits refuse the only side wanted', () => {
  const { clock, venue, strategy, engine } = setup(1);
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [b] = venue.take();
  venue.ack(b.cloid);
  venue.fill(b.cloid, 'bid', 3000.0, 0.01);
  // Long 1 lot = the limit: a further bid is refused, and only the bid is wanted.
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  venue.take();
  assert.equal(engine.quotingState(), 'bound');
  strategy.want = { bid: null, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(engine.quotingState(), 'bound');
});

test('halted after the kill switch', () => {
  const { clock, venue, strategy, engine } = setup();
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  for (const a of venue.take()) venue.ack(a.cloid);
  engine.risk.halt(clock.t, 'operator');
  assert.equal(engine.quotingState(), 'halted');
});
