/**
 * The optimiser's pure parts against independent truths: the truncated normal (known values and moments),
 * the Parzen estimator (a density: integrates to 1; an integer one sums to 1), losses, pruning thresholds,
 * parameter importances on functions whose variance decomposition is known, and the walk-forward folds.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { BacktestMetrics } from '../../src/backtest/metrics.ts';
import { makeFolds } from '../../src/optimize/folds.ts';
import { importances } from '../../src/optimize/importance.ts';
import { builtinLoss, calmar, minutePnl, SORTINO_CAP, sortino } from '../../src/optimize/losses.ts';
import { ashaRungs, pruneThresholds, warmupIndex } from '../../src/optimize/pruners.ts';
import { buildParzen, logPdfParzen, sampleParzen } from '../../src/optimize/samplers/tpe/parzen.ts';
import {
  erfc,
  logNormMass,
  normCdf,
  normPpf,
  truncNormSample,
} from '../../src/optimize/samplers/tpe/truncnorm.ts';
import { applyParams, buildSpace, type Dimension } from '../../src/optimize/space.ts';
import { parseStrategyConfig } from '../../src/strategies/config.ts';
import { Rng } from '../../src/util/rng.ts';

const close = (a: number, b: number, tol: number, msg = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b} (tol ${tol})`);

test('truncated normal: erfc, Φ, Φ⁻¹ and tail masses against known values', () => {
  // erfc(1), erfc(2), erfc(3), erfc(5) (Abramowitz & Stegun table 7.1 / exact values).
  for (const [x, v] of [
    [0, 1],
    [1, 0.157299207050285],
    [2, 0.004677734981047266],
    [3, 2.209049699858544e-5],
    [5, 1.537459794428035e-12],
  ])
    close(erfc(x) / v, 1, 2e-7, `erfc(${x})`);
  close(normCdf(1.959963984540054), 0.975, 1e-7);
  for (const p of [1e-10, 0.001, 0.3, 0.5, 0.9, 0.999999])
    close(normCdf(normPpf(p)) / p, 1, 1e-6, `ppf ${p}`);
  // ln(Φ(−8) − Φ(−9)): far tail, no cancellation to zero.
  close(logNormMass(8, 9), Math.log(6.22096057427178e-16 - 1.128588405953e-19), 1e-5);
});

test('truncated normal sampling: moments of N(0,1) on [0, 10] and deep in the tail on [5, 6]', () => {
  const rng = new Rng(5);
  let s1 = 0;
  let s2 = 0;
  const n = 40_000;
  for (let i = 0; i < n; i++) {
    s1 += truncNormSample(rng.uniform(), 0, 1, 0, 10);
    s2 += truncNormSample(rng.uniform(), 0, 1, 5, 6);
  }
  close(s1 / n, Math.sqrt(2 / Math.PI), 0.01, 'half-normal mean');
  // Mean of N(0,1) truncated to [5, 6]: (φ(5) − φ(6)) / (Φ(6) − Φ(5)) = 5.18634…
  const phi = (x: number) => Math.exp((-x * x) / 2) / Math.sqrt(2 * Math.PI);
  close(s2 / n, (phi(5) - phi(6)) / (2.866515718791939e-7 - 9.865876450377e-10), 0.005, 'tail mean');
});

test('Parzen estimator: a density on its range (integrates to 1); integer cells sum to 1; samples follow it', () => {
  const dim: Dimension = { name: 'x', type: 'float', low: 0, high: 10, log: false, integer: false };
  const p = buildParzen(dim, [1, 2, 2.5, 8], [1, 1, 1, 1]);
  let integral = 0;
  const steps = 20_000;
  for (let i = 0; i < steps; i++)
    integral += Math.exp(logPdfParzen(p, ((i + 0.5) / steps) * 10)) * (10 / steps);
  close(integral, 1, 1e-4, 'integral');
  const di: Dimension = { name: 'n', type: 'int', low: 1, high: 12, log: true, integer: true };
  const pi = buildParzen(di, [Math.log(2), Math.log(3), Math.log(9)], [1, 1, 1]);
  let total = 0;
  for (let v = 1; v <= 12; v++) total += Math.exp(logPdfParzen(pi, Math.log(v)));
  close(total, 1, 1e-6, 'cells');
  // Samples: the share below 5 matches the density's mass below 5.
  const xs = sampleParzen(p, 20_000, new Rng(2));
  let mass = 0;
  for (let i = 0; i < 10_000; i++) mass += Math.exp(logPdfParzen(p, ((i + 0.5) / 10_000) * 5)) * (5 / 10_000);
  close(xs.filter((x) => x < 5).length / xs.length, mass, 0.015, 'sample share');
  const cat: Dimension = {
    name: 'm',
    type: 'categorical',
    low: 0,
    high: 2,
    log: false,
    integer: true,
    choices: ['a', 'b', 'c'],
  };
  const pc = buildParzen(cat, [0, 0, 1], [1, 1, 1]);
  close(
    [0, 1, 2].reduce((s, c) => s + Math.exp(logPdfParzen(pc, c)), 0),
    1,
    1e-12,
    'categorical',
  );
  assert.ok(logPdfParzen(pc, 0) > logPdfParzen(pc, 1) && logPdfParzen(pc, 1) > logPdfParzen(pc, 2));
});

function metrics(over: Partial<BacktestMetrics>): BacktestMetrics {
  return {
    netPnl: 0,
    grossSpreadCapture: 0,
    fees: 0,
    inventoryPnl: 0,
    fills: 0,
    makerFills: 0,
    takerFills: 0,
    volume: 0,
    notional: 0,
    quotesPlaced: 0,
    fillRatePerQuote: 0,
    inventory: { mean: 0, std: 0, max: 0, final: 0 },
    timeAtBounds: { long: 0, short: 0, total: 0, boundLots: 5 },
    sharpe: 0,
    sharpeSampling: '',
    maxDrawdown: 0,
    markouts: [],
    quoteUptime: { both: 0, bid: 0, ask: 0 },
    durationSec: 3600,
    pnlAttribution: { spreadCapture: 0, adverseSelection: 0, inventoryCarry: 0, fees: 0, funding: 0 },
    breakEvenMakerFee: null,
    spreadBoundBinding: null,
    requestsPerHour: 0,
    requestsPerUsdTraded: null,
    ...over,
  };
}

test('losses: definitions by hand', () => {
  const info = { minutePnl: [1, -2, 3, -1], params: {}, fraction: 1 };
  // Sortino: mean 0.25, downside deviation √((4 + 1)/4).
  close(sortino(info.minutePnl), (0.25 / Math.sqrt(5 / 4)) * Math.sqrt(525600), 1e-9);
  assert.equal(sortino([1, 2, 3]), SORTINO_CAP);
  assert.equal(sortino([0, 0, 0]), 0);
  const m = metrics({
    netPnl: 2,
    maxDrawdown: 4,
    sharpe: 3,
    timeAtBounds: { long: 0.1, short: 0.15, total: 0.25, boundLots: 5 },
  });
  assert.equal(builtinLoss('pnl')(m, info), -2);
  assert.equal(builtinLoss('sharpe')(m, info), -3);
  close(calmar(m), (2 * 24 * 365) / 4, 1e-9);
  close(builtinLoss('pnl-dd')(m, info), -2 + 4 + 0.25 * (2 + 4), 1e-12);
  // Pinned longer at the bound is always worse; more P&L always better.
  const worse = metrics({ ...m, timeAtBounds: { long: 0.3, short: 0.2, total: 0.5, boundLots: 5 } });
  assert.ok(builtinLoss('pnl-dd')(worse, info) > builtinLoss('pnl-dd')(m, info));
  assert.ok(builtinLoss('pnl-dd')(metrics({ ...m, netPnl: 3 }), info) < builtinLoss('pnl-dd')(m, info));
  // Per-minute increments from a series sampled every 20 s: every third point, the closing sample left out.
  const series = [0, 1, 2, 3, 4, 5, 6, 7].map((k) => ({
    t: k * 20_000,
    mid: 1,
    bid: 1,
    ask: 1,
    position: 0,
    pnl: k * k,
  }));
  assert.deepEqual(minutePnl(series, 20_000, true), [9, 27]);
  assert.deepEqual(minutePnl(series, 20_000, false), [9, 27]);
  assert.deepEqual(minutePnl(series.slice(0, 7), 20_000, false), [9, 27]);
  assert.deepEqual(minutePnl(series.slice(0, 7), 20_000, true), [9]);
});

test('pruning thresholds: median of completed epochs from earlier batches; ASHA rungs at 1, η, η² checkpoints', () => {
  const hist = [
    { status: 'ok' as const, checkpoints: [5, 4, 3, 2, 1, 0, 0, 0, 0] },
    { status: 'ok' as const, checkpoints: [1, 1, 1, 1, 1, 1, 1, 1, 1] },
    { status: 'ok' as const, checkpoints: [3, 3, 3, 3, 3, 3, 3, 3, 3] },
    { status: 'ok' as const, checkpoints: [2, 2, 2, 2, 2, 2, 2, 2, 2] },
    { status: 'pruned' as const, checkpoints: [9, 9, 9] },
  ];
  assert.deepEqual(pruneThresholds('median', hist, { startup: 4, warmup: 2, eta: 3 }), [
    null,
    null,
    2.5,
    2,
    1.5,
    1.5,
    1.5,
    1.5,
    1.5,
  ]);
  assert.deepEqual(pruneThresholds('median', hist, { startup: 5, warmup: 0, eta: 3 }), Array(9).fill(null));
  assert.equal(pruneThresholds('none', hist), null);
  // --prune-warmup as a fraction of the tape: the checkpoints only.
  assert.deepEqual([0.1, 0.3, 0.9].map(warmupIndex), [0, 2, 8]);
  assert.deepEqual([0, 0.35, 1, Number.NaN].map(warmupIndex), [undefined, undefined, undefined, undefined]);
  assert.deepEqual(ashaRungs(3), [0, 2, 8]);
  // Rung 0 (10 %): five values 5,1,3,2,9 → best third = the 2nd smallest (2); rung 2: 3,1,3,2,9 → 2; rung 8: 4 values → 1.
  assert.deepEqual(pruneThresholds('asha', hist, { startup: 0, warmup: 0, eta: 3 }), [
    2,
    null,
    2,
    null,
    null,
    null,
    null,
    null,
    1,
  ]);
});

test('importances: a linear function with known main-effect shares, and a pure interaction', () => {
  const rng = new Rng(11);
  const X = Array.from({ length: 500 }, () => [rng.uniform(), rng.uniform(), rng.uniform()]);
  // f = 4 x1 + x2: variances 16/12 and 1/12 → shares 16/17, 1/17, 0.
  const imp = importances(
    X,
    X.map(([a, b]) => 4 * a + b),
  );
  close(imp[0], 16 / 17, 0.05, 'x1');
  close(imp[1], 1 / 17, 0.03, 'x2');
  close(imp[2], 0, 0.02, 'x3');
  // f = (x1 − ½)(x2 − ½): no main effects at all, everything is interaction.
  const inter = importances(
    X,
    X.map(([a, b]) => (a - 0.5) * (b - 0.5)),
  );
  for (const s of inter) assert.ok(s < 0.12, `interaction-only share ${s}`);
  // f = sin(2π x3): all of it on x3.
  const third = importances(
    X,
    X.map(([, , c]) => Math.sin(2 * Math.PI * c)),
  );
  assert.ok(third[2] > 0.9 && third[0] < 0.03 && third[1] < 0.03, `${third}`);
});

test('folds: one train/test split, the whole range with --train 1, and walk-forward windows tiling the end', () => {
  assert.deepEqual(makeFolds({ from: 0, to: 1000 }, 0.7), [
    { index: 1, train: { from: 0, to: 700 }, test: { from: 700, to: 1000 } },
  ]);
  assert.deepEqual(makeFolds({ from: 0, to: 1000 }, 1), [
    { index: 1, train: { from: 0, to: 1000 }, test: null },
  ]);
  const wf = makeFolds({ from: 0, to: 1000 }, 0.75, 4);
  // L = 1000 / (4 + 3) ≈ 142.857, train 3L ≈ 428.6.
  assert.equal(wf.length, 4);
  for (const f of wf) {
    assert.ok(f.test);
    close((f.train.to - f.train.from) / (f.test.to - f.test.from), 3, 0.05);
    assert.equal(f.train.to, f.test.from);
  }
  for (let i = 1; i < 4; i++) assert.equal(wf[i].test?.from, wf[i - 1].test?.to);
  assert.equal(wf[3].test?.to, 1000);
  assert.throws(() => makeFolds({ from: 0, to: 1000 }, 1, 3), /--train must be < 1/);
});

test('space: cj’s inventory target is tunable as a nested key; φ and the target exclude each other', () => {
  const dims = buildSpace('cj', ['inventoryTarget.stdLots', 'qMax=2:12']);
  assert.deepEqual(
    dims.map((d) => [d.name, d.low, d.high, d.log ?? false]),
    [
      ['inventoryTarget.stdLots', 0.5, 8, true],
      ['qMax', 2, 12, false],
    ],
  );
  const cfg = applyParams(
    'cj',
    { inventoryTarget: { maxTimeAtBound: 0.05 }, phi: 0.01, signal: 'imbalance' },
    {
      'inventoryTarget.stdLots': 1.5,
      qMax: 6,
    },
  );
  assert.deepEqual(cfg, {
    strategy: 'cj',
    inventoryTarget: { maxTimeAtBound: 0.05, stdLots: 1.5 },
    signal: 'imbalance',
    qMax: 6,
  });
  // The config accepts it; tuning φ drops a configured target.
  parseStrategyConfig(cfg);
  assert.deepEqual(applyParams('cj', { inventoryTarget: { stdLots: 2 } }, { phi: 0.001 }), {
    strategy: 'cj',
    phi: 0.001,
  });
  assert.throws(() => buildSpace('cj', ['phi', 'inventoryTarget.stdLots']), /cannot both be tuned/);
});
