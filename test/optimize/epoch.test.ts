/**
 * The seam between the backtester and the optimiser: the shared-memory tape reproduces the events exactly,
 * the checkpoint hook changes no result when it does not stop (and stops where asked), per-minute P&L read off
 * the series reproduces the backtest's own Sharpe, a worker context decodes its data once for many epochs, and
 * the pool runs epochs in threads with the same results as in-process.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../../src/backtest/setup.ts';
import { buildTape } from '../../src/backtest/tape.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { EpochContext, type EpochJob, runEpoch } from '../../src/optimize/epoch.ts';
import { minutePnl } from '../../src/optimize/losses.ts';
import { LocalPool } from '../../src/optimize/pool.ts';
import { CHECKPOINTS } from '../../src/optimize/pruners.ts';
import { packEvents, sharedColumns } from '../../src/optimize/tape-source.ts';

const sim = simulateMarket({
  seed: 7,
  durationSec: 420,
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
  withAddresses: true,
});
const events = [...sim.events].sort((a, b) => a.exTime - b.exTime || a.rxTime - b.rxTime);
const gaps = [
  {
    coin: 'SIM',
    kind: 'all' as const,
    start: events[0].exTime + 100_000,
    end: events[0].exTime + 110_000,
    reason: 'test gap',
  },
];
const instrument = instrumentFromData('SIM', events, {
  tick: 0.01,
  szDecimals: 2,
  lotSize: 0.2,
  fees: { maker: 0, taker: 0.00045 },
});

function fixedRun(extra: Partial<Parameters<typeof runBacktest>[0]> = {}) {
  const b = buildStrategy('fixed', { halfSpreadTicks: 4, maxPosition: 5 }, instrument);
  return runBacktest({
    tape: buildTape(events, gaps, { coin: 'SIM' }),
    instrument,
    strategy: b.strategy,
    risk: b.risk,
    orderManager: b.orderManager,
    boundLots: b.boundLots,
    latency: 20,
    ...extra,
  });
}

test('shared-memory tape: the columns hold the valid events in exchange order (book levels, trade strings, one-sided bbo), on shared memory', () => {
  const oneSided = {
    kind: 'bbo' as const,
    coin: 'SIM',
    exTime: 1e13,
    rxTime: 1e13 + 5,
    bidPx: Number.NaN,
    bidSz: Number.NaN,
    askPx: 101,
    askSz: 2,
  };
  const crossed = { ...oneSided, exTime: 1e13 + 1, bidPx: 102, bidSz: 1 };
  const withOdd = [...events, oneSided, crossed];
  const shared = packEvents('k', 'SIM', withOdd, gaps);
  assert.ok(shared.cols.exTime.buffer instanceof SharedArrayBuffer, 'columns on shared memory');
  assert.ok(!Array.isArray(shared.cols.strings), 'trade strings packed into shared bytes');
  // What a worker receives is a structured clone: the same memory, read in place.
  const clone = structuredClone(shared);
  const saved = shared.cols.lvPx[0];
  clone.cols.lvPx[0] = -1;
  assert.equal(shared.cols.lvPx[0], -1, 'a clone writes the same memory');
  clone.cols.lvPx[0] = saved;
  const { cols, skipped } = sharedColumns(clone);
  assert.equal(skipped, 1, 'the crossed bbo is malformed');
  const back = Array.from({ length: cols.length }, (_, r) => cols.event(r));
  const valid = [...events, oneSided].sort((a, b) => a.exTime - b.exTime);
  assert.deepEqual(back, valid);
  assert.deepEqual(clone.gaps, gaps);
  assert.ok(
    back.some((e) => e.kind === 'trade' && e.buyer !== undefined),
    'trade addresses kept',
  );
});

test('checkpoint hook: results unchanged when it never stops; a stop ends the replay at that fraction', () => {
  const plain = fixedRun();
  const seen: number[] = [];
  const watched = fixedRun({
    checkpoints: {
      fractions: CHECKPOINTS,
      onCheckpoint: (c) => {
        seen.push(c.fraction);
        assert.ok(c.metrics.durationSec > 0 && c.metrics.durationSec < plain.metrics.durationSec);
        return true;
      },
    },
  });
  assert.deepEqual(seen, CHECKPOINTS);
  assert.equal(JSON.stringify(watched), JSON.stringify(plain));
  assert.equal('stoppedAt' in plain, false);
  const stopped = fixedRun({ checkpoints: { fractions: CHECKPOINTS, onCheckpoint: (c) => c.index < 2 } });
  assert.equal(stopped.stoppedAt, 0.3);
  assert.ok(stopped.metrics.durationSec < 0.45 * plain.metrics.durationSec);
  assert.ok(stopped.metrics.fills <= plain.metrics.fills);
});

test('per-minute P&L read off the series reproduces the backtest Sharpe (60 s and 5 s sampling)', () => {
  for (const sampleMs of [60_000, 5000]) {
    const r = fixedRun({ sampleMs });
    const inc = minutePnl(r.series, sampleMs, true);
    assert.equal(inc.length, Math.floor(r.metrics.durationSec / 60));
    const m = inc.reduce((a, b) => a + b, 0) / inc.length;
    const v = inc.reduce((a, b) => a + (b - m) ** 2, 0) / (inc.length - 1);
    const sharpe = (m / Math.sqrt(v)) * Math.sqrt(525600);
    assert.ok(
      Math.abs(sharpe - r.metrics.sharpe) <= 1e-9 * Math.max(1, Math.abs(sharpe)),
      `${sharpe} vs ${r.metrics.sharpe}`,
    );
  }
});

function job(
  n: number,
  params: Record<string, number>,
  source = packEvents('sim', 'SIM', events, gaps),
): EpochJob {
  return {
    run: 't',
    n,
    fold: 1,
    window: { from: events[0].exTime, to: events[events.length - 1].exTime + 1 },
    params,
    prune: null,
    checkpoints: true,
    setup: {
      strategy: 'fixed',
      baseStrategy: { maxPosition: 5 },
      backtest: { latency: '20ms' },
      instrument,
      lotFollowsOrderSize: false,
      loss: 'pnl',
      minFills: 5,
    },
    source,
  };
}

test('an epoch equals the same backtest run directly; a context views its shared data once for many epochs', async () => {
  const ctx = new EpochContext();
  const source = packEvents('sim', 'SIM', events, gaps);
  const r = await runEpoch(ctx, job(1, { halfSpreadTicks: 4 }, source));
  const direct = fixedRun();
  assert.deepEqual(r.metrics, direct.metrics);
  assert.equal(r.loss, -direct.metrics.netPnl);
  assert.equal(r.status, 'ok');
  assert.equal(r.checkpoints.length, CHECKPOINTS.length);
  for (const h of [1, 2, 3]) await runEpoch(ctx, job(h + 1, { halfSpreadTicks: h }, source));
  assert.equal(ctx.views, 1);
  // Pruned: a threshold below every running loss stops it at the first tested checkpoint.
  const p = await runEpoch(ctx, {
    ...job(9, { halfSpreadTicks: 4 }, source),
    prune: [null, null, -1e9, null, null, null, null, null, null],
  });
  assert.equal(p.status, 'pruned');
  assert.equal(p.prunedAt, 0.3);
  assert.equal(p.prunedStep, 2);
  assert.equal(p.loss, null);
  assert.deepEqual(p.checkpoints, r.checkpoints.slice(0, 3));
  // Infeasible: fewer fills than the minimum.
  const inf = await runEpoch(ctx, {
    ...job(10, { halfSpreadTicks: 4 }, source),
    setup: { ...job(0, {}).setup, minFills: 1e9 },
  });
  assert.equal(inf.status, 'infeasible');
  assert.equal(inf.loss, r.loss);
});

test('the thread pool gives the in-process results', async () => {
  const pool = new LocalPool(2);
  try {
    const source = packEvents('sim', 'SIM', events, gaps);
    const ctx = new EpochContext();
    const params = [1, 3, 5, 8].map((h) => ({ halfSpreadTicks: h }));
    const viaPool = await Promise.all(params.map((p, i) => pool.run(job(i + 1, p, source))));
    for (let i = 0; i < params.length; i++) {
      const local = await runEpoch(ctx, job(i + 1, params[i], source));
      assert.deepEqual(viaPool[i].metrics, local.metrics);
      assert.equal(viaPool[i].loss, local.loss);
      assert.deepEqual(viaPool[i].checkpoints, local.checkpoints);
      assert.match(viaPool[i].worker ?? '', /^thread \d+$/);
    }
  } finally {
    await pool.close();
  }
});

test('the pool: ready after start, more jobs than threads × depth keep their order-free results, a job that throws rejects alone', async () => {
  const pool = new LocalPool(2, 'columns', 2);
  try {
    await pool.ready();
    assert.equal(pool.capacity, 4);
    const source = packEvents('sim', 'SIM', events, gaps);
    const ctx = new EpochContext();
    const halves = [1, 2, 3, 4, 5, 6, 7, 8, 9];
    const broken: EpochJob = {
      ...job(99, { halfSpreadTicks: 2 }, source),
      setup: { ...job(0, {}).setup, loss: '/nonexistent/loss-module.ts' },
    };
    const runs = halves.map((h, i) => pool.run(job(i + 1, { halfSpreadTicks: h }, source)));
    const bad = assert.rejects(pool.run(broken), /cannot load the module/);
    const viaPool = await Promise.all(runs);
    await bad;
    for (let i = 0; i < halves.length; i++) {
      const local = await runEpoch(ctx, job(i + 1, { halfSpreadTicks: halves[i] }, source));
      assert.equal(viaPool[i].n, i + 1);
      assert.deepEqual(viaPool[i].metrics, local.metrics);
    }
    // Still working after the failure (the same threads: the data was sent to each once).
    const again = await pool.run(job(50, { halfSpreadTicks: 4 }, source));
    assert.equal(again.status, 'ok');
  } finally {
    await pool.close();
  }
  await assert.rejects(pool.run(job(51, { halfSpreadTicks: 4 }, packEvents('sim', 'SIM', events, gaps))));
});

test('a pool whose threads cannot load their code: ready() and run() reject with the cause, no endless respawns', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-pool-'));
  const script = join(dir, 'broken-thread.mjs');
  writeFileSync(script, "throw new Error('cannot start: test');\n");
  const pool = new LocalPool(2, 'columns', 2, pathToFileURL(script));
  try {
    await assert.rejects(pool.ready(), /cannot start: test/);
    await assert.rejects(pool.run(job(1, { halfSpreadTicks: 4 })), /cannot start: test/);
  } finally {
    await pool.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
