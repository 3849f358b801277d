/**
 * The controlled (inventory, regime) process of the imbalance-regime model against independent truths:
 * - one regime: the joint law is the one-regime stationaryInventory law;
 * - the joint generator's left null vector from a dense solve; the global balance equations hold state by
 *   state to relative round-off even where π is astronomically small; the regime marginal is the regime
 *   chain's own law; identical regimes give the product law;
 * - a simulation of the controlled process in the model world (regime chain, Poisson MOs per regime, a fill
 *   when the MO reaches the posted depth): time shares per inventory level and at the bounds;
 * - φ from an inventory target on the joint law: met, E[q²] monotone in φ, simulated RMS at the solved φ
 *   equals the target, and it differs from φ solved on the regime-averaged (pooled) model when the regimes'
 *   drifts push inventory around.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { stationaryInventory } from '../../src/model/inventory.ts';
import { solveDense } from '../../src/model/linalg.ts';
import { regimeStationaryLaw, solveRegimeQuotes } from '../../src/model/regime.ts';
import { solveRegimePhiForTarget, stationaryRegimeInventory } from '../../src/model/regime-inventory.ts';
import { solveQuotes } from '../../src/model/solve.ts';
import type { ModelParams, QuoteTable } from '../../src/model/types.ts';
import { Rng } from '../../src/util/rng.ts';
import { params } from './helpers.ts';

const INF = Number.POSITIVE_INFINITY;
const common = { phi: 5e-4, alpha: 0, qMin: -4, qMax: 4, feePerFill: 0.08 };
/**
 * Sell pressure / balanced / buy pressure: more sell (buy) MOs and a drift D_z = λ⁺ε⁺ − λ⁻ε⁻ of −0.015 (0,
 * +0.015) price/s, so a regime pushes inventory one way while it lasts. Depths stay positive at every q (checked below), so the
 * model's fill rate λe^{−κδ} is a probability times the MO rate and the world can be simulated as it is.
 */
const regimes: ModelParams[] = [
  params({
    ...common,
    lambdaPlus: 0.6,
    lambdaMinus: 1.4,
    kappaPlus: 12,
    kappaMinus: 9,
    epsilonPlus: 0.01,
    epsilonMinus: 0.015,
  }),
  params({
    ...common,
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 10,
    kappaMinus: 10,
    epsilonPlus: 0.012,
    epsilonMinus: 0.012,
  }),
  params({
    ...common,
    lambdaPlus: 1.4,
    lambdaMinus: 0.6,
    kappaPlus: 9,
    kappaMinus: 12,
    epsilonPlus: 0.015,
    epsilonMinus: 0.01,
  }),
];
/** Slow switching (mean stay 4–8 s), so a regime's push on inventory shows. */
const C = [0, 0.12, 0.03, 0.1, 0, 0.1, 0.03, 0.12, 0];

/** π from πQ = 0, Σπ = 1 by a dense solve of the joint generator (state i·m + z). */
function denseJoint(tables: QuoteTable[], gen: number[]): Float64Array {
  const m = tables.length;
  const nq = tables[0].h.length;
  const n = nq * m;
  const a = new Float64Array(n * n); // row s of Qᵀ
  const add = (from: number, to: number, rate: number) => {
    if (!(rate > 0)) return;
    a[to * n + from] += rate;
    a[from * n + from] -= rate;
  };
  for (let i = 0; i < nq; i++)
    for (let z = 0; z < m; z++) {
      const s = i * m + z;
      if (i < nq - 1) add(s, s + m, tables[z].fillRateMinus[i]);
      if (i > 0) add(s, s - m, tables[z].fillRatePlus[i]);
      for (let w = 0; w < m; w++) if (w !== z) add(s, i * m + w, gen[z * m + w]);
    }
  for (let j = 0; j < n; j++) a[(n - 1) * n + j] = 1;
  const b = new Float64Array(n);
  b[n - 1] = 1;
  assert.ok(solveDense(a, b, n));
  return b;
}

test('one regime: the joint law is the one-regime stationary inventory law', () => {
  const t = solveQuotes(regimes[2], { horizon: INF });
  const one = stationaryInventory(t);
  const joint = stationaryRegimeInventory([t], [0]);
  for (let i = 0; i < one.pi.length; i++)
    assert.ok(Math.abs(joint.pi[i] - one.pi[i]) <= 1e-13 * Math.max(one.pi[i], 1e-300) + 1e-300, `π[${i}]`);
  assert.ok(Math.abs(joint.rms - one.rms) < 1e-13 && Math.abs(joint.atBounds - one.atBounds) < 1e-15);
  assert.equal(joint.regime[0], 1);
});

test('joint law = the dense null vector of the (q, regime) generator; regime marginal = the regime chain’s law', () => {
  for (const phi of [2e-4, 2e-3, 2e-2]) {
    const sol = solveRegimeQuotes(
      { regimes: regimes.map((p) => ({ ...p, phi })), generator: C },
      { horizon: INF },
    );
    const law = stationaryRegimeInventory(sol.tables, C);
    const ref = denseJoint(sol.tables, C);
    for (let s = 0; s < ref.length; s++)
      assert.ok(Math.abs(law.joint[s] - ref[s]) < 1e-12, `φ ${phi}: π[${s}] ${law.joint[s]} vs ${ref[s]}`);
    const rl = regimeStationaryLaw(C, 3);
    for (let z = 0; z < 3; z++) assert.ok(Math.abs(law.regime[z] - rl[z]) < 1e-12, `regime ${z}`);
    let sum = 0;
    for (const x of law.pi) sum += x;
    assert.ok(Math.abs(sum - 1) < 1e-14);
  }
});

test('global balance holds state by state to relative round-off, even where π is astronomically small', () => {
  // Wide bounds and a strong penalty: π spans hundreds of orders of magnitude.
  const wide = regimes.map((p) => ({ ...p, qMin: -40, qMax: 40, phi: 0.05 }));
  const sol = solveRegimeQuotes({ regimes: wide, generator: C }, { horizon: INF });
  const law = stationaryRegimeInventory(sol.tables, C);
  const m = 3;
  const nq = 81;
  let smallest = 1;
  for (let i = 0; i < nq; i++)
    for (let z = 0; z < m; z++) {
      const s = i * m + z;
      const t = sol.tables[z];
      const up = i < nq - 1 ? t.fillRateMinus[i] : 0;
      const down = i > 0 ? t.fillRatePlus[i] : 0;
      let outRate = up + down;
      for (let w = 0; w < m; w++) if (w !== z) outRate += C[z * m + w];
      let inflow = 0;
      if (i > 0) inflow += law.joint[s - m] * sol.tables[z].fillRateMinus[i - 1];
      if (i < nq - 1) inflow += law.joint[s + m] * sol.tables[z].fillRatePlus[i + 1];
      for (let w = 0; w < m; w++) if (w !== z) inflow += law.joint[i * m + w] * C[w * m + z];
      const outflow = law.joint[s] * outRate;
      assert.ok(law.joint[s] > 0, `π(${i - 40}, ${z}) underflowed`);
      assert.ok(
        Math.abs(inflow - outflow) <= 1e-11 * outflow,
        `balance at (${i - 40}, ${z}): ${inflow} vs ${outflow}`,
      );
      smallest = Math.min(smallest, law.joint[s]);
    }
  assert.ok(smallest < 1e-100, `the test should reach tiny probabilities (smallest ${smallest})`);
});

test('identical regimes: the joint law is the product of the one-regime law and the regime law', () => {
  const p = regimes[1];
  const t = solveQuotes(p, { horizon: INF });
  const law = stationaryRegimeInventory([t, t, t], C);
  const one = stationaryInventory(t);
  const rl = regimeStationaryLaw(C, 3);
  for (let i = 0; i < one.pi.length; i++)
    for (let z = 0; z < 3; z++) assert.ok(Math.abs(law.joint[i * 3 + z] - one.pi[i] * rl[z]) < 1e-14);
});

test('a chain that cannot bring inventory back is refused, naming the level', () => {
  const sol = solveRegimeQuotes({ regimes, generator: C }, { horizon: INF });
  const broken = sol.tables.map((t) => ({ ...t, fillRatePlus: Float64Array.from(t.fillRatePlus) }));
  for (const t of broken) t.fillRatePlus[6] = 0; // no ask fill at q = 2 in any regime
  assert.throws(() => stationaryRegimeInventory(broken, C), /no ask fill in any regime at q = 2/);
});

/**
 * The model world under the regime tables' stationary policy: the regime switches by C; in regime z buy and
 * sell MOs arrive at λ±_z, and an MO fills our quote at depth δ with probability e^{−κ±_z δ}. Returns the
 * share of time at each inventory level, per path.
 */
function simulate(
  rp: ModelParams[],
  tables: QuoteTable[],
  gen: number[],
  T: number,
  paths: number,
  seed: number,
) {
  const rng = new Rng(seed);
  const m = rp.length;
  const { qMin, qMax } = rp[0];
  const nq = qMax - qMin + 1;
  const out: Float64Array[] = [];
  const stay = rp.map((_p, z) => {
    let s = 0;
    for (let w = 0; w < m; w++) if (w !== z) s += gen[z * m + w];
    return s;
  });
  for (let k = 0; k < paths; k++) {
    const time = new Float64Array(nq);
    let q = 0;
    let z = Math.floor(rng.uniform() * m);
    let t = 0;
    while (t < T) {
      const p = rp[z];
      const total = p.lambdaPlus + p.lambdaMinus + stay[z];
      const dt = Math.min(rng.exponential(total), T - t);
      time[q - qMin] += dt;
      t += dt;
      if (t >= T) break;
      let u = rng.uniform() * total;
      const tab = tables[z];
      const i = q - qMin;
      if (u < p.lambdaPlus) {
        // buy MO: lifts our ask at δ⁺(q, z)
        const d = tab.deltaPlus[i];
        if (Number.isFinite(d) && rng.uniform() < Math.exp(-p.kappaPlus * d)) q--;
      } else if ((u -= p.lambdaPlus) < p.lambdaMinus) {
        const d = tab.deltaMinus[i];
        if (Number.isFinite(d) && rng.uniform() < Math.exp(-p.kappaMinus * d)) q++;
      } else {
        u -= p.lambdaMinus;
        let next = -1;
        for (let w = 0; w < m; w++) {
          if (w === z) continue;
          next = w; // the last candidate takes any rounding remainder
          u -= gen[z * m + w];
          if (u < 0) break;
        }
        z = next;
      }
    }
    for (let i = 0; i < nq; i++) time[i] /= T;
    out.push(time);
  }
  return out;
}

function meanSe(xs: number[]) {
  const n = xs.length;
  const mean = xs.reduce((a, b) => a + b, 0) / n;
  const v = xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1);
  return { mean, se: Math.sqrt(v / n) };
}

test('the joint law matches a simulation of the controlled (q, regime) process in the model world', () => {
  const sol = solveRegimeQuotes({ regimes, generator: C }, { horizon: INF });
  for (const t of sol.tables)
    for (let i = 0; i < t.h.length; i++) {
      assert.ok(!(t.deltaPlus[i] < 0) && !(t.deltaMinus[i] < 0), 'depths must stay ≥ 0 for this world');
    }
  const law = stationaryRegimeInventory(sol.tables, C);
  // The test can tell: the regime-by-regime laws (each regime's table as if it never switched) mixed by the
  // regime chain's law are a different answer (here too wide: a regime alone pushes inventory to a bound).
  const rl = regimeStationaryLaw(C, 3);
  let naiveM2 = 0;
  sol.tables.forEach((t, z) => {
    naiveM2 += rl[z] * stationaryInventory(t).rms ** 2;
  });
  const paths = simulate(regimes, sol.tables, C, 4000, 16, 7);
  const m2 = meanSe(paths.map((p) => p.reduce((a, x, i) => a + x * (i + common.qMin) ** 2, 0)));
  const atB = meanSe(paths.map((p) => p[0] + p[p.length - 1]));
  // Paths start at q = 0: a burn-in bias of order (relaxation time ≈ 30 s)/T ≈ 1 %.
  assert.ok(
    Math.abs(m2.mean - law.rms ** 2) < 3 * m2.se + 0.02 * law.rms ** 2,
    `E[q²] simulated ${m2.mean} ± ${m2.se} vs joint law ${law.rms ** 2}`,
  );
  assert.ok(
    Math.abs(atB.mean - law.atBounds) < 3 * atB.se + 0.002,
    `time at bounds simulated ${atB.mean} ± ${atB.se} vs ${law.atBounds}`,
  );
  // Level by level.
  for (let i = 0; i < law.pi.length; i++) {
    const s = meanSe(paths.map((p) => p[i]));
    assert.ok(
      Math.abs(s.mean - law.pi[i]) < 4 * s.se + 0.003,
      `q = ${i + common.qMin}: ${s.mean} ± ${s.se} vs ${law.pi[i]}`,
    );
  }
  assert.ok(
    Math.abs(m2.mean - naiveM2) > 5 * m2.se + 0.02 * naiveM2,
    `simulated E[q²] ${m2.mean} ± ${m2.se} should be told apart from the naive mixture ${naiveM2}`,
  );
});

test('φ from stdLots on the joint law: met, monotone, confirmed by simulation, and unlike the pooled model’s φ', () => {
  const target = 1.8;
  const s = solveRegimePhiForTarget({ regimes, generator: C }, { stdLots: target });
  assert.equal(s.status, 'met');
  assert.ok(s.law.rms <= target && s.law.rms > target * 0.999, `rms ${s.law.rms}`);
  // A simulation of the controlled process at that φ has the target RMS.
  for (const t of s.solution.tables)
    for (let i = 0; i < t.h.length; i++)
      assert.ok(!(t.deltaPlus[i] < 0) && !(t.deltaMinus[i] < 0), 'depths must stay ≥ 0 for this world');
  const paths = simulate(regimes, s.solution.tables, C, 4000, 16, 11);
  const m2 = meanSe(paths.map((p) => p.reduce((a, x, i) => a + x * (i + common.qMin) ** 2, 0)));
  assert.ok(
    Math.abs(Math.sqrt(m2.mean) - target) < (1.5 * m2.se) / target + 0.02 * target,
    `simulated rms ${Math.sqrt(m2.mean)} (E[q²] ${m2.mean} ± ${m2.se}) vs target ${target}`,
  );
  // E[q²] never rises with φ on the joint law either.
  let last = INF;
  for (let e = -6; e <= -0.5; e += 0.25) {
    const sol = solveRegimeQuotes(
      { regimes: regimes.map((p) => ({ ...p, phi: 10 ** e })), generator: C },
      { horizon: INF },
    );
    const rms = stationaryRegimeInventory(sol.tables, C).rms;
    assert.ok(rms <= last * (1 + 1e-9), `φ = 1e${e}: rms ${rms} after ${last}`);
    last = rms;
  }
  // The pooled (time-averaged) model has no regime drift to ride: its φ for the same target is smaller.
  const rl = regimeStationaryLaw(C, 3);
  const avg = (k: keyof ModelParams) => regimes.reduce((a, p, z) => a + rl[z] * (p[k] as number), 0);
  const pooled: ModelParams = {
    ...regimes[1],
    lambdaPlus: avg('lambdaPlus'),
    lambdaMinus: avg('lambdaMinus'),
    kappaPlus: avg('kappaPlus'),
    kappaMinus: avg('kappaMinus'),
    epsilonPlus: avg('epsilonPlus'),
    epsilonMinus: avg('epsilonMinus'),
  };
  const pooledPhi = solveRegimePhiForTarget({ regimes: [pooled], generator: [0] }, { stdLots: target }).phi;
  assert.ok(s.phi > 3 * pooledPhi, `regime φ ${s.phi} vs pooled φ ${pooledPhi}`);
  // The pooled φ on the regime model misses the target.
  const atPooled = solveRegimeQuotes(
    { regimes: regimes.map((p) => ({ ...p, phi: pooledPhi })), generator: C },
    { horizon: INF },
  );
  const rmsAtPooled = stationaryRegimeInventory(atPooled.tables, C).rms;
  // (by a few % only: the ±4 bounds cap what a φ ten times too small can do)
  assert.ok(rmsAtPooled > target * 1.02, `rms at the pooled φ ${rmsAtPooled}`);
});

test('φ from maxTimeAtBound and both targets; a warm start gives the same φ', () => {
  const a = solveRegimePhiForTarget({ regimes, generator: C }, { maxTimeAtBound: 0.01 });
  assert.equal(a.status, 'met');
  assert.ok(a.law.atBounds <= 0.01 && a.law.atBounds > 0.0099, `at bounds ${a.law.atBounds}`);
  const r = solveRegimePhiForTarget({ regimes, generator: C }, { stdLots: 1.5 });
  const both = solveRegimePhiForTarget({ regimes, generator: C }, { stdLots: 1.5, maxTimeAtBound: 0.01 });
  assert.ok(Math.abs(both.phi / Math.max(a.phi, r.phi) - 1) < 2e-3, `both ${both.phi}`);
  const warm = solveRegimePhiForTarget(
    { regimes, generator: C },
    { stdLots: 1.5 },
    { guess: r.phi * 1.01, warmStart: r.solution },
  );
  assert.ok(Math.abs(warm.phi / r.phi - 1) < 0.01, `warm ${warm.phi} vs cold ${r.phi}`);
  assert.ok(warm.evaluations < r.evaluations, `warm ${warm.evaluations} vs cold ${r.evaluations} solves`);
  assert.throws(() => solveRegimePhiForTarget({ regimes, generator: C }, {}), /give stdLots/);
});

test('rolling refresh (warm guess, 5 % band): the secant search lands in the band, near the full-precision φ, in few solves', () => {
  const band = 0.05;
  const goal = 1.5;
  const rng = new Rng(7);
  let prev = solveRegimePhiForTarget({ regimes, generator: C }, { stdLots: goal });
  let slope: number | undefined;
  let evaluations = 0;
  let maxDev = 0;
  const steps = 12;
  for (let k = 0; k < steps; k++) {
    // A re-calibration: every rate and the generator move by up to ±25 %.
    const f = () => 0.75 + 0.5 * rng.uniform();
    const moved = regimes.map((p) => ({
      ...p,
      lambdaPlus: p.lambdaPlus * f(),
      lambdaMinus: p.lambdaMinus * f(),
      kappaPlus: p.kappaPlus * f(),
    }));
    const gen = C.map((c) => c * f());
    const opts = {
      guess: prev.phi,
      warmStart: prev.solution,
      relTol: band,
      phiRelTol: band,
      keepWithin: band,
    };
    const r = solveRegimePhiForTarget(
      { regimes: moved, generator: gen },
      { stdLots: goal },
      { ...opts, slope },
    );
    evaluations += r.evaluations;
    if (r.slope !== undefined) slope = r.slope;
    assert.equal(r.status, 'met');
    assert.ok(Math.abs(Math.log(r.law.rms / goal)) <= band, `step ${k}: rms ${r.law.rms} vs ${goal} ± 5 %`);
    // The law returned is the law at the φ returned, and the full-precision φ gives the goal within 0.1 %.
    const at = solveRegimeQuotes(
      { regimes: moved.map((p) => ({ ...p, phi: r.phi })), generator: gen },
      { horizon: INF },
    );
    assert.ok(Math.abs(stationaryRegimeInventory(at.tables, gen).rms / r.law.rms - 1) < 1e-7);
    // Its solves stop at a looser Newton tolerance: the depths agree with the full-precision solve at that φ
    // (from cold) far below any tick.
    let dev = 0;
    at.tables.forEach((t, z) => {
      const u = r.solution.tables[z];
      for (let i = 0; i < t.h.length; i++) {
        if (i > 0) dev = Math.max(dev, Math.abs(t.deltaPlus[i] - u.deltaPlus[i]));
        if (i < t.h.length - 1) dev = Math.max(dev, Math.abs(t.deltaMinus[i] - u.deltaMinus[i]));
      }
    });
    maxDev = Math.max(maxDev, dev);
    assert.ok(dev < 1e-8, `step ${k}: depths off by ${dev}`);
    const exact = solveRegimePhiForTarget({ regimes: moved, generator: gen }, { stdLots: goal });
    assert.ok(Math.abs(exact.law.rms / goal - 1) < 1e-3);
    // Within the band on the metric: φ within the band over the local slope (d ln rms / d ln φ ≈ −¼ … −1).
    assert.ok(Math.abs(Math.log(r.phi / exact.phi)) < band / 0.2, `φ ${r.phi} vs ${exact.phi}`);
    prev = r;
  }
  console.log(`depths vs full precision: max deviation ${maxDev.toExponential(1)}`);
  assert.ok(evaluations / steps <= 2.25, `${evaluations} solves over ${steps} refreshes`);
  // A guess far off (φ ÷ 1000) still lands in the band; a target the bounds always meet is 'unconstrained'.
  const far = solveRegimePhiForTarget(
    { regimes, generator: C },
    { stdLots: goal },
    { guess: prev.phi / 1000, keepWithin: band, relTol: band, phiRelTol: band },
  );
  assert.equal(far.status, 'met');
  assert.ok(Math.abs(Math.log(far.law.rms / goal)) <= band, `far: rms ${far.law.rms}`);
  const loose = solveRegimePhiForTarget(
    { regimes, generator: C },
    { stdLots: 50 },
    { guess: prev.phi, keepWithin: band, relTol: band, phiRelTol: band },
  );
  assert.equal(loose.status, 'unconstrained');
  assert.equal(loose.phi, 0);
});
