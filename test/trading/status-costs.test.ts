/** The status line and `trade status` show the P&L attribution and the spread bounds' binding shares. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStatus } from '../../src/trading/journal-report.ts';
import { formatStatusLine, type StatusSnapshot } from '../../src/trading/status.ts';

const snap: StatusSnapshot = {
  at: Date.UTC(2025, 11, 10, 21, 20, 0),
  mode: 'paper',
  coin: 'ETH',
  mid: 3350,
  bidPx: 3349.9,
  askPx: 3350.2,
  position: 0.02,
  lots: 2,
  netPnl: -0.48,
  fills: 41,
  tradingState: 'ACTIVE',
  stale: false,
  diagnostics: {},
  uptimeSec: 10,
  pnlAttribution: {
    spreadCapture: -0.03,
    adverseSelection: -0.22,
    inventoryCarry: -0.04,
    fees: -0.19,
    funding: 0,
  },
  spreadBoundBinding: { min: { bid: 0.12, ask: 0 }, max: { bid: 0, ask: 0.031 } },
};

test('status line: attribution after the P&L, binding shares before the risk state', () => {
  const line = formatStatusLine(snap);
  assert.match(line, /pnl -0\.48 USD \(spread -0\.03 adv -0\.22 carry -0\.04 fees -0\.19\)/);
  assert.match(line, /\| bounds min 12%\/0% max 0%\/3% \| ACTIVE$/);
  // Funding shows only when there is some; no bounds, no bounds field.
  const plain = formatStatusLine({
    ...snap,
    spreadBoundBinding: undefined,
    pnlAttribution: { ...snap.pnlAttribution!, funding: -0.01 },
  });
  assert.match(plain, /fees -0\.19 funding -0\.01\)/);
  assert.doesNotMatch(plain, /bounds/);
});

test('trade status prints the journalled attribution and binding', () => {
  const text = formatStatus({
    path: 'j.sqlite',
    lastSession: null,
    positions: [],
    openOrders: [],
    lastParams: null,
    lastRisk: null,
    lastAdjustment: null,
    sizeBytes: 0,
    lastState: {
      rxTime: snap.at,
      data: {
        coin: 'ETH',
        mid: 3350,
        netPnl: -0.48,
        state: 'ACTIVE',
        pnlAttribution: snap.pnlAttribution,
        spreadBoundBinding: snap.spreadBoundBinding,
      },
    },
    counts: {},
  });
  assert.match(text, /P&L attribution \(USD\): spread -0\.0300 adv -0\.2200 carry -0\.0400 fees -0\.1900/);
  assert.match(text, /spread bounds min 12%\/0% max 0%\/3% \(bid\/ask, share of quoted time\)/);
});
