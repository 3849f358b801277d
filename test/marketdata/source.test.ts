import assert from 'node:assert/strict';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { DuckDBInstance } from '@duckdb/node-api';
import { compressFrameSync, decompressFrameSync } from 'lz4-napi';
import type { BboEvent, BookEvent, MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { detectLayout, importSource, readSource, SourceError } from '../../src/marketdata/source.ts';
import { type MarketStore, openStore } from '../../src/marketdata/store/index.ts';
import { ARCHIVE_ROOT, HL_DATA, SEED_ETH, SEED_ROOT, sharedSkip, WS_CAPTURE } from '../helpers/shared.ts';

const here = dirname(fileURLToPath(import.meta.url));
const CSV_FIXTURE = join(here, '..', 'fixtures', 'seed-csv');
const ARCHIVE_FILE = join(ARCHIVE_ROOT, 'market_data', '20240101', '12', 'l2Book', 'BTC.lz4');

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-source-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

const byKind = (evs: MarketEvent[], k: MarketEvent['kind']) => evs.filter((e) => e.kind === k);

describe('seed collector Parquet (shared ETH set)', { skip: sharedSkip }, () => {
  let events: MarketEvent[] = [];
  let store: MarketStore;
  let firstImport: Awaited<ReturnType<typeof importSource>>;

  before(async () => {
    store = await openStore(join(tmpRoot, 'seed-store'));
    firstImport = await importSource(SEED_ROOT, store);
    events = (await readSource(SEED_ETH)).events;
  });
  after(() => store.close());

  test('layout detection and exact counts (README: 2,081 books, 19,934 price rows, 6,385 trades)', async () => {
    assert.equal(await detectLayout(SEED_ROOT), 'seed-parquet');
    assert.equal(await detectLayout(SEED_ETH), 'seed-parquet');
    assert.deepEqual(firstImport.read, { book: 2081, trade: 6385, bbo: 9967 });
    assert.deepEqual(firstImport.written, { book: 2081, trade: 6385, bbo: 9967 });
    assert.equal(firstImport.malformed, 0);
    assert.equal(firstImport.files, 57);
    // Every bbo message was a bid row and an ask row: 2 × 9,967 = 19,934, none left unpaired.
    const bbo = byKind(events, 'bbo') as BboEvent[];
    assert.equal(bbo.length * 2, 19934);
    assert.ok(bbo.every((b) => Number.isFinite(b.bidPx) && Number.isFinite(b.askPx) && b.bidPx < b.askPx));
  });

  test('units: receive time in ms from float seconds, 20 levels with n = 0, aggressor sides', async () => {
    const books = byKind(events, 'book') as BookEvent[];
    assert.ok(books.every((b) => b.bids.length <= 20 && b.asks.length <= 20 && b.bids[0].n === 0));
    assert.ok(books.filter((b) => b.bids.length === 20 && b.asks.length === 20).length > 2000);
    // README: receive − exchange ≈ 0.8 s median.
    const lag = books.map((b) => b.rxTime - b.exTime).sort((a, b) => a - b);
    const median = lag[Math.floor(lag.length / 2)];
    assert.ok(median > 300 && median < 2000, `median lag ${median} ms`);
    const trades = byKind(events, 'trade') as TradeEvent[];
    assert.ok(trades.some((t) => t.side === 'buy') && trades.some((t) => t.side === 'sell'));
    assert.equal(new Set(trades.map((t) => t.tid)).size, 6385);
    // Cross-check one row against DuckDB directly.
    const inst = await DuckDBInstance.create(':memory:');
    const conn = await inst.connect();
    const r = await conn.runAndReadAll(
      `SELECT timestamp, price, size, side, trade_id, exchange_timestamp FROM read_parquet('${SEED_ETH}/trades/*.parquet') ORDER BY exchange_timestamp, CAST(trade_id AS BIGINT) LIMIT 1`,
    );
    const [ts, px, sz, side, tid, ex] = r.getRows()[0];
    conn.closeSync();
    inst.closeSync();
    assert.deepEqual(
      { ...trades[0] },
      {
        kind: 'trade',
        coin: 'ETH',
        exTime: Number(ex),
        rxTime: (ts as number) * 1000,
        px,
        sz,
        side,
        tid: Number(tid),
      },
    );
  });

  test('the ~243 s collector gap (21:15:34–21:19:37) is detected; no book/bbo inside any gap', async () => {
    const gaps = firstImport.gaps;
    const big = gaps.find((g) => g.end - g.start > 200_000);
    assert.ok(big, 'the 243 s gap');
    assert.ok(Math.abs(big.start - Date.UTC(2025, 11, 10, 21, 15, 34)) < 1000);
    assert.ok(Math.abs(big.end - Date.UTC(2025, 11, 10, 21, 19, 37)) < 1000);
    for (const g of gaps) {
      assert.ok(g.end - g.start > 5000);
      assert.ok(!events.some((e) => e.kind !== 'trade' && e.exTime > g.start && e.exTime < g.end));
    }
    assert.deepEqual(await store.gaps('ETH'), gaps);
  });

  test('store round trip equals a direct read; re-import is idempotent', async () => {
    const q = await store.query({ coin: 'ETH' });
    assert.deepEqual(q.events, events);
    const again = await importSource(SEED_ETH, store);
    assert.deepEqual(again.written, { book: 0, trade: 0, bbo: 0 });
    assert.equal(again.duplicates, 2081 + 6385 + 9967);
    const sum = await store.summary();
    assert.deepEqual(
      sum.map((r) => [r.kind, r.rows]),
      [
        ['book', 2081],
        ['trade', 6385],
        ['bbo', 9967],
      ],
    );
    // Reading the store as a source gives the same events and the stored gaps.
    const viaStore = await readSource(store.dir, { coin: 'ETH' }).catch((e) => e);
    // The store is open in this process (lock-free for readers): both reads must agree.
    assert.equal(viaStore.report.layout, 'store');
    assert.deepEqual(viaStore.events, events);
    assert.deepEqual(viaStore.gaps, firstImport.gaps);
  });
});

describe('seed collector CSV (fixture made from real data)', { skip: sharedSkip }, () => {
  test('both symbols, pandas index column tolerated, equal to the Parquet rows they came from', async () => {
    assert.equal(await detectLayout(CSV_FIXTURE), 'seed-csv');
    assert.equal(await detectLayout(join(CSV_FIXTURE, 'HL_data')), 'seed-csv');
    const r = await readSource(CSV_FIXTURE);
    assert.equal(r.report.malformed, 0);
    assert.equal(r.report.files, 6);
    // ETH: 120 book rows, 300 price rows = 150 bbo, 250 trades; BTC (from the ws capture): 46 + 46 + 64.
    assert.deepEqual(r.report.read, { book: 166, trade: 314, bbo: 196 });
    const eth = (await readSource(CSV_FIXTURE, { coin: 'ETH' })).events;
    assert.ok(eth.every((e) => e.coin === 'ETH'));
    // Window [from, to) on exchange time.
    const from = eth[100].exTime;
    const to = eth[400].exTime;
    const win = await readSource(CSV_FIXTURE, { coin: 'ETH', from, to });
    assert.deepEqual(
      win.events,
      eth.filter((e) => e.exTime >= from && e.exTime < to),
    );
    assert.ok(win.events.length > 250);
    const parquet = (await readSource(SEED_ETH)).events;
    for (const kind of ['book', 'trade', 'bbo'] as const) {
      const mine = byKind(eth, kind);
      const src = byKind(parquet, kind);
      const n = { book: 120, trade: 250, bbo: 150 }[kind];
      assert.equal(mine.length, n);
      assert.deepEqual(mine, src.slice(0, n));
    }
  });
});

describe('Hyperliquid archive (BTC 2024-01-01 12h)', { skip: sharedSkip }, () => {
  test('5,587 snapshots × 20 levels, receive time from the ISO field with nanosecond digits', async () => {
    assert.equal(await detectLayout(ARCHIVE_ROOT), 'archive');
    assert.equal(await detectLayout(ARCHIVE_FILE), 'archive');
    const r = await readSource(ARCHIVE_ROOT);
    assert.deepEqual(r.report.read, { book: 5587, trade: 0, bbo: 0 });
    const books = r.events as BookEvent[];
    assert.ok(books.every((b) => b.coin === 'BTC' && b.bids.length === 20 && b.asks.length === 20));
    assert.ok(books.every((b) => b.bids[0].n >= 1 && b.bids[0].px < b.asks[0].px));
    // First line: {"time":"2024-01-01T12:00:01.138942031", … "time":1704110399915}
    const first = books.find((b) => b.exTime === 1704110399915)!;
    assert.ok(Math.abs(first.rxTime - (Date.UTC(2024, 0, 1, 12, 0, 1) + 138.942031)) < 1e-3);
    const s = await openStore(join(tmpRoot, 'archive-store'));
    const imp = await importSource(ARCHIVE_FILE, s);
    assert.equal(imp.written.book, 5587);
    assert.deepEqual((await s.query({ coin: 'BTC' })).events, books);
    await s.close();
  });
});

describe('Hyperliquid archive over several hour files', { skip: sharedSkip }, () => {
  test('imported file by file: a silence spanning two files is a gap; result equals a direct read', async () => {
    // Split the real hour into two hour files, dropping 60 s at the split.
    const lines = decompressFrameSync(readFileSync(ARCHIVE_FILE))
      .toString('utf8')
      .split('\n')
      .filter(Boolean);
    const exOf = (l: string) => JSON.parse(l).raw.data.time as number;
    const cut = Date.UTC(2024, 0, 1, 12, 30);
    const first = lines.filter((l) => exOf(l) < cut);
    const second = lines.filter((l) => exOf(l) >= cut + 60_000);
    const root = join(tmpRoot, 'split-archive');
    for (const [hour, part] of [
      ['12', first],
      ['13', second],
    ] as const) {
      const dir = join(root, 'market_data', '20240101', hour, 'l2Book');
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'BTC.lz4'), compressFrameSync(Buffer.from(`${part.join('\n')}\n`)));
    }
    const direct = await readSource(root);
    const s = await openStore(join(tmpRoot, 'split-store'));
    const imp = await importSource(root, s);
    assert.equal(imp.files, 2);
    assert.equal(imp.read.book, first.length + second.length);
    assert.equal(imp.written.book, first.length + second.length);
    assert.deepEqual(imp.gaps, direct.gaps);
    assert.equal(imp.gaps.length, 1);
    assert.equal(imp.gaps[0].start, exOf(first.at(-1)!));
    assert.equal(imp.gaps[0].end, exOf(second[0]));
    assert.deepEqual((await s.query({ coin: 'BTC' })).events, direct.events);
    await s.close();
  });
});

describe('websocket capture', { skip: sharedSkip }, () => {
  test('46 book + 9 trade messages (64 fills); the repeated snapshot is stored once', async () => {
    assert.equal(await detectLayout(WS_CAPTURE), 'ws-capture');
    const r = await readSource(WS_CAPTURE);
    assert.deepEqual(r.report.read, { book: 46, trade: 64, bbo: 0 });
    const first = r.events.find((e) => e.kind === 'book')!;
    assert.equal(first.rxTime, 1737918843893.903);
    const s = await openStore(join(tmpRoot, 'ws-store'));
    const imp = await importSource(WS_CAPTURE, s);
    assert.deepEqual(imp.written, { book: 45, trade: 64, bbo: 0 });
    assert.equal(imp.duplicates, 1);
    await s.close();
  });
});

describe('malformed input is counted, located and skipped', () => {
  test('CSV rows with bad fields, unpaired/duplicated bbo halves, and a bad header', async () => {
    const dir = join(tmpRoot, 'bad-csv');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      join(dir, 'trades_ETH.csv'),
      [
        'timestamp,price,size,side,trade_id,exchange_timestamp',
        '1765401035.5,3331.7,0.1,sell,290739344471763,1765401030149',
        '1765401035.5,abc,0.1,sell,290739344471764,1765401030149', // line 3: price
        '1765401035.5,3331.7,0.1,hold,290739344471765,1765401030149', // line 4: side
        '1765401035.5,3331.7,0.1,buy,12x,1765401030149', // line 5: trade_id
        '', // blank: ignored
        '1765401036.5,3331.8,0.2,buy,290739344471766,', // line 7: exchange_timestamp
        '1765401036.5,3331.8,0.2,buy,290739344471767,1765401031000',
      ].join('\n'),
    );
    writeFileSync(
      join(dir, 'prices_ETH.csv'),
      [
        'timestamp,price,size,side,exchange_timestamp',
        '1765401035.5,3331.6,1,bid,1765401030100',
        '1765401035.5,3331.7,2,ask,1765401030100',
        '1765401035.5,3331.7,2,ask,1765401030100', // line 4: second ask for one message
        '1765401036.5,3331.6,1,bid,1765401031100', // unpaired: ask side NaN
      ].join('\n'),
    );
    writeFileSync(join(dir, 'orderbooks_ETH.csv'), 'time,foo\n1,2\n');
    const r = await readSource(dir);
    assert.deepEqual(r.report.read, { book: 0, trade: 2, bbo: 2 });
    assert.equal(r.report.malformed, 6);
    const where = r.report.malformedSamples.map((m) => `${m.file.split('/').pop()}:${m.line}`).sort();
    assert.deepEqual(where, [
      'orderbooks_ETH.csv:1',
      'prices_ETH.csv:4',
      'trades_ETH.csv:3',
      'trades_ETH.csv:4',
      'trades_ETH.csv:5',
      'trades_ETH.csv:7',
    ]);
    const lone = r.events.find((e) => e.kind === 'bbo' && e.exTime === 1765401031100) as BboEvent;
    assert.ok(Number.isNaN(lone.askPx) && lone.bidPx === 3331.6);
  });

  test('corrupt Parquet shard, bad LZ4 file, bad capture lines; nothing already stored is lost', async () => {
    // Seed layout with one good shard and one corrupt one.
    const seed = join(tmpRoot, 'bad-seed', 'ETH');
    mkdirSync(join(seed, 'trades'), { recursive: true });
    if (!sharedSkip) {
      cpSync(
        join(SEED_ETH, 'trades', 'trades_1765401094885.parquet'),
        join(seed, 'trades', 'trades_1.parquet'),
      );
    }
    writeFileSync(join(seed, 'trades', 'trades_2.parquet'), 'PAR1 this is not parquet');
    const seedRead = await readSource(join(tmpRoot, 'bad-seed'));
    assert.equal(seedRead.report.malformed, 1);
    assert.match(seedRead.report.malformedSamples[0].file, /trades_2\.parquet$/);
    assert.equal(seedRead.report.malformedSamples[0].line, 0);
    if (!sharedSkip) assert.ok(seedRead.report.read.trade > 0);

    const arch = join(tmpRoot, 'bad-archive', 'market_data', '20240101', '12', 'l2Book');
    mkdirSync(arch, { recursive: true });
    writeFileSync(join(arch, 'ETH.lz4'), 'not lz4');
    const archRead = await readSource(join(tmpRoot, 'bad-archive'));
    assert.equal(archRead.report.malformed, 1);
    assert.match(archRead.report.malformedSamples[0].reason, /LZ4/);

    const good =
      '1737918843893903000 {"channel":"trades","data":[{"coin":"BTC","side":"B","px":"1.0","sz":"2.0","time":1737918843000,"hash":"0x1","tid":7,"users":["0xa","0xb"]}]}';
    const capture = [
      good,
      '1737918843893903001 {"channel":"trades","data":[{"coin":"BTC","side":"Q"}]}', // line 2
      'garbage', // line 3
      '1737918843893903002 {"channel":', // line 4
      '1737918843893903003 {"channel":"subscriptionResponse","data":{}}', // not market data: ignored
    ].join('\n');
    const cap = join(tmpRoot, 'capture.gz');
    writeFileSync(cap, gzipSync(capture));
    const capRead = await readSource(cap);
    assert.equal(capRead.report.read.trade, 1);
    assert.deepEqual(
      capRead.report.malformedSamples.map((m) => m.line),
      [2, 3, 4],
    );

    // Importing the bad capture into a store that already has data keeps that data intact.
    const s = await openStore(join(tmpRoot, 'bad-store'));
    await importSource(cap, s);
    const before = (await s.query({ coin: 'BTC' })).events;
    const again = await importSource(cap, s);
    assert.equal(again.malformed, 3);
    assert.deepEqual((await s.query({ coin: 'BTC' })).events, before);
    await s.close();
  });

  test('unknown layouts and missing paths are refused with a message', async () => {
    const dir = join(tmpRoot, 'random');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    await assert.rejects(
      detectLayout(dir),
      (e: unknown) => e instanceof SourceError && /cannot tell the layout/.test(e.message),
    );
    await assert.rejects(detectLayout(join(dir, 'notes.txt')), SourceError);
    await assert.rejects(readSource(join(dir, 'missing')), /no such file/);
  });
});

test('shared data README still describes what these tests assume', { skip: sharedSkip }, () => {
  const readme = readFileSync(join(HL_DATA, 'README.md'), 'utf8');
  for (const s of ['2,081', '19,934', '6,385', '5,587', '46 book + 9 trade'])
    assert.ok(readme.includes(s), s);
});
