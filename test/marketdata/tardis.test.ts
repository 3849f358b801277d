/**
 * Tardis.dev CSV datasets (gzip, Tardis's documented columns) built from the real recordings: the BTC l2Book
 * archive as book_snapshot_25 and as incremental_book_L2 (Tardis-style: a snapshot, then per message the levels
 * that changed, amount 0 = removed, a re-snapshot mid-file), the seed ETH trades as `trades`. The independent
 * check: the book rebuilt from the incremental rows equals the snapshot taken at the same instant.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { Command } from 'commander';
import { register } from '../../src/cli/commands/data.ts';
import type { BookEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { openStore, queryFunding } from '../../src/marketdata/store/index.ts';
import { loadSeedTrades, type SeedTrade } from '../helpers/node-archive.ts';
import { ARCHIVE_ROOT, REPO_ROOT, sharedSkip } from '../helpers/shared.ts';

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-tardis-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
const H = 3_600_000;

async function cjmm(...args: string[]) {
  const program = new Command().exitOverride();
  register(program);
  const lines: string[] = [];
  const log = mock.method(console, 'log', (...a: unknown[]) => {
    lines.push(a.join(' '));
  });
  try {
    await program.parseAsync(['node', 'cjmm', ...args]);
    return { code: 0, out: `${lines.join('\n')}\n`, err: '' };
  } catch (e) {
    return {
      code: (e as { exitCode?: number }).exitCode ?? 1,
      out: lines.join('\n'),
      err: (e as Error).message,
    };
  } finally {
    log.mock.restore();
  }
}

const usText = (ms: number) => String(Math.round(ms * 1000));

function snapshotCsv(books: BookEvent[]): Buffer {
  const cols = ['exchange', 'symbol', 'timestamp', 'local_timestamp'];
  for (let i = 0; i < 25; i++)
    cols.push(`asks[${i}].price`, `asks[${i}].amount`, `bids[${i}].price`, `bids[${i}].amount`);
  const lines = [cols.join(',')];
  for (const b of books) {
    const row = ['hyperliquid', b.coin, usText(b.exTime), usText(b.rxTime)];
    for (let i = 0; i < 25; i++) {
      const a = b.asks[i];
      const d = b.bids[i];
      row.push(a ? String(a.px) : '', a ? String(a.sz) : '', d ? String(d.px) : '', d ? String(d.sz) : '');
    }
    lines.push(row.join(','));
  }
  return gzipSync(`${lines.join('\n')}\n`);
}

/** Tardis-style incremental rows: first book as a snapshot, then per book the changed levels; re-snapshot at `resnap`. */
function incrementalCsv(books: BookEvent[], resnap: number): Buffer {
  const lines = ['exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount'];
  let prev: BookEvent | undefined;
  books.forEach((b, k) => {
    const head = `hyperliquid,${b.coin},${usText(b.exTime)},${usText(b.rxTime)}`;
    if (!prev || k === resnap) {
      for (const l of b.bids) lines.push(`${head},true,bid,${l.px},${l.sz}`);
      for (const l of b.asks) lines.push(`${head},true,ask,${l.px},${l.sz}`);
    } else {
      for (const [side, now, was] of [
        ['bid', b.bids, prev.bids],
        ['ask', b.asks, prev.asks],
      ] as const) {
        const before = new Map(was.map((l) => [l.px, l.sz]));
        const after = new Map(now.map((l) => [l.px, l.sz]));
        for (const [px] of before) if (!after.has(px)) lines.push(`${head},false,${side},${px},0`);
        for (const [px, sz] of after)
          if (before.get(px) !== sz) lines.push(`${head},false,${side},${px},${sz}`);
      }
    }
    prev = b;
  });
  return gzipSync(`${lines.join('\n')}\n`);
}

function tradesCsv(seed: SeedTrade[]): Buffer {
  const lines = ['exchange,symbol,timestamp,local_timestamp,id,side,price,amount'];
  for (const t of seed)
    lines.push(`hyperliquid,ETH,${usText(t.ex)},${usText(t.ex + 812.5)},${t.tid},${t.side},${t.px},${t.sz}`);
  return gzipSync(`${lines.join('\n')}\n`);
}

const T0 = Date.UTC(2025, 11, 10, 20, 30);
/** Ticker every 20 min from 20:30 to 23:50, rate changing each row. */
function tickerCsv(): { csv: Buffer; rates: number[] } {
  const lines = [
    'exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price',
  ];
  const rates: number[] = [];
  for (let k = 0; k < 11; k++) {
    const t = T0 + k * 20 * 60_000;
    const rate = 1.25e-5 * (k - 4);
    rates.push(rate);
    lines.push(`hyperliquid,ETH,${usText(t)},${usText(t + 5)},,${rate},,123456.7,,${3300 + k},${3301 + k}`);
  }
  return { csv: gzipSync(`${lines.join('\n')}\n`), rates };
}

describe('Tardis.dev CSV import', { skip: sharedSkip }, () => {
  let books: BookEvent[];
  let seed: SeedTrade[];
  const dir = join(tmpRoot, 'csv');

  before(async () => {
    books = (await readSource(join(ARCHIVE_ROOT, 'market_data/20240101/12/l2Book/BTC.lz4')))
      .events as BookEvent[];
    seed = await loadSeedTrades();
    execFileSync('mkdir', ['-p', dir]);
    writeFileSync(join(dir, 'hyperliquid_book_snapshot_25_2024-01-01_BTC.csv.gz'), snapshotCsv(books));
    writeFileSync(
      join(dir, 'hyperliquid_incremental_book_L2_2024-01-01_BTC.csv.gz'),
      incrementalCsv(books, 2000),
    );
    writeFileSync(join(dir, 'hyperliquid_trades_2025-12-10_ETH.csv.gz'), tradesCsv(seed));
    writeFileSync(join(dir, 'hyperliquid_derivative_ticker_2025-12-10_ETH.csv.gz'), tickerCsv().csv);
    writeFileSync(
      join(dir, 'hyperliquid_quotes_2025-12-10_ETH.csv.gz'),
      gzipSync(
        'exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n' +
          `hyperliquid,ETH,${usText(T0)},${usText(T0 + 3)},1.5,3331.7,3331.6,2.25\n` +
          `hyperliquid,ETH,${usText(T0 + 1000)},${usText(T0 + 1003)},,,3331.5,4\n`,
      ),
    );
  });

  test('the book rebuilt from incremental_book_L2 equals book_snapshot_25 at every instant', async () => {
    const inc = join(tmpRoot, 's-inc');
    const snap = join(tmpRoot, 's-snap');
    let r = await cjmm(
      'data',
      'import',
      join(dir, 'hyperliquid_incremental_book_L2_2024-01-01_BTC.csv.gz'),
      '--store',
      inc,
    );
    assert.equal(r.code, 0, r.err);
    assert.match(r.out, /\(tardis, 1 file\)/);
    r = await cjmm(
      'data',
      'import',
      join(dir, 'hyperliquid_book_snapshot_25_2024-01-01_BTC.csv.gz'),
      '--store',
      snap,
    );
    assert.equal(r.code, 0, r.err);
    const read = async (d: string) => {
      const s = await openStore(d);
      try {
        return (await s.query({ coin: 'BTC', kinds: ['book'] })).events as BookEvent[];
      } finally {
        await s.close();
      }
    };
    const a = await read(inc);
    const b = await read(snap);
    // Every rebuilt book equals the snapshot of the same instant; and at every snapshot instant the rebuilt
    // book then in force equals it (a snapshot identical to the previous one brings no incremental rows).
    assert.ok(a.length > 5000 && a.length <= b.length, `${a.length} rebuilt, ${b.length} snapshots`);
    const snapAt = new Map(b.map((x) => [x.exTime, x]));
    for (const x of a) assert.deepEqual(x, snapAt.get(x.exTime));
    let j = -1;
    for (const x of b) {
      while (j + 1 < a.length && a[j + 1].exTime <= x.exTime) j++;
      assert.deepEqual([a[j].bids, a[j].asks], [x.bids, x.asks], `book at ${x.exTime}`);
    }
    // And both equal the archive's own books, order counts aside (Tardis drops them).
    const orig = new Map(books.map((x) => [x.exTime, x]));
    for (const x of a) {
      const o = orig.get(x.exTime) as BookEvent;
      assert.deepEqual(
        x.bids.map((l) => [l.px, l.sz]),
        o.bids.map((l) => [l.px, l.sz]),
      );
    }
  });

  test('trades, quotes and derivative_ticker (funding at each hour boundary), folder import', async () => {
    const store = join(tmpRoot, 's-all');
    const r = await cjmm('data', 'import', dir, '--store', store, '--coin', 'ETH', '--json');
    assert.equal(r.code, 0, r.err);
    const rep = JSON.parse(r.out);
    assert.equal(rep.layout, 'tardis');
    assert.equal(rep.read.trade, seed.length);
    assert.equal(rep.read.bbo, 2);
    const s = await openStore(store);
    try {
      const trades = (await s.query({ coin: 'ETH', kinds: ['trade'] })).events as TradeEvent[];
      assert.equal(trades.length, seed.length);
      const byTid = new Map(trades.map((t) => [t.tid, t]));
      for (const t of seed) {
        const got = byTid.get(t.tid) as TradeEvent;
        assert.deepEqual(
          [got.exTime, got.rxTime, got.px, got.sz, got.side],
          [t.ex, t.ex + 812.5, t.px, t.sz, t.side],
        );
      }
      const bbo = (await s.query({ coin: 'ETH', kinds: ['bbo'] })).events;
      assert.deepEqual(bbo[0], {
        kind: 'bbo',
        coin: 'ETH',
        exTime: T0,
        rxTime: T0 + 3,
        bidPx: 3331.6,
        bidSz: 2.25,
        askPx: 3331.7,
        askSz: 1.5,
      });
      assert.ok(Number.isNaN((bbo[1] as { askPx: number }).askPx));
      // Ticker rows at 20:30, 20:50, 21:10, …, 23:50: boundaries 21:00, 22:00, 23:00 paid at the rate in force.
      const { rates } = tickerCsv();
      const f = await queryFunding(s, 'ETH');
      assert.deepEqual(
        f.map((x) => [x.time, x.fundingRate, x.markPx, x.oraclePx]),
        [
          [T0 + 0.5 * H, rates[1], 3302, 3301],
          [T0 + 1.5 * H, rates[4], 3305, 3304],
          [T0 + 2.5 * H, rates[7], 3308, 3307],
        ],
      );
      assert.equal((await s.coins()).includes('BTC'), false, '--coin ETH imported BTC');
    } finally {
      await s.close();
    }
  });

  test('data download --source tardis through the tardis-dev client against a local datasets stub (HTTPS)', async (t) => {
    try {
      execFileSync('openssl', ['version'], { stdio: 'ignore' });
    } catch {
      t.skip('openssl not found: cannot make the local HTTPS certificate the tardis-dev client needs');
      return;
    }
    const key = join(tmpRoot, 'key.pem');
    const cert = join(tmpRoot, 'cert.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        key,
        '-out',
        cert,
        '-days',
        '1',
        '-subj',
        '/CN=127.0.0.1',
        '-addext',
        'subjectAltName=IP:127.0.0.1',
      ],
      { stdio: 'ignore' },
    );
    const served: string[] = [];
    const file = readFileSync(join(dir, 'hyperliquid_trades_2025-12-10_ETH.csv.gz'));
    const ticker = readFileSync(join(dir, 'hyperliquid_derivative_ticker_2025-12-10_ETH.csv.gz'));
    const server = createServer({ key: readFileSync(key), cert: readFileSync(cert) }, (req, res) => {
      served.push(`${req.url} ${req.headers.authorization}`);
      if (req.headers.authorization !== 'Bearer test-key') {
        res.statusCode = 401;
        res.end('{"message":"Invalid API key"}');
      } else if (req.url === '/v1/hyperliquid/trades/2025/12/10/ETH.csv.gz') res.end(file);
      else if (req.url === '/v1/hyperliquid/derivative_ticker/2025/12/10/ETH.csv.gz') res.end(ticker);
      else {
        res.statusCode = 400;
        res.end('{"message":"no such dataset"}');
      }
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as AddressInfo).port;
    try {
      const store = join(tmpRoot, 's-dl');
      const run = (o = { store, from: '2025-12-10', to: '2025-12-11', kinds: 'trade,funding', jobs: '2' }) =>
        new Promise<{ code: number | null; out: string; err: string }>((resolve) => {
          const p = spawn(
            process.execPath,
            [
              join(REPO_ROOT, 'src/cli/main.ts'),
              'data',
              'download',
              '--source',
              'tardis',
              '--coin',
              'ETH',
              '--from',
              o.from,
              '--to',
              o.to,
              '--kinds',
              o.kinds,
              '-j',
              o.jobs,
              '--endpoint',
              `https://127.0.0.1:${port}/v1`,
              '--store',
              o.store,
            ],
            { env: { ...process.env, TARDIS_API_KEY: 'test-key', NODE_EXTRA_CA_CERTS: cert } },
          );
          let out = '';
          let err = '';
          p.stdout.on('data', (d) => (out += d));
          p.stderr.on('data', (d) => (err += d));
          p.on('exit', (code) => resolve({ code, out, err }));
        });
      const r = await run();
      assert.equal(r.code, 0, r.err);
      assert.deepEqual(served.sort(), [
        '/v1/hyperliquid/derivative_ticker/2025/12/10/ETH.csv.gz Bearer test-key',
        '/v1/hyperliquid/trades/2025/12/10/ETH.csv.gz Bearer test-key',
      ]);
      const s = await openStore(store);
      try {
        assert.equal((await s.query({ coin: 'ETH', kinds: ['trade'] })).events.length, seed.length);
        // The ticker's hour boundaries 21:00, 22:00, 23:00 (its last row, 23:50, is too far from midnight).
        assert.deepEqual(
          (await queryFunding(s, 'ETH')).map((f) => f.time),
          [21, 22, 23].map((h) => Date.UTC(2025, 11, 10, h)),
        );
      } finally {
        await s.close();
      }
      // Resumable: the day is recorded complete, a rerun downloads nothing.
      const r2 = await run();
      assert.equal(r2.code, 0, r2.err);
      assert.equal(served.length, 2);
      assert.match(r2.out, /\(2 already complete\)/);

      // A day the server does not have (answered 400, not retried by tardis-dev) fails alone: the next day still
      // downloads (one at a time, the missing day first), the run exits 1 naming the file, and a rerun asks
      // only for the failed day again.
      served.length = 0;
      const gapStore = join(tmpRoot, 's-dl-missing-day');
      const two = { store: gapStore, from: '2025-12-09', to: '2025-12-11', kinds: 'trade', jobs: '1' };
      const r3 = await run(two);
      assert.equal(r3.code, 1, r3.err);
      assert.deepEqual(served, [
        '/v1/hyperliquid/trades/2025/12/09/ETH.csv.gz Bearer test-key',
        '/v1/hyperliquid/trades/2025/12/10/ETH.csv.gz Bearer test-key',
      ]);
      assert.match(
        r3.err,
        /1 of the Tardis files could not be downloaded.*trades\/2025\/12\/09\/ETH\.csv\.gz/,
      );
      assert.match(r3.out, /FAILED trades 2025-12-09/);
      const g = await openStore(gapStore);
      try {
        assert.equal((await g.query({ coin: 'ETH', kinds: ['trade'] })).events.length, seed.length);
      } finally {
        await g.close();
      }
      served.length = 0;
      const r4 = await run(two);
      assert.equal(r4.code, 1, r4.err);
      assert.deepEqual(served, ['/v1/hyperliquid/trades/2025/12/09/ETH.csv.gz Bearer test-key']);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('Tardis.dev CSV edge cases (hand-written files)', () => {
  const dir = join(tmpRoot, 'edge');
  const M = 60_000;
  const D0 = Date.UTC(2025, 11, 10);
  const tickerHeader =
    'exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price';
  const tickerRow = (t: number, rate: number) =>
    `hyperliquid,ETH,${usText(t)},${usText(t + 5)},,${rate},,1000,,${3000 + t / 1e9},${3001 + t / 1e9}`;
  const rateAt = (t: number) => 1e-6 * Math.round((t - D0) / M);

  before(() => {
    execFileSync('mkdir', ['-p', dir]);
    // Two day files, as Tardis cuts them at UTC midnight: a row a minute from 22:30 to 23:59:30, then from
    // 00:00:30 to 01:30 the next day. No row of either file crosses midnight.
    const day1 = [tickerHeader];
    for (let t = D0 + 22.5 * H; t < D0 + 24 * H; t += M) day1.push(tickerRow(t, rateAt(t)));
    day1.push(tickerRow(D0 + 24 * H - 30_000, rateAt(D0 + 24 * H - 30_000)));
    const day2 = [tickerHeader];
    for (let t = D0 + 24 * H + 30_000; t <= D0 + 25.5 * H; t += M) day2.push(tickerRow(t, rateAt(t)));
    writeFileSync(
      join(dir, 'hyperliquid_derivative_ticker_2025-12-10_ETH.csv.gz'),
      gzipSync(`${day1.join('\n')}\n`),
    );
    writeFileSync(
      join(dir, 'hyperliquid_derivative_ticker_2025-12-11_ETH.csv.gz'),
      gzipSync(`${day2.join('\n')}\n`),
    );
    // A snapshot, a second snapshot right after it (its own message), then an update.
    const t1 = usText(D0 + 1000);
    const t2 = usText(D0 + 2000);
    const t3 = usText(D0 + 3000);
    writeFileSync(
      join(dir, 'hyperliquid_incremental_book_L2_2025-12-10_BTC.csv.gz'),
      gzipSync(
        [
          'exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount',
          `hyperliquid,BTC,${t1},${t1},true,bid,100,1`,
          `hyperliquid,BTC,${t1},${t1},true,bid,99,2`,
          `hyperliquid,BTC,${t1},${t1},true,ask,101,1`,
          `hyperliquid,BTC,${t2},${t2},true,bid,98,1`,
          `hyperliquid,BTC,${t2},${t2},true,ask,102,3`,
          `hyperliquid,BTC,${t3},${t3},false,bid,98,0`,
          `hyperliquid,BTC,${t3},${t3},false,bid,97.5,4`,
          `hyperliquid,BTC,${t3},${t3},false,ask,101.5,2`,
        ].join('\n'),
      ),
    );
  });

  test('derivative_ticker: the midnight settlement between two day files is kept, at the rate in force before it', async () => {
    for (const order of ['folder', 'reversed'] as const) {
      const store = join(tmpRoot, `edge-funding-${order}`);
      const files =
        order === 'folder'
          ? [dir]
          : [
              join(dir, 'hyperliquid_derivative_ticker_2025-12-11_ETH.csv.gz'),
              join(dir, 'hyperliquid_derivative_ticker_2025-12-10_ETH.csv.gz'),
            ];
      for (const f of files) {
        const r = await cjmm('data', 'import', f, '--store', store, '--coin', 'ETH');
        assert.equal(r.code, 0, r.err);
      }
      const s = await openStore(store);
      try {
        const f = await queryFunding(s, 'ETH');
        // Each settlement at the rate of the last row before it: 22:59, 23:59:30 (day 1's last row), 00:59:30.
        const last = [D0 + 23 * H - M, D0 + 24 * H - 30_000, D0 + 25 * H - 30_000];
        assert.deepEqual(
          f.map((x) => [x.time, x.fundingRate]),
          [23, 24, 25].map((h, i) => [D0 + h * H, rateAt(last[i])]),
          order,
        );
      } finally {
        await s.close();
      }
    }
  });

  test('incremental_book_L2: a snapshot right after another replaces it (not merged into it)', async () => {
    const store = join(tmpRoot, 'edge-book');
    const r = await cjmm(
      'data',
      'import',
      join(dir, 'hyperliquid_incremental_book_L2_2025-12-10_BTC.csv.gz'),
      '--store',
      store,
    );
    assert.equal(r.code, 0, r.err);
    const s = await openStore(store);
    try {
      const books = (await s.query({ coin: 'BTC', kinds: ['book'] })).events as BookEvent[];
      const lv = (l: { px: number; sz: number }[]) => l.map((x) => [x.px, x.sz]);
      assert.deepEqual(
        books.map((b) => [b.exTime - D0, lv(b.bids), lv(b.asks)]),
        [
          [
            1000,
            [
              [100, 1],
              [99, 2],
            ],
            [[101, 1]],
          ],
          [2000, [[98, 1]], [[102, 3]]],
          [
            3000,
            [[97.5, 4]],
            [
              [101.5, 2],
              [102, 3],
            ],
          ],
        ],
      );
    } finally {
      await s.close();
    }
  });
});
