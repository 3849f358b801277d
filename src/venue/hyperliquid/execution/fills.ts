/**
 * Our fills, each counted once. The userFills stream re-sends a snapshot on every (re)connect; fills are
 * de-duplicated by (tid, cloid), and also against the journal (`isKnownFill`: same venue trade id for the same
 * order, by cloid or oid) so a restart does not count them again. The first snapshot is the history before this
 * session (the start-up reconciliation journals what of it the journal lacks); a later snapshot may hold fills
 * missed while disconnected, and those count.
 *
 * Fills found by the periodic userFillsByTime recovery (./fill-history.ts) go through `onRecoveredFills`: the
 * de-duplication is the same. A fill without a cloid is mapped to its order by oid (this process's orders, then
 * the journal's).
 */
import type { Fill } from '../../../engine/types.ts';
import { roundSizeDown } from '../../../exchange/order-rules.ts';
import type { ExecutionContext } from './context.ts';
import type { WireFill } from './wire.ts';

export class FillLedger {
  private readonly ctx: ExecutionContext;
  private readonly isKnownFill: ((tid: number, cloid: string, oid: number) => boolean) | undefined;
  private readonly cloidOfOid: ((oid: number) => string | undefined) | undefined;
  private readonly emit: (f: Fill) => void;
  private readonly seen = new Set<string>();
  /** Set once the first userFills snapshot (history before this session) has been absorbed. */
  private baselineDone = false;

  constructor(
    ctx: ExecutionContext,
    isKnownFill: ((tid: number, cloid: string, oid: number) => boolean) | undefined,
    emit: (f: Fill) => void,
    cloidOfOid?: (oid: number) => string | undefined,
  ) {
    this.ctx = ctx;
    this.isKnownFill = isKnownFill;
    this.emit = emit;
    this.cloidOfOid = cloidOfOid;
  }

  /** The cloid of a fill's order: the fill's own, else by oid (ours, then the journal's), else `oid:<oid>`. */
  cloidOf(f: WireFill): string {
    return f.cloid ?? this.ctx.orders.cloidOf(f.oid) ?? this.cloidOfOid?.(f.oid) ?? `oid:${f.oid}`;
  }

  /** Fills found by a userFillsByTime recovery: every one this process and the journal lack counts. */
  onRecoveredFills(fills: WireFill[]): number {
    let n = 0;
    for (const f of fills) if (this.take(f, false)) n++;
    return n;
  }

  /** One userFills message. */
  onWireFills(fills: WireFill[], isSnapshot: boolean): void {
    const baseline = isSnapshot && !this.baselineDone;
    this.baselineDone = true;
    for (const f of fills) this.take(f, baseline);
  }

  /** Emit one fill unless already seen; `absorb` only marks it seen. Returns whether it was emitted. */
  private take(f: WireFill, absorb: boolean): boolean {
    const { ctx } = this;
    const cloid = this.cloidOf(f);
    const key = `${f.tid}:${cloid}`;
    if (this.seen.has(key) || this.isKnownFill?.(f.tid, cloid, f.oid)) {
      ctx.stats.duplicateFills++;
      this.seen.add(key);
      return false;
    }
    this.seen.add(key);
    // The first snapshot lists fills from before this session: the start-up reconciliation journals them.
    // Later snapshots (after a reconnect) may hold fills we missed while disconnected: those count.
    if (absorb) return false;
    if (!ctx.assets.has(f.coin)) return false;
    const px = Number(f.px);
    const sz = Number(f.sz);
    if (!(px > 0) || !(sz > 0)) return false;
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
    return true;
  }
}
