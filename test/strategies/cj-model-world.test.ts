/**
 * Model-world validation: the cj strategy, run through the real backtester (engine, order manager,
 * simulated venue with its matching core) on a market simulated with KNOWN parameters, agrees with what
 * the model predicts for its own policy: fill rates per side and mean P&L.
 *
 * The world is chosen so that the simulated exchange's fill rule coincides with the model's: our orders
 * rest beyond the displayed book (no queue ahead), so an order at depth d fills exactly when a market order
 * reaches d (probability e^{−κd}), and one lot is smaller than any trade print (no partial fills). The
 * prediction uses the depths actually posted (the solver's δ± rounded to the passive side of the tick),
 * turned into the birth–death chain of inventory: up-rate λ⁻e^{−κ⁻d⁻(q)}, down-rate λ⁺e^{−κ⁺d⁺(q)};
 * its stationary law π weights the per-side fill rates, and the mean P&L rate is
 *   Σ_q π(q) [ r⁺(q)(d⁺(q) − ε⁺) + r⁻(q)(d⁻(q) − ε⁻) + q·D ] · lot,   D = drift of the mid from MO jumps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import { createStrategy } from '../../src/strategies/index.ts';
import { roundAsk, roundBid } from '../../src/strategies/quoting.ts';

const truth = {
  lambdaPlus: 2.0,
  lambdaMinus: 1.6,
  kappaPlus: 4,
  kappaMinus: 5,
  epsilonPlus: 0.02,
  epsilonMinus: 0.03,
  sigma: 0.03,
};
const tick = 0.01;
const lot = 0.05;
const qMax = 4;
const phi = 0.0004;
/** Displayed book depth (levels): our quotes rest beyond it, where no queue is ahead of them. */
const bookLevels = 3;
const bookEdge = tick / 2 + (bookLevels - 1) * tick;
const durationSec = 3000;

const SIM: InstrumentSpec = {
  coin: 'SIM',
  tick,
  szDecimals: 2,
  lotSize: lot,
  minNotional: 10,
  makerFee: 0,
  takerFee: 0,
};

test('cj in the simulated model world: per-side fill rates and mean P&L agree with the model', () => {
  const sim = simulateMarket({
    seed: 20251210,
    durationSec,
    tick,
    mid0: 300,
    ...truth,
    rxLatencyMs: 1,
    wideSpreadFrac: 0,
    bookLevels,
    coin: 'SIM',
  });
  const priors = {
    lambdaPlus: truth.lambdaPlus,
    lambdaMinus: truth.lambdaMinus,
    kappaPlus: truth.kappaPlus,
    kappaMinus: truth.kappaMinus,
    epsilonPlus: truth.epsilonPlus,
    epsilonMinus: truth.epsilonMinus,
  };
  const strategy = createStrategy('cj', { calibrate: false, priors, qMax, phi, alpha: 0 }, SIM);
  const result = runBacktest({
    events: sim.events,
    instrument: SIM,
    strategy,
    latency: 1,
    fees: { maker: 0, taker: 0 },
    // The model re-quotes on every mid move; an order-rate cap would leave stale quotes the model never posts.
    risk: { maxPositionLots: qMax, maxOrdersPerSec: 1e6, orderBurst: 1e6 },
  });

  // The model's policy and the depths actually posted (mid always on the half-tick grid: 1-tick spread).
  const table = solveQuotes(
    { ...priors, phi, alpha: 0, qMin: -qMax, qMax, feePerFill: 0 },
    { horizon: Number.POSITIVE_INFINITY },
  );
  const mid = 300.005;
  const n = 2 * qMax + 1;
  const dPlus = new Float64Array(n);
  const dMinus = new Float64Array(n);
  const rPlus = new Float64Array(n);
  const rMinus = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    dPlus[i] = Number.isFinite(table.deltaPlus[i])
      ? roundAsk(mid + table.deltaPlus[i], SIM) - mid
      : Number.NaN;
    dMinus[i] = Number.isFinite(table.deltaMinus[i])
      ? mid - roundBid(mid - table.deltaMinus[i], SIM)
      : Number.NaN;
    // The world must be the one described above: every posted depth beyond the displayed levels.
    if (i > 0)
      assert.ok(dPlus[i] > bookEdge + 1e-9, `ask depth ${dPlus[i]} must rest beyond the displayed book`);
    if (i < n - 1) assert.ok(dMinus[i] > bookEdge + 1e-9, `bid depth ${dMinus[i]} must rest beyond the book`);
    rPlus[i] = i > 0 ? truth.lambdaPlus * Math.exp(-truth.kappaPlus * dPlus[i]) : 0;
    rMinus[i] = i < n - 1 ? truth.lambdaMinus * Math.exp(-truth.kappaMinus * dMinus[i]) : 0;
  }
  // Stationary law of the inventory chain.
  const pi = new Float64Array(n);
  pi[0] = 1;
  for (let i = 0; i < n - 1; i++) pi[i + 1] = (pi[i] * rMinus[i]) / rPlus[i + 1];
  const z = pi.reduce((a, b) => a + b, 0);
  for (let i = 0; i < n; i++) pi[i] /= z;
  // Mid drift from the jumps of visible MOs (those reaching the touch, half a tick away).
  const drift =
    truth.lambdaPlus * Math.exp((-truth.kappaPlus * tick) / 2) * truth.epsilonPlus -
    truth.lambdaMinus * Math.exp((-truth.kappaMinus * tick) / 2) * truth.epsilonMinus;
  let ratePlus = 0;
  let rateMinus = 0;
  let pnlRate = 0;
  let q2 = 0;
  let capPlusSum = 0; // Σ π r⁺ (d⁺ − ε⁺): mean capture per ask fill = capPlusSum / ratePlus
  let capMinusSum = 0;
  for (let i = 0; i < n; i++) {
    const q = i - qMax;
    ratePlus += pi[i] * rPlus[i];
    rateMinus += pi[i] * rMinus[i];
    const capPlus = rPlus[i] > 0 ? rPlus[i] * (dPlus[i] - truth.epsilonPlus) : 0;
    const capMinus = rMinus[i] > 0 ? rMinus[i] * (dMinus[i] - truth.epsilonMinus) : 0;
    pnlRate += pi[i] * (capPlus + capMinus + q * drift) * lot;
    capPlusSum += pi[i] * capPlus;
    capMinusSum += pi[i] * capMinus;
    q2 += pi[i] * q * q;
  }

  const T = result.metrics.durationSec;
  const asks = result.fills.filter((f) => f.side === 'ask').length;
  const bids = result.fills.filter((f) => f.side === 'bid').length;
  const expAsks = ratePlus * T;
  const expBids = rateMinus * T;
  // Fill counts: Poisson-like; 4 standard errors (deterministic seed, so this never flakes).
  assert.ok(
    Math.abs(asks - expAsks) < 4 * Math.sqrt(expAsks),
    `ask fills ${asks}, model ${expAsks.toFixed(1)}`,
  );
  assert.ok(
    Math.abs(bids - expBids) < 4 * Math.sqrt(expBids),
    `bid fills ${bids}, model ${expBids.toFixed(1)}`,
  );
  assert.ok(result.metrics.takerFills === 0, 'post-only quotes never take');
  assert.equal(result.metrics.inventory.max <= qMax + 1e-9, true, 'inventory within the bounds');

  // Mean P&L: spread capture net of adverse selection plus inventory drift. Its noise: counting noise of
  // the capture and the diffusion + jumps of the mid against the inventory.
  const expPnl = pnlRate * T;
  const capAsk = (capPlusSum / ratePlus) * lot;
  const capBid = (capMinusSum / rateMinus) * lot;
  const jumpVar = truth.lambdaPlus * truth.epsilonPlus ** 2 + truth.lambdaMinus * truth.epsilonMinus ** 2;
  const sd = Math.sqrt(
    expAsks * capAsk ** 2 + expBids * capBid ** 2 + q2 * lot * lot * (truth.sigma ** 2 + jumpVar) * T,
  );
  const pnl = result.metrics.netPnl;
  assert.ok(
    Math.abs(pnl - expPnl) < 4 * sd,
    `net P&L ${pnl.toFixed(3)}, model ${expPnl.toFixed(3)} ± ${sd.toFixed(3)}`,
  );
  // The test must be sharp enough to mean something: the P&L is several standard deviations from zero.
  assert.ok(expPnl > 3 * sd, `expected P&L ${expPnl} should dominate its noise ${sd}`);
  console.log(
    `model world: asks ${asks} (model ${expAsks.toFixed(1)}), bids ${bids} (model ${expBids.toFixed(1)}), ` +
      `P&L ${pnl.toFixed(3)} (model ${expPnl.toFixed(3)} ± ${sd.toFixed(3)}), T ${T.toFixed(0)} s`,
  );
});
