/**
 * TradeFileParser on hand-written node_fills lines: one market trade per (coin, trade id), the aggressor from
 * the taker's fill (`crossed: true`) whichever fill comes first, the maker's opposite side when only it is there.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TradeFileParser } from '../../src/marketdata/download/node-data.ts';

const fill = (coin: string, tid: number, side: 'B' | 'A', crossed: boolean, px: number) =>
  JSON.stringify([
    `0x${side === 'B' ? 'b' : 'c'}${tid}${coin}`,
    {
      coin,
      px: String(px),
      sz: '0.5',
      side,
      time: 1_750_000_000_000 + tid,
      crossed,
      tid,
      hash: '0x0',
      oid: tid,
    },
  ]);

test('node_fills: one trade per coin and tid, aggressor from the taker fill, interleaved coins sharing a tid', () => {
  const p = new TradeFileParser('node_fills', new Set(['ETH', 'SOL']), true);
  for (const line of [
    fill('ETH', 7, 'A', false, 3000), // ETH tid 7: maker sells first, taker buys
    fill('SOL', 7, 'A', true, 150), // SOL tid 7 (same number, another market): taker sells
    fill('ETH', 7, 'B', true, 3000),
    fill('SOL', 7, 'B', false, 150),
    fill('BTC', 8, 'B', true, 90000), // not requested
    fill('ETH', 9, 'B', false, 3001), // only the maker (a buyer) in the file: the aggressor sold
  ])
    p.line(line);
  const got = p.end().map((t) => [t.coin, t.tid, t.side, t.px, t.buyer, t.seller]);
  assert.deepEqual(got, [
    ['ETH', 7, 'buy', 3000, '0xb7ETH', '0xc7ETH'],
    ['SOL', 7, 'sell', 150, '0xb7SOL', '0xc7SOL'],
    ['ETH', 9, 'sell', 3001, '0xb9ETH', undefined],
  ]);
  assert.equal(p.stats.makerOnly, 1);
});
