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
    const ev: BookEvent = { kind: 'book', coin, exTime: ex, rxTime: 0, bids, asks };
    ev.rxTime = rxOf('book', ex);
    out.push({ ev, rx: ev.rxTime, seq: seq++ });
  };
  const emitBbo = (ex: number) => {
    lastQuoteEx = ex;
    if (o.bookOnChange) emitBook(ex);
    if (!withBbo) return;
    const h = halfSpreadHalfTicks();
    const ev: BboEvent = {
      kind: 'bbo',
      coin,
      exTime: ex,
      rxTime: 0,
      bidPx: px(midHalf - h),
      bidSz: sz(),
      askPx: px(midHalf + h),
      askSz: sz(),
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
    const ratePlus = o.lambdaPlus;
    const rateMinus = o.lambdaMinus;
    const rateToggle = wide ? toNarrow : toWide;
    const total = ratePlus + rateMinus + 2 * stepRate + rateToggle;
    const dt = total > 0 ? rng.exponential(total) * 1000 : Number.POSITIVE_INFINITY;
    // Book snapshots on their fixed clock, before the next random event.
    while (nextBook <= Math.min(t + dt, endMs)) {
      emitBook(t0 + Math.floor(nextBook));
      nextBook += bookEvery;
    }
    t += dt;
    if (t >= endMs) break;
    let ex = t0 + Math.floor(t);
    let u = rng.uniform() * total;
    if (u < ratePlus + rateMinus) {
      const buy = u < ratePlus;
      const kappa = buy ? o.kappaPlus : o.kappaMinus;
      const eps = buy ? o.epsilonPlus : o.epsilonMinus;
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
      const whole = Math.floor(eps / tick + 1e-12);
      const jumpTicks = whole + (rng.bernoulli(eps / tick - whole) ? 1 : 0);
      midHalf += (buy ? 2 : -2) * jumpTicks;
      emitBbo(ex); // post-trade top of book, same exchange millisecond
      continue;
    }
    u -= ratePlus + rateMinus;
    if (ex <= lastQuoteEx) ex = lastQuoteEx; // several quote changes may share a millisecond
    if (u < 2 * stepRate) midHalf += u < stepRate ? 2 : -2;
    else wide = !wide;
    emitBbo(ex);
  }

  out.sort((a, b) => a.rx - b.rx || a.seq - b.seq);
  const expReach = (kappa: number) =>
    (1 - wideFrac) * Math.exp((-kappa * tick) / 2) + wideFrac * Math.exp((-kappa * 3 * tick) / 2);
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
    },
  };
}
