/**
 * Streamed backtests: the replay fed block by block (in memory) or chunk by chunk (a store) gives byte-identical
 * results to one pass over the whole range — on the shared ETH recording with several strategies, on a
 * synthetic multi-day store, and on random tapes for the two-clock order itself.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { type BacktestResult, runBacktest } from '../../src/backtest/run.ts';
import { instrumentFromData } from '../../src/backtest/setup.ts';
import { instrumentFromStore, runBacktestStream, StoreTape } from '../../src/backtest/stream.ts';
import { buildTape, prepareEvents, TapeBlocks, tapeFromColumns } from '../../src/backtest/tape.ts';
import type { Gap, MarketEvent } from '../../src/marketdata/events.ts';
import { importSource, readSource } from '../../src/marketdata/source.ts';
import { type MarketStore, openStore } from '../../src/marketdata/store/index.ts';
import type { StrategyName } from '../../src/strategies/index.ts';
import { Rng } from '../../src/util/rng.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'cjmm-stream-'));
  dirs.push(d);
  return d;
}

/** The whole result as the CLI would print it and more (series, fills, diagnostics samples). */
const text = (r: BacktestResult) => JSON.stringify(r);

const STRATEGIES: [StrategyName, Record<string, unknown>][] = [
  ['fixed', {}],
  ['cj', {}],
  ['cj', { signal: 'imbalance', reference: 'microprice' }],
  ['as', {}],
  ['glft', {}],
];

async function streamed(
  store: MarketStore,
  coin: string,
  name: StrategyName,
  config: Record<string, unknown>,
  chunkMs: number,
  extra: { clockOffsetMs?: number | 'min' | 'max'; from?: number; to?: number; yieldEvery?: number } = {},
): Promise<BacktestResult> {
  const tape = await StoreTape.open(store, {
    coin,
    chunkMs,
    clockOffsetMs: extra.clockOffsetMs,
    from: extra.from,
    to: extra.to,
  });
  const instrument = await instrumentFromStore(tape, {});
  return runBacktestStream({
    stream: tape,
    instrument,
    strategy: { name, config },
    latency: 50,
    yieldEvery: extra.yieldEvery,
  });
}

describe('two-clock order across blocks', () => {
  test('random tapes: every block split replays both sides in the one-pass order; the carry stays within the largest feed delay', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 40; trial++) {
      const n = 200 + rng.int(800);
      const events: MarketEvent[] = [];
      let t = 1_000_000;
      for (let i = 0; i < n; i++) {
        t += rng.int(4); // ties on the exchange clock
        // Feed delays: mostly small, some large (a stalled connection), some equal (ties on the receive clock).
        const d = rng.uniform() < 0.05 ? 500 + rng.int(3000) : 20 + rng.int(8) * 10;
        events.push({
          kind: 'bbo',
          coin: 'X',
          exTime: t,
          rxTime: t + d,
          bidPx: 10,
          bidSz: 1,
          askPx: 11,
          askSz: 1,
        });
      }
      const offsetMode = trial % 3 === 0 ? 'max' : trial % 3 === 1 ? 'min' : 40;
      const tape = buildTape(events, [], { coin: 'X', clockOffsetMs: offsetMode });
      const whole = tape.streams();
      const off = tape.clockOffsetMs;
      let maxLag = 0;
      for (const ev of events)
        maxLag = Math.max(maxLag, Math.max(ev.rxTime, ev.exTime + off) - ev.exTime - off);
      const ex = tape.cols.exTime;
      const blocks = new TapeBlocks(off, tape.seq);
      const rxOrder: number[] = [];
      const exOrder: number[] = [];
      let lo = 0;
      while (lo < n) {
        let hi = Math.min(n, lo + 1 + rng.int(60));
        while (hi < n && ex[hi] === ex[hi - 1]) hi++;
        const bound = hi < n ? ex[hi] + off : Number.POSITIVE_INFINITY;
        const b = blocks.inPlace(tape.cols, lo, hi, bound);
        for (let r = b.exLo; r < b.exHi; r++) {
          assert.ok(ex[r] + off < bound, 'the exchange side of a block lies below its bound');
          exOrder.push(r);
        }
        while (b.rxPos < b.rxN && b.rxAt[b.rxPos] < bound) rxOrder.push(b.rxRows[b.rxPos++]);
        // What is carried has rxAt ≥ the bound, and came in within the largest feed delay before it.
        for (let k = b.rxPos; k < b.rxN; k++) {
          assert.ok(b.rxAt[k] >= bound);
          assert.ok(ex[b.rxRows[k]] + off >= bound - maxLag, 'carried rows lie within the max feed delay');
        }
        lo = hi;
      }
      assert.deepEqual(
        exOrder,
        Array.from({ length: n }, (_, r) => r),
      );
      assert.deepEqual(
        rxOrder.map((r) => whole.rxSeq.indexOf(r)),
        Array.from({ length: n }, (_, k) => k),
        `trial ${trial}: receive order across blocks`,
      );
    }
  });

  test('an in-memory backtest gives the same result for any block size, with the events as objects or made from the columns', {
    skip: sharedSkip,
  }, async () => {
    const data = await readSource(SEED_ETH, { coin: 'ETH' });
    const instrument = instrumentFromData('ETH', data.events, {});
    const tape = buildTape(data.events, data.gaps, { coin: 'ETH' });
    // The same columns without the objects they were made from: events made from the columns as the replay
    // goes (what streaming and hyperopt workers do).
    const bare = buildTape(data.events, data.gaps, { coin: 'ETH' });
    bare.cols.objects = undefined;
    for (const [name, config] of [STRATEGIES[0], STRATEGIES[1]]) {
      const one = text(runBacktest({ tape, instrument, strategy: { name, config }, blockRows: 1e9 }));
      for (const blockRows of [1, 97, 4096]) {
        assert.equal(text(runBacktest({ tape, instrument, strategy: { name, config }, blockRows })), one);
        assert.equal(
          text(runBacktest({ tape: bare, instrument, strategy: { name, config }, blockRows })),
          one,
        );
      }
    }
  });
});

describe('streaming a store: the shared ETH recording', { skip: sharedSkip }, () => {
  let store: MarketStore;
  let data: Awaited<ReturnType<typeof readSource>>;
  before(async () => {
    const dir = tempDir();
    store = await openStore(dir);
    await importSource(SEED_ETH, store);
    data = await readSource(dir, { coin: 'ETH' });
  });
  after(async () => store?.close());

  test('tiny chunks, hourly chunks and one chunk give byte-identical results, equal to the in-memory replay', async () => {
    const instrument = instrumentFromData('ETH', data.events, {});
    const tape = buildTape(data.events, data.gaps, { coin: 'ETH' });
    const probe = await StoreTape.open(store, { coin: 'ETH', chunkMs: 20_000 });
    assert.ok(probe.chunks > 60, `${probe.chunks} chunks of 20 s`);
    assert.deepEqual(await instrumentFromStore(probe, {}), instrument);
    for (const [name, config] of STRATEGIES) {
      const memory = text(runBacktest({ tape, instrument, strategy: { name, config }, latency: 50 }));
      // One chunk, the hour (one chunk here too: the recording sits inside an hour), and many small ones.
      const tiny = name === 'cj' ? 20_000 : 90_000;
      for (const chunkMs of [Number.POSITIVE_INFINITY, 3_600_000, tiny]) {
        const r = await streamed(store, 'ETH', name, config, chunkMs);
        assert.equal(text(r), memory, `${name} ${JSON.stringify(config)}, chunks of ${chunkMs} ms`);
      }
    }
  });

  test('windows, clock offsets and the tightest interleaving of reads and replay change nothing', async () => {
    const t0 = data.events[0].exTime;
    const window = { from: t0 + 200_000, to: t0 + 1_000_000 };
    for (const extra of [
      { clockOffsetMs: 'max' as const },
      { clockOffsetMs: 900 },
      window,
      { yieldEvery: 1 },
    ]) {
      const one = await streamed(store, 'ETH', 'cj', {}, Number.POSITIVE_INFINITY, extra);
      const tiny = await streamed(store, 'ETH', 'cj', {}, 15_000, extra);
      assert.equal(text(tiny), text(one), JSON.stringify(extra));
      assert.ok(one.metrics.fills > 0);
    }
  });
});

describe('streaming a store: malformed rows', () => {
  test('the scan counts, times and offset agree with the tape of the same events read whole', async () => {
    const dir = tempDir();
    const store = await openStore(dir);
    try {
      const coin = 'TST';
      const events: MarketEvent[] = [];
      const t0 = Date.UTC(2026, 0, 5, 22, 30);
      const book = (
        t: number,
        d: number,
        bids: [number, number][],
        asks: [number, number][],
      ): MarketEvent => ({
        kind: 'book',
        coin,
        exTime: t,
        rxTime: t + d,
        bids: bids.map(([px, sz]) => ({ px, sz, n: 1 })),
        asks: asks.map(([px, sz]) => ({ px, sz, n: 1 })),
      });
      for (let i = 0; i < 400; i++) {
        const t = t0 + i * 9_000;
        const m = 100 + (i % 7) * 0.1;
        events.push(
          book(
            t,
            300 + (i % 5) * 40,
            [
              [m - 0.05, 1],
              [m - 0.15, 2],
            ],
            [
              [m + 0.05, 1],
              [m + 0.15, 3],
            ],
          ),
        );
        events.push({
          kind: 'bbo',
          coin,
          exTime: t + 3,
          rxTime: t + 250,
          bidPx: m - 0.05,
          bidSz: 1,
          askPx: m + 0.05,
          askSz: 2,
        });
        events.push({
          kind: 'trade',
          coin,
          exTime: t + 5,
          rxTime: t + 260,
          px: m + 0.05,
          sz: 0.5,
          side: 'buy',
          tid: i,
        });
      }
      // Malformed, each with a smaller delay than any good event: a scan that let one through would show in
      // the clock offset.
      const t = t0 + 1_000;
      events.push(
        book(
          t + 1,
          10,
          [
            [100, 1],
            [100.1, 1],
          ],
          [[100.2, 1]],
        ),
      ); // bids not descending
      events.push(book(t + 2, 11, [[100.3, 1]], [[100.2, 1]])); // crossed
      events.push(book(t + 3, 12, [[100, -1]], [[100.2, 1]])); // negative size
      events.push(book(t + 4, 13, [], [])); // empty
      events.push(book(t + 5, 14, [[Number.POSITIVE_INFINITY, 1]], [[100.2, 1]])); // infinite price
      events.push({
        kind: 'bbo',
        coin,
        exTime: t + 6,
        rxTime: t + 20,
        bidPx: 100.2,
        bidSz: 1,
        askPx: 100.2,
        askSz: 1,
      });
      events.push({
        kind: 'bbo',
        coin,
        exTime: t + 7,
        rxTime: t + 21,
        bidPx: Number.NaN,
        bidSz: 0,
        askPx: Number.NaN,
        askSz: 0,
      });
      events.push({
        kind: 'trade',
        coin,
        exTime: t + 8,
        rxTime: t + 22,
        px: Number.NaN,
        sz: 1,
        side: 'sell',
        tid: 9001,
      });
      events.push({
        kind: 'trade',
        coin,
        exTime: t + 9,
        rxTime: t + 23,
        px: 100,
        sz: 0,
        side: 'sell',
        tid: 9002,
      });
      // Valid although odd: a one-sided bbo.
      events.push({
        kind: 'bbo',
        coin,
        exTime: t + 10,
        rxTime: t + 400,
        bidPx: Number.NaN,
        bidSz: 0,
        askPx: 100.2,
        askSz: 1,
      });
      const gaps: Gap[] = [{ coin, kind: 'all', start: t0 + 1_000_000, end: t0 + 1_030_000, reason: 'test' }];
      await store.write(events, gaps);
      const whole = await readSource(dir, { coin });
      const tape = buildTape(whole.events, whole.gaps, { coin });
      for (const chunkMs of [Number.POSITIVE_INFINITY, 600_000, 95_000]) {
        const s = await StoreTape.open(store, { coin, chunkMs });
        assert.deepEqual(s.header.counts, tape.counts);
        assert.equal(s.header.counts.skipped, 9);
        assert.equal(s.header.clockOffsetMs, tape.clockOffsetMs);
        assert.equal(s.header.clockOffsetMs, 247, 'the smallest delay of the valid events (a bbo)');
        assert.equal(s.header.start, tape.start);
        assert.equal(s.header.end, tape.end);
        assert.deepEqual(s.header.gaps, tape.gaps);
        assert.ok(s.chunks > 1 || chunkMs === Number.POSITIVE_INFINITY);
        const instrument = await instrumentFromStore(s, { lotSize: 1 });
        const r = await runBacktestStream({ stream: s, instrument, strategy: { name: 'fixed', config: {} } });
        const m = runBacktest({ tape, instrument, strategy: { name: 'fixed', config: {} } });
        assert.equal(text(r), text(m), `chunks of ${chunkMs} ms`);
      }
    } finally {
      await store.close();
    }
  });
});

describe('streaming a store: several days', { skip: sharedSkip }, () => {
  test('the recording placed on three days (across midnight): chunks of 1 h, 10 min and one chunk agree', async () => {
    const data = await readSource(SEED_ETH, { coin: 'ETH' });
    const base = data.events;
    const day = 86_400_000;
    const first = base[0].exTime;
    // Starts: day 0 at 23:50 (crossing midnight), day 1 at 11:00, day 2 at 05:30 (UTC).
    const startOfDay = Math.floor(first / day) * day;
    const starts = [
      startOfDay + 23 * 3_600_000 + 50 * 60_000,
      startOfDay + day + 11 * 3_600_000,
      startOfDay + 2 * day + 5.5 * 3_600_000,
    ];
    const events: MarketEvent[] = [];
    const gaps: Gap[] = [];
    for (const s of starts) {
      const dt = s - first;
      for (const ev of base) events.push({ ...ev, exTime: ev.exTime + dt, rxTime: ev.rxTime + dt });
      for (const g of data.gaps) gaps.push({ ...g, start: g.start + dt, end: g.end + dt });
    }
    const dir = tempDir();
    const store = await openStore(dir);
    try {
      await store.write(events, gaps);
      const days = new Set((await store.files('ETH', 'book')).map((f) => /date=([^/\\]+)/.exec(f)?.[1]));
      assert.ok(days.size >= 3, `${days.size} days in the store`);
      const tape = tapeFromColumns(prepareEvents(events, 'ETH'), gaps, { coin: 'ETH' });
      const instrument = instrumentFromData('ETH', events, {});
      for (const [name, config] of [STRATEGIES[1], STRATEGIES[0]]) {
        const memory = text(runBacktest({ tape, instrument, strategy: { name, config }, latency: 50 }));
        for (const chunkMs of [Number.POSITIVE_INFINITY, 3_600_000, 600_000]) {
          const r = await streamed(store, 'ETH', name, config, chunkMs);
          assert.equal(text(r), memory, `${name}, chunks of ${chunkMs} ms`);
          assert.equal(r.events.total, tape.length);
        }
      }
    } finally {
      await store.close();
    }
  });
});
