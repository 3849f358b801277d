/**
 * Reconciliation with the exchange by REST: a sweep lists open orders and the account's positions. Orders we
 * think are live but the exchange does not list are resolved with orderStatus; orders resting with our cloid
 * prefix that we do not know are canceled (orphans; other traders' orders on the account are left alone); each traded coin's exchange position is the truth and goes to `onSnapshot` (the
 * session). Sweeps run periodically, after a stream reconnect, and soon after any answer that left an order
 * uncertain (`sweepSoon`, coalesced).
 *
 * An acknowledgement timeout resolves its orders the same way (orderStatus by cloid, ./settle.ts). Once the
 * session enables it, each sweep also recovers fills the streams missed (userFillsByTime since the journal's
 * last fill, ./fill-history.ts) after reading the position, so the position check sees every fill that made it.
 */
import type { OrderSide } from '../../../engine/types.ts';
import { inScope } from './cancel-all.ts';
import type { ExecutionContext } from './context.ts';
import { TERMINAL } from './orders.ts';
import { infoCall, waitForActionBudget } from './pacing.ts';
import { applyOrderStatus, queryOrderStatus } from './settle.ts';
import { errText } from './transport.ts';

/** Exchange truth from a REST sweep. */
export interface ExchangeSnapshot {
  coin: string;
  position: number;
  entryPx: number;
  accountValue: number;
  /** The account's margin in use (clearinghouseState marginSummary.totalMarginUsed), USD. */
  marginUsed: number;
  openOrders: { cloid?: string; oid: number; side: OrderSide; px: number; sz: number }[];
  time: number;
}

export interface ReconcilerDeps {
  /** An action that would create this order is queued, or an action is in flight. */
  isQueuedOrInFlight(cloid: string): boolean;
  /** Coins whose position is reported (configured assets and every coin we sent an order for). */
  tradedCoins(): string[];
  /** This trader's cloid prefix: only resting orders with it can be our orphans (others are not ours). */
  ownPrefix?: string;
  onSnapshot(snap: ExchangeSnapshot): void;
  /** Fills (and funding) the streams missed, recovered before the position goes to `onSnapshot`. */
  recover?(): Promise<void>;
}

export class Reconciler {
  private readonly ctx: ExecutionContext;
  private readonly deps: ReconcilerDeps;
  private sweepInFlight: Promise<void> | undefined;

  constructor(ctx: ExecutionContext, deps: ReconcilerDeps) {
    this.ctx = ctx;
    this.deps = deps;
  }

  /** A sweep in ~50 ms, shared by every caller until it is done (no-op when the venue is not running). */
  sweepSoon(): Promise<void> {
    if (!this.ctx.isRunning()) return Promise.resolve();
    if (!this.sweepInFlight) {
      this.sweepInFlight = new Promise<void>((r) => setTimeout(r, 50))
        // Stopped meanwhile: the stop's own last sweep counts what rests; this one would report into a session
        // that has ended (and, in a demo, ask a loopback server that is gone).
        .then(() => (this.ctx.isRunning() ? this.sweep() : undefined))
        .then(() => undefined)
        .catch((err) => this.ctx.log.warn({ err: errText(err) }, 'reconcile sweep failed'))
        .finally(() => {
          this.sweepInFlight = undefined;
        });
    }
    return this.sweepInFlight;
  }

  async sweep(): Promise<ExchangeSnapshot[]> {
    const { ctx } = this;
    const { orders } = ctx;
    ctx.stats.sweeps++;
    const sweepStart = ctx.clock.now();
    const [open, ch] = await Promise.all([
      infoCall(ctx, 20, () => ctx.info.openOrders({ user: ctx.user })),
      infoCall(ctx, 2, () => ctx.info.clearinghouseState({ user: ctx.user })),
    ]);
    if (this.deps.recover) {
      await this.deps.recover().catch((err) => ctx.log.warn({ err: errText(err) }, 'fill recovery failed'));
    }
    const listed = new Set<string>();
    const orphans: { a: number; o: number }[] = [];
    for (const o of open) {
      const k = orders.find(o.cloid, o.oid);
      // One we settled as gone that rests after all (a request that arrived after orderStatus said it never
      // did): nothing of ours may rest unaccounted for. Only if it ended before the listing was asked for: one
      // canceled or filled since (our cancel's update arriving while the sweep waited for its answers) is
      // listed as it was, not resting unaccounted for.
      const settledGone =
        k !== undefined &&
        TERMINAL.has(k.state) &&
        k.sentAt < sweepStart - 50 &&
        (k.endedAt === undefined || k.endedAt < sweepStart);
      if (!k || settledGone) {
        // Another trader's (or a manual) order on the same account is not ours to cancel.
        if (!k && !inScope(o.cloid, this.deps.ownPrefix)) continue;
        const r = ctx.assets.get(o.coin);
        if (r && ctx.isRunning()) orphans.push({ a: r.asset, o: o.oid });
        continue;
      }
      listed.add(k.cloid);
      if (k.state === 'pending' || k.uncertain)
        orders.report(k, 'open', { oid: o.oid, px: Number(o.limitPx), sz: Number(o.sz) });
    }
    for (const k of orders.all()) {
      if (TERMINAL.has(k.state) || listed.has(k.cloid)) continue;
      // Skip orders sent after the listing was taken or still waiting for their answer.
      if (
        k.sentAt >= sweepStart - 50 ||
        (k.state === 'pending' && !k.uncertain && this.deps.isQueuedOrInFlight(k.cloid))
      ) {
        continue;
      }
      applyOrderStatus(
        ctx,
        k,
        await queryOrderStatus(ctx, k.cloid),
        'never reached the exchange (unknown cloid)',
      );
    }
    if (orphans.length > 0) {
      ctx.log.warn({ n: orphans.length }, 'canceling resting orders this session does not know');
      ctx.stats.orphansCanceled += orphans.length;
      await waitForActionBudget(ctx, orphans.length, true);
      ctx.budget.consume(orphans.length, true, ctx.clock.now());
      await ctx.exchange.cancel({ cancels: orphans }).catch(() => {});
    }
    const accountValue = Number(ch.marginSummary.accountValue);
    const marginUsed = Number(ch.marginSummary.totalMarginUsed);
    const snaps: ExchangeSnapshot[] = [];
    for (const coin of this.deps.tradedCoins()) {
      const p = ch.assetPositions.find((x) => x.position.coin === coin)?.position;
      const snap: ExchangeSnapshot = {
        coin,
        position: p ? Number(p.szi) : 0,
        entryPx: p?.entryPx ? Number(p.entryPx) : Number.NaN,
        accountValue,
        marginUsed,
        openOrders: open
          .filter((o) => o.coin === coin)
          .map((o) => ({
            cloid: o.cloid,
            oid: o.oid,
            side: o.side === 'B' ? ('bid' as const) : ('ask' as const),
            px: Number(o.limitPx),
            sz: Number(o.sz),
          })),
        time: ch.time,
      };
      snaps.push(snap);
      this.deps.onSnapshot(snap);
    }
    return snaps;
  }
}
