/**
 * `userFees` of the loopback server: Hyperliquid's published fee schedule (perps and spot VIP tiers by 14-day
 * volume, maker-rebate tiers by maker share, staking discounts; docs "Fees"), the account's own rates — the
 * base tier unless the account is configured otherwise (a negative maker rate is a rebate) — and its daily
 * volumes (today and the 14 days before, as the exchange reports them). The rates reported are the ones the
 * matching charges on that account's fills. Tiers do not move by themselves with the account's volume.
 */
import type { UserFeesResponse } from '@nktkas/hyperliquid/api/info';
import type { FeeSchedule } from '../../exchange/fees.ts';
import { decimal } from './wire.ts';

const DAY_MS = 86_400_000;

/** Perps VIP tiers: [14-day volume cutoff, taker, maker, spot taker, spot maker]. */
const VIP_TIERS: readonly [number, number, number, number, number][] = [
  [5_000_000, 0.0004, 0.00012, 0.0006, 0.0003],
  [25_000_000, 0.00035, 0.00008, 0.0005, 0.0002],
  [100_000_000, 0.0003, 0.00004, 0.0004, 0.0001],
  [500_000_000, 0.00028, 0, 0.00035, 0],
  [2_000_000_000, 0.00026, 0, 0.0003, 0],
  [7_000_000_000, 0.00024, 0, 0.00025, 0],
];
/** Maker rebates by share of the exchange's 14-day maker volume. */
const MM_TIERS: readonly [number, number][] = [
  [0.005, -0.00001],
  [0.015, -0.00002],
  [0.03, -0.00003],
];
/** Staking discounts by HYPE staked, as basis points of max supply (10 HYPE of 1B = 0.0001 bps). */
const STAKING_TIERS: readonly [number, number][] = [
  [0, 0],
  [0.0001, 0.05],
  [0.001, 0.1],
  [0.01, 0.15],
  [0.1, 0.2],
  [1, 0.3],
  [5, 0.4],
];
const BASE = { cross: 0.00045, add: 0.00015, spotCross: 0.0007, spotAdd: 0.0004 };

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
  // Spot rates follow the perps tier the account's rates match; otherwise the base tier's.
  const tier = VIP_TIERS.find((t) => t[1] === args.fees.taker && t[2] === args.fees.maker);
  return {
    dailyUserVlm,
    feeSchedule: {
      cross: dec(BASE.cross),
      add: dec(BASE.add),
      spotCross: dec(BASE.spotCross),
      spotAdd: dec(BASE.spotAdd),
      tiers: {
        vip: VIP_TIERS.map(([ntl, cross, add, spotCross, spotAdd]) => ({
          ntlCutoff: dec(ntl),
          cross: dec(cross),
          add: dec(add),
          spotCross: dec(spotCross),
          spotAdd: dec(spotAdd),
        })),
        mm: MM_TIERS.map(([cut, add]) => ({ makerFractionCutoff: dec(cut), add: dec(add) })),
      },
      referralDiscount: dec(0.04),
      stakingDiscountTiers: STAKING_TIERS.map(([bps, discount]) => ({
        bpsOfMaxSupply: dec(bps),
        discount: dec(discount),
      })),
    },
    userCrossRate: dec(args.fees.taker),
    userAddRate: dec(args.fees.maker),
    userSpotCrossRate: dec(tier ? tier[3] : BASE.spotCross),
    userSpotAddRate: dec(tier ? tier[4] : BASE.spotAdd),
    activeReferralDiscount: dec(0),
    trial: null,
    feeTrialEscrow: dec(0),
    nextTrialAvailableTimestamp: null,
    stakingLink: null,
    activeStakingDiscount: { bpsOfMaxSupply: dec(0), discount: dec(0) },
  };
}
