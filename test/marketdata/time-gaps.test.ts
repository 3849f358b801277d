import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { detectGaps, gapCoverageMs } from '../../src/marketdata/gaps.ts';
import { isoTime, nsTextToMs, parseIsoNanos, parseTimeArg } from '../../src/marketdata/time.ts';

test('parseTimeArg: ISO-8601 (UTC by default), dates, epoch ms; refuses seconds and junk', () => {
  const t = Date.UTC(2025, 11, 10, 21, 10, 0);
  assert.equal(parseTimeArg('2025-12-10T21:10:00Z', '--from'), t);
  assert.equal(parseTimeArg('2025-12-10T21:10:00', '--from'), t);
  assert.equal(parseTimeArg('2025-12-10T23:10:00+02:00', '--from'), t);
  assert.equal(parseTimeArg('2025-12-10', '--from'), Date.UTC(2025, 11, 10));
  assert.equal(parseTimeArg(String(t), '--from'), t);
  assert.throws(() => parseTimeArg('1765401000', '--to'), /--to: .*epoch seconds/);
  assert.throws(() => parseTimeArg('yesterday', '--to'), /--to: cannot read/);
  assert.equal(isoTime(t), '2025-12-10T21:10:00.000Z');
});

test('sub-millisecond clocks: ISO with nanosecond digits and ns integers beyond 2^53', () => {
  assert.equal(parseIsoNanos('2024-01-01T12:00:01.138942031'), Date.UTC(2024, 0, 1, 12, 0, 1) + 138.942031);
  assert.ok(Number.isNaN(parseIsoNanos('noon')));
  assert.equal(nsTextToMs('1737918843893903000'), 1737918843893.903);
  assert.ok(Number.isNaN(nsTextToMs('12ab')));
});

test('detectGaps: book/bbo silences above the threshold, per coin; trades alone never make a gap', () => {
  const bbo = (coin: string, t: number): MarketEvent => ({
    kind: 'bbo',
    coin,
    exTime: t,
    rxTime: t,
    bidPx: 1,
    bidSz: 1,
    askPx: 2,
    askSz: 1,
  });
  const trade = (t: number): MarketEvent => ({
    kind: 'trade',
    coin: 'ETH',
    exTime: t,
    rxTime: t,
    px: 1,
    sz: 1,
    side: 'buy',
    tid: t,
  });
  const evs: MarketEvent[] = [];
  for (let t = 0; t <= 10_000; t += 500) evs.push(bbo('ETH', 1e12 + t));
  for (let t = 30_000; t <= 40_000; t += 500) evs.push(bbo('ETH', 1e12 + t)); // 20 s silence
  for (let t = 10_500; t < 30_000; t += 100) evs.push(trade(1e12 + t)); // trades during the silence do not fill it
  for (let t = 0; t <= 40_000; t += 4_000) evs.push(bbo('BTC', 1e12 + t)); // 4 s cadence: below threshold
  const gaps = detectGaps(evs.reverse(), 5_000);
  assert.deepEqual(
    gaps.map((g) => [g.coin, g.kind, g.start - 1e12, g.end - 1e12]),
    [['ETH', 'all', 10_000, 30_000]],
  );
  assert.equal(detectGaps(evs, 3_000).filter((g) => g.coin === 'BTC').length, 10);
  assert.throws(() => detectGaps(evs, 0), RangeError);
});

test('gapCoverageMs counts overlapping gaps once and clips to the window', () => {
  const g = (start: number, end: number) => ({ coin: 'X', kind: 'all' as const, start, end, reason: '' });
  assert.equal(gapCoverageMs([g(0, 10), g(5, 20), g(30, 40)], 0, 100), 30);
  assert.equal(gapCoverageMs([g(0, 10), g(5, 20), g(30, 40)], 8, 35), 17);
  assert.equal(gapCoverageMs([], 0, 100), 0);
});
