/**
 * How epochs reach the threads: the tape modes (event objects made once per thread, or the shared columns read
 * in place) give byte-identical results, and `auto` picks by the objects' size; with the random sampler and no
 * pruning, epochs stream through the executor with no batch barrier (a later batch starts while an earlier
 * epoch still runs) and the proposals are exactly the batch-by-batch ones, also after a stop and resume.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instrumentFromData } from '../../src/backtest/setup.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { EpochContext, type EpochJob, type EpochResult, runEpoch } from '../../src/optimize/epoch.ts';
import { makeFolds } from '../../src/optimize/folds.ts';
import { type RunSettings, runHyperopt, toTrial } from '../../src/optimize/hyperopt.ts';
import { type Executor, LocalPool } from '../../src/optimize/pool.ts';
import { RandomSampler } from '../../src/optimize/samplers/random.ts';
import { TpeSampler } from '../../src/optimize/samplers/tpe/sampler.ts';
import type { Trial } from '../../src/optimize/samplers/types.ts';
import { batchRng } from '../../src/optimize/seed.ts';
import { buildSpace } from '../../src/optimize/space.ts';
import { ResultsStore } from '../../src/optimize/store.ts';
import { objectBytes, packEvents, resolveTapeMode } from '../../src/optimize/tape-source.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-pipeline-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const sim = simulateMarket({
  seed: 11,
  durationSec: 300,
  tick: 0.01,
  mid0: 100,
  lambdaPlus: 1,
  lambdaMinus: 1.1,
  kappaPlus: 15,
  kappaMinus: 12,
  epsilonPlus: 0.01,
  epsilonMinus: 0.012,
  sigma: 0.01,
  bookIntervalMs: 1000,
  withAddresses: true,
});
// Receive order differs from exchange order here (the columns carry input positions).
const events = [...sim.events].sort((a, b) => a.rxTime - b.rxTime);
const source = packEvents('pipe', 'SIM', events, []);
const instrument = instrumentFromData('SIM', events, {
  tick: 0.01,
  szDecimals: 2,
  lotSize: 0.2,
  fees: { maker: 0, taker: 0.00045 },
});
const range = { from: source.cols.exTime[0], to: source.cols.exTime[source.n - 1] + 1 };

function job(n: number, strategy: 'fixed' | 'cj', params: Record<string, number>): EpochJob {
  return {
    run: 't',
    n,
    fold: 1,
    window: range,
    params,
    prune: null,
    checkpoints: true,
    keepSeries: true,
    setup: {
      strategy,
      baseStrategy: strategy === 'fixed' ? { maxPosition: 5 } : {},
      backtest: { latency: '20ms' },
      instrument,
      lotFollowsOrderSize: false,
      loss: 'sharpe',
      minFills: 1,
    },
    source,
  };
}

/** An epoch's result without its timings and thread (what must not depend on how it ran). */
function outcome(r: EpochResult): string {
  const { ms: _ms, cpuMs: _cpu, worker: _w, ...rest } = r;
  return JSON.stringify(rest);
}

test('tape modes: event objects made once per thread and the columns read in place give byte-identical epochs (fixed, cj); auto picks by size', async () => {
  const objects = new EpochContext('objects');
  const columns = new EpochContext('columns');
  const cases: ['fixed' | 'cj', Record<string, number>][] = [
    ['fixed', { halfSpreadTicks: 2 }],
    ['fixed', { halfSpreadTicks: 6 }],
    ['cj', {}],
    ['cj', { phi: 1e-3, orderSize: 0.4 }],
  ];
  let fills = 0;
  for (const [i, [strategy, params]] of cases.entries()) {
    const a = await runEpoch(objects, job(i + 1, strategy, params));
    const b = await runEpoch(columns, job(i + 1, strategy, params));
    assert.equal(a.error, null, `${strategy}: ${a.error}`);
    assert.equal(outcome(a), outcome(b), `${strategy} ${JSON.stringify(params)}`);
    fills += a.metrics?.fills ?? 0;
  }
  assert.ok(fills > 0, 'the epochs traded');
  assert.equal(objects.modes.get('pipe'), 'objects');
  assert.equal(columns.modes.get('pipe'), 'columns');
  assert.equal(objects.views, 1);
  // auto: objects while all threads' objects fit the budget, else the columns.
  const each = objectBytes(source);
  assert.ok(each > 200 * source.n, 'the estimate counts every event and level');
  assert.equal(resolveTapeMode('auto', source, 2, 64 * each), 'objects');
  assert.equal(resolveTapeMode('auto', source, 8, 64 * each), 'columns');
  assert.equal(resolveTapeMode('objects', source, 8, 1), 'objects');
  // The pool's threads take the mode from the pool: both give the in-process results.
  for (const mode of ['objects', 'columns'] as const) {
    const pool = new LocalPool(2, mode);
    try {
      const viaPool = await Promise.all(cases.map(([st, p], i) => pool.run(job(i + 1, st, p))));
      for (const [i, [st, p]] of cases.entries())
        assert.equal(outcome(viaPool[i]), outcome(await runEpoch(columns, job(i + 1, st, p))), mode);
    } finally {
      await pool.close();
    }
  }
});

/** Runs epochs in process; holds epoch `hold` until `release` epochs have been dispatched after it. */
class HoldingExecutor implements Executor {
  readonly description = 'test';
  readonly ctx = new EpochContext('objects');
  dispatched: number[] = [];
  /** Epochs dispatched while `hold` was still running. */
  overlapped: number[] = [];
  private holding = false;
  private wake: (() => void) | undefined;
  private readonly hold: number;
  private readonly release: number;
  constructor(hold: number, release: number) {
    this.hold = hold;
    this.release = release;
  }
  async run(j: EpochJob): Promise<EpochResult> {
    this.dispatched.push(j.n);
    if (this.holding) {
      this.overlapped.push(j.n);
      if (this.overlapped.length >= this.release) this.wake?.();
    }
    if (j.n === this.hold) {
      this.holding = true;
      // Released by later dispatches, or after a while if none come (a barrier: the test then fails).
      await new Promise<void>((res) => {
        this.wake = res;
        let ticks = 0;
        const spin = () => (++ticks > 200 ? res() : setImmediate(spin));
        setImmediate(spin);
      });
      this.holding = false;
    }
    return runEpoch(this.ctx, j);
  }
  async close(): Promise<void> {}
}

test('random sampler, --prune none: no batch barrier (a later batch runs while an earlier epoch is held), proposals as batch by batch, stop + resume equal', async () => {
  const space = buildSpace('fixed', ['halfSpreadTicks=1:30:int'], [], instrument);
  const settings: RunSettings = {
    version: 1,
    strategy: 'fixed',
    coin: 'SIM',
    data: 'pipe',
    from: null,
    to: null,
    range,
    space,
    epochs: 9,
    jobs: 2,
    sampler: 'random',
    seed: 5,
    prune: 'none',
    loss: 'pnl',
    minFills: 1,
    train: 1,
    walkForward: null,
    folds: makeFolds(range, 1),
    setup: job(0, 'fixed', {}).setup,
  };
  const ex = new HoldingExecutor(1, 3);
  const store = new ResultsStore(join(dir, 'pipe.sqlite'));
  await runHyperopt(settings, 'p', store, ex, source);
  const epochs = store.epochs();
  store.close();
  assert.equal(epochs.length, 9);
  assert.deepEqual(
    ex.overlapped.slice(0, 3),
    [2, 3, 4],
    'epochs of batches 1 and 2 ran while epoch 1 was held',
  );
  // Proposals: batch b from the parameter sets of batches < b, as the barrier loop makes them.
  const history: Trial[] = [];
  for (let b = 0; b < 5; b++) {
    const count = Math.min(2, 9 - 2 * b);
    const want = new RandomSampler().suggest(space, history, count, batchRng(5, 1, b));
    for (let i = 0; i < count; i++) {
      const e = epochs[2 * b + i];
      assert.equal(e.batch, b);
      assert.deepEqual(e.params, want[i], `epoch ${e.n}`);
      history.push({ n: e.n, params: e.params, status: 'ok', loss: null });
    }
  }
  // Stopped after 4 dispatches, then resumed: the same epochs.
  const store2 = new ResultsStore(join(dir, 'pipe2.sqlite'));
  const ex2 = new HoldingExecutor(-1, 0);
  assert.equal(
    await runHyperopt(settings, 'p', store2, ex2, source, { stop: () => ex2.dispatched.length >= 4 }),
    'stopped',
  );
  assert.equal(store2.epochs().length, 4);
  assert.equal(await runHyperopt(settings, 'p', store2, ex2, source), 'done');
  const resumed = store2.epochs();
  store2.close();
  const strip = (e: (typeof epochs)[number]) => ({ ...e, ms: 0, worker: null, finishedAt: 0 });
  assert.deepEqual(resumed.map(strip), epochs.map(strip));
});

test('TPE with --lag 0 (a barrier) and --lag 1 (batch b proposed once b − 2 is done, b − 1 as liars): proposals as specified, no idle wait with lag 1, stop + resume equal', async () => {
  const space = buildSpace('fixed', ['halfSpreadTicks=1:30:int', 'maxPosition=2:8:int'], [], instrument);
  for (const lag of [0, 1]) {
    const settings: RunSettings = {
      version: 1,
      strategy: 'fixed',
      coin: 'SIM',
      data: 'pipe',
      from: null,
      to: null,
      range,
      space,
      epochs: 16,
      jobs: 2,
      sampler: 'tpe',
      seed: 3,
      prune: 'median',
      loss: 'pnl',
      minFills: 1,
      train: 1,
      walkForward: null,
      lag,
      folds: makeFolds(range, 1),
      setup: { ...job(0, 'fixed', {}).setup, baseStrategy: {} },
    };
    const ex = new HoldingExecutor(1, 3);
    const store = new ResultsStore(join(dir, `tpe-lag${lag}.sqlite`));
    await runHyperopt(settings, 'p', store, ex, source);
    const epochs = store.epochs();
    store.close();
    assert.equal(epochs.length, 16);
    // While epoch 1 is held: with a barrier only its batch-mate runs; with lag 1 also the next batch.
    assert.deepEqual(ex.overlapped.slice(0, 3), lag === 0 ? [2] : [2, 3, 4], `lag ${lag}`);
    const tpe = new TpeSampler();
    for (let b = 0; b < 8; b++) {
      const seen = b - 1 - Math.min(lag, b);
      const history = epochs.filter((e) => e.batch <= seen).map(toTrial);
      const pending = epochs.filter((e) => e.batch > seen && e.batch < b).map((e) => e.params);
      const want = tpe.suggest(space, history, 2, batchRng(3, 1, b), pending);
      assert.deepEqual(
        epochs.filter((e) => e.batch === b).map((e) => e.params),
        want,
        `lag ${lag}, batch ${b}`,
      );
    }
    // Stopped after 7 dispatches (mid-batch), then resumed: the same epochs.
    const store2 = new ResultsStore(join(dir, `tpe-lag${lag}-resumed.sqlite`));
    const ex2 = new HoldingExecutor(-1, 0);
    const stop = () => ex2.dispatched.length >= 7;
    assert.equal(await runHyperopt(settings, 'p', store2, ex2, source, { stop }), 'stopped');
    assert.ok(store2.epochs().length < 16);
    assert.equal(await runHyperopt(settings, 'p', store2, ex2, source), 'done');
    const resumed = store2.epochs();
    store2.close();
    const strip = (e: (typeof epochs)[number]) => ({ ...e, ms: 0, worker: null, finishedAt: 0 });
    assert.deepEqual(resumed.map(strip), epochs.map(strip), `lag ${lag}`);
  }
});
