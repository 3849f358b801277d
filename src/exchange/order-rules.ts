/**
 * Order validation as Hyperliquid does it, with Hyperliquid's own error strings (clients match on them).
 * Prices: either multiples of a configured tick (simulated instruments) or Hyperliquid's rule
 * (≤ 5 significant figures and ≤ 6 − szDecimals decimals; see src/venue/hyperliquid/rules.ts).
 */
import { MIN_NOTIONAL_USD, priceDecimals } from '../venue/hyperliquid/rules.ts';

export interface OrderRulesConfig {
  /** Index of the asset in Hyperliquid's universe; appears in error strings as `asset=N`. */
  asset: number;
  szDecimals: number;
  /** When set, prices must be multiples of this tick; otherwise Hyperliquid's significant-figure rule. */
  tick?: number;
  /** Minimum order value in USD (Hyperliquid: $10). */
  minNotional?: number;
}

export const HL_ERRORS = {
  badAloPx: (bid: string, ask: string, asset: number) =>
    `Post only order would have immediately matched, bbo was ${bid}@${ask}. asset=${asset}`,
  tick: (asset: number) => `Price must be divisible by tick size. asset=${asset}`,
  minNotional: (asset: number, min: number) => `Order must have minimum value of $${min}. asset=${asset}`,
  invalidSize: () => 'Order has invalid size.',
  invalidPrice: () => 'Order has invalid price.',
  iocCancel: (asset: number) =>
    `Order could not immediately match against any resting orders. asset=${asset}`,
  reduceOnly: (asset: number) => `Reduce only order would increase position. asset=${asset}`,
  cancelMissing: () => 'Order was never placed, already canceled, or filled.',
  modifyMissing: () => 'Cannot modify canceled or filled order',
} as const;

/** Is x an integer multiple of step (up to floating-point noise)? */
export function isMultiple(x: number, step: number): boolean {
  const r = x / step;
  return Math.abs(r - Math.round(r)) < 1e-6;
}

/** Price as Hyperliquid prints it ("3350.1", "3350"). */
export function fmtPx(px: number): string {
  if (!Number.isFinite(px)) return String(px);
  return String(Number(px.toPrecision(12)));
}

/** The first rule an order breaks (Hyperliquid's error string), or undefined when it is valid. */
export function validateOrder(px: number, sz: number, cfg: OrderRulesConfig): string | undefined {
  if (!(px > 0) || !Number.isFinite(px)) return HL_ERRORS.invalidPrice();
  if (!(sz > 0) || !Number.isFinite(sz) || !isMultiple(sz, 10 ** -cfg.szDecimals))
    return HL_ERRORS.invalidSize();
  if (cfg.tick !== undefined) {
    if (!isMultiple(px, cfg.tick)) return HL_ERRORS.tick(cfg.asset);
  } else if (!Number.isInteger(px) && !isMultiple(px, 10 ** -priceDecimals(px, cfg.szDecimals))) {
    return HL_ERRORS.tick(cfg.asset);
  }
  const min = cfg.minNotional ?? MIN_NOTIONAL_USD;
  if (px * sz < min - 1e-9) return HL_ERRORS.minNotional(cfg.asset, min);
  return undefined;
}
