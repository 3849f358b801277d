/**
 * Market-order reconstruction: Hyperliquid's trade feed sends one row per maker fill, so the fills of one
 * taker order are grouped by (exchange time, aggressor side, taker address when the feed has it).
 * Counting fills as MOs inflates λ roughly by the fills-per-MO ratio (~3× on ETH).
 */
import type { AggressorSide, TradeEvent } from '../marketdata/events.ts';

export interface MarketOrder {
  exTime: number;
  side: AggressorSide;
  /** Deepest fill price: max for a buy, min for a sell. */
  extremePx: number;
  fills: number;
  size: number;
  taker?: string;
}

/** Taker of a fill: the buyer when the aggressor bought, the seller when it sold. */
export function takerOf(t: TradeEvent): string | undefined {
  return t.side === 'buy' ? t.buyer : t.seller;
}

export function isValidTrade(t: TradeEvent): boolean {
  return (
    Number.isFinite(t.exTime) &&
    Number.isFinite(t.px) &&
    t.px > 0 &&
    Number.isFinite(t.sz) &&
    t.sz > 0 &&
    (t.side === 'buy' || t.side === 'sell')
  );
}

/**
 * Streaming grouper. Fills of one MO share an exchange millisecond, so a group is closed as soon as a fill
 * with a later exchange time arrives (or on `flush`). Closed MOs are handed to `onMo`.
 */
export class MarketOrderGrouper {
  // Groups open in the current exchange millisecond: few, so a linear scan beats a keyed map (no strings).
  // Slots [0, openCount) hold them; the array never shrinks (emptying it by `length = 0` dropped its storage,
  // and the next fill allocated it again: one array per closed millisecond).
  private readonly open: MarketOrder[] = [];
  private openCount = 0;
  private openTime = Number.NEGATIVE_INFINITY;
  private readonly onMo: (mo: MarketOrder) => void;
  /**
   * With `reuse`, closed groups are recycled for later MOs (the objects in the slots past the open ones; one
   * object per MO was a steady stream of garbage on every trade): then `onMo` must copy what it needs and
   * keep no reference to the object.
   */
  private readonly reuse: boolean;

  constructor(onMo: (mo: MarketOrder) => void, opts: { reuse?: boolean } = {}) {
    this.onMo = onMo;
    this.reuse = opts.reuse === true;
  }

  /** The fill must be valid (see isValidTrade). */
  add(t: TradeEvent): void {
    if (t.exTime > this.openTime) {
      this.flush();
      this.openTime = t.exTime;
    }
    const taker = takerOf(t);
    const open = this.open;
    for (let i = 0; i < this.openCount; i++) {
      const g = open[i];
      if (g.exTime === t.exTime && g.side === t.side && g.taker === taker) {
        g.fills++;
        g.size += t.sz;
        g.extremePx = t.side === 'buy' ? Math.max(g.extremePx, t.px) : Math.min(g.extremePx, t.px);
        return;
      }
    }
    const k = this.openCount++;
    if (this.reuse && k < open.length) {
      const g = open[k];
      g.exTime = t.exTime;
      g.side = t.side;
      g.extremePx = t.px;
      g.fills = 1;
      g.size = t.sz;
      g.taker = taker;
      return;
    }
    const g: MarketOrder = { exTime: t.exTime, side: t.side, extremePx: t.px, fills: 1, size: t.sz, taker };
    if (k < open.length) open[k] = g;
    else open.push(g);
  }

  /** Closes every open group (end of data, or before a refresh). */
  flush(): void {
    const n = this.openCount;
    if (n === 0) return;
    for (let i = 0; i < n; i++) this.onMo(this.open[i]);
    this.openCount = 0;
  }

  /** Closes groups older than `exTime` (refresh boundary when no later fill has arrived yet). */
  flushBefore(exTime: number): void {
    if (this.openTime < exTime) this.flush();
  }
}

/** Batch grouping of fills (sorted by exchange time, stable). */
export function groupMarketOrders(trades: TradeEvent[]): MarketOrder[] {
  const out: MarketOrder[] = [];
  const g = new MarketOrderGrouper((mo) => out.push(mo));
  const sorted = trades.filter(isValidTrade).sort((a, b) => a.exTime - b.exTime);
  for (const t of sorted) g.add(t);
  g.flush();
  return out;
}
