/**
 * Trading fees of the simulated exchange. Hyperliquid's base tier (lowest volume) charges makers 0.015% and
 * takers 0.045% of notional; both are configurable (a negative maker fee is a rebate).
 */

export interface FeeSchedule {
  /** Fraction of notional charged to the passive side (0.00015 = 0.015%). */
  maker: number;
  /** Fraction of notional charged to the aggressive side (0.00045 = 0.045%). */
  taker: number;
}

export const HYPERLIQUID_BASE_FEES: Readonly<FeeSchedule> = Object.freeze({ maker: 0.00015, taker: 0.00045 });

/** Fee in USD for one fill (negative = rebate). */
export function feeFor(px: number, sz: number, liquidity: 'maker' | 'taker', fees: FeeSchedule): number {
  return px * sz * (liquidity === 'maker' ? fees.maker : fees.taker);
}

/** Validate a fee schedule; returns an error message naming the field, or undefined when valid. */
export function checkFees(fees: FeeSchedule): string | undefined {
  if (!Number.isFinite(fees.maker) || fees.maker <= -0.01 || fees.maker >= 0.01)
    return `fees.maker must be a fraction of notional in (-0.01, 0.01), e.g. 0.00015; got ${fees.maker}`;
  if (!Number.isFinite(fees.taker) || fees.taker < 0 || fees.taker >= 0.01)
    return `fees.taker must be a fraction of notional in [0, 0.01), e.g. 0.00045; got ${fees.taker}`;
  return undefined;
}
