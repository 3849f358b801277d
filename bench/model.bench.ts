/**
 * Model solve times (median µs): symmetric q̄ = 10, T = 1800 s; asymmetric q̄ = 10; symmetric q̄ = 50;
 * stationary q̄ = 20. Parameters are ETH-like (examples/params.json, fee after rebates 0). Then the
 * inventory-control figures: the stationary solve with the two-part depth model, and φ from a target.
 */

import { twoPartCurve } from '../src/model/fill-rate.ts';
import { solvePhiForTarget } from '../src/model/inventory.ts';
import { solveQuotes } from '../src/model/solve.ts';
import type { ModelParams } from '../src/model/types.ts';
import { fmtUs, report, timeIt } from './timing.ts';

const eth: ModelParams = {
  lambdaPlus: 0.9,
  lambdaMinus: 0.8,
  kappaPlus: 8,
  kappaMinus: 8,
  epsilonPlus: 0.04,
  epsilonMinus: 0.045,
  phi: 1e-3,
  alpha: 1e-3,
  qMin: -10,
  qMax: 10,
  feePerFill: 0,
};

function bench(name: string, p: ModelParams, horizon: number, targetUs?: number, minMs = 1500): void {
  const method = solveQuotes(p, { horizon }).method;
  const s = timeIt(() => solveQuotes(p, { horizon }), { minMs });
  if (targetUs === undefined) report(`${name} [${method}]`, fmtUs(s.median));
  else report(`${name} [${method}]`, fmtUs(s.median), `≤ ${fmtUs(targetUs)}`, s.median <= targetUs);
}

bench('symmetric, q̄ = 10, T = 1800 s', eth, 1800, 50);
bench('asymmetric (κ⁻ = 11), q̄ = 10, T = 1800 s', { ...eth, kappaMinus: 11 }, 1800, 1000);
bench('symmetric, q̄ = 50, T = 1800 s', { ...eth, qMin: -50, qMax: 50 }, 1800, 50);
bench('stationary symmetric, q̄ = 20', { ...eth, qMin: -20, qMax: 20 }, Number.POSITIVE_INFINITY, 1000);
bench(
  'stationary asymmetric (κ⁻ = 11), q̄ = 20',
  { ...eth, qMin: -20, qMax: 20, kappaMinus: 11 },
  Number.POSITIVE_INFINITY,
  1000,
);
bench('symmetric with base fee (c = 0.50), q̄ = 10, T = 1800 s', { ...eth, feePerFill: 0.5025 }, 1800, 50);
// Not an issue target: a short horizon at wide bounds, where dozens of modes matter and the ODE runs.
bench('symmetric, q̄ = 50, T = 60 s (short horizon)', { ...eth, qMin: -50, qMax: 50 }, 60, undefined, 500);

// Inventory control (issue 12): the two-part depth model of a one-tick book (the shared ETH window's fits:
// touch rate, touch share π0, tail κ) and φ solved from an inventory target. The "warm" figures are what cj
// pays per parameter refresh: it starts from the previous φ and stationary solution.
const ethTwoPart: ModelParams = {
  ...eth,
  lambdaPlus: 1.622,
  lambdaMinus: 1.095,
  kappaPlus: 8.404,
  kappaMinus: 8.581,
  epsilonPlus: 0.1168,
  epsilonMinus: 0.1472,
  feePerFill: 0.5015,
  phi: 6.5e-5,
  drift: 0,
  fillPlus: twoPartCurve(0.1, 0.982, 0.843, 2.76),
  fillMinus: twoPartCurve(0.1, 0.653, 0.829, 2.65),
};

/** Median wall time with the CPU time per call (process.cpuUsage over the same runs) alongside. */
function benchCpu(name: string, fn: () => unknown, targetUs?: number, minMs = 1500): void {
  const c0 = process.cpuUsage();
  const s = timeIt(fn, { minMs });
  const c = process.cpuUsage(c0);
  const cpuUs = (c.user + c.system) / (s.runs + 5);
  const figure = `${fmtUs(s.median)} (cpu ${fmtUs(cpuUs)})`;
  if (targetUs === undefined) report(name, figure);
  else report(name, figure, `≤ ${fmtUs(targetUs)}`, s.median <= targetUs);
}

const inf = { horizon: Number.POSITIVE_INFINITY };
const near = solveQuotes(ethTwoPart, inf);
benchCpu('stationary two-part depth, q̄ = 10 [cold]', () => solveQuotes(ethTwoPart, inf), 1000);
benchCpu(
  'stationary two-part depth, q̄ = 10 [warm]',
  () => solveQuotes({ ...ethTwoPart, phi: ethTwoPart.phi * 1.01 }, { ...inf, init: near.h }),
  1000,
);
const target = { stdLots: 2 };
const phiCold = solvePhiForTarget(ethTwoPart, target);
benchCpu('φ for stdLots 2, two-part, q̄ = 10 [cold]', () => solvePhiForTarget(ethTwoPart, target), 5000);
const moved: ModelParams = {
  ...ethTwoPart,
  fillPlus: twoPartCurve(0.1, 0.982 * 1.02, 0.843, 2.76),
  epsilonPlus: 0.1168 * 1.02,
};
benchCpu(
  'φ for stdLots 2, two-part, next refresh [warm]',
  () =>
    solvePhiForTarget(moved, target, {
      guess: phiCold.phi,
      init: phiCold.table.h,
      relTol: 0.01,
      phiRelTol: 0.02,
    }),
  1000,
);
benchCpu('φ for stdLots 2, exponential κ⁺≠κ⁻, q̄ = 10 [cold]', () =>
  solvePhiForTarget({ ...ethTwoPart, fillPlus: undefined, fillMinus: undefined }, target),
);
const warmOpts = { guess: phiCold.phi, init: phiCold.table.h, relTol: 0.01, phiRelTol: 0.02 };
benchCpu('φ for stdLots 2, two-part, next refresh [warm secant, as cj]', () =>
  solvePhiForTarget(moved, target, { ...warmOpts, secant: true }),
);
report(
  `  solves per φ: cold ${phiCold.evaluations}, warm ${solvePhiForTarget(moved, target, warmOpts).evaluations}, warm secant ${solvePhiForTarget(moved, target, { ...warmOpts, secant: true }).evaluations}`,
  '',
);

// Imbalance-regime model (Cartea, Donnelly & Jaimungal 2018): three regimes (sell pressure, balanced, buy
// pressure) over the ETH-like set, q̄ = 10. The stationary solve is what cj with signal 'imbalance' uses.
{
  const { loadavg } = await import('node:os');
  const { solveRegimeQuotes } = await import('../src/model/regime.ts');
  const regimes: ModelParams[] = [
    { ...eth, lambdaPlus: 0.6, lambdaMinus: 1.2, kappaPlus: 9, epsilonMinus: 0.06 },
    eth,
    { ...eth, lambdaPlus: 1.2, lambdaMinus: 0.6, kappaMinus: 9, epsilonPlus: 0.06 },
  ];
  const generator = [0, 2, 0.5, 1.5, 0, 1.5, 0.5, 2, 0];
  const regimeBench = (name: string, horizon: number, targetUs?: number, warm = false) => {
    const warmStart = warm ? solveRegimeQuotes({ regimes, generator }, { horizon }) : undefined;
    // A re-calibration moves the parameters a little: the warm start is the previous solution.
    const moved = warm ? regimes.map((p) => ({ ...p, lambdaPlus: p.lambdaPlus * 1.02 })) : regimes;
    const load = loadavg()[0];
    const c0 = process.cpuUsage();
    const s = timeIt(() => solveRegimeQuotes({ regimes: moved, generator }, { horizon, warmStart }), {
      minMs: 1500,
    });
    const c = process.cpuUsage(c0);
    const cpuUs = (c.user + c.system) / (s.runs + 5);
    report(
      `${name}`,
      fmtUs(s.median),
      targetUs ? `≤ ${fmtUs(targetUs)}` : undefined,
      targetUs ? s.median <= targetUs : undefined,
    );
    report(`  same, CPU time per solve (load avg ${load.toFixed(2)})`, fmtUs(cpuUs));
  };
  regimeBench('regime HJB, 3 regimes, q̄ = 10, stationary (cold)', Number.POSITIVE_INFINITY, 1000);
  regimeBench(
    'regime HJB, 3 regimes, q̄ = 10, stationary (warm start)',
    Number.POSITIVE_INFINITY,
    undefined,
    true,
  );
  regimeBench('regime HJB, 3 regimes, q̄ = 10, T = 1800 s', 1800);
}

// φ from the inventory target on the joint (inventory, regime) law (cj with signal 'imbalance'): regimes
// calibrated on the shared ETH window (drifts after shrink), q̄ = 10. The joint law itself, a cold φ search,
// and the next refresh (parameters moved 2 %, warm from the previous φ and solution, 5 % band).
{
  const { solveRegimeQuotes } = await import('../src/model/regime.ts');
  const { solveRegimePhiForTarget, stationaryRegimeInventory } = await import(
    '../src/model/regime-inventory.ts'
  );
  const base = { alpha: 0, qMin: -10, qMax: 10, feePerFill: 0.502, phi: 3e-3 };
  const regimes: ModelParams[] = [
    [2.8116, 2.162, 14.854, 6.1381, 0.0026542, 0.21702, -0.029609],
    [2.326, 2.1803, 5.7779, 9.6237, 0.15486, 0.16557, 0],
    [2.6404, 7.8277, 4.4234, 37.495, 0.19786, 0.04255, 0],
  ].map(([lambdaPlus, lambdaMinus, kappaPlus, kappaMinus, epsilonPlus, epsilonMinus, drift]) => ({
    ...base,
    lambdaPlus,
    lambdaMinus,
    kappaPlus,
    kappaMinus,
    epsilonPlus,
    epsilonMinus,
    drift,
  }));
  const generator = [0, 0.49283, 0.25388, 2.5794, 0, 2.4361, 0.1619, 0.4608, 0];
  const sol = solveRegimeQuotes({ regimes, generator }, inf);
  benchCpu('joint (inventory, regime) stationary law, 3 regimes, q̄ = 10', () =>
    stationaryRegimeInventory(sol.tables, generator),
  );
  const cold = solveRegimePhiForTarget({ regimes, generator }, target);
  benchCpu('φ for stdLots 2 on the joint law, ETH regimes [cold]', () =>
    solveRegimePhiForTarget({ regimes, generator }, target),
  );
  const movedRegimes = regimes.map((p) => ({ ...p, lambdaPlus: p.lambdaPlus * 1.02 }));
  const warmOpts = {
    guess: cold.phi,
    warmStart: cold.solution,
    relTol: 0.05,
    phiRelTol: 0.05,
    keepWithin: 0.05,
  };
  benchCpu('φ for stdLots 2 on the joint law, next refresh [warm]', () =>
    solveRegimePhiForTarget({ regimes: movedRegimes, generator }, target, warmOpts),
  );
  report(
    `  regime solves per φ: cold ${cold.evaluations}, warm ${solveRegimePhiForTarget({ regimes: movedRegimes, generator }, target, warmOpts).evaluations}`,
    '',
  );
}

// Touch mode, stationary (hyperopt's cj space has mode depth|touch): Howard's policy iteration since
// 2026-12-05 (before: the Newton path, whose system is singular when states post neither side, integrated
// the HJB until stationary — 7.3 ms per solve on cj's hyperopt parameter sets).
const ethTouch: ModelParams = { ...eth, lambdaPlus: 1.622, lambdaMinus: 1.095, kappaMinus: 8.581 };
const touch = { horizon: Number.POSITIVE_INFINITY, mode: 'touch' as const, halfSpread: 0.05 };
benchCpu('stationary touch (Δ/2 = tick/2, no fee), q̄ = 10', () => solveQuotes(ethTouch, touch), 1000);
benchCpu(
  'stationary touch (Δ/2 = tick/2 < ε + base fee: flatten, rest at 0), q̄ = 10',
  () => solveQuotes({ ...ethTouch, epsilonPlus: 0.13, epsilonMinus: 0.1, feePerFill: 0.5 }, touch),
  1000,
);
