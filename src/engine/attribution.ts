/**
 * P&L attribution of a market maker, shared by the backtest metrics and the paper/live status (pure, no I/O).
 *
 * With R the reference price (the mid unless a reference model is given), M the mark price of net P&L (the
 * mid), a fill i of signed size s·z (s = +1 buy, −1 sell) at price p at time t, R_f its reference at the
 * fill and τ = min(t + h, now) the end of its markout horizon h:
 *
 *   spreadCapture    = Σ s·z·(R_f − p)             what the quote earned against the reference at the fill
 *   adverseSelection = Σ s·z·(R(τ) − R_f)          the reference's move over the markout horizon after the fill
 *   inventoryCarry   = Σ s·z·(M_now − R(τ))        mark-to-market of the held position after the horizon,
 *                      (+ position changes made without a fill, e.g. a live position adopted from the exchange,
 *                      carried from the price they were booked at)
 *   fees             = −Σ fee                       negative when paid, positive for rebates
 *   funding          = Σ funding received           negative when paid
 *
 * and spreadCapture + adverseSelection + inventoryCarry + fees + funding = cash + position·M + funding = net
 * P&L, because for each fill (R_f − p) + (R(τ) − R_f) + (M − R(τ)) = M − p. Equivalently inventoryCarry =
 * ∫ Q_seasoned dR + Q·(M − R): the P&L of the position whose fills are older than h, plus the reference's
 * distance from the mark. `figures()` returns the carry as the remainder net − (the other four), so the five sum
 * to net P&L up to floating-point rounding; `inventoryCarryDirect()` computes it from its own definition
 * (tests check that both agree).
 *
 * R(τ) is the reference in force at τ (the last update at or before τ). Fills, prices and funding are fed in
 * time order; a fill reported late (paper/live: a fill's exchange time is before the last price seen) takes
 * its reference from a short price history (`historyMs`).
 */
import type { MarketEvent } from '../marketdata/events.ts';
import { F0 } from '../util/shapes.ts';
import type { OrderSide } from './types.ts';

/** metrics.pnlAttribution: USD, summing to net P&L. */
export interface PnlAttributionFigures {
  spreadCapture: number;
  adverseSelection: number;
  inventoryCarry: number;
  fees: number;
  funding: number;
}

/** Best bid/ask with their displayed sizes (NaN price: side unknown). */
export interface TopOfBook {
  bidPx: number;
  bidSz: number;
  askPx: number;
  askSz: number;
}

/**
 * The fair-value reference of the attribution (and, for strategies that use it, of quoting): the mid by
 * default; estimators such as a micro-price implement this and see every market event first.
 */
export interface ReferenceModel {
  readonly name: string;
  /** Every market event, in exchange-time order, before `price` is asked (estimators update here). */
  onEvent?(ev: MarketEvent): void;
  /** The reference now; NaN when unknown. */
  price(top: TopOfBook): number;
}

export const MID_REFERENCE: ReferenceModel = Object.freeze({
  name: 'mid',
  price: (t: TopOfBook) => 0.5 * (t.bidPx + t.askPx),
});

export interface PnlAttributionOptions {
  /** Markout horizon h of the adverse-selection term, ms. */
  horizonMs: number;
  /**
   * How long price history is kept for fills reported after later prices (ms; default 0: fills are fed in
   * time order, as in a backtest). Paper/live: a few minutes.
   */
  historyMs?: number;
}

export class PnlAttribution {
  readonly horizonMs: number;
  private readonly historyMs: number;
  private ref = Number.NaN;
  private markPx = Number.NaN;
  private refTime = Number.NEGATIVE_INFINITY;
  // price history (only with historyMs > 0): update times and values, oldest first from `hHead`
  private hT: number[] = [];
  private hV: number[] = [];
  private hHead = 0;
  /** Position (coin units) and cash (USD: −Σ signed notional − Σ fees + adjustments). */
  private q = F0;
  private cashUsd = F0;
  private spread = F0;
  private fees = F0;
  private funding = F0;
  private settledAdverse = F0;
  /** Σ over settled fills (and adjustments) of s·z·R(τ). */
  private settledRz = F0;
  // unsettled fills, by due time τ = t + h (ascending): due, s·z, R_f
  private pDue: number[] = [];
  private pSz: number[] = [];
  private pRf: number[] = [];
  private pHead = 0;
  /** Σ over unsettled fills of s·z and of s·z·R_f. */
  private uQ = F0;
  private uQR = F0;

  constructor(o: PnlAttributionOptions) {
    if (!(o.horizonMs >= 0)) throw new RangeError(`attribution horizon must be ≥ 0 ms (got ${o.horizonMs})`);
    this.horizonMs = o.horizonMs;
    this.historyMs = o.historyMs ?? 0;
  }

  get position(): number {
    return this.q;
  }
  get cash(): number {
    return this.cashUsd;
  }
  get reference(): number {
    return this.ref;
  }
  get mark(): number {
    return this.markPx;
  }

  /** New reference (and mark, default the reference) at time t; times must not go backwards. */
  onPrice(t: number, reference: number, mark = reference): void {
    if (this.pHead < this.pDue.length && this.pDue[this.pHead] < t) this.settle(t);
    if (Number.isFinite(reference)) {
      if (this.historyMs > 0 && reference !== this.ref) this.remember(t, reference);
      this.ref = reference;
      this.refTime = t;
    }
    if (Number.isFinite(mark)) this.markPx = mark;
  }

  /** One fill of ours: side of our order, price, size (coin units), fee paid (USD, negative = rebate). */
  onFill(t: number, side: OrderSide, px: number, sz: number, fee: number): void {
    const s = side === 'bid' ? sz : -sz;
    this.q += s;
    this.cashUsd -= s * px + fee;
    this.fees -= fee;
    let rf = t >= this.refTime ? this.ref : this.referenceAt(t);
    // No reference yet: the fill price stands in (no spread, the move is measured from the fill).
    if (!Number.isFinite(rf)) rf = px;
    this.spread += s * (rf - px);
    const due = t + this.horizonMs;
    if (due < this.refTime) {
      // Late report whose horizon has already passed: settle at once from the history.
      this.settleOne(s, rf, this.referenceAt(due));
      return;
    }
    // Insert by due time (fills almost always arrive in order: scan from the back).
    let i = this.pDue.length;
    this.pDue.push(due);
    this.pSz.push(s);
    this.pRf.push(rf);
    while (i > this.pHead && this.pDue[i - 1] > due) {
      this.pDue[i] = this.pDue[i - 1];
      this.pSz[i] = this.pSz[i - 1];
      this.pRf[i] = this.pRf[i - 1];
      i--;
    }
    this.pDue[i] = due;
    this.pSz[i] = s;
    this.pRf[i] = rf;
    this.uQ += s;
    this.uQR += s * rf;
  }

  /** Funding received (USD; negative = paid). */
  onFunding(_t: number, amount: number): void {
    this.funding += amount;
  }

  /**
   * A position change without a fill (a restart resuming a position, a live position adopted from the
   * exchange): `dPosition` coin units booked with `cashDelta` USD (e.g. −dPosition × price); carried from then.
   */
  adjust(dPosition: number, cashDelta: number): void {
    this.q += dPosition;
    this.cashUsd += cashDelta;
    this.settledRz -= cashDelta;
  }

  /** Net P&L at the current mark: cash + position × mark + funding. */
  netPnl(): number {
    return this.cashUsd + this.funding + (this.q === 0 ? 0 : this.q * this.markPx);
  }

  private adverseNow(): number {
    return this.settledAdverse + (this.uQ === 0 ? 0 : this.uQ * this.ref) - this.uQR;
  }

  /**
   * The five terms; inventoryCarry is the remainder, so they sum to netPnl() (or to `net` when the caller keeps
   * its own books of the same fills, e.g. the backtest metrics, so the sum matches its figure).
   */
  figures(net = this.netPnl()): PnlAttributionFigures {
    const adverse = this.adverseNow();
    return {
      spreadCapture: this.spread,
      adverseSelection: adverse,
      inventoryCarry: net - (this.spread + adverse + this.fees + this.funding),
      fees: this.fees,
      funding: this.funding,
    };
  }

  /** inventoryCarry from its definition Σ s·z·(M − R(τ)) (+ adjustments), independent of the remainder. */
  inventoryCarryDirect(): number {
    return (
      (this.q === 0 ? 0 : this.q * this.markPx) - this.settledRz - (this.uQ === 0 ? 0 : this.uQ * this.ref)
    );
  }

  private settleOne(s: number, rf: number, rTau: number): void {
    const r = Number.isFinite(rTau) ? rTau : rf;
    this.settledAdverse += s * (r - rf);
    this.settledRz += s * r;
  }

  /** Settles the fills whose horizon ended before t, at the reference in force then (the current one). */
  private settle(t: number): void {
    let i = this.pHead;
    const n = this.pDue.length;
    while (i < n && this.pDue[i] < t) {
      const s = this.pSz[i];
      const rf = this.pRf[i];
      this.settleOne(s, rf, this.ref);
      this.uQ -= s;
      this.uQR -= s * rf;
      i++;
    }
    this.pHead = i;
    if (i === n) {
      this.pDue.length = this.pSz.length = this.pRf.length = 0;
      this.pHead = 0;
      // Exact zero once nothing is pending (no float residue carried forward).
      this.uQ = 0;
      this.uQR = 0;
    } else if (i > 4096 && i * 2 > n) {
      this.pDue = this.pDue.slice(i);
      this.pSz = this.pSz.slice(i);
      this.pRf = this.pRf.slice(i);
      this.pHead = 0;
    }
  }

  private remember(t: number, v: number): void {
    this.hT.push(t);
    this.hV.push(v);
    // Drop history older than historyMs (keeping one value from before the cut-off for lookups).
    const cut = t - this.historyMs;
    let h = this.hHead;
    while (h + 1 < this.hT.length && this.hT[h + 1] <= cut) h++;
    this.hHead = h;
    if (h > 1024 && h * 2 > this.hT.length) {
      this.hT = this.hT.slice(h);
      this.hV = this.hV.slice(h);
      this.hHead = 0;
    }
  }

  /** The reference in force at t (last update at or before t); the oldest kept when t predates the history. */
  referenceAt(t: number): number {
    if (t >= this.refTime || this.hT.length === this.hHead) return this.ref;
    let lo = this.hHead;
    let hi = this.hT.length - 1;
    if (this.hT[lo] > t) return this.hV[lo];
    while (lo < hi) {
      const m = (lo + hi + 1) >>> 1;
      if (this.hT[m] <= t) lo = m;
      else hi = m - 1;
    }
    return this.hV[lo];
  }
}

/** Sum of the five terms (equals net P&L up to floating-point rounding, ~1e-15 relative). */
export function attributionTotal(a: PnlAttributionFigures): number {
  return a.spreadCapture + a.adverseSelection + a.inventoryCarry + a.fees + a.funding;
}

/** What PortfolioAttribution reads from the engine's portfolio (src/engine/portfolio.ts). */
export interface AttributedPortfolio {
  readonly position: number;
  readonly cash: number;
  /** Funding received, part of cash (absent: none). */
  readonly funding?: number;
  readonly fills: readonly { side: OrderSide; px: number; sz: number; fee: number; exTime: number }[];
  netPnl(mark: number): number;
}

/**
 * The top of book a reference model sees in paper and live trading, as the simulated exchange keeps it: the
 * fresher (exchange time) of the last bbo and the last book snapshot's first level, with displayed sizes.
 */
export class TopOfBookTracker {
  readonly top: TopOfBook = { bidPx: Number.NaN, bidSz: Number.NaN, askPx: Number.NaN, askSz: Number.NaN };
  private bboTime = Number.NEGATIVE_INFINITY;
  private bookTime = Number.NEGATIVE_INFINITY;

  /** A market event; true when it changed what the top is read from (trades never do). */
  onEvent(ev: MarketEvent): boolean {
    const t = this.top;
    if (ev.kind === 'bbo') {
      this.bboTime = ev.exTime;
      if (this.bboTime < this.bookTime) return false;
      t.bidPx = ev.bidPx;
      t.bidSz = ev.bidSz;
      t.askPx = ev.askPx;
      t.askSz = ev.askSz;
      return true;
    }
    if (ev.kind === 'book') {
      this.bookTime = ev.exTime;
      if (this.bboTime >= this.bookTime) return false;
      const b = ev.bids[0];
      const a = ev.asks[0];
      t.bidPx = b ? b.px : Number.NaN;
      t.bidSz = b ? b.sz : Number.NaN;
      t.askPx = a ? a.px : Number.NaN;
      t.askSz = a ? a.sz : Number.NaN;
      return true;
    }
    return false;
  }
}

/**
 * The attribution of a running engine (paper and live status): fed every market event (or its exchange time
 * and the mid after it), it picks up the portfolio's de-duplicated fills as they appear (their exchange time
 * finds their reference in a short price history), its funding, and any position change made without a fill
 * (a position resumed at start or adopted from the exchange), so its net P&L is the portfolio's. With a
 * `reference` model (the strategy's own reference: micro-price, weighted mid) spread capture and adverse
 * selection are measured against it, as in the backtest; the mid marks net P&L either way.
 */
export class PortfolioAttribution {
  readonly attribution: PnlAttribution;
  /** The reference model (undefined: the mid). */
  readonly reference: ReferenceModel | undefined;
  private readonly pf: AttributedPortfolio;
  private readonly top = new TopOfBookTracker();
  private seen = 0;
  private funding = F0;

  constructor(
    portfolio: AttributedPortfolio,
    opts: { horizonMs?: number; historyMs?: number; reference?: ReferenceModel } = {},
  ) {
    this.pf = portfolio;
    this.reference = opts.reference;
    this.attribution = new PnlAttribution({
      horizonMs: opts.horizonMs ?? 1000,
      historyMs: opts.historyMs ?? 10 * 60_000,
    });
  }

  /** The reference's name (`mid` without a model), for status and journal. */
  get referenceName(): string {
    return (this.reference ?? MID_REFERENCE).name;
  }

  /**
   * A market event and the mid after it (the mark): the reference model sees the event first, then prices
   * the top of book; without a model (or while it has no price) the mid is the reference.
   */
  onEvent(ev: MarketEvent, mid: number): void {
    const ref = this.reference;
    if (!ref) {
      this.onMarket(ev.exTime, mid);
      return;
    }
    ref.onEvent?.(ev);
    this.top.onEvent(ev);
    const r = ref.price(this.top.top);
    this.onMarket(ev.exTime, Number.isFinite(r) && r > 0 ? r : mid, mid);
  }

  /** A market event's exchange time and the mid (or reference) after it. */
  onMarket(exTime: number, reference: number, mark = reference): void {
    this.sync();
    if (reference > 0) this.attribution.onPrice(exTime, reference, mark > 0 ? mark : reference);
  }

  /** Takes in fills, funding and position changes the portfolio booked since the last call. */
  sync(): void {
    const a = this.attribution;
    const fills = this.pf.fills;
    for (; this.seen < fills.length; this.seen++) {
      const f = fills[this.seen];
      a.onFill(f.exTime, f.side, f.px, f.sz, f.fee);
    }
    const funding = this.pf.funding ?? 0;
    if (funding !== this.funding) {
      a.onFunding(Number.NaN, funding - this.funding);
      this.funding = funding;
    }
    const dq = this.pf.position - a.position;
    if (Math.abs(dq) > 1e-12) a.adjust(dq, this.pf.cash - funding - a.cash);
  }

  /** The five terms at `mark`, summing to the portfolio's net P&L there. */
  figures(mark: number): PnlAttributionFigures {
    this.sync();
    return this.attribution.figures(mark > 0 ? this.pf.netPnl(mark) : this.attribution.netPnl());
  }
}
