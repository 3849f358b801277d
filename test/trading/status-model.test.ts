/** The status line's model part: φ, the drift used (with the estimate when they differ), D-DOMINATES. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { formatStatusLine, modelStatus } from '../../src/trading/status.ts';

test('status line: φ and the drift used, the estimate ± SE when shrunk, D-DOMINATES when it dominates', () => {
  assert.equal(
    modelStatus({
      phi: 6.8e-5,
      driftModel: 0.0299,
      driftStderr: 0.0684,
      driftUsed: 0,
      driftDominates: false,
    }),
    'φ 6.8e-5 D 0 (est 0.030±0.068)',
  );
  assert.equal(
    modelStatus({ phi: 0.001, driftModel: 0.028, driftUsed: 0.028, driftDominates: true }),
    'φ 0.0010 D 0.028 D-DOMINATES',
  );
  assert.equal(modelStatus({ kappaEpsilonPlus: 1 }), '', 'strategies without φ show nothing');
  assert.equal(
    modelStatus({ phi: 6.8e-5, regimePhi: 0.0027, driftModel: 0.028, driftUsed: 0.028 }),
    'φ 6.8e-5 (regimes φ 0.0027) D 0.028',
    'signal: imbalance: the regime tables’ own φ',
  );
  const line = formatStatusLine({
    at: Date.UTC(2025, 0, 1, 3, 29, 28),
    mode: 'paper',
    coin: 'ETH',
    mid: 3346.15,
    bidPx: 3346.1,
    askPx: 3347.4,
    position: -0.03,
    lots: -3,
    netPnl: -0.2,
    fills: 13,
    tradingState: 'ACTIVE',
    stale: false,
    diagnostics: { phi: 6.8e-5, driftModel: 0.03, driftStderr: 0.07, driftUsed: 0, calibrationAgeMs: 14_000 },
    uptimeSec: 60,
  });
  assert.match(line, /\| φ 6\.8e-5 D 0 \(est 0\.030±0\.070\) \| calib 14s ago \| ACTIVE$/);
});
