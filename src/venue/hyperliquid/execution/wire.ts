/**
 * Hyperliquid's wire shapes for execution: the order as the exchange action carries it (prices rounded to the
 * exchange grid toward the passive side, sizes down to szDecimals, under-$10 orders refused locally), the
 * exchange's order statuses mapped onto ours, and the messages of the orderUpdates / userFills streams.
 */
import type { OrderSide, OrderState } from '../../../engine/types.ts';
import {
  type AssetRules,
  meetsMinNotional,
  priceDecimals,
  roundPricePassive,
  roundSizeDown,
  toWire,
} from '../../../exchange/order-rules.ts';

/** One order of an `order` or `batchModify` action. */
export interface WireOrder {
  a: number;
  b: boolean;
  p: string;
  s: string;
  r: boolean;
  t: { limit: { tif: 'Alo' | 'Gtc' | 'Ioc' } };
  c: `0x${string}`;
}

/** One element of the orderUpdates stream. */
export interface WireOrderUpdate {
  order: { coin: string; side: 'B' | 'A'; limitPx: string; sz: string; oid: number; cloid?: string };
  status: string;
  statusTimestamp: number;
}

/** One fill of the userFills stream. */
export interface WireFill {
  coin: string;
  px: string;
  sz: string;
  side: 'B' | 'A';
  time: number;
  oid: number;
  crossed: boolean;
  fee: string;
  tid: number;
  cloid?: string;
}

/** Map Hyperliquid order statuses to ours. */
export function mapOrderStatus(status: string): OrderState {
  if (status === 'open') return 'open';
  if (status === 'filled') return 'filled';
  if (status === 'triggered') return 'open';
  if (status.endsWith('Rejected') || status === 'rejected') return 'rejected';
  return 'canceled';
}

/** Format one order for the wire (passive rounding); returns an error text when it cannot be sent. */
export function formatOrder(
  req: {
    side: OrderSide;
    px: number;
    sz: number;
    tif: 'Alo' | 'Gtc' | 'Ioc';
    cloid: string;
    reduceOnly?: boolean;
  },
  rules: AssetRules,
): { wire: WireOrder; px: number; sz: number } | { error: string } {
  if (!(req.px > 0) || !Number.isFinite(req.px)) return { error: `invalid price ${req.px}` };
  const px = roundPricePassive(req.px, rules.szDecimals, req.side);
  const sz = roundSizeDown(req.sz, rules.szDecimals);
  if (!(sz > 0)) return { error: `size ${req.sz} rounds to 0 at szDecimals ${rules.szDecimals}` };
  if (!meetsMinNotional(px, sz)) {
    return { error: `Order must have minimum value of $10 (px ${px} × sz ${sz} = $${(px * sz).toFixed(2)})` };
  }
  return {
    px,
    sz,
    wire: {
      a: rules.asset,
      b: req.side === 'bid',
      p: toWire(px, priceDecimals(px, rules.szDecimals)),
      s: toWire(sz, rules.szDecimals),
      r: req.reduceOnly ?? false,
      t: { limit: { tif: req.tif } },
      c: req.cloid as `0x${string}`,
    },
  };
}
