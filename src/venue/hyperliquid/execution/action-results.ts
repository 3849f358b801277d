/**
 * What the exchange's answer to an action means for each order in it:
 * - per-item statuses: resting → open, filled → filled, error → rejected with the exchange's text (e.g. Alo
 *   "would have immediately matched"); the venue never retries an order by itself, the engine re-prices;
 * - the whole action refused (unknown API wallet, bad nonce): every order rejected with the exchange's text;
 * - no answer (deadline passed, connection reset, server error): the outcome is unknown; the queue settles the
 *   orders by orderStatus (./settle.ts).
 * Rate limiting (HTTP 429) is the queue's business (./action-queue.ts), not an answer.
 */
import type { CancelRequest, ModifyRequest } from '../../../engine/types.ts';
import type { Action } from './action-queue.ts';
import type { ExecutionContext } from './context.ts';
import { TERMINAL } from './orders.ts';
import { apiResponse, errText } from './transport.ts';

/** The statuses of an `order` or `batchModify` answer, one per item. */
export function applyOrderStatuses(
  ctx: ExecutionContext,
  a: Action & { kind: 'order' | 'modify' },
  statuses: unknown[],
): void {
  const { orders } = ctx;
  a.items.forEach((x, i) => {
    const st = statuses[i] as Record<string, unknown> | string | undefined;
    const cloid = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
    const k = orders.get(cloid);
    if (!k) return;
    if (a.kind === 'modify') {
      const old = orders.get((x.req as ModifyRequest).cloid);
      const accepted = st !== undefined && typeof st === 'object' && ('resting' in st || 'filled' in st);
      // An accepted modify replaced the old order. A refused one may or may not have left it on the book (and
      // "Cannot modify" means it was already gone): say nothing about it; the engine cancels it, which is
      // sent for real, and the sweep settles what the exchange really has.
      if (old && accepted && !TERMINAL.has(old.state)) orders.report(old, 'canceled', { reason: 'modified' });
      else if (old && !TERMINAL.has(old.state)) old.uncertain = true;
    }
    if (st && typeof st === 'object' && 'resting' in st) {
      const oid = (st.resting as { oid: number }).oid;
      orders.report(k, 'open', { oid, px: k.px, sz: k.sz });
    } else if (st && typeof st === 'object' && 'filled' in st) {
      const f = st.filled as { oid: number };
      orders.report(k, 'filled', { oid: f.oid, sz: 0 });
    } else if (st && typeof st === 'object' && 'error' in st) {
      const reason = String(st.error);
      ctx.stats.rejects++;
      if (/immediately match|post only/i.test(reason)) ctx.stats.aloRejects++;
      orders.report(k, 'rejected', { reason });
    } else {
      k.uncertain = true;
      void ctx.sweepSoon();
    }
  });
}

/** The statuses of a `cancelByCloid` answer, one per item. */
export function applyCancelStatuses(
  ctx: ExecutionContext,
  items: CancelRequest[],
  statuses: unknown[],
): void {
  let unresolved = false;
  items.forEach((c, i) => {
    const k = ctx.orders.get(c.cloid);
    if (statuses[i] === 'success') {
      if (k) ctx.orders.report(k, 'canceled', { reason: 'canceled' });
    } else {
      // "Order was never placed, already canceled, or filled": the streams / sweep tell us which.
      unresolved = true;
    }
  });
  if (unresolved) void ctx.sweepSoon();
}

/** Every order the action would have made is rejected with this reason (cancels: nothing to say). */
export function rejectAll(ctx: ExecutionContext, a: Action, reason: string): void {
  if (a.kind === 'cancel') return;
  for (const x of a.items) {
    const cloid = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
    const k = ctx.orders.get(cloid);
    if (k) ctx.orders.report(k, 'rejected', { reason });
  }
}

/**
 * The action was refused by the exchange (an error answer, in part or whole): apply what it says and return
 * true. Returns false when there is no answer to read (timeout, connection reset, server error): the caller
 * settles the orders by orderStatus (./settle.ts).
 */
export function apiRefusal(ctx: ExecutionContext, a: Action, err: unknown): boolean {
  const resp = apiResponse(err) as { status?: string; response?: unknown } | undefined;
  if (!resp || typeof resp !== 'object') return false;
  const statuses = (resp.response as { data?: { statuses?: unknown[] } } | undefined)?.data?.statuses;
  if (Array.isArray(statuses)) {
    // Some items failed, others may have succeeded: handle each.
    if (a.kind === 'cancel') applyCancelStatuses(ctx, a.items, statuses);
    else applyOrderStatuses(ctx, a, statuses);
    return true;
  }
  // The whole action was refused (e.g. unknown API wallet, bad nonce).
  const text = typeof resp.response === 'string' ? resp.response : errText(err);
  ctx.log.error({ kind: a.kind, error: text }, 'exchange refused the action');
  if (a.kind === 'cancel') {
    void ctx.sweepSoon();
    return true;
  }
  rejectAll(ctx, a, text);
  return true;
}
