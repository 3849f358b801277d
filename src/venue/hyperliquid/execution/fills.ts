/**
 * Our fills, each counted once. The userFills stream re-sends a snapshot on every (re)connect; fills are
 * de-duplicated by (tid, cloid), and also against the journal (`isKnownFill`) so a restart does not count them
 * again. The first snapshot is the history before this session (the start-up sweep's position includes it); a
 * later snapshot may hold fills missed while disconnected, and those count.
 *
 * Fills found another way (e.g. a userFillsByTime query to recover what a downtime missed) go through
 * `onWireFills` too: the de-duplication is the same.
 */
import type { Fill } from '../../../engine/types.ts';
import { roundSizeDown } from '../../../exchange/order-rules.ts';
import type { ExecutionContext } from './context.ts';
import type { WireFill } from './wire.ts';

export class FillLedger {
  private readonly ctx: ExecutionContext;
  private readonly isKnownFill: ((tid: number, cloid: string) => boolean) | undefined;
  private readonly emit: (f: Fill) => void;
  private readonly seen = new Set<string>();
  /** Set once the first userFills snapshot (history before this session) has been absorbed. */
  private baselineDone = false;

  constructor(
    ctx: ExecutionContext,
    isKnownFill: ((tid: number, cloid: string) => boolean) | undefined,
    emit: (f: Fill) => void,
  ) {
    this.ctx = ctx;
    this.isKnownFill = isKnownFill;
    this.emit = emit;
  }

  /** One userFills message. */
  onWireFills(fills: WireFill[], isSnapshot: boolean): void {
    const { ctx } = this;
    const baseline = isSnapshot && !this.baselineDone;
    this.baselineDone = true;
    for (const f of fills) {
      const cloid = f.cloid ?? ctx.orders.cloidOf(f.oid) ?? `oid:${f.oid}`;
      const key = `${f.tid}:${cloid}`;
      if (this.seen.has(key) || this.isKnownFill?.(f.tid, cloid)) {
        ctx.stats.duplicateFills++;
        this.seen.add(key);
        continue;
      }
      this.seen.add(key);
      // The first snapshot lists fills from before this session: the start-up sweep's position includes them.
      // Later snapshots (after a reconnect) may hold fills we missed while disconnected: those count.
      if (baseline) continue;
      if (!ctx.assets.has(f.coin)) continue;
      const px = Number(f.px);
      const sz = Number(f.sz);
      if (!(px > 0) || !(sz > 0)) continue;
      ctx.stats.fills++;
      ctx.budget.creditTraded(px * sz);
      const k = ctx.orders.get(cloid);
      const fill: Fill = {
        kind: 'fill',
        cloid,
        oid: f.oid,
        coin: f.coin,
        side: f.side === 'B' ? 'bid' : 'ask',
        px,
        sz,
        fee: Number(f.fee) || 0,
        liquidity: f.crossed ? 'taker' : 'maker',
        tid: f.tid,
        exTime: f.time,
        rxTime: ctx.clock.now(),
      };
      if (k && k.state === 'open') k.sz = Math.max(0, roundSizeDown(k.sz - sz, ctx.rules(k.coin).szDecimals));
      this.emit(fill);
    }
  }
}
