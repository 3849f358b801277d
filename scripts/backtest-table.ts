/**
 * The README's strategy table: each strategy with its defaults on the shared ETH recording, at Hyperliquid's
 * base fee tier and at the best maker rebate tier, with the P&L attribution and the break-even maker fee.
 * Prints markdown rows (real output; nothing edited by hand).
 * Usage: node scripts/backtest-table.ts [--data <path>] [--strategies fixed,cj,as,glft]
 */
import { parseArgs } from 'node:util';
import { runBacktest } from '../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../src/backtest/setup.ts';
import { buildTape } from '../src/backtest/tape.ts';
import { describeFeeTier, type FeeTier, feesForTier } from '../src/exchange/fees.ts';
import { readSource } from '../src/marketdata/source.ts';
import type { StrategyName } from '../src/strategies/index.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/hyperliquid/seed-collector/ETH' },
    strategies: { type: 'string', default: 'fixed,cj,as,glft' },
  },
});
const data = await readSource(values.data, { coin: 'ETH' });
const tape = buildTape(data.events, data.gaps, { coin: 'ETH' });
const tiers: FeeTier[] = [{ tier: 0 }, { tier: 6, makerRebate: 3 }];
const f = (x: number, d = 3) => (x >= 0 ? `+${x.toFixed(d)}` : x.toFixed(d));
console.log(
  '| strategy | fee tier (maker) | net P&L | spread capture | adverse selection (1 s) | inventory carry | fees | funding | break-even maker fee | fills | markout 1s / 5s / 30s (bps) | at bounds |',
);
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|');
for (const name of values.strategies.split(',') as StrategyName[]) {
  for (const t of tiers) {
    const fees = feesForTier(t);
    const instrument = instrumentFromData('ETH', data.events, { fees });
    const b = buildStrategy(name, undefined, instrument);
    const r = runBacktest({
      tape,
      instrument,
      strategy: b.strategy,
      orderManager: b.orderManager,
      risk: b.risk,
      boundLots: b.boundLots,
      latency: 50,
      fees,
    });
    const m = r.metrics;
    const a = m.pnlAttribution;
    const be = m.breakEvenMakerFee === null ? '–' : `${(m.breakEvenMakerFee * 1e4).toFixed(2)} bps`;
    const mk = m.markouts.map((x) => x.meanMidMoveBps.toFixed(2)).join(' / ');
    console.log(
      `| \`${name}\` | ${describeFeeTier(t)} (${(fees.maker * 1e4).toFixed(2)} bps) | ${f(m.netPnl, 2)} | ${f(a.spreadCapture)} | ${f(a.adverseSelection)} | ${f(a.inventoryCarry)} | ${f(a.fees)} | ${f(a.funding)} | ${be} | ${m.fills} | ${mk} | ${m.timeAtBounds ? `${Math.round(m.timeAtBounds.total * 100)} %` : '–'} |`,
    );
  }
}
