/**
 * Builds Hyperliquid archive files in each trade format from the real seed-collector ETH trades (6,385 trades,
 * 2025-12-10 21:10–21:34), with synthetic users and order ids, shifted to whichever hour a test needs; other
 * coins' lines are mixed in so filtering is exercised. LZ4 frames with content checksums, as the archives are.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { compressFrameSync } from 'lz4-napi';
import { SEED_ETH } from './shared.ts';

export interface SeedTrade {
  ex: number;
  px: number;
  sz: number;
  side: 'buy' | 'sell';
  tid: number;
}

export const SEED_HOUR = Date.UTC(2025, 11, 10, 21);

export async function loadSeedTrades(): Promise<SeedTrade[]> {
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  try {
    const r = await conn.runAndReadAll(
      `SELECT exchange_timestamp, price, size, side, trade_id FROM read_parquet('${SEED_ETH}/trades/*.parquet') ORDER BY exchange_timestamp, trade_id`,
    );
    return r.getRows().map((row) => ({
      ex: Number(row[0]),
      px: Number(row[1]),
      sz: Number(row[2]),
      side: row[3] as 'buy' | 'sell',
      tid: Number(row[4]),
    }));
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

/** Deterministic synthetic address of trade i's buyer or seller. */
export function userOf(i: number, role: 'buyer' | 'seller'): string {
  return `0x${role === 'buyer' ? 'b' : 'c'}${i.toString(16).padStart(39, '0')}`;
}

const isoNoZone = (ms: number) => new Date(ms).toISOString().slice(0, 23);

function lz4(lines: string[]): Buffer {
  return compressFrameSync(Buffer.from(`${lines.join('\n')}\n`), { contentChecksum: true });
}

/** node_trades: one trade per line, no tid; side_info [buyer, seller]. */
export function nodeTradesFile(trades: SeedTrade[], shiftMs: number): Buffer {
  const lines: string[] = [];
  trades.forEach((t, i) => {
    for (const coin of ['ETH', 'SOL']) {
      lines.push(
        JSON.stringify({
          coin,
          side: t.side === 'buy' ? 'B' : 'A',
          time: isoNoZone(t.ex + shiftMs),
          px: String(coin === 'ETH' ? t.px : t.px / 20),
          sz: String(t.sz),
          hash: `0x${i.toString(16).padStart(64, '0')}`,
          trade_dir_override: 'Na',
          side_info: [
            { user: userOf(i, 'buyer'), start_pos: '0.0', oid: 2 * i + 1, twap_id: null, cloid: null },
            { user: userOf(i, 'seller'), start_pos: '0.0', oid: 2 * i + 2, twap_id: null, cloid: null },
          ],
        }),
      );
    }
  });
  return lz4(lines);
}

function fill(t: SeedTrade, i: number, shiftMs: number, tidOffset: number, taker: boolean, coin = 'ETH') {
  const takerSide = t.side === 'buy' ? 'B' : 'A';
  const side = taker ? takerSide : takerSide === 'B' ? 'A' : 'B';
  return {
    coin,
    px: String(t.px),
    sz: String(t.sz),
    side,
    time: t.ex + shiftMs,
    startPosition: '0.0',
    dir: side === 'B' ? 'Open Long' : 'Open Short',
    closedPnl: '0.0',
    hash: `0x${i.toString(16).padStart(64, '0')}`,
    oid: 2 * i + (taker ? 1 : 2),
    crossed: taker,
    fee: taker ? '0.01' : '-0.001',
    tid: t.tid + tidOffset,
    feeToken: 'USDC',
    builderFee: null,
    twapId: null,
  };
}

/** The [user, fill] pairs of trade i (maker first for odd i, to exercise pairing in both orders). */
function fillsOf(
  t: SeedTrade,
  i: number,
  shiftMs: number,
  tidOffset: number,
  coin = 'ETH',
): [string, object][] {
  const taker = t.side === 'buy' ? userOf(i, 'buyer') : userOf(i, 'seller');
  const maker = t.side === 'buy' ? userOf(i, 'seller') : userOf(i, 'buyer');
  const pair: [string, object][] = [
    [taker, fill(t, i, shiftMs, tidOffset, true, coin)],
    [maker, fill(t, i, shiftMs, tidOffset, false, coin)],
  ];
  return i % 2 === 1 ? pair.reverse() : pair;
}

/** node_fills: one `[user, fill]` per line. */
export function nodeFillsFile(trades: SeedTrade[], shiftMs: number, tidOffset: number): Buffer {
  const lines: string[] = [];
  trades.forEach((t, i) => {
    for (const p of fillsOf(t, i, shiftMs, tidOffset)) lines.push(JSON.stringify(p));
    for (const p of fillsOf(t, i, shiftMs, tidOffset + 1, 'SOL')) lines.push(JSON.stringify(p));
  });
  return lz4(lines);
}

/** node_fills_by_block: one block per exchange time, `{local_time, block_time, block_number, events}`. */
export function nodeFillsByBlockFile(trades: SeedTrade[], shiftMs: number, tidOffset: number): Buffer {
  const lines: string[] = [];
  let block = 700_000_000;
  for (let i = 0; i < trades.length; ) {
    const ex = trades[i].ex;
    const events: [string, object][] = [];
    for (; i < trades.length && trades[i].ex === ex; i++) {
      events.push(...fillsOf(trades[i], i, shiftMs, tidOffset));
      events.push(...fillsOf(trades[i], i, shiftMs, tidOffset + 1, 'SOL'));
    }
    const t = ex + shiftMs;
    lines.push(
      JSON.stringify({
        local_time: `${isoNoZone(t + 250)}000000`,
        block_time: `${isoNoZone(t)}000000`,
        block_number: block++,
        events,
      }),
    );
  }
  return lz4(lines);
}

/** The key of an hourly trade file. */
export function nodeKey(format: string, hourStart: number): string {
  const d = new Date(hourStart);
  const date = d.toISOString().slice(0, 10).replaceAll('-', '');
  return `${format}/hourly/${date}/${d.getUTCHours()}.lz4`;
}
