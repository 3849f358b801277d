/**
 * Settling orders whose action got no usable answer: the acknowledgement deadline passed (`ackTimeoutMs`), the
 * connection dropped, or the server failed (5xx). The outcome is asked of the exchange with `orderStatus` by
 * cloid, and each order is settled from the answer:
 * - resting → open (with the exchange's oid); filled → filled; canceled/rejected → so;
 * - unknown to the exchange → the request never arrived: a placement is rejected, a modify's replacement too
 *   (the old order is then settled from its own status), an order we meant to cancel is gone;
 * - an order we meant to cancel that still rests → the cancel did not happen: it is sent again.
 * When the status query itself fails, the order stays uncertain and the periodic sweep asks again; until an order
 * is settled the engine counts it as in flight (its size stays in the risk layer's exposure).
 * The REST sweep (./reconcile.ts) settles orders it cannot find in the open-orders listing the same way.
 */
import type { CancelRequest, ModifyRequest } from '../../../engine/types.ts';
import type { Action } from './action-queue.ts';
import type { ExecutionContext } from './context.ts';
import { type KnownOrder, TERMINAL } from './orders.ts';
import { infoCall } from './pacing.ts';
import { errText } from './transport.ts';
import { mapOrderStatus } from './wire.ts';

/** What `orderStatus` says about one order (undefined when the query failed). */
export type OrderStatusAnswer =
  | {
      known: true;
      state: 'open' | 'filled' | 'canceled' | 'rejected';
      status: string;
      oid: number;
      px: number;
      sz: number;
    }
  | { known: false };

export async function queryOrderStatus(
  ctx: ExecutionContext,
  cloid: string,
): Promise<OrderStatusAnswer | undefined> {
  try {
    const st = await infoCall(ctx, 2, () =>
      ctx.info.orderStatus({ user: ctx.user, oid: cloid as `0x${string}` }),
    );
    if (st.status !== 'order') return { known: false };
    const o = st.order.order;
    const state = mapOrderStatus(st.order.status);
    return {
      known: true,
      state: state === 'pending' ? 'open' : state,
      status: st.order.status,
      oid: o.oid,
      px: Number(o.limitPx),
      sz: Number(o.sz),
    };
  } catch (err) {
    ctx.log.warn(
      { cloid, err: errText(err) },
      'orderStatus failed; the order stays uncertain until the sweep',
    );
    return undefined;
  }
}

/**
 * Settle one order from a status answer. `neverArrived` is the reason given when the exchange does not know it
 * (a placement that never arrived is rejected). Returns false when nothing could be decided.
 */
export function applyOrderStatus(
  ctx: ExecutionContext,
  k: KnownOrder,
  st: OrderStatusAnswer | undefined,
  neverArrived: string,
): boolean {
  if (!st) {
    if (!TERMINAL.has(k.state)) k.uncertain = true;
    return false;
  }
  if (!st.known) {
    if (k.state === 'pending' || k.uncertain) ctx.orders.report(k, 'rejected', { reason: neverArrived });
    return true;
  }
  if (st.state === 'open') ctx.orders.report(k, 'open', { oid: st.oid, px: st.px, sz: st.sz });
  else ctx.orders.report(k, st.state, { oid: st.oid, reason: st.status });
  return true;
}

/**
 * Settle every order of an action that got no usable answer. Cancels found still resting are handed to
 * `resendCancels`. Runs the status queries in parallel.
 */
export async function settleAction(
  ctx: ExecutionContext,
  a: Action,
  why: string,
  resendCancels: (items: CancelRequest[]) => void,
): Promise<void> {
  ctx.stats.unacknowledged += a.items.length;
  const reason = `never reached the exchange (${why}; unknown to orderStatus)`;
  if (a.kind === 'order') {
    await Promise.all(
      a.items.map(async (x) => {
        const k = ctx.orders.get(x.req.cloid);
        if (!k || TERMINAL.has(k.state) || (k.state === 'open' && !k.uncertain)) return;
        k.uncertain = true;
        applyOrderStatus(ctx, k, await queryOrderStatus(ctx, k.cloid), reason);
      }),
    );
    return;
  }
  if (a.kind === 'modify') {
    await Promise.all(
      a.items.map(async (x) => {
        const m = x.req as ModifyRequest;
        const repl = ctx.orders.get(m.newCloid);
        const old = ctx.orders.get(m.cloid);
        if (!repl || TERMINAL.has(repl.state)) return;
        repl.uncertain = true;
        const st = await queryOrderStatus(ctx, m.newCloid);
        const replaced = st?.known === true && (st.state === 'open' || st.state === 'filled');
        applyOrderStatus(ctx, repl, st, reason);
        if (!old || TERMINAL.has(old.state)) return;
        if (replaced) {
          ctx.orders.report(old, 'canceled', { reason: 'modified' });
        } else if (st) {
          // The modify did not happen: what became of the old order is its own status (the engine cancels it
          // if it still rests, as for any refused modify).
          const ost = await queryOrderStatus(ctx, m.cloid);
          if (ost?.known && ost.state !== 'open') applyOrderStatus(ctx, old, ost, reason);
          else if (!ost) old.uncertain = true;
        } else {
          old.uncertain = true;
        }
      }),
    );
    return;
  }
  const again: CancelRequest[] = [];
  await Promise.all(
    a.items.map(async (c) => {
      const k = ctx.orders.get(c.cloid);
      if (k && TERMINAL.has(k.state)) return;
      const st = await queryOrderStatus(ctx, c.cloid);
      if (!st) {
        // Unknown outcome: try the cancel again (a cancel of a gone order is harmless).
        again.push(c);
        return;
      }
      if (st.known && st.state === 'open') {
        again.push(c);
        return;
      }
      if (k) {
        if (st.known) ctx.orders.report(k, st.state, { oid: st.oid, reason: st.status });
        else ctx.orders.report(k, 'canceled', { reason: 'unknown to the exchange' });
      }
    }),
  );
  if (again.length > 0) {
    ctx.log.warn(
      { n: again.length, why },
      'cancel not confirmed and the order still rests: sending it again',
    );
    resendCancels(again);
  }
}
