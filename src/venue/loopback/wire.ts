/** Small wire-format helpers of the loopback server (numbers as Hyperliquid writes them). */
import type { BookEvent } from '../../marketdata/events.ts';
import { bookToWire, type WireL2Book } from '../../marketdata/hyperliquid-wire.ts';

/**
 * Orders at a level as the exchange reports them: a level exists because at least one order rests there, so
 * `n` is ≥ 1 (recordings without order counts — the seed collector's — carry 0, which no exchange sends and
 * on which a client computing the mean order size would divide by zero).
 */
export const levelOrders = (n: number): number => Math.max(n, 1);

/** A book event as the exchange's `l2Book` push. */
export function loopbackBookToWire(ev: BookEvent): WireL2Book {
  const w = bookToWire(ev);
  for (const side of w.data.levels) for (const l of side) l.n = levelOrders(l.n);
  return w;
}

/** HTTP 422 body of every request the exchange cannot deserialize (its web framework's text, verbatim). */
export const DESERIALIZE_ERROR = 'Failed to deserialize the JSON body into the target type';

export type Reply = { status: number; body: unknown };

export const reply422 = (): Reply => ({ status: 422, body: DESERIALIZE_ERROR });

/**
 * A number with at most `decimals` decimals, as the exchange writes prices, sizes and amounts: trailing zeros
 * dropped but at least one decimal kept ("3350.0", "0.01", "-0.0005", "0.0").
 */
export function fixed(x: number, decimals: number): string {
  if (!Number.isFinite(x)) return '0.0';
  let s = x.toFixed(decimals);
  if (s.includes('.')) s = s.replace(/0+$/, '');
  if (s.endsWith('.')) s += '0';
  if (!s.includes('.')) s += '.0';
  return s === '-0.0' ? '0.0' : s;
}

/** A decimal string without exponent, at least one decimal ("0.0000125", "5000000.0", "0.0"). */
export function decimal(x: number): string {
  if (!Number.isFinite(x) || x === 0) return '0.0';
  let s = String(Number(x.toPrecision(12)));
  if (s.includes('e')) s = x.toFixed(20).replace(/0+$/, '');
  if (s.endsWith('.')) s += '0';
  return s.includes('.') ? s : `${s}.0`;
}

export const ADDRESS_RE = /^0x[0-9a-fA-F]{40}$/;

export function isAddress(x: unknown): x is string {
  return typeof x === 'string' && ADDRESS_RE.test(x);
}

/** A non-negative integer time (ms) or undefined when absent/null; NaN when present but invalid. */
export function optTime(x: unknown): number | undefined {
  if (x === undefined || x === null) return undefined;
  return typeof x === 'number' && Number.isSafeInteger(x) && x >= 0 ? x : Number.NaN;
}
