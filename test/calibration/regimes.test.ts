/**
 * The regime model's calibration (Cartea, Donnelly & Jaimungal 2018) on simulated markets with a KNOWN
 * imbalance signal: MO rates, fill decay and mid jumps depend on a Markov regime that the touch sizes reveal.
 * Per-regime λ±, κ±, ε± and the generator are recovered within 3 standard errors (and the z-scores have the
 * spread of standard normals); the rolling calibrator's incremental regime statistics equal a batch
 * calibration of the same window; one regime reproduces the pooled estimates exactly.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { calibrate } from '../../src/calibration/calibrate.ts';
import { regimeOfImbalance, resolveRegimeSpec } from '../../src/calibration/rolling/regimes.ts';
import { RollingCalibrator } from '../../src/calibration/rolling.ts';
import type { RegimeCalibration } from '../../src/calibration/types.ts';
import { type MarketSimRegimes, simulateMarket } from '../../src/model/market-sim.ts';

export const REGIME_WORLD: MarketSimRegimes = {
  generator: [
    [0, 0.3, 0.05],
    [0.2, 0, 0.2],
    [0.05, 0.3, 0],
  ],
  params: [
    {
      lambdaPlus: 0.6,
      lambdaMinus: 1.6,
      kappaPlus: 10,
      kappaMinus: 6,
      epsilonPlus: 0.02,
      epsilonMinus: 0.08,
    },
    { lambdaPlus: 1.0, lambdaMinus: 1.0, kappaPlus: 8, kappaMinus: 8, epsilonPlus: 0.04, epsilonMinus: 0.04 },
    {
      lambdaPlus: 1.6,
      lambdaMinus: 0.6,
      kappaPlus: 6,
      kappaMinus: 10,
      epsilonPlus: 0.08,
      epsilonMinus: 0.02,
    },
  ],
};
const plain = {
  tick: 0.1,
  lambdaPlus: 1,
  lambdaMinus: 1,
  kappaPlus: 8,
  kappaMinus: 8,
  epsilonPlus: 0.04,
  epsilonMinus: 0.04,
  sigma: 0.1,
  rxLatencyMs: 300,
};
const KEYS = ['lambdaPlus', 'lambdaMinus', 'kappaPlus', 'kappaMinus', 'epsilonPlus', 'epsilonMinus'] as const;

function zScores(r: RegimeCalibration): { z: number[]; lines: string[] } {
  const z: number[] = [];
  const lines: string[] = [];
  for (const p of r.params) {
    const truth = REGIME_WORLD.params[p.regime];
    assert.equal(p.source, 'fresh', `regime ${p.regime} has enough data of its own`);
    for (const k of KEYS) {
      const zk = (p[k] - truth[k]) / p.stderr[k];
      z.push(zk);
      lines.push(
        `regime ${p.regime} ${k}: ${p[k].toFixed(4)} ± ${p.stderr[k].toFixed(4)} (truth ${truth[k]}, z ${zk.toFixed(2)})`,
      );
    }
  }
  for (let a = 0; a < 3; a++)
    for (let b = 0; b < 3; b++) {
      if (a === b) continue;
      const zk = (r.generator[a][b] - REGIME_WORLD.generator[a][b]) / r.generatorStderr[a][b];
      z.push(zk);
      lines.push(
        `C[${a}][${b}]: ${r.generator[a][b].toFixed(4)} ± ${r.generatorStderr[a][b].toFixed(4)} (z ${zk.toFixed(2)})`,
      );
    }
  return { z, lines };
}

test('regime world: per-regime λ±, κ±, ε± and the generator within 3 SE of the truth (3 seeds)', () => {
  const all: number[] = [];
  for (const seed of [5, 6, 7]) {
    const sim = simulateMarket({ ...plain, seed, durationSec: 7200, regimes: REGIME_WORLD });
    const r = calibrate(sim.events, [], { coin: 'SIM', tick: 0.1, regimes: { count: 3 } }).result!;
    assert.ok(r.regimes, 'the result carries the regime model');
    const reg = r.regimes;
    assert.ok(reg.quality.ok, reg.quality.flags.join(', '));
    // Time per regime and transition counts are what the simulation spent and did (to the millisecond clock).
    const truth = sim.truth.regimes!;
    for (let k = 0; k < 3; k++) {
      assert.ok(Math.abs(reg.timeSec[k] - truth.timeSec[k]) < 2, `time in regime ${k}`);
      for (let w = 0; w < 3; w++) if (w !== k) assert.equal(reg.transitions[k][w], truth.transitions[k][w]);
      assert.ok(Math.abs(reg.generator[k].reduce((a, b) => a + b, 0)) < 1e-12, 'generator rows sum to 0');
    }
    const { z, lines } = zScores(reg);
    for (let i = 0; i < z.length; i++) assert.ok(Math.abs(z[i]) < 3, `seed ${seed}: ${lines[i]}`);
    all.push(...z);
  }
  const rms = Math.sqrt(all.reduce((a, b) => a + b * b, 0) / all.length);
  assert.ok(rms > 0.5 && rms < 1.5, `RMS z over ${all.length} estimates: ${rms.toFixed(2)}`);
  console.log(
    `regime world: ${all.length} z-scores, RMS ${rms.toFixed(2)}, max |z| ${Math.max(...all.map(Math.abs)).toFixed(2)}`,
  );
});

test('incremental regime statistics over a 30-minute window equal a batch calibration of that window', () => {
  const sim = simulateMarket({
    ...plain,
    seed: 31,
    durationSec: 3600,
    regimes: REGIME_WORLD,
    rxLatencyMs: 800,
  });
  const t0 = Date.UTC(2025, 0, 1);
  const at = t0 + 3_500_000;
  const opts = { coin: 'SIM', windowMs: 30 * 60_000, tick: 0.1, regimes: { count: 3 } };
  const cal = new RollingCalibrator(opts);
  let emitted = 0;
  for (const ev of sim.events) {
    if (ev.exTime > at) continue;
    cal.onEvent(ev);
    if (cal.maybeRefresh(ev.exTime)) emitted++;
  }
  assert.ok(emitted > 200);
  const rolled = cal.refresh(at, true)!.regimes!;
  const batch = calibrate(sim.events, [], { ...opts, at }).result!.regimes!;
  const close = (a: number, b: number, what: string) =>
    assert.ok(Math.abs(a - b) <= 1e-9 * Math.abs(b) + 1e-12, `${what}: ${a} vs ${b}`);
  for (let k = 0; k < 3; k++) {
    close(rolled.timeSec[k], batch.timeSec[k], `time ${k}`);
    for (let w = 0; w < 3; w++) {
      assert.equal(rolled.transitions[k][w], batch.transitions[k][w]);
      close(rolled.generator[k][w], batch.generator[k][w], `C[${k}][${w}]`);
    }
    const a = rolled.params[k];
    const b = batch.params[k];
    for (const key of [...KEYS, 'moRatePlus', 'moRateMinus', 'midDrift'] as const) {
      close(a[key], b[key], `regime ${k} ${key}`);
      close(a.stderr[key], b.stderr[key], `regime ${k} stderr.${key}`);
    }
    assert.deepEqual(a.samples, b.samples);
  }
});

test('one regime reproduces the pooled estimates exactly', () => {
  const sim = simulateMarket({ ...plain, seed: 41, durationSec: 1800 });
  const r = calibrate(sim.events, [], { coin: 'SIM', tick: 0.1, regimes: { count: 1 } }).result!;
  const p = r.regimes!.params[0];
  for (const k of [...KEYS, 'moRatePlus', 'moRateMinus'] as const) {
    assert.equal(p[k], r[k], k);
    assert.equal(p.stderr[k], r.stderr[k], `stderr.${k}`);
  }
  assert.deepEqual(r.regimes!.generator, [[0]]);
  const without = calibrate(sim.events, [], { coin: 'SIM', tick: 0.1 }).result!;
  assert.equal(without.regimes, undefined);
  assert.deepEqual(
    { ...r, regimes: undefined },
    { ...without, regimes: undefined },
    'regimes change nothing else',
  );
});

test('regime classification: thresholds, edges, validation', () => {
  const spec = resolveRegimeSpec({ count: 3 });
  assert.deepEqual(spec.thresholds, [1 / 3, 2 / 3]);
  assert.equal(regimeOfImbalance(0, spec.thresholds), 0);
  assert.equal(regimeOfImbalance(0.5, spec.thresholds), 1);
  assert.equal(regimeOfImbalance(1, spec.thresholds), 2);
  assert.equal(regimeOfImbalance(Number.NaN, spec.thresholds), -1);
  assert.throws(() => resolveRegimeSpec({ count: 0 }), /regimes\.count/);
  assert.throws(() => resolveRegimeSpec({ count: 3, thresholds: [0.6, 0.4] }), /ascending/);
  assert.throws(() => resolveRegimeSpec({ count: 3, thresholds: [0.5] }), /count − 1/);
});
