/** All four strategies on the real ETH recording (../shared/data): finite metrics and accounting invariants. */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { type BacktestResult, runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../../src/backtest/setup.ts';
import { buildTape, type Tape } from '../../src/backtest/tape.ts';
import { resultJson } from '../../src/cli/commands/backtest.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

describe('backtest on the recorded ETH data', { skip: sharedSkip }, () => {
  let tape: Tape;
  let instrument: InstrumentSpec;
  const results = new Map<string, BacktestResult>();
  const run = (name: 'cj' | 'fixed' | 'as' | 'glft', queue: 'conservative' | 'prob' = 'conservative') => {
    const b = buildStrategy(name, undefined, instrument);
    return runBacktest({
      tape,
      instrument,
      strategy: b.strategy,
      orderManager: b.orderManager,
      risk: b.risk,
      boundLots: b.boundLots,
      queue,
      latency: 50,
    });
  };

  before(async () => {
    const data = await readSource(SEED_ETH, { coin: 'ETH' });
    tape = buildTape(data.events, data.gaps, { coin: 'ETH' });
    instrument = instrumentFromData('ETH', data.events, { lotSize: 0.01 });
  });

  test('the instrument inferred from the data is ETH on Hyperliquid', () => {
    assert.equal(instrument.tick, 0.1);
    assert.equal(instrument.szDecimals, 4);
    // Feed delays of this collector are ~0.6–1.3 s; the offset is the smallest one.
    assert.ok(tape.clockOffsetMs > 300 && tape.clockOffsetMs < 800, String(tape.clockOffsetMs));
    assert.equal(tape.gaps.length >= 1, true);
  });

  for (const name of ['fixed', 'cj', 'as', 'glft'] as const) {
    test(`${name}: runs, with finite metrics that add up`, () => {
      const r = run(name);
      results.set(name, r);
      const m = r.metrics;
      for (const [k, v] of Object.entries({
        netPnl: m.netPnl,
        spread: m.grossSpreadCapture,
        fees: m.fees,
        sharpe: m.sharpe,
        dd: m.maxDrawdown,
        invMean: m.inventory.mean,
        invStd: m.inventory.std,
      }))
        assert.ok(Number.isFinite(v), `${name} ${k} = ${v}`);
      assert.ok(m.fills > 0, `${name} never filled`);
      assert.equal(m.fills, r.venue.fills);
      // Post-only quoting never takes: every fill is a maker fill, at the maker fee.
      assert.equal(m.takerFills, 0);
      assert.ok(Math.abs(m.fees - 0.00015 * m.notional) < 1e-9 * Math.max(1, m.notional));
      // Risk counts in-flight orders: the position never exceeds the strategy's bound.
      assert.ok(m.inventory.max <= 10 + 1e-9, `${name} inventory max ${m.inventory.max}`);
      for (const u of [m.quoteUptime.both, m.quoteUptime.bid, m.quoteUptime.ask]) assert.ok(u >= 0 && u <= 1);
      assert.ok(m.quoteUptime.both <= Math.min(m.quoteUptime.bid, m.quoteUptime.ask) + 1e-12);
      // The engine's portfolio agrees with the exchange-side books up to fills still in flight at the end.
      assert.ok(r.engine.fills <= m.fills && r.engine.fills >= m.fills - 2);
      if (r.engine.fills === m.fills) assert.ok(Math.abs(r.engine.netPnl - m.netPnl) < 1e-6);
      assert.equal(m.markouts.length, 3);
      assert.ok(m.markouts[0].n > 0);
      // P&L attribution: the five terms sum to net P&L; with the mid as reference the spread term is the
      // gross spread capture; fees are the fees paid, negated; no hour boundary in this recording: no funding.
      const a = m.pnlAttribution;
      const sum = a.spreadCapture + a.adverseSelection + a.inventoryCarry + a.fees + a.funding;
      assert.ok(Math.abs(sum - m.netPnl) < 1e-9, `${name}: attribution sums to ${sum}, net ${m.netPnl}`);
      assert.ok(Math.abs(a.spreadCapture - m.grossSpreadCapture) < 1e-12);
      assert.ok(Math.abs(a.fees + m.fees) < 1e-12);
      assert.equal(a.funding, 0);
      // Break-even maker fee: all fills are maker fills, so net + fees = f* · notional.
      assert.ok(m.breakEvenMakerFee !== null);
      assert.ok(
        Math.abs(m.breakEvenMakerFee * m.notional - (m.netPnl + m.fees)) < 1e-9,
        `${name}: break-even ${m.breakEvenMakerFee}`,
      );
      assert.equal(m.spreadBoundBinding, null);
    });
  }

  test('the probabilistic queue model fills at least as often as the conservative one (fixed)', () => {
    const cons = results.get('fixed') ?? run('fixed');
    const prob = run('fixed', 'prob');
    assert.ok(
      prob.metrics.fills >= cons.metrics.fills * 0.9,
      `${prob.metrics.fills} vs ${cons.metrics.fills}`,
    );
  });

  test('a reference other than the mid plugs in: the identity holds, the split moves', () => {
    // The size-weighted mid, as a stand-in for any reference model (e.g. a micro-price estimator).
    const weighted = {
      name: 'size-weighted-mid',
      price: (t: { bidPx: number; bidSz: number; askPx: number; askSz: number }) =>
        t.bidSz + t.askSz > 0
          ? (t.bidPx * t.askSz + t.askPx * t.bidSz) / (t.bidSz + t.askSz)
          : 0.5 * (t.bidPx + t.askPx),
    };
    const b = buildStrategy('fixed', undefined, instrument);
    const r = runBacktest({
      tape,
      instrument,
      strategy: b.strategy,
      orderManager: b.orderManager,
      risk: b.risk,
      boundLots: b.boundLots,
      latency: 50,
      reference: weighted,
    });
    const base = results.get('fixed') ?? run('fixed');
    const m = r.metrics;
    const a = m.pnlAttribution;
    // The reference changes the attribution only, never the trading.
    assert.equal(m.netPnl, base.metrics.netPnl);
    assert.equal(m.fills, base.metrics.fills);
    assert.equal(r.settings.attribution.reference, 'size-weighted-mid');
    const sum = a.spreadCapture + a.adverseSelection + a.inventoryCarry + a.fees + a.funding;
    assert.ok(Math.abs(sum - m.netPnl) < 1e-9);
    assert.notEqual(a.spreadCapture, base.metrics.pnlAttribution.spreadCapture);
  });

  test('same inputs give byte-identical JSON', () => {
    const a = resultJson(run('fixed'));
    const b = resultJson(run('fixed'));
    assert.equal(a, b);
  });
});
