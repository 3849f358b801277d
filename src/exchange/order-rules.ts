/**
 * Hyperliquid's order rules, shared by everything that prices, sends, simulates or checks an order (strategies,
 * the live venue, the backtester's matching, the loopback server). Perpetuals (docs: "Tick and lot size"):
 * - prices have at most 5 significant figures and at most (6 − szDecimals) decimals;
 *   integer prices are always allowed whatever their number of significant figures;
 * - sizes are multiples of 10^−szDecimals;
 * - an order's notional must be at least $10.
 * Rounding is always toward the passive side: bids down, asks up, so a quote never becomes more aggressive.
 * Validation (`validateOrder`) answers as Hyperliquid does, with its own error strings (clients match on them);
 * prices are either multiples of a configured tick (simulated instruments) or Hyperliquid's rule above.
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

// ---------------------------------------------------------------- validation, as the exchange does it

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
  // = String(Number(px.toPrecision(12))). When px's shortest form (String) has at most 12 significant digits it is
  // that already: the nearest 12-digit decimal to px is that form padded with zeros (px lies within 2^−53 of it,
  // far inside half a 12th digit), which parses back to px. Only longer forms (float noise) need the rounding.
  const s = String(px);
  let digits = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 101) break; // 'e': the exponent
    if (c >= 48 && c <= 57 && (digits > 0 || c !== 48)) digits++;
  }
  return digits <= 12 ? s : String(Number(px.toPrecision(12)));
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
