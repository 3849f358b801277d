/**
 * `cjmm scan`: where can market making earn? For each coin of a recording: the book (spread in ticks, the
 * queue at the touch), the calibrated model (λ±, κ±, ε± with the toxicity κε), and what the Cartea–Jaimungal
 * policy expects to earn at those parameters — the stationary solution's expected P&L per hour for the lot
 * (src/model/expected-pnl.ts) — and the maker fee at which that expectation is zero. Ranked best first.
 *
 * What cannot be estimated is null, never invented: without trades (a book-only archive) there are no market
 * orders, so λ±, κ±, ε±, κε, the expected P&L and the break-even fee are all null; the book's spread and
 * touch queue still are measured.
 */

import { KNOWN_SZ_DECIMALS } from '../backtest/setup.ts';
import { calibrate } from '../calibration/calibrate.ts';
import type { FeeSchedule } from '../exchange/fees.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import type { DriftPolicy } from '../model/drift.ts';
import { breakEvenMakerFee, expectedPnlOf } from '../model/expected-pnl.ts';
import type { InventoryTarget } from '../model/inventory.ts';
import {
  buildCjModel,
  type CjModelSettings,
  DEFAULT_INVENTORY_TARGET,
  marketParamsFromCalibration,
} from '../strategies/cj-model.ts';

/** One row of `cjmm scan --json` (keys fixed by the CLI contract). */
export interface ScanCoin {
  coin: string;
  /** Time-weighted mean spread, in ticks. */
  spreadTicks: number | null;
  lambdaPlus: number | null;
  lambdaMinus: number | null;
  kappaPlus: number | null;
  kappaMinus: number | null;
  epsilonPlus: number | null;
  epsilonMinus: number | null;
  /** The worse side's toxicity gauge max(κ⁺ε⁺, κ⁻ε⁻): < 1 workable, 1–2 competitive, ≥ 2 avoid. */
  kappaEpsilon: number | null;
  /** Time-weighted mean displayed size at the touch, (bid + ask)/2, coin units. */
  touchQueue: number | null;
  /** The stationary CJ policy's expected P&L at the calibrated parameters, USD per hour for the lot. */
  expectedPnlPerHour: number | null;
  /** The maker fee (fraction) at which that expected P&L is zero; negative = only a rebate breaks even. */
  breakEvenMakerFee: number | null;
}

/** What the text table and the report show beyond the JSON row. */
export interface ScanDetail {
  coin: string;
  tick: number;
  /** Last mid of the window. */
  mid: number;
  /** Lot (coin units) the expected P&L is for. */
  lot: number;
  /** Time-weighted mean half-spread in bps of the mid, and the maker fee in bps. */
  halfSpreadBps: number | null;
  makerFeeBps: number;
  /** Share of time at a one-tick spread. */
  fracAtOneTick: number | null;
  events: { book: number; trade: number; bbo: number };
  window: { start: number; end: number; observedSec: number };
  sigma: number | null;
  /** The model's adverse-selection drift D = λ⁺ε⁺ − λ⁻ε⁻ with its standard error, and the drift used. */
  drift: { model: number; stderr: number; used: number; policy: DriftPolicy } | null;
  /** φ of the policy (USD/(lot²·s)) and where it came from (solved for the inventory target, or given). */
  phi: { value: number; source: 'config' | 'target' } | null;
  /** The fill model per side (the calibration's choice, as cj's `depthModel: auto`). */
  depthModel: { plus: string; minus: string } | null;
  /** Under the stationary policy: E[q] (lots), fills per hour, objective growth rate g (USD/h for the lot). */
  meanInventory: number | null;
  fillsPerHour: number | null;
  growthPerHour: number | null;
  /** Expected P&L (USD/h) at each of Hyperliquid's maker fees (tiers and rebates). */
  pnlAtFees: { fee: number; pnlPerHour: number }[];
  /** Fields that could not be estimated, and why. */
  missing: string[];
  /** Calibration quality flags. */
  flags: string[];
}

export { DRIFT_POLICIES, type DriftPolicy } from '../model/drift.ts';

export interface ScanOptions {
  /** Calibration window ending at the last event (ms); Infinity = all the data. */
  windowMs: number;
  /** Markout horizon whose ε feeds the model (ms). */
  markoutMs: number;
  fees: FeeSchedule;
  /** Lot in USD notional at the window's last mid (rounded up to the size grid), unless `lotSize` is given. */
  notionalUsd: number;
  lotSize?: number;
  /** Fixed φ (USD/(lot²·s)); undefined: solved, as cj does, so the stationary inventory meets `inventoryTarget`. */
  phi?: number;
  /** The inventory risk φ is solved for (cj's default { stdLots: 2 }). */
  inventoryTarget: InventoryTarget;
  qMax: number;
  /**
   * The mid drift D = λ⁺ε⁺ − λ⁻ε⁻ the calibration implies: `model` takes it as is, `shrink` scales it by
   * max(0, 1 − SE²/D²), `zero` drops it (ε± still price every fill). A ranking by market-making edge
   * should not reward a window's trend: default `shrink`.
   */
  drift: DriftPolicy;
}

export const DEFAULT_SCAN_OPTIONS: ScanOptions = {
  windowMs: Number.POSITIVE_INFINITY,
  markoutMs: 1000,
  fees: { maker: 0.00015, taker: 0.00045 },
  notionalUsd: 15,
  inventoryTarget: { ...DEFAULT_INVENTORY_TARGET },
  qMax: 10,
  drift: 'shrink',
};

/** Hyperliquid's maker fees from the base tier down to the best rebate (the report's fee axis). */
export const HYPERLIQUID_MAKER_FEES = [0.00015, 0.00012, 0.00008, 0.00004, 0, -0.00001, -0.00002, -0.00003];

const TRADE_FIELDS = ['lambdaPlus', 'lambdaMinus', 'kappaPlus', 'kappaMinus', 'epsilonPlus', 'epsilonMinus'];

/** Time-weighted spread (ticks), half-spread (bps) and touch queue over [start, end], gaps excluded. */
export function bookStats(
  events: MarketEvent[],
  gaps: Gap[],
  tick: number,
  start: number,
  end: number,
): {
  spreadTicks: number;
  halfSpreadBps: number;
  touchQueue: number;
  fracAtOneTick: number;
  mid: number;
  observedSec: number;
} | null {
  const useBbo = events.some((e) => e.kind === 'bbo');
  const inGap = (a: number, b: number) => gaps.some((g) => g.kind !== 'trade' && g.start < b && g.end > a);
  let t0 = Number.NaN;
  let bid = Number.NaN;
  let ask = Number.NaN;
  let bidSz = 0;
  let askSz = 0;
  let T = 0;
  let sSpread = 0;
  let sHalfBps = 0;
  let sQueue = 0;
  let tOne = 0;
  let mid = Number.NaN;
  const accrue = (t: number) => {
    if (!Number.isFinite(t0) || !(ask > bid) || !(bid > 0)) return;
    const a = Math.max(t0, start);
    const b = Math.min(t, end);
    if (!(b > a) || inGap(a, b)) return;
    const dt = b - a;
    const spread = ask - bid;
    const m = 0.5 * (ask + bid);
    T += dt;
    sSpread += (spread / tick) * dt;
    sHalfBps += (spread / 2 / m) * 1e4 * dt;
    sQueue += 0.5 * (bidSz + askSz) * dt;
    if (spread < 1.5 * tick) tOne += dt;
  };
  for (const ev of events) {
    if (ev.exTime > end) break;
    if (ev.kind === 'trade' || (useBbo ? ev.kind !== 'bbo' : ev.kind !== 'book')) continue;
    accrue(ev.exTime);
    if (ev.kind === 'bbo') {
      bid = ev.bidPx;
      ask = ev.askPx;
      bidSz = ev.bidSz;
      askSz = ev.askSz;
    } else if (ev.kind === 'book') {
      bid = ev.bids.length > 0 ? ev.bids[0].px : Number.NaN;
      ask = ev.asks.length > 0 ? ev.asks[0].px : Number.NaN;
      bidSz = ev.bids.length > 0 ? ev.bids[0].sz : 0;
      askSz = ev.asks.length > 0 ? ev.asks[0].sz : 0;
    }
    if (bid > 0 && ask > bid) mid = 0.5 * (bid + ask);
    t0 = ev.exTime;
  }
  accrue(end);
  if (!(T > 0)) return null;
  return {
    spreadTicks: sSpread / T,
    halfSpreadBps: sHalfBps / T,
    touchQueue: sQueue / T,
    fracAtOneTick: tOne / T,
    mid,
    observedSec: T / 1000,
  };
}

/** Size decimals: Hyperliquid's for known coins, else the most seen in trade sizes (0 without trades). */
function sizeDecimals(coin: string, events: MarketEvent[]): number {
  const known = KNOWN_SZ_DECIMALS[coin];
  if (known !== undefined) return known;
  let d = 0;
  for (const ev of events) {
    if (ev.kind !== 'trade') continue;
    for (let k = d; k <= 8; k++) {
      if (Math.abs(Math.round(ev.sz * 10 ** k) - ev.sz * 10 ** k) < 1e-6) {
        d = Math.max(d, k);
        break;
      }
    }
  }
  return d;
}

/**
 * Scans one coin. `events` may hold other coins (ignored); any order (sorted here by exchange time).
 */
export function scanCoin(
  coin: string,
  events: MarketEvent[],
  gaps: Gap[],
  opts: ScanOptions = DEFAULT_SCAN_OPTIONS,
): { row: ScanCoin; detail: ScanDetail } {
  const mine = events.filter((e) => e.coin === coin).sort((a, b) => a.exTime - b.exTime);
  const myGaps = gaps.filter((g) => g.coin === coin);
  const counts = { book: 0, trade: 0, bbo: 0 };
  for (const e of mine) counts[e.kind]++;
  const last = mine.length > 0 ? mine[mine.length - 1].exTime : Number.NaN;
  const first = mine.length > 0 ? mine[0].exTime : Number.NaN;
  const start = Number.isFinite(opts.windowMs) ? Math.max(first, last - opts.windowMs) : first;
  const missing: string[] = [];
  const row: ScanCoin = {
    coin,
    spreadTicks: null,
    lambdaPlus: null,
    lambdaMinus: null,
    kappaPlus: null,
    kappaMinus: null,
    epsilonPlus: null,
    epsilonMinus: null,
    kappaEpsilon: null,
    touchQueue: null,
    expectedPnlPerHour: null,
    breakEvenMakerFee: null,
  };
  const out = calibrate(mine, myGaps, {
    coin,
    windowMs: opts.windowMs,
    markoutHorizonMs: opts.markoutMs,
  });
  const tick = out.tick;
  const detail: ScanDetail = {
    coin,
    tick,
    mid: Number.NaN,
    lot: Number.NaN,
    halfSpreadBps: null,
    makerFeeBps: opts.fees.maker * 1e4,
    fracAtOneTick: null,
    events: counts,
    window: { start, end: last, observedSec: out.result?.window.observedSec ?? 0 },
    sigma: null,
    drift: null,
    phi: null,
    depthModel: null,
    meanInventory: null,
    fillsPerHour: null,
    growthPerHour: null,
    pnlAtFees: [],
    missing,
    flags: out.flags,
  };
  const book = tick > 0 ? bookStats(mine, myGaps, tick, start, last) : null;
  if (book) {
    row.spreadTicks = book.spreadTicks;
    row.touchQueue = book.touchQueue;
    detail.halfSpreadBps = book.halfSpreadBps;
    detail.fracAtOneTick = book.fracAtOneTick;
    detail.mid = book.mid;
    if (!(detail.window.observedSec > 0)) detail.window.observedSec = book.observedSec;
  } else {
    missing.push(
      counts.book + counts.bbo === 0
        ? 'no book or bbo: spread, touch queue and every model figure'
        : 'no usable quotes: spread and touch queue',
    );
  }
  const r = out.result;
  const tradeOk =
    r !== undefined && counts.trade > 0 && TRADE_FIELDS.every((k) => Number.isFinite(r[k as 'sigma']));
  if (!tradeOk) {
    missing.push(
      counts.trade === 0
        ? 'no trades (book-only data): no market orders, so λ±, κ±, ε±, κε, the expected P&L and the break-even fee cannot be estimated'
        : `calibration failed (${out.flags.join(', ') || 'no result'}): λ±, κ±, ε±, κε, expected P&L and break-even fee`,
    );
    return { row, detail };
  }
  const m = marketParamsFromCalibration(r, opts.markoutMs);
  row.lambdaPlus = m.lambdaPlus;
  row.lambdaMinus = m.lambdaMinus;
  row.kappaPlus = m.kappaPlus;
  row.kappaMinus = m.kappaMinus;
  row.epsilonPlus = m.epsilonPlus;
  row.epsilonMinus = m.epsilonMinus;
  row.kappaEpsilon = Math.max(m.kappaPlus * m.epsilonPlus, m.kappaMinus * m.epsilonMinus);
  detail.sigma = Number.isFinite(r.sigma) ? r.sigma : null;
  const mid = Number.isFinite(detail.mid) ? detail.mid : (r.mid ?? Number.NaN);
  detail.mid = mid;
  if (!(mid > 0) || !(m.lambdaPlus > 0 && m.lambdaMinus > 0)) {
    missing.push('no positive mid or a side without market orders: expected P&L and break-even fee');
    return { row, detail };
  }
  const step = 10 ** -sizeDecimals(coin, mine);
  const lot = opts.lotSize ?? Number((Math.ceil(opts.notionalUsd / mid / step - 1e-9) * step).toFixed(8));
  detail.lot = lot;
  // The policy cj would run with its defaults — the drift policy, the calibration's depth model (two-part
  // where it fits better), φ solved for the inventory target unless given — at this fee, and what it expects.
  const settings = (fee: number): CjModelSettings => ({
    phi: opts.phi,
    inventoryTarget: opts.inventoryTarget,
    alpha: 0,
    qMin: -opts.qMax,
    qMax: opts.qMax,
    feePerFill: fee * mid,
    drift: opts.drift,
    depthModel: 'auto',
    mode: 'depth',
    stationary: true,
  });
  const solve = (fee: number) => {
    const model = buildCjModel(m, settings(fee));
    if (!model.stationary) throw new Error('no stationary solution');
    return { model, e: expectedPnlOf(model.params, model.stationary) };
  };
  try {
    const { model, e } = solve(opts.fees.maker);
    detail.drift = {
      model: model.drift.model,
      stderr: model.drift.stderr,
      used: model.drift.used,
      policy: model.drift.policy,
    };
    detail.phi = { value: model.phi, source: model.phiSource };
    detail.depthModel = { ...model.depthModel };
    row.expectedPnlPerHour = e.pnlRate * lot * 3600;
    detail.meanInventory = e.meanInventory;
    detail.fillsPerHour = e.fillRate * 3600;
    detail.growthPerHour = e.growthRate * lot * 3600;
    row.breakEvenMakerFee = breakEvenMakerFee(e, model.params, mid);
    if (row.breakEvenMakerFee === null) missing.push('break-even fee: the policy does not trade at this fee');
    for (const fee of HYPERLIQUID_MAKER_FEES)
      detail.pnlAtFees.push({ fee, pnlPerHour: solve(fee).e.pnlRate * lot * 3600 });
  } catch (err) {
    missing.push(
      `the model could not be solved (${(err as Error).message}): expected P&L and break-even fee`,
    );
  }
  return { row, detail };
}

/** Best first: by expected P&L per hour (coins without one last, by name). */
export function rankScan<T extends { row: ScanCoin }>(xs: T[]): T[] {
  return [...xs].sort((a, b) => {
    const pa = a.row.expectedPnlPerHour;
    const pb = b.row.expectedPnlPerHour;
    if (pa !== null && pb !== null) return pb - pa || (a.row.coin < b.row.coin ? -1 : 1);
    if (pa !== null) return -1;
    if (pb !== null) return 1;
    return a.row.coin < b.row.coin ? -1 : a.row.coin > b.row.coin ? 1 : 0;
  });
}
