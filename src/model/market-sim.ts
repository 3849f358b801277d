/**
 * A seedable simulated MARKET on a tick grid: the model world of MATH.md (Poisson MOs with reach
 * P(depth ≥ δ) = e^{−κδ}, permanent jumps ε, a diffusive mid) rendered as the feeds a recorder sees —
 * L2 book snapshots, a bbo feed on every top-of-book change and a trade tape with several maker fills per
 * market order — with exchange and receive clocks.
 *
 * Construction (chosen so the true parameters mean exactly what the estimators measure):
 * - The mid S lives on the half-tick grid. The spread is 1 tick (bid = S − tick/2) or, in "wide" episodes
 *   (a two-state Markov chain), 3 ticks, so a spread change never moves the mid.
 * - Diffusion: the mid steps ±1 tick at Poisson rate σ²/(2·tick²) per direction (variance rate exactly σ²).
 * - MOs of each side arrive at rate λ with a reach D ~ Exp(κ) measured from the mid. An MO with D below the
 *   half-spread δ0 touches nothing and is invisible (it does not move the mid); otherwise it consumes the
 *   levels δ0, δ0 + tick, … up to the last one within D, one to three maker fills per level, all with the
 *   same exchange time, side and taker. Then the mid jumps by J whole ticks in the MO's direction, with
 *   J = ⌊ε/tick⌋ + Bernoulli(frac(ε/tick)) so E[J] = ε exactly.
 * - rxTime = exTime + lognormal latency per websocket message, FIFO per channel (fills of one MO share
 *   one message), so the feeds interleave out of exchange order as real captures do.
 * - Optional imbalance regimes (`regimes`): a continuous-time Markov chain Z with a given generator; in
 *   regime z MOs arrive at λ±_z with reach Exp(κ±_z) and jump ε±_z, and the touch sizes (bbo and the
 *   book's first level) carry an imbalance Q_bid/(Q_bid + Q_ask) drawn inside regime z's range, so the
 *   regime is what an observer of the book classifies. A switch publishes a new bbo. Without `regimes` the
 *   random stream is exactly the plain market's.
 */
import type { BboEvent, BookEvent, BookLevel, MarketEvent, TradeEvent } from '../marketdata/events.ts';
import { Rng } from '../util/rng.ts';

export interface MarketSimOptions {
  seed: number;
  durationSec: number;
  tick?: number;
  mid0?: number;
  lambdaPlus: number;
  lambdaMinus: number;
  /** 1/price. */
  kappaPlus: number;
  kappaMinus: number;
  /** Price units, ≥ 0. */
  epsilonPlus: number;
  epsilonMinus: number;
  /** Diffusion of the mid, price/√s. */
  sigma: number;
  /** Median receive latency (ms); lognormal with log-sd 0.35. 0 = rxTime equals exTime. */
  rxLatencyMs?: number;
  /** Long-run fraction of time in the 3-tick (wide) spread state, and the mean duration of an episode (s). */
  wideSpreadFrac?: number;
  wideSpreadMeanSec?: number;
  /** L2 snapshot period (ms) and depth (levels per side). */
  bookIntervalMs?: number;
  bookLevels?: number;
  /** Exchange time (ms) of the first event. */
  startTime?: number;
  coin?: string;
  /** Attach buyer/seller addresses to trades (Hyperliquid `users`). */
  withAddresses?: boolean;
  /** Emit the bbo feed (otherwise only books and trades, as in archives without bbo). */
  withBbo?: boolean;
  /** Also emit a book snapshot on every top-of-book change (as l2Book does per block), not only periodically. */
  bookOnChange?: boolean;
  /**
   * Two-part depths (the one-tick-book depth model of src/calibration/depth-model.ts) per side: a visible MO
   * stops at the touch with probability touchShare, else goes 1 + ⌊Exp(kappaTail)/tick⌋ levels beyond it.
   * Visibility still follows the exponential reach (rate λe^{−κδ0} at the touch).
   */
  twoPartPlus?: { touchShare: number; kappaTail: number };
  twoPartMinus?: { touchShare: number; kappaTail: number };
  /** Imbalance regimes: when given, their parameters replace the top-level λ±, κ±, ε±. */
  regimes?: MarketSimRegimes;
}

/** A regime-switching market: the generator of Z and each regime's MO parameters. */
export interface MarketSimRegimes {
  /** m×m rates (1/s), row-major nested arrays; the diagonal is ignored. */
  generator: number[][];
  params: {
    lambdaPlus: number;
    lambdaMinus: number;
    kappaPlus: number;
    kappaMinus: number;
    epsilonPlus: number;
    epsilonMinus: number;
  }[];
  /** Imbalance cut points (m − 1, ascending in (0, 1)); default equal width. */
  thresholds?: number[];
  /** Regime at the start (default 0). */
  initial?: number;
}

/** Truth of a regime market, per regime. */
export interface MarketSimRegimeTruth {
  thresholds: number[];
  generator: number[][];
  /** Stationary law of the regime chain. */
  stationary: number[];
  /** Visible MO rates λ±_z·E[e^{−κ±_z δ0}] and the mid drift from jumps, per regime. */
  moRatePlus: number[];
  moRateMinus: number[];
  drift: number[];
  /** Realised time per regime (s), transitions between regimes, and MOs per regime and side. */
  timeSec: number[];
  transitions: number[][];
  mosPlus: number[];
  mosMinus: number[];
}

export interface MarketSimTruth {
  tick: number;
  lambdaPlus: number;
  lambdaMinus: number;
  kappaPlus: number;
  kappaMinus: number;
  epsilonPlus: number;
  epsilonMinus: number;
  /** Diffusion only. */
  sigma: number;
  /** Total variance rate of the mid, jumps included: √(σ² + Σ± moRate·E[J²]) — what a grid estimator sees. */
  sigmaTotal: number;
  /** Rate of VISIBLE MOs per side: λ·E_time[e^{−κ·δ0}]. */
  moRatePlus: number;
  moRateMinus: number;
  /** Expected drift of the mid (price/s) from jumps: moRate⁺ε⁺ − moRate⁻ε⁻. */
  drift: number;
  wideSpreadFrac: number;
  /** Realised counts. */
  mosPlus: number;
  mosMinus: number;
  fills: number;
  regimes?: MarketSimRegimeTruth;
}

export interface MarketSimResult {
  /** Sorted by receive time (the order a live consumer sees them). */
  events: MarketEvent[];
  truth: MarketSimTruth;
}

export function simulateMarket(o: MarketSimOptions): MarketSimResult {
  const tick = o.tick ?? 0.1;
  const coin = o.coin ?? 'SIM';
  const latency = o.rxLatencyMs ?? 150;
  const wideFrac = o.wideSpreadFrac ?? 0.1;
  const wideMean = o.wideSpreadMeanSec ?? 2;
  const bookEvery = o.bookIntervalMs ?? 500;
  const levels = o.bookLevels ?? 10;
  const t0 = o.startTime ?? Date.UTC(2025, 0, 1);
  const withAddr = o.withAddresses ?? true;
  const withBbo = o.withBbo ?? true;
  for (const [k, v] of Object.entries({
    lambdaPlus: o.lambdaPlus,
    lambdaMinus: o.lambdaMinus,
    kappaPlus: o.kappaPlus,
    kappaMinus: o.kappaMinus,
    sigma: o.sigma,
    durationSec: o.durationSec,
  })) {
    if (!(v >= 0) || !Number.isFinite(v)) throw new Error(`simulateMarket: ${k} must be a finite number ≥ 0`);
  }
  if (!(o.epsilonPlus >= 0) || !(o.epsilonMinus >= 0))
    throw new Error('simulateMarket: epsilonPlus/epsilonMinus must be ≥ 0');
  if (!(wideFrac >= 0 && wideFrac < 1)) throw new Error('simulateMarket: wideSpreadFrac must be in [0, 1)');

  const rng = new Rng(o.seed);
  const reg = o.regimes ? checkRegimes(o.regimes) : undefined;
  let z = reg ? (o.regimes?.initial ?? 0) : 0;
  // Mid index in half ticks, kept odd so a 1-tick (or 3-tick) book sits on the tick grid.
  let midHalf = Math.round((o.mid0 ?? 3000) / (tick / 2));
  if (midHalf % 2 === 0) midHalf += 1;
  const px = (halfTicks: number) => Number(((halfTicks * tick) / 2).toFixed(10));
  let wide = false;
  const stepRate = (o.sigma * o.sigma) / (2 * tick * tick);
  const toWide = wideFrac > 0 ? wideFrac / ((1 - wideFrac) * wideMean) : 0;
  const toNarrow = 1 / wideMean;

  const out: { ev: MarketEvent; rx: number; seq: number }[] = [];
  const lastRx = { trade: 0, bbo: 0, book: 0 };
  let seq = 0;
  const rxOf = (ch: 'trade' | 'bbo' | 'book', ex: number) => {
    const lat = latency > 0 ? latency * Math.exp(0.35 * rng.normal()) : 0;
    const rx = Math.max(ex + lat, lastRx[ch]);
    lastRx[ch] = rx;
    return rx;
  };
  const sz = () => Number((0.05 + rng.exponential(1 / 2)).toFixed(4));
  /** Touch sizes whose imbalance lies inside regime z's range (2 % margins, so rounding cannot cross). */
  const touchSizes = (): [number, number] => {
    if (!reg) return [sz(), sz()];
    const lo = z === 0 ? 0 : reg.thresholds[z - 1];
    const hi = z === reg.m - 1 ? 1 : reg.thresholds[z];
    const i = lo + (hi - lo) * (0.02 + 0.96 * rng.uniform());
    const total = 0.2 + rng.exponential(1 / 2);
    return [Number((i * total).toFixed(6)), Number(((1 - i) * total).toFixed(6))];
  };
  const halfSpreadHalfTicks = () => (wide ? 3 : 1);
  let lastQuoteEx = -1;
  const emitBook = (ex: number) => {
    const h = halfSpreadHalfTicks();
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (let i = 0; i < levels; i++) {
      bids.push({ px: px(midHalf - h - 2 * i), sz: sz(), n: 1 + rng.int(5) });
      asks.push({ px: px(midHalf + h + 2 * i), sz: sz(), n: 1 + rng.int(5) });
    }
    if (reg && levels > 0) [bids[0].sz, asks[0].sz] = touchSizes();
    const ev: BookEvent = { kind: 'book', coin, exTime: ex, rxTime: 0, bids, asks };
    ev.rxTime = rxOf('book', ex);
    out.push({ ev, rx: ev.rxTime, seq: seq++ });
  };
  const emitBbo = (ex: number) => {
    lastQuoteEx = ex;
    if (o.bookOnChange) emitBook(ex);
    if (!withBbo) return;
    const h = halfSpreadHalfTicks();
    const [bidSz, askSz] = touchSizes();
    const ev: BboEvent = {
      kind: 'bbo',
      coin,
      exTime: ex,
      rxTime: 0,
      bidPx: px(midHalf - h),
      bidSz,
      askPx: px(midHalf + h),
      askSz,
    };
    ev.rxTime = rxOf('bbo', ex);
    out.push({ ev, rx: ev.rxTime, seq: seq++ });
  };
  const addrs = Array.from({ length: 40 }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
  let tid = 1;
  let mosPlus = 0;
  let mosMinus = 0;
  let fills = 0;

  const endMs = o.durationSec * 1000;
  let t = 0; // ms since t0, continuous
  let nextBook = 0;
  emitBbo(t0);
  while (true) {
    const mp = reg ? reg.params[z] : o;
    const ratePlus = mp.lambdaPlus;
    const rateMinus = mp.lambdaMinus;
    const rateToggle = wide ? toNarrow : toWide;
    const rateSwitch = reg ? reg.leave[z] : 0;
    const total = ratePlus + rateMinus + 2 * stepRate + rateToggle + rateSwitch;
    const dt = total > 0 ? rng.exponential(total) * 1000 : Number.POSITIVE_INFINITY;
    // Book snapshots on their fixed clock, before the next random event.
    while (nextBook <= Math.min(t + dt, endMs)) {
      emitBook(t0 + Math.floor(nextBook));
      nextBook += bookEvery;
    }
    if (reg) reg.timeSec[z] += (Math.min(t + dt, endMs) - t) / 1000;
    t += dt;
    if (t >= endMs) break;
    let ex = t0 + Math.floor(t);
    let u = rng.uniform() * total;
    if (u < ratePlus + rateMinus) {
      const buy = u < ratePlus;
      const kappa = buy ? mp.kappaPlus : mp.kappaMinus;
      const eps = buy ? mp.epsilonPlus : mp.epsilonMinus;
      const reach = rng.exponential(kappa); // depth from the mid this MO would reach
      const h = halfSpreadHalfTicks();
      const delta0 = (h * tick) / 2;
      if (reach < delta0) continue; // never reaches the touch: invisible
      // Keep the MO strictly after the last quote change so "the mid just before" is unambiguous.
      if (ex <= lastQuoteEx) ex = lastQuoteEx + 1;
      const two = buy ? o.twoPartPlus : o.twoPartMinus;
      const k = two
        ? rng.uniform() < two.touchShare
          ? 0
          : 1 + Math.floor(rng.exponential(two.kappaTail) / tick)
        : Math.floor((reach - delta0) / tick);
      const taker = addrs[rng.int(addrs.length)];
      const msgFills: TradeEvent[] = [];
      for (let j = 0; j <= k; j++) {
        const levelPx = buy ? px(midHalf + h + 2 * j) : px(midHalf - h - 2 * j);
        const nAtLevel = 1 + rng.int(j === 0 ? 3 : 2);
        for (let f = 0; f < nAtLevel; f++) {
          const maker = addrs[rng.int(addrs.length)];
          const tr: TradeEvent = {
            kind: 'trade',
            coin,
            exTime: ex,
            rxTime: 0,
            px: levelPx,
            sz: sz(),
            side: buy ? 'buy' : 'sell',
            tid: tid++,
          };
          if (withAddr) {
            tr.buyer = buy ? taker : maker;
            tr.seller = buy ? maker : taker;
          }
          msgFills.push(tr);
        }
      }
      const rx = rxOf('trade', ex);
      for (const tr of msgFills) {
        tr.rxTime = rx;
        out.push({ ev: tr, rx, seq: seq++ });
      }
      fills += msgFills.length;
      if (buy) mosPlus++;
      else mosMinus++;
      if (reg) (buy ? reg.mosPlus : reg.mosMinus)[z]++;
      const whole = Math.floor(eps / tick + 1e-12);
      const jumpTicks = whole + (rng.bernoulli(eps / tick - whole) ? 1 : 0);
      midHalf += (buy ? 2 : -2) * jumpTicks;
      emitBbo(ex); // post-trade top of book, same exchange millisecond
      continue;
    }
    u -= ratePlus + rateMinus;
    if (ex <= lastQuoteEx) ex = lastQuoteEx; // several quote changes may share a millisecond
    if (u < 2 * stepRate) midHalf += u < stepRate ? 2 : -2;
    else if (u < 2 * stepRate + rateToggle || !reg) wide = !wide;
    else {
      // Regime switch: to w with probability C[z][w] / (rate of leaving z).
      let v = u - 2 * stepRate - rateToggle;
      let to = z;
      for (let w = 0; w < reg.m; w++) {
        if (w === z) continue;
        to = w;
        v -= reg.generator[z][w];
        if (v < 0) break;
      }
      reg.transitions[z][to]++;
      z = to;
    }
    emitBbo(ex);
  }

  out.sort((a, b) => a.rx - b.rx || a.seq - b.seq);
  const expReach = (kappa: number) =>
    (1 - wideFrac) * Math.exp((-kappa * tick) / 2) + wideFrac * Math.exp((-kappa * 3 * tick) / 2);
  let regimeTruth: MarketSimRegimeTruth | undefined;
  if (reg) {
    const mpP = reg.params.map((p) => p.lambdaPlus * expReach(p.kappaPlus));
    const mpM = reg.params.map((p) => p.lambdaMinus * expReach(p.kappaMinus));
    regimeTruth = {
      thresholds: reg.thresholds,
      generator: reg.generator.map((r) => [...r]),
      stationary: stationaryLaw(reg.generator),
      moRatePlus: mpP,
      moRateMinus: mpM,
      drift: reg.params.map((p, k) => mpP[k] * p.epsilonPlus - mpM[k] * p.epsilonMinus),
      timeSec: reg.timeSec,
      transitions: reg.transitions,
      mosPlus: reg.mosPlus,
      mosMinus: reg.mosMinus,
    };
  }
  const moRatePlus = o.lambdaPlus * expReach(o.kappaPlus);
  const moRateMinus = o.lambdaMinus * expReach(o.kappaMinus);
  const jumpSecondMoment = (eps: number) => {
    const a = Math.floor(eps / tick + 1e-12);
    const f = eps / tick - a;
    return (a * a + f * (2 * a + 1)) * tick * tick;
  };
  const sigmaTotal = Math.sqrt(
    o.sigma * o.sigma +
      moRatePlus * jumpSecondMoment(o.epsilonPlus) +
      moRateMinus * jumpSecondMoment(o.epsilonMinus),
  );
  return {
    events: out.map((x) => x.ev),
    truth: {
      tick,
      lambdaPlus: o.lambdaPlus,
      lambdaMinus: o.lambdaMinus,
      kappaPlus: o.kappaPlus,
      kappaMinus: o.kappaMinus,
      epsilonPlus: o.epsilonPlus,
      epsilonMinus: o.epsilonMinus,
      sigma: o.sigma,
      sigmaTotal,
      moRatePlus,
      moRateMinus,
      drift: moRatePlus * o.epsilonPlus - moRateMinus * o.epsilonMinus,
      wideSpreadFrac: wideFrac,
      mosPlus,
      mosMinus,
      fills,
      ...(regimeTruth ? { regimes: regimeTruth } : {}),
    },
  };
}

interface RegimeState {
  m: number;
  generator: number[][];
  params: MarketSimRegimes['params'];
  thresholds: number[];
  /** Rate of leaving each regime. */
  leave: number[];
  timeSec: number[];
  transitions: number[][];
  mosPlus: number[];
  mosMinus: number[];
}

function checkRegimes(r: MarketSimRegimes): RegimeState {
  const m = r.params.length;
  if (!(m >= 1) || r.generator.length !== m || r.generator.some((row) => row.length !== m))
    throw new Error(`simulateMarket: regimes.generator must be ${m}×${m} for ${m} regime parameter sets`);
  const thresholds = r.thresholds ?? Array.from({ length: m - 1 }, (_, k) => (k + 1) / m);
  if (
    thresholds.length !== m - 1 ||
    thresholds.some((t, k) => !(t > 0 && t < 1) || (k > 0 && !(t > thresholds[k - 1])))
  )
    throw new Error('simulateMarket: regimes.thresholds must be m − 1 ascending numbers in (0, 1)');
  for (const [k, p] of r.params.entries()) {
    for (const [name, v] of Object.entries(p)) {
      if (!(v >= 0) || !Number.isFinite(v))
        throw new Error(`simulateMarket: regimes.params[${k}].${name} must be ≥ 0`);
    }
  }
  const leave = r.generator.map((row, z) => row.reduce((a, c, w) => (w === z ? a : a + c), 0));
  for (const [z, row] of r.generator.entries())
    for (const [w, c] of row.entries())
      if (w !== z && !(c >= 0 && Number.isFinite(c)))
        throw new Error(`simulateMarket: regimes.generator[${z}][${w}] must be a rate ≥ 0`);
  const initial = r.initial ?? 0;
  if (!(Number.isInteger(initial) && initial >= 0 && initial < m))
    throw new Error(`simulateMarket: regimes.initial must be a regime index 0..${m - 1}`);
  return {
    m,
    generator: r.generator,
    params: r.params,
    thresholds,
    leave,
    timeSec: new Array(m).fill(0),
    transitions: Array.from({ length: m }, () => new Array(m).fill(0)),
    mosPlus: new Array(m).fill(0),
    mosMinus: new Array(m).fill(0),
  };
}

/** Stationary law π of a generator (π C = 0), by power iteration on the uniformised chain. */
function stationaryLaw(C: number[][]): number[] {
  const m = C.length;
  const out = C.map((row, z) => row.reduce((a, c, w) => (w === z ? a : a + c), 0));
  const L = 1.05 * Math.max(...out, 1e-300);
  let pi = new Array(m).fill(1 / m);
  for (let it = 0; it < 200_000; it++) {
    const next = pi.map((p, z) => p * (1 - out[z] / L));
    for (let z = 0; z < m; z++) for (let w = 0; w < m; w++) if (w !== z) next[w] += (pi[z] * C[z][w]) / L;
    const d = Math.max(...next.map((v, k) => Math.abs(v - pi[k])));
    pi = next;
    if (d < 1e-15) break;
  }
  return pi;
}
