/** The generic SVG/HTML report helpers. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { htmlPage, htmlTable } from '../../src/report/html.ts';
import { chartSvg, niceTicks } from '../../src/report/svg.ts';

test('nice ticks cover the range with round steps', () => {
  assert.deepEqual(niceTicks(0, 1, 5), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  const t = niceTicks(3.3, 97.1);
  assert.ok(t[0] >= 3.3 && t[t.length - 1] <= 97.1 && t.length >= 4);
});

test('charts: one marker per finite point, log axis drops y ≤ 0, error bars drawn, text escaped', () => {
  const svg = chartSvg(
    [
      {
        name: 'a<b',
        mode: 'points',
        points: [
          { x: 0, y: 1, yLo: 0.5, yHi: 1.5 },
          { x: 1, y: 0.1 },
          { x: 2, y: 0 },
          { x: 3, y: Number.NaN },
        ],
      },
      {
        name: 'fit',
        points: [
          { x: 0, y: 1 },
          { x: 3, y: 0.01 },
        ],
        dashed: true,
      },
    ],
    { logY: true, title: 'Λ(δ) & co' },
  );
  assert.equal((svg.match(/<circle/g) ?? []).length, 2);
  assert.ok(svg.includes('stroke-dasharray'));
  assert.ok(svg.includes('a&lt;b') && svg.includes('&amp; co'));
  assert.ok(!svg.includes('NaN'));
  assert.match(chartSvg([], {}), /no data/);
});

test('page and table are self-contained and escaped', () => {
  const page = htmlPage('T', [{ heading: 'H', html: htmlTable(['k'], [['<x>']]) }]);
  assert.ok(page.startsWith('<!doctype html>'));
  assert.ok(page.includes('&lt;x&gt;'));
  assert.ok(!page.includes('<script'));
});
