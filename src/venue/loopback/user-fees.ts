/**
 * `userFees` of the loopback server: Hyperliquid's published fee schedule (perps and spot VIP tiers by 14-day
 * volume, maker-rebate tiers by maker share, staking discounts; docs "Fees"), the account's own rates — the
 * base tier unless the account is configured otherwise (a negative maker rate is a rebate) — and its daily
 * volumes (today and the 14 days before, as the exchange reports them). The rates reported are the ones the
 * matching charges on that account's fills. Tiers do not move by themselves with the account's volume.
 */
import type { UserFeesResponse } from '@nktkas/hyperliquid/api/info';
import {
  type FeeSchedule,
  MAKER_REBATE_TIERS,
  PERP_VOLUME_TIERS,
  STAKING_DISCOUNTS,
} from '../../exchange/fees.ts';
import { decimal } from './wire.ts';

const DAY_MS = 86_400_000;

/** Spot rates [taker, maker] of each perps volume tier 0–6 (docs "Fees"; perps rates: src/exchange/fees.ts). */
const SPOT_BY_TIER: readonly [number, number][] = [
  [0.0007, 0.0004],
  [0.0006, 0.0003],
  [0.0005, 0.0002],
  [0.0004, 0.0001],
  [0.00035, 0],
  [0.0003, 0],
  [0.00025, 0],
];
/** Staking discounts by HYPE staked, as basis points of the 1B max supply (10 HYPE = 0.0001 bps). */
const STAKING_TIERS = Object.values(STAKING_DISCOUNTS).map((d) => [d.minStaked / 1e5, d.discount] as const);
const BASE = {
  cross: PERP_VOLUME_TIERS[0].taker,
  add: PERP_VOLUME_TIERS[0].maker,
  spotCross: SPOT_BY_TIER[0][0],
  spotAdd: SPOT_BY_TIER[0][1],
};

const dec = decimal;

/** Per-day volumes of one account, keyed by UTC day number. */
export interface DailyVolume {
  /** Taker notional. */
  cross: number;
  /** Maker notional. */
  add: number;
}

export function dayNumber(t: number): number {
  return Math.floor(t / DAY_MS);
}

export function userFeesResponse(args: {
  fees: FeeSchedule;
  now: number;
  userDaily: Map<number, DailyVolume>;
  exchangeDaily: Map<number, number>;
}): UserFeesResponse {
  const today = dayNumber(args.now);
  const dailyUserVlm: UserFeesResponse['dailyUserVlm'] = [];
  for (let d = today - 14; d <= today; d++) {
    const u = args.userDaily.get(d);
    dailyUserVlm.push({
      date: new Date(d * DAY_MS).toISOString().slice(0, 10),
      userCross: dec(u?.cross ?? 0),
      userAdd: dec(u?.add ?? 0),
      exchange: dec(args.exchangeDaily.get(d) ?? 0),
    });
  }
  // Spot rates follow the perps volume tier whose taker rate the account pays; otherwise the base tier's.
  const tier = PERP_VOLUME_TIERS.find((t) => t.taker === args.fees.taker);
  const spot = SPOT_BY_TIER[tier?.tier ?? 0];
  return {
    dailyUserVlm,
    feeSchedule: {
      cross: dec(BASE.cross),
      add: dec(BASE.add),
      spotCross: dec(BASE.spotCross),
      spotAdd: dec(BASE.spotAdd),
      tiers: {
        vip: PERP_VOLUME_TIERS.slice(1).map((t) => ({
          ntlCutoff: dec(t.minVolume14d),
          cross: dec(t.taker),
          add: dec(t.maker),
          spotCross: dec(SPOT_BY_TIER[t.tier][0]),
          spotAdd: dec(SPOT_BY_TIER[t.tier][1]),
        })),
        mm: MAKER_REBATE_TIERS.map((t) => ({ makerFractionCutoff: dec(t.minMakerShare), add: dec(t.maker) })),
      },
      referralDiscount: dec(0.04),
      stakingDiscountTiers: STAKING_TIERS.map(([bps, discount]) => ({
        bpsOfMaxSupply: dec(bps),
        discount: dec(discount),
      })),
    },
    userCrossRate: dec(args.fees.taker),
    userAddRate: dec(args.fees.maker),
    userSpotCrossRate: dec(spot[0]),
    userSpotAddRate: dec(spot[1]),
    activeReferralDiscount: dec(0),
    trial: null,
    feeTrialEscrow: dec(0),
    nextTrialAvailableTimestamp: null,
    stakingLink: null,
    activeStakingDiscount: { bpsOfMaxSupply: dec(0), discount: dec(0) },
  };
}
