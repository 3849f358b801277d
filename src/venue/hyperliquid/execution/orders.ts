/**
 * What this process believes about each of its orders, by cloid (and by the exchange's oid once known). Every
 * change of an order's state goes through `report`, which applies the transition rules (terminal states are
 * sticky; a repeated `open` with nothing new says nothing) and emits the OrderUpdate the engine sees.
 * The action queue, the streams and the REST sweep all settle orders here.
 */
import type { Clock, OrderSide, OrderState, OrderUpdate } from '../../../engine/types.ts';

export interface KnownOrder {
  cloid: string;
  coin: string;
  side: OrderSide;
  px: number;
  sz: number;
  oid?: number;
  state: OrderState;
  sentAt: number;
  /** The action's outcome is unknown (timeout, network error): the next sweep decides. */
  uncertain?: boolean;
  /** When it became filled, canceled or rejected here (this process's clock). */
  endedAt?: number;
}

export const TERMINAL: ReadonlySet<OrderState> = new Set(['filled', 'canceled', 'rejected']);

/** What an exchange message tells about an order besides its state. */
export interface OrderReportDetail {
  oid?: number;
  px?: number;
  sz?: number;
  reason?: string;
  exTime?: number;
}

export class OrderTracker {
  private readonly byCloid = new Map<string, KnownOrder>();
  private readonly oidToCloid = new Map<number, string>();
  private readonly clock: Clock;
  private readonly emit: (u: OrderUpdate) => void;

  constructor(clock: Clock, emit: (u: OrderUpdate) => void) {
    this.clock = clock;
    this.emit = emit;
  }

  track(k: KnownOrder): void {
    this.byCloid.set(k.cloid, k);
  }

  get(cloid: string): KnownOrder | undefined {
    return this.byCloid.get(cloid);
  }

  /** The cloid of an exchange oid we have seen (undefined: not one of ours, or not acknowledged yet). */
  cloidOf(oid: number): string | undefined {
    return this.oidToCloid.get(oid);
  }

  /** The order an exchange message names: by its cloid, else by its oid. */
  find(cloid: string | undefined, oid: number): KnownOrder | undefined {
    const c = cloid ?? this.oidToCloid.get(oid);
    return c ? this.byCloid.get(c) : undefined;
  }

  all(): IterableIterator<KnownOrder> {
    return this.byCloid.values();
  }

  /** Coins of every order this process has sent. */
  coins(): string[] {
    return [...this.byCloid.values()].map((k) => k.coin);
  }

  /** Orders this process still considers live (pending or open). */
  live(): { cloid: string; side: OrderSide; px: number; sz: number; state: OrderState }[] {
    return [...this.byCloid.values()]
      .filter((k) => !TERMINAL.has(k.state))
      .map((k) => ({ cloid: k.cloid, side: k.side, px: k.px, sz: k.sz, state: k.state }));
  }

  /** Move an order to `state` and tell the engine (unless the transition says nothing new). */
  report(k: KnownOrder, state: OrderState, extra: OrderReportDetail = {}): void {
    if (TERMINAL.has(k.state)) return; // terminal states are sticky (late or re-ordered messages)
    if (k.state === state && state === 'open' && extra.sz === undefined) return;
    if (k.state === state && state === 'open' && extra.sz === k.sz && (extra.px ?? k.px) === k.px) return;
    if (extra.oid !== undefined) {
      k.oid = extra.oid;
      this.oidToCloid.set(extra.oid, k.cloid);
    }
    if (extra.px !== undefined) k.px = extra.px;
    if (extra.sz !== undefined && state === 'open') k.sz = extra.sz;
    k.state = state;
    k.uncertain = false;
    const now = this.clock.now();
    if (TERMINAL.has(state)) k.endedAt = now;
    const u: OrderUpdate = {
      kind: 'order',
      cloid: k.cloid,
      oid: k.oid,
      coin: k.coin,
      state,
      exTime: extra.exTime ?? now,
      rxTime: now,
    };
    if (state === 'open') {
      u.px = k.px;
      u.sz = k.sz;
    }
    if (extra.reason !== undefined) u.reason = extra.reason;
    this.emit(u);
  }
}
