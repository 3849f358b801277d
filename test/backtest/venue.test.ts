import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { buildTape } from '../../src/backtest/tape.ts';
import type { VenueReport } from '../../src/engine/types.ts';
import { MatchingEngine } from '../../src/exchange/matching.ts';
import type { BookEvent, MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { ConstantLatency, ProfileLatency, parseDurationMs } from '../../src/sim/latency.ts';
import { EventQueue } from '../../src/sim/scheduler.ts';
import { SimulatedVenue } from '../../src/sim/simulated-venue.ts';
import { Rng } from '../../src/util/rng.ts';

const COIN = 'TST';
const book = (t: number, bid: number, bidSz: number, ask: number, askSz: number): BookEvent => ({
  kind: 'book',
  coin: COIN,
  exTime: t,
  rxTime: t,
  bids: [{ px: bid, sz: bidSz, n: 1 }],
  asks: [{ px: ask, sz: askSz, n: 1 }],
});
const trade = (t: number, side: 'buy' | 'sell', px: number, sz: number): TradeEvent => ({
  kind: 'trade',
  coin: COIN,
  exTime: t,
  rxTime: t,
  px,
  sz,
  side,
  tid: t,
});

function setup(latencyMs: number) {
  const q = new EventQueue();
  q.current = 0;
  const matching = new MatchingEngine({ coin: COIN, asset: 0, szDecimals: 2, tick: 0.1 });
  const venue = new SimulatedVenue({ scheduler: q, matching, latency: new ConstantLatency(latencyMs) });
  const reports: VenueReport[] = [];
  venue.setReportListener((r) => reports.push(r));
  /** Run market events (exchange time = local time here) and scheduled work in time order. */
  const play = (events: MarketEvent[], until: number) => {
    let i = 0;
    for (;;) {
      const te = i < events.length ? events[i].exTime : Number.POSITIVE_INFINITY;
      const tq = q.peekTime();
      const t = Math.min(te, tq);
      if (t > until || t === Number.POSITIVE_INFINITY) break;
      if (te <= tq) {
        q.current = te;
        venue.onMarket(events[i++]);
      } else q.runNext();
    }
    q.current = until;
  };
  return { q, matching, venue, reports, play };
}

describe('SimulatedVenue', () => {
  test('latency decides whether a trade finds our order on the book', () => {
    const tape = [book(0, 100.0, 2, 100.1, 2), trade(30, 'sell', 100.0, 5)];
    for (const [lat, filled] of [
      [10, true],
      [40, false],
    ] as const) {
      const { venue, reports, play } = setup(lat);
      play(tape.slice(0, 1), 0);
      venue.place([{ cloid: 'c1', coin: COIN, side: 'bid', px: 100.0, sz: 1, tif: 'Alo' }]);
      play(tape.slice(1), 200);
      const fills = reports.filter((r) => r.kind === 'fill');
      assert.equal(fills.length, filled ? 1 : 0, `latency ${lat}`);
      if (filled) {
        // Filled at exchange time 30, reported one response latency later.
        assert.equal(fills[0].exTime, 30);
        assert.equal(fills[0].rxTime, 30 + lat);
      }
      const open = reports.find((r) => r.kind === 'order' && r.state === 'open');
      assert.ok(open, 'ack');
      assert.equal(open.exTime, lat);
      assert.equal(open.rxTime, 2 * lat);
    }
  });

  test('post-only crossing at arrival comes back rejected with the exchange text', () => {
    const { venue, reports, play } = setup(5);
    play([book(0, 100.0, 2, 100.1, 2)], 0);
    venue.place([{ cloid: 'c1', coin: COIN, side: 'bid', px: 100.1, sz: 1, tif: 'Alo' }]);
    play([], 100);
    assert.equal(reports.length, 1);
    const r = reports[0];
    assert.equal(r.kind, 'order');
    if (r.kind === 'order') {
      assert.equal(r.state, 'rejected');
      assert.equal(r.reason, 'Post only order would have immediately matched, bbo was 100@100.1. asset=0');
      assert.equal(r.rxTime, 10);
    }
    assert.equal(venue.stats.rejects, 1);
  });

  test('an Ioc fills what the book shows and the rest is reported cancelled', () => {
    const { venue, reports, play } = setup(5);
    play([book(0, 100.0, 2, 100.1, 0.5)], 0);
    venue.place([{ cloid: 'i', coin: COIN, side: 'bid', px: 100.1, sz: 1, tif: 'Ioc' }]);
    play([], 50);
    assert.deepEqual(
      reports.map((r) => (r.kind === 'fill' ? `fill ${r.sz}@${r.px} ${r.liquidity}` : `${r.state}`)),
      ['fill 0.5@100.1 taker', 'canceled'],
    );
  });

  test('requests keep their send order even when sampled latencies would swap them', () => {
    const q = new EventQueue();
    q.current = 0;
    const matching = new MatchingEngine({ coin: COIN, asset: 0, szDecimals: 2, tick: 0.1 });
    matching.onBook(book(0, 100.0, 2, 100.1, 2));
    // Entry latency 50 ms, cancel latency 1 ms: the cancel must still find the order placed before it.
    const venue = new SimulatedVenue({
      scheduler: q,
      matching,
      latency: new ProfileLatency({ entry: [50], cancel: [1], response: [1] }),
    });
    const reports: VenueReport[] = [];
    venue.setReportListener((r) => reports.push(r));
    venue.place([{ cloid: 'c1', coin: COIN, side: 'bid', px: 99.9, sz: 1, tif: 'Alo' }]);
    venue.cancel([{ coin: COIN, cloid: 'c1' }]);
    while (q.size > 0) q.runNext();
    assert.deepEqual(
      reports.map((r) => (r.kind === 'order' ? r.state : r.kind)),
      ['open', 'canceled'],
    );
  });

  test('a cancel that arrives after the fill is answered with the final state', () => {
    const { venue, reports, play } = setup(10);
    play([book(0, 100.0, 0.5, 100.1, 2)], 0);
    venue.place([{ cloid: 'c1', coin: COIN, side: 'bid', px: 100.0, sz: 1, tif: 'Alo' }]);
    play([trade(20, 'sell', 100.0, 3)], 20);
    venue.cancel([{ coin: COIN, cloid: 'c1' }]);
    play([], 100);
    const last = reports[reports.length - 1];
    assert.equal(last.kind, 'order');
    if (last.kind === 'order') {
      assert.equal(last.state, 'filled');
      assert.equal(last.reason, 'Order was never placed, already canceled, or filled.');
    }
  });

  test('halt (data gap) pulls resting orders and refuses new ones until resumed', () => {
    const { venue, matching, reports, play } = setup(5);
    play([book(0, 100.0, 2, 100.1, 2)], 0);
    venue.place([{ cloid: 'c1', coin: COIN, side: 'bid', px: 99.9, sz: 1, tif: 'Alo' }]);
    play([], 20);
    assert.equal(matching.openCount, 1);
    venue.halt('data gap: test', 20);
    assert.equal(matching.openCount, 0);
    venue.place([{ cloid: 'c2', coin: COIN, side: 'bid', px: 99.9, sz: 1, tif: 'Alo' }]);
    play([], 40);
    const rej = reports.find((r) => r.kind === 'order' && r.cloid === 'c2');
    assert.equal(rej?.kind === 'order' ? rej.state : undefined, 'rejected');
    venue.resume();
    venue.place([{ cloid: 'c3', coin: COIN, side: 'bid', px: 99.9, sz: 1, tif: 'Alo' }]);
    play([], 60);
    assert.equal(matching.openCount, 1);
  });

  test('modify: the old cloid is cancelled and the new one rests at the new price', () => {
    const { venue, matching, reports, play } = setup(5);
    play([book(0, 100.0, 2, 100.1, 2)], 0);
    venue.place([{ cloid: 'a', coin: COIN, side: 'ask', px: 100.2, sz: 1, tif: 'Alo' }]);
    play([], 20);
    venue.modify([{ coin: COIN, cloid: 'a', newCloid: 'b', px: 100.3, sz: 1 }]);
    play([], 40);
    const states = reports
      .filter((r) => r.kind === 'order')
      .map((r) => `${r.cloid}:${r.kind === 'order' ? r.state : ''}`);
    assert.deepEqual(states, ['a:open', 'a:canceled', 'b:open']);
    assert.equal(matching.openOrders()[0].px, 100.3);
  });

  test('modify refused by an order rule: only the refusal comes back, the original rests as the report says', () => {
    const { venue, matching, reports, play } = setup(5);
    play([book(0, 100.0, 2, 100.1, 2)], 0);
    venue.place([{ cloid: 'a', coin: COIN, side: 'ask', px: 100.2, sz: 1, tif: 'Alo' }]);
    play([], 20);
    // Off the tick, then an invalid size: the exchange checks the change before it cancels anything.
    venue.modify([{ coin: COIN, cloid: 'a', newCloid: 'b', px: 100.25, sz: 1 }]);
    venue.modify([{ coin: COIN, cloid: 'a', newCloid: 'c', px: 100.3, sz: 0.125 }]);
    play([], 40);
    // A post-only replacement that would cross is refused after the cancel: then the original is gone.
    venue.modify([{ coin: COIN, cloid: 'a', newCloid: 'd', px: 100.0, sz: 1 }]);
    play([], 60);
    const states = reports
      .filter((r) => r.kind === 'order')
      .map((r) => `${r.cloid}:${r.kind === 'order' ? `${r.state} ${r.reason ?? ''}`.trim() : ''}`);
    assert.deepEqual(states, [
      'a:open',
      'b:rejected Price must be divisible by tick size. asset=0',
      'c:rejected Order has invalid size.',
      'a:canceled modified',
      'd:rejected Post only order would have immediately matched, bbo was 100@100.1. asset=0',
    ]);
    assert.equal(matching.openCount, 0);
  });
});

describe('latency and tape', () => {
  test('durations parse with units', () => {
    assert.equal(parseDurationMs('50ms'), 50);
    assert.equal(parseDurationMs('0.05s'), 50);
    assert.equal(parseDurationMs('500us'), 0.5);
    assert.equal(parseDurationMs('12'), 12);
    assert.equal(parseDurationMs('fast'), undefined);
    assert.equal(parseDurationMs('-5ms'), undefined);
  });

  test('profile latencies are reproducible for a seed and drawn from the profile', () => {
    const a = new ProfileLatency({ entry: [10, 20, 30] }, 7);
    const b = new ProfileLatency({ entry: [10, 20, 30] }, 7);
    const xs = Array.from({ length: 200 }, () => a.entry());
    assert.deepEqual(
      xs,
      Array.from({ length: 200 }, () => b.entry()),
    );
    assert.deepEqual([...new Set(xs)].sort(), [10, 20, 30]);
    assert.throws(() => new ProfileLatency({ entry: [] }), /entry/);
  });

  test('tape: clock offset is the smallest rx − ex; malformed events are counted and skipped', () => {
    const ev = (t: number, d: number): MarketEvent => ({ ...book(t, 100, 1, 100.1, 1), rxTime: t + d });
    const bad: MarketEvent = { ...trade(5, 'buy', Number.NaN, 1) };
    const crossedLevels: MarketEvent = {
      ...book(6, 100, 1, 100.1, 1),
      bids: [
        { px: 99.9, sz: 1, n: 1 },
        { px: 100, sz: 1, n: 1 },
      ],
    };
    const nanSize: MarketEvent = { ...book(7, 100, Number.NaN, 100.1, 1) };
    const tape = buildTape([ev(0, 700), ev(10, 650), ev(20, 900), bad, crossedLevels, nanSize], [], {
      coin: COIN,
    });
    assert.equal(tape.clockOffsetMs, 650);
    assert.equal(tape.counts.skipped, 3);
    assert.equal(tape.length, 3);
    // The strategy stream follows receive time; the exchange stream follows exchange time.
    const s = tape.streams();
    assert.deepEqual(Array.from(s.exAt), [650, 660, 670]);
    assert.deepEqual(Array.from(s.rxAt), [660, 700, 920]);
    assert.deepEqual(Array.from(s.rxSeq), [1, 0, 2]);
    assert.deepEqual(s.rxEvents[0], tape.event(1));
  });

  test('tape: both streams are sorted (stably) for nearly sorted and for shuffled input', () => {
    const rng = new Rng(3);
    for (const shuffle of [false, true]) {
      const events: MarketEvent[] = [];
      for (let i = 0; i < 3000; i++) {
        const ex = shuffle ? rng.int(1000) : i * 10;
        events.push({ ...book(ex, 100, 1, 100.1, 1), rxTime: ex + 500 + rng.int(40) * 10 });
      }
      const tape = buildTape(events, [], { coin: COIN });
      const s = tape.streams();
      for (let k = 1; k < events.length; k++) {
        assert.ok(s.exAt[k] >= s.exAt[k - 1]);
        assert.ok(s.rxAt[k] >= s.rxAt[k - 1]);
        if (s.exAt[k] === s.exAt[k - 1]) assert.ok(s.exSeq[k] > s.exSeq[k - 1], 'stable');
        if (s.rxAt[k] === s.rxAt[k - 1]) assert.ok(s.rxSeq[k] > s.rxSeq[k - 1], 'stable');
      }
      assert.equal(new Set(s.rxSeq).size, events.length);
      assert.equal(new Set(s.exSeq).size, events.length);
    }
  });

  test('tape: crossed, locked, unordered or NaN books are skipped; a one-sided bbo is kept', () => {
    const crossedTop: MarketEvent = { ...book(8, 100.2, 1, 100.1, 1) };
    const lockedBbo: MarketEvent = {
      kind: 'bbo',
      coin: COIN,
      exTime: 9,
      rxTime: 9,
      bidPx: 100,
      bidSz: 1,
      askPx: 100,
      askSz: 1,
    };
    const oneSidedBbo: MarketEvent = { ...lockedBbo, askPx: Number.NaN };
    const unordered: MarketEvent = {
      ...book(6, 100, 1, 100.1, 1),
      bids: [
        { px: 99.9, sz: 1, n: 1 },
        { px: 100, sz: 1, n: 1 },
      ],
    };
    const nanSize: MarketEvent = { ...book(7, 100, Number.NaN, 100.1, 1) };
    const all = [book(0, 100, 1, 100.1, 1), crossedTop, lockedBbo, oneSidedBbo, unordered, nanSize];
    const tape = buildTape(all, [], { coin: COIN });
    assert.equal(tape.counts.skipped, 4);
    assert.equal(tape.counts.book, 1);
    assert.equal(tape.counts.bbo, 1);
  });

  test("tape: clock offset 'max' delivers every event exactly offset after its exchange time", () => {
    const ev = (t: number, d: number): MarketEvent => ({ ...book(t, 100, 1, 100.1, 1), rxTime: t + d });
    const events = [ev(0, 700), ev(10, 650), ev(20, 900)];
    const tape = buildTape(events, [], { coin: COIN, clockOffsetMs: 'max' });
    assert.equal(tape.clockOffsetMs, 900);
    const s = tape.streams();
    assert.deepEqual(Array.from(s.rxAt), [900, 910, 920]);
    assert.deepEqual(
      s.rxEvents.map((e) => e.rxTime),
      [900, 910, 920],
    );
    // The recorded events are not modified; the one already delivered on time keeps its recorded rxTime.
    assert.equal(events[0].rxTime, 700);
    assert.deepEqual(s.rxEvents[2], events[2]);
  });
});
