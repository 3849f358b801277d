import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Engine } from '../../src/engine/engine.ts';
import { MemoryJournal } from '../../src/engine/journal.ts';
import { resolveRiskConfig } from '../../src/engine/risk.ts';
import type {
  CancelRequest,
  ModifyRequest,
  OrderRequest,
  OrderSide,
  Venue,
  VenueReport,
} from '../../src/engine/types.ts';
import { Rng } from '../../src/util/rng.ts';
import { bbo, ETH, MockVenue, ScriptedStrategy, TestClock } from './mock-venue.ts';

interface LiveOrder {
  cloid: string;
  side: OrderSide;
  px: number;
  remaining: number;
}

/**
 * A venue with its own truth: requests queue up (FIFO, like one connection) and are processed at random
 * moments; resting orders get random partial fills. Acks, rejects and cancels are reported as the
 * simulated venue does (modify: original 'canceled', replacement 'open' or 'rejected').
 */
class RandomVenue implements Venue {
  readonly name = 'random';
  readonly live = new Map<string, LiveOrder>();
  readonly inbox: (() => void)[] = [];
  private listener: (r: VenueReport) => void = () => {};
  private tid = 1;
  private readonly rng: Rng;
  private readonly clock: TestClock;
  constructor(rng: Rng, clock: TestClock) {
    this.rng = rng;
    this.clock = clock;
  }
  setReportListener(l: (r: VenueReport) => void) {
    this.listener = l;
  }
  private report(cloid: string, state: 'open' | 'canceled' | 'rejected' | 'filled', reason?: string) {
    const t = this.clock.t;
    this.listener({ kind: 'order', cloid, coin: 'ETH', state, reason, exTime: t, rxTime: t });
  }
  place(orders: OrderRequest[]) {
    for (const o of orders) {
      this.inbox.push(() => {
        if (this.rng.bernoulli(0.15))
          return this.report(o.cloid, 'rejected', 'Post only order would have immediately matched');
        this.live.set(o.cloid, { cloid: o.cloid, side: o.side, px: o.px, remaining: o.sz });
        this.report(o.cloid, 'open');
      });
    }
  }
  cancel(cancels: CancelRequest[]) {
    for (const c of cancels) {
      this.inbox.push(() => {
        if (this.live.delete(c.cloid)) this.report(c.cloid, 'canceled');
        else this.report(c.cloid, 'rejected', 'Order was never placed, already canceled, or filled.');
      });
    }
  }
  modify(mods: ModifyRequest[]) {
    for (const m of mods) {
      this.inbox.push(() => {
        const old = this.live.get(m.cloid);
        if (!old) return this.report(m.newCloid, 'rejected', 'Cannot modify canceled or filled order');
        this.live.delete(m.cloid);
        this.report(m.cloid, 'canceled', 'modified');
        if (this.rng.bernoulli(0.15))
          return this.report(m.newCloid, 'rejected', 'Post only order would have immediately matched');
        this.live.set(m.newCloid, { cloid: m.newCloid, side: old.side, px: m.px, remaining: m.sz });
        this.report(m.newCloid, 'open');
      });
    }
  }
  async cancelAll() {}
  /** Process the oldest request. */
  step(): boolean {
    const f = this.inbox.shift();
    f?.();
    return f !== undefined;
  }
  /** A random resting order takes a random partial or full fill. */
  randomFill() {
    const orders = [...this.live.values()];
    if (orders.length === 0) return;
    const o = orders[this.rng.int(orders.length)];
    const lots = Math.round(o.remaining / ETH.lotSize);
    const take = (1 + this.rng.int(lots)) * ETH.lotSize;
    o.remaining = Math.round((o.remaining - take) * 1e8) / 1e8;
    const t = this.clock.t;
    this.listener({
      kind: 'fill',
      cloid: o.cloid,
      coin: 'ETH',
      side: o.side,
      px: o.px,
      sz: take,
      fee: 0,
      liquidity: 'maker',
      tid: this.tid++,
      exTime: t,
      rxTime: t,
    });
    if (o.remaining <= 1e-12) {
      this.live.delete(o.cloid);
      this.report(o.cloid, 'filled');
    }
  }
  /** Size that can still fill on a side according to the venue's truth (live + queued requests ignored). */
  liveSize(side: OrderSide): number {
    let s = 0;
    for (const o of this.live.values()) if (o.side === side) s += o.remaining;
    return s;
  }
}

test('property: |position| and position + live orders never exceed the limit, over random sequences', () => {
  const maxLots = 3;
  const lot = ETH.lotSize;
  let steps = 0;
  for (let seed = 1; seed <= 40; seed++) {
    const rng = new Rng(seed);
    const clock = new TestClock();
    const venue = new RandomVenue(rng, clock);
    const strategy = new ScriptedStrategy();
    const engine = new Engine({
      clock,
      venue,
      strategy,
      instrument: ETH,
      risk: { maxPositionLots: maxLots, maxOrdersPerSec: 1e9, orderBurst: 1e9 },
      orderManager: { useModify: seed % 2 === 0, rejectBackoffMs: 0 },
    });
    engine.start();
    for (let k = 0; k < 400; k++) {
      clock.t += 1 + rng.int(50);
      const u = rng.uniform();
      if (u < 0.35) {
        const size = () => (rng.bernoulli(0.2) ? null : { px: 0, sz: (1 + rng.int(3)) * lot });
        const b = size();
        const a = size();
        if (b) b.px = Number((2999.0 + rng.int(10) / 10).toFixed(1));
        if (a) a.px = Number((3000.3 + rng.int(10) / 10).toFixed(1));
        strategy.want = { bid: b, ask: a };
        engine.onMarket(bbo(clock, 3000.1, 3000.2));
      } else if (u < 0.75) venue.step();
      else venue.randomFill();
      steps++;
      const pos = engine.portfolio.position;
      const tol = 1e-9;
      assert.ok(Math.abs(pos) <= maxLots * lot + tol, `seed ${seed} step ${k}: position ${pos}`);
      // Everything that could still fill, by the venue's own truth, stays within the limit as well.
      assert.ok(pos + venue.liveSize('bid') <= maxLots * lot + tol, `seed ${seed} step ${k}: long exposure`);
      assert.ok(
        pos - venue.liveSize('ask') >= -maxLots * lot - tol,
        `seed ${seed} step ${k}: short exposure`,
      );
      // The engine's in-flight view is never smaller than the venue's live size (it also counts pending).
      assert.ok(
        engine.orders.exposure('bid') >= venue.liveSize('bid') - tol,
        `seed ${seed} step ${k}: bid view`,
      );
      assert.ok(
        engine.orders.exposure('ask') >= venue.liveSize('ask') - tol,
        `seed ${seed} step ${k}: ask view`,
      );
    }
    // Flush the venue: every state machine ends consistent with the venue.
    while (venue.step()) {}
    clock.t += 10;
    engine.onMarket(bbo(clock, 3000.1, 3000.2));
    while (venue.step()) {}
    for (const o of engine.orders.openOrders()) {
      if (o.state === 'open')
        assert.ok(venue.live.has(o.cloid), `seed ${seed}: ${o.cloid} open but not live`);
    }
    for (const cloid of venue.live.keys()) {
      assert.ok(
        engine.orders.openOrders().some((o) => o.cloid === cloid),
        `seed ${seed}: venue order ${cloid} untracked`,
      );
    }
  }
  assert.equal(steps, 40 * 400);
});

test('drawdown kill switch: HALTED at 5% of the equity base, everything cancelled, nothing new sent', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const journal = new MemoryJournal();
  const engine = new Engine({
    clock,
    venue,
    strategy,
    instrument: { ...ETH, lotSize: 1 },
    startingEquity: 1000,
    risk: { maxPositionLots: 10 },
    journal,
  });
  engine.start();
  strategy.want = { bid: { px: 100, sz: 1 }, ask: { px: 101, sz: 1 } };
  engine.onMarket(bbo(clock, 100.4, 100.6));
  const placed = venue.take();
  for (const a of placed) venue.ack(a.cloid);
  venue.fill(placed[0].cloid, 'bid', 100, 1); // long 1 @ 100
  venue.take();
  venue.ack(engine.orders.openOrders().find((o) => o.state === 'pending-new')?.cloid ?? '');
  venue.take();
  // Peak equity 1000.5 (long 1 marked at 100.5). The mid falls to 51.5: drawdown 49 < 5% of 1000.
  engine.onMarket(bbo(clock, 51.4, 51.6));
  assert.equal(engine.risk.state, 'ACTIVE');
  venue.take();
  engine.onMarket(bbo(clock, 50.4, 50.6)); // drawdown 50 = 5% → kill
  assert.equal(engine.risk.state, 'HALTED');
  assert.match(engine.risk.reason, /drawdown 50\.00 USD/);
  const acts = venue.take();
  assert.ok(acts.length > 0 && acts.every((a) => a.kind === 'cancel'), 'only cancels after the kill');
  // The market recovers: still halted, no new orders.
  engine.onMarket(bbo(clock, 120, 120.2));
  assert.equal(engine.risk.state, 'HALTED');
  assert.equal(venue.take().filter((a) => a.kind !== 'cancel').length, 0);
  const st = journal.ofType('state').at(-1)?.data;
  assert.equal(st?.to, 'HALTED');
});

test('stale guard: quotes pulled when the last book/bbo is older than staleMs, restored when fresh', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, risk: { staleMs: 2000 } });
  engine.start();
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: { px: 3000.3, sz: 0.01 } };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  for (const a of venue.take()) venue.ack(a.cloid);
  clock.t += 1999;
  engine.onTimer(clock.t);
  assert.equal(venue.take().length, 0, 'still fresh');
  clock.t += 2;
  engine.onTimer(clock.t);
  const acts = venue.take();
  assert.deepEqual(
    acts.map((a) => a.kind),
    ['cancel', 'cancel'],
  );
  assert.equal(engine.risk.stale, true);
  for (const a of acts) venue.canceled(a.cloid);
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(engine.risk.stale, false);
  assert.deepEqual(
    venue.take().map((a) => a.kind),
    ['place', 'place'],
  );
});

test('order-rate token bucket caps order entry; cancels still go through', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const engine = new Engine({
    clock,
    venue,
    strategy,
    instrument: ETH,
    risk: { maxOrdersPerSec: 2, orderBurst: 3 },
    orderManager: { useModify: true },
  });
  engine.start();
  let entries = 0;
  // 5 s of a wish that changes every 100 ms, each acknowledged at once.
  for (let k = 0; k < 50; k++) {
    clock.t += 100;
    strategy.want = { bid: { px: 2990 + (k % 7) / 10, sz: 0.01 }, ask: null };
    engine.onMarket(bbo(clock, 3000.1, 3000.2));
    for (const a of venue.take()) {
      if (a.kind === 'place') {
        entries++;
        venue.ack(a.cloid);
      } else if (a.kind === 'modify') {
        entries++;
        venue.canceled(a.cloid, 'modified');
        venue.ack(a.newCloid);
      }
    }
  }
  // Bucket: 3 at once + 2/s over 4.9 s ≈ 12.8 → at most 12 entries (not 50).
  assert.ok(entries <= 3 + Math.floor(2 * 4.9), `entries ${entries}`);
  assert.ok(entries >= 10, `entries ${entries}`);
  assert.ok(engine.risk.blockedByRate > 0);
  // Pulling quotes is never throttled.
  strategy.want = { bid: null, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(venue.take().filter((a) => a.kind === 'cancel').length, 1);
});

test('REDUCING: beyond the position limit only the reducing side is quoted', () => {
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, risk: { maxPositionLots: 2 } });
  engine.start();
  // A fill from an order we do not know (e.g. placed by hand) takes us to 3 lots long.
  venue.fill('0x' + '1'.repeat(32), 'bid', 3000, 0.03);
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: { px: 3000.3, sz: 0.01 } };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(engine.risk.state, 'REDUCING');
  const acts = venue.take();
  assert.deepEqual(
    acts.map((a) => (a.kind === 'place' ? a.side : a.kind)),
    ['ask'],
  );
  venue.ack(acts[0].cloid);
  venue.fill(acts[0].cloid, 'ask', 3000.3, 0.01);
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  assert.equal(engine.risk.state, 'ACTIVE');
});

test('risk config errors name the field', () => {
  assert.throws(() => resolveRiskConfig({ maxDrawdownFrac: 0 }), /risk\.maxDrawdownFrac/);
  assert.throws(() => resolveRiskConfig({ maxPositionLots: -1 }), /risk\.maxPositionLots/);
  assert.throws(() => resolveRiskConfig({ equityBase: 0 }), /risk\.equityBase/);
  assert.throws(() => resolveRiskConfig({ maxPositon: 3 } as never), /risk\.maxPositon: unknown field/);
  assert.equal(resolveRiskConfig({ maxPositionLots: 3 }).maxDrawdownFrac, 0.05, 'kill switch default 5%');
});

test('evaluateFor (the engine’s per-mid fast path) reaches the same state and reason as evaluate, on random books of fills, marks and limits', async () => {
  const { RiskManager } = await import('../../src/engine/risk.ts');
  const { Portfolio } = await import('../../src/engine/portfolio.ts');
  const rng = new Rng(23);
  const seen = new Map<string, number>();
  for (let trial = 0; trial < 400; trial++) {
    const config = {
      maxPositionLots: 1 + Math.floor(rng.uniform() * 3000),
      maxNotional: 500 + rng.uniform() * 60_000,
      maxDrawdownFrac: 0.001 + rng.uniform() * 0.05,
      ...(rng.uniform() < 0.5 ? { equityBase: 1000 + rng.uniform() * 9000 } : {}),
    };
    const pf = new Portfolio(rng.uniform() < 0.2 ? 0 : 5000);
    let now = 1_000;
    const fills = Math.floor(rng.uniform() * 12);
    for (let k = 0; k < fills; k++) {
      pf.applyFill({
        kind: 'fill',
        cloid: `c${k}`,
        coin: 'ETH',
        side: rng.uniform() < 0.5 ? 'bid' : 'ask',
        px: 3000 + rng.uniform() * 400,
        sz: 0.01 * (1 + Math.floor(rng.uniform() * 300)),
        fee: 0.01,
        liquidity: 'maker',
        tid: k + 1,
        exTime: now,
        rxTime: now,
      });
      now += 10;
    }
    const fast = new RiskManager(config, { lotSize: 0.01 });
    const slow = new RiskManager(config, { lotSize: 0.01 });
    if (rng.uniform() < 0.1) {
      fast.halt(now, 'operator');
      slow.halt(now, 'operator');
    }
    for (let step = 0; step < 5; step++) {
      const mid = rng.uniform() < 0.05 ? Number.NaN : 2500 + rng.uniform() * 1500;
      now += 100;
      const clock = { now: () => now };
      const a = fast.evaluateFor(clock, pf, { mid });
      const b = slow.evaluate(now, pf, mid);
      assert.equal(a, b, `trial ${trial} step ${step}: state`);
      assert.equal(fast.state, slow.state);
      assert.equal(fast.reason, slow.reason, `trial ${trial} step ${step}: reason`);
      const why =
        b === 'ACTIVE'
          ? 'within'
          : (/^(drawdown|position|notional|operator)/.exec(slow.reason)?.[1] ?? slow.reason);
      seen.set(why, (seen.get(why) ?? 0) + 1);
    }
  }
  // Every branch ran: the fast path (within the limits) and each limit that sends it to evaluate.
  for (const why of ['within', 'drawdown', 'position', 'notional', 'operator'])
    assert.ok((seen.get(why) ?? 0) >= 20, `${why}: ${seen.get(why) ?? 0} of ${JSON.stringify([...seen])}`);
});
