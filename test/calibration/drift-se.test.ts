/**
 * The SE of the drift D = λ⁺ε⁺ − λ⁻ε⁻ is honest: over independent simulated 30-minute markets (the default window) the z-scores
 * (D̂ − D)/SE have RMS ≈ 1.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate } from '../../src/calibration/calibrate.ts';
import { driftEstimate } from '../../src/model/drift.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';

test('SE of D: RMS z ≈ 1 over 20 simulated 30-minute markets, with the ε covariance reported', () => {
  const world = {
    tick: 0.1,
    lambdaPlus: 1.4,
    lambdaMinus: 1.0,
    kappaPlus: 8,
    kappaMinus: 9,
    epsilonPlus: 0.12,
    epsilonMinus: 0.08,
    sigma: 0.2,
    rxLatencyMs: 300,
  };
  const D = world.lambdaPlus * world.epsilonPlus - world.lambdaMinus * world.epsilonMinus;
  const z: number[] = [];
  for (let seed = 1; seed <= 20; seed++) {
    const { events } = simulateMarket({ ...world, seed: 700 + seed, durationSec: 1800 });
    const r = calibrate(events, [], { coin: 'SIM' }).result!;
    const d = r.drift!;
    z.push((d.value - D) / d.stderr);
    const mm = r.markouts.find((m) => m.horizon === r.markoutHorizon)!;
    assert.ok(Number.isFinite(mm.covariance), 'covariance reported');
    const noCov = driftEstimate(r, r.stderr, 0).stderr;
    const want = Math.sqrt(Math.max(0, noCov ** 2 - 2 * r.lambdaPlus * r.lambdaMinus * mm.covariance!));
    assert.ok(Math.abs(d.stderr - want) < 1e-12, 'SE = delta method with the reported covariance');
  }
  const rms = Math.sqrt(z.reduce((s, x) => s + x * x, 0) / z.length);
  // χ²₂₀/20 lies in [0.37, 2.0] with 99 % probability: RMS in [0.61, 1.41].
  assert.ok(rms > 0.6 && rms < 1.42, `RMS z = ${rms.toFixed(2)} (${z.map((x) => x.toFixed(1)).join(' ')})`);
});
