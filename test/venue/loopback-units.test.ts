/** The loopback server's pure parts: limits arithmetic, funding schedule, candle bars, number formats. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barBounds, CandleBook } from '../../src/venue/loopback/candles.ts';
import {
  FundingSchedule,
  HOUR_MS,
  nextHourAfter,
  parseFundingRows,
} from '../../src/venue/loopback/funding.ts';
import {
  admitRequest,
  cancelCap,
  fmtUsd,
  keptNonces,
  NonceSet,
  requestCap,
  scheduleCancelVolumeError,
} from '../../src/venue/loopback/limits.ts';
import { decimal, fixed } from '../../src/venue/loopback/wire.ts';

test('request budget arithmetic: cap, cancel cap, the pass condition and the 10 s slot', () => {
  assert.equal(requestCap(0), 10_000);
  assert.equal(requestCap(87_457.46), 97_457);
  assert.equal(cancelCap(10_000), 20_000, 'min(110000, 20000)');
  assert.equal(cancelCap(200_000), 300_000, 'min(300000, 400000)');
  // The live probe: used 97459, cap 97457 → "(97460 > 97456) … $87457.46".
  const s = { cumVlm: 87_457.46, nRequestsUsed: 97_459, lastAdmittedAt: 0 };
  assert.equal(
    admitRequest(s, 1, false, 5_000),
    'Too many cumulative requests sent (97460 > 97456) for cumulative volume traded $87457.46. Place taker orders to free up 1 request per USDC traded.',
  );
  assert.equal(s.nRequestsUsed, 97_459, 'a refusal uses nothing');
  assert.equal(admitRequest(s, 1, false, 10_000), undefined, '10 s after the last one admitted');
  assert.equal(s.nRequestsUsed, 97_460);
  // Under the cap: used + n ≤ cap − 1.
  const f = { cumVlm: 0, nRequestsUsed: 9_997 };
  assert.equal(admitRequest(f, 2, false, 0), undefined);
  assert.match(admitRequest(f, 1, false, 1) ?? '', /\(10000 > 9999\)/);
  assert.equal(admitRequest(f, 1, true, 1), undefined, 'cancels: cap 20000');
});

test('nonce set: keeps the highest, refuses repeats and nonces below the smallest kept, and the window', () => {
  assert.equal(keptNonces(true, 0), 20);
  assert.equal(keptNonces(true, 2_999_999), 22);
  assert.equal(keptNonces(true, 5e9), 100);
  assert.equal(keptNonces(false, 0), 100);
  const n = new NonceSet();
  const now = 1_800_000_000_000;
  for (let i = 1; i <= 3; i++) n.use(now + i * 10, 3);
  assert.equal(n.check(now + 5, now, true, 3), `Invalid nonce: nonce too low ${now + 5} < ${now + 10}`);
  assert.equal(n.check(now + 20, now, true, 3), `Invalid nonce: duplicate nonce ${now + 20}`);
  assert.equal(n.check(now + 15, now, true, 3), undefined);
  n.use(now + 15, 3);
  assert.equal(n.size, 3, 'the smallest was dropped');
  assert.equal(n.check(now + 10, now, true, 3), `Invalid nonce: nonce too low ${now + 10} < ${now + 15}`);
  assert.equal(
    n.check(now + 86_400_000, now, true, 3),
    `Invalid nonce: nonce too high ${now + 86_400_000} > ${now + 86_400_000}`,
  );
  assert.equal(n.check(now - 86_400_000 - 1, now, false, 100), undefined, 'legacy: two days back');
});

test('exchange number formats', () => {
  assert.equal(fmtUsd(0, 2), '0');
  assert.equal(fmtUsd(4643, 2), '4643');
  assert.equal(fmtUsd(87_457.4612, 2), '87457.46');
  assert.equal(
    scheduleCancelVolumeError(373.47205),
    'Cannot set scheduled cancel time until enough volume traded. Required: $1000000. Traded: $373.47205.',
  );
  assert.deepEqual(
    [fixed(3350, 1), fixed(0.01, 4), fixed(-0.0005, 6), fixed(-0.0000001, 6), fixed(12.5, 0)],
    ['3350.0', '0.01', '-0.0005', '0.0', '13.0'],
  );
  assert.deepEqual(
    [decimal(0.0000125), decimal(1.25e-7), decimal(5_000_000), decimal(0)],
    ['0.0000125', '0.000000125', '5000000.0', '0.0'],
  );
});

test('funding schedule: rows by hour, carried forward, configured rate before the series', () => {
  const h = Date.UTC(2025, 11, 10, 22);
  const f = new FundingSchedule(
    [
      { time: h + 2 * HOUR_MS + 9, coin: 'ETH', fundingRate: -0.00002, premium: -0.0004 },
      { time: h + 38, coin: 'ETH', fundingRate: 0.0001, premium: 0.00005 },
    ],
    0.00001,
  );
  assert.deepEqual(f.at('ETH', h - HOUR_MS), { rate: 0.00001, premium: 0 });
  assert.deepEqual(f.at('ETH', h), { rate: 0.0001, premium: 0.00005 });
  assert.deepEqual(f.at('ETH', h + HOUR_MS), { rate: 0.0001, premium: 0.00005 });
  assert.deepEqual(f.at('ETH', h + 2 * HOUR_MS), { rate: -0.00002, premium: -0.0004 });
  assert.deepEqual(f.at('BTC', h), { rate: 0.00001, premium: 0 });
  assert.deepEqual(
    f
      .history('ETH', 0, h + 10 * HOUR_MS, h + HOUR_MS + 1, h - 30 * 60_000)
      .map((r) => [r.time, r.fundingRate]),
    [
      [h, 0.0001],
      [h + HOUR_MS, 0.0001],
    ],
    'from the market’s first data to now',
  );
  assert.equal(nextHourAfter(h), h + HOUR_MS);
  assert.equal(nextHourAfter(h - 1), h);
  assert.throws(() => new FundingSchedule([], 0.5), /hourly fraction/);
  assert.throws(() => parseFundingRows({ rows: [{ time: 1 }] }, 'ETH'), /row 0/);
});

test('candles: minute bars in and out of order, aggregated by interval; month bars on calendar months', () => {
  const t = Date.UTC(2025, 11, 31, 23, 58, 30);
  const c = new CandleBook();
  c.onTrade('ETH', t, 10, 1);
  c.onTrade('ETH', t + 120_000, 12, 2); // 2026-01-01 00:00:30
  c.onTrade('ETH', t + 45_000, 9, 0.5); // late: 23:59:15
  c.onTrade('ETH', t + 20_000, 11, 0.5); // the 23:58 bar again
  const m = c.snapshot('ETH', '1m', 0, t + 10 * 60_000);
  assert.deepEqual(
    m.map((b) => [new Date(b.t).toISOString().slice(11, 16), b.o, b.h, b.l, b.c, b.v, b.n]),
    [
      ['23:58', 10, 11, 10, 11, 1.5, 2],
      ['23:59', 9, 9, 9, 9, 0.5, 1],
      ['00:00', 12, 12, 12, 12, 2, 1],
    ],
  );
  const months = c.snapshot('ETH', '1M', 0, t + 10 * 60_000);
  assert.deepEqual(
    months.map((b) => [b.t, b.T, b.v]),
    [
      [Date.UTC(2025, 11, 1), Date.UTC(2026, 0, 1) - 1, 2],
      [Date.UTC(2026, 0, 1), Date.UTC(2026, 1, 1) - 1, 2],
    ],
  );
  assert.deepEqual(
    barBounds('1w', 0),
    [0, 7 * 86_400_000],
    'weeks open at multiples of 7 days since the epoch',
  );
});

test('book levels carry at least one order: a recording without order counts (n = 0) is sent with n = 1', async () => {
  const { levelOrders, loopbackBookToWire } = await import('../../src/venue/loopback/wire.ts');
  assert.equal(levelOrders(0), 1);
  assert.equal(levelOrders(7), 7);
  const ev = {
    kind: 'book' as const,
    coin: 'ETH',
    exTime: 1,
    rxTime: 2,
    bids: [{ px: 3350.1, sz: 2, n: 0 }],
    asks: [{ px: 3350.2, sz: 1, n: 4 }],
  };
  assert.deepEqual(loopbackBookToWire(ev).data.levels, [
    [{ px: '3350.1', sz: '2.0', n: 1 }],
    [{ px: '3350.2', sz: '1.0', n: 4 }],
  ]);
  assert.equal(ev.bids[0].n, 0, 'the replayed event itself is not changed');
  // The info answer too.
  const { startLoopbackServer } = await import('../../src/venue/loopback/server.ts');
  const srv = await startLoopbackServer({ events: [ev], coins: ['ETH'], autoStart: false, port: 0 });
  try {
    srv.replay.advanceTo(1);
    const res = await fetch(`${srv.httpUrl}/info`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ type: 'l2Book', coin: 'ETH' }),
    });
    const l2 = (await res.json()) as { levels: { n: number }[][] };
    assert.deepEqual(
      l2.levels.map((s) => s.map((l) => l.n)),
      [[1], [4]],
    );
  } finally {
    await srv.close();
  }
});
