/**
 * Fast path for the recorder: Hyperliquid `l2Book` websocket TEXT straight to a book event, without
 * JSON.parse's intermediate objects and strings and without `Number()` on every decimal string (≈3× faster
 * for a 20-level book; small `trades` messages gain nothing over JSON.parse, so they take the general path).
 *
 * The scanner accepts only a strict subset of JSON (the keys the channel defines, in any order, strings
 * without escapes, plain decimals, JSON whitespace) and gives up (returns undefined) on anything else, so the
 * caller falls back to JSON.parse + parseWsMessage: results and errors are exactly the general path's.
 *
 * Decimals are exact: a decimal string with at most 15 significant digits is an integer m < 2^53 divided by
 * 10^f (f ≤ 15), both exact doubles, and IEEE division rounds correctly, which is what Number() returns.
 */
import type { BookEvent, BookLevel } from './events.ts';

/** Thrown inside the scanner to abandon the fast path; never escapes this module. */
const BAIL = new Error('scan: fall back to the general parser');

const POW10 = [1, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15];
const MAX_DIGITS = 15;

let s = '';
let p = 0;

function ws(): void {
  for (;;) {
    const c = s.charCodeAt(p);
    // JSON whitespace: space, tab, LF, CR.
    if (c === 32 || c === 10 || c === 13 || c === 9) p++;
    else return;
  }
}

function expect(code: number): void {
  ws();
  if (s.charCodeAt(p) !== code) throw BAIL;
  p++;
}

/** `,` (returns true) or the closing `close` (returns false). */
function more(close: number): boolean {
  ws();
  const c = s.charCodeAt(p);
  if (c === 44) {
    p++;
    return true;
  }
  if (c === close) {
    p++;
    return false;
  }
  throw BAIL;
}

/** A string without escapes or control characters. */
function str(): string {
  expect(34);
  const start = p;
  for (;;) {
    const c = s.charCodeAt(p);
    if (c === 34) break;
    // Backslash (escapes), control characters, or the end of the text (NaN).
    if (c === 92 || c < 32 || p >= s.length) throw BAIL;
    p++;
  }
  return s.slice(start, p++);
}

/** Object key followed by its colon. */
function key(): string {
  const k = str();
  expect(58);
  return k;
}

/** A quoted plain decimal (-?digits(.digits)?) → its exact double. */
function decimal(): number {
  expect(34);
  let neg = false;
  if (s.charCodeAt(p) === 45) {
    neg = true;
    p++;
  }
  let mant = 0;
  let digits = 0;
  let frac = -1;
  for (;;) {
    const c = s.charCodeAt(p);
    if (c >= 48 && c <= 57) {
      mant = mant * 10 + (c - 48);
      digits++;
      if (frac >= 0) frac++;
    } else if (c === 46 && frac < 0 && digits > 0) {
      frac = 0;
    } else if (c === 34) {
      break;
    } else throw BAIL;
    p++;
  }
  p++;
  if (digits === 0 || frac === 0 || digits > MAX_DIGITS) throw BAIL;
  const v = frac > 0 ? mant / POW10[frac] : mant;
  return neg ? -v : v;
}

/** A JSON non-negative integer literal without leading zeros, at most 15 digits. */
function uint(): number {
  ws();
  const start = p;
  let v = 0;
  for (;;) {
    const c = s.charCodeAt(p);
    if (c < 48 || c > 57) break;
    v = v * 10 + (c - 48);
    p++;
  }
  const len = p - start;
  if (len === 0 || len > MAX_DIGITS || (len > 1 && s.charCodeAt(start) === 48)) throw BAIL;
  return v;
}

/** A level's key without allocating a string: 1 = "px", 2 = "sz", 4 = "n"; anything else bails. */
function levelKey(): number {
  expect(34);
  const a = s.charCodeAt(p);
  const b = s.charCodeAt(p + 1);
  let k: number;
  if (a === 110 && b === 34) {
    k = 4;
    p += 2;
  } else if (s.charCodeAt(p + 2) !== 34) throw BAIL;
  else {
    if (a === 112 && b === 120) k = 1;
    else if (a === 115 && b === 122) k = 2;
    else throw BAIL;
    p += 3;
  }
  expect(58);
  return k;
}

function level(): BookLevel {
  expect(123);
  let px = Number.NaN;
  let sz = Number.NaN;
  let n = -1;
  let seen = 0;
  do {
    const k = levelKey();
    if (seen & k) throw BAIL;
    seen |= k;
    if (k === 1) px = decimal();
    else if (k === 2) sz = decimal();
    else n = uint();
  } while (more(125));
  if (seen !== 7) throw BAIL;
  return { px, sz, n };
}

function levels(): BookLevel[] {
  expect(91);
  const out: BookLevel[] = [];
  ws();
  if (s.charCodeAt(p) === 93) {
    p++;
    return out;
  }
  do out.push(level());
  while (more(93));
  return out;
}

function end(): void {
  ws();
  if (p !== s.length) throw BAIL;
}

/** `{"channel":"l2Book","data":{coin,time,levels}}` text → the book, or undefined (use the general path). */
export function scanL2BookText(text: string, rxTime: number): BookEvent | undefined {
  s = text;
  p = 0;
  try {
    let channel: string | undefined;
    let coin: string | undefined;
    let time = 0;
    let bids: BookLevel[] | undefined;
    let asks: BookLevel[] | undefined;
    expect(123);
    do {
      const k = key();
      if (k === 'channel' && channel === undefined) {
        channel = str();
        if (channel !== 'l2Book') throw BAIL;
      } else if (k === 'data' && coin === undefined) {
        expect(123);
        let seen = 0;
        do {
          const dk = key();
          if (dk === 'coin' && !(seen & 1)) {
            coin = str();
            seen |= 1;
          } else if (dk === 'time' && !(seen & 2)) {
            time = uint();
            seen |= 2;
          } else if (dk === 'levels' && !(seen & 4)) {
            expect(91);
            bids = levels();
            expect(44);
            asks = levels();
            expect(93);
            seen |= 4;
          } else throw BAIL;
        } while (more(125));
        if (seen !== 7) throw BAIL;
      } else throw BAIL;
    } while (more(125));
    end();
    if (channel === undefined || !coin || !(time > 0) || !bids || !asks) return undefined;
    return { kind: 'book', coin, exTime: time, rxTime, bids, asks };
  } catch (err) {
    if (err === BAIL) return undefined;
    throw err;
  } finally {
    s = '';
  }
}
