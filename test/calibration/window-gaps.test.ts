/**
 * The calibrator's gap list answers by scanning in start order and stopping at the first gap past the
 * interval: checked here against the plain definitions over random, overlapping and nested gaps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowGaps } from '../../src/calibration/rolling/window-quotes.ts';
import type { Gap } from '../../src/marketdata/events.ts';
import { Rng } from '../../src/util/rng.ts';

test('gap queries (contains, cutAt, overlaps) equal their definitions on random overlapping gaps', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 50; trial++) {
    const gaps = new WindowGaps();
    const all: Gap[] = [];
    const count = Math.floor(rng.uniform() * 12);
    for (let k = 0; k < count; k++) {
      const start = Math.floor(rng.uniform() * 1000);
      const g: Gap = {
        coin: 'ETH',
        kind: 'all',
        start,
        end: start + 1 + Math.floor(rng.uniform() * 200),
        reason: 'test',
      };
      all.push(g);
      gaps.add(g);
    }
    for (let q = 0; q < 200; q++) {
      const a = Math.floor(rng.uniform() * 1300) - 100;
      const b = a + Math.floor(rng.uniform() * 300);
      assert.equal(
        gaps.contains(a),
        all.some((g) => g.start < a && a < g.end),
        `contains(${a})`,
      );
      assert.equal(
        gaps.overlaps(a, b),
        all.some((g) => g.start < b && g.end > a),
        `overlaps(${a}, ${b})`,
      );
      const starts = all.filter((g) => g.start >= a && g.start < b).map((g) => g.start);
      assert.equal(gaps.cutAt(a, b), starts.length > 0 ? Math.min(...starts) : b, `cutAt(${a}, ${b})`);
    }
  }
});
