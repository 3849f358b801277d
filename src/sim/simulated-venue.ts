/**
 * A Venue over the matching core with latencies: the engine's requests reach the matching engine after the
 * entry (or cancel) latency, and every outcome (ack, reject, fill, cancel) comes back after the response
 * latency. Requests keep their send order on the way in (one ordered connection), even when sampled
 * latencies would reorder them. Market events reach `onMarket` on the exchange clock.
 * Runs on any Scheduler: the backtest's simulated event queue, or a wall-clock scheduler for paper trading.
 */
import type {
  CancelRequest,
  Fill,
  ModifyRequest,
  OrderRequest,
  OrderState,
  OrderUpdate,
  Venue,
  VenueReport,
} from '../engine/types.ts';
import type { MatchFill, MatchingEngine, PlaceResult } from '../exchange/matching.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import { filledArray } from '../util/shapes.ts';
import type { LatencyModel } from './latency.ts';
import type { Scheduler } from './scheduler.ts';

/** How many recently finished orders the venue remembers, to answer cancels that arrive too late. */
const FINAL_STATES_KEPT = 4096;

export interface SimulatedVenueOptions {
  scheduler: Scheduler;
  matching: MatchingEngine;
  latency: LatencyModel;
  /** Account id inside the matching engine (default 'sim'). */
  owner?: string;
  /** Called at exchange time for each of our fills (metrics, charts); never changes the simulated venue. */
  onExchangeFill?: (f: MatchFill) => void;
  /**
   * Deliver a modify's two reports (the original cancelled, the replacement resting or refused) in one scheduler
   * callback when they come back at the same time (default true; the same reports, times and order as two
   * callbacks: false is the plain path, kept for the test that compares them).
   */
  pairReports?: boolean;
  /**
   * Our maker fills caused by a market event reach us with that event, at once, instead of a response latency
   * after it (paper trading on a live feed, default false). On the exchange our fills are pushed (userFills,
   * orderUpdates) as the trade is (trades): the feed's delay is already in the event's arrival. A backtest keeps
   * the exchange time + response latency (its events arrive after their feed delay on the tape's own clock).
   */
  fillsWithFeed?: boolean;
}

export interface VenueStats {
  placeRequests: number;
  modifyRequests: number;
  cancelRequests: number;
  rejects: number;
  /** Orders that reached the book (acknowledged as resting). */
  rested: number;
  fills: number;
}

export class SimulatedVenue implements Venue {
  readonly name = 'simulated';
  readonly matching: MatchingEngine;
  readonly stats: VenueStats = {
    placeRequests: 0,
    modifyRequests: 0,
    cancelRequests: 0,
    rejects: 0,
    rested: 0,
    fills: 0,
  };
  private readonly scheduler: Scheduler;
  private readonly latency: LatencyModel;
  private readonly owner: string;
  private readonly onExchangeFill?: (f: MatchFill) => void;
  private readonly pairReports: boolean;
  private readonly fillsWithFeed: boolean;
  private listener: (r: VenueReport) => void = () => {};
  /** Arrival time of the last request: requests on one connection arrive in order. */
  private lastArrival = Number.NEGATIVE_INFINITY;
  /** Final state of orders no longer live, for answering late cancels. */
  /**
   * Final states of the most recently finished orders (a ring, newest last), to answer cancels that arrive
   * after the order finished. Only late cancels read it, so a scan is fine; writes must be cheap (every order).
   */
  private readonly finalCloids: string[] = filledArray(FINAL_STATES_KEPT, '');
  private readonly finalStates: OrderState[] = filledArray<OrderState>(FINAL_STATES_KEPT, 'canceled');
  private finalPos = 0;
  private haltReason: string | undefined;
  /** Receipt time of the last report: reports come back in order too. */
  private lastReceipt = Number.NEGATIVE_INFINITY;

  constructor(opts: SimulatedVenueOptions) {
    this.scheduler = opts.scheduler;
    this.matching = opts.matching;
    this.latency = opts.latency;
    this.owner = opts.owner ?? 'sim';
    this.onExchangeFill = opts.onExchangeFill;
    this.pairReports = opts.pairReports ?? true;
    this.fillsWithFeed = opts.fillsWithFeed ?? false;
  }

  setReportListener(listener: (r: VenueReport) => void): void {
    this.listener = listener;
  }

  place(orders: OrderRequest[]): void {
    for (const o of orders) {
      this.stats.placeRequests++;
      this.scheduler.call(this.arrival(this.latency.entry()), this.arrivePlace, o);
    }
  }

  cancel(cancels: CancelRequest[]): void {
    for (const c of cancels) {
      this.stats.cancelRequests++;
      this.scheduler.call(this.arrival(this.latency.cancel()), this.arriveCancelRequest, c);
    }
  }

  modify(mods: ModifyRequest[]): void {
    for (const m of mods) {
      this.stats.modifyRequests++;
      this.scheduler.call(this.arrival(this.latency.entry()), this.arriveModify, m);
    }
  }

  // Requests at their arrival at the exchange (time t), scheduled as methods with their request: no closure
  // per request on the hot path.
  private readonly arrivePlace = (o: OrderRequest, t: number): void => {
    if (this.haltReason !== undefined) this.report(o.cloid, { status: 'error', error: this.haltReason }, t);
    else this.report(o.cloid, this.matching.place(this.toInput(o), t), t);
  };

  private readonly arriveCancelRequest = (c: CancelRequest, t: number): void => this.arriveCancel(c.cloid, t);

  private readonly arriveModify = (m: ModifyRequest, t: number): void => {
    if (this.haltReason !== undefined) {
      this.deliver(this.update(m.newCloid, 'rejected', t, undefined, undefined, undefined, this.haltReason));
      return;
    }
    const r = this.matching.modify(m.cloid, { px: m.px, sz: m.sz, newCloid: m.newCloid }, t, this.owner);
    // Refused with the original still as it was: it was not on the book ('Cannot modify'), or the change broke an
    // order rule (tick, size, minimum value), which the exchange checks before it cancels anything. Only the
    // replacement's refusal is reported then (the engine's order manager cancels the original itself).
    if (
      r.status === 'error' &&
      (r.error.startsWith('Cannot modify') || this.matching.hasOrder(m.cloid, this.owner))
    ) {
      this.report(m.newCloid, r, t);
      return;
    }
    // The old order left the book (replaced, or cancelled because its replacement was refused).
    this.setFinal(m.cloid, 'canceled');
    const gone = this.update(m.cloid, 'canceled', t, undefined, undefined, undefined, 'modified');
    if (r.status === 'filled' || (r.status === 'resting' && r.fills.length > 0)) {
      this.deliver(gone);
      this.report(m.newCloid, r, t);
      return;
    }
    // The usual outcome (≈ 220 k per cj day): the replacement rests or is refused, and that is its one report. The
    // two reports are scheduled one right after the other, and come back at the same time as a rule (a constant
    // response latency): then they are one scheduler callback instead of two (nothing can run between two
    // callbacks of one time scheduled in a row: whatever the first report triggers is scheduled after both).
    const outcome = this.outcome(m.newCloid, r, t);
    if (this.pairReports && outcome.rxTime === gone.rxTime)
      this.scheduler.call(gone.rxTime, this.deliverTwo, [gone, outcome]);
    else {
      this.deliver(gone);
      this.deliver(outcome);
    }
  };

  /** Two reports of one time, in order. */
  private readonly deliverTwo = (two: [OrderUpdate, OrderUpdate]): void => {
    this.listener(two[0]);
    this.listener(two[1]);
  };

  cancelAll(coin?: string): Promise<void> {
    if (coin !== undefined && coin !== this.matching.coin) return Promise.resolve();
    return new Promise((resolve) => {
      this.stats.cancelRequests++;
      const t = this.arrival(this.latency.cancel());
      this.scheduler.at(t, () => {
        for (const o of this.matching.cancelAll(this.owner))
          this.cancelled(o.cloid ?? String(o.oid), o.oid, t, undefined);
        this.scheduler.at(this.receiptTime(t), resolve);
      });
    });
  }

  /** A market event at its exchange time: update the matching engine's book and deliver resulting fills. */
  onMarket(ev: MarketEvent): void {
    let fills: MatchFill[];
    if (ev.kind === 'trade') fills = this.matching.onTrade(ev);
    else if (ev.kind === 'book') fills = this.matching.onBook(ev);
    else fills = this.matching.onBbo(ev);
    for (let i = 0; i < fills.length; i++) this.emitFill(fills[i], this.fillsWithFeed);
  }

  /**
   * Stop matching (a gap in the market data: nothing to match against): cancel our resting orders and refuse
   * new ones with `reason` until resume().
   */
  halt(reason: string, exTime: number): void {
    this.haltReason = reason;
    for (const o of this.matching.cancelAll(this.owner))
      this.cancelled(o.cloid ?? String(o.oid), o.oid, exTime, reason);
  }

  resume(): void {
    this.haltReason = undefined;
  }

  get halted(): boolean {
    return this.haltReason !== undefined;
  }

  // ---- internals ---------------------------------------------------------------------------------------

  /** Arrival time at the exchange of a request sent now: requests on one connection arrive in order. */
  private arrival(latencyMs: number): number {
    const t = Math.max(this.scheduler.now() + latencyMs, this.lastArrival);
    this.lastArrival = t;
    return t;
  }

  private toInput(o: OrderRequest) {
    return {
      owner: this.owner,
      cloid: o.cloid,
      side: o.side,
      px: o.px,
      sz: o.sz,
      tif: o.tif,
      reduceOnly: o.reduceOnly,
    };
  }

  private report(cloid: string, r: PlaceResult, t: number): void {
    if (r.status === 'error' || (r.status === 'resting' && r.fills.length === 0)) {
      this.deliver(this.outcome(cloid, r, t));
      return;
    }
    for (const f of r.fills) this.emitFill(f);
    if (r.status === 'filled') {
      // An Ioc that filled only partly: the rest is cancelled, say so.
      const last = r.fills[r.fills.length - 1];
      if (last !== undefined && last.remaining > 0)
        this.cancelled(cloid, r.oid, t, 'Ioc remainder cancelled');
      return;
    }
    if (r.status === 'resting') this.deliver(this.outcome(cloid, r, t));
  }

  /** The one report of a refused order or of one resting without fills (booked as report() does). */
  private outcome(cloid: string, r: Exclude<PlaceResult, { status: 'filled' }>, t: number): OrderUpdate {
    if (r.status === 'error') {
      this.stats.rejects++;
      this.setFinal(cloid, 'rejected');
      return this.update(cloid, 'rejected', t, undefined, undefined, undefined, r.error);
    }
    this.stats.rested++;
    const live = this.matching.peekOrder(r.oid);
    return this.update(cloid, 'open', t, r.oid, live?.px, live?.sz, undefined);
  }

  private arriveCancel(cloid: string, t: number): void {
    const r = this.matching.cancel(cloid, t, this.owner);
    if (r.status === 'success') {
      this.cancelled(cloid, r.order.oid, t, undefined);
      return;
    }
    // Already filled / cancelled / rejected (or never placed): say so, with the final state we know.
    const state = this.getFinal(cloid) ?? 'rejected';
    this.deliver(this.update(cloid, state, t, undefined, undefined, undefined, r.error));
  }

  private cancelled(cloid: string, oid: number, t: number, reason: string | undefined): void {
    this.setFinal(cloid, 'canceled');
    this.deliver(this.update(cloid, 'canceled', t, oid, undefined, undefined, reason));
  }

  /** A fill of ours: after the response latency, or (withFeed) now, delivered before the caller goes on. */
  private emitFill(f: MatchFill, withFeed = false): void {
    this.stats.fills++;
    this.onExchangeFill?.(f);
    const rx = withFeed ? this.scheduler.now() : this.receiptTime(f.exTime);
    const cloid = f.cloid ?? String(f.oid);
    const fill: Fill = {
      kind: 'fill',
      cloid,
      oid: f.oid,
      coin: this.matching.coin,
      side: f.side,
      px: f.px,
      sz: f.sz,
      fee: f.fee,
      liquidity: f.liquidity,
      tid: f.tid,
      exTime: f.exTime,
      rxTime: rx,
    };
    if (f.remaining > 0) {
      if (withFeed) this.deliverReport(fill);
      else this.scheduler.call(rx, this.deliverReport, fill);
      return;
    }
    this.setFinal(cloid, 'filled');
    // One delivery for both: the fill, then the order's final state.
    if (withFeed) this.deliverLastFill(fill);
    else this.scheduler.call(rx, this.deliverLastFill, fill);
  }

  private readonly deliverReport = (r: VenueReport): void => this.listener(r);

  /** The fill that completed an order, then the order's final state (made from the fill). */
  private readonly deliverLastFill = (fill: Fill): void => {
    this.listener(fill);
    const u: OrderUpdate = {
      kind: 'order',
      cloid: fill.cloid,
      oid: fill.oid,
      coin: fill.coin,
      state: 'filled',
      sz: 0,
      exTime: fill.exTime,
      rxTime: fill.rxTime,
    };
    this.listener(u);
  };

  private update(
    cloid: string,
    state: OrderState,
    t: number,
    oid: number | undefined,
    px: number | undefined,
    sz: number | undefined,
    reason: string | undefined,
  ): OrderUpdate {
    return {
      kind: 'order',
      cloid,
      oid,
      coin: this.matching.coin,
      state,
      px,
      sz,
      reason,
      exTime: t,
      rxTime: this.receiptTime(t),
    };
  }

  /** Remember an order's final state (the last FINAL_STATES_KEPT orders, like an exchange's recent history). */
  private setFinal(cloid: string, state: OrderState): void {
    this.finalCloids[this.finalPos] = cloid;
    this.finalStates[this.finalPos] = state;
    this.finalPos = (this.finalPos + 1) % FINAL_STATES_KEPT;
  }

  private getFinal(cloid: string): OrderState | undefined {
    const n = FINAL_STATES_KEPT;
    for (let k = 1; k <= n; k++) {
      const i = (this.finalPos - k + n) % n;
      if (this.finalCloids[i] === cloid) return this.finalStates[i];
    }
    return undefined;
  }

  private receiptTime(exTime: number): number {
    const rx = Math.max(exTime + this.latency.response(), this.lastReceipt);
    this.lastReceipt = rx;
    return rx;
  }

  private deliver(u: OrderUpdate): void {
    this.scheduler.call(u.rxTime, this.deliverReport, u);
  }
}
