/**
 * Backtest metrics, computed from the exchange side of the simulation (fills at exchange time, the
 * exchange's mid, our resting quotes), independently of the engine's own portfolio:
 * P&L decomposition, inventory statistics (time-weighted), time at the inventory bounds, Sharpe,
 * max drawdown, markouts of our fills, quote uptime, and time series for the report.
 * Pure bookkeeping: the replay loop calls advance(t) before each state change and the on* hooks after.
 */
import { PnlAttribution, type PnlAttributionFigures } from '../engine/attribution.ts';
import type { OrderSide, SpreadBoundBinding } from '../engine/types.ts';
import { F0 } from '../util/shapes.ts';

export type { SpreadBoundBinding };

export const MARKOUT_HORIZONS_SEC = [1, 5, 30] as const;
/** Sharpe: P&L increments per minute of exchange time, annualised with √(minutes per year). */
export const SHARPE_SAMPLING = 'per-minute P&L increments (exchange clock), annualised x sqrt(525600)';
const MINUTES_PER_YEAR = 525_600;

export interface MarkoutStats {
  horizon: string;
  horizonSec: number;
  /** Fills whose horizon ended inside the data. */
  n: number;
  /** Mean mid move after our fills, signed so that negative = against us (adverse selection), price units. */
  meanMidMove: number;
  meanMidMoveBps: number;
  /** Mean P&L per unit traded marked at the mid h later (spread captured + mid move), price units. */
  meanPnlPerUnit: number;
}

export interface BacktestMetrics {
  /** Final equity change in USD: spread capture − fees + inventory P&L + funding, marked at the last mid. */
  netPnl: number;
  /** Σ over fills of (mid − px)·sz for buys and (px − mid)·sz for sells, mid at the fill (exchange clock). */
  grossSpreadCapture: number;
  /** Fees paid, USD (negative = rebates received). */
  fees: number;
  /** P&L from holding inventory while the mid moved: netPnl − grossSpreadCapture + fees − funding. */
  inventoryPnl: number;
  fills: number;
  makerFills: number;
  takerFills: number;
  /** Traded volume in coin units and USD. */
  volume: number;
  notional: number;
  /** Orders sent (places + modifies). */
  quotesPlaced: number;
  /** fills / quotesPlaced. */
  fillRatePerQuote: number;
  /** Inventory in lots, time-weighted over the run. */
  inventory: { mean: number; std: number; max: number; final: number };
  /** Fraction of time at the long / short inventory bound, inventory rounded to whole lots (null: no bound known). */
  timeAtBounds: { long: number; short: number; total: number; boundLots: number } | null;
  /** Annualised Sharpe ratio of per-minute P&L increments (0 when fewer than 2 minutes or no variation). */
  sharpe: number;
  sharpeSampling: string;
  /** Largest fall of equity from a running peak, USD (equity = P&L marked at the exchange mid on every event). */
  maxDrawdown: number;
  markouts: MarkoutStats[];
  /** Fraction of time with a resting quote of ours on both sides, on the bid, on the ask (data gaps excluded). */
  quoteUptime: { both: number; bid: number; ask: number };
  durationSec: number;
  /**
   * Net P&L split into spread capture (vs the reference at the fill), adverse selection (the reference's move
   * over the markout horizon after our fills), inventory carry (the rest: mark-to-market of the held
   * position), fees (negative when paid) and funding; the five sum to netPnl (src/engine/attribution.ts).
   */
  pnlAttribution: PnlAttributionFigures;
  /**
   * The maker fee (fraction of notional) at which net P&L would be zero with the same fills: (netPnl + maker
   * fees paid) / maker notional. Negative: only a rebate that large breaks even. null without maker fills.
   */
  breakEvenMakerFee: number | null;
  /** Share of the quoted time each spread bound set the quote, per side (null: no bounds configured). */
  spreadBoundBinding: SpreadBoundBinding | null;
  /**
   * Exchange requests sent per hour of data: places + modifies + cancels, one per order (Hyperliquid's
   * address budget counts every order or cancel of a batch once).
   */
  requestsPerHour: number;
  /**
   * Requests per USDC traded. Hyperliquid grants an address 1 request per USDC it has ever traded (plus an
   * initial 10,000): below 1 a config earns its requests as it trades; above 1 it draws the budget down by
   * (requestsPerUsdTraded − 1) × USD traded. null when nothing traded.
   */
  requestsPerUsdTraded: number | null;
}

/** Request-budget metrics of a run (see BacktestMetrics.requestsPerHour / requestsPerUsdTraded). */
export function requestBudgetMetrics(
  requests: number,
  notionalUsd: number,
  durationSec: number,
): { requestsPerHour: number; requestsPerUsdTraded: number | null } {
  return {
    requestsPerHour: durationSec > 0 ? (requests * 3600) / durationSec : 0,
    requestsPerUsdTraded: notionalUsd > 0 ? requests / notionalUsd : null,
  };
}

export interface SeriesPoint {
  /** Exchange time, ms. */
  t: number;
  mid: number;
  bid: number;
  ask: number;
  position: number;
  pnl: number;
  /** The P&L attribution at this time (sums to pnl). */
  attribution: PnlAttributionFigures;
}

export interface FillPoint {
  t: number;
  side: OrderSide;
  px: number;
  sz: number;
  liquidity: 'maker' | 'taker';
}

export interface ParamPoint {
  t: number;
  values: Record<string, number>;
}

export interface MetricsOptions {
  /** Master-clock start (ms). */
  start: number;
  /** Master clock minus exchange clock (ms), to label series in exchange time. */
  clockOffsetMs: number;
  lotSize: number;
  boundLots?: number;
  /** Spacing of the chart series (ms). */
  sampleMs: number;
  /** Markout horizon of the attribution's adverse-selection term (ms, default 1000). */
  attributionHorizonMs?: number;
}

export class MetricsRecorder {
  private readonly o: MetricsOptions;
  // Numeric fields start as numbers: a field declared without a value starts undefined, and V8 then stores
  // every later number in it as a fresh heap object (advance() writes `last` on every replay step). Those
  // that take fractional values start as F0 (a double: src/util/shapes.ts), not the small integer 0.
  private last = Number.NaN;
  private mid = Number.NaN;
  private position = F0;
  private cash = F0;
  private feesPaid = F0;
  private makerFeesPaid = F0;
  private makerNotional = F0;
  private fundingReceived = F0;
  private ref = Number.NaN;
  private readonly attr: PnlAttribution;
  private spread = F0;
  private nFills = 0;
  private nMaker = 0;
  private nTaker = 0;
  private volume = F0;
  private notional = F0;
  // time-weighted accumulators
  private tTotal = F0;
  private tInv = F0;
  private tInv2 = F0;
  private maxAbsInv = F0;
  private tBoth = F0;
  private tBid = F0;
  private tAsk = F0;
  private tLong = F0;
  private tShort = F0;
  private tHalted = F0;
  private halted = false;
  private bidUp = false;
  private askUp = false;
  private quoteBid = Number.NaN;
  private quoteAsk = Number.NaN;
  // The inventory as advance() accumulates it, kept when the position changes (onFill), not per step.
  private inv = F0;
  private inv2 = F0;
  private atLong = false;
  private atShort = false;
  // drawdown and Sharpe
  private peak = F0;
  private maxDd = F0;
  private nextMinute = Number.NaN;
  private lastMinuteEquity = F0;
  private readonly minuteIncrements: number[] = [];
  // markouts: fills kept in time order; one cursor per horizon
  private readonly fT: number[] = [];
  private readonly fSign: number[] = [];
  private readonly fPx: number[] = [];
  private readonly fMid: number[] = [];
  private readonly cursors = MARKOUT_HORIZONS_SEC.map(() => 0);
  private readonly moveSum = MARKOUT_HORIZONS_SEC.map(() => F0);
  private readonly moveBpsSum = MARKOUT_HORIZONS_SEC.map(() => F0);
  private readonly pnlSum = MARKOUT_HORIZONS_SEC.map(() => F0);
  private readonly moveN = MARKOUT_HORIZONS_SEC.map(() => 0);
  /** Earliest time at which a pending markout horizon ends (Infinity when none pending). */
  private nextMarkoutDue = Number.POSITIVE_INFINITY;
  // series
  private nextSample = Number.NaN;
  readonly series: SeriesPoint[] = [];
  readonly fillPoints: FillPoint[] = [];

  constructor(o: MetricsOptions) {
    this.o = o;
    this.last = o.start;
    this.nextMinute = o.start + 60_000;
    this.nextSample = o.start;
    this.attr = new PnlAttribution({ horizonMs: o.attributionHorizonMs ?? 1000 });
    this.setInventory();
  }

  private equity(): number {
    return Number.isNaN(this.mid) ? this.cash : this.cash + this.position * this.mid;
  }

  /**
   * Move the clock to t (master clock), accumulating the state held since the last call. Called on every step
   * of the replay: kept small (the replay loop inlines it), the rarer work is in passTo.
   */
  advance(t: number): void {
    const dt = t - this.last;
    if (dt <= 0) return;
    if (t >= this.nextSample || t >= this.nextMinute || t > this.nextMarkoutDue) this.passTo(t);
    const inv = this.inv;
    this.tTotal += dt;
    this.tInv += inv * dt;
    this.tInv2 += this.inv2 * dt;
    if (this.halted) this.tHalted += dt;
    if (this.bidUp) {
      this.tBid += dt;
      if (this.askUp) this.tBoth += dt;
    }
    if (this.askUp) this.tAsk += dt;
    if (this.atLong) this.tLong += dt;
    else if (this.atShort) this.tShort += dt;
    this.last = t;
  }

  /** Chart samples, Sharpe minutes and markout horizons that fall inside (last, t] see the state before t. */
  private passTo(t: number): void {
    while (this.nextSample <= t) {
      this.sample(this.nextSample);
      this.nextSample += this.o.sampleMs;
    }
    while (this.nextMinute <= t) {
      const eq = this.equity();
      this.minuteIncrements.push(eq - this.lastMinuteEquity);
      this.lastMinuteEquity = eq;
      this.nextMinute += 60_000;
    }
    if (t > this.nextMarkoutDue) this.settleMarkouts(t);
  }

  /** The inventory figures advance() accumulates, after the position changed. */
  private setInventory(): void {
    const inv = this.position / this.o.lotSize;
    this.inv = inv;
    this.inv2 = inv * inv;
    const b = this.o.boundLots;
    // Inventory in whole lots as the strategies count it (partial fills leave fractions).
    const lots = Math.round(inv);
    this.atLong = b !== undefined && lots >= b;
    this.atShort = b !== undefined && !(lots >= b) && lots <= -b;
  }

  private sample(t: number): void {
    this.series.push({
      t: t - this.o.clockOffsetMs,
      mid: this.mid,
      bid: this.quoteBid,
      ask: this.quoteAsk,
      position: this.position,
      pnl: this.equity(),
      attribution: this.attr.figures(this.equity()),
    });
  }

  private settleMarkouts(t: number): void {
    for (let h = 0; h < MARKOUT_HORIZONS_SEC.length; h++) {
      const hMs = MARKOUT_HORIZONS_SEC[h] * 1000;
      let c = this.cursors[h];
      // A horizon ending strictly before t ended under the current (pre-t) mid.
      while (c < this.fT.length && this.fT[c] + hMs < t) {
        const move = this.fSign[c] * (this.mid - this.fMid[c]);
        this.moveSum[h] += move;
        this.moveBpsSum[h] += (move / this.fMid[c]) * 1e4;
        this.pnlSum[h] += this.fSign[c] * (this.mid - this.fPx[c]);
        this.moveN[h]++;
        c++;
      }
      this.cursors[h] = c;
    }
    let due = Number.POSITIVE_INFINITY;
    for (let h = 0; h < MARKOUT_HORIZONS_SEC.length; h++) {
      const c = this.cursors[h];
      if (c < this.fT.length) due = Math.min(due, this.fT[c] + MARKOUT_HORIZONS_SEC[h] * 1000);
    }
    this.nextMarkoutDue = due;
  }

  /**
   * The exchange mid (and the attribution's reference, default the mid) after a market event (after
   * advance(t)).
   */
  onMid(mid: number, reference = mid): void {
    const midChanged = mid > 0 && mid !== this.mid;
    if (midChanged) this.mid = mid;
    if (midChanged || (reference !== this.ref && Number.isFinite(reference))) {
      if (Number.isFinite(reference)) this.ref = reference;
      this.attr.onPrice(this.last, reference, this.mid);
    }
    if (!midChanged) return;
    const eq = this.equity();
    if (eq > this.peak) this.peak = eq;
    else if (this.peak - eq > this.maxDd) this.maxDd = this.peak - eq;
  }

  /**
   * onMid(src.mid()), for the replay's call after every book and bbo: it takes the matching engine, not its mid,
   * since a number passed to a call the compiler does not inline is boxed (≈ 1 M heap numbers a day of ETH).
   * The same steps as onMid with reference = mid (test/backtest/metrics-mid.test.ts keeps them equal).
   */
  onExchangeMid(src: { mid(): number }): void {
    const mid = src.mid();
    const midChanged = mid > 0 && mid !== this.mid;
    if (midChanged) this.mid = mid;
    if (midChanged || (mid !== this.ref && Number.isFinite(mid))) {
      if (Number.isFinite(mid)) this.ref = mid;
      this.attr.onPrice(this.last, mid, this.mid);
    }
    if (!midChanged) return;
    const eq = this.equity();
    if (eq > this.peak) this.peak = eq;
    else if (this.peak - eq > this.maxDd) this.maxDd = this.peak - eq;
  }

  /** Inside a data gap (nothing to quote against): excluded from the quote-uptime denominator. */
  setHalted(halted: boolean): void {
    this.halted = halted;
  }

  /** Our resting quotes at the exchange (NaN = none on that side). */
  onQuotes(bidPx: number, askPx: number): void {
    this.quoteBid = bidPx;
    this.quoteAsk = askPx;
    this.bidUp = !Number.isNaN(bidPx);
    this.askUp = !Number.isNaN(askPx);
  }

  /** One of our fills at master time t (after advance(t)). */
  onFill(
    t: number,
    side: OrderSide,
    px: number,
    sz: number,
    fee: number,
    liquidity: 'maker' | 'taker',
  ): void {
    const sign = side === 'bid' ? 1 : -1;
    this.position += sign * sz;
    this.setInventory();
    this.cash -= sign * px * sz + fee;
    this.feesPaid += fee;
    this.nFills++;
    if (liquidity === 'maker') {
      this.nMaker++;
      this.makerFeesPaid += fee;
      this.makerNotional += px * sz;
    } else this.nTaker++;
    this.attr.onFill(t, side, px, sz, fee);
    this.volume += sz;
    this.notional += px * sz;
    const inv = Math.abs(this.position / this.o.lotSize);
    if (inv > this.maxAbsInv) this.maxAbsInv = inv;
    if (this.mid > 0) {
      this.spread += sign * (this.mid - px) * sz;
      this.fT.push(t);
      this.fSign.push(sign);
      this.fPx.push(px);
      this.fMid.push(this.mid);
      // The shortest horizon of this fill ends first.
      const due = t + MARKOUT_HORIZONS_SEC[0] * 1000;
      if (due < this.nextMarkoutDue) this.nextMarkoutDue = due;
    }
    this.fillPoints.push({ t: t - this.o.clockOffsetMs, side, px, sz, liquidity });
    const eq = this.equity();
    if (eq > this.peak) this.peak = eq;
    else if (this.peak - eq > this.maxDd) this.maxDd = this.peak - eq;
  }

  /**
   * Hourly funding at master time t (after advance(t)): `rate` is the hourly fraction (positive: longs pay
   * shorts), charged on the position at `price` (the oracle price when recorded) or else the current mid.
   */
  onFunding(t: number, rate: number, price?: number): number {
    const px = price !== undefined && price > 0 ? price : this.mid;
    if (this.position === 0 || !(px > 0) || rate === 0) return 0;
    const amount = -this.position * px * rate;
    this.cash += amount;
    this.fundingReceived += amount;
    this.attr.onFunding(t, amount);
    const eq = this.equity();
    if (eq > this.peak) this.peak = eq;
    else if (this.peak - eq > this.maxDd) this.maxDd = this.peak - eq;
    return amount;
  }

  get currentPosition(): number {
    return this.position;
  }

  get currentMid(): number {
    return this.mid;
  }

  /** Close the books at master time t and compute the figures. */
  /** Requests the venue was sent (places + modifies + cancels, per order), for the request-budget metrics. */
  requests = 0;

  finish(
    t: number,
    quotesPlaced: number,
    spreadBoundBinding: SpreadBoundBinding | null = null,
  ): BacktestMetrics {
    this.advance(t);
    this.sample(t);
    return this.figures(quotesPlaced, spreadBoundBinding);
  }

  /** The figures so far (up to the last advance), leaving the books open: checkpoints of a running replay. */
  snapshot(quotesPlaced: number): BacktestMetrics {
    return this.figures(quotesPlaced);
  }

  private figures(
    quotesPlaced: number,
    spreadBoundBinding: SpreadBoundBinding | null = null,
  ): BacktestMetrics {
    const T = this.tTotal;
    const Tq = T - this.tHalted;
    const net = this.equity();
    const mean = T > 0 ? this.tInv / T : 0;
    const variance = T > 0 ? Math.max(0, this.tInv2 / T - mean * mean) : 0;
    const inc = this.minuteIncrements;
    let sharpe = 0;
    if (inc.length >= 2) {
      const m = inc.reduce((a, b) => a + b, 0) / inc.length;
      const v = inc.reduce((a, b) => a + (b - m) * (b - m), 0) / (inc.length - 1);
      if (v > 0) sharpe = (m / Math.sqrt(v)) * Math.sqrt(MINUTES_PER_YEAR);
    }
    const b = this.o.boundLots;
    return {
      netPnl: net,
      grossSpreadCapture: this.spread,
      fees: this.feesPaid,
      inventoryPnl: net - this.spread + this.feesPaid - this.fundingReceived,
      fills: this.nFills,
      makerFills: this.nMaker,
      takerFills: this.nTaker,
      volume: this.volume,
      notional: this.notional,
      quotesPlaced,
      fillRatePerQuote: quotesPlaced > 0 ? this.nFills / quotesPlaced : 0,
      inventory: {
        mean,
        std: Math.sqrt(variance),
        max: this.maxAbsInv,
        final: this.position / this.o.lotSize,
      },
      timeAtBounds:
        b === undefined
          ? null
          : {
              long: T > 0 ? this.tLong / T : 0,
              short: T > 0 ? this.tShort / T : 0,
              total: T > 0 ? (this.tLong + this.tShort) / T : 0,
              boundLots: b,
            },
      sharpe,
      sharpeSampling: SHARPE_SAMPLING,
      maxDrawdown: this.maxDd,
      markouts: MARKOUT_HORIZONS_SEC.map((h, i) => {
        const n = this.moveN[i];
        return {
          horizon: `${h}s`,
          horizonSec: h,
          n,
          meanMidMove: n > 0 ? this.moveSum[i] / n : 0,
          meanMidMoveBps: n > 0 ? this.moveBpsSum[i] / n : 0,
          meanPnlPerUnit: n > 0 ? this.pnlSum[i] / n : 0,
        };
      }),
      quoteUptime: {
        both: Tq > 0 ? this.tBoth / Tq : 0,
        bid: Tq > 0 ? this.tBid / Tq : 0,
        ask: Tq > 0 ? this.tAsk / Tq : 0,
      },
      durationSec: T / 1000,
      pnlAttribution: this.attr.figures(net),
      breakEvenMakerFee: this.makerNotional > 0 ? (net + this.makerFeesPaid) / this.makerNotional : null,
      spreadBoundBinding,
      ...requestBudgetMetrics(this.requests, this.notional, T / 1000),
    };
  }
}
