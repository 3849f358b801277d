/**
 * The account's WebSocket streams: orderUpdates (order states), userFills (./fills.ts) and userFundings (hourly
 * funding payments). The library reconnects and resubscribes by itself; after a reconnect whatever happened
 * meanwhile is settled by a REST sweep (and userFills / userFundings re-send their snapshots).
 */
import { type ISubscription, SubscriptionClient, WebSocketTransport } from '@nktkas/hyperliquid';
import type { ExecutionContext } from './context.ts';
import { type FundingEvent, fundingFromWire } from './fill-history.ts';
import type { OrderTracker } from './orders.ts';
import { mapOrderStatus, type WireFill, type WireOrderUpdate } from './wire.ts';

/** One element of the orderUpdates stream applied to our orders. */
export function applyOrderUpdate(orders: OrderTracker, e: WireOrderUpdate): void {
  const o = e.order;
  if (!o || typeof o.oid !== 'number') return;
  const k = orders.find(o.cloid, o.oid);
  if (!k) return; // not ours (another coin, another session): the sweep cancels orphans
  const state = mapOrderStatus(e.status);
  const sz = Number(o.sz);
  const px = Number(o.limitPx);
  if (state === 'open') orders.report(k, 'open', { oid: o.oid, px, sz, exTime: e.statusTimestamp });
  else orders.report(k, state, { oid: o.oid, reason: e.status, exTime: e.statusTimestamp });
}

export interface UserStreamHandlers {
  onOrderUpdate(e: WireOrderUpdate): void;
  onFills(fills: WireFill[], isSnapshot: boolean): void;
  /** Funding payments (a snapshot of recent ones on every (re)subscription, then each hour's). */
  onFundings?(events: FundingEvent[], isSnapshot: boolean): void;
}

export class UserStreams {
  private readonly ctx: ExecutionContext;
  private readonly handlers: UserStreamHandlers;
  private ws: WebSocketTransport | undefined;
  private subs: ISubscription[] = [];

  constructor(ctx: ExecutionContext, handlers: UserStreamHandlers) {
    this.ctx = ctx;
    this.handlers = handlers;
  }

  /** Connect and subscribe; resolves once both subscriptions are confirmed. */
  async open(wsUrl: string, isTestnet: boolean): Promise<void> {
    const { ctx, handlers } = this;
    const ws = new WebSocketTransport({
      url: wsUrl,
      isTestnet,
      timeout: 10_000,
      reconnect: {
        maxRetries: Number.POSITIVE_INFINITY,
        reconnectionDelay: (n: number) => Math.min(5000, 100 * 2 ** n),
      },
    });
    this.ws = ws;
    let opened = 0;
    ws.socket.addEventListener('open', () => {
      opened++;
      if (opened > 1) {
        ctx.stats.reconnects++;
        ctx.log.warn({ reconnects: ctx.stats.reconnects }, 'user streams reconnected; sweeping');
        void ctx.sweepSoon();
      }
    });
    const sub = new SubscriptionClient({ transport: ws });
    this.subs.push(
      await sub.orderUpdates({ user: ctx.user }, (events) => {
        for (const e of events) handlers.onOrderUpdate(e as unknown as WireOrderUpdate);
      }),
    );
    this.subs.push(
      await sub.userFills({ user: ctx.user }, (ev) => {
        handlers.onFills(ev.fills as unknown as WireFill[], ev.isSnapshot === true);
      }),
    );
    const onFundings = handlers.onFundings;
    if (onFundings) {
      // Not every server offers it: without it, funding comes from the periodic userFunding check.
      try {
        this.subs.push(
          await sub.userFundings({ user: ctx.user }, (ev) => {
            onFundings(ev.fundings.map(fundingFromWire), ev.isSnapshot === true);
          }),
        );
      } catch (err) {
        ctx.log.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'userFundings stream unavailable: funding is read by the periodic userFunding check',
        );
      }
    }
  }

  /** Unsubscribe and close the socket (safe when never opened). */
  async close(): Promise<void> {
    for (const s of this.subs) await s.unsubscribe().catch(() => {});
    this.subs = [];
    this.ws?.close();
    this.ws = undefined;
  }
}
