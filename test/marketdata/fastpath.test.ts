/**
 * The recorder's fast paths must be invisible: the l2Book text scanner gives exactly the general parser's
 * events (or defers to it), and the column-vector store writer/reader round-trips every value, including
 * NULL levels, NaN sides, absent optional fields and 53-bit trade ids across 2,048-row chunk boundaries.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { BboEvent, BookEvent, MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { MalformedMessageError, parseWsMessage, parseWsText } from '../../src/marketdata/hyperliquid-wire.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import { scanL2BookText } from '../../src/marketdata/wire-scan.ts';
import { Rng } from '../../src/util/rng.ts';

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-fastpath-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

/** What the general path (JSON.parse + parseWsMessage) makes of a text: events, or the error class name. */
function general(text: string): MarketEvent[] | string {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return 'MalformedMessageError';
  }
  try {
    return parseWsMessage(json, 7);
  } catch (err) {
    return (err as Error).name;
  }
}

function viaText(text: string): MarketEvent[] | string {
  try {
    return parseWsText(text, 7);
  } catch (err) {
    assert.ok(err instanceof MalformedMessageError, `unexpected error type: ${err}`);
    return err.name;
  }
}

/** A random decimal string as the exchange writes them (up to 15 significant digits). */
function decimal(rng: Rng): string {
  const intDigits = 1 + rng.int(7);
  const fracDigits = rng.int(Math.min(8, 15 - intDigits) + 1);
  let s = String(1 + rng.int(9));
  for (let i = 1; i < intDigits; i++) s += String(rng.int(10));
  if (fracDigits > 0) {
    s += '.';
    for (let i = 0; i < fracDigits; i++) s += String(rng.int(10));
  } else s += '.0';
  return rng.bernoulli(0.05) ? `0.${s.replace('.', '')}`.slice(0, 16) : s;
}

function wireBook(rng: Rng, depth: number) {
  const side = () =>
    Array.from({ length: depth }, () => ({ px: decimal(rng), sz: decimal(rng), n: rng.int(100) }));
  return {
    channel: 'l2Book',
    data: {
      coin: rng.bernoulli(0.5) ? 'ETH' : '@107',
      time: 1_733_865_600_000 + rng.int(1e9),
      levels: [side(), side()],
    },
  };
}

describe('l2Book text scanner', () => {
  test('gives exactly the general parser’s events on exchange-shaped text, and takes the fast path', () => {
    const rng = new Rng(11);
    for (let i = 0; i < 400; i++) {
      const text = JSON.stringify(wireBook(rng, rng.int(21)));
      const fast = scanL2BookText(text, 7);
      assert.ok(fast, `fast path declined ${text.slice(0, 80)}`);
      assert.deepEqual([fast], general(text));
      assert.deepEqual(parseWsText(text, 7), general(text));
    }
  });

  test('decimals are exact: every scanned price equals Number() of its string', () => {
    const rng = new Rng(12);
    for (let i = 0; i < 50; i++) {
      const msg = wireBook(rng, 20);
      const book = scanL2BookText(JSON.stringify(msg), 0) as BookEvent;
      const [bids, asks] = msg.data.levels;
      for (let k = 0; k < 20; k++) {
        assert.equal(book.bids[k].px, Number(bids[k].px));
        assert.equal(book.bids[k].sz, Number(bids[k].sz));
        assert.equal(book.asks[k].px, Number(asks[k].px));
        assert.equal(book.asks[k].n, asks[k].n);
      }
    }
    // Hand-picked values where naive digit-by-digit scaling rounds wrongly.
    for (const px of [
      '0.1',
      '0.3',
      '1.005',
      '123456.789012345',
      '999999999999999',
      '0.00000000000001',
      '3350.15',
    ]) {
      const text = `{"channel":"l2Book","data":{"coin":"X","time":5,"levels":[[{"px":"${px}","sz":"1.0","n":1}],[]]}}`;
      const book = scanL2BookText(text, 0);
      assert.ok(book, px);
      assert.equal(book.bids[0].px, Number(px), px);
    }
  });

  test('other key orders and whitespace parse the same (on either path)', () => {
    const rng = new Rng(13);
    for (let i = 0; i < 50; i++) {
      const m = wireBook(rng, 5);
      const reordered = {
        data: {
          levels: m.data.levels.map((s) => s.map((l) => ({ n: l.n, sz: l.sz, px: l.px }))),
          time: m.data.time,
          coin: m.data.coin,
        },
        channel: 'l2Book',
      };
      const expected = general(JSON.stringify(m));
      assert.deepEqual(viaText(JSON.stringify(reordered)), expected);
      assert.deepEqual(viaText(JSON.stringify(m, null, 1)), expected);
      assert.deepEqual(
        viaText(`{"channel":"l2Book", "data": ${JSON.stringify(reordered.data, null, '\t')} }`),
        expected,
      );
    }
  });

  test('unusual or malformed text behaves exactly as on the general path', () => {
    const ok =
      '{"channel":"l2Book","data":{"coin":"ETH","time":1733865600000,"levels":[[{"px":"3350.1","sz":"2.5","n":3}],[{"px":"3350.2","sz":"1.0","n":1}]]}}';
    const variants = [
      ok,
      ok.slice(0, -1), // truncated
      `${ok} x`, // trailing garbage
      `${ok}\n`, // trailing whitespace is valid JSON
      ok.replace('"n":3', '"n":-3'),
      ok.replace('"n":3', '"n":03'),
      ok.replace('"n":3', '"n":3.0'),
      ok.replace('"n":3', '"n":1e2'),
      ok.replace(',"n":3', ''), // missing n: the general path reads 0
      ok.replace('"3350.1"', '"abc"'),
      ok.replace('"3350.1"', '"1e5"'),
      ok.replace('"3350.1"', '""'),
      ok.replace('"3350.1"', '"-3350.1"'),
      ok.replace('"3350.1"', '"3350."'),
      ok.replace('"3350.1"', '".5"'),
      ok.replace('"3350.1"', '"12345678901234567"'), // more digits than the exact fast path takes
      ok.replace('"3350.1"', '3350.1'), // number instead of string
      ok.replace('"ETH"', '"E\\u0054H"'), // escape in the coin
      ok.replace('"ETH"', '""'),
      ok.replace('1733865600000', '0'),
      ok.replace('1733865600000', '-5'),
      ok.replace('"levels":[[', '"extra":1,"levels":[['),
      ok.replace('"coin":"ETH",', '"coin":"ETH","coin":"BTC",'), // duplicate key: JSON.parse keeps the last
      ok.replace('"px":"3350.1",', '"px":"3350.1","q":1,'),
      ok.replace(']]}}', '],[]]}}'), // three sides
      ok.replace('[[{', '[{').replace('}],[{', '},{'),
      '{"channel":"l2Book","data":{"coin":"ETH","time":1,"levels":[[],[]]}}',
      '{"channel":"l2Book","data":null}',
      '{"channel":"l2Book"}',
      '{"channel":"l2Booking","data":{}}',
    ];
    for (const text of variants) assert.deepEqual(viaText(text), general(text), text);
  });
});

describe('column-vector store writer and reader', () => {
  test('round-trips books of every depth, bbo with missing sides and trades across chunk boundaries', async () => {
    const rng = new Rng(21);
    const T0 = Date.UTC(2025, 11, 10, 21, 0, 0);
    const books: BookEvent[] = [];
    const bbos: BboEvent[] = [];
    const trades: TradeEvent[] = [];
    // 5,000 rows per kind: three chunks; the middle one has no NULLs (full books, all optional fields), so
    // NULL bits of the first chunk must not leak into it and the third must set its own again.
    for (let i = 0; i < 5000; i++) {
      const t = T0 + i * 100;
      const level = () => ({
        px: Math.round(rng.uniform() * 1e7) / 1e3,
        sz: Math.round(rng.uniform() * 1e6) / 1e4,
        n: rng.int(2 ** 31 - 1),
      });
      const full = i >= 2048 && i < 4096;
      const depth = (): number => (full ? 20 : rng.int(21));
      books.push({
        kind: 'book',
        coin: 'ETH',
        exTime: t,
        rxTime: t + rng.uniform() * 100,
        bids: Array.from({ length: depth() }, level),
        asks: Array.from({ length: depth() }, level),
      });
      const noBid = !full && rng.bernoulli(0.2);
      bbos.push({
        kind: 'bbo',
        coin: 'ETH',
        exTime: t,
        rxTime: t + 1.5,
        bidPx: noBid ? Number.NaN : 100 + rng.uniform(),
        bidSz: noBid ? Number.NaN : rng.uniform(),
        askPx: 101,
        askSz: 2,
      });
      const tr: TradeEvent = {
        kind: 'trade',
        coin: 'ETH',
        exTime: t,
        rxTime: t + 0.25,
        px: 100 + rng.uniform(),
        sz: 0.001 + rng.uniform(),
        side: rng.bernoulli(0.5) ? 'buy' : 'sell',
        // Spans the whole safe-integer range, including both 32-bit halves.
        tid: i === 0 ? Number.MAX_SAFE_INTEGER : i === 1 ? 0 : rng.int(2 ** 21) * 2 ** 32 + rng.nextU32(),
      };
      if (full || rng.bernoulli(0.5)) tr.hash = `0x${rng.nextU32().toString(16)}`;
      if (full || rng.bernoulli(0.5)) tr.buyer = `0x${'c'.repeat(40)}`;
      if (full || rng.bernoulli(0.5)) tr.seller = 'ü-ñ ✓'; // non-ASCII survives
      trades.push(tr);
    }
    const store = await openStore(join(tmpRoot, 'roundtrip'));
    try {
      const w = await store.write([...books, ...bbos, ...trades]);
      assert.deepEqual(w.written, { book: 5000, trade: 5000, bbo: 5000 });
      const got = await store.query({ coin: 'ETH' });
      const byKind = (k: string) => got.events.filter((e) => e.kind === k);
      assert.deepEqual(byKind('book'), books);
      assert.deepEqual(byKind('bbo'), bbos);
      const sortedTrades = [...trades].sort((a, b) => a.exTime - b.exTime || a.tid - b.tid);
      assert.deepEqual(byKind('trade'), sortedTrades);
    } finally {
      await store.close();
    }
  });
});
