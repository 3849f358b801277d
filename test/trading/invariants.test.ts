/** The position-limit invariant the trader checks after every batch of events and every report. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { exposureViolation } from '../../src/trading/market-session.ts';

test('position limit invariant: orders must not add beyond the limit; a position already beyond it is not a violation by itself', () => {
  const max = 0.03;
  const tol = 1e-9;
  assert.equal(exposureViolation(0.02, 0.01, 0.01, max, tol), undefined, 'at the limit');
  assert.match(exposureViolation(0.02, 0.02, 0, max, tol) ?? '', /exceeds 0.03/, 'a bid beyond it');
  assert.match(exposureViolation(-0.02, 0, 0.02, max, tol) ?? '', /exceeds/, 'an ask beyond it');
  // Started on an account holding 0.1 (an adjustment at start): reducing only is fine…
  assert.equal(exposureViolation(0.1, 0, 0.01, max, tol), undefined);
  assert.equal(exposureViolation(0.1, 0, 0, max, tol), undefined);
  // …a bid on top of it is not.
  assert.match(exposureViolation(0.1, 0.01, 0, max, tol) ?? '', /exceeds/);
  assert.match(exposureViolation(-0.1, 0, 0.01, max, tol) ?? '', /exceeds/);
});
