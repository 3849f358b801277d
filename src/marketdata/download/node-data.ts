/**
 * Hyperliquid's historical archives on S3 (both requester-pays) and the line formats of their hourly files.
 *
 * Books — `s3://hyperliquid-archive/market_data/<YYYYMMDD>/<hour>/l2Book/<COIN>.lz4`, one file per coin and
 * hour: `{"time": "<ISO capture time, ns>", "ver_num": 1, "raw": {"channel": "l2Book", "data": {coin, time,
 * levels}}}` per line (the `archive` importer's format).
 *
 * Trades — `s3://hl-mainnet-node-data/<format>/hourly/<YYYYMMDD>/<hour>.lz4`, one file per hour holding every
 * coin and both sides of every trade, in whichever format the node wrote on that date:
 *   node_trades          (from 2025-03-22) one trade per line, Hyperliquid's L1 data schema:
 *                        {coin, side ('B' buy aggressor | 'A' sell aggressor), time ("2025-03-22T00:00:01.234",
 *                        UTC, no zone), px, sz, hash, trade_dir_override, side_info: [buyer, seller] each
 *                        {user, start_pos, oid, twap_id, cloid}} — no trade id: cjmm derives one (see below).
 *   node_fills           (from 2025-05-25) one fill per line as `[user, fill]`, the fill in the API's fills
 *                        format {coin, px, sz, side, time (ms), startPosition, dir, closedPnl, hash, oid,
 *                        crossed, fee, tid, feeToken, …}; both sides of a trade share its `tid`.
 *   node_fills_by_block  (from 2025-07-27) one block per line: {local_time, block_time, block_number,
 *                        events: [[user, fill], …]}, times as ISO text with ns, UTC, no zone.
 * Sources: Hyperliquid docs "Historical data" and "L1 data schemas" (node_trades example), the hyperliquid-dex/
 * node README (`--write-trades`, `--write-fills`, `--batch-by-block`), and public parsers of these files.
 *
 * Fills become market trades, one per trade id: the taker's fill (`crossed: true`) gives the aggressor side;
 * with only the maker's fill, the aggressor is the opposite side. The buyer is the user of the 'B' fill, the
 * seller of the 'A' fill (kept only with --with-users).
 */
import type { TradeEvent } from '../events.ts';
import { parseIsoNanos } from '../time.ts';

export const BOOK_BUCKET = 'hyperliquid-archive';
export const NODE_BUCKET = 'hl-mainnet-node-data';

export type TradeFormat = 'node_trades' | 'node_fills' | 'node_fills_by_block';

/** First date (UTC) each trade format exists, newest first. */
export const TRADE_FORMATS: readonly { format: TradeFormat; from: number }[] = [
  { format: 'node_fills_by_block', from: Date.UTC(2025, 6, 27) },
  { format: 'node_fills', from: Date.UTC(2025, 4, 25) },
  { format: 'node_trades', from: Date.UTC(2025, 2, 22) },
];
export const FIRST_TRADE_ARCHIVE = Date.UTC(2025, 2, 22);

/** `YYYYMMDD` and the unpadded hour of an hour start (the archives' path components). */
export function datePath(hourStart: number): { date: string; hour: string } {
  const d = new Date(hourStart);
  const date = `${d.getUTCFullYear()}${String(d.getUTCMonth() + 1).padStart(2, '0')}${String(d.getUTCDate()).padStart(2, '0')}`;
  return { date, hour: String(d.getUTCHours()) };
}

export function bookKey(hourStart: number, coin: string): string {
  const { date, hour } = datePath(hourStart);
  return `market_data/${date}/${hour}/l2Book/${coin}.lz4`;
}

export function tradeKey(format: TradeFormat, hourStart: number): string {
  const { date, hour } = datePath(hourStart);
  return `${format}/hourly/${date}/${hour}.lz4`;
}

/** Trade formats to try for an hour, preferred first (newer formats; older ones as fallback near a switch). */
export function tradeFormatsFor(hourStart: number): TradeFormat[] {
  return TRADE_FORMATS.filter((f) => hourStart >= f.from).map((f) => f.format);
}

/** A line that cannot be read as its format says. Counted and skipped by callers. */
export class NodeLineError extends Error {}

type Json = Record<string, unknown>;

function num(x: unknown, field: string): number {
  const v =
    typeof x === 'string'
      ? x.length === 0
        ? Number.NaN
        : Number(x)
      : typeof x === 'number'
        ? x
        : Number.NaN;
  if (!Number.isFinite(v)) throw new NodeLineError(`${field} is not a finite number (${String(x)})`);
  return v;
}

function str(x: unknown, field: string): string {
  if (typeof x !== 'string' || x.length === 0) throw new NodeLineError(`${field} missing`);
  return x;
}

/** ISO time text of the node (UTC, no zone, up to ns) → epoch ms. */
function isoMs(x: unknown, field: string): number {
  const ms = typeof x === 'string' ? parseIsoNanos(x) : Number.NaN;
  if (!Number.isFinite(ms)) throw new NodeLineError(`${field} is not an ISO time (${String(x)})`);
  return ms;
}

/** 32-bit FNV-1a of a string, with a seed (offset basis). */
function fnv1a(s: string, seed: number): number {
  let h = seed >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}

/**
 * node_trades lines carry no trade id. A trade is the match of one buy order with one sell order, so the pair of
 * order ids identifies it; cjmm hashes that pair into [2^52, 2^53): deterministic (a re-download de-duplicates)
 * and above the exchange's own tids (< 2^50 so far), so a derived id never equals a real one.
 */
export function derivedTid(buyOid: number, sellOid: number): number {
  const key = `${buyOid}/${sellOid}`;
  const lo = fnv1a(key, 0x811c9dc5);
  const hi = fnv1a(key, 0x01000193) & 0xfffff; // 20 bits
  return 2 ** 52 + hi * 2 ** 32 + lo;
}

export interface TradeParseStats {
  lines: number;
  /** Fills (or node_trades lines) of the requested coins. */
  fills: number;
  /** Trades whose aggressor came from the maker's fill alone (no taker fill in the file). */
  makerOnly: number;
  /** Trades with no taker fill and both maker-looking fills: aggressor taken as the opposite of the first fill. */
  ambiguous: number;
}

interface Side {
  user: string;
  side: 'B' | 'A';
  crossed: boolean;
}

interface Pending {
  ev: TradeEvent;
  sides: Side[];
}

/**
 * Streams the lines of one hourly trade file and collects the requested coins' trades. Memory is what is kept
 * (the requested coins) plus the trades whose second fill has not arrived yet (fills of one trade are written
 * together, so that is a handful).
 */
export class TradeFileParser {
  readonly stats: TradeParseStats = { lines: 0, fills: 0, makerOnly: 0, ambiguous: 0 };
  readonly trades: TradeEvent[] = [];
  private readonly format: TradeFormat;
  private readonly coins: ReadonlySet<string>;
  private readonly withUsers: boolean;
  /** Per coin (a tid is only promised unique within a market), trade id → the fills seen so far. */
  private readonly pending = new Map<string, Map<number, Pending>>();

  constructor(format: TradeFormat, coins: ReadonlySet<string>, withUsers: boolean) {
    this.format = format;
    this.coins = coins;
    this.withUsers = withUsers;
  }

  /** One line of the file. Throws NodeLineError (or SyntaxError) for a malformed line; state is unchanged. */
  line(text: string): void {
    this.stats.lines++;
    if (text.length === 0 || text.trim() === '') return;
    // Cheap pre-filter: a line that names none of the requested coins cannot hold their trades.
    let wanted = false;
    for (const c of this.coins) {
      if (text.includes(`"coin":"${c}"`) || text.includes(`"coin": "${c}"`)) {
        wanted = true;
        break;
      }
    }
    if (!wanted) return;
    const json = JSON.parse(text) as unknown;
    if (this.format === 'node_trades') this.nodeTrade(json);
    else if (this.format === 'node_fills') {
      if (!Array.isArray(json) || json.length !== 2) throw new NodeLineError('line is not [user, fill]');
      this.fill(json[0], json[1], undefined);
    } else {
      const b = json as Json;
      if (b === null || typeof b !== 'object' || !Array.isArray(b.events))
        throw new NodeLineError('line is not {local_time, block_time, block_number, events}');
      const rx = isoMs(b.local_time, 'local_time');
      // Validate every event first, so a bad event leaves nothing of its block half-applied.
      for (const e of b.events)
        if (!Array.isArray(e) || e.length !== 2) throw new NodeLineError('event is not [user, fill]');
      for (const e of b.events as unknown[][]) this.fill(e[0], e[1], rx);
    }
  }

  private nodeTrade(json: unknown): void {
    const t = json as Json;
    if (t === null || typeof t !== 'object') throw new NodeLineError('line is not a trade object');
    const coin = str(t.coin, 'coin');
    if (!this.coins.has(coin)) return;
    const side = t.side === 'B' ? 'buy' : t.side === 'A' ? 'sell' : undefined;
    if (!side) throw new NodeLineError(`side must be 'B' or 'A' (got ${String(t.side)})`);
    const exTime = isoMs(t.time, 'time');
    const info = t.side_info;
    if (!Array.isArray(info) || info.length !== 2)
      throw new NodeLineError('side_info is not [buyer, seller]');
    const [b, s] = info as Json[];
    const buyOid = num(b?.oid, 'side_info[0].oid');
    const sellOid = num(s?.oid, 'side_info[1].oid');
    const ev: TradeEvent = {
      kind: 'trade',
      coin,
      exTime,
      rxTime: exTime,
      px: num(t.px, 'px'),
      sz: num(t.sz, 'sz'),
      side,
      tid: derivedTid(buyOid, sellOid),
    };
    if (typeof t.hash === 'string') ev.hash = t.hash;
    if (this.withUsers) {
      ev.buyer = str(b.user, 'side_info[0].user');
      ev.seller = str(s.user, 'side_info[1].user');
    }
    this.stats.fills++;
    this.trades.push(ev);
  }

  private fill(user: unknown, f: unknown, rx: number | undefined): void {
    const fill = f as Json;
    if (fill === null || typeof fill !== 'object') throw new NodeLineError('fill is not an object');
    const coin = str(fill.coin, 'coin');
    if (!this.coins.has(coin)) return;
    const tid = num(fill.tid, 'tid');
    if (!Number.isSafeInteger(tid) || tid < 0)
      throw new NodeLineError(`tid is not an integer (${String(fill.tid)})`);
    const sideCode = fill.side === 'B' ? 'B' : fill.side === 'A' ? 'A' : undefined;
    if (!sideCode) throw new NodeLineError(`side must be 'B' or 'A' (got ${String(fill.side)})`);
    const exTime = num(fill.time, 'time');
    const px = num(fill.px, 'px');
    const sz = num(fill.sz, 'sz');
    const who = typeof user === 'string' ? user : '';
    this.stats.fills++;
    const side: Side = { user: who, side: sideCode, crossed: fill.crossed === true };
    let open = this.pending.get(coin);
    if (!open) {
      open = new Map();
      this.pending.set(coin, open);
    }
    const p = open.get(tid);
    if (p) {
      p.sides.push(side);
      if (p.sides.length >= 2) {
        open.delete(tid);
        this.finish(p);
      }
      return;
    }
    const ev: TradeEvent = { kind: 'trade', coin, exTime, rxTime: rx ?? exTime, px, sz, side: 'buy', tid };
    if (typeof fill.hash === 'string') ev.hash = fill.hash;
    open.set(tid, { ev, sides: [side] });
  }

  private finish(p: Pending): void {
    const taker = p.sides.find((s) => s.crossed);
    if (taker) p.ev.side = taker.side === 'B' ? 'buy' : 'sell';
    else {
      // No taker fill: the aggressor is on the other side of the (first) maker fill.
      p.ev.side = p.sides[0].side === 'B' ? 'sell' : 'buy';
      if (p.sides.length === 1) this.stats.makerOnly++;
      else this.stats.ambiguous++;
    }
    if (this.withUsers) {
      const buyer = p.sides.find((s) => s.side === 'B')?.user;
      const seller = p.sides.find((s) => s.side === 'A')?.user;
      if (buyer) p.ev.buyer = buyer;
      if (seller) p.ev.seller = seller;
    }
    this.trades.push(p.ev);
  }

  /** End of file: trades seen from one side only are completed from that side. */
  end(): TradeEvent[] {
    for (const open of this.pending.values()) for (const p of open.values()) this.finish(p);
    this.pending.clear();
    return this.trades;
  }
}
