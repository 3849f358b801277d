/**
 * A dozen hand-built events; every fill, fee and P&L figure below is computed by hand (comments show how).
 * Instrument: tick 0.1, lot 1, sizes to 0.01, $10 minimum; fees maker 0.015%, taker 0.045%.
 * Latency 10 ms each way; rx = ex + 5 ms, so the clock offset is 5 ms (local = exchange + 5).
 * Strategy: bid min(100.0, bestAsk − tick), ask max(100.2, bestBid + tick), size 1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import type { DesiredQuotes, InstrumentSpec, Strategy, StrategyContext } from '../../src/engine/types.ts';
import type { MarketEvent } from '../../src/marketdata/events.ts';

const T0 = 1_700_000_000_000;
const COIN = 'TST';
let tid = 1;
/** Time origin of the tape being built (T0; the funding test moves it next to an hour boundary). */
let base = T0;
const book = (t: number, bids: [number, number][], asks: [number, number][]): MarketEvent => ({
  kind: 'book',
  coin: COIN,
  exTime: base + t,
  rxTime: base + t + 5,
  bids: bids.map(([px, sz]) => ({ px, sz, n: 1 })),
  asks: asks.map(([px, sz]) => ({ px, sz, n: 1 })),
});
const trade = (t: number, side: 'buy' | 'sell', px: number, sz: number): MarketEvent => ({
  kind: 'trade',
  coin: COIN,
  exTime: base + t,
  rxTime: base + t + 5,
  px,
  sz,
  side,
  tid: tid++,
});
const bbo = (t: number, bidPx: number, bidSz: number, askPx: number, askSz: number): MarketEvent => ({
  kind: 'bbo',
  coin: COIN,
  exTime: base + t,
  rxTime: base + t + 5,
  bidPx,
  bidSz,
  askPx,
  askSz,
});

const instrument: InstrumentSpec = {
  coin: COIN,
  tick: 0.1,
  szDecimals: 2,
  lotSize: 1,
  minNotional: 10,
  makerFee: 0.00015,
  takerFee: 0.00045,
};

function touchClamped(): Strategy {
  const quotes = (bestBid: number, bestAsk: number): DesiredQuotes => ({
    bid: { px: Math.round(Math.min(100.0, bestAsk - 0.1) * 10) / 10, sz: 1 },
    ask: { px: Math.round(Math.max(100.2, bestBid + 0.1) * 10) / 10, sz: 1 },
  });
  return {
    name: 'hand',
    onBook: (ev, _ctx: StrategyContext) => quotes(ev.bids[0].px, ev.asks[0].px),
    onBbo: (ev) => quotes(ev.bidPx, ev.askPx),
  };
}

const tape = (): MarketEvent[] => [
  book(
    0,
    [
      [100.0, 2],
      [99.9, 5],
    ],
    [
      [100.1, 1],
      [100.2, 3],
    ],
  ),
  // Our bid 100.0 (queue 2) and ask 100.2 (queue 3) arrive at ex 10.
  trade(100, 'sell', 100.0, 1.5), // bid queue 2 → 0.5
  trade(200, 'sell', 100.0, 1.0), // F1: bid fills 0.5 @ 100.0
  trade(300, 'buy', 100.2, 5), // F2: ask queue 3 → fills 1 @ 100.2; a new ask 100.2 arrives at ex 320
  bbo(400, 99.9, 4, 100.0, 2), // F3: ask 100.0 ≤ our bid 100.0 → the remaining 0.5 fills @ 100.0
  // The engine tries to move the (already filled) bid to 99.9 at local 405: the modify arrives at ex 410
  // and is refused; after the reject back-off, the book at 600 makes it place a bid 99.9 (arrives ex 610).
  book(
    600,
    [
      [99.9, 4],
      [99.8, 2],
    ],
    [
      [100.0, 2],
      [100.1, 1],
    ],
  ),
  trade(700, 'sell', 99.9, 10), // F4: bid 99.9 (queue 4) fills 1 @ 99.9
  book(800, [[99.8, 1]], [[100.0, 1]]),
  book(5000, [[99.8, 1]], [[100.0, 1]]),
];

// The order manager's behaviour the hand computation assumes, pinned so a change of defaults cannot move it.
const orderManager = {
  priceToleranceTicks: 1,
  minQuoteLifeMs: 0,
  useModify: true,
  tif: 'Alo' as const,
  rejectBackoffMs: 100,
  maxRejectBackoffMs: 5000,
};

test('hand-built tape: fills, fees and P&L equal the hand computation', () => {
  const r = runBacktest({
    events: tape(),
    instrument,
    strategy: touchClamped(),
    latency: 10,
    orderManager,
    risk: { staleMs: 5000, maxOrdersPerSec: 10, orderBurst: 20, maxPositionLots: 10 },
  });
  assert.equal(r.settings.clockOffsetMs, 5);
  assert.deepEqual(
    r.fills.map((f) => [f.t - T0, f.side, f.px, f.sz, f.liquidity]),
    [
      [200, 'bid', 100.0, 0.5, 'maker'],
      [300, 'ask', 100.2, 1, 'maker'],
      [400, 'bid', 100.0, 0.5, 'maker'],
      [700, 'bid', 99.9, 1, 'maker'],
    ],
  );
  const m = r.metrics;
  // Fees: 0.00015 × (50 + 100.2 + 50 + 99.9) = 0.00015 × 300.1.
  close(m.fees, 0.00015 * 300.1, 'fees');
  // Spread capture vs the mid at the fill: (100.05−100)·0.5 + (100.2−100.05)·1 + (100.05−100)·0.5 + (99.95−99.9)·1.
  close(m.grossSpreadCapture, 0.025 + 0.15 + 0.025 + 0.05, 'spread');
  // Cash −50 + 100.2 − 50 − 99.9 − fees; position +1 marked at the final mid 99.9.
  close(m.netPnl, -99.7 - 0.00015 * 300.1 + 99.9, 'net');
  // Inventory P&L: only the last mid move (99.95 → 99.9) happens with a position (+1).
  close(m.inventoryPnl, -0.05, 'inventory pnl');
  assert.equal(m.fills, 4);
  assert.equal(m.makerFills, 4);
  assert.equal(m.takerFills, 0);
  // Orders: 2 initial + ask re-placed + bid 99.9 + bid re-placed = 5 places, 1 modify (refused).
  assert.equal(r.venue.placeRequests, 5);
  assert.equal(r.venue.modifyRequests, 1);
  assert.equal(r.venue.rejects, 1);
  close(m.fillRatePerQuote, 4 / 6, 'fill rate');
  // Inventory (lots), time-weighted over local 5..5005: +0.5 for 100 ms, −0.5 for 100 ms, +1 for 4300 ms.
  close(m.durationSec, 5, 'duration');
  close(m.inventory.mean, 4300 / 5000, 'inventory mean');
  close(m.inventory.std, Math.sqrt((0.25 * 200 + 4300) / 5000 - 0.86 ** 2), 'inventory std');
  assert.equal(m.inventory.max, 1);
  assert.equal(m.inventory.final, 1);
  // Markouts at 1 s (mid 99.9 by then): bid −0.15, ask +0.15, bid −0.15, bid −0.05.
  const m1 = m.markouts.find((x) => x.horizon === '1s')!;
  assert.equal(m1.n, 4);
  close(m1.meanMidMove, (-0.15 + 0.15 - 0.15 - 0.05) / 4, 'markout 1s');
  assert.equal(m.markouts.find((x) => x.horizon === '5s')!.n, 0);
  // The engine's own portfolio saw the same four fills.
  assert.equal(r.engine.fills, 4);
  close(r.engine.position, 1, 'engine position');
  close(r.engine.netPnl, m.netPnl, 'engine net P&L');
});

const close = (a: number, b: number, what: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${what}: ${a} ≠ ${b}`);

// Exchange-side mids: 100.05 from 0, 99.95 from 400 (the bbo), 99.9 from 800. Fills: F1 bid 0.5 @ 100.0 at 200,
// F2 ask 1 @ 100.2 at 300, F3 bid 0.5 @ 100.0 at 400 (before that event's mid), F4 bid 1 @ 99.9 at 700.
test('P&L attribution on the hand-built tape: each term by hand, summing to net P&L', () => {
  const run = (markoutMs: number) =>
    runBacktest({
      events: tape(),
      instrument,
      strategy: touchClamped(),
      latency: 10,
      orderManager,
      risk: { staleMs: 5000, maxOrdersPerSec: 10, orderBurst: 20, maxPositionLots: 10 },
      markoutMs,
    });
  const fees = -0.00015 * 300.1;
  const net = -99.7 + fees + 99.9;
  // Markout 1 s: every horizon (1200, 1300, 1400, 1700) ends under the mid 99.9.
  //   spread   0.5·(100.05−100) + 1·(100.2−100.05) + 0.5·(100.05−100) + 1·(99.95−99.9) = 0.25
  //   adverse  0.5·(99.9−100.05) − 1·(99.9−100.05) + 0.5·(99.9−100.05) + 1·(99.9−99.95) = −0.05
  //   carry    Σ s·z·(99.9 − 99.9) = 0
  const a = run(1000);
  const p = a.metrics.pnlAttribution;
  close(p.spreadCapture, 0.25, 'spread 1s');
  close(p.adverseSelection, -0.05, 'adverse 1s');
  close(p.inventoryCarry, 0, 'carry 1s');
  close(p.fees, fees, 'fees');
  assert.equal(p.funding, 0);
  close(
    p.spreadCapture + p.adverseSelection + p.inventoryCarry + p.fees + p.funding,
    a.metrics.netPnl,
    'sum',
  );
  close(a.metrics.netPnl, net, 'net');
  assert.deepEqual(a.settings.attribution, { reference: 'mid', markoutMs: 1000 });
  // Markout 100 ms: horizons end at 300 (mid 100.05), 400 (99.95: the update at 400 is in force at 400),
  // 500 (99.95) and 800 (99.9).
  //   adverse  0.5·0 − 1·(99.95−100.05) + 0.5·(99.95−100.05) + 1·(99.9−99.95) = 0
  //   carry    0.5·(99.9−100.05) − 1·(99.9−99.95) + 0.5·(99.9−99.95) + 1·(99.9−99.9) = −0.05
  const b = run(100).metrics.pnlAttribution;
  close(b.spreadCapture, 0.25, 'spread 100ms');
  close(b.adverseSelection, 0, 'adverse 100ms');
  close(b.inventoryCarry, -0.05, 'carry 100ms');
  // Break-even maker fee: net + maker fees over maker notional = (0.154985 + 0.045015) / 300.1.
  close(a.metrics.breakEvenMakerFee!, 0.2 / 300.1, 'break-even maker fee');
  // At that maker fee the same fills net zero.
  const be = runBacktest({
    events: tape(),
    instrument,
    strategy: touchClamped(),
    latency: 10,
    orderManager,
    risk: { staleMs: 5000, maxOrdersPerSec: 10, orderBurst: 20, maxPositionLots: 10 },
    fees: { maker: 0.2 / 300.1, taker: 0.00045 },
  });
  assert.equal(be.metrics.fills, 4);
  close(be.metrics.netPnl, 0, 'net P&L at the break-even fee');
  assert.equal(a.metrics.spreadBoundBinding, null);
});

test('hourly funding at an hour boundary of exchange time: P&L, attribution and the engine', () => {
  // The tape moved so that an hour boundary falls at t = 3000, while we hold +1 at the mid 99.9.
  const hour = 3_600_000;
  base = Math.ceil(T0 / hour) * hour - 3000;
  const events = tape();
  base = T0;
  const r = runBacktest({
    events,
    instrument,
    strategy: touchClamped(),
    latency: 10,
    orderManager,
    risk: { staleMs: 5000, maxOrdersPerSec: 10, orderBurst: 20, maxPositionLots: 10 },
    fundingRate: 0.0001,
  });
  // Longs pay: −(+1) × 99.9 × 0.0001.
  const funding = -99.9 * 0.0001;
  const m = r.metrics;
  close(m.pnlAttribution.funding, funding, 'funding');
  close(m.netPnl, -99.7 - 0.00015 * 300.1 + 99.9 + funding, 'net with funding');
  close(m.inventoryPnl, -0.05, 'inventory P&L excludes funding');
  assert.equal(r.settings.funding.payments, 1);
  const p = m.pnlAttribution;
  close(p.spreadCapture + p.adverseSelection + p.inventoryCarry + p.fees + p.funding, m.netPnl, 'sum');
  close(r.engine.netPnl, m.netPnl, 'engine net P&L with funding');
  // A recorded rate at the boundary wins over the constant.
  const rec = runBacktest({
    events,
    instrument,
    strategy: touchClamped(),
    latency: 10,
    orderManager,
    risk: { staleMs: 5000, maxOrdersPerSec: 10, orderBurst: 20, maxPositionLots: 10 },
    fundingRate: 0.0001,
    funding: [{ time: Math.ceil(T0 / hour) * hour, rate: -0.0002 }],
  });
  close(rec.metrics.pnlAttribution.funding, 99.9 * 0.0002, 'recorded funding');
  // A recorded oracle price is what the rate is charged at (Hyperliquid: size × oracle price × rate).
  const oracle = runBacktest({
    events,
    instrument,
    strategy: touchClamped(),
    latency: 10,
    orderManager,
    risk: { staleMs: 5000, maxOrdersPerSec: 10, orderBurst: 20, maxPositionLots: 10 },
    funding: [{ time: Math.ceil(T0 / hour) * hour, rate: 0.0001, price: 100.5 }],
  });
  close(oracle.metrics.pnlAttribution.funding, -100.5 * 0.0001, 'funding at the oracle price');
  close(oracle.engine.netPnl, oracle.metrics.netPnl, 'engine agrees');
});

test('same inputs give byte-identical results', () => {
  const a = JSON.stringify(
    runBacktest({ events: tape(), instrument, strategy: touchClamped(), latency: 10 }),
  );
  const b = JSON.stringify(
    runBacktest({ events: tape(), instrument, strategy: touchClamped(), latency: 10 }),
  );
  assert.equal(a, b);
});

test('a strategy given by name and config is validated and run', () => {
  const r = runBacktest({
    events: tape(),
    instrument,
    strategy: { name: 'fixed', config: { maxPosition: 3 } },
    latency: 10,
  });
  assert.equal(r.strategy, 'fixed');
  assert.equal(r.metrics.timeAtBounds?.boundLots, 3);
  assert.throws(
    () =>
      runBacktest({ events: tape(), instrument, strategy: { name: 'cj', config: { phi: -1 } }, latency: 10 }),
    /strategy\.phi: must be ≥ 0/,
  );
});

test('a data gap pulls our quotes at the exchange and is left out of the quote uptime', () => {
  const events = [
    book(0, [[100.0, 2]], [[100.2, 2]]),
    book(500, [[100.0, 2]], [[100.2, 2]]),
    book(1000, [[100.0, 2]], [[100.2, 2]]),
    book(3000, [[100.0, 2]], [[100.2, 2]]),
    book(4000, [[100.0, 2]], [[100.2, 2]]),
    book(5000, [[100.0, 2]], [[100.2, 2]]),
  ];
  const gap = { coin: COIN, kind: 'all' as const, start: T0 + 1000, end: T0 + 3000, reason: 'test' };
  const strategy: Strategy = {
    name: 'still',
    onBook: () => ({ bid: { px: 99.9, sz: 1 }, ask: { px: 100.3, sz: 1 } }),
  };
  const r = runBacktest({ events, gaps: [gap], instrument, strategy, latency: 10 });
  // Local clock = exchange + 5. Quotes rest from 15 to the gap (1005) and from 3015 (re-quoted on the first
  // book after the gap, seen at 3005) to the end (5005): 990 + 1990 ms of the 3000 ms outside the gap.
  const both = r.metrics.quoteUptime.both;
  assert.ok(Math.abs(both - 2980 / 3000) < 1e-9, String(both));
  assert.ok(r.venue.placeRequests >= 4);
  assert.equal(r.metrics.fills, 0);
});
