import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { OrderSide, VenueReport } from '../../src/engine/types.ts';
import { MatchingEngine } from '../../src/exchange/matching.ts';
import type { LatencyModel } from '../../src/sim/latency.ts';
import { EventQueue } from '../../src/sim/scheduler.ts';
import { SimulatedVenue } from '../../src/sim/simulated-venue.ts';
import { Rng } from '../../src/util/rng.ts';

/** Sampled latencies: responses of 5 or 8 ms, so a modify's two reports come back together or apart. */
class RandomLatency implements LatencyModel {
  private readonly rng: Rng;
  constructor(seed: number) {
    this.rng = new Rng(seed);
  }
  entry(): number {
    return 1 + Math.floor(3 * this.rng.uniform());
  }
  cancel(): number {
    return this.entry();
  }
  response(): number {
    return this.rng.uniform() < 0.75 ? 5 : 8;
  }
  describe(): string {
    return 'random';
  }
}

/**
 * A client trading on the venue at random (places, modifies — some crossing the touch, so refused — cancels,
 * modifies of orders already gone), also from inside its report listener, against a moving touch with trades.
 * Returns every report with the time it arrived, the venue's counts and the number of scheduler callbacks.
 */
/** A simulated venue on a 0.1-tick coin 'T' over an event queue at time 0. */
function testVenue(opts: Omit<ConstructorParameters<typeof SimulatedVenue>[0], 'scheduler' | 'matching'>) {
  const q = new EventQueue();
  q.current = 0;
  const matching = new MatchingEngine({ coin: 'T', asset: 0, szDecimals: 2, tick: 0.1 });
  return { q, matching, venue: new SimulatedVenue({ scheduler: q, matching, ...opts }) };
}

function session(seed: number, pairReports: boolean) {
  const rng = new Rng(seed);
  const { q, matching, venue } = testVenue({ latency: new RandomLatency(seed + 1), pairReports });
  const open = new Map<string, OrderSide>();
  const trace: string[] = [];
  let mid = 1000;
  let n = 0;
  const px = (side: OrderSide) => {
    // Mostly passive, sometimes through the touch (refused as post-only).
    const ticks = Math.floor(6 * rng.uniform()) - (rng.uniform() < 0.15 ? 3 : 0);
    return Math.round(10 * (side === 'bid' ? mid - 0.1 * ticks : mid + 0.1 * ticks)) / 10;
  };
  const request = () => {
    const u = rng.uniform();
    const known = [...open.keys()];
    const side: OrderSide = rng.uniform() < 0.5 ? 'bid' : 'ask';
    if (u < 0.25 || known.length === 0) {
      venue.place([{ coin: 'T', cloid: `c${n++}`, side, px: px(side), sz: 0.5, tif: 'Alo' }]);
    } else if (u < 0.85) {
      // An order we know of, or (sometimes) one that is gone by now.
      const cloid =
        rng.uniform() < 0.1
          ? `c${Math.floor(n * rng.uniform())}`
          : known[Math.floor(known.length * rng.uniform())];
      const s = open.get(cloid) ?? side;
      venue.modify([
        { coin: 'T', cloid, newCloid: `c${n++}`, px: px(s), sz: rng.uniform() < 0.5 ? 0.5 : 0.7 },
      ]);
    } else venue.cancel([{ coin: 'T', cloid: known[Math.floor(known.length * rng.uniform())] }]);
  };
  venue.setReportListener((r: VenueReport) => {
    trace.push(
      r.kind === 'fill'
        ? `${q.now()} fill ${r.cloid} ${r.px} ${r.sz}`
        : `${q.now()} ${r.cloid} ${r.state} ${r.px ?? ''} ${r.reason ?? ''}`,
    );
    if (r.kind === 'order') {
      if (r.state === 'open')
        open.set(r.cloid, matching.openOrders().find((o) => o.cloid === r.cloid)?.side ?? 'bid');
      else if (r.state !== 'pending') open.delete(r.cloid);
    }
    if (rng.uniform() < 0.4) request(); // reacting to a report: lands after both reports of a pair
  });
  // The market and the client's own schedule, in the same queue (earlier calls first at equal times).
  for (let t = 0; t < 3000; t += 1 + Math.floor(4 * rng.uniform())) {
    q.at(t, () => {
      const u = rng.uniform();
      if (u < 0.2) mid = Math.round(10 * (mid + (rng.uniform() < 0.5 ? -0.1 : 0.1))) / 10;
      if (u < 0.1)
        venue.onMarket({
          kind: 'trade',
          coin: 'T',
          exTime: t,
          rxTime: t,
          px: mid,
          sz: 1,
          side: 'sell',
          tid: t,
        });
      else
        venue.onMarket({
          kind: 'bbo',
          coin: 'T',
          exTime: t,
          rxTime: t,
          bidPx: mid - 0.05,
          bidSz: 3,
          askPx: mid + 0.05,
          askSz: 3,
        });
      if (rng.uniform() < 0.3) request();
    });
  }
  let callbacks = 0;
  while (q.size > 0) {
    q.runNext();
    callbacks++;
  }
  return { trace, stats: { ...venue.stats }, callbacks };
}

test("a modify's two reports in one scheduler callback: the same reports, times and order as one callback each", () => {
  let paired = 0;
  let refused = 0;
  let apart = 0;
  for (let seed = 1; seed <= 12; seed++) {
    const plain = session(seed, false);
    const fast = session(seed, true);
    assert.deepEqual(fast.trace, plain.trace, `seed ${seed}`);
    assert.deepEqual(fast.stats, plain.stats, `seed ${seed}`);
    paired += plain.callbacks - fast.callbacks;
    refused += plain.trace.filter((l) => l.includes('rejected  Post only')).length;
    // A modify's reports that came back at different times (the 8 ms response): delivered apart.
    apart += plain.trace.filter(
      (l, i) => l.includes('canceled  modified') && plain.trace[i + 1]?.split(' ')[0] !== l.split(' ')[0],
    ).length;
  }
  // Every case happened: pairs delivered together, refused replacements, pairs that came back apart.
  assert.ok(paired > 500, `paired ${paired}`);
  assert.ok(refused > 50, `refused ${refused}`);
  assert.ok(apart > 50, `apart ${apart}`);
});

test('fillsWithFeed (paper): a maker fill caused by a market event reaches the listener with the event, not a response latency later', async () => {
  const { ConstantLatency } = await import('../../src/sim/latency.ts');
  const run = (fillsWithFeed: boolean) => {
    const { q, venue } = testVenue({ latency: new ConstantLatency(10, 10, 100), fillsWithFeed });
    const got: string[] = [];
    venue.setReportListener((r) => got.push(`${q.now()} ${r.kind === 'fill' ? 'fill' : r.state}`));
    venue.onMarket({
      kind: 'bbo',
      coin: 'T',
      exTime: 0,
      rxTime: 0,
      bidPx: 999.9,
      bidSz: 1,
      askPx: 1000,
      askSz: 1,
    });
    venue.place([{ coin: 'T', cloid: 'c1', side: 'bid', px: 999.9, sz: 0.5, tif: 'Alo' }]);
    const runUntil = (t: number) => {
      while (q.size > 0 && q.peekTime() <= t) q.runNext();
      q.current = t;
    };
    runUntil(500); // the order rests at 10 ms, its ack arrives at 110 ms
    // A sale through our price at 600 ms: we are filled.
    runUntil(600);
    venue.onMarket({
      kind: 'trade',
      coin: 'T',
      exTime: 600,
      rxTime: 600,
      side: 'sell',
      px: 999.8,
      sz: 2,
      tid: 7,
    });
    const atOnce = got.length;
    runUntil(1000);
    return { atOnce, got };
  };
  const paper = run(true);
  assert.deepEqual(paper.got, ['110 open', '600 fill', '600 filled']);
  assert.equal(paper.atOnce, 3, 'delivered inside onMarket, before the caller hands the event to the engine');
  const backtest = run(false);
  assert.deepEqual(backtest.got, ['110 open', '700 fill', '700 filled']);
  assert.equal(backtest.atOnce, 1);
});
