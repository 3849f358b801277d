import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { CalibrationResult } from '../../src/calibration/types.ts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import type { ModelParams } from '../../src/model/types.ts';
import { CjStrategy } from '../../src/strategies/cj.ts';
import { type CjConfig, parseStrategyConfig, StrategyConfigError } from '../../src/strategies/config.ts';
import { createStrategy } from '../../src/strategies/index.ts';
import type { ParamFeed } from '../../src/strategies/param-feed.ts';
import { ETH, makeCtx } from './ctx.ts';

const priors = {
  lambdaPlus: 0.6,
  lambdaMinus: 0.4,
  kappaPlus: 8,
  kappaMinus: 12,
  epsilonPlus: 0.03,
  epsilonMinus: 0.01,
};
const floorTick = (x: number) => Math.floor(x * 10 + 1e-9) / 10;
const ceilTick = (x: number) => Math.ceil(x * 10 - 1e-9) / 10;

function modelParams(mid: number, qMax: number, phi: number): ModelParams {
  return { ...priors, phi, alpha: 0.001, qMin: -qMax, qMax, feePerFill: ETH.makerFee * mid };
}

test("cj quotes are the solver's depths at the current inventory, rounded passive; no quote at a bound", () => {
  const cfg = parseStrategyConfig({
    strategy: 'cj',
    calibrate: false,
    priors,
    qMax: 4,
    phi: 0.002,
  }) as CjConfig;
  const s = new CjStrategy(cfg, ETH);
  const ctx = makeCtx();
  const mid = 3001.0;
  const table = solveQuotes(modelParams(mid, 4, 0.002), { horizon: Number.POSITIVE_INFINITY });
  let quoted = 0;
  for (let q = -4; q <= 4; q++) {
    ctx.pos = q * 0.01;
    s.onBbo(ctx.setBbo(2999.0, 3003.0), ctx);
    const i = q + 4;
    const last = s.lastQuotes!;
    if (q === 4) assert.equal(last.bid, null, 'no bid at qMax');
    else assert.deepEqual(last.bid, { px: floorTick(mid - table.deltaMinus[i]), sz: 0.01 }, `bid q=${q}`);
    if (q === -4) assert.equal(last.ask, null, 'no ask at qMin');
    else assert.deepEqual(last.ask, { px: ceilTick(mid + table.deltaPlus[i]), sz: 0.01 }, `ask q=${q}`);
    quoted++;
  }
  assert.equal(quoted, 9);
  // Inventory skew: long → both quotes lower.
  ctx.pos = 0.03;
  s.onFill(undefined, ctx);
  const long = s.lastQuotes!;
  ctx.pos = -0.03;
  s.onFill(undefined, ctx);
  const short = s.lastQuotes!;
  assert.ok(long.ask!.px < short.ask!.px && long.bid!.px < short.bid!.px);
  const d = s.diagnostics();
  assert.equal(d.source, 'prior');
  assert.ok(Math.abs((d.kappaEpsilonPlus as number) - 8 * 0.03) < 1e-12);
  assert.equal(ctx.records.filter((r) => r.type === 'params').length, 1, 'one parameter set journalled');
});

test('cj never quotes through the touch in a one-tick book, never NaN', () => {
  const s = new CjStrategy(
    parseStrategyConfig({ strategy: 'cj', calibrate: false, priors, phi: 0.5 }) as CjConfig,
    ETH,
  );
  const ctx = makeCtx();
  for (let q = -10; q <= 10; q++) {
    ctx.pos = q * 0.01;
    s.onBbo(ctx.setBbo(3000.1, 3000.2), ctx);
    s.onFill(undefined, ctx);
    const last = s.lastQuotes!;
    if (last.bid) assert.ok(Number.isFinite(last.bid.px) && last.bid.px <= 3000.1 + 1e-9, `bid q=${q}`);
    if (last.ask) assert.ok(Number.isFinite(last.ask.px) && last.ask.px >= 3000.2 - 1e-9, `ask q=${q}`);
  }
});

test('cj touch mode posts exactly at the touch where the model says post', () => {
  // No fee here so that posting at a one-tick touch can pay; a large φ makes the model decline at |q| ≥ some level.
  const inst = { ...ETH, makerFee: 0 };
  const touchPriors = { ...priors, epsilonPlus: 0.01, epsilonMinus: 0.01 };
  const cfg = parseStrategyConfig({
    strategy: 'cj',
    calibrate: false,
    priors: touchPriors,
    mode: 'touch',
    qMax: 6,
    phi: 0.002,
  }) as CjConfig;
  const s = new CjStrategy(cfg, inst);
  const ctx = makeCtx(inst);
  const table = solveQuotes(
    { ...touchPriors, phi: 0.002, alpha: 0.001, qMin: -6, qMax: 6, feePerFill: 0 },
    { horizon: Number.POSITIVE_INFINITY, mode: 'touch', halfSpread: 0.05 },
  );
  let posts = 0;
  let declines = 0;
  for (let q = -6; q <= 6; q++) {
    ctx.pos = q * 0.01;
    s.onBbo(ctx.setBbo(3000.1, 3000.2), ctx);
    const last = s.lastQuotes!;
    const i = q + 6;
    assert.equal(last.bid?.px ?? null, Number.isFinite(table.deltaMinus[i]) ? 3000.1 : null, `bid q=${q}`);
    assert.equal(last.ask?.px ?? null, Number.isFinite(table.deltaPlus[i]) ? 3000.2 : null, `ask q=${q}`);
    if (last.bid) posts++;
    else if (q < 6) declines++;
  }
  assert.ok(
    posts > 0 && declines > 0,
    `the case must exercise both answers (posts ${posts}, declines ${declines})`,
  );
});

function fakeCalibration(at: number, over: Partial<CalibrationResult> = {}): CalibrationResult {
  return {
    coin: 'ETH',
    at,
    lambdaPlus: 0.5,
    lambdaMinus: 0.5,
    kappaPlus: 10,
    kappaMinus: 10,
    epsilonPlus: 0.02,
    epsilonMinus: 0.02,
    sigma: 0.4,
    moRatePlus: 0.5,
    moRateMinus: 0.5,
    window: { start: at - 1000, end: at, observedSec: 1 },
    stderr: {} as CalibrationResult['stderr'],
    samples: {},
    markouts: [],
    spread: { tick: 0.1, fracAtOneTick: 1, meanHalfSpread: 0.05 },
    toxicityPlus: 0.2,
    toxicityMinus: 0.2,
    source: 'fresh',
    quality: { ok: true, flags: [] },
    ...over,
  };
}

test('cj: no quotes before the first calibration (no priors), then quotes on the calibrated parameters', () => {
  let n = 0;
  const feed: ParamFeed = {
    onEvent: (ev: MarketEvent) => (++n === 3 ? fakeCalibration(ev.exTime, { epsilonPlus: 0.05 }) : undefined),
    onGap: () => {},
    current: () => undefined,
  };
  const s = createStrategy('cj', { qMax: 2 }, ETH, { feed });
  const ctx = makeCtx();
  assert.deepEqual(s.onBbo?.(ctx.setBbo(3000.0, 3002.0), ctx), { bid: null, ask: null });
  assert.equal(s.onBbo?.(ctx.setBbo(3000.0, 3002.0), ctx), undefined);
  const q = s.onBbo?.(ctx.setBbo(3000.0, 3002.0), ctx);
  const table = solveQuotes(
    {
      lambdaPlus: 0.5,
      lambdaMinus: 0.5,
      kappaPlus: 10,
      kappaMinus: 10,
      epsilonPlus: 0.05,
      epsilonMinus: 0.02,
      phi: 0.001,
      alpha: 0.001,
      qMin: -2,
      qMax: 2,
      feePerFill: ETH.makerFee * 3001,
    },
    { horizon: Number.POSITIVE_INFINITY },
  );
  assert.deepEqual(q, {
    bid: { px: floorTick(3001 - table.deltaMinus[2]), sz: 0.01 },
    ask: { px: ceilTick(3001 + table.deltaPlus[2]), sz: 0.01 },
  });
  const params = ctx.records.find((r) => r.type === 'params')?.data;
  assert.equal(params?.source, 'calibration');
  assert.ok(Math.abs((params?.kappaEpsilonPlus as number) - 0.5) < 1e-12);
});

test('cj: a parameter set the model refuses is skipped, the previous one stays in force', () => {
  let n = 0;
  const feed: ParamFeed = {
    onEvent: (ev) => {
      n++;
      if (n === 1) return fakeCalibration(ev.exTime);
      if (n === 3) return fakeCalibration(ev.exTime, { kappaPlus: Number.NaN });
      return undefined;
    },
    onGap: () => {},
    current: () => undefined,
  };
  const s = new CjStrategy(parseStrategyConfig({ strategy: 'cj' }) as CjConfig, ETH, feed);
  const ctx = makeCtx();
  const first = s.onBbo(ctx.setBbo(3000.0, 3002.0), ctx);
  assert.ok(first?.bid && first.ask);
  s.onBbo(ctx.setBbo(3000.0, 3002.0), ctx);
  assert.equal(s.onBbo(ctx.setBbo(3000.0, 3002.0), ctx), undefined, 'quotes unchanged');
  assert.equal(s.rejectedParams, 1);
});

test('strategy config errors name the field and the fix', () => {
  assert.throws(() => parseStrategyConfig({ strategy: 'cj', phi: -1 }), /strategy\.phi: must be ≥ 0/);
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', calibrate: false }),
    /strategy\.priors: required when calibrate is false/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'cj', mode: 'middle' }),
    /strategy\.mode: must be 'depth' or 'touch'/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'fixed', halfSpreadTick: 2 }),
    /strategy\.halfSpreadTick: unknown field/,
  );
  assert.throws(
    () => parseStrategyConfig({ strategy: 'momentum' }),
    /strategy\.strategy: must be one of cj, fixed, as, glft/,
  );
  assert.throws(() => createStrategy('as', { strategy: 'glft' }, ETH), StrategyConfigError);
  const d = parseStrategyConfig({ strategy: 'cj' }) as CjConfig;
  assert.equal(d.windowMs, 30 * 60_000);
  assert.equal(d.refreshMs, 15_000);
  assert.equal(d.horizon, 'inf');
});

test('cj finite horizon: quotes follow the solution at T − t, re-solved as the session end nears', () => {
  const cfg = parseStrategyConfig({
    strategy: 'cj',
    calibrate: false,
    priors,
    qMax: 3,
    phi: 0.002,
    alpha: 0.05,
    horizon: 3600,
    solveIntervalMs: 1000,
  }) as CjConfig;
  const s = new CjStrategy(cfg, ETH);
  const ctx = makeCtx(ETH, Date.UTC(2025, 0, 1, 10, 59, 0)); // 60 s before the session end
  ctx.pos = 0.02;
  const mid = 3001.0;
  const at = (tau: number) => solveQuotes({ ...modelParams(mid, 3, 0.002), alpha: 0.05 }, { horizon: tau });
  s.onBbo(ctx.setBbo(2999.0, 3003.0), ctx);
  let tbl = at(60);
  assert.deepEqual(s.lastQuotes, {
    bid: { px: floorTick(mid - tbl.deltaMinus[5]), sz: 0.01 },
    ask: { px: ceilTick(mid + tbl.deltaPlus[5]), sz: 0.01 },
  });
  ctx.now += 58_000; // 2 s to go: the terminal penalty dominates (α(2q − 1) on the ask)
  s.onTimer(ctx.now, ctx);
  tbl = at(2);
  assert.deepEqual(s.lastQuotes, {
    bid: { px: floorTick(mid - tbl.deltaMinus[5]), sz: 0.01 },
    ask: { px: ceilTick(mid + tbl.deltaPlus[5]), sz: 0.01 },
  });
  assert.notDeepEqual(at(60).deltaPlus[5], tbl.deltaPlus[5], 'the horizon must matter in this case');
});
