/**
 * The expected P&L of the stationary CJ policy (src/model/expected-pnl.ts): the value function's growth rate
 * plus φE[q²] equals E_π[r(q)] computed from the inventory law; a backtest in the simulated model world earns
 * it; the break-even fee zeroes it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import { breakEvenMakerFee, inventoryLaw, stationaryExpectedPnl } from '../../src/model/expected-pnl.ts';
import { twoPartCurve } from '../../src/model/fill-rate.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import type { ModelParams } from '../../src/model/types.ts';
import { createStrategy } from '../../src/strategies/index.ts';

const rel = (a: number, b: number) => Math.abs(a - b) / Math.max(1e-12, Math.abs(b));

test('g + φE[q²] (value function) = E_π[r(q)] (inventory law), depth and touch mode, any κ±', () => {
  const base: ModelParams = {
    lambdaPlus: 1.4,
    lambdaMinus: 0.9,
    kappaPlus: 8,
    kappaMinus: 8,
    epsilonPlus: 0.04,
    epsilonMinus: 0.05,
    phi: 0.002,
    alpha: 0,
    qMin: -6,
    qMax: 6,
    feePerFill: 0.02,
  };
  for (const p of [base, { ...base, kappaMinus: 11 }, { ...base, phi: 0.05, qMin: -3 }]) {
    const e = stationaryExpectedPnl(p);
    assert.ok(rel(e.pnlRate, e.pnlRateDirect) < 1e-8, `${e.pnlRate} vs ${e.pnlRateDirect}`);
    assert.ok(Math.abs(e.pi.reduce((a, b) => a + b, 0) - 1) < 1e-12);
  }
  // The two-part depth model of a one-tick book (mass at the touch + exponential tail) on both sides.
  const tp = stationaryExpectedPnl({
    ...base,
    kappaMinus: 11,
    fillPlus: twoPartCurve(0.1, 1.0, 0.8, 6),
    fillMinus: twoPartCurve(0.1, 0.7, 0.85, 7),
  });
  assert.ok(rel(tp.pnlRate, tp.pnlRateDirect) < 1e-8, `two-part ${tp.pnlRate} vs ${tp.pnlRateDirect}`);
  const t = stationaryExpectedPnl({ ...base, feePerFill: 0 }, 'touch', 0.08);
  assert.ok(Math.abs(t.pnlRate - t.pnlRateDirect) < 1e-8 * Math.max(1, Math.abs(t.pnlRate)));
});

test('the inventory law is the birth–death chain’s: detailed balance, and a closed class when a side stops', () => {
  const e = stationaryExpectedPnl({
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 5,
    kappaMinus: 5,
    epsilonPlus: 0,
    epsilonMinus: 0,
    phi: 0.01,
    alpha: 0,
    qMin: -4,
    qMax: 4,
    feePerFill: 0,
  });
  const { pi, table } = e;
  for (let i = 0; i + 1 < pi.length; i++) {
    const flowUp = pi[i] * table.fillRateMinus[i];
    const flowDown = pi[i + 1] * table.fillRatePlus[i + 1];
    assert.ok(Math.abs(flowUp - flowDown) < 1e-12, `balance at ${i}`);
  }
  // Symmetric parameters: π symmetric, E[q] = 0.
  assert.ok(Math.abs(e.meanInventory) < 1e-12);
  // A table whose bid stops at q = 1: the chain cannot go above 1 and lives on q ≤ 1.
  const up = Float64Array.from(table.fillRateMinus);
  up[5] = 0;
  const law = inventoryLaw({ ...table, fillRateMinus: up });
  for (let i = 6; i < law.length; i++) assert.equal(law[i], 0);
  assert.ok(Math.abs(law.reduce((a, b) => a + b, 0) - 1) < 1e-12);
});

test('break-even maker fee holding the policy fixed: its fills at that fee net zero; never below the fee', () => {
  const p: ModelParams = {
    lambdaPlus: 1.2,
    lambdaMinus: 1.0,
    kappaPlus: 9,
    kappaMinus: 10,
    epsilonPlus: 0.03,
    epsilonMinus: 0.03,
    phi: 0.005,
    alpha: 0,
    qMin: -5,
    qMax: 5,
    feePerFill: 0.15,
  };
  const mid = 1000;
  const e = stationaryExpectedPnl(p);
  const f = breakEvenMakerFee(e, p, mid);
  assert.ok(f !== null && f > p.feePerFill / mid, String(f));
  // The same depths and inventory law with the fee c* = f·mid: zero expected P&L.
  let r = 0;
  const D = p.lambdaPlus * p.epsilonPlus - p.lambdaMinus * p.epsilonMinus;
  for (let i = 0; i < e.pi.length; i++) {
    const q = p.qMin + i;
    const fp = e.table.fillRatePlus[i];
    const fm = e.table.fillRateMinus[i];
    let x = q * D;
    if (fp > 0) x += fp * (e.table.deltaPlus[i] - p.epsilonPlus - f * mid);
    if (fm > 0) x += fm * (e.table.deltaMinus[i] - p.epsilonMinus - f * mid);
    r += e.pi[i] * x;
  }
  assert.ok(Math.abs(r) < 1e-10, String(r));
  // Re-optimised at any fee, the policy never expects a loss (it quotes wider): without a mid drift (λ⁺ε⁺ =
  // λ⁻ε⁻) the expectation only shrinks towards 0 as the fee grows.
  let prev = Number.POSITIVE_INFINITY;
  for (const fee of [-0.0001, 0, 0.0001, 0.001, 0.01]) {
    const x = stationaryExpectedPnl({ ...p, lambdaPlus: 1, feePerFill: fee * mid }).pnlRate;
    assert.ok(x >= 0 && x <= prev, `${fee}: ${x}`);
    prev = x;
  }
});

test('simulated model world: a cj backtest earns the expected P&L per hour (within its statistical error)', () => {
  // Fine tick (posted depths = the model's to 0.3 %), quotes beyond the displayed book (no queue ahead),
  // symmetric λ and ε (no mid drift, in the model and in the world), asymmetric κ, a maker fee, and a φ large
  // enough that φE[q²] (the gap between the P&L and the objective g) is many standard errors.
  const truth = {
    lambdaPlus: 2,
    lambdaMinus: 2,
    kappaPlus: 5,
    kappaMinus: 6,
    epsilonPlus: 0.02,
    epsilonMinus: 0.02,
    sigma: 0.005,
  };
  const tick = 0.001;
  const lot = 0.05;
  const qMax = 5;
  const phi = 0.01;
  const fee = 0.0001;
  const mid0 = 300;
  const durationSec = 2400;
  const SIM: InstrumentSpec = {
    coin: 'SIM',
    tick,
    szDecimals: 2,
    lotSize: lot,
    minNotional: 10,
    makerFee: fee,
    takerFee: 0,
  };
  const sim = simulateMarket({
    seed: 12,
    durationSec,
    tick,
    mid0,
    ...truth,
    rxLatencyMs: 1,
    wideSpreadFrac: 0,
    bookLevels: 3,
    coin: 'SIM',
  });
  const { sigma: _s, ...priors } = truth;
  const strategy = createStrategy('cj', { calibrate: false, priors, qMax, phi, alpha: 0 }, SIM);
  const r = runBacktest({
    events: sim.events,
    instrument: SIM,
    strategy,
    latency: 1,
    fees: { maker: fee, taker: 0 },
    risk: { maxPositionLots: qMax, maxOrdersPerSec: 1e6, orderBurst: 1e6 },
  });
  const e = stationaryExpectedPnl({
    ...priors,
    phi,
    alpha: 0,
    qMin: -qMax,
    qMax,
    feePerFill: fee * mid0,
  });
  const T = r.metrics.durationSec;
  const expected = e.pnlRate * lot * T;
  const objectiveOnly = e.growthRate * lot * T;
  // Noise: the mid's diffusion and jumps against the held inventory, and the fill count.
  const jumpVar = truth.lambdaPlus * truth.epsilonPlus ** 2 + truth.lambdaMinus * truth.epsilonMinus ** 2;
  const capture = e.pnlRate / Math.max(e.fillRate, 1e-12);
  const sd =
    lot *
    Math.sqrt(e.meanSquaredInventory * (truth.sigma ** 2 + jumpVar) * T + e.fillRate * T * capture ** 2);
  const got = r.metrics.netPnl;
  console.log(
    `model world: net P&L ${got.toFixed(3)} USD over ${T.toFixed(0)} s; expected ${expected.toFixed(3)} ± ${sd.toFixed(3)} (objective g alone ${objectiveOnly.toFixed(3)}); fills ${r.metrics.fills} vs ${(e.fillRate * T).toFixed(0)}`,
  );
  assert.ok(Math.abs(got - expected) < 4 * sd, `net P&L ${got} vs expected ${expected} ± ${sd}`);
  // Sharp enough to tell the P&L from the objective: g·T alone is far outside the band.
  assert.ok(Math.abs(objectiveOnly - expected) > 3.5 * sd, `${objectiveOnly} vs ${expected} ± ${sd}`);
  assert.ok(Math.abs(r.metrics.fills - e.fillRate * T) < 4 * Math.sqrt(e.fillRate * T));
});
