import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MetricsRecorder } from '../../src/backtest/metrics.ts';
import { Rng } from '../../src/util/rng.ts';

test('metrics: onExchangeMid(source) books exactly what onMid(source.mid()) books', () => {
  for (let seed = 1; seed <= 5; seed++) {
    const rng = new Rng(seed);
    const opts = { start: 0, clockOffsetMs: 7, lotSize: 0.01, boundLots: 3, sampleMs: 1000 };
    const plain = new MetricsRecorder(opts);
    const viaSource = new MetricsRecorder(opts);
    let mid = 100;
    const source = { mid: () => mid };
    let t = 0;
    for (let k = 0; k < 4000; k++) {
      t += Math.floor(400 * rng.uniform());
      plain.advance(t);
      viaSource.advance(t);
      const u = rng.uniform();
      if (u < 0.1) {
        const side = rng.uniform() < 0.5 ? 'bid' : 'ask';
        const px = mid + (side === 'bid' ? -0.1 : 0.1);
        plain.onFill(t, side, px, 0.01, -0.0001, 'maker');
        viaSource.onFill(t, side, px, 0.01, -0.0001, 'maker');
        continue;
      }
      // Moves, repeats, and the values a book without a side gives (NaN) or a bad one (0).
      if (u < 0.6) mid = Math.round(10 * (mid + (rng.uniform() < 0.5 ? -0.1 : 0.1))) / 10;
      else if (u < 0.63) mid = Number.NaN;
      else if (u < 0.65) mid = 0;
      else if (!(mid > 0)) mid = 100;
      plain.onMid(mid);
      viaSource.onExchangeMid(source);
    }
    t += 1000;
    assert.deepEqual(
      JSON.stringify(viaSource.finish(t, 10)),
      JSON.stringify(plain.finish(t, 10)),
      `seed ${seed}`,
    );
    assert.deepEqual(JSON.stringify(viaSource.series), JSON.stringify(plain.series), `seed ${seed}`);
  }
});
