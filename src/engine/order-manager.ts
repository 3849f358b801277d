/**
 * Turns the quotes a strategy wants into the smallest set of venue actions, and tracks every order.
 *
 * One state machine per order, keyed by cloid:
 *   pending-new → open → (pending-modify → replaced by a new cloid) → pending-cancel → canceled
 *                 open → filled;  pending-new → rejected
 * Rules:
 * - requote tolerance: keep an order whose price is less than `priceToleranceTicks` ticks from the wish (and
 *   of the same size) — every modify costs a request of the address budget, earned 1 per USDC traded —
 *   unless its price now crosses the opposite touch or its side reduces the inventory (that side follows the
 *   wish tick for tick: getting flat is worth the request);
 * - do not re-price an order younger than `minQuoteLifeMs` (crossing orders excepted);
 * - re-price by modify (one action, new cloid) or by cancel + place;
 * - while an action on a side is in flight, send nothing more on that side;
 * - after a reject of a new order (e.g. ALO would cross) back off on that side, doubling up to a cap,
 *   so a stale view of the book never turns into a retry storm;
 * - late fills (after a cancel) and fills of unknown cloids still count (the portfolio takes every fill);
 *   an unknown order reported open is cancelled.
 * In-flight accounting: `exposure(side)` is the size that could still fill on that side: resting and
 * pending orders, orders being cancelled, and both halves of a pending modify.
 */
import { F0, filledArray } from '../util/shapes.ts';
import type { CloidGenerator } from './cloid.ts';
import type { Journal } from './journal.ts';
import type { RiskManager } from './risk.ts';
import type {
  CancelRequest,
  Clock,
  DesiredQuotes,
  Fill,
  ModifyRequest,
  OrderRequest,
  OrderSide,
  OrderUpdate,
  QuoteIntent,
  Tif,
  Venue,
} from './types.ts';

export type ManagedOrderState =
  | 'pending-new'
  | 'open'
  | 'pending-modify'
  | 'pending-cancel'
  | 'filled'
  | 'canceled'
  | 'rejected';

/**
 * One order's record. The manager keeps it while the order lives and for TERMINAL_KEEP orders after it
 * finishes; then the record is reused for a new order, so do not hold on to one longer than that.
 */
export interface ManagedOrder {
  cloid: string;
  side: OrderSide;
  px: number;
  /** Original size (coin units). */
  sz: number;
  /** Filled so far. */
  filled: number;
  state: ManagedOrderState;
  /** Engine clock when sent / when acknowledged open (NaN until then). */
  sentAt: number;
  openedAt: number;
  oid?: number;
  /** Pending modify: the replacement's cloid. Replacement: the cloid it replaces. */
  replacedBy?: string;
  replaces?: string;
  /** Cancel as soon as the venue acknowledges it (it was unwanted while still pending). */
  cancelOnAck?: boolean;
  reason?: string;
}

/** Best bid and ask (NaN when unknown), as the engine keeps them. */
export interface Touch {
  readonly bestBid: number;
  readonly bestAsk: number;
}

export interface OrderManagerConfig {
  /**
   * Keep an order whose price differs from the wish by less than this many ticks (1 = follow every tick),
   * except on the side that reduces the inventory and for an order that now crosses the touch.
   */
  priceToleranceTicks: number;
  /** Minimum time an order rests before it is re-priced (ms). */
  minQuoteLifeMs: number;
  /** Re-price with one modify (true) or cancel + place (false). */
  useModify: boolean;
  tif: Tif;
  /** First back-off after a reject on a side, and its cap (ms); doubles per consecutive reject. */
  rejectBackoffMs: number;
  maxRejectBackoffMs: number;
}

export const DEFAULT_ORDER_MANAGER_CONFIG: OrderManagerConfig = {
  priceToleranceTicks: 1,
  minQuoteLifeMs: 0,
  useModify: true,
  tif: 'Alo',
  rejectBackoffMs: 100,
  maxRejectBackoffMs: 5000,
};

export function resolveOrderManagerConfig(partial: Partial<OrderManagerConfig> = {}): OrderManagerConfig {
  const cfg: OrderManagerConfig = { ...DEFAULT_ORDER_MANAGER_CONFIG };
  for (const [k, v] of Object.entries(partial)) {
    if (!(k in DEFAULT_ORDER_MANAGER_CONFIG)) {
      throw new Error(
        `orderManager.${k}: unknown field (known: ${Object.keys(DEFAULT_ORDER_MANAGER_CONFIG).join(', ')})`,
      );
    }
    if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  }
  const nonNeg = (
    name: 'priceToleranceTicks' | 'minQuoteLifeMs' | 'rejectBackoffMs' | 'maxRejectBackoffMs',
  ) => {
    if (!(cfg[name] >= 0 && Number.isFinite(cfg[name]))) {
      throw new Error(`orderManager.${name}: must be a finite number ≥ 0, got ${cfg[name]}`);
    }
  };
  nonNeg('priceToleranceTicks');
  nonNeg('minQuoteLifeMs');
  nonNeg('rejectBackoffMs');
  nonNeg('maxRejectBackoffMs');
  if (!['Alo', 'Gtc', 'Ioc'].includes(cfg.tif)) throw new Error(`orderManager.tif: must be Alo, Gtc or Ioc`);
  return cfg;
}

export interface OrderManagerLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
}

export interface OrderManagerStats {
  placed: number;
  modified: number;
  canceled: number;
  rejected: number;
  filledOrders: number;
  lateFills: number;
  unknownReports: number;
}

const TERMINAL_KEEP = 4096;

export class OrderManager {
  readonly config: OrderManagerConfig;
  readonly stats: OrderManagerStats = {
    placed: 0,
    modified: 0,
    canceled: 0,
    rejected: 0,
    filledOrders: 0,
    lateFills: 0,
    unknownReports: 0,
  };
  /**
   * Non-terminal orders in insertion order. A handful at most (one or two per side), so a linear scan by
   * cloid beats a Map (no hashing, no hash-table churn on every place/finish).
   */
  private readonly activeList: ManagedOrder[] = [];
  /**
   * The last TERMINAL_KEEP finished orders, kept to recognise late fills and late reports: a fixed ring
   * searched newest first (late reports concern orders that just finished). A Map here cost a hash-table
   * insert and delete per order, the top self-time entry of the backtest.
   */
  private readonly finishedRing: (ManagedOrder | undefined)[] = filledArray(TERMINAL_KEEP, undefined);
  private finishedCount = 0;
  /** Records of orders evicted from the ring, for reuse (see newOrder). */
  private readonly spare: ManagedOrder[] = [];
  private readonly backoff = { bid: 0, ask: 0 };
  /**
   * Why the last reconcile held an action back, by what ends the hold:
   * - `deferred`: the touch or the order rate (re-check on every market event);
   * - `holdRetryAt` / `holdOpenedAt`: a reject back-off / a minimum quote life, ending at a known time;
   * - `heldByLimit`: a position/notional limit, which only a venue report or a new wish can lift (both
   *   trigger a reconcile anyway).
   * Re-running a reconcile before its hold ends changes nothing, so the engine skips it (hot path).
   */
  private deferred = false;
  private holdRetryAt = Number.POSITIVE_INFINITY;
  private holdOpenedAt = Number.POSITIVE_INFINITY;
  private heldByLimit = false;
  private readonly retryAt = { bid: Number.NEGATIVE_INFINITY, ask: Number.NEGATIVE_INFINITY };
  private readonly deps: {
    venue: Venue;
    coin: string;
    tick: number;
    clock: Clock;
    cloids: CloidGenerator;
    risk: RiskManager;
    position: () => number;
    journal?: Journal;
    logger?: OrderManagerLogger;
  };

  constructor(config: Partial<OrderManagerConfig> | undefined, deps: OrderManager['deps']) {
    this.config = resolveOrderManagerConfig(config);
    this.deps = deps;
  }

  get(cloid: string): ManagedOrder | undefined {
    return this.activeOrder(cloid) ?? this.finishedOrder(cloid);
  }

  private activeOrder(cloid: string | undefined): ManagedOrder | undefined {
    const list = this.activeList;
    for (let i = 0; i < list.length; i++) if (list[i].cloid === cloid) return list[i];
    return undefined;
  }

  private finishedOrder(cloid: string): ManagedOrder | undefined {
    const ring = this.finishedRing;
    const kept = Math.min(this.finishedCount, TERMINAL_KEEP);
    let slot = this.finishedCount % TERMINAL_KEEP;
    for (let k = 0; k < kept; k++) {
      slot = slot === 0 ? TERMINAL_KEEP - 1 : slot - 1;
      const o = ring[slot];
      if (o !== undefined && o.cloid === cloid) return o;
    }
    return undefined;
  }

  /** Non-terminal orders (a copy). */
  openOrders(): ManagedOrder[] {
    return this.activeList.slice();
  }

  /** Size (coin units) that could still fill on `side`. */
  exposure(side: OrderSide): number {
    let s = 0;
    const list = this.activeList;
    for (let i = 0; i < list.length; i++) if (list[i].side === side) s += list[i].sz - list[i].filled;
    return s;
  }

  /** True while some action is awaiting the venue. */
  hasInFlight(): boolean {
    for (const o of this.activeList) if (o.state !== 'open') return true;
    return false;
  }

  /**
   * True when a reconcile now (the clock's time) could do something that waiting for a venue report would not
   * trigger: an action held back by time (minimum life, back-off, order rate) or a resting order the touch
   * moved through. The touch comes as an object the caller updates in place: this runs on every market event,
   * and numbers passed to a call the compiler does not inline are boxed (a heap object each).
   */
  needsAttention(touch: Touch): boolean {
    if (this.deferred) return true;
    if (this.holdRetryAt !== Number.POSITIVE_INFINITY || this.holdOpenedAt !== Number.POSITIVE_INFINITY) {
      // Same comparisons as reconcileSide, so the hold ends exactly when a reconcile would act.
      const now = this.deps.clock.now();
      if (now >= this.holdRetryAt) return true;
      if (!(now - this.holdOpenedAt < this.config.minQuoteLifeMs)) return true;
    }
    const list = this.activeList;
    for (let i = 0; i < list.length; i++) {
      const o = list[i];
      if (o.state === 'open' && (o.side === 'bid' ? o.px >= touch.bestAsk : o.px <= touch.bestBid))
        return true;
    }
    return false;
  }

  /** The last reconcile held an order back because of a position or notional limit. */
  get heldByLimitNow(): boolean {
    return this.heldByLimit;
  }

  /** True when the last reconcile held some action back (for any reason). */
  get holding(): boolean {
    return (
      this.deferred ||
      this.heldByLimit ||
      this.holdRetryAt !== Number.POSITIVE_INFINITY ||
      this.holdOpenedAt !== Number.POSITIVE_INFINITY
    );
  }

  /**
   * Brings the resting orders toward `desired` (already filtered by risk) at this touch (an object, not two
   * numbers: see needsAttention).
   */
  reconcile(desired: DesiredQuotes, touch: Touch): void {
    this.deferred = false;
    this.holdRetryAt = Number.POSITIVE_INFINITY;
    this.holdOpenedAt = Number.POSITIVE_INFINITY;
    this.heldByLimit = false;
    this.reconcileSide('bid', desired.bid, touch);
    this.reconcileSide('ask', desired.ask, touch);
  }

  /** Cancels every order (pending ones as soon as they are acknowledged). */
  cancelAll(reason: string): void {
    for (const o of this.activeList.slice()) this.cancelOrder(o, reason);
  }

  onOrderUpdate(u: OrderUpdate): ManagedOrder | undefined {
    const now = this.deps.clock.now();
    const o = this.get(u.cloid);
    if (!o) {
      this.stats.unknownReports++;
      this.deps.logger?.warn({ cloid: u.cloid, state: u.state }, 'report for an unknown cloid');
      if (u.state === 'open') {
        // Not ours to keep: an order we do not track must not rest on the book.
        this.deps.venue.cancel([{ coin: this.deps.coin, cloid: u.cloid }]);
        if (this.deps.journal)
          this.record('cancel', now, { cloid: u.cloid, reason: 'unknown order' }, u.exTime);
      }
      return undefined;
    }
    if (u.oid !== undefined) o.oid = u.oid;
    if (isTerminal(o.state)) return o; // late report for a finished order
    switch (u.state) {
      case 'pending':
        return o;
      case 'open': {
        if (o.state === 'pending-new') {
          o.state = 'open';
          o.openedAt = now;
          const sentPx = o.px;
          if (u.px !== undefined) o.px = u.px;
          this.backoff[o.side] = 0;
          if (this.deps.journal) {
            // Compact (the highest-rate row with modifies): the order row already has side, price and size;
            // the ack adds the venue's id, and the price or size only where they differ from what was sent.
            const ack: Record<string, unknown> = { cloid: o.cloid, oid: o.oid };
            if (o.px !== sentPx) ack.px = o.px;
            if (o.filled > 0) ack.sz = o.sz - o.filled;
            this.record('ack', now, ack, u.exTime);
          }
          if (o.replaces) {
            const old = this.activeOrder(o.replaces);
            if (old) this.finish(old, 'canceled', 'replaced');
          }
          if (o.cancelOnAck) this.cancelOrder(o, 'unwanted while pending');
        }
        return o;
      }
      case 'filled':
        this.finish(o, 'filled', u.reason);
        return o;
      case 'canceled':
        this.finish(o, 'canceled', u.reason);
        return o;
      case 'rejected': {
        // The journal row says what became of the order the refusal is about (`state`, what the journal's
        // orders table takes) and what was refused (`was`): a placement or a modify's replacement → rejected;
        // a cancel → the order is no longer on the book (canceled, or filled: the journal settles it from its
        // fills); a modify reported under the original → its replacement is rejected, the original stays.
        if (this.deps.journal) {
          const was = o.state;
          const repl = was === 'pending-modify' && o.replacedBy ? o.replacedBy : undefined;
          const state =
            was === 'pending-cancel'
              ? 'canceled'
              : was === 'pending-new'
                ? 'rejected'
                : was === 'pending-modify'
                  ? 'open'
                  : was;
          this.record(
            'reject',
            now,
            repl !== undefined
              ? { cloid: repl, side: o.side, state: 'rejected', was: 'pending-new', reason: u.reason }
              : { cloid: o.cloid, side: o.side, state, was, reason: u.reason },
            u.exTime,
          );
        }
        if (o.state === 'pending-new') {
          this.stats.rejected++;
          this.finish(o, 'rejected', u.reason);
          this.bumpBackoff(o.side, now);
          if (o.replaces) {
            // The modify failed: we cannot know whether the original still rests, so cancel it.
            const old = this.activeOrder(o.replaces);
            if (old) {
              old.state = 'open';
              old.replacedBy = undefined;
              this.cancelOrder(old, 'modify rejected');
            }
          }
        } else if (o.state === 'pending-cancel') {
          // A rejected cancel means the order is no longer on the book (filled or already cancelled).
          this.finish(o, 'canceled', u.reason);
        } else if (o.state === 'pending-modify') {
          const repl = o.replacedBy ? this.activeOrder(o.replacedBy) : undefined;
          if (repl) this.finish(repl, 'rejected', u.reason);
          o.state = 'open';
          o.replacedBy = undefined;
          this.bumpBackoff(o.side, now);
          this.cancelOrder(o, 'modify rejected');
        }
        return o;
      }
    }
    return o;
  }

  /** Books a (de-duplicated) fill against its order; returns the order, if known. */
  onFill(f: Fill): ManagedOrder | undefined {
    const o = this.get(f.cloid);
    if (!o) {
      this.stats.unknownReports++;
      this.deps.logger?.warn({ cloid: f.cloid, tid: f.tid }, 'fill for an unknown cloid');
      return undefined;
    }
    o.filled += f.sz;
    if (isTerminal(o.state)) {
      if (o.state !== 'filled') this.stats.lateFills++;
      return o;
    }
    if (o.sz - o.filled <= 1e-9 * o.sz) {
      this.finish(o, 'filled');
      // A replacement of a fully filled order can never rest as intended: the venue will reject it.
    }
    return o;
  }

  private reconcileSide(side: OrderSide, want: QuoteIntent | null, touch: Touch): void {
    const now = this.deps.clock.now();
    const bestBid = touch.bestBid;
    const bestAsk = touch.bestAsk;
    let primary: ManagedOrder | undefined;
    const list = this.activeList;
    for (let i = 0; i < list.length; i++) {
      const o = list[i];
      if (o.side !== side || o.state === 'pending-cancel' || o.cancelOnAck) continue;
      if (o.state === 'pending-new' && o.replaces) continue; // counted through its original
      if (!want) {
        this.cancelOrder(o, 'not wanted');
        continue;
      }
      if (primary) this.cancelOrder(primary, 'duplicate'); // keep the newest
      primary = o;
    }
    if (!want) return;
    const tick = this.deps.tick;
    // A wish on the wrong side of the touch we already know would only be rejected (post-only) or take
    // liquidity: never send it; the strategy re-prices on the next book.
    const wantCrosses = side === 'bid' ? want.px >= bestAsk : want.px <= bestBid;
    if (!primary) {
      if (wantCrosses) {
        this.deferred = true;
        return;
      }
      if (now < this.retryAt[side]) {
        if (this.retryAt[side] < this.holdRetryAt) this.holdRetryAt = this.retryAt[side];
        return;
      }
      this.placeNew(side, want, now);
      return;
    }
    if (primary.state !== 'open') return; // an action is in flight on this side: wait for it
    const crossing = side === 'bid' ? primary.px >= bestAsk : primary.px <= bestBid;
    const sameSize = Math.abs(primary.sz - want.sz) <= 1e-9 * want.sz;
    const pos = this.deps.position();
    const reducing = side === 'bid' ? pos < 0 : pos > 0;
    const tolTicks = reducing
      ? Math.min(1, this.config.priceToleranceTicks)
      : this.config.priceToleranceTicks;
    const withinTol = Math.abs(primary.px - want.px) < (tolTicks - 1e-6) * tick;
    if (sameSize && (withinTol || primary.px === want.px) && !crossing) return;
    if (wantCrosses) {
      // The wish itself is on the wrong side of the new touch (the strategy has not caught up): pull a
      // crossing order, keep a resting one where it is.
      if (crossing) this.cancelOrder(primary, 'crossing');
      else this.deferred = true;
      return;
    }
    if (!crossing && now - primary.openedAt < this.config.minQuoteLifeMs) {
      if (primary.openedAt < this.holdOpenedAt) this.holdOpenedAt = primary.openedAt;
      return;
    }
    if (this.config.useModify) {
      const { risk } = this.deps;
      const withinLimits = risk.allowOrder(side, want.sz, this.deps.position(), this.exposure(side), want.px);
      if (!withinLimits || !risk.takeToken(now)) {
        // Cannot re-price within limits (or rate): pull a crossing/unwanted order rather than leave it.
        if (crossing || !sameSize) this.cancelOrder(primary, crossing ? 'crossing' : 'limit');
        if (withinLimits) this.deferred = true;
        else this.heldByLimit = true;
        return;
      }
      const newCloid = this.deps.cloids.next();
      const repl = this.newOrder(newCloid, side, want, now, primary.cloid);
      primary.state = 'pending-modify';
      primary.replacedBy = newCloid;
      this.activeList.push(repl);
      this.stats.modified++;
      const req: ModifyRequest = {
        coin: this.deps.coin,
        cloid: primary.cloid,
        newCloid,
        px: want.px,
        sz: want.sz,
      };
      if (this.deps.journal)
        this.record('modify', now, { cloid: primary.cloid, newCloid, side, px: want.px, sz: want.sz });
      this.deps.venue.modify([req]);
    } else {
      this.cancelOrder(primary, crossing ? 'crossing' : 're-price');
      this.placeNew(side, want, now);
    }
  }

  /**
   * A fresh order record, reusing the one evicted from the finished history when there is one. Orders are
   * kept for TERMINAL_KEEP orders after they finish, long enough for V8 to allocate them straight in the old
   * generation (pretenuring), where a new object per order was the costliest line of the backtest; reuse
   * makes that allocation rare. Every field is written, so a reused record is indistinguishable from a new one.
   */
  private newOrder(
    cloid: string,
    side: OrderSide,
    want: QuoteIntent,
    now: number,
    replaces: string | undefined,
  ): ManagedOrder {
    const o = this.spare.pop();
    if (o === undefined) {
      return {
        cloid,
        side,
        px: want.px,
        sz: want.sz,
        filled: F0,
        state: 'pending-new',
        sentAt: now,
        openedAt: Number.NaN,
        // Every field present from the start: one object shape for all orders (fast property access).
        oid: undefined,
        replacedBy: undefined,
        replaces,
        cancelOnAck: undefined,
        reason: undefined,
      };
    }
    o.cloid = cloid;
    o.side = side;
    o.px = want.px;
    o.sz = want.sz;
    o.filled = 0;
    o.state = 'pending-new';
    o.sentAt = now;
    o.openedAt = Number.NaN;
    o.oid = undefined;
    o.replacedBy = undefined;
    o.replaces = replaces;
    o.cancelOnAck = undefined;
    o.reason = undefined;
    return o;
  }

  private placeNew(side: OrderSide, want: QuoteIntent, now: number): void {
    const { risk } = this.deps;
    const withinLimits = risk.allowOrder(side, want.sz, this.deps.position(), this.exposure(side), want.px);
    if (!withinLimits || !risk.takeToken(now)) {
      if (withinLimits) this.deferred = true;
      else this.heldByLimit = true;
      return;
    }
    const cloid = this.deps.cloids.next();
    const o = this.newOrder(cloid, side, want, now, undefined);
    this.activeList.push(o);
    this.stats.placed++;
    const req: OrderRequest = {
      cloid,
      coin: this.deps.coin,
      side,
      px: want.px,
      sz: want.sz,
      tif: this.config.tif,
    };
    if (this.deps.journal)
      this.record('order', now, { cloid, side, px: want.px, sz: want.sz, tif: this.config.tif });
    this.deps.venue.place([req]);
  }

  private cancelOrder(o: ManagedOrder, reason: string): void {
    const now = this.deps.clock.now();
    if (o.state === 'pending-new' || o.state === 'pending-modify') {
      // The venue does not know it yet (or is replacing it): cancel once it is acknowledged.
      if (o.state === 'pending-modify' && o.replacedBy) {
        const repl = this.activeOrder(o.replacedBy);
        if (repl) repl.cancelOnAck = true;
      }
      o.cancelOnAck = true;
      return;
    }
    if (o.state !== 'open') return;
    o.state = 'pending-cancel';
    o.reason = reason;
    this.stats.canceled++;
    const req: CancelRequest = { coin: this.deps.coin, cloid: o.cloid };
    if (this.deps.journal) this.record('cancel', now, { cloid: o.cloid, side: o.side, px: o.px, reason });
    this.deps.venue.cancel([req]);
  }

  private finish(o: ManagedOrder, state: 'filled' | 'canceled' | 'rejected', reason?: string): void {
    o.state = state;
    if (reason !== undefined) o.reason = reason;
    if (state === 'filled') this.stats.filledOrders++;
    // Remove from the active list in place (splice would allocate the removed part).
    const list = this.activeList;
    const i = list.indexOf(o);
    if (i >= 0) {
      for (let k = i + 1; k < list.length; k++) list[k - 1] = list[k];
      list.pop();
    }
    // Overwrites the oldest finished order once TERMINAL_KEEP are kept; its record is reused (newOrder).
    const slot = this.finishedCount++ % TERMINAL_KEEP;
    const evicted = this.finishedRing[slot];
    if (evicted !== undefined && evicted !== o) this.spare.push(evicted);
    this.finishedRing[slot] = o;
    // A pending modify whose original finished: the replacement decides the side's fate.
    if (o.replacedBy) {
      const repl = this.activeOrder(o.replacedBy);
      if (repl) repl.replaces = undefined;
    }
  }

  private bumpBackoff(side: OrderSide, now: number): void {
    const b = this.backoff[side];
    const next = b === 0 ? this.config.rejectBackoffMs : Math.min(2 * b, this.config.maxRejectBackoffMs);
    this.backoff[side] = next;
    this.retryAt[side] = now + next;
  }

  private record(
    type: 'order' | 'ack' | 'reject' | 'cancel' | 'modify',
    now: number,
    data: Record<string, unknown>,
    exTime?: number,
  ): void {
    this.deps.journal?.record(
      exTime === undefined ? { type, rxTime: now, data } : { type, exTime, rxTime: now, data },
    );
  }
}

function isTerminal(s: ManagedOrderState): boolean {
  return s === 'filled' || s === 'canceled' || s === 'rejected';
}
