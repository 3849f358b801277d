import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { MatchingEngine, SYNTHETIC_TID_BASE } from '../../src/exchange/matching.ts';
import { PowerProbQueue } from '../../src/exchange/queue.ts';
import type { BboEvent, BookEvent, TradeEvent } from '../../src/marketdata/events.ts';

const COIN = 'TST';
let tid = 1;
const book = (t: number, bids: [number, number][], asks: [number, number][]): BookEvent => ({
  kind: 'book',
  coin: COIN,
  exTime: t,
  rxTime: t,
  bids: bids.map(([px, sz]) => ({ px, sz, n: 1 })),
  asks: asks.map(([px, sz]) => ({ px, sz, n: 1 })),
});
const trade = (t: number, side: 'buy' | 'sell', px: number, sz: number): TradeEvent => ({
  kind: 'trade',
  coin: COIN,
  exTime: t,
  rxTime: t,
  px,
  sz,
  side,
  tid: tid++,
});
const bbo = (t: number, bidPx: number, bidSz: number, askPx: number, askSz: number): BboEvent => ({
  kind: 'bbo',
  coin: COIN,
  exTime: t,
  rxTime: t,
  bidPx,
  bidSz,
  askPx,
  askSz,
});

function engine(queue: 'conservative' | 'prob' = 'conservative') {
  const m = new MatchingEngine({
    coin: COIN,
    asset: 1,
    szDecimals: 2,
    tick: 0.1,
    fees: { maker: 0.00015, taker: 0.00045 },
    queue,
  });
  m.onBook(
    book(
      0,
      [
        [100.0, 5],
        [99.9, 7],
      ],
      [
        [100.1, 3],
        [100.2, 2],
      ],
    ),
  );
  return m;
}

const close = (a: number, b: number, tol = 1e-9) => assert.ok(Math.abs(a - b) <= tol, `${a} ≠ ${b}`);

describe('matching: conservative queue', () => {
  test('joins behind the displayed size, fills partially once trades exhaust it, then through', () => {
    const m = engine();
    const r = m.place({ side: 'bid', px: 100.0, sz: 1, tif: 'Alo', cloid: 'a' }, 10);
    assert.equal(r.status, 'resting');
    assert.equal(m.openOrders()[0].queueAhead, 5);
    assert.deepEqual(m.onTrade(trade(20, 'sell', 100.0, 3)), []);
    assert.equal(m.openOrders()[0].queueAhead, 2);
    // A buy at our ask side does not touch a bid.
    assert.deepEqual(m.onTrade(trade(25, 'buy', 100.1, 10)), []);
    const f1 = [...m.onTrade(trade(30, 'sell', 100.0, 2.5))];
    assert.equal(f1.length, 1);
    close(f1[0].sz, 0.5);
    close(f1[0].remaining, 0.5);
    assert.equal(f1[0].liquidity, 'maker');
    close(f1[0].fee, 100.0 * 0.5 * 0.00015);
    assert.equal(f1[0].cause, 'trade');
    // A sell printing below our bid went through us: the rest fills at OUR price.
    const f2 = [...m.onTrade(trade(40, 'sell', 99.9, 0.1))];
    assert.equal(f2.length, 1);
    close(f2[0].sz, 0.5);
    assert.equal(f2[0].px, 100.0);
    assert.equal(f2[0].cause, 'trade-through');
    assert.equal(f2[0].remaining, 0);
    assert.equal(m.openCount, 0);
    close(m.position('default'), 1);
  });

  test('cancellations do not advance us, but the queue ahead never exceeds the displayed size', () => {
    const m = engine();
    m.place({ side: 'bid', px: 100.0, sz: 1, tif: 'Alo' }, 10);
    m.onBook(book(20, [[100.0, 9]], [[100.1, 3]]));
    assert.equal(m.openOrders()[0].queueAhead, 5);
    m.onBook(book(30, [[100.0, 7]], [[100.1, 3]]));
    assert.equal(m.openOrders()[0].queueAhead, 5);
    m.onBook(book(40, [[100.0, 2]], [[100.1, 3]]));
    assert.equal(m.openOrders()[0].queueAhead, 2);
  });

  test('the book moving through our price fills us completely at our price', () => {
    const m = engine();
    m.place({ side: 'ask', px: 100.2, sz: 0.5, tif: 'Alo', cloid: 'x' }, 10);
    assert.deepEqual(m.onBbo(bbo(20, 100.1, 1, 100.2, 1)), []);
    const f = [...m.onBbo(bbo(30, 100.2, 4, 100.3, 1))];
    assert.equal(f.length, 1);
    assert.equal(f[0].side, 'ask');
    assert.equal(f[0].px, 100.2);
    close(f[0].sz, 0.5);
    assert.equal(f[0].cause, 'book-through');
    assert.ok(f[0].tid >= SYNTHETIC_TID_BASE);
    close(m.position(), -0.5);
  });
});

test('partial fills are whole lots, never floating-point leftovers of the queue arithmetic', () => {
  // 0.0219 − 0.02 is 0.0019000000000000006 in binary floating point; the venue fills 0.0019.
  const m = new MatchingEngine({ coin: COIN, asset: 4, szDecimals: 4, tick: 0.1 });
  m.onBook(book(0, [[3350.0, 0.02]], [[3350.1, 1]]));
  m.place({ side: 'bid', px: 3350.0, sz: 0.01, tif: 'Alo' }, 1);
  const f = [...m.onTrade(trade(10, 'sell', 3350.0, 0.0219))];
  assert.equal(f.length, 1);
  assert.equal(f[0].sz, 0.0019);
  assert.equal(f[0].remaining, 0.0081);
  assert.equal(m.openOrders()[0].sz, 0.0081);
  assert.equal(m.position(), 0.0019);
});

describe('matching: probabilistic queue', () => {
  test('a cancellation is taken from ahead of us with share x^n/(x^n+y^n)', () => {
    const m = engine('prob');
    m.place({ side: 'bid', px: 100.0, sz: 1, tif: 'Alo' }, 10);
    // 4 join behind us, then 2 cancel: x = 5 ahead, y = 4 behind, n = 2.
    m.onBook(book(20, [[100.0, 9]], [[100.1, 3]]));
    m.onBook(book(30, [[100.0, 7]], [[100.1, 3]]));
    const share = 25 / (25 + 16);
    close(m.openOrders()[0].queueAhead, 5 - 2 * share);
    // A trade of 4 at our price now fills the part beyond the queue ahead.
    // The fill is whole lots (szDecimals 2), as on the venue: the expected queue is fractional, the fill is not.
    const f = [...m.onTrade(trade(40, 'sell', 100.0, 4))];
    assert.equal(f.length, 1);
    assert.equal(f[0].sz, Math.round((4 - (5 - 2 * share)) * 100) / 100);
    assert.equal(f[0].sz, 0.22);
  });

  test('a decrease explained by trades is not counted again as a cancellation', () => {
    const m = engine('prob');
    m.place({ side: 'bid', px: 100.0, sz: 1, tif: 'Alo' }, 10);
    m.onBook(book(20, [[100.0, 9]], [[100.1, 3]]));
    m.onTrade(trade(25, 'sell', 100.0, 2));
    assert.equal(m.openOrders()[0].queueAhead, 3);
    m.onBook(book(30, [[100.0, 7]], [[100.1, 3]]));
    assert.equal(m.openOrders()[0].queueAhead, 3);
  });

  test('share function: limits and symmetry', () => {
    const q = new PowerProbQueue(3);
    assert.equal(q.shareAhead(0, 5), 0);
    assert.equal(q.shareAhead(5, 0), 1);
    close(q.shareAhead(2, 2), 0.5);
    close(q.shareAhead(1, 2) + q.shareAhead(2, 1), 1);
    close(q.shareAhead(1, 2), 1 / 9);
  });
});

describe('matching: order entry rules', () => {
  test("post-only crossing the book is rejected with Hyperliquid's string", () => {
    const m = engine();
    const r = m.place({ side: 'bid', px: 100.1, sz: 1, tif: 'Alo' }, 10);
    assert.deepEqual(r, {
      status: 'error',
      error: 'Post only order would have immediately matched, bbo was 100@100.1. asset=1',
    });
    const r2 = m.place({ side: 'ask', px: 100.0, sz: 1, tif: 'Alo' }, 10);
    assert.equal(r2.status, 'error');
    assert.equal(m.openCount, 0);
  });

  test('a crossing Gtc takes liquidity level by level at taker fees, the rest rests', () => {
    const m = engine();
    const r = m.place({ side: 'bid', px: 100.2, sz: 6, tif: 'Gtc', cloid: 'g' }, 10);
    assert.equal(r.status, 'resting');
    if (r.status !== 'resting') return;
    assert.equal(r.fills.length, 2);
    assert.deepEqual(
      r.fills.map((f) => [f.px, f.sz, f.liquidity]),
      [
        [100.1, 3, 'taker'],
        [100.2, 2, 'taker'],
      ],
    );
    close(r.fills[0].fee, 100.1 * 3 * 0.00045);
    const open = m.openOrders();
    assert.equal(open.length, 1);
    close(open[0].sz, 1);
    assert.equal(open[0].queueAhead, 0);
  });

  test('Ioc: fills what it can, else the Ioc error string', () => {
    const m = engine();
    const r = m.place({ side: 'ask', px: 100.0, sz: 2, tif: 'Ioc' }, 10);
    assert.equal(r.status, 'filled');
    if (r.status === 'filled') {
      close(r.totalSz, 2);
      close(r.avgPx, 100.0);
    }
    const r2 = m.place({ side: 'ask', px: 100.5, sz: 2, tif: 'Ioc' }, 10);
    assert.deepEqual(r2, {
      status: 'error',
      error: 'Order could not immediately match against any resting orders. asset=1',
    });
    assert.equal(m.openCount, 0);
  });

  test('tick, size and minimum notional', () => {
    const m = engine();
    assert.deepEqual(m.place({ side: 'bid', px: 99.95, sz: 1, tif: 'Alo' }, 1), {
      status: 'error',
      error: 'Price must be divisible by tick size. asset=1',
    });
    assert.deepEqual(m.place({ side: 'bid', px: 99.9, sz: 0.125, tif: 'Alo' }, 1), {
      status: 'error',
      error: 'Order has invalid size.',
    });
    assert.deepEqual(m.place({ side: 'bid', px: 99.9, sz: 0.09, tif: 'Alo' }, 1), {
      status: 'error',
      error: 'Order must have minimum value of $10. asset=1',
    });
    assert.equal(m.place({ side: 'bid', px: 99.9, sz: 0.11, tif: 'Alo' }, 1).status, 'resting');
  });

  test("without a configured tick, Hyperliquid's significant-figure rule applies", () => {
    const m = new MatchingEngine({ coin: COIN, asset: 4, szDecimals: 4 });
    m.onBbo(bbo(0, 3350.1, 1, 3350.2, 1));
    assert.equal(m.place({ side: 'bid', px: 3349.9, sz: 0.01, tif: 'Alo' }, 1).status, 'resting');
    assert.deepEqual(m.place({ side: 'bid', px: 3349.95, sz: 0.01, tif: 'Alo' }, 1), {
      status: 'error',
      error: 'Price must be divisible by tick size. asset=4',
    });
  });

  test('cancel, modify, owners', () => {
    const m = engine();
    const a = m.place({ owner: 'alice', side: 'bid', px: 100.0, sz: 1, tif: 'Alo', cloid: 'c1' }, 1);
    const b = m.place({ owner: 'bob', side: 'bid', px: 100.0, sz: 2, tif: 'Alo', cloid: 'c2' }, 2);
    assert.equal(a.status, 'resting');
    assert.equal(b.status, 'resting');
    // Bob queues behind the displayed 5 and Alice's 1.
    assert.equal(m.openOrders('bob')[0].queueAhead, 6);
    assert.equal(m.openOrders('alice').length, 1);
    // Bob cannot cancel Alice's order.
    assert.deepEqual(m.cancel('c1', 3, 'bob'), {
      status: 'error',
      error: 'Order was never placed, already canceled, or filled.',
    });
    const c = m.cancel('c1', 3, 'alice');
    assert.equal(c.status, 'success');
    assert.equal(m.openOrders('bob')[0].queueAhead, 5);
    assert.equal(m.cancel('c1', 4).status, 'error');
    const md = m.modify('c2', { px: 99.9, sz: 1, newCloid: 'c3' }, 5, 'bob');
    assert.equal(md.status, 'resting');
    const open = m.openOrders();
    assert.equal(open.length, 1);
    assert.equal(open[0].cloid, 'c3');
    assert.equal(open[0].px, 99.9);
    assert.equal(open[0].queueAhead, 7);
    assert.notEqual(open[0].oid, b.status === 'resting' ? b.oid : -1);
    assert.deepEqual(m.modify('nope', { px: 99.9, sz: 1 }, 6), {
      status: 'error',
      error: 'Cannot modify canceled or filled order',
    });
  });

  test('modify checks the new price and size once, as place does: an invalid change leaves the order resting', () => {
    const m = engine();
    assert.equal(m.place({ side: 'bid', px: 99.9, sz: 1, tif: 'Alo', cloid: 'm1' }, 1).status, 'resting');
    // Each rule as place() reports it, and the original keeps resting (nothing was cancelled).
    for (const [change, error] of [
      [{ px: 99.95, sz: 1 }, 'Price must be divisible by tick size. asset=1'],
      [{ px: 99.9, sz: 0.125 }, 'Order has invalid size.'],
      [{ px: 99.9, sz: 0.09 }, 'Order must have minimum value of $10. asset=1'],
      [{ px: -1, sz: 1 }, 'Order has invalid price.'],
    ] as const) {
      assert.deepEqual(m.modify('m1', { ...change, newCloid: 'm2' }, 2), { status: 'error', error });
      assert.deepEqual(
        m.openOrders().map((o) => [o.cloid, o.px, o.sz]),
        [['m1', 99.9, 1]],
      );
    }
    // A valid change replaces it (and a post-only replacement that would cross is refused after the cancel).
    assert.equal(m.modify('m1', { px: 99.8, sz: 2, newCloid: 'm2' }, 3).status, 'resting');
    assert.deepEqual(
      m.openOrders().map((o) => [o.cloid, o.px, o.sz]),
      [['m2', 99.8, 2]],
    );
    assert.equal(m.modify('m2', { px: 100.1, sz: 2, newCloid: 'm3' }, 4).status, 'error');
    assert.equal(m.openCount, 0);
  });

  test('reduce-only orders may not increase the position', () => {
    const m = engine();
    assert.deepEqual(m.place({ side: 'ask', px: 100.1, sz: 1, tif: 'Gtc', reduceOnly: true }, 1), {
      status: 'error',
      error: 'Reduce only order would increase position. asset=1',
    });
  });
});
