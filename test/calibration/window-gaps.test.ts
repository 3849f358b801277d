/**
 * The calibrator's gap list answers by scanning in start order and stopping at the first gap past the
 * interval: checked here against the plain definitions over random, overlapping and nested gaps.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WindowGaps } from '../../src/calibration/rolling/window-quotes.ts';
import type { Gap } from '../../src/marketdata/events.ts';
import { Rng } from '../../src/util/rng.ts';

/** A gap starting at `start`, 1 to `maxLen` ms long. */
function randomGap(rng: Rng, start: number, maxLen: number): Gap {
  return {
    coin: 'ETH',
    kind: 'all',
    start,
    end: start + 1 + Math.floor(rng.uniform() * maxLen),
    reason: 'test',
  };
}

test('gap queries (contains, cutAt, overlaps) equal their definitions on random overlapping gaps', () => {
  const rng = new Rng(7);
  for (let trial = 0; trial < 50; trial++) {
    const gaps = new WindowGaps();
    const all: Gap[] = [];
    const count = Math.floor(rng.uniform() * 12);
    for (let k = 0; k < count; k++) {
      const g = randomGap(rng, Math.floor(rng.uniform() * 1000), 200);
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

test('gap queries stay equal to their definitions along a stream of mostly increasing times with gaps added and dropped', () => {
  // contains() and cutAt() remember where their last scan left off (times mostly grow): adds, drops and
  // steps back in time must not leave a stale answer.
  const rng = new Rng(11);
  for (let trial = 0; trial < 30; trial++) {
    const gaps = new WindowGaps();
    let all: Gap[] = [];
    let t = 0;
    for (let step = 0; step < 400; step++) {
      const r = rng.uniform();
      if (r < 0.05) {
        const g = randomGap(rng, t + Math.floor(rng.uniform() * 400) - 100, 80);
        all.push(g);
        gaps.add(g);
      } else if (r < 0.08) {
        const before = t - Math.floor(rng.uniform() * 100);
        gaps.dropEndedBefore(before);
        // dropEndedBefore removes from the front while the first (by start) ended before the time.
        const sorted = [...all].sort((x, y) => x.start - y.start);
        while (sorted.length > 0 && sorted[0].end < before) sorted.shift();
        all = sorted;
      }
      t += rng.uniform() < 0.1 ? -Math.floor(rng.uniform() * 50) : Math.floor(rng.uniform() * 20);
      const b = t + Math.floor(rng.uniform() * 60);
      assert.equal(
        gaps.contains(t),
        all.some((g) => g.start < t && t < g.end),
        `contains(${t})`,
      );
      const starts = all.filter((g) => g.start >= t && g.start < b).map((g) => g.start);
      assert.equal(gaps.cutAt(t, b), starts.length > 0 ? Math.min(...starts) : b, `cutAt(${t}, ${b})`);
    }
  }
});
