/**
 * cj's inventory control: φ from the inventory target, the drift policy on calibrated D (with its SE), the
 * two-part depth model where the calibration prefers it, the dominance warning, the config rules; and on the
 * real ETH recording, the default config's time at the bounds.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import { instrumentFromData } from '../../src/backtest/setup.ts';
import { buildTape } from '../../src/backtest/tape.ts';
import type { SideDepthModel } from '../../src/calibration/depth-model.ts';
import type { CalibrationResult } from '../../src/calibration/types.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { twoPartCurve } from '../../src/model/fill-rate.ts';
import { solvePhiForTarget } from '../../src/model/inventory.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import type { ModelParams } from '../../src/model/types.ts';
import { CjStrategy } from '../../src/strategies/cj.ts';
import { DEFAULT_INVENTORY_TARGET } from '../../src/strategies/cj-model.ts';
import { type CjConfig, parseStrategyConfig } from '../../src/strategies/config.ts';
import type { ParamFeed } from '../../src/strategies/param-feed.ts';
import { modelStatus } from '../../src/trading/status.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';
import { ETH, makeCtx } from './ctx.ts';

const INF = Number.POSITIVE_INFINITY;
const floorTick = (x: number) => Math.floor(x * 10 + 1e-9) / 10;
const ceilTick = (x: number) => Math.ceil(x * 10 - 1e-9) / 10;
const MID = 3001;

const market = {
  lambdaPlus: 1.6,
  lambdaMinus: 1.1,
  kappaPlus: 8.4,
  kappaMinus: 8.6,
  epsilonPlus: 0.117,
  epsilonMinus: 0.147,
};

function side(
  touchRate: number,
  touchShare: number,
  kappaTail: number,
  use: SideDepthModel['use'],
): SideDepthModel {
  const twoPart = {
    n: 1000,
    touchRate,
    touchRateStderr: 0.03,
    touchShare,
    touchShareStderr: 0.01,
    kappaTail,
    kappaTailStderr: 0.2,
    logLik: 0,
    aic: 0,
    chi2: 0,
    df: 1,
    pValue: 0.3,
  };
  return {
    use,
    n: 1000,
    seconds: 1000,
    exponential: null,
    twoPart,
    likelihoodRatio: 600,
    lrPValue: 0,
    levels: [],
  };
}

/** A calibration with standard errors (D = 0.028 ± ~0.06 at these numbers) and two-part fits. */
function calibration(at: number, over: Partial<CalibrationResult> = {}): CalibrationResult {
  const se = {
    lambdaPlus: 0.05,
    lambdaMinus: 0.04,
    kappaPlus: 0.3,
    kappaMinus: 0.3,
    epsilonPlus: 0.023,
    epsilonMinus: 0.037,
    sigma: 0.02,
    moRatePlus: 0.03,
    moRateMinus: 0.02,
  };
  return {
    coin: 'ETH',
    at,
    ...market,
    sigma: 0.45,
    moRatePlus: 1,
    moRateMinus: 0.7,
    window: { start: at - 1_800_000, end: at, observedSec: 1800 },
    stderr: se,
    samples: {},
    markouts: [
      {
        horizon: '1s',
        horizonSec: 1,
        plus: { mean: market.epsilonPlus, stderr: se.epsilonPlus, n: 1000 },
        minus: { mean: market.epsilonMinus, stderr: se.epsilonMinus, n: 700 },
        covariance: -0.0004,
      },
    ],
    spread: { tick: 0.1, fracAtOneTick: 0.9, meanHalfSpread: 0.06 },
    toxicityPlus: 1,
    toxicityMinus: 1.3,
    source: 'fresh',
    quality: { ok: true, flags: [] },
    markoutHorizon: '1s',
    depthModel: { plus: side(0.98, 0.84, 2.76, 'two-part'), minus: side(0.65, 0.83, 2.65, 'two-part') },
    ...over,
  };
}

/** A feed that hands out one calibration on the first event. */
function feedOf(r: CalibrationResult): ParamFeed {
  let sent = false;
  return {
    onEvent: (ev) => {
      if (sent) return undefined;
      sent = true;
      return { ...r, at: ev.exTime };
    },
    onGap: () => {},
    current: () => undefined,
  };
}

function run(config: Record<string, unknown>, r: CalibrationResult = calibration(0), q = 0) {
  const cfg = parseStrategyConfig({ strategy: 'cj', ...config }) as CjConfig;
  const logs: { msg: string; level?: string; fields?: Record<string, unknown> }[] = [];
  const ctx = makeCtx();
  ctx.log = (msg, fields, level) => logs.push({ msg, level, fields });
  ctx.pos = q * 0.01;
  const s = new CjStrategy(cfg, ETH, cfg.calibrate ? feedOf(r) : undefined);
  s.onBbo(ctx.setBbo(MID - 1, MID + 1), ctx);
  return { s, ctx, logs, d: s.diagnostics() };
}

function base(over: Partial<ModelParams> = {}): ModelParams {
  return { ...market, phi: 0, alpha: 0.001, qMin: -10, qMax: 10, feePerFill: ETH.makerFee * MID, ...over };
}

function assertQuotesAre(s: CjStrategy, table: ReturnType<typeof solveQuotes>, q = 0) {
  const i = q + 10;
  assert.deepEqual(s.lastQuotes, {
    bid: { px: floorTick(MID - table.deltaMinus[i]), sz: 0.01 },
    ask: { px: ceilTick(MID + table.deltaPlus[i]), sz: 0.01 },
  });
}

test('default: φ solved for the inventory target; drift shrunk by its SE; two-part fills where the calibration prefers them', () => {
  const { s, d } = run({});
  const curves = {
    fillPlus: twoPartCurve(0.1, 0.98, 0.84, 2.76),
    fillMinus: twoPartCurve(0.1, 0.65, 0.83, 2.65),
  };
  // D = 0.028 with SE ≈ 0.068 (z < 1): shrink uses 0.
  assert.equal(d.driftUsed, 0);
  assert.ok(Math.abs((d.driftModel as number) - (1.6 * 0.117 - 1.1 * 0.147)) < 1e-12);
  assert.ok((d.driftStderr as number) > 0.05 && (d.driftStderr as number) < 0.09, `SE ${d.driftStderr}`);
  assert.equal(d.depthModelPlus, 'two-part');
  assert.equal(d.phiSource, 'target');
  const sol = solvePhiForTarget(base({ drift: 0, ...curves }), DEFAULT_INVENTORY_TARGET);
  assert.ok(Math.abs((d.phi as number) / sol.phi - 1) < 1e-9, `φ ${d.phi} vs ${sol.phi}`);
  assert.ok(Math.abs((d.inventoryRms as number) - DEFAULT_INVENTORY_TARGET.stdLots!) < 1e-2 * 2);
  assertQuotesAre(s, solveQuotes(base({ drift: 0, phi: d.phi as number, ...curves }), { horizon: INF }));
  // The two-part quotes sit on the grid: mid ± (tick/2 + j·tick).
  const t = s.quoteTable!;
  for (const x of [t.deltaPlus[10], t.deltaMinus[10]]) assert.ok(Math.abs(((x - 0.05) / 0.1) % 1) < 1e-9);
});

test('drift: model keeps D, zero removes it, shrink keeps max(0, 1 − 1/z²) of it', () => {
  const strong = calibration(0, {
    epsilonPlus: 0.2,
    markouts: [
      {
        horizon: '1s',
        horizonSec: 1,
        plus: { mean: 0.2, stderr: 0.01, n: 1000 },
        minus: { mean: 0.147, stderr: 0.01, n: 700 },
        covariance: 0,
      },
    ],
  });
  const D = 1.6 * 0.2 - 1.1 * 0.147;
  const phi = 0.01;
  for (const drift of ['model', 'zero', 'shrink'] as const) {
    const { s, d } = run({ phi, drift, depthModel: 'exponential' }, strong);
    const se = d.driftStderr as number;
    const want = drift === 'model' ? D : drift === 'zero' ? 0 : D * Math.max(0, 1 - (se * se) / (D * D));
    assert.ok(Math.abs((d.driftUsed as number) - want) < 1e-12, `${drift}: ${d.driftUsed} vs ${want}`);
    const p = base({ epsilonPlus: 0.2, phi, ...(drift === 'model' ? {} : { drift: want }) });
    assertQuotesAre(s, solveQuotes(p, { horizon: INF }));
    if (drift !== 'zero') assert.ok((d.driftSkew as number) > 0, `${drift}: D > 0 skews the quotes up`);
  }
});

test('depthModel: exponential ignores the fits; two-part uses them even where the exponential fits', () => {
  const phi = 0.002;
  const exp = run({ phi, depthModel: 'exponential' }).s;
  assertQuotesAre(exp, solveQuotes(base({ phi, drift: 0 }), { horizon: INF }));
  const r = calibration(0);
  r.depthModel!.minus.use = 'exponential';
  const auto = run({ phi }, r).d;
  assert.equal(auto.depthModelPlus, 'two-part');
  assert.equal(auto.depthModelMinus, 'exponential');
  const forced = run({ phi, depthModel: 'two-part' }, r).d;
  assert.equal(forced.depthModelMinus, 'two-part');
  // A finite horizon: auto keeps the exponential (the fill-levels ODE is too slow to re-solve every second).
  const finite = run({ phi, horizon: 3600 }, r).d;
  assert.equal(finite.depthModelPlus, 'exponential');
});

test('a drift that dominates the quotes is logged once as a warning and shown in the diagnostics', () => {
  const { logs, d } = run({ phi: 0.001, drift: 'model', depthModel: 'exponential' });
  assert.equal(d.driftDominates, true);
  assert.ok((d.driftSkew as number) > 0.5 * (d.driftHalfSpread as number));
  const warns = logs.filter((l) => l.level === 'warn');
  assert.equal(warns.length, 1);
  assert.match(warns[0].msg, /drift D dominates the quotes/);
  // The hint says what applies and never suggests the setting in force.
  assert.match(
    String(warns[0].fields?.hint),
    /drift: 'shrink' scales D by its significance, drift: 'zero' ignores it/,
  );
  // Priors carry no SE: under the default `shrink` the warning says why shrink cannot act (and only then).
  const priors = run({ calibrate: false, priors: market, phi: 0.001, depthModel: 'exponential' });
  const pw = priors.logs.filter((l) => l.level === 'warn');
  assert.equal(pw.length, 1);
  assert.match(String(pw[0].fields?.hint), /D has no standard error .* so drift: 'shrink' uses it as given/);
  assert.doesNotMatch(String(pw[0].fields?.hint), /consider drift: 'shrink'/);
  // The paper/live status line carries it (the strategy's diagnostics as the session passes them).
  assert.match(modelStatus(d), /^φ 0\.0010 D [\d.]+ D-DOMINATES$/);
  const calm = run({ phi: 0.001 });
  assert.equal(calm.d.driftDominates, false);
  assert.doesNotMatch(modelStatus(calm.d), /D-DOMINATES/);
  assert.equal(calm.logs.filter((l) => l.level === 'warn').length, 0);
});

test('priors are used as given (no SE to shrink by); config errors name the field and the fix', () => {
  const { d } = run({ calibrate: false, priors: market, phi: 0.002 });
  assert.ok(Math.abs((d.driftUsed as number) - (1.6 * 0.117 - 1.1 * 0.147)) < 1e-12);
  assert.equal(d.phiSource, 'config');
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', phi: 0.01, inventoryTarget: { stdLots: 2 } }),
    /strategy\.inventoryTarget: give phi or inventoryTarget, not both/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', inventoryTarget: {} }),
    /strategy\.inventoryTarget: give stdLots and\/or maxTimeAtBound/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', inventoryTarget: { maxTimeAtBound: 2 } }),
    /strategy\.inventoryTarget\.maxTimeAtBound: must be < 1/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', drift: 'half' }),
    /strategy\.drift: must be 'model', 'shrink' or 'zero'/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', depthModel: 'two-part', horizon: 600 }),
    /strategy\.depthModel: 'two-part' needs horizon 'inf'/,
  );
  const t = parseStrategyConfig({ strategy: 'cj', inventoryTarget: { maxTimeAtBound: 0.05 } }) as CjConfig;
  assert.deepEqual(t.inventoryTarget, { maxTimeAtBound: 0.05 });
});

test('signal imbalance: the drift policy applies to every regime, each D_z shrunk by its own SE', () => {
  const regime = (epsilonPlus: number, seEps: number) => ({
    regime: 0,
    imbalance: [0, 1] as [number, number],
    ...market,
    epsilonPlus,
    moRatePlus: 1,
    moRateMinus: 0.7,
    midDrift: 0,
    stderr: { lambdaPlus: 0.05, lambdaMinus: 0.04, epsilonPlus: seEps, epsilonMinus: seEps },
    source: 'fresh' as const,
    samples: {},
  });
  const r = calibration(0, {
    regimes: {
      count: 2,
      thresholds: [0.5],
      generator: [
        [0, 0.5],
        [0.5, 0],
      ],
      generatorStderr: [
        [0, 0.05],
        [0.05, 0],
      ],
      transitions: [
        [0, 100],
        [100, 0],
      ],
      timeSec: [900, 900],
      occupancy: [0.5, 0.5],
      // Regime 0: D = 1.6·0.5 − 1.1·0.147 = 0.64, SE ≈ 0.02 (kept); regime 1: D ≈ 0.03, SE ≈ 0.06 (dropped).
      params: [regime(0.5, 0.01), regime(0.117, 0.03)],
      quality: { ok: true, flags: [] },
    },
  });
  const { d } = run({ signal: 'imbalance', phi: 0.01 }, r);
  const used = d.regimeDriftUsed as Record<string, number>;
  const D0 = 1.6 * 0.5 - 1.1 * 0.147;
  const se0 = Math.sqrt(
    0.5 ** 2 * 0.05 ** 2 + 0.147 ** 2 * 0.04 ** 2 + 1.6 ** 2 * 0.01 ** 2 + 1.1 ** 2 * 0.01 ** 2,
  );
  assert.ok(Math.abs(used[0] - D0 * (1 - (se0 / D0) ** 2)) < 1e-12, `regime 0: ${used[0]}`);
  assert.equal(used[1], 0);
  const m = run({ signal: 'imbalance', phi: 0.01, drift: 'model' }, r).d.regimeDriftUsed as Record<
    string,
    number
  >;
  assert.ok(Math.abs(m[0] - D0) < 1e-12 && Math.abs(m[1] - (1.6 * 0.117 - 1.1 * 0.147)) < 1e-12);
});

describe('the default cj on the shared ETH recording', { skip: sharedSkip }, () => {
  test('spends at most 20 % of the time at either inventory bound (was 81 % long with φ = 0.001)', async () => {
    const { events, gaps } = await readSource(SEED_ETH, { coin: 'ETH' });
    const instrument = instrumentFromData('ETH', events, { fees: { maker: 0.00015, taker: 0.00045 } });
    const tape = buildTape(events, gaps, { coin: 'ETH' });
    const r = runBacktest({ tape, instrument, strategy: { name: 'cj', config: {} }, latency: 50 });
    const b = r.metrics.timeAtBounds!;
    assert.ok(b.long <= 0.2 && b.short <= 0.2, `time at bounds: long ${b.long}, short ${b.short}`);
    assert.ok(r.metrics.fills > 10, `fills ${r.metrics.fills}`);
    assert.equal(r.diagnostics?.phiSource, 'target');
    // The old default, for contrast: the same data sits at the long bound most of the time.
    const old = runBacktest({
      tape,
      instrument,
      strategy: { name: 'cj', config: { phi: 0.001, drift: 'model', depthModel: 'exponential' } },
      latency: 50,
    });
    assert.ok(old.metrics.timeAtBounds!.long > 0.5, `old default: long ${old.metrics.timeAtBounds!.long}`);
  });

  test('with signal: imbalance, φ from the target on the joint (inventory, regime) law keeps it off the bounds too', async () => {
    const { events, gaps } = await readSource(SEED_ETH, { coin: 'ETH' });
    const instrument = instrumentFromData('ETH', events, { fees: { maker: 0.00015, taker: 0.00045 } });
    const tape = buildTape(events, gaps, { coin: 'ETH' });
    const r = runBacktest({
      tape,
      instrument,
      strategy: { name: 'cj', config: { signal: 'imbalance' } },
      latency: 50,
    });
    const b = r.metrics.timeAtBounds!;
    // With φ solved on the pooled (one-regime) law it sat at the long bound 21 % of the time (22.5 % in all).
    assert.ok(b.long <= 0.2 && b.short <= 0.2, `time at bounds: long ${b.long}, short ${b.short}`);
    assert.ok(r.metrics.fills > 10, `fills ${r.metrics.fills}`);
    const d = r.diagnostics as Record<string, unknown>;
    assert.equal(d.signal, 'imbalance');
    assert.ok(d.regimePhiStatus === 'met' || d.regimePhiStatus === 'unconstrained', `${d.regimePhiStatus}`);
    // The joint law at the solved φ meets the default target (stdLots 2) to the rolling band (5 %).
    assert.ok((d.regimeInventoryRms as number) <= 2 * 1.06, `joint-law RMS ${d.regimeInventoryRms}`);
    // Quoting by regime, with a φ of its own (the regimes' drifts need more than the pooled model's).
    assert.ok(
      (d.regimePhi as number) > 0 && d.regimePhi !== d.phi,
      `regime φ ${d.regimePhi}, pooled ${d.phi}`,
    );
  });
});
