/**
 * A small simulated market (src/model/market-sim.ts) where the best fixed half-spread is known by brute force:
 * every half-spread of the grid 0..99 ticks is backtested, then `hyperopt` (TPE, the real orchestrator and
 * thread pool) searches the same grid with 32 epochs. Criterion: over seeds 1–5, its best loss equals the
 * grid's minimum (finds it or ties it) in at least 4 runs. Random search with 32 of 100 points hits the
 * single best point with probability 1 − 0.99³² ≈ 0.28 per run, so 4 of 5 by luck has probability ≈ 0.017.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { instrumentFromData } from '../../src/backtest/setup.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { EpochContext, runEpoch } from '../../src/optimize/epoch.ts';
import { makeFolds } from '../../src/optimize/folds.ts';
import { bestOf, type RunSettings, runHyperopt } from '../../src/optimize/hyperopt.ts';
import { LocalPool } from '../../src/optimize/pool.ts';
import { buildSpace } from '../../src/optimize/space.ts';
import { ResultsStore } from '../../src/optimize/store.ts';
import { packEvents } from '../../src/optimize/tape-source.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-world-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('hyperopt finds (or ties) the brute-force best half-spread of a simulated market in 32 of 100 grid epochs', async () => {
  const sim = simulateMarket({
    seed: 3,
    durationSec: 600,
    tick: 0.01,
    mid0: 100,
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 15,
    kappaMinus: 15,
    epsilonPlus: 0.01,
    epsilonMinus: 0.01,
    sigma: 0.01,
    bookIntervalMs: 1000,
  });
  const events = [...sim.events].sort((a, b) => a.exTime - b.exTime);
  const shared = packEvents('world', 'SIM', events, []);
  const instrument = instrumentFromData('SIM', events, {
    tick: 0.01,
    szDecimals: 2,
    lotSize: 0.2,
    fees: { maker: 0, taker: 0.00045 },
  });
  const range = { from: events[0].exTime, to: events[events.length - 1].exTime + 1 };
  const setup = {
    strategy: 'fixed' as const,
    baseStrategy: { maxPosition: 8 },
    backtest: { latency: '20ms' },
    instrument,
    lotFollowsOrderSize: false,
    loss: 'pnl',
    minFills: 10,
  };
  // Brute force over the whole grid.
  const ctx = new EpochContext();
  let gridBest = Number.POSITIVE_INFINITY;
  let gridArg = -1;
  for (let h = 0; h <= 99; h++) {
    const r = await runEpoch(ctx, {
      run: 'grid',
      n: h + 1,
      fold: 1,
      window: range,
      params: { halfSpreadTicks: h },
      prune: null,
      checkpoints: false,
      setup,
      source: shared,
    });
    if (r.status === 'ok' && (r.loss as number) < gridBest) {
      gridBest = r.loss as number;
      gridArg = h;
    }
  }
  assert.ok(gridArg > 0 && gridArg < 99, `interior optimum (got ${gridArg})`);
  const space = buildSpace('fixed', ['halfSpreadTicks=0:99:int'], [], instrument);
  const pool = new LocalPool(2);
  const found: { seed: number; loss: number; h: number; at: number }[] = [];
  try {
    for (const seed of [1, 2, 3, 4, 5]) {
      const s: RunSettings = {
        version: 1,
        strategy: 'fixed',
        coin: 'SIM',
        data: 'world',
        from: null,
        to: null,
        range,
        space,
        epochs: 32,
        jobs: 2,
        sampler: 'tpe',
        seed,
        prune: 'none',
        loss: 'pnl',
        minFills: 10,
        train: 1,
        walkForward: null,
        folds: makeFolds(range, 1),
        setup,
      };
      const store = new ResultsStore(join(dir, `seed${seed}.sqlite`));
      await runHyperopt(s, `world${seed}`, store, pool, shared);
      const b = bestOf(store.epochs());
      assert.ok(b);
      found.push({ seed, loss: b.loss as number, h: b.params.halfSpreadTicks as number, at: b.n });
      store.close();
    }
  } finally {
    await pool.close();
  }
  console.log(
    `grid best ${gridBest} at ${gridArg} ticks; hyperopt: ${found.map((f) => `seed ${f.seed}: ${f.h} ticks (epoch ${f.at})`).join(', ')}`,
  );
  for (const f of found) assert.ok(f.loss >= gridBest, 'nothing beats the whole grid');
  const hits = found.filter((f) => f.loss === gridBest).length;
  assert.ok(hits >= 4, `found the grid optimum in ${hits} of 5 runs`);
});
