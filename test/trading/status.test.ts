/** The status line: the coin's price precision, signed offsets, and why nothing is quoted. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  formatBps,
  formatPrice,
  formatStatusLine,
  quotingField,
  type StatusSnapshot,
} from '../../src/trading/status.ts';

const base: StatusSnapshot = {
  at: Date.UTC(2026, 0, 1, 3, 29, 28),
  mode: 'paper',
  coin: 'WLFI',
  mid: 0.19125,
  bidPx: 0.1912,
  askPx: 0.1913,
  position: 0,
  lots: 0,
  netPnl: 0,
  fills: 0,
  tradingState: 'ACTIVE',
  stale: false,
  quoting: 'quoting',
  szDecimals: 0,
  diagnostics: {},
  uptimeSec: 1,
};

test("prices in the coin's own precision (5 significant figures, 6 − szDecimals decimals)", () => {
  assert.equal(formatPrice(0.1912, 0), '0.19120'); // 5 sig figs allowed: 0.19120 is on the grid
  assert.equal(formatPrice(0.19125, 0), '0.19125');
  assert.equal(formatPrice(3346.1, 4), '3346.1'); // ETH: 1 decimal at this price
  assert.equal(formatPrice(3346.15, 4), '3346.15'); // a mid between two ticks gets one more digit
  assert.equal(formatPrice(97_001, 5), '97001'); // BTC: integers only above 10^4
  assert.equal(formatPrice(Number.NaN, 2), '—');
});

test('offsets are signed once: never +- or --', () => {
  assert.equal(formatBps(-1.349), '-1.35bps');
  assert.equal(formatBps(3.74), '+3.74bps');
  assert.equal(formatBps(0), '+0.00bps');
  assert.equal(formatBps(-0.001), '+0.00bps');
  const line = formatStatusLine({ ...base, mid: 100, bidPx: 100.01, askPx: 99.99, szDecimals: 2 });
  assert.ok(!line.includes('+-') && !line.includes('--'), line);
  assert.match(line, /bid \+1\.00bps ask -1\.00bps/);
});

test('an exchange that does not answer is shown next to the risk state, and only then', () => {
  const line = formatStatusLine({ ...base, mid: 100, bidPx: 99.99, askPx: 100.01, exchangeUnanswered: 3 });
  assert.match(line, /\| EXCHANGE NOT ANSWERING \(3 in a row\)/);
  assert.doesNotMatch(formatStatusLine({ ...base, exchangeUnanswered: 0 }), /NOT ANSWERING/);
});

test('the status says why nothing is quoted instead of ACTIVE', () => {
  for (const why of ['warming-up', 'stale', 'bound', 'paused', 'halted']) {
    const line = formatStatusLine({ ...base, bidPx: Number.NaN, askPx: Number.NaN, quoting: why });
    assert.ok(line.endsWith(`not quoting: ${why}`), line);
    assert.ok(!line.includes('ACTIVE'), line);
  }
  assert.equal(quotingField({ tradingState: 'REDUCING', stale: false, quoting: 'quoting' }), 'REDUCING');
  // A halt says why (an operator's pause is a halt of the engine: the API calls it "paused").
  const paused = formatStatusLine({
    ...base,
    bidPx: Number.NaN,
    askPx: Number.NaN,
    tradingState: 'HALTED',
    quoting: 'halted',
    haltReason: 'paused by the operator (api)',
  });
  assert.ok(paused.endsWith('not quoting: halted (paused by the operator (api))'), paused);
  const wlfi = formatStatusLine(base);
  assert.match(wlfi, /mid 0\.19125 \| bid -2\.61bps ask \+2\.61bps/);
});
