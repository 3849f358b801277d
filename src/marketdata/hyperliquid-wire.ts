/**
 * Hyperliquid websocket payloads ⇄ normalised events.
 *
 * Parsing (`parseWsMessage`) is on the recorder's hot path: no schema library, no intermediate objects beyond
 * the events themselves, numbers parsed with `Number()` from the exchange's decimal strings (exact for the
 * shortest round-trip decimal, so `String(px)` gives the wire value back). The inverse functions build exactly
 * the exchange's JSON shapes for the loopback server.
 */
import type { AggressorSide, BboEvent, BookEvent, BookLevel, MarketEvent, TradeEvent } from './events.ts';
import { scanL2BookText } from './wire-scan.ts';

/** A websocket message that claims a known channel but does not have its shape. Callers count and skip. */
export class MalformedMessageError extends Error {
  readonly channel: string;
  constructor(channel: string, message: string) {
    super(`${channel}: ${message}`);
    this.name = 'MalformedMessageError';
    this.channel = channel;
  }
}

type Json = Record<string, unknown>;

function isObj(x: unknown): x is Json {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** Decimal string (or number) → finite number, else throws naming the field. */
function num(x: unknown, channel: string, field: string): number {
  const v =
    typeof x === 'string'
      ? x.length === 0
        ? Number.NaN
        : Number(x)
      : typeof x === 'number'
        ? x
        : Number.NaN;
  if (!Number.isFinite(v))
    throw new MalformedMessageError(channel, `${field} is not a finite number (${String(x)})`);
  return v;
}

function time(x: unknown, channel: string): number {
  if (typeof x !== 'number' || !Number.isFinite(x) || x <= 0) {
    throw new MalformedMessageError(channel, `time must be a positive number of ms (got ${String(x)})`);
  }
  return x;
}

function coinOf(x: unknown, channel: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new MalformedMessageError(channel, 'coin missing');
  return x;
}

/** Hot path for well-formed levels; undefined sends the caller to the validating path for a precise error. */
function fastLevels(side: Array<{ px?: unknown; sz?: unknown; n?: unknown }>): BookLevel[] | undefined {
  const out: BookLevel[] = new Array(side.length);
  for (let i = 0; i < side.length; i++) {
    const l = side[i];
    if (l === null || typeof l !== 'object') return undefined;
    const pxs = l.px;
    const szs = l.sz;
    const n = l.n;
    if (typeof pxs !== 'string' || typeof szs !== 'string' || !Number.isInteger(n) || (n as number) < 0) {
      return undefined;
    }
    const px = +pxs;
    const sz = +szs;
    // `+''` is 0, and NaN fails the finiteness test.
    if (pxs.length === 0 || szs.length === 0 || !Number.isFinite(px) || !Number.isFinite(sz))
      return undefined;
    out[i] = { px, sz, n: n as number };
  }
  return out;
}

function parseLevels(side: unknown, channel: string, name: string): BookLevel[] {
  if (!Array.isArray(side)) throw new MalformedMessageError(channel, `levels.${name} is not an array`);
  const fast = fastLevels(side);
  if (fast) return fast;
  const out: BookLevel[] = new Array(side.length);
  for (let i = 0; i < side.length; i++) {
    const l = side[i] as Json;
    if (!isObj(l)) throw new MalformedMessageError(channel, `levels.${name}[${i}] is not an object`);
    const px = num(l.px, channel, `levels.${name}[${i}].px`);
    const sz = num(l.sz, channel, `levels.${name}[${i}].sz`);
    const n = l.n === undefined ? 0 : num(l.n, channel, `levels.${name}[${i}].n`);
    if (!Number.isInteger(n) || n < 0) {
      throw new MalformedMessageError(channel, `levels.${name}[${i}].n must be a non-negative integer`);
    }
    out[i] = { px, sz, n };
  }
  return out;
}

/** Parse an `l2Book` `data` object. */
export function parseL2Book(data: unknown, rxTime: number): BookEvent {
  if (!isObj(data)) throw new MalformedMessageError('l2Book', 'data is not an object');
  const levels = data.levels;
  if (!Array.isArray(levels) || levels.length !== 2) {
    throw new MalformedMessageError('l2Book', 'levels must be [bids, asks]');
  }
  return {
    kind: 'book',
    coin: coinOf(data.coin, 'l2Book'),
    exTime: time(data.time, 'l2Book'),
    rxTime,
    bids: parseLevels(levels[0], 'l2Book', 'bids'),
    asks: parseLevels(levels[1], 'l2Book', 'asks'),
  };
}

/** Parse a `trades` `data` array (one event per fill). */
export function parseTrades(data: unknown, rxTime: number): TradeEvent[] {
  if (!Array.isArray(data)) throw new MalformedMessageError('trades', 'data is not an array');
  const out: TradeEvent[] = new Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const t = data[i];
    if (!isObj(t)) throw new MalformedMessageError('trades', `data[${i}] is not an object`);
    let side: AggressorSide;
    if (t.side === 'B') side = 'buy';
    else if (t.side === 'A') side = 'sell';
    else
      throw new MalformedMessageError('trades', `data[${i}].side must be 'B' or 'A' (got ${String(t.side)})`);
    const tid = t.tid;
    if (typeof tid !== 'number' || !Number.isSafeInteger(tid) || tid < 0) {
      throw new MalformedMessageError('trades', `data[${i}].tid must be a non-negative integer`);
    }
    const sz = num(t.sz, 'trades', `data[${i}].sz`);
    if (sz <= 0) throw new MalformedMessageError('trades', `data[${i}].sz must be > 0`);
    const ev: TradeEvent = {
      kind: 'trade',
      coin: coinOf(t.coin, 'trades'),
      exTime: time(t.time, 'trades'),
      rxTime,
      px: num(t.px, 'trades', `data[${i}].px`),
      sz,
      side,
      tid,
    };
    if (typeof t.hash === 'string') ev.hash = t.hash;
    const users = t.users;
    if (Array.isArray(users) && users.length === 2) {
      if (typeof users[0] === 'string') ev.buyer = users[0];
      if (typeof users[1] === 'string') ev.seller = users[1];
    }
    out[i] = ev;
  }
  return out;
}

function bboSide(x: unknown, name: string): { px: number; sz: number } {
  if (x === null || x === undefined) return { px: Number.NaN, sz: Number.NaN };
  if (!isObj(x)) throw new MalformedMessageError('bbo', `bbo.${name} is not a level or null`);
  return { px: num(x.px, 'bbo', `bbo.${name}.px`), sz: num(x.sz, 'bbo', `bbo.${name}.sz`) };
}

/** Parse a `bbo` `data` object. A missing side is NaN. */
export function parseBbo(data: unknown, rxTime: number): BboEvent {
  if (!isObj(data)) throw new MalformedMessageError('bbo', 'data is not an object');
  const bbo = data.bbo;
  if (!Array.isArray(bbo) || bbo.length !== 2)
    throw new MalformedMessageError('bbo', 'bbo must be [bid, ask]');
  const bid = bboSide(bbo[0], 'bid');
  const ask = bboSide(bbo[1], 'ask');
  return {
    kind: 'bbo',
    coin: coinOf(data.coin, 'bbo'),
    exTime: time(data.time, 'bbo'),
    rxTime,
    bidPx: bid.px,
    bidSz: bid.sz,
    askPx: ask.px,
    askSz: ask.sz,
  };
}

/**
 * One parsed websocket message → normalised events. Channels other than l2Book / trades / bbo (subscription
 * acks, pong, user channels) give []. A known channel with a bad shape throws `MalformedMessageError`.
 */
export function parseWsMessage(json: unknown, rxTime: number): MarketEvent[] {
  if (!isObj(json)) return [];
  switch (json.channel) {
    case 'l2Book':
      return [parseL2Book(json.data, rxTime)];
    case 'trades':
      return parseTrades(json.data, rxTime);
    case 'bbo':
      return [parseBbo(json.data, rxTime)];
    default:
      return [];
  }
}

/**
 * Raw websocket text → events; invalid JSON is a `MalformedMessageError` too. Well-formed `l2Book` text
 * takes a scanner that skips JSON.parse (same events; anything unusual falls back to the general path).
 */
export function parseWsText(text: string, rxTime: number): MarketEvent[] {
  if (text.length > 20) {
    // The channel key comes first on the wire; other orders still parse, on the general path.
    if (text.startsWith('{"channel":"l2Book"')) {
      const book = scanL2BookText(text, rxTime);
      if (book) return [book];
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new MalformedMessageError('json', `not valid JSON: ${text.slice(0, 60)}`);
  }
  return parseWsMessage(json, rxTime);
}

// ---------------------------------------------------------------------------------------------------------
// Inverse: events → the exchange's JSON shapes (loopback server).

/**
 * The exchange's decimal string for a number: shortest round-trip decimal, never exponent notation, and
 * integers written with a trailing ".0" as Hyperliquid does ("105055.0").
 */
export function wireDecimal(x: number): string {
  let s = String(x);
  if (s.includes('e')) {
    // Tiny or huge magnitudes: expand; toFixed(20) then trim keeps the digits that matter for sizes/prices.
    s = Math.abs(x) < 1 ? x.toFixed(20).replace(/0+$/, '') : BigInt(Math.round(x)).toString();
  }
  return s.includes('.') ? s : `${s}.0`;
}

export interface WireLevel {
  px: string;
  sz: string;
  n: number;
}

export interface WireL2Book {
  channel: 'l2Book';
  data: { coin: string; time: number; levels: [WireLevel[], WireLevel[]] };
}

export interface WireTrade {
  coin: string;
  side: 'B' | 'A';
  px: string;
  sz: string;
  time: number;
  hash: string;
  tid: number;
  users: [string, string];
}

export interface WireTrades {
  channel: 'trades';
  data: WireTrade[];
}

export interface WireBbo {
  channel: 'bbo';
  data: { coin: string; time: number; bbo: [WireLevel | null, WireLevel | null] };
}

const ZERO_HASH = `0x${'0'.repeat(64)}`;
const ZERO_ADDRESS = `0x${'0'.repeat(40)}`;

function levelsToWire(levels: BookLevel[]): WireLevel[] {
  const out: WireLevel[] = new Array(levels.length);
  for (let i = 0; i < levels.length; i++) {
    const l = levels[i];
    out[i] = { px: wireDecimal(l.px), sz: wireDecimal(l.sz), n: l.n };
  }
  return out;
}

export function bookToWire(ev: BookEvent): WireL2Book {
  return {
    channel: 'l2Book',
    data: { coin: ev.coin, time: ev.exTime, levels: [levelsToWire(ev.bids), levelsToWire(ev.asks)] },
  };
}

/** Fills → one `trades` message. Missing hash / addresses are sent as zeros, as the exchange does for some fills. */
export function tradesToWire(evs: TradeEvent[]): WireTrades {
  return {
    channel: 'trades',
    data: evs.map((t) => ({
      coin: t.coin,
      side: t.side === 'buy' ? 'B' : 'A',
      px: wireDecimal(t.px),
      sz: wireDecimal(t.sz),
      time: t.exTime,
      hash: t.hash ?? ZERO_HASH,
      tid: t.tid,
      users: [t.buyer ?? ZERO_ADDRESS, t.seller ?? ZERO_ADDRESS],
    })),
  };
}

/**
 * BBO → `bbo` message. A NaN side is sent as null. BboEvent carries no order count, so a present level is
 * sent with n = 1 (a level that exists holds at least one order).
 */
export function bboToWire(ev: BboEvent): WireBbo {
  const side = (px: number, sz: number): WireLevel | null =>
    Number.isFinite(px) && Number.isFinite(sz) ? { px: wireDecimal(px), sz: wireDecimal(sz), n: 1 } : null;
  return {
    channel: 'bbo',
    data: { coin: ev.coin, time: ev.exTime, bbo: [side(ev.bidPx, ev.bidSz), side(ev.askPx, ev.askSz)] },
  };
}
