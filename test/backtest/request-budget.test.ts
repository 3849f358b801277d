/**
 * Request-budget metrics on the real ETH recording: `metrics.requestsPerHour` and `metrics.requestsPerUsdTraded`
 * (places + modifies + cancels, one per order, per hour of data and per USDC traded), checked against the
 * venue's own request counts; a wider requote tolerance spends fewer requests.
 */
import assert from 'node:assert/strict';
import { before, describe, test } from 'node:test';
import { runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../../src/backtest/setup.ts';
import { buildTape, type Tape } from '../../src/backtest/tape.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

describe('request budget in backtests', { skip: sharedSkip }, () => {
  let tape: Tape;
  let instrument: InstrumentSpec;
  const run = (priceToleranceTicks: number) => {
    const b = buildStrategy('cj', { priceToleranceTicks }, instrument);
    return runBacktest({
      tape,
      instrument,
      strategy: b.strategy,
      orderManager: b.orderManager,
      risk: b.risk,
      boundLots: b.boundLots,
      queue: 'conservative',
      latency: 50,
    });
  };

  before(async () => {
    const data = await readSource(SEED_ETH, { coin: 'ETH' });
    tape = buildTape(data.events, data.gaps, { coin: 'ETH' });
    instrument = instrumentFromData('ETH', data.events, { lotSize: 0.01 });
  });

  test('requestsPerHour and requestsPerUsdTraded = the venue’s requests over the data time and the volume', () => {
    const r = run(1);
    const m = r.metrics;
    const requests = r.venue.placeRequests + r.venue.modifyRequests + r.venue.cancelRequests;
    assert.ok(requests > 100 && m.notional > 0);
    assert.ok(Math.abs(m.requestsPerHour - (requests * 3600) / m.durationSec) < 1e-9 * requests);
    assert.ok(m.requestsPerUsdTraded !== null);
    assert.ok(Math.abs(m.requestsPerUsdTraded - requests / m.notional) < 1e-12 * requests);
    const json = JSON.parse(JSON.stringify(m)) as Record<string, unknown>;
    assert.ok('requestsPerHour' in json && 'requestsPerUsdTraded' in json, 'exact JSON keys');
  });

  test('a requote tolerance of 4 ticks spends fewer requests per hour and per USDC than 1 tick', () => {
    const tight = run(1).metrics;
    const loose = run(4).metrics;
    assert.ok(
      loose.requestsPerHour < tight.requestsPerHour,
      `${loose.requestsPerHour} vs ${tight.requestsPerHour}`,
    );
    assert.ok(
      (loose.requestsPerUsdTraded ?? Infinity) < (tight.requestsPerUsdTraded ?? Infinity),
      `${loose.requestsPerUsdTraded} vs ${tight.requestsPerUsdTraded}`,
    );
    console.log(
      `cj on ETH: tolerance 1 → ${tight.requestsPerHour.toFixed(0)}/h, ${tight.requestsPerUsdTraded?.toFixed(3)}/USDC; ` +
        `tolerance 4 → ${loose.requestsPerHour.toFixed(0)}/h, ${loose.requestsPerUsdTraded?.toFixed(3)}/USDC`,
    );
  });
});
