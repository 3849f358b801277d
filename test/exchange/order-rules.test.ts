import assert from 'node:assert/strict';
import { test } from 'node:test';
import { fmtPx } from '../../src/exchange/order-rules.ts';

/** The definition fmtPx's fast path must reproduce (Hyperliquid prints prices rounded to 12 significant digits). */
const reference = (px: number) => (Number.isFinite(px) ? String(Number(px.toPrecision(12))) : String(px));

/** A small seeded generator (mulberry32), so a failure reproduces. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

test('fmtPx equals String(Number(px.toPrecision(12))) on prices, float noise, extremes and random doubles', () => {
  const r = rng(13);
  const xs: number[] = [
    0,
    -0,
    1,
    0.1,
    0.3,
    0.1 + 0.2,
    3350.1,
    3350.1 + 1e-9,
    99999.5,
    1e21,
    1e-7,
    123456789012.5,
  ];
  xs.push(Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, Number.MAX_VALUE, Number.MIN_VALUE);
  for (let k = 0; k < 20000; k++) {
    // Decimal prices with 0–8 decimals at magnitudes 1e-6 … 1e9, as quoted and as arithmetic leaves them.
    const dec = Math.floor(r() * 9);
    const mag = 10 ** Math.floor(r() * 16 - 6);
    const px = Math.round(r() * mag * 10 ** dec) / 10 ** dec;
    xs.push(px, px * 1.0000001, px + 0.1, 0.5 * (px + px / 3), -px);
  }
  // Arbitrary doubles (random bit patterns): every exponent, 17-digit forms, exponent notation.
  const bits = new Float64Array(1);
  const words = new Uint32Array(bits.buffer);
  for (let k = 0; k < 20000; k++) {
    words[0] = Math.floor(r() * 2 ** 32);
    words[1] = Math.floor(r() * 2 ** 32);
    xs.push(bits[0]);
  }
  let short = 0;
  for (const x of xs) {
    assert.equal(fmtPx(x), reference(x), `px = ${x}`);
    if (Number.isFinite(x) && String(x).replace(/e.*/, '').replace(/\D/g, '').replace(/^0+/, '').length <= 12)
      short++;
  }
  // Both paths are exercised: forms of ≤ 12 digits (returned as they are) and longer ones (rounded).
  assert.ok(short > 10000 && short < xs.length - 10000, `short forms ${short} of ${xs.length}`);
});
