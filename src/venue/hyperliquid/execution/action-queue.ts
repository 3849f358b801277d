/**
 * The outgoing exchange actions (order, batchModify, cancelByCloid), one in flight at a time: the library
 * serialises per signer anyway, which keeps nonces arriving in order. Queued actions of the same kind are merged
 * into one batch (one nonce, one weight unit per 40 items). Every action waits for the rate budget (IP weight,
 * address allowance, our actions/s cap) in `pump`; an HTTP 429 backs off exponentially and resends later
 * (cancels always, placements up to MAX_429_ATTEMPTS times). What the answer means for each order is
 * ./action-results.ts.
 *
 * Throttled mode (the address budget is exhausted: one request per 10 s, ./limits.ts): `pump` sends queued
 * cancels first, and a request the exchange refuses for the budget ("Too many cumulative requests sent") is
 * not an answer about its orders: it waits for the next slot and goes again (orders and modifies up to
 * MAX_BUDGET_ATTEMPTS times, then the engine re-decides), never in a tight loop.
 *
 * Every request has a deadline (`ackTimeoutMs`): when it passes the request is abandoned and its orders are
 * settled from `orderStatus` by cloid (./settle.ts), as after a dropped connection or a server error; the queue
 * moves on only once that is done, and the engine keeps counting the orders in flight until each is settled.
 * Requests that go unanswered one after another (an exchange answering 5xx, a dead connection) hold the queue
 * for a backoff that doubles each time (NO_ANSWER_BACKOFF_*), so a cancel that is re-sent until the exchange
 * confirms it never spins in a tight loop against a failing exchange; the first answer ends the backoff.
 *
 * Where things plug in: `pump` is where sending is paced; `send` is where a request leaves and its answer comes
 * back.
 */
import type { CancelRequest, ModifyRequest, OrderRequest } from '../../../engine/types.ts';
import { apiRefusal, applyCancelStatuses, applyOrderStatuses, rejectAll } from './action-results.ts';
import type { ExecutionContext } from './context.ts';
import { isAddressBudgetError } from './limits.ts';
import { MAX_429_ATTEMPTS } from './pacing.ts';
import { settleAction } from './settle.ts';
import { apiResponse, errText, is429 } from './transport.ts';

/** The whole request was refused for the address budget ("Too many cumulative requests sent"). */
export function isBudgetRefusal(err: unknown): boolean {
  // Only a whole refusal (`{status: "err", response: "<text>"}`): per-order errors come with statuses, and
  // some orders of such a batch may have gone through.
  const resp = apiResponse(err) as { response?: unknown } | undefined;
  return resp !== undefined && typeof resp.response === 'string' && isAddressBudgetError(resp.response);
}

import type { WireOrder } from './wire.ts';

export type Action =
  | { kind: 'order'; items: { req: OrderRequest; wire: WireOrder }[]; attempts: number }
  | { kind: 'cancel'; items: CancelRequest[]; attempts: number }
  | { kind: 'modify'; items: { req: ModifyRequest; wire: WireOrder }[]; attempts: number };

/** Items per batch: the weight of an action grows by one every 40 items. */
export const BATCH_MAX = 40;
/** An order or modify refused for the address budget is sent again this many times (one per 10 s slot). */
export const MAX_BUDGET_ATTEMPTS = 3;
/** Default acknowledgement deadline of a request (config `ackTimeoutMs`). */
export const DEFAULT_ACK_TIMEOUT_MS = 5000;
/** After n unanswered requests in a row the queue waits min(MAX, BASE · 2^(n−1)) ms before sending again. */
export const NO_ANSWER_BACKOFF_BASE_MS = 100;
export const NO_ANSWER_BACKOFF_MAX_MS = 2000;

/** The wait after the n-th request in a row without an answer (n ≥ 1): min(MAX, BASE · 2^(n−1)). */
export function noAnswerBackoffMs(n: number): number {
  return Math.min(NO_ANSWER_BACKOFF_MAX_MS, NO_ANSWER_BACKOFF_BASE_MS * 2 ** Math.min(n - 1, 30));
}

class AckTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
    this.name = 'AckTimeout';
  }
}

export class ActionQueue {
  private readonly ctx: ExecutionContext;
  private readonly queue: Action[] = [];
  private busy = false;
  private pumpTimer: NodeJS.Timeout | undefined;
  private idleWaiters: (() => void)[] = [];
  /** Requests in a row that got no answer, and until when the queue waits because of them. */
  private noAnswerStreak = 0;

  /** Requests in a row the exchange has not answered (0 once it answers): the status line shows it. */
  get unansweredInARow(): number {
    return this.noAnswerStreak;
  }
  private holdUntil = 0;
  private halted = false;

  private readonly ackTimeoutMs: number;

  constructor(ctx: ExecutionContext, opts: { ackTimeoutMs?: number } = {}) {
    this.ctx = ctx;
    this.ackTimeoutMs = opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS;
  }

  enqueue(action: Action): void {
    let a = action;
    if (a.kind === 'cancel') {
      // A cancel already waiting for the same order is enough (while the exchange does not answer, the engine
      // and the settlement would otherwise pile up copies of it, each one a request of the budget).
      const queued = new Set<string>();
      for (const q of this.queue) if (q.kind === 'cancel') for (const c of q.items) queued.add(c.cloid);
      const fresh: CancelRequest[] = [];
      for (const c of a.items) {
        if (queued.has(c.cloid)) continue;
        queued.add(c.cloid);
        fresh.push(c);
      }
      if (fresh.length === 0) {
        this.pump();
        return;
      }
      if (fresh.length < a.items.length) a = { ...a, items: fresh };
    }
    // Merge with the last queued action of the same kind (one batch, one nonce, one weight unit per 40).
    const last = this.queue[this.queue.length - 1];
    if (
      last &&
      last.kind === a.kind &&
      last.items.length + a.items.length <= BATCH_MAX &&
      last.attempts === 0
    ) {
      (last.items as unknown[]).push(...a.items);
    } else {
      this.queue.push(a);
    }
    if (a.kind === 'cancel' && this.pumpTimer) {
      // Something waits for its budget slot: a cancel must not wait behind it.
      clearTimeout(this.pumpTimer);
      this.pumpTimer = undefined;
    }
    this.pump();
  }

  /** Resolves when no action is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /**
   * Drop the queued placements and modifies (of one coin, or all): cancel-all would otherwise see them re-create
   * what it removes. `onDropped` gets the cloid of each order they would have made, as it is dropped.
   */
  dropPlacements(coin: string | undefined, onDropped: (cloid: string) => void): void {
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const a = this.queue[i];
      if (a.kind === 'cancel') continue;
      if (coin !== undefined && a.items.some((x) => x.req.coin !== coin)) continue;
      this.queue.splice(i, 1);
      for (const x of a.items)
        onDropped(a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid);
    }
  }

  /** Is an action that would create this order still queued, or is any action in flight? */
  isQueuedOrInFlight(cloid: string): boolean {
    if (this.busy) return true;
    return this.queue.some((a) =>
      a.kind === 'cancel'
        ? false
        : a.items.some(
            (x) => (a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid) === cloid,
          ),
    );
  }

  /** Does an action queued before index `k` create one of these orders (then the cancel must stay behind it)? */
  private createdAhead(cancels: CancelRequest[], k: number): boolean {
    for (let j = 0; j < k; j++) {
      const a = this.queue[j];
      if (a.kind === 'cancel') continue;
      for (const x of a.items) {
        const made = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
        if (cancels.some((c) => c.cloid === made)) return true;
      }
    }
    return false;
  }

  /**
   * Stop sending for good (venue stop, or abandoned): a send waiting for the budget or a backoff never leaves,
   * queued actions are dropped, and whoever waits for the queue to drain is released.
   */
  halt(): void {
    this.halted = true;
    if (this.pumpTimer) clearTimeout(this.pumpTimer);
    this.pumpTimer = undefined;
    this.queue.length = 0;
    this.releaseIdle();
  }

  private releaseIdle(): void {
    const w = this.idleWaiters;
    this.idleWaiters = [];
    for (const f of w) f();
  }

  private pump(): void {
    if (this.halted) {
      this.queue.length = 0;
      if (!this.busy) this.releaseIdle();
      return;
    }
    if (this.busy || this.pumpTimer) return;
    const a = this.queue[0];
    if (!a) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
      return;
    }
    const { budget } = this.ctx;
    const now = this.ctx.clock.now();
    if (now < this.holdUntil) {
      // The exchange has not been answering: wait out the backoff (cancels too; they go first after it).
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, this.holdUntil - now);
      return;
    }
    if (a.kind !== 'cancel') {
      // Cancels go before whatever waits (throttled: the rare requests go to cancels first; pulling a quote
      // beats moving one).
      const i = this.queue.findIndex((x, k) => x.kind === 'cancel' && !this.createdAhead(x.items, k));
      if (i > 0) {
        const [c] = this.queue.splice(i, 1);
        this.queue.unshift(c);
        this.pump();
        return;
      }
    }
    const wait = budget.waitMs(a.items.length, a.kind === 'cancel', now);
    if (wait > 0) {
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.queue.shift();
    this.busy = true;
    budget.consume(a.items.length, a.kind === 'cancel', now);
    void this.send(a).finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  private async send(a: Action): Promise<void> {
    const { ctx } = this;
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new AckTimeout(this.ackTimeoutMs)), this.ackTimeoutMs);
    const opts = { signal: deadline.signal };
    try {
      if (a.kind === 'order') {
        ctx.stats.ordersSent += a.items.length;
        const res = await ctx.exchange.order({ orders: a.items.map((x) => x.wire), grouping: 'na' }, opts);
        ctx.budget.onSuccess();
        this.noAnswerStreak = 0;
        applyOrderStatuses(ctx, a, res.response.data.statuses as unknown[]);
      } else if (a.kind === 'modify') {
        ctx.stats.modifiesSent += a.items.length;
        const res = await ctx.exchange.batchModify(
          {
            // By exchange oid when known: the library reads a hex cloid with a small value as a number.
            modifies: a.items.map((x) => ({
              oid: ctx.orders.get(x.req.cloid)?.oid ?? (x.req.cloid as `0x${string}`),
              order: x.wire,
            })),
          },
          opts,
        );
        ctx.budget.onSuccess();
        this.noAnswerStreak = 0;
        applyOrderStatuses(ctx, a, res.response.data.statuses as unknown[]);
      } else {
        ctx.stats.cancelsSent += a.items.length;
        const cancels = a.items.map((c) => ({
          asset: ctx.rules(c.coin).asset,
          cloid: c.cloid as `0x${string}`,
        }));
        const res = await ctx.exchange.cancelByCloid({ cancels }, opts);
        ctx.budget.onSuccess();
        this.noAnswerStreak = 0;
        applyCancelStatuses(ctx, a.items, res.response.data.statuses as unknown[]);
      }
    } catch (err) {
      await this.handleSendError(a, deadline.signal.aborted ? deadline.signal.reason : err);
    } finally {
      clearTimeout(timer);
    }
  }

  private async handleSendError(a: Action, err: unknown): Promise<void> {
    const { ctx } = this;
    if (isBudgetRefusal(err)) {
      // Not admitted: nothing happened to its orders. Throttled mode: the next slot is 10 s away.
      ctx.budget.onAddressRefused(a.items.length, ctx.clock.now());
      a.attempts++;
      if (a.kind === 'cancel' || a.attempts < MAX_BUDGET_ATTEMPTS) {
        this.queue.unshift(a);
        return;
      }
      rejectAll(ctx, a, `address request budget exhausted: ${errText(err)}`);
      return;
    }
    if (is429(err)) {
      ctx.stats.http429++;
      const backoff = ctx.budget.on429(ctx.clock.now());
      a.attempts++;
      if (a.kind === 'cancel' || a.attempts < MAX_429_ATTEMPTS) {
        ctx.log.warn({ kind: a.kind, backoffMs: backoff, attempt: a.attempts }, 'HTTP 429: backing off');
        this.queue.unshift(a);
        return;
      }
      rejectAll(ctx, a, 'rate limited (HTTP 429), gave up after backoff');
      return;
    }
    // Refused by the exchange (in whole or per item): the answer says what happened.
    if (apiRefusal(ctx, a, err)) {
      this.noAnswerStreak = 0;
      return;
    }
    // No usable answer (deadline passed, connection dropped, server error): ask the exchange what became of
    // each order before anything else goes out, and hold the queue for a backoff that grows while the
    // exchange stays silent.
    const why = err instanceof AckTimeout ? err.message : errText(err);
    if (err instanceof AckTimeout) ctx.stats.ackTimeouts++;
    this.noAnswerStreak++;
    const backoffMs = noAnswerBackoffMs(this.noAnswerStreak);
    this.holdUntil = ctx.clock.now() + backoffMs;
    const streak = this.noAnswerStreak;
    // Logged for the first ones of a streak, then at 8, 16, 32…: a long outage is not a flood of lines.
    const log = streak <= 3 || (streak & (streak - 1)) === 0 ? ctx.log.warn : ctx.log.debug;
    log.call(
      ctx.log,
      { kind: a.kind, n: a.items.length, why, unansweredInARow: streak, backoffMs },
      'no answer to the action: settling its orders by orderStatus',
    );
    await settleAction(ctx, a, why, (items) => this.enqueue({ kind: 'cancel', items, attempts: 0 }));
  }
}
