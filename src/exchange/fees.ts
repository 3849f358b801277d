/**
 * Trading fees. Hyperliquid's base tier (lowest volume) charges makers 0.015% and takers 0.045% of notional;
 * both are configurable (a negative maker fee is a rebate).
 *
 * The published perps schedule (https://hyperliquid.gitbook.io/hyperliquid-docs/trading/fees):
 * - volume tiers by 14-day weighted volume (perps volume + 2 × spot volume, USD), one tier per account;
 * - maker rebate tiers by the account's share of the exchange's 14-day weighted maker volume: the maker fee
 *   becomes a rebate of 0.001% / 0.002% / 0.003%;
 * - HYPE staking discounts of 5–40% on the fees paid (we apply them to taker fees and positive maker fees,
 *   never to a rebate — the docs' staking columns discount the base rates; rebates are listed separately).
 */
import { z } from 'zod';

export interface FeeSchedule {
  /** Fraction of notional charged to the passive side (0.00015 = 0.015%). */
  maker: number;
  /** Fraction of notional charged to the aggressive side (0.00045 = 0.045%). */
  taker: number;
}

export const HYPERLIQUID_BASE_FEES: Readonly<FeeSchedule> = Object.freeze({ maker: 0.00015, taker: 0.00045 });

/** Where the schedule below comes from. */
export const HYPERLIQUID_FEES_URL = 'https://hyperliquid.gitbook.io/hyperliquid-docs/trading/fees';

/** Perps volume tiers: from `minVolume14d` USD of 14-day weighted volume (tier 0: below $5M). */
export const PERP_VOLUME_TIERS: readonly {
  tier: number;
  minVolume14d: number;
  taker: number;
  maker: number;
}[] = Object.freeze([
  { tier: 0, minVolume14d: 0, taker: 0.00045, maker: 0.00015 },
  { tier: 1, minVolume14d: 5e6, taker: 0.0004, maker: 0.00012 },
  { tier: 2, minVolume14d: 25e6, taker: 0.00035, maker: 0.00008 },
  { tier: 3, minVolume14d: 100e6, taker: 0.0003, maker: 0.00004 },
  { tier: 4, minVolume14d: 500e6, taker: 0.00028, maker: 0 },
  { tier: 5, minVolume14d: 2e9, taker: 0.00026, maker: 0 },
  { tier: 6, minVolume14d: 7e9, taker: 0.00024, maker: 0 },
]);

/** Maker rebate tiers: above `minMakerShare` of the exchange's 14-day weighted maker volume. */
export const MAKER_REBATE_TIERS: readonly { tier: number; minMakerShare: number; maker: number }[] =
  Object.freeze([
    { tier: 1, minMakerShare: 0.005, maker: -0.00001 },
    { tier: 2, minMakerShare: 0.015, maker: -0.00002 },
    { tier: 3, minMakerShare: 0.03, maker: -0.00003 },
  ]);

export const STAKING_TIERS = ['none', 'wood', 'bronze', 'silver', 'gold', 'platinum', 'diamond'] as const;
export type StakingTier = (typeof STAKING_TIERS)[number];

/** HYPE staking tiers: more than `minStaked` HYPE staked gives `discount` off the fees paid. */
export const STAKING_DISCOUNTS: Readonly<Record<StakingTier, { minStaked: number; discount: number }>> =
  Object.freeze({
    none: { minStaked: 0, discount: 0 },
    wood: { minStaked: 10, discount: 0.05 },
    bronze: { minStaked: 100, discount: 0.1 },
    silver: { minStaked: 1_000, discount: 0.15 },
    gold: { minStaked: 10_000, discount: 0.2 },
    platinum: { minStaked: 100_000, discount: 0.3 },
    diamond: { minStaked: 500_000, discount: 0.4 },
  });

/** A position on Hyperliquid's schedule. */
export interface FeeTier {
  /** Volume tier 0–6. */
  tier: number;
  /** Maker rebate tier 1–3 (0 or absent: none). */
  makerRebate?: number;
  staking?: StakingTier;
}

/** Rounds away binary noise (0.00015 × 0.6 → 0.00009): fee rates have at most 10 decimals. */
const clean = (x: number) => Math.round(x * 1e10) / 1e10 + 0;

/** Maker and taker fee of a schedule position. */
export function feesForTier(t: FeeTier): FeeSchedule {
  const v = PERP_VOLUME_TIERS.find((x) => x.tier === t.tier);
  if (!v) throw new RangeError(`fees.tier must be an integer 0–6 (got ${t.tier})`);
  const d = STAKING_DISCOUNTS[t.staking ?? 'none'];
  if (!d) throw new RangeError(`fees.staking must be one of ${STAKING_TIERS.join(', ')} (got ${t.staking})`);
  let maker = clean(v.maker * (1 - d.discount));
  if (t.makerRebate !== undefined && t.makerRebate !== 0) {
    const r = MAKER_REBATE_TIERS.find((x) => x.tier === t.makerRebate);
    if (!r) throw new RangeError(`fees.makerRebate must be 1, 2 or 3 (got ${t.makerRebate})`);
    maker = r.maker;
  }
  return { maker, taker: clean(v.taker * (1 - d.discount)) };
}

/** The volume tier for a 14-day weighted volume in USD. */
export function tierForVolume(volume14dUsd: number): number {
  let tier = 0;
  for (const v of PERP_VOLUME_TIERS) if (volume14dUsd > v.minVolume14d) tier = v.tier;
  return tier;
}

/** The maker rebate tier (0 = none) for a share of the exchange's 14-day weighted maker volume (0.02 = 2%). */
export function rebateTierForMakerShare(share: number): number {
  let tier = 0;
  for (const r of MAKER_REBATE_TIERS) if (share > r.minMakerShare) tier = r.tier;
  return tier;
}

/** A short label: `tier 2`, `tier 0 + maker rebate 3`, `tier 1, gold staking`. */
export function describeFeeTier(t: FeeTier): string {
  let s = `tier ${t.tier}`;
  if (t.makerRebate) s += ` + maker rebate ${t.makerRebate}`;
  if (t.staking && t.staking !== 'none') s += `, ${t.staking} staking`;
  return s;
}

/**
 * Parses `--fee-tier`: comma-separated tokens in any order — a volume tier `0`–`6`, a maker rebate tier
 * `mm1`–`mm3`, a staking tier (`wood` … `diamond`); e.g. `2`, `4,gold`, `6,mm3,diamond`, `mm3` (tier 0 volume).
 */
export function parseFeeTier(spec: string): FeeTier {
  const out: FeeTier = { tier: 0 };
  let seenTier = false;
  const tokens = spec
    .split(',')
    .map((s) => s.trim().toLowerCase())
    .filter((s) => s.length > 0);
  if (tokens.length === 0) throw new RangeError('--fee-tier: empty; e.g. 0, 2, 4,gold or 6,mm3');
  for (const tok of tokens) {
    if (/^[0-6]$/.test(tok) && !seenTier) {
      out.tier = Number(tok);
      seenTier = true;
    } else if (/^mm[1-3]$/.test(tok) && out.makerRebate === undefined) {
      out.makerRebate = Number(tok.slice(2));
    } else if ((STAKING_TIERS as readonly string[]).includes(tok) && out.staking === undefined) {
      out.staking = tok as StakingTier;
    } else {
      throw new RangeError(
        `--fee-tier: cannot read '${tok}' in '${spec}'; use a volume tier 0–6, a maker rebate tier mm1–mm3 and/or a staking tier (${STAKING_TIERS.slice(1).join(', ')}), comma-separated, e.g. 4,gold or 6,mm3`,
      );
    }
  }
  return out;
}

const feeFraction = (example: string) =>
  z.number({ error: `must be a fraction of notional, e.g. ${example}` }).finite('must be finite');

/**
 * The `fees` section of the trading config and of a backtest config: a position on Hyperliquid's schedule
 * (`tier`, `makerRebate`, `staking`) and/or explicit `maker` / `taker` fractions, which win over the tier.
 */
export const FeeConfigSchema = z.strictObject({
  /** Volume tier 0–6 by 14-day weighted volume (default 0, the base tier). */
  tier: z.number({ error: 'must be an integer 0–6' }).int('must be an integer 0–6').min(0).max(6).optional(),
  /** Maker rebate tier 1–3 (by share of the exchange's maker volume); 0 = none. */
  makerRebate: z
    .number({ error: 'must be 0, 1, 2 or 3' })
    .int('must be 0, 1, 2 or 3')
    .min(0, 'must be 0, 1, 2 or 3')
    .max(3, 'must be 0, 1, 2 or 3')
    .optional(),
  /** HYPE staking tier (discount on fees paid). */
  staking: z.enum(STAKING_TIERS, { error: `must be one of ${STAKING_TIERS.join(', ')}` }).optional(),
  /** Explicit maker fee (negative = rebate); overrides the tier. */
  maker: feeFraction('0.00015').gt(-0.01, 'must be > -0.01').lt(0.01, 'must be < 0.01').optional(),
  /** Explicit taker fee; overrides the tier. */
  taker: feeFraction('0.00045').min(0, 'must be ≥ 0').lt(0.01, 'must be < 0.01').optional(),
});
export type FeeConfig = z.infer<typeof FeeConfigSchema>;

/** The fee schedule a `fees` section means: explicit maker/taker, else the tier's (default tier 0). */
export function resolveFeeConfig(c: FeeConfig | undefined): FeeSchedule {
  const t = feesForTier({ tier: c?.tier ?? 0, makerRebate: c?.makerRebate, staking: c?.staking });
  return { maker: c?.maker ?? t.maker, taker: c?.taker ?? t.taker };
}

/** The tier part of a `fees` section (undefined when it names none). */
export function feeTierOf(c: FeeConfig | undefined): FeeTier | undefined {
  if (!c || (c.tier === undefined && !c.makerRebate && (c.staking === undefined || c.staking === 'none')))
    return undefined;
  return { tier: c.tier ?? 0, makerRebate: c.makerRebate || undefined, staking: c.staking };
}

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
