/**
 * The calibration thread (src/backtest/calibration-thread.ts): the strategy's rolling calibrator computed on a
 * worker thread ahead of the replay gives the very results of the synchronous calibrator — whole backtests
 * compared as JSON text on the shared ETH recording (in memory with small blocks, streamed from a store in
 * small chunks, with the recording's gaps), the result codec against real calibration results and awkward
 * numbers, a replay deliberately out of step failing with the named error, a failing worker, and no thread
 * left behind.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ShapeDecoder, ShapeEncoder } from '../../src/backtest/calibration-codec.ts';
import {
  CalibrationThread,
  CalibrationThreadError,
  calibrationThreadsAlive,
  calibrationThreadsStarted,
  wantsCalibrationThread,
} from '../../src/backtest/calibration-thread.ts';
import { type BacktestResult, runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../../src/backtest/setup.ts';
import { instrumentFromStore, runBacktestStream, StoreTape } from '../../src/backtest/stream.ts';
import { buildTape, type Tape } from '../../src/backtest/tape.ts';
import type { CalibrationResult } from '../../src/calibration/types.ts';
import { deliverable } from '../../src/engine/market-filter.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import type { EventColumns } from '../../src/marketdata/columnar.ts';
import type { Gap, MarketEvent } from '../../src/marketdata/events.ts';
import { importSource, readSource } from '../../src/marketdata/source.ts';
import { type MarketStore, openStore } from '../../src/marketdata/store/index.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { EpochContext, runEpoch } from '../../src/optimize/epoch.ts';
import { packEvents } from '../../src/optimize/tape-source.ts';
import type { RollingParamFeed, StrategyName } from '../../src/strategies/index.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const text = (r: BacktestResult) => JSON.stringify(r);

/** Waits (up to 10 s) until every calibration thread has exited. */
async function noThreadLeft(): Promise<void> {
  for (let k = 0; k < 1000 && calibrationThreadsAlive() > 0; k++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(calibrationThreadsAlive(), 0, 'a calibration thread is still running');
}

describe('result codec', () => {
  test('awkward values round-trip exactly; what it cannot carry is refused', () => {
    const enc = new ShapeEncoder();
    const dec = new ShapeDecoder();
    const values: unknown[] = [
      { a: Number.NaN, b: -0, c: Number.POSITIVE_INFINITY, d: Number.NEGATIVE_INFINITY, e: 5e-324 },
      { s: 'fresh', t: true, f: false, z: null, u: undefined, nested: { x: [1, 2, 3], y: [] } },
      { s: 'last-good', t: false, f: true, z: null, u: undefined, nested: { x: [7], y: [] } },
      {
        list: [
          { h: '1s', n: 3 },
          { h: 'next', n: -0 },
        ],
        tuple: [1, 'two', null, [3, [4, 5]]],
      },
      { flags: ['a', 'b', 'a\u2028"\\'], '0': 1, 'key with "quotes"': 2 },
    ];
    for (const v of values) {
      assert.ok(enc.encode(v));
      const defs = enc.takeDefs();
      if (defs) dec.define(defs);
      const back = dec.decode(enc.shape, enc.nums.slice(0, enc.length));
      assert.deepStrictEqual(back, v);
      assert.ok(Object.is((back as { b?: number }).b, (v as { b?: number }).b));
    }
    // Repeated values of a known shape define nothing new.
    assert.ok(enc.encode(values[1]));
    assert.equal(enc.takeDefs(), undefined);
    class Box {
      x = 1;
    }
    const holey: number[] = [1];
    holey[2] = 3;
    for (const bad of [
      { a: new Float64Array(2) },
      { m: new Map() },
      { b: new Box() },
      { h: holey },
      { n: 1n },
      JSON.parse('{"__proto__": 1}'),
    ])
      assert.equal(
        enc.encode(bad),
        false,
        JSON.stringify(bad, (_k, x) => (typeof x === 'bigint' ? 'n' : x)),
      );
  });

  test('real calibration results of the shared ETH recording round-trip exactly', {
    skip: sharedSkip,
  }, async () => {
    const data = await readSource(SEED_ETH, { coin: 'ETH' });
    const instrument = instrumentFromData('ETH', data.events, { lotSize: 0.01 });
    const configs: [StrategyName, Record<string, unknown>][] = [
      ['cj', {}],
      ['cj', { signal: 'imbalance', reference: 'microprice', refreshMs: 5000 }],
      ['glft', {}],
    ];
    for (const [name, config] of configs) {
      const b = buildStrategy(name, config, instrument);
      const feed = (b.strategy as { paramFeed?: RollingParamFeed }).paramFeed as RollingParamFeed;
      const results: CalibrationResult[] = [];
      const inner = feed.onEvent.bind(feed);
      feed.onEvent = (ev: MarketEvent) => {
        const r = inner(ev);
        if (r) results.push(r);
        return r;
      };
      runBacktest({
        events: data.events,
        gaps: data.gaps,
        instrument,
        strategy: b.strategy,
        calibrationThread: 'off',
      });
      assert.ok(results.length > 20, `${name}: ${results.length} results`);
      const enc = new ShapeEncoder();
      const dec = new ShapeDecoder();
      for (const r of results) {
        assert.ok(enc.encode(r));
        const defs = enc.takeDefs();
        if (defs) dec.define(defs);
        assert.deepStrictEqual(dec.decode(enc.shape, enc.nums.slice(0, enc.length)), r);
      }
      assert.ok(dec.shapes <= 4, `${name}: ${dec.shapes} shapes`);
    }
  });
});

describe('calibration thread in a simulated market (trade addresses, a gap)', () => {
  /** The simulated market's parameters (known λ±, κ±, ε±, σ). */
  const world = {
    tick: 0.01,
    mid0: 100,
    lambdaPlus: 1,
    lambdaMinus: 1.2,
    kappaPlus: 15,
    kappaMinus: 12,
    epsilonPlus: 0.01,
    epsilonMinus: 0.012,
    sigma: 0.01,
    bookIntervalMs: 1000,
  };
  const sim = simulateMarket({ ...world, seed: 11, durationSec: 900, withAddresses: true });
  const events = [...sim.events].sort((a, b) => a.exTime - b.exTime || a.rxTime - b.rxTime);
  const t0 = events[0].exTime;
  const gaps: Gap[] = [
    { coin: 'SIM', kind: 'all', start: t0 + 300_000, end: t0 + 330_000, reason: 'test gap' },
  ];
  const instrument = instrumentFromData('SIM', events, { tick: 0.01, szDecimals: 2, lotSize: 0.2 });
  after(noThreadLeft);

  test('cj and glft: on equals off, on heap and on shared columns', () => {
    assert.ok(
      events.some((e) => e.kind === 'trade' && e.buyer !== undefined),
      'trades carry addresses',
    );
    for (const name of ['cj', 'glft'] as const) {
      const run = (mode: 'on' | 'off', shared: boolean) =>
        text(
          runBacktest({
            tape: buildTape(events, gaps, { coin: 'SIM', shared }),
            instrument,
            strategy: { name, config: { refreshMs: 5000 } },
            latency: 20,
            blockRows: 3000,
            calibrationThread: mode,
          }),
        );
      const off = run('off', false);
      assert.ok(JSON.parse(off).params.length > 0);
      assert.equal(run('on', false), off, `${name}: heap columns (copied for the worker)`);
      assert.equal(run('on', true), off, `${name}: shared columns`);
    }
  });

  test('books without a bbo feed (the calibrator quotes from the books; the worker copies their touch only): on equals off', () => {
    const books = simulateMarket({
      ...world,
      seed: 12,
      durationSec: 600,
      withBbo: false,
      bookOnChange: true,
    });
    const evs = [...books.events].sort((a, b) => a.exTime - b.exTime || a.rxTime - b.rxTime);
    assert.ok(!evs.some((e) => e.kind === 'bbo'), 'no bbo events');
    assert.ok(
      evs.some((e) => e.kind === 'book' && e.bids.length > 1),
      'books with depth',
    );
    const inst = instrumentFromData('SIM', evs, { tick: 0.01, szDecimals: 2, lotSize: 0.2 });
    const run = (mode: 'on' | 'off') =>
      text(
        runBacktest({
          tape: buildTape(evs, [], { coin: 'SIM', shared: true }),
          instrument: inst,
          strategy: { name: 'cj', config: { refreshMs: 5000 } },
          latency: 20,
          blockRows: 2000,
          calibrationThread: mode,
        }),
      );
    const off = run('off');
    assert.ok(JSON.parse(off).params.length > 0, 'parameter sets were made');
    assert.equal(run('on'), off);
  });

  test('a hyperopt epoch never starts the thread, whatever the config says', async () => {
    const started = calibrationThreadsStarted();
    const r = await runEpoch(new EpochContext(), {
      run: 't',
      n: 1,
      fold: 1,
      window: { from: t0, to: events[events.length - 1].exTime + 1 },
      params: {},
      prune: null,
      checkpoints: false,
      setup: {
        strategy: 'cj',
        backtest: { latency: '20ms', calibrationThread: 'on' },
        instrument,
        lotFollowsOrderSize: false,
        loss: 'pnl',
        minFills: 0,
      },
      source: packEvents('sim', 'SIM', events, gaps),
    });
    assert.equal(r.error, null);
    assert.ok(r.metrics);
    assert.equal(calibrationThreadsStarted(), started);
  });
});

describe('calibration thread on the shared ETH recording', { skip: sharedSkip }, () => {
  let events: MarketEvent[];
  let gaps: Gap[];
  let instrument: InstrumentSpec;
  let tape: Tape;
  before(async () => {
    const data = await readSource(SEED_ETH, { coin: 'ETH' });
    events = data.events;
    gaps = data.gaps;
    instrument = instrumentFromData('ETH', events, { lotSize: 0.01 });
    tape = buildTape(events, gaps, { coin: 'ETH' });
    assert.ok(tape.gaps.length > 0, 'the recording has gaps');
  });
  after(noThreadLeft);

  const run = (name: StrategyName, mode: 'on' | 'off', extra: { blockRows?: number; config?: object } = {}) =>
    runBacktest({
      tape,
      instrument,
      strategy: { name, config: { ...extra.config } },
      latency: 50,
      blockRows: extra.blockRows,
      calibrationThread: mode,
    });

  test('cj and as: thread on gives the same result as off (in memory, several block sizes)', async () => {
    for (const name of ['cj', 'as'] as const) {
      const off = text(run(name, 'off'));
      const started = calibrationThreadsStarted();
      assert.equal(text(run(name, 'on')), off, `${name}: default blocks`);
      assert.equal(text(run(name, 'on', { blockRows: 1000 })), off, `${name}: blocks of 1000 rows`);
      assert.equal(calibrationThreadsStarted(), started + 2, 'the thread ran');
    }
    const imb = { signal: 'imbalance', reference: 'microprice', refreshMs: 5000 };
    assert.equal(text(run('cj', 'on', { config: imb })), text(run('cj', 'off', { config: imb })));
    await noThreadLeft();
  });

  test("'auto' leaves short tapes, strategies without a calibrator and 'off' alone", () => {
    const cj = buildStrategy('cj', {}, instrument).strategy;
    assert.equal(wantsCalibrationThread(cj, 'off', 1e9), undefined);
    assert.equal(wantsCalibrationThread(cj, 'auto', tape.length), undefined, 'a short tape');
    assert.ok(wantsCalibrationThread(cj, 'on', tape.length));
    assert.equal(wantsCalibrationThread(cj, 'auto', 1e9, 1000), undefined, 'not enough cores');
    assert.ok(wantsCalibrationThread(cj, 'on', 1e9, 1000), "'on' whatever the cores");
    const fixed = buildStrategy('fixed', {}, instrument).strategy;
    assert.equal(wantsCalibrationThread(fixed, 'on', 1e9), undefined);
    const given = buildStrategy('as', { k: 5, sigma: 0.5 }, instrument).strategy;
    assert.equal(
      wantsCalibrationThread(given, 'on', 1e9),
      undefined,
      'as with k and sigma given calibrates nothing',
    );
  });

  /**
   * The strategy side's deliverable events (and, withGaps, the gaps before them, as the replay fires them) fed
   * to a cj feed, through a thread when `thread` is given; the parameter sets it returned.
   */
  const feedAll = (
    events: MarketEvent[],
    withGaps: boolean,
    thread?: (feed: RollingParamFeed) => CalibrationThread,
  ): CalibrationResult[] => {
    const feed = (buildStrategy('cj', {}, instrument).strategy as { paramFeed?: RollingParamFeed })
      .paramFeed as RollingParamFeed;
    const t = thread?.(feed);
    const out: CalibrationResult[] = [];
    try {
      const q = withGaps
        ? tape.gaps
            .filter((g) => g.kind !== 'trade')
            .sort((a, b) => a.start - b.start)
            .map((g) => ({ g, t: g.start + tape.clockOffsetMs }))
        : [];
      let gi = 0;
      for (const ev of events) {
        while (gi < q.length && q[gi].t <= ev.rxTime) feed.onGap(q[gi++].g);
        const r = feed.onEvent(ev);
        if (r) out.push(r);
      }
      t?.finish();
    } finally {
      t?.close();
    }
    return out;
  };
  const replayed = () => tape.streams().rxEvents.filter((e) => deliverable(e, 'ETH'));

  test('a ring of a few records (waits for room, wraps; the head start takes records as they come): the synchronous results', async () => {
    const events = replayed();
    const sync = feedAll(events, true);
    assert.ok(sync.length > 50);
    for (const ringSize of [4096, 6000])
      assert.deepStrictEqual(
        feedAll(events, true, (feed) => CalibrationThread.forTape(feed, tape, 1000, ringSize)),
        sync,
      );
    await noThreadLeft();
  });

  test('a replay out of step fails with the named error (and how to turn the thread off)', async () => {
    const replayed = tape.streams().rxEvents.filter((e) => deliverable(e, 'ETH'));
    const named = (e: unknown) =>
      e instanceof CalibrationThreadError &&
      /out of step/.test(e.message) &&
      /calibration-thread off/.test(e.message);
    const attempt = (events: MarketEvent[], withGaps: boolean, ringSize?: number) =>
      feedAll(events, withGaps, (feed) => CalibrationThread.forTape(feed, tape, 65_536, ringSize));
    // In step (the same events and gaps as the replay's strategy side): no error.
    attempt(replayed, true);
    // One event left out early on: the next result comes from another event.
    assert.throws(() => attempt([...replayed.slice(0, 100), ...replayed.slice(101)], true), named);
    // The gaps left out.
    assert.throws(() => attempt(replayed, false), named);
    // Stopping short: the counts differ at the end.
    assert.throws(() => attempt(replayed.slice(0, replayed.length - 5), true), named);
    await noThreadLeft();
  });

  test('an error in the worker fails the backtest naming the cause; no thread is left', async () => {
    const feed = (buildStrategy('cj', {}, instrument).strategy as { paramFeed?: RollingParamFeed })
      .paramFeed as RollingParamFeed;
    const t = CalibrationThread.forStream(feed, tape);
    try {
      // A chunk the worker cannot read (no kind column): it throws there, and the replay's side reports it.
      const broken = {
        arrays: () => ({ ...tape.cols.arrays(), kind: undefined }),
      } as unknown as EventColumns;
      t.chunk(broken, Number.POSITIVE_INFINITY);
      for (const ev of tape.streams().rxEvents.slice(0, 1000)) feed.onEvent(ev);
      assert.throws(
        () => t.finish(),
        (e: unknown) =>
          e instanceof CalibrationThreadError &&
          /worker failed/.test(e.message) &&
          /TypeError/.test(e.message),
      );
    } finally {
      t.close();
    }
    await noThreadLeft();
  });
});

describe('calibration thread streaming a store (shared ETH recording)', { skip: sharedSkip }, () => {
  let store: MarketStore;
  let dir: string;
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'cjmm-calthread-'));
    store = await openStore(dir);
    await importSource(SEED_ETH, store);
  });
  after(async () => {
    await store?.close();
    rmSync(dir, { recursive: true, force: true });
    await noThreadLeft();
  });

  test('cj and as: thread on equals off, in 5-minute chunks and in one', async () => {
    for (const name of ['cj', 'as'] as const) {
      const out: string[] = [];
      for (const [mode, chunkMs] of [
        ['off', Number.POSITIVE_INFINITY],
        ['on', 300_000],
        ['on', Number.POSITIVE_INFINITY],
      ] as const) {
        const stream = await StoreTape.open(store, { coin: 'ETH', chunkMs });
        const instrument = await instrumentFromStore(stream, {});
        const started = calibrationThreadsStarted();
        out.push(
          text(
            await runBacktestStream({
              stream,
              instrument,
              strategy: { name, config: {} },
              latency: 50,
              calibrationThread: mode,
            }),
          ),
        );
        assert.equal(calibrationThreadsStarted(), started + (mode === 'on' ? 1 : 0));
      }
      assert.equal(out[1], out[0], `${name}: streamed in chunks with the thread`);
      assert.equal(out[2], out[0], `${name}: one chunk with the thread`);
    }
  });
});
