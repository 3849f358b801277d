/**
 * The micro-price estimator (Stoikov 2018) against synthetic Markov chains whose micro-price is known:
 * (A) a birth–death imbalance chain with mid moves only at the extreme buckets and a reset law after each
 *     move — closed form by gambler's ruin; (B) a random symmetric chain over imbalance × spread buckets —
 *     truth from the time-step series Σ_t Pᵗr (a different route from the estimator's embedded chain).
 * Both are checked with exact transition probabilities (the solver to 1e-10) and through simulated quotes
 * (the estimator within 4 standard errors over replicate seeds). Plus invariants: mirror antisymmetry,
 * incremental = batch, window eviction, and the shared ETH recording.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  estimateMicroprice,
  MicropriceEstimator,
  type MicropriceQuote,
  micropriceOf,
  micropriceState,
  solveMicroprice,
  weightedMid,
} from '../../src/calibration/microprice.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { Rng } from '../../src/util/rng.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const tick = 0.1;

// ------------------------------------------------------------------ chain A: closed form

const nA = 5;
/** Up/down step probabilities of the imbalance walk; p[n−1] and r[0] are the mid moves (absorption). */
const moveProb = 0.4;
const pA = [0.3, 0.35, 0.3, 0.25, moveProb];
const rA = pA.map((_, j) => pA[nA - 1 - j]); // mirror symmetry r_j = p_{n−1−j}
/** Imbalance law right after an up move (momentum: bid-heavy); after a down move, its mirror. */
const nuUp = [0.05, 0.1, 0.2, 0.3, 0.35];
const nuDown = nuUp.map((_, j) => nuUp[nA - 1 - j]);

/** Gambler's ruin: P(hit the top before the bottom | j) for a birth–death walk on −1..n. */
function hitTopFirst(p: number[], r: number[]): number[] {
  const n = p.length;
  const gamma = [1];
  for (let k = 1; k <= n; k++) gamma.push(gamma[k - 1] * (r[k - 1] / p[k - 1]));
  const total = gamma.reduce((a, b) => a + b, 0);
  const out: number[] = [];
  let acc = 0;
  for (let j = 0; j < n; j++) {
    acc += gamma[j];
    out.push(acc / total);
  }
  return out;
}

/** Closed-form micro-price adjustment of chain A: G* = tick·u/(1 − ν_up·u), u = P_up − P_down. */
function truthA(): number[] {
  const up = hitTopFirst(pA, rA);
  const u = up.map((x) => 2 * x - 1);
  const a = nuUp.reduce((s, v, j) => s + v * u[j], 0);
  return u.map((x) => (tick * x) / (1 - a));
}

/** Exact transition probabilities of chain A as counts (one spread bucket, moves of ±1 tick = ±2 half-ticks). */
function exactCountsA() {
  const S = nA;
  const J = 2;
  const nX = new Float64Array(S).fill(1);
  const nQ = new Float64Array(S * S);
  const nT = new Float64Array(S * S);
  const nR = new Float64Array(S * 2 * J);
  for (let j = 0; j < S; j++) {
    let stay = 1;
    if (j < S - 1) {
      nQ[j * S + j + 1] = pA[j];
      stay -= pA[j];
    } else {
      for (let y = 0; y < S; y++) nT[j * S + y] += moveProb * nuUp[y];
      nR[j * 2 * J + 3] += moveProb; // k = +2
      stay -= moveProb;
    }
    if (j > 0) {
      nQ[j * S + j - 1] = rA[j];
      stay -= rA[j];
    } else {
      for (let y = 0; y < S; y++) nT[j * S + y] += moveProb * nuDown[y];
      nR[j * 2 * J + 0] += moveProb; // k = −2
      stay -= moveProb;
    }
    nQ[j * S + j] += stay;
  }
  return { nX, nQ, nT, nR };
}

/** Sizes whose imbalance lies inside bucket b of n (away from the edges). */
function sizesIn(b: number, n: number, rng: Rng): { bidSz: number; askSz: number } {
  const i = (b + 0.1 + 0.8 * rng.uniform()) / n;
  return { bidSz: 10 * i, askSz: 10 * (1 - i) };
}

function quoteOf(t: number, midHalf: number, spreadTicks: number, b: number, n: number, rng: Rng) {
  const { bidSz, askSz } = sizesIn(b, n, rng);
  const bidPx = Number((((midHalf - spreadTicks) * tick) / 2).toFixed(6));
  const askPx = Number((((midHalf + spreadTicks) * tick) / 2).toFixed(6));
  return { t, bidPx, bidSz, askPx, askSz };
}

function simulateA(seed: number, steps: number): MicropriceQuote[] {
  const rng = new Rng(seed);
  let j = 2;
  let midHalf = 60001; // odd: a 1-tick book sits on the tick grid
  const out: MicropriceQuote[] = [];
  const draw = (law: number[]) => {
    let u = rng.uniform();
    for (let y = 0; y < law.length; y++) {
      u -= law[y];
      if (u < 0) return y;
    }
    return law.length - 1;
  };
  for (let s = 0; s < steps; s++) {
    out.push(quoteOf(1e12 + 100 * s, midHalf, 1, j, nA, rng));
    // [0, p_j): up (a mid move up from the top bucket), [p_j, p_j + r_j): down (a move down from the bottom).
    const u = rng.uniform();
    if (u < pA[j]) {
      if (j === nA - 1) {
        midHalf += 2;
        j = draw(nuUp);
      } else j++;
    } else if (u < pA[j] + rA[j]) {
      if (j === 0) {
        midHalf -= 2;
        j = draw(nuDown);
      } else j--;
    }
  }
  return out;
}

test('chain A (closed form): the solver on exact transition probabilities gives the gambler’s-ruin micro-price', () => {
  const truth = truthA();
  const m = solveMicroprice(exactCountsA(), {
    tick,
    imbalanceBuckets: nA,
    spreadBuckets: 1,
    maxMoveHalfTicks: 2,
    tol: 1e-14,
  });
  assert.ok(m.converged);
  for (let j = 0; j < nA; j++) {
    assert.ok(
      Math.abs(m.adjustment[j] - truth[j]) < 1e-10 * tick,
      `G*(${j}) ${m.adjustment[j]} vs ${truth[j]}`,
    );
  }
  // G¹ is the one-move part: tick·u; the continuation amplifies it by 1/(1 − ν_up·u) > 1 (momentum).
  const up = hitTopFirst(pA, rA);
  for (let j = 0; j < nA; j++) assert.ok(Math.abs(m.g1[j] - tick * (2 * up[j] - 1)) < 1e-12);
  assert.ok(Math.abs(truth[nA - 1]) > Math.abs(m.g1[nA - 1]) * 1.05);
});

test('chain A through simulated quotes: every G*(x) within 4 SE of the closed form over replicate seeds', () => {
  const truth = truthA();
  const reps: number[][] = [];
  for (let seed = 1; seed <= 6; seed++) {
    const m = estimateMicroprice(simulateA(seed, 60_000), {
      tick,
      imbalanceBuckets: nA,
      spreadBuckets: 1,
      windowMs: Number.POSITIVE_INFINITY,
    })!;
    assert.ok(m.converged && m.discardedMoves === 0 && m.transitions === 59_999);
    reps.push(Array.from(m.adjustment));
  }
  for (let j = 0; j < nA; j++) {
    const xs = reps.map((r) => r[j]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1));
    const se = sd / Math.sqrt(xs.length);
    assert.ok(Math.abs(mean - truth[j]) < 4 * se + 1e-12, `G*(${j}) ${mean} ± ${se} vs ${truth[j]}`);
    assert.ok(se < 0.02 * tick, `SE ${se} should be small against the tick`);
  }
});

// ------------------------------------------------------------------ chain B: imbalance × spread, random

const nB = 4;
const SB = 2 * nB;
/** Weights w[x][y][k + 2] for k ∈ {−2..2} half-ticks, consistent with the spread change, mirror-symmetric. */
function chainB(seed: number): Float64Array {
  const rng = new Rng(seed);
  const w = new Float64Array(SB * SB * 5);
  const mir = (x: number) => Math.floor(x / nB) * nB + (nB - 1 - (x % nB));
  const allowed = (x: number, y: number, k: number) => {
    const sx = Math.floor(x / nB);
    const sy = Math.floor(y / nB);
    return sx === sy ? k === 0 || Math.abs(k) === 2 : Math.abs(k) === 1;
  };
  for (let x = 0; x < SB; x++)
    for (let y = 0; y < SB; y++)
      for (let k = -2; k <= 2; k++) {
        if (!allowed(x, y, k)) continue;
        // Imbalance is predictive: bid-heavy states favour up moves.
        const tilt = Math.exp(0.8 * Math.sign(k) * ((x % nB) - (nB - 1) / 2));
        w[(x * SB + y) * 5 + k + 2] = (k === 0 ? 3 : 1) * rng.uniform() * tilt;
      }
  const sym = new Float64Array(w.length);
  for (let x = 0; x < SB; x++)
    for (let y = 0; y < SB; y++)
      for (let k = -2; k <= 2; k++)
        sym[(x * SB + y) * 5 + k + 2] =
          0.5 * (w[(x * SB + y) * 5 + k + 2] + w[(mir(x) * SB + mir(y)) * 5 - k + 2]);
  for (let x = 0; x < SB; x++) {
    let tot = 0;
    for (let i = 0; i < SB * 5; i++) tot += sym[x * SB * 5 + i];
    for (let i = 0; i < SB * 5; i++) sym[x * SB * 5 + i] /= tot;
  }
  return sym;
}

/** Truth by the time-step chain: f = Σ_t Pᵗ r, r(x) = E[mid change | x] (price). */
function truthB(w: Float64Array): number[] {
  const P = new Float64Array(SB * SB);
  const r = new Float64Array(SB);
  for (let x = 0; x < SB; x++)
    for (let y = 0; y < SB; y++)
      for (let k = -2; k <= 2; k++) {
        const v = w[(x * SB + y) * 5 + k + 2];
        P[x * SB + y] += v;
        r[x] += (v * k * tick) / 2;
      }
  const f = Float64Array.from(r);
  let term = Float64Array.from(r);
  for (let it = 0; it < 100_000; it++) {
    const next = new Float64Array(SB);
    for (let x = 0; x < SB; x++) for (let y = 0; y < SB; y++) next[x] += P[x * SB + y] * term[y];
    term = next;
    let m = 0;
    for (let x = 0; x < SB; x++) {
      f[x] += term[x];
      m = Math.max(m, Math.abs(term[x]));
    }
    if (m < 1e-17) break;
  }
  return Array.from(f);
}

function countsFromWeights(w: Float64Array) {
  const J = 2;
  const nX = new Float64Array(SB);
  const nQ = new Float64Array(SB * SB);
  const nT = new Float64Array(SB * SB);
  const nR = new Float64Array(SB * 2 * J);
  for (let x = 0; x < SB; x++)
    for (let y = 0; y < SB; y++)
      for (let k = -2; k <= 2; k++) {
        const v = w[(x * SB + y) * 5 + k + 2];
        nX[x] += v;
        if (k === 0) nQ[x * SB + y] += v;
        else {
          nT[x * SB + y] += v;
          nR[x * 2 * J + (k < 0 ? k + J : k + J - 1)] += v;
        }
      }
  return { nX, nQ, nT, nR };
}

function simulateB(w: Float64Array, seed: number, steps: number): MicropriceQuote[] {
  const rng = new Rng(seed);
  let x = 1;
  let midHalf = 60001;
  const out: MicropriceQuote[] = [];
  for (let s = 0; s < steps; s++) {
    const spreadTicks = Math.floor(x / nB) + 1;
    out.push(quoteOf(1e12 + 100 * s, midHalf, spreadTicks, x % nB, nB, rng));
    let u = rng.uniform();
    let done = false;
    for (let y = 0; y < SB && !done; y++)
      for (let k = -2; k <= 2; k++) {
        u -= w[(x * SB + y) * 5 + k + 2];
        if (u < 0) {
          x = y;
          midHalf += k;
          done = true;
          break;
        }
      }
  }
  return out;
}

test('chain B (imbalance × spread): the solver on exact probabilities equals the time-step series Σ Pᵗr', () => {
  for (const seed of [3, 4, 5]) {
    const w = chainB(seed);
    const truth = truthB(w);
    const m = solveMicroprice(countsFromWeights(w), {
      tick,
      imbalanceBuckets: nB,
      spreadBuckets: 2,
      maxMoveHalfTicks: 2,
      tol: 1e-14,
    });
    assert.ok(m.converged, `seed ${seed}: converged after ${m.iterations}`);
    for (let x = 0; x < SB; x++)
      assert.ok(
        Math.abs(m.adjustment[x] - truth[x]) < 1e-10 * tick,
        `x ${x}: ${m.adjustment[x]} vs ${truth[x]}`,
      );
    // Imbalance is predictive in this chain: the adjustment rises with the bucket at each spread.
    for (let s = 0; s < 2; s++)
      for (let b = 1; b < nB; b++) assert.ok(m.adjustment[s * nB + b] > m.adjustment[s * nB + b - 1]);
  }
});

test('chain B through simulated quotes: every G*(x) within 4 SE of the truth over replicate seeds', () => {
  const w = chainB(3);
  const truth = truthB(w);
  const reps: number[][] = [];
  for (let seed = 11; seed <= 20; seed++) {
    const m = estimateMicroprice(simulateB(w, seed, 40_000), {
      tick,
      imbalanceBuckets: nB,
      spreadBuckets: 2,
      windowMs: Number.POSITIVE_INFINITY,
    })!;
    assert.ok(m.converged);
    reps.push(Array.from(m.adjustment));
  }
  const zs: number[] = [];
  for (let x = 0; x < SB; x++) {
    const xs = reps.map((r) => r[x]);
    const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
    const se = Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (xs.length - 1) / xs.length);
    zs.push((mean - truth[x]) / se);
    assert.ok(Math.abs(mean - truth[x]) < 4 * se, `x ${x}: ${mean} ± ${se} vs ${truth[x]}`);
  }
  const rms = Math.sqrt(zs.reduce((a, z) => a + z * z, 0) / zs.length);
  assert.ok(rms < 2.5, `RMS z ${rms}`);
});

// ------------------------------------------------------------------ invariants

/** Arbitrary quotes with drift and lopsided sizes (nothing symmetric about them). */
function lopsided(seed: number, steps: number): MicropriceQuote[] {
  const rng = new Rng(seed);
  let midHalf = 60001;
  let spread = 1;
  const out: MicropriceQuote[] = [];
  for (let s = 0; s < steps; s++) {
    const bidSz = 0.5 + 20 * rng.uniform() ** 2;
    const askSz = 0.5 + 5 * rng.uniform();
    out.push({
      t: 1e12 + 37 * s,
      bidPx: ((midHalf - spread) * tick) / 2,
      bidSz,
      askPx: ((midHalf + spread) * tick) / 2,
      askSz,
    });
    const u = rng.uniform();
    if (u < 0.1) midHalf += spread === 1 ? 2 : 1;
    else if (u < 0.15) midHalf -= spread === 1 ? 2 : 1;
    else if (u < 0.17) midHalf += 12; // a sweep: beyond maxMoveTicks, discarded
    if (midHalf % 2 === 0) spread = 2;
    else spread = 1;
  }
  return out;
}

test('symmetrisation: I ↔ 1 − I mirrors the adjustment exactly, whatever the data', () => {
  const m = estimateMicroprice(lopsided(7, 20_000), {
    tick,
    imbalanceBuckets: 10,
    spreadBuckets: 2,
    windowMs: Number.POSITIVE_INFINITY,
  })!;
  assert.ok(m.converged);
  assert.ok(m.discardedMoves > 0, 'sweeps beyond 2 ticks are discarded and counted');
  let nonzero = 0;
  for (let s = 0; s < 2; s++)
    for (let b = 0; b < 10; b++) {
      const x = s * 10 + b;
      const y = s * 10 + 9 - b;
      assert.ok(Math.abs(m.adjustment[x] + m.adjustment[y]) < 1e-12 * tick, `${x} vs ${y}`);
      assert.equal(m.visits[x], m.visits[y]);
      if (Math.abs(m.adjustment[x]) > 1e-6) nonzero++;
    }
  assert.ok(nonzero > 4, 'the data are not trivially symmetric');
  // micropriceOf uses the quote's own state; an exactly balanced book on a visited state is the mirror point.
  const mp = micropriceOf(m, 100, 3, 100.1, 1);
  const mirrored = micropriceOf(m, 100, 1, 100.1, 3);
  assert.ok(Math.abs(mp - 100.05 + (mirrored - 100.05)) < 1e-12);
  assert.equal(micropriceState(100, 0, 100.1, 1, tick, 10, 2), -1, 'an empty side is no state');
});

test('incremental refreshes over a sliding window equal a batch estimate of that window', () => {
  const quotes = lopsided(9, 60_000); // 37 ms apart: ~37 min of data
  const windowMs = 10 * 60_000;
  const opts = { tick, imbalanceBuckets: 6, spreadBuckets: 2, windowMs };
  const est = new MicropriceEstimator(opts);
  let refreshes = 0;
  let lastRefresh = -Infinity;
  for (const q of quotes) {
    est.onQuote(q.t, q.bidPx, q.bidSz, q.askPx, q.askSz);
    if (q.t - lastRefresh >= 15_000) {
      est.refresh(q.t);
      lastRefresh = q.t;
      refreshes++;
    }
  }
  const at = quotes[quotes.length - 1].t;
  const rolled = est.refresh(at)!;
  assert.ok(refreshes > 100);
  // The batch sees only the quotes of the window (plus the one before it, whose transition starts inside).
  const batch = estimateMicroprice(
    quotes.filter((q) => q.t >= at - windowMs),
    { ...opts, at },
  )!;
  assert.equal(rolled.transitions, batch.transitions);
  assert.equal(rolled.discardedMoves, batch.discardedMoves);
  for (let x = 0; x < 12; x++) {
    assert.ok(Math.abs(rolled.adjustment[x] - batch.adjustment[x]) <= 1e-9 * tick, `x ${x}`);
    assert.equal(rolled.visits[x], batch.visits[x]);
  }
  assert.ok(Math.abs(rolled.window.end - at) === 0 && rolled.window.start === at - windowMs);
});

test('no model below minTransitions; gaps and stale feeds break the chain; bad options are refused', () => {
  const est = new MicropriceEstimator({ tick, minTransitions: 50 });
  for (let i = 0; i < 30; i++) est.onQuote(1e12 + i * 100, 100, 1 + i, 100.1, 2);
  assert.equal(est.refresh(1e12 + 3000), undefined);
  assert.equal(est.transitions, 29);
  est.onGap(1e12 + 3000, 1e12 + 5000);
  est.onQuote(1e12 + 6000, 100, 1, 100.1, 2); // across the gap: no transition
  est.onQuote(1e12 + 60_000, 100, 1, 100.1, 2); // 54 s later: stale, no transition
  est.onQuote(1e12 + 59_000, 100, 1, 100.1, 2); // backwards: ignored and counted
  assert.equal(est.transitions, 29);
  assert.equal(est.outOfOrder, 1);
  assert.throws(() => new MicropriceEstimator({ tick, imbalanceBuckets: 1 }), /imbalanceBuckets/);
  assert.throws(() => new MicropriceEstimator({ tick: 0 }), /tick/);
  assert.equal(weightedMid(100, 3, 101, 1), 100.75);
  assert.equal(weightedMid(100, 0, 101, 0), 100.5);
});

test('shared ETH recording: the estimator converges, is mirror-odd, and leans with the imbalance', {
  skip: sharedSkip,
}, async () => {
  const data = await readSource(SEED_ETH, { coin: 'ETH' });
  const est = new MicropriceEstimator({ tick: 0.1 });
  for (const g of data.gaps) est.onGap(g.start, g.end);
  let last = 0;
  for (const ev of data.events) {
    if (ev.kind !== 'bbo') continue;
    est.onQuote(ev.exTime, ev.bidPx, ev.bidSz, ev.askPx, ev.askSz);
    last = ev.exTime;
  }
  const m = est.refresh(last)!;
  assert.ok(m.converged && m.transitions > 5000, `${m.transitions} transitions`);
  // Bid-heavy books precede up moves on ETH: the adjustment rises from the ask-heavy to the bid-heavy end.
  assert.ok(m.adjustment[9] > 0 && m.adjustment[0] < 0);
  assert.ok(m.g1[9] > m.g1[5] && m.g1[5] > 0);
  console.log(
    `ETH micro-price adjustment at 1 tick (price): ${Array.from(m.adjustment.subarray(0, 10), (v) => v.toFixed(3)).join(' ')}; ` +
      `G¹: ${Array.from(m.g1.subarray(0, 10), (v) => v.toFixed(3)).join(' ')}; ${m.iterations} terms`,
  );
});
