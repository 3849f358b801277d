import assert from 'node:assert/strict';
import { test } from 'node:test';
import { solveQuotes } from '../../src/model/solve.ts';
import { AvellanedaStoikovStrategy, asDepths } from '../../src/strategies/as.ts';
import {
  type AsConfig,
  type FixedConfig,
  type GlftConfig,
  parseStrategyConfig,
} from '../../src/strategies/config.ts';
import { FixedSpreadStrategy } from '../../src/strategies/fixed.ts';
import { GlftStrategy, glftDepths } from '../../src/strategies/glft.ts';
import { ETH, makeCtx } from './ctx.ts';

const close = (a: number, b: number, tol: number, msg = '') =>
  assert.ok(Math.abs(a - b) <= tol, `${msg} ${a} vs ${b}`);
const floorTick = (x: number) => Math.floor(x * 10 + 1e-9) / 10;
const ceilTick = (x: number) => Math.ceil(x * 10 - 1e-9) / 10;

test('fixed: symmetric spread in ticks and in bps, no quote beyond the inventory bound', () => {
  const ctx = makeCtx();
  const s = new FixedSpreadStrategy(
    parseStrategyConfig({ strategy: 'fixed', halfSpreadTicks: 2, maxPosition: 3 }) as FixedConfig,
    ETH,
  );
  const q = s.onBbo(ctx.setBbo(3000.1, 3000.2), ctx);
  // mid 3000.15 ± 0.2 → 2999.95 ↓ 2999.9, 3000.35 ↑ 3000.4
  assert.deepEqual(q, { bid: { px: 2999.9, sz: 0.01 }, ask: { px: 3000.4, sz: 0.01 } });
  assert.equal(s.onBbo(ctx.setBbo(3000.1, 3000.2), ctx), undefined, 'unchanged quotes → no change');
  ctx.pos = 0.03; // at +3 lots: no more bids
  assert.deepEqual(s.onFill(undefined, ctx), { bid: null, ask: { px: 3000.4, sz: 0.01 } });
  ctx.pos = -0.03;
  assert.deepEqual(s.onFill(undefined, ctx), { bid: { px: 2999.9, sz: 0.01 }, ask: null });

  const bps = new FixedSpreadStrategy(
    parseStrategyConfig({ strategy: 'fixed', halfSpreadBps: 1, orderSize: 0.02 }) as FixedConfig,
    ETH,
  );
  const ctx2 = makeCtx();
  const q2 = bps.onBbo(ctx2.setBbo(3000.1, 3000.2), ctx2);
  const d = (3000.15 * 1) / 1e4;
  assert.deepEqual(q2, {
    bid: { px: floorTick(3000.15 - d), sz: 0.02 },
    ask: { px: ceilTick(3000.15 + d), sz: 0.02 },
  });
});

test('as: reservation price and spread of Avellaneda–Stoikov (2008), rounded passive', () => {
  const gamma = 0.01;
  const sigma = 0.5;
  const k = 10;
  const tau = 60;
  // Hand computation: γσ²τ = 0.15; spread = 0.15 + (2/γ)ln(1 + γ/k) = 0.15 + 200·ln(1.001).
  const spread = 0.15 + 200 * Math.log(1.001);
  for (const q of [-2, 0, 2]) {
    const r = -q * 0.15; // r − s
    const d = asDepths(q, gamma, sigma, k, tau);
    close(d.spread, spread, 1e-12);
    close(d.deltaMinus, -(r - spread / 2), 1e-12, `δ⁻ q=${q}`);
    close(d.deltaPlus, r + spread / 2, 1e-12, `δ⁺ q=${q}`);
  }
  const cfg = parseStrategyConfig({ strategy: 'as', gamma, sigma, k, tauSec: tau }) as AsConfig;
  const s = new AvellanedaStoikovStrategy(cfg, ETH);
  const ctx = makeCtx();
  // Wide book so no clamping: mid 3000.5.
  const q0 = s.onBbo(ctx.setBbo(3000.0, 3001.0), ctx);
  assert.deepEqual(q0, {
    bid: { px: floorTick(3000.5 - spread / 2), sz: 0.01 },
    ask: { px: ceilTick(3000.5 + spread / 2), sz: 0.01 },
  });
  // Long 2 lots: reservation price 0.3 below mid; ask clamped at best bid + tick when it would cross.
  ctx.pos = 0.02;
  const q2 = s.onFill(undefined, ctx);
  assert.deepEqual(q2, {
    bid: { px: floorTick(3000.5 - 0.3 - spread / 2), sz: 0.01 },
    ask: { px: ceilTick(3000.5 - 0.3 + spread / 2), sz: 0.01 },
  });
  // At the bound (10 lots by default): no bid.
  ctx.pos = 0.1;
  assert.equal(s.onFill(undefined, ctx)?.bid, null);
});

test('as: a finite horizon shrinks the inventory skew toward the session end', () => {
  const s = new AvellanedaStoikovStrategy(
    parseStrategyConfig({ strategy: 'as', gamma: 0.01, sigma: 0.5, k: 10, horizon: 3600 }) as AsConfig,
    ETH,
  );
  const ctx = makeCtx(ETH, Date.UTC(2025, 0, 1, 10, 59, 0)); // 60 s to the session end
  ctx.pos = 0.02;
  const q = s.onBbo(ctx.setBbo(3000.0, 3001.0), ctx);
  const spread = 0.15 + 200 * Math.log(1.001);
  assert.equal(q?.bid?.px, floorTick(3000.5 - 0.3 - spread / 2));
});

test('glft: closed-form quotes of Guéant–Lehalle–Fernandez-Tapia', () => {
  const gamma = 0.01;
  const sigma = 0.5;
  const A = 0.5;
  const kappa = 10;
  const c1 = (1 / gamma) * Math.log(1 + gamma / kappa);
  const omega = Math.sqrt(
    ((sigma ** 2 * gamma) / (2 * kappa * A)) * (1 + gamma / kappa) ** (1 + kappa / gamma),
  );
  for (const q of [-3, 0, 1, 4]) {
    const d = glftDepths(q, gamma, sigma, A, kappa);
    close(d.deltaBid, c1 + ((2 * q + 1) / 2) * omega, 1e-12);
    close(d.deltaAsk, c1 - ((2 * q - 1) / 2) * omega, 1e-12);
  }
  const s = new GlftStrategy(
    parseStrategyConfig({ strategy: 'glft', gamma, sigma, A, kappa, maxPosition: 4 }) as GlftConfig,
    ETH,
  );
  const ctx = makeCtx();
  ctx.pos = 0.01;
  const q = s.onBbo(ctx.setBbo(3000.0, 3001.0), ctx);
  assert.deepEqual(q, {
    bid: { px: floorTick(3000.5 - (c1 + 1.5 * omega)), sz: 0.01 },
    ask: { px: ceilTick(3000.5 + (c1 - 0.5 * omega)), sz: 0.01 },
  });
  ctx.pos = -0.04;
  assert.equal(s.onFill(undefined, ctx)?.ask, null, 'no ask at −maxPosition');
});

test('glft agrees with the exact stationary solution of the model (φ = γσ²/2, small γ) near q = 0', () => {
  // Independent check: the CJ/GLFT ergodic problem solved numerically by the model layer.
  const gamma = 0.001;
  const sigma = 0.5;
  const A = 0.5;
  const kappa = 10;
  const table = solveQuotes(
    {
      lambdaPlus: A,
      lambdaMinus: A,
      kappaPlus: kappa,
      kappaMinus: kappa,
      epsilonPlus: 0,
      epsilonMinus: 0,
      phi: (gamma * sigma * sigma) / 2,
      alpha: 0,
      qMin: -50,
      qMax: 50,
      feePerFill: 0,
    },
    { horizon: Number.POSITIVE_INFINITY },
  );
  for (const q of [-3, -1, 0, 1, 3]) {
    const g = glftDepths(q, gamma, sigma, A, kappa);
    close(g.deltaBid, table.deltaMinus[q + 50], 5e-4, `bid q=${q}`);
    close(g.deltaAsk, table.deltaPlus[q + 50], 5e-4, `ask q=${q}`);
  }
});

test('calibrated baselines quote nothing until σ and k are known', () => {
  const s = new GlftStrategy(parseStrategyConfig({ strategy: 'glft' }) as GlftConfig, ETH, {
    onEvent: () => undefined,
    onGap: () => {},
    current: () => undefined,
  });
  const ctx = makeCtx();
  assert.deepEqual(s.onBbo(ctx.setBbo(3000.1, 3000.2), ctx), { bid: null, ask: null });
});

test('glft re-quotes when new calibrated parameters arrive, even with the touch and inventory unchanged', () => {
  const base = {
    coin: 'ETH',
    moRatePlus: 0.5,
    moRateMinus: 0.5,
    epsilonPlus: 0,
    epsilonMinus: 0,
    window: { start: 0, end: 1, observedSec: 1 },
    stderr: {},
    samples: {},
    markouts: [],
    spread: { tick: 0.1, fracAtOneTick: 1, meanHalfSpread: 0.05 },
    toxicityPlus: 0,
    toxicityMinus: 0,
    source: 'fresh',
    quality: { ok: true, flags: [] },
  };
  let next: unknown;
  const s = new GlftStrategy(parseStrategyConfig({ strategy: 'glft', gamma: 0.01 }) as GlftConfig, ETH, {
    onEvent: () => {
      const r = next;
      next = undefined;
      return r as never;
    },
    onGap: () => {},
    current: () => undefined,
  });
  const ctx = makeCtx();
  next = { ...base, at: 1, lambdaPlus: 1, lambdaMinus: 1, kappaPlus: 2, kappaMinus: 2, sigma: 0.5 };
  const first = s.onBbo(ctx.setBbo(2999.0, 3001.0), ctx);
  assert.ok(first?.bid && first.ask, 'quotes on the first parameter set');
  // Same touch, same inventory, much smaller κ (wider quotes): the strategy must not serve the cached quotes.
  next = { ...base, at: 2, lambdaPlus: 1, lambdaMinus: 1, kappaPlus: 0.5, kappaMinus: 0.5, sigma: 0.5 };
  const second = s.onBbo(ctx.setBbo(2999.0, 3001.0), ctx);
  assert.ok(second?.bid && second.ask, 'a new wish after the new parameters');
  assert.ok(second.ask.px > first.ask.px && second.bid.px < first.bid.px, 'wider quotes for a smaller κ');
});
