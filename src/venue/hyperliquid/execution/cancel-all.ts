/**
 * Cancel the orders resting on the exchange for the account (all coins, or one): list open orders, cancel them by
 * oid in batches, list again, until none is left (5 attempts). With `ownPrefix` only orders whose cloid starts
 * with it (this trader's, from any of its sessions) are touched: other traders on the same account and manual
 * orders are left alone. Without it, every order of the account goes, including ones this process did not place.
 * Our own orders among them are reported canceled. The venue runs it at start and stop, after dropping what it
 * had queued.
 *
 * A request the exchange does not answer (a timeout, a dropped connection, a server error) is ridden out: the
 * next listing waits min(2 s, 0.1 s · 2^(n−1)) after the n-th in a row, up to UNANSWERED_MAX in a row (≈ 9 s of
 * waiting, within the trader's 10 s for a stop), so a short network outage does not end a stop with orders
 * resting (the guard and the exchange's scheduleCancel remain the last protection when it lasts longer).
 */
import { BATCH_MAX, isBudgetRefusal, noAnswerBackoffMs } from './action-queue.ts';
import type { ExecutionContext } from './context.ts';
import { TERMINAL } from './orders.ts';
import { infoCall, waitForActionBudget } from './pacing.ts';
import { apiResponse, errText, is429 } from './transport.ts';

const ATTEMPTS = 5;
/** Unanswered requests in a row (listings or cancels) cancel-all waits through before it gives up. */
export const UNANSWERED_MAX = 8;

/** No answer at all (not a refusal the exchange answered with, not a rate limit). */
function unanswered(err: unknown): boolean {
  return apiResponse(err) === undefined && !is429(err) && !isBudgetRefusal(err);
}

/** Is this resting order one of ours (cloid prefix), or is every order in scope (no prefix)? */
export function inScope(cloid: string | null | undefined, ownPrefix: string | undefined): boolean {
  if (ownPrefix === undefined) return true;
  return typeof cloid === 'string' && cloid.toLowerCase().startsWith(ownPrefix);
}

export async function cancelAllResting(
  ctx: ExecutionContext,
  coin?: string,
  ownPrefix?: string,
  /** Given up on (the venue abandoned its stop): no further attempt. */
  abandoned: () => boolean = () => false,
  /** Collects the cloids of the resting orders a cancel was sent for (who cancelled what, for the journal). */
  cancelled?: Set<string>,
): Promise<void> {
  const { orders, budget, stats } = ctx;
  let silent = 0;
  /** After a request without an answer: waits (true), or false when too many went unanswered in a row. */
  const rideOut = async (err: unknown, what: string): Promise<boolean> => {
    if (++silent > UNANSWERED_MAX) return false;
    const ms = noAnswerBackoffMs(silent); // the action queue's backoff
    ctx.log.warn(
      { err: errText(err), unansweredInARow: silent, backoffMs: ms },
      `cancel-all: ${what}: no answer`,
    );
    await new Promise((r) => setTimeout(r, ms));
    return true;
  };
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    if (abandoned()) throw new Error('cancel-all abandoned: orders may still rest');
    let listed: Awaited<ReturnType<typeof ctx.info.openOrders>>;
    try {
      listed = await infoCall(ctx, 20, () => ctx.info.openOrders({ user: ctx.user }));
    } catch (err) {
      // Not an attempt: nothing was learnt or sent.
      if (unanswered(err) && (await rideOut(err, 'listing open orders'))) {
        attempt--;
        continue;
      }
      throw err;
    }
    silent = 0;
    const open = listed.filter((o) => (coin === undefined || o.coin === coin) && inScope(o.cloid, ownPrefix));
    if (open.length === 0) {
      for (const k of orders.all()) {
        if ((coin === undefined || k.coin === coin) && !TERMINAL.has(k.state)) {
          orders.report(k, 'canceled', { reason: 'cancel-all' });
        }
      }
      return;
    }
    const cancels: { a: number; o: number }[] = [];
    for (const o of open) {
      const r = ctx.assets.get(o.coin);
      if (r) cancels.push({ a: r.asset, o: o.oid });
      if (o.cloid) cancelled?.add(o.cloid);
    }
    let lost: unknown;
    for (let i = 0; i < cancels.length; i += BATCH_MAX) {
      const batch = cancels.slice(i, i + BATCH_MAX);
      await waitForActionBudget(ctx, batch.length, true);
      budget.consume(batch.length, true, ctx.clock.now());
      stats.cancelsSent += batch.length;
      try {
        await ctx.exchange.cancel({ cancels: batch });
        budget.onSuccess();
      } catch (err) {
        if (isBudgetRefusal(err)) {
          // Even cancels are past their cap: one request per 10 s (waitForActionBudget waits for the slot).
          budget.onAddressRefused(batch.length, ctx.clock.now());
        } else if (is429(err)) {
          stats.http429++;
          budget.on429(ctx.clock.now());
        } else if (unanswered(err)) lost = err;
        // Per-order errors ("already canceled or filled") are fine: we re-list below.
      }
    }
    for (const o of open) {
      const k = orders.find(o.cloid, o.oid);
      if (k && !TERMINAL.has(k.state)) orders.report(k, 'canceled', { reason: 'cancel-all', oid: o.oid });
    }
    // A cancel without an answer may or may not have gone through: the next listing says, after a pause.
    if (lost !== undefined && !(await rideOut(lost, 'cancel request'))) throw lost;
  }
  throw new Error(`cancel-all: orders still resting after ${ATTEMPTS} attempts`);
}
