/**
 * Hyperliquid perpetuals price and size rules (docs: "Tick and lot size"):
 * - prices have at most 5 significant figures and at most (6 − szDecimals) decimals;
 *   integer prices are always allowed whatever their number of significant figures;
 * - sizes are multiples of 10^−szDecimals;
 * - an order's notional must be at least $10.
 * Rounding is always toward the passive side: bids down, asks up, so a quote never becomes more aggressive.
 */

export const MAX_PERP_DECIMALS = 6;
export const MAX_SIG_FIGS = 5;
export const MIN_NOTIONAL_USD = 10;

export interface AssetRules {
  coin: string;
  /** Index of the asset in `meta.universe` (the `a` field of orders). */
  asset: number;
  szDecimals: number;
  maxLeverage?: number;
}

/** Number of decimals allowed for a price of this magnitude. */
export function priceDecimals(px: number, szDecimals: number): number {
  const maxDec = Math.max(0, MAX_PERP_DECIMALS - szDecimals);
  if (!(px > 0)) return maxDec;
  const intDigits = Math.floor(Math.log10(px)) + 1;
  // At or above 10^5 only integers are valid (5 sig figs don't reach the decimals; integers are always ok).
  return Math.max(0, Math.min(maxDec, MAX_SIG_FIGS - intDigits));
}

/** Smallest valid price increment at this price level. */
export function priceTick(px: number, szDecimals: number): number {
  return 10 ** -priceDecimals(px, szDecimals);
}

/** Round a price to a valid Hyperliquid price toward the passive side ('bid' → down, 'ask' → up). */
export function roundPricePassive(px: number, szDecimals: number, side: 'bid' | 'ask'): number {
  const dec = priceDecimals(px, szDecimals);
  const f = 10 ** dec;
  // The small epsilon keeps already-valid prices (e.g. 3350.1 stored as 3350.0999999) where they are.
  const scaled = px * f;
  const r = side === 'bid' ? Math.floor(scaled + 1e-9) : Math.ceil(scaled - 1e-9);
  const out = r / f;
  // Crossing a power of ten can change the allowed decimals; re-check once.
  const dec2 = priceDecimals(out, szDecimals);
  if (dec2 < dec) return roundPricePassive(out, szDecimals, side);
  return Number(out.toFixed(dec));
}

/** Round a size down to the lot (10^−szDecimals). */
export function roundSizeDown(sz: number, szDecimals: number): number {
  const f = 10 ** szDecimals;
  return Number((Math.floor(sz * f + 1e-9) / f).toFixed(szDecimals));
}

/** Canonical wire string for a price or size (no trailing zeros, as the exchange hashes it). */
export function toWire(x: number, decimals: number): string {
  const s = x.toFixed(decimals);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

export function meetsMinNotional(px: number, sz: number): boolean {
  return px * sz >= MIN_NOTIONAL_USD - 1e-9;
}
