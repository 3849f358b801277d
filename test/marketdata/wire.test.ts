import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import { gunzipSync } from 'node:zlib';
import type { BboEvent, BookEvent, TradeEvent } from '../../src/marketdata/events.ts';
import {
  bboToWire,
  bookToWire,
  MalformedMessageError,
  parseWsMessage,
  parseWsText,
  tradesToWire,
  wireDecimal,
} from '../../src/marketdata/hyperliquid-wire.ts';
import { sharedSkip, WS_CAPTURE } from '../helpers/shared.ts';

/** Key-order-insensitive canonical JSON, to compare our wire output with the exchange's. */
function canon(x: unknown): string {
  return JSON.stringify(x, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v) ? Object.fromEntries(Object.entries(v).sort()) : v,
  );
}

describe('hyperliquid wire: real websocket capture', { skip: sharedSkip }, () => {
  const lines = sharedSkip
    ? []
    : gunzipSync(readFileSync(WS_CAPTURE)).toString('utf8').split('\n').filter(Boolean);

  test('parses 46 book and 9 trade messages (64 fills) with the documented mapping', () => {
    let books = 0;
    let tradeMsgs = 0;
    let fills = 0;
    for (const line of lines) {
      const sp = line.indexOf(' ');
      const raw = JSON.parse(line.slice(sp + 1));
      const evs = parseWsMessage(raw, 123.5);
      assert.ok(evs.length > 0);
      for (const ev of evs) assert.equal(ev.rxTime, 123.5);
      if (raw.channel === 'l2Book') {
        books++;
        const b = evs[0] as BookEvent;
        assert.equal(b.kind, 'book');
        assert.equal(b.coin, 'BTC');
        assert.equal(b.exTime, raw.data.time);
        assert.equal(b.bids.length, raw.data.levels[0].length);
        assert.equal(b.bids[0].px, Number(raw.data.levels[0][0].px));
        assert.equal(b.asks[0].n, raw.data.levels[1][0].n);
        // Bids descending, asks ascending, book not crossed.
        for (let i = 1; i < b.bids.length; i++) assert.ok(b.bids[i].px < b.bids[i - 1].px);
        for (let i = 1; i < b.asks.length; i++) assert.ok(b.asks[i].px > b.asks[i - 1].px);
        assert.ok(b.bids[0].px < b.asks[0].px);
      } else {
        tradeMsgs++;
        fills += evs.length;
        raw.data.forEach((t: Record<string, unknown>, i: number) => {
          const ev = evs[i] as TradeEvent;
          assert.equal(ev.side, t.side === 'B' ? 'buy' : 'sell');
          assert.equal(ev.tid, t.tid);
          assert.equal(ev.buyer, (t.users as string[])[0]);
          assert.equal(ev.seller, (t.users as string[])[1]);
          assert.equal(ev.sz, Number(t.sz));
        });
      }
    }
    assert.equal(books, 46);
    assert.equal(tradeMsgs, 9);
    assert.equal(fills, 64);
  });

  test('bookToWire / tradesToWire reproduce every captured message exactly', () => {
    for (const line of lines) {
      const raw = JSON.parse(line.slice(line.indexOf(' ') + 1));
      const evs = parseWsMessage(raw, 0);
      const wire =
        raw.channel === 'l2Book' ? bookToWire(evs[0] as BookEvent) : tradesToWire(evs as TradeEvent[]);
      assert.equal(canon(wire), canon(raw));
    }
  });
});

describe('hyperliquid wire: bbo and edge cases', () => {
  test('bbo with a missing side parses to NaN and goes back to null', () => {
    const msg = {
      channel: 'bbo',
      data: { coin: 'ETH', time: 1765401034460, bbo: [{ px: '3350.1', sz: '12.5', n: 3 }, null] },
    };
    const [ev] = parseWsMessage(msg, 1765401035000.25) as BboEvent[];
    assert.deepEqual(
      { ...ev },
      {
        kind: 'bbo',
        coin: 'ETH',
        exTime: 1765401034460,
        rxTime: 1765401035000.25,
        bidPx: 3350.1,
        bidSz: 12.5,
        askPx: Number.NaN,
        askSz: Number.NaN,
      },
    );
    const back = bboToWire(ev);
    assert.deepEqual(back.data.bbo[1], null);
    assert.deepEqual(back.data.bbo[0], { px: '3350.1', sz: '12.5', n: 1 });
    assert.deepEqual(parseWsMessage(back, 0)[0], { ...ev, rxTime: 0 });
  });

  test('other channels give no events', () => {
    assert.deepEqual(parseWsMessage({ channel: 'subscriptionResponse', data: {} }, 0), []);
    assert.deepEqual(parseWsMessage({ channel: 'pong' }, 0), []);
    assert.deepEqual(parseWsMessage('hello', 0), []);
  });

  test('malformed known channels throw MalformedMessageError naming the field', () => {
    const bad: Array<[unknown, RegExp]> = [
      [{ channel: 'l2Book', data: { coin: 'BTC', time: 1, levels: [[]] } }, /levels/],
      [
        { channel: 'l2Book', data: { coin: 'BTC', time: 1, levels: [[{ px: 'x', sz: '1', n: 1 }], []] } },
        /px/,
      ],
      [{ channel: 'l2Book', data: { coin: 'BTC', levels: [[], []] } }, /time/],
      [
        { channel: 'l2Book', data: { coin: 'BTC', time: 1, levels: [[{ px: '1', sz: '1', n: 1.5 }], []] } },
        /\.n/,
      ],
      [{ channel: 'trades', data: [{ coin: 'BTC', side: 'X', px: '1', sz: '1', time: 5, tid: 1 }] }, /side/],
      [{ channel: 'trades', data: [{ coin: 'BTC', side: 'B', px: '1', sz: '1', time: 5, tid: 1.5 }] }, /tid/],
      [{ channel: 'trades', data: [{ coin: 'BTC', side: 'B', px: '1', sz: '0', time: 5, tid: 1 }] }, /sz/],
      [{ channel: 'trades', data: { coin: 'BTC' } }, /array/],
      [{ channel: 'bbo', data: { coin: 'BTC', time: 5, bbo: [null] } }, /bbo/],
    ];
    for (const [msg, re] of bad) {
      assert.throws(
        () => parseWsMessage(msg, 0),
        (err: unknown) => err instanceof MalformedMessageError && re.test(err.message),
      );
    }
    assert.throws(() => parseWsText('{"channel":', 0), MalformedMessageError);
  });

  test('wireDecimal writes integers with .0 and never uses exponents', () => {
    assert.equal(wireDecimal(105055), '105055.0');
    assert.equal(wireDecimal(0.6), '0.6');
    assert.equal(wireDecimal(3350.1), '3350.1');
    assert.equal(wireDecimal(1e-7), '0.0000001');
    assert.equal(Number(wireDecimal(1.23e-5)), 1.23e-5);
  });
});
