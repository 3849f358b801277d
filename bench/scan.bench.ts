/**
 * Costs figures: the stationary expected P&L of a CJ policy (one solve + the inventory law), a full scan of
 * one coin (calibration, book statistics, expected P&L at nine maker fees) on the shared ETH recording, and
 * the P&L attribution's cost per price update and per fill. Median wall time; CPU time of the whole run below.
 */
import { existsSync } from 'node:fs';
import { PnlAttribution } from '../src/engine/attribution.ts';
import { readSource } from '../src/marketdata/source.ts';
import { stationaryExpectedPnl } from '../src/model/expected-pnl.ts';
import type { ModelParams } from '../src/model/types.ts';
import { DEFAULT_SCAN_OPTIONS, scanCoin } from '../src/scan/scan.ts';
import { fmtUs, report, timeIt } from './timing.ts';

const cpu0 = process.cpuUsage();
const eth: ModelParams = {
  lambdaPlus: 1.62,
  lambdaMinus: 1.1,
  kappaPlus: 8.4,
  kappaMinus: 8.58,
  epsilonPlus: 0.117,
  epsilonMinus: 0.147,
  phi: 1e-3,
  alpha: 0,
  qMin: -10,
  qMax: 10,
  feePerFill: 0.5,
};
let s = timeIt(() => stationaryExpectedPnl({ ...eth, kappaMinus: eth.kappaPlus }), { minMs: 1000 });
report('expected P&L, stationary symmetric κ, q̄ = 10', fmtUs(s.median));
s = timeIt(() => stationaryExpectedPnl(eth), { minMs: 1000 });
report('expected P&L, stationary asymmetric κ, q̄ = 10', fmtUs(s.median));

// Attribution: one price update and one fill, in a long stream (settling horizons as it goes).
const a = new PnlAttribution({ horizonMs: 1000 });
let t = 0;
let px = 3000;
const N = 2_000_000;
const t0 = performance.now();
for (let i = 0; i < N; i++) {
  t += 50;
  px += (i * 7919) % 3 === 0 ? 0.1 : -0.1;
  a.onPrice(t, px);
  if (i % 10 === 0) a.onFill(t, i % 20 === 0 ? 'bid' : 'ask', px - 0.05, 0.01, 0.0045);
}
const perEventNs = ((performance.now() - t0) * 1e6) / (N * 1.1);
report('attribution, per price update or fill (2.2 M)', `${perEventNs.toFixed(0)} ns`);

const eth24 = '../shared/data/hyperliquid/seed-collector/ETH';
if (existsSync(eth24)) {
  const d = await readSource(eth24, { coin: 'ETH' });
  const r = timeIt(() => scanCoin('ETH', d.events, d.gaps, DEFAULT_SCAN_OPTIONS), {
    minRuns: 5,
    minMs: 2000,
  });
  report('scan of one coin: ETH, 24 min (18,433 events)', fmtUs(r.median));
} else {
  console.log('(../shared/data absent: scan figure skipped)');
}
const cpu = process.cpuUsage(cpu0);
console.log(`CPU time of this run: ${((cpu.user + cpu.system) / 1e6).toFixed(2)} s`);
