/**
 * The simulated exchange's matching core for one coin: our (simulated) orders against a replayed market.
 * Used by the backtester (src/sim/simulated-venue.ts) and by the loopback Hyperliquid server, which
 * matches real clients' orders against the replay; orders are keyed by an owner id (account).
 *
 * The market is the recorded one and is NOT altered by our orders (no market impact): a taker order of ours
 * fills against the displayed levels at arrival, and resting orders fill when
 *  - a trade prints at our price and its size exceeds the queue ahead of us (partial fills; queue.ts), or
 *  - a trade prints THROUGH our price (a sell below our bid, a buy above our ask): the taker would have hit us
 *    first, so we fill completely, at our price, or
 *  - the book moves through our price (best ask ≤ our bid, best bid ≥ our ask): an order at that price would
 *    have matched ours, so we fill completely, at our price.
 * Every call takes the exchange time (ms) at which it happens; the caller feeds events in exchange-time order.
 */

import type { OrderSide, Tif } from '../engine/types.ts';
import type { BboEvent, BookEvent, BookLevel, TradeEvent } from '../marketdata/events.ts';
import { F0 } from '../util/shapes.ts';
import { type FeeSchedule, feeFor, HYPERLIQUID_BASE_FEES } from './fees.ts';
import { fmtPx, HL_ERRORS, type OrderRulesConfig, validateOrder } from './order-rules.ts';
import { createQueueModel, type QueueModel, type QueueState } from './queue.ts';

export interface MatchingConfig extends OrderRulesConfig {
  coin: string;
  fees?: FeeSchedule;
  /** A queue model instance or name (default 'conservative'). */
  queue?: QueueModel | 'conservative' | 'prob';
  /** Power n of the probabilistic queue model (default 2). */
  queuePower?: number;
  /**
   * First synthetic trade id (default SYNTHETIC_TID_BASE). Several engines feeding one journal (many coins in one
   * process) each take their own range, as the exchange's ids are unique across coins.
   */
  syntheticTidBase?: number;
}

export interface PlaceOrderInput {
  /** Account the order belongs to (default 'default'). */
  owner?: string;
  cloid?: string;
  side: OrderSide;
  px: number;
  sz: number;
  tif: Tif;
  reduceOnly?: boolean;
}

/** One fill of one of our orders. */
export interface MatchFill {
  oid: number;
  cloid?: string;
  owner: string;
  side: OrderSide;
  px: number;
  sz: number;
  /** USD, negative = rebate. */
  fee: number;
  liquidity: 'maker' | 'taker';
  /** The market trade's tid when a trade caused the fill; otherwise a synthetic id (≥ SYNTHETIC_TID_BASE). */
  tid: number;
  exTime: number;
  /** Size of the order still resting after this fill (0 = done). */
  remaining: number;
  /** What caused it: a trade at our price, a trade through it, the book through it, or our own taker order. */
  cause: 'trade' | 'trade-through' | 'book-through' | 'taker';
}

export interface OpenOrder {
  oid: number;
  cloid?: string;
  owner: string;
  side: OrderSide;
  px: number;
  /** Remaining size. */
  sz: number;
  origSz: number;
  tif: Tif;
  reduceOnly: boolean;
  /** Exchange time the order started resting (or was last modified). */
  timestamp: number;
  /** Modelled size in front of us at our price. */
  queueAhead: number;
}

export type PlaceResult =
  | { status: 'resting'; oid: number; cloid?: string; fills: MatchFill[] }
  | { status: 'filled'; oid: number; cloid?: string; totalSz: number; avgPx: number; fills: MatchFill[] }
  | { status: 'error'; error: string };

export type CancelResult = { status: 'success'; order: OpenOrder } | { status: 'error'; error: string };

export const SYNTHETIC_TID_BASE = 1e15;
const EMPTY: MatchFill[] = [];
const DEFAULT_OWNER = 'default';

interface LiveOrder extends OpenOrder, QueueState {}

function samePx(a: number, b: number): boolean {
  return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
}

export class MatchingEngine {
  readonly coin: string;
  readonly fees: FeeSchedule;
  readonly queueModel: QueueModel;
  private readonly rules: OrderRulesConfig;

  // Latest recorded book (exchange time): the snapshot's own level arrays, referenced, not copied (callers must
  // not mutate an event after handing it over); and the latest bbo, which is usually fresher.
  private bids: BookLevel[] = [];
  private asks: BookLevel[] = [];
  private bookTime = Number.NEGATIVE_INFINITY;
  private bboBidPx = Number.NaN;
  private bboBidSz = F0;
  private bboAskPx = Number.NaN;
  private bboAskSz = F0;
  private bboTime = Number.NEGATIVE_INFINITY;
  /** Best bid / ask from the fresher of book and bbo (NaN when unknown), kept by onBook / onBbo. */
  private bb = Number.NaN;
  private ba = Number.NaN;

  /** Live orders in time priority (arrival order). Few at a time, so a flat array beats a map on the hot path. */
  private live: LiveOrder[] = [];
  /** Bumped whenever the set of resting orders or their sizes change (cheap change detection for callers). */
  version = 0;
  private nextOid = 1;
  private nextTid = SYNTHETIC_TID_BASE;
  private readonly positions = new Map<string, number>();
  private readonly fillBuf: MatchFill[] = [];
  /**
   * Records of orders that left the book, reused by place(): a resting order's record is the costliest object
   * of an order's life (thirteen fields, seven of them numbers boxed on creation, updated in place afterwards).
   * Safe because nothing outside holds a record: callers get copies (view) or read one at once (peekOrder).
   */
  private readonly spare: LiveOrder[] = [];
  /** The replacement's order input of modify() (place() reads it during the call and keeps nothing). */
  private readonly modInput: PlaceOrderInput = {
    owner: DEFAULT_OWNER,
    cloid: undefined,
    side: 'bid',
    px: Number.NaN,
    sz: Number.NaN,
    tif: 'Alo',
    reduceOnly: false,
  };

  constructor(cfg: MatchingConfig) {
    this.coin = cfg.coin;
    if (cfg.syntheticTidBase !== undefined) this.nextTid = cfg.syntheticTidBase;
    this.fees = cfg.fees ?? { ...HYPERLIQUID_BASE_FEES };
    this.rules = {
      asset: cfg.asset,
      szDecimals: cfg.szDecimals,
      tick: cfg.tick,
      minNotional: cfg.minNotional,
    };
    const q = cfg.queue ?? 'conservative';
    this.queueModel = typeof q === 'string' ? createQueueModel(q, cfg.queuePower) : q;
  }

  // ---- market state ------------------------------------------------------------------------------------

  /** Best bid from the fresher of book and bbo (NaN when unknown). */
  bestBid(): number {
    return this.bb;
  }

  bestAsk(): number {
    return this.ba;
  }

  mid(): number {
    return 0.5 * (this.bb + this.ba);
  }

  /** The touch from the fresher of book and bbo, after either changed. */
  private setTop(): void {
    if (this.bboTime >= this.bookTime) {
      this.bb = this.bboBidPx;
      this.ba = this.bboAskPx;
    } else {
      this.bb = this.bids.length > 0 ? this.bids[0].px : Number.NaN;
      this.ba = this.asks.length > 0 ? this.asks[0].px : Number.NaN;
    }
  }

  /** Displayed size at a price on one side; NaN when the price lies beyond the recorded depth. */
  displayedAt(side: OrderSide, px: number): number {
    if (this.bboTime >= this.bookTime) {
      const bpx = side === 'bid' ? this.bboBidPx : this.bboAskPx;
      if (samePx(bpx, px)) return side === 'bid' ? this.bboBidSz : this.bboAskSz;
      // Better than the touch: nothing there.
      if (side === 'bid' ? px > bpx : px < bpx) return 0;
    }
    const levels = side === 'bid' ? this.bids : this.asks;
    const n = levels.length;
    for (let i = 0; i < n; i++) {
      const p = levels[i].px;
      if (samePx(p, px)) return levels[i].sz;
      if (side === 'bid' ? p < px : p > px) return 0;
    }
    return n > 0 ? Number.NaN : 0;
  }

  // ---- orders ------------------------------------------------------------------------------------------

  /** Place an order arriving at the exchange at exTime. */
  place(input: PlaceOrderInput, exTime: number): PlaceResult {
    const invalid = validateOrder(input.px, input.sz, this.rules);
    if (invalid) return { status: 'error', error: invalid };
    return this.placeValid(input, exTime);
  }

  /** place() of an order whose price and size passed validateOrder (modify checks them before it cancels). */
  private placeValid(input: PlaceOrderInput, exTime: number): PlaceResult {
    const owner = input.owner ?? DEFAULT_OWNER;
    if (input.reduceOnly) {
      const pos = this.positions.get(owner) ?? 0;
      if (input.side === 'bid' ? pos >= 0 : pos <= 0)
        return { status: 'error', error: HL_ERRORS.reduceOnly(this.rules.asset) };
    }
    const bb = this.bestBid();
    const ba = this.bestAsk();
    const crosses = input.side === 'bid' ? input.px >= ba : input.px <= bb;
    if (crosses && input.tif === 'Alo') return { status: 'error', error: this.aloError(bb, ba) };

    const oid = this.nextOid++;
    let remaining = input.sz;
    let fills: MatchFill[] = EMPTY;
    if (crosses) {
      fills = [];
      remaining = this.takeLiquidity(input, owner, oid, remaining, exTime, fills);
    }
    if (input.tif === 'Ioc' || remaining <= 1e-12) {
      if (fills.length === 0) return { status: 'error', error: HL_ERRORS.iocCancel(this.rules.asset) };
      let total = 0;
      let notional = 0;
      for (const f of fills) {
        total += f.sz;
        notional += f.px * f.sz;
      }
      return { status: 'filled', oid, cloid: input.cloid, totalSz: total, avgPx: notional / total, fills };
    }
    let order = this.spare.pop();
    if (order === undefined) {
      order = {
        oid,
        cloid: input.cloid,
        owner,
        side: input.side,
        px: input.px,
        sz: remaining,
        origSz: input.sz,
        tif: input.tif,
        reduceOnly: input.reduceOnly ?? false,
        timestamp: exTime,
        queueAhead: F0,
        levelSize: Number.NaN,
        tradedSinceLevel: F0,
      };
    } else {
      // Every field written: a reused record is indistinguishable from a new one.
      order.oid = oid;
      order.cloid = input.cloid;
      order.owner = owner;
      order.side = input.side;
      order.px = input.px;
      order.sz = remaining;
      order.origSz = input.sz;
      order.tif = input.tif;
      order.reduceOnly = input.reduceOnly ?? false;
      order.timestamp = exTime;
      order.queueAhead = 0;
      order.levelSize = Number.NaN;
      order.tradedSinceLevel = 0;
    }
    this.join(order);
    this.live.push(order);
    this.version++;
    return { status: 'resting', oid, cloid: input.cloid, fills };
  }

  /** Cancel by oid or cloid (of that owner when given). */
  cancel(ref: number | string, exTime: number, owner?: string): CancelResult {
    void exTime;
    const i = this.indexOf(ref, owner);
    if (i < 0) return { status: 'error', error: HL_ERRORS.cancelMissing() };
    const o = this.live[i];
    this.remove(i);
    return { status: 'success', order: this.view(o) };
  }

  /**
   * Replace an order's price and size (Hyperliquid modify): the old order is cancelled and a new one placed,
   * losing queue priority. The replacement gets a new oid (and `newCloid` when given). If the replacement is
   * rejected (e.g. a post-only price that now crosses), the old order stays cancelled.
   */
  modify(
    ref: number | string,
    change: { px: number; sz: number; newCloid?: string; tif?: Tif },
    exTime: number,
    owner?: string,
  ): PlaceResult {
    const i = this.indexOf(ref, owner);
    if (i < 0) return { status: 'error', error: HL_ERRORS.modifyMissing() };
    const old = this.live[i];
    const invalid = validateOrder(change.px, change.sz, this.rules);
    if (invalid) return { status: 'error', error: invalid };
    const input = this.modInput;
    input.owner = old.owner;
    input.cloid = change.newCloid ?? old.cloid;
    input.side = old.side;
    input.px = change.px;
    input.sz = change.sz;
    input.tif = change.tif ?? old.tif;
    input.reduceOnly = old.reduceOnly;
    // (remove() retires the old record to `spare`; its fields were copied above, before place() reuses it.)
    this.remove(i);
    // Validated above (the same price and size): place without checking them again.
    return this.placeValid(input, exTime);
  }

  openOrders(owner?: string): OpenOrder[] {
    const out: OpenOrder[] = [];
    for (const o of this.live) if (owner === undefined || o.owner === owner) out.push(this.view(o));
    return out;
  }

  /** Whether an order rests (by oid or cloid, of that owner when given), cheap: no copy. */
  hasOrder(ref: number | string, owner?: string): boolean {
    return this.indexOf(ref, owner) >= 0;
  }

  /** One resting order by oid (undefined when no longer resting). */
  openOrder(oid: number): OpenOrder | undefined {
    for (const o of this.live) if (o.oid === oid) return this.view(o);
    return undefined;
  }

  /**
   * Price and remaining size of a resting order without a copy (undefined when not resting): read at once,
   * do not keep (the engine changes it as it fills).
   */
  peekOrder(oid: number): { readonly px: number; readonly sz: number } | undefined {
    const live = this.live;
    // Usually the order just placed: the last one.
    for (let i = live.length - 1; i >= 0; i--) if (live[i].oid === oid) return live[i];
    return undefined;
  }

  /** Number of resting orders (all owners), cheap. */
  get openCount(): number {
    return this.live.length;
  }

  /** Best resting price of ours on a side (NaN when none), cheap; for uptime and quote charts. */
  restingPx(side: OrderSide, owner?: string): number {
    let best = Number.NaN;
    for (const o of this.live) {
      if (o.side !== side || (owner !== undefined && o.owner !== owner)) continue;
      if (Number.isNaN(best) || (side === 'bid' ? o.px > best : o.px < best)) best = o.px;
    }
    return best;
  }

  /** Net position in coin units of an owner, from the fills this engine produced. */
  position(owner = DEFAULT_OWNER): number {
    return this.positions.get(owner) ?? 0;
  }

  /** Cancel every order (of one owner when given); returns the cancelled orders. */
  cancelAll(owner?: string): OpenOrder[] {
    const out: OpenOrder[] = [];
    for (let i = this.live.length - 1; i >= 0; i--) {
      const o = this.live[i];
      if (owner !== undefined && o.owner !== owner) continue;
      out.unshift(this.view(o));
      this.remove(i);
    }
    return out;
  }

  // ---- market events -----------------------------------------------------------------------------------

  /**
   * A recorded L2 snapshot. Returns the fills it causes (book through our price). The returned array is
   * reused by the next call: copy what you keep.
   */
  onBook(ev: BookEvent): MatchFill[] {
    this.bids = ev.bids;
    this.asks = ev.asks;
    this.bookTime = ev.exTime;
    this.setTop();
    if (this.live.length === 0) return EMPTY;
    return this.afterTopChange(true);
  }

  /** A recorded best bid/offer. Returns the fills it causes (reused array, see onBook). */
  onBbo(ev: BboEvent): MatchFill[] {
    this.bboBidPx = ev.bidPx;
    this.bboBidSz = ev.bidSz;
    this.bboAskPx = ev.askPx;
    this.bboAskSz = ev.askSz;
    this.bboTime = ev.exTime;
    this.setTop();
    if (this.live.length === 0) return EMPTY;
    return this.afterTopChange(false);
  }

  /** A recorded trade. Returns our maker fills (reused array, see onBook). */
  onTrade(ev: TradeEvent): MatchFill[] {
    if (this.live.length === 0) return EMPTY;
    const fills = this.fillBuf;
    // (Writing an array's length is not free: only when there is something to drop.)
    if (fills.length !== 0) fills.length = 0;
    // Our orders hit by this taker: bids for a sell, asks for a buy, in time priority.
    const hitSide: OrderSide = ev.side === 'sell' ? 'bid' : 'ask';
    let i = 0;
    while (i < this.live.length) {
      const o = this.live[i];
      if (o.side !== hitSide) {
        i++;
        continue;
      }
      const through = hitSide === 'bid' ? ev.px < o.px : ev.px > o.px;
      let fillSz = 0;
      let cause: MatchFill['cause'] = 'trade';
      if (through && !samePx(ev.px, o.px)) {
        fillSz = o.sz;
        cause = 'trade-through';
      } else if (samePx(ev.px, o.px)) {
        o.tradedSinceLevel += ev.sz;
        const beyond = ev.sz - o.queueAhead;
        o.queueAhead = Math.max(0, o.queueAhead - ev.sz);
        if (beyond > 0) fillSz = Math.min(o.sz, beyond);
      }
      if (fillSz > 0 && this.fillOrder(i, fillSz, o.px, 'maker', ev.tid, ev.exTime, cause, fills)) continue;
      i++;
    }
    return fills;
  }

  // ---- internals ---------------------------------------------------------------------------------------

  private aloBb = Number.NaN;
  private aloBa = Number.NaN;
  private aloText = '';
  /**
   * The post-only rejection text, cached per bbo (a stale quoter gets many of them in a row); the cache is keyed
   * by the two numbers (NaN equal to NaN), not by a string made from them on every rejection.
   */
  private aloError(bb: number, ba: number): string {
    const same =
      this.aloText !== '' &&
      (bb === this.aloBb || (Number.isNaN(bb) && Number.isNaN(this.aloBb))) &&
      (ba === this.aloBa || (Number.isNaN(ba) && Number.isNaN(this.aloBa)));
    if (!same) {
      this.aloBb = bb;
      this.aloBa = ba;
      this.aloText = HL_ERRORS.badAloPx(fmtPx(bb), fmtPx(ba), this.rules.asset);
    }
    return this.aloText;
  }

  /** After a book (fromBook) or bbo at its exchange time (no time argument: a number passed is boxed). */
  private afterTopChange(fromBook: boolean): MatchFill[] {
    const exTime = fromBook ? this.bookTime : this.bboTime;
    const fills = this.fillBuf;
    // (Writing an array's length is not free: only when there is something to drop.)
    if (fills.length !== 0) fills.length = 0;
    const bb = this.bb;
    const ba = this.ba;
    let i = 0;
    while (i < this.live.length) {
      const o = this.live[i];
      const crossed = o.side === 'bid' ? ba <= o.px + 1e-12 : bb >= o.px - 1e-12;
      if (crossed) {
        if (this.fillOrder(i, o.sz, o.px, 'maker', this.nextTid++, exTime, 'book-through', fills)) continue;
      } else if (fromBook) {
        const shown = this.displayedAt(o.side, o.px);
        if (!Number.isNaN(shown)) this.queueModel.onLevelChange(o, shown);
      } else {
        const tpx = o.side === 'bid' ? this.bboBidPx : this.bboAskPx;
        if (samePx(tpx, o.px))
          this.queueModel.onLevelChange(o, o.side === 'bid' ? this.bboBidSz : this.bboAskSz);
        else if (o.side === 'bid' ? o.px > tpx : o.px < tpx) this.queueModel.onLevelChange(o, 0);
      }
      i++;
    }
    return fills;
  }

  /** Walk the opposite displayed levels (fresher bbo first) up to our limit price; returns the unfilled size. */
  private takeLiquidity(
    input: PlaceOrderInput,
    owner: string,
    oid: number,
    remaining: number,
    exTime: number,
    fills: MatchFill[],
  ): number {
    const isBid = input.side === 'bid';
    const levels = isBid ? this.asks : this.bids;
    const n = levels.length;
    const within = (p: number) => (isBid ? p <= input.px + 1e-12 : p >= input.px - 1e-12);
    const take = (p: number, avail: number) => {
      const q = this.toLots(Math.min(avail, remaining));
      if (q <= 0) return;
      remaining = this.toLots(remaining - q);
      const fee = feeFor(p, q, 'taker', this.fees);
      this.addPosition(owner, isBid ? q : -q);
      fills.push({
        oid,
        cloid: input.cloid,
        owner,
        side: input.side,
        px: p,
        sz: q,
        fee,
        liquidity: 'taker',
        tid: this.nextTid++,
        exTime,
        remaining,
        cause: 'taker',
      });
    };
    let start = 0;
    if (this.bboTime >= this.bookTime) {
      const tp = isBid ? this.bboAskPx : this.bboBidPx;
      if (within(tp)) take(tp, isBid ? this.bboAskSz : this.bboBidSz);
      // Book levels at or better than the fresher touch are stale: skip them.
      while (start < n && (isBid ? levels[start].px <= tp + 1e-12 : levels[start].px >= tp - 1e-12)) start++;
    }
    for (let i = start; i < n && remaining > 1e-12 && within(levels[i].px); i++)
      take(levels[i].px, levels[i].sz);
    return remaining;
  }

  /** Queue ahead when an order joins: displayed size at its price plus our own earlier orders there. */
  private join(o: LiveOrder): void {
    const shown = this.displayedAt(o.side, o.px);
    let ahead = Number.isNaN(shown) ? 0 : shown;
    for (const other of this.live) if (other.side === o.side && samePx(other.px, o.px)) ahead += other.sz;
    o.queueAhead = ahead;
    o.levelSize = Number.isNaN(shown) ? Number.NaN : shown;
  }

  /** A size rounded to the nearest whole lot (10^−szDecimals), as a canonical decimal. */
  private toLots(sz: number): number {
    const scale = 10 ** this.rules.szDecimals;
    return Math.round(sz * scale) / scale;
  }

  /** Fill order i by sz at px; returns true when the order is done and was removed from the live list. */
  private fillOrder(
    i: number,
    sz: number,
    px: number,
    liquidity: 'maker' | 'taker',
    tid: number,
    exTime: number,
    cause: MatchFill['cause'],
    out: MatchFill[],
  ): boolean {
    const o = this.live[i];
    // Fills are whole lots, as on the venue: a size left over from queue arithmetic in floating point (or the
    // probabilistic queue's fractional queue) is rounded to the lot, so journals never carry 0.0019000000000000006.
    const q = this.toLots(Math.min(sz, o.sz));
    if (q <= 0) return false;
    this.version++;
    o.sz = this.toLots(o.sz - q);
    const done = o.sz <= 0;
    if (done) o.sz = 0;
    this.addPosition(o.owner, o.side === 'bid' ? q : -q);
    out.push({
      oid: o.oid,
      cloid: o.cloid,
      owner: o.owner,
      side: o.side,
      px,
      sz: q,
      fee: feeFor(px, q, liquidity, this.fees),
      liquidity,
      tid,
      exTime,
      remaining: o.sz,
      cause,
    });
    if (done) this.unlink(i);
    return done;
  }

  private addPosition(owner: string, d: number): void {
    this.positions.set(owner, (this.positions.get(owner) ?? 0) + d);
  }

  private indexOf(ref: number | string, owner?: string): number {
    for (let i = 0; i < this.live.length; i++) {
      const o = this.live[i];
      if (owner !== undefined && o.owner !== owner) continue;
      if (typeof ref === 'number' ? o.oid === ref : o.cloid === ref) return i;
    }
    return -1;
  }

  /**
   * Take order i off the live list (in place: splice would allocate an array of the removed order) and keep
   * its record for reuse.
   */
  private unlink(i: number): void {
    const live = this.live;
    const o = live[i];
    const n = live.length - 1;
    for (let k = i; k < n; k++) live[k] = live[k + 1];
    live.pop();
    if (this.spare.length < 64) this.spare.push(o);
  }

  /** Remove order i; later orders of ours at the same price move up by its size. */
  private remove(i: number): void {
    const o = this.live[i];
    this.unlink(i);
    this.version++;
    for (let j = i; j < this.live.length; j++) {
      const other = this.live[j];
      if (other.side === o.side && samePx(other.px, o.px))
        other.queueAhead = Math.max(0, other.queueAhead - o.sz);
    }
  }

  private view(o: LiveOrder): OpenOrder {
    return {
      oid: o.oid,
      cloid: o.cloid,
      owner: o.owner,
      side: o.side,
      px: o.px,
      sz: o.sz,
      origSz: o.origSz,
      tif: o.tif,
      reduceOnly: o.reduceOnly,
      timestamp: o.timestamp,
      queueAhead: o.queueAhead,
    };
  }
}
