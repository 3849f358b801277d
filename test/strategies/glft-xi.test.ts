/** GLFT's ξ (Guéant 2017): ξ = γ is the original closed form bit for bit; ξ → 0 tends to the risk-neutral spread. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseStrategyConfig } from '../../src/strategies/config.ts';
import { glftDepths } from '../../src/strategies/glft.ts';

test('glft xi: default = gamma (identical numbers), xi → 0 limit (half-spread 1/κ, power e), monotone in between', () => {
  const [gamma, sigma, A, kappa] = [0.05, 0.4, 0.8, 9];
  for (const q of [-2, 0, 3])
    assert.deepEqual(glftDepths(q, gamma, sigma, A, kappa, gamma), glftDepths(q, gamma, sigma, A, kappa));
  const zero = glftDepths(1, gamma, sigma, A, kappa, 0);
  assert.equal(zero.halfSpread, 1 / kappa);
  assert.ok(Math.abs(zero.omega - Math.sqrt(((sigma * sigma * gamma) / (2 * kappa * A)) * Math.E)) < 1e-15);
  const tiny = glftDepths(1, gamma, sigma, A, kappa, 1e-6);
  assert.ok(Math.abs(tiny.halfSpread - zero.halfSpread) < 1e-7 && Math.abs(tiny.omega - zero.omega) < 1e-7);
  // A larger ξ narrows the spread term ln(1 + ξ/κ)/ξ.
  assert.ok(
    glftDepths(0, gamma, sigma, A, kappa, 1).halfSpread <
      glftDepths(0, gamma, sigma, A, kappa, 0.1).halfSpread,
  );
  assert.equal((parseStrategyConfig({ strategy: 'glft', xi: 0 }) as { xi?: number }).xi, 0);
  assert.throws(() => parseStrategyConfig({ strategy: 'glft', xi: -1 }), /strategy\.xi: must be ≥ 0/);
});
