/** Hyperliquid's published perps fee schedule: volume tiers, maker rebates, staking discounts; config forms. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  FeeConfigSchema,
  feesForTier,
  HYPERLIQUID_BASE_FEES,
  parseFeeTier,
  rebateTierForMakerShare,
  resolveFeeConfig,
  tierForVolume,
} from '../../src/exchange/fees.ts';
import { parseTradingConfig } from '../../src/trading/config.ts';

test('the volume tiers as published (taker / maker, fractions of notional)', () => {
  const table: [number, number, number][] = [
    [0, 0.00045, 0.00015],
    [1, 0.0004, 0.00012],
    [2, 0.00035, 0.00008],
    [3, 0.0003, 0.00004],
    [4, 0.00028, 0],
    [5, 0.00026, 0],
    [6, 0.00024, 0],
  ];
  for (const [tier, taker, maker] of table) assert.deepEqual(feesForTier({ tier }), { maker, taker });
  assert.deepEqual(feesForTier({ tier: 0 }), { ...HYPERLIQUID_BASE_FEES });
  assert.throws(() => feesForTier({ tier: 7 }), /fees\.tier must be an integer 0–6/);
});

test('14-day weighted volume → tier (strictly above each threshold), maker share → rebate tier', () => {
  assert.equal(tierForVolume(0), 0);
  assert.equal(tierForVolume(5e6), 0);
  assert.equal(tierForVolume(5e6 + 1), 1);
  assert.equal(tierForVolume(30e6), 2);
  assert.equal(tierForVolume(1e10), 6);
  assert.equal(rebateTierForMakerShare(0.004), 0);
  assert.equal(rebateTierForMakerShare(0.01), 1);
  assert.equal(rebateTierForMakerShare(0.02), 2);
  assert.equal(rebateTierForMakerShare(0.05), 3);
});

test('maker rebates replace the maker fee; staking discounts fees paid, not rebates', () => {
  assert.deepEqual(feesForTier({ tier: 0, makerRebate: 3 }), { maker: -0.00003, taker: 0.00045 });
  assert.deepEqual(feesForTier({ tier: 6, makerRebate: 1 }), { maker: -0.00001, taker: 0.00024 });
  // Diamond (40 % off): base 0.045 % / 0.015 % → 0.027 % / 0.009 %; wood (5 %) on tier 2.
  assert.deepEqual(feesForTier({ tier: 0, staking: 'diamond' }), { maker: 0.00009, taker: 0.00027 });
  assert.deepEqual(feesForTier({ tier: 2, staking: 'wood' }), { maker: 0.000076, taker: 0.0003325 });
  assert.deepEqual(feesForTier({ tier: 4, makerRebate: 2, staking: 'gold' }), {
    maker: -0.00002,
    taker: 0.000224,
  });
});

test('--fee-tier: volume tier, mmN, staking, in any order; errors say what is valid', () => {
  assert.deepEqual(parseFeeTier('2'), { tier: 2 });
  assert.deepEqual(parseFeeTier('gold,4'), { tier: 4, staking: 'gold' });
  assert.deepEqual(parseFeeTier('6, MM3, diamond'), { tier: 6, makerRebate: 3, staking: 'diamond' });
  assert.deepEqual(parseFeeTier('mm2'), { tier: 0, makerRebate: 2 });
  assert.throws(() => parseFeeTier('7'), /--fee-tier: cannot read '7'/);
  assert.throws(() => parseFeeTier('2,3'), /cannot read '3'/);
  assert.throws(() => parseFeeTier('mm4'), /maker rebate tier mm1–mm3/);
  assert.throws(() => parseFeeTier(''), /--fee-tier: empty/);
});

test('the fees config section: tier, rebate, staking; explicit maker/taker win; errors name the field', () => {
  assert.deepEqual(resolveFeeConfig(undefined), { ...HYPERLIQUID_BASE_FEES });
  assert.deepEqual(resolveFeeConfig({ tier: 3 }), { maker: 0.00004, taker: 0.0003 });
  assert.deepEqual(resolveFeeConfig({ tier: 3, maker: 0.0001 }), { maker: 0.0001, taker: 0.0003 });
  assert.equal(FeeConfigSchema.safeParse({ tier: 1.5 }).success, false);
  const base = { coin: 'ETH', orderSize: 0.01 };
  assert.deepEqual(parseTradingConfig({ ...base, fees: { tier: 1, staking: 'silver' } }).fees, {
    tier: 1,
    staking: 'silver',
  });
  assert.throws(() => parseTradingConfig({ ...base, fees: { tier: 9 } }), /fees\.tier: /);
  assert.throws(
    () => parseTradingConfig({ ...base, fees: { staking: 'iron' } }),
    /fees\.staking: must be one of/,
  );
  assert.throws(() => parseTradingConfig({ ...base, fees: { makr: 0 } }), /fees: unknown field\(s\) makr/);
});
