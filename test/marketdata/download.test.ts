/**
 * `cjmm data download` against a local S3-compatible stub serving archive files built from the real recordings:
 * the BTC l2Book archive file as is, and the seed-collector ETH trades turned into node_trades, node_fills and
 * node_fills_by_block hourly files (synthetic users, other coins mixed in).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, mock, test } from 'node:test';
import { Command } from 'commander';
import { register } from '../../src/cli/commands/data.ts';
import { derivedTid } from '../../src/marketdata/download/node-data.ts';
import type { TradeEvent } from '../../src/marketdata/events.ts';
import { openStore, queryFunding } from '../../src/marketdata/store/index.ts';
import {
  loadSeedTrades,
  nodeFillsByBlockFile,
  nodeFillsFile,
  nodeKey,
  nodeTradesFile,
  SEED_HOUR,
  type SeedTrade,
  userOf,
} from '../helpers/node-archive.ts';
import { S3Stub } from '../helpers/s3-stub.ts';
import { ARCHIVE_ROOT, REPO_ROOT, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';

const H = 3_600_000;
const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-download-'));
const ENV = {
  AWS_ACCESS_KEY_ID: 'AKIDTESTSTUB',
  AWS_SECRET_ACCESS_KEY: 'stub-secret',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
  AWS_CONFIG_FILE: join(tmpRoot, 'no-aws-config'),
  AWS_SHARED_CREDENTIALS_FILE: join(tmpRoot, 'no-aws-credentials'),
};
const savedEnv: Record<string, string | undefined> = {};

/** Six by-block hours: the seed hour shifted by k hours, tids offset by k·10^15; hour 3 missing, hour 4 corrupt. */
const BLOCK_HOURS = [0, 1, 2, 3, 4, 5].map((k) => SEED_HOUR + k * H);
const NODE_TRADES_HOUR = Date.UTC(2025, 3, 1, 10);
const NODE_FILLS_HOUR = Date.UTC(2025, 5, 1, 10);
const BOOK_HOUR = Date.UTC(2024, 0, 1, 12);

let stub: S3Stub;
let seed: SeedTrade[];
let goodHour4: Buffer;

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

async function trades(storeDir: string, coin = 'ETH', from?: number, to?: number): Promise<TradeEvent[]> {
  const store = await openStore(storeDir);
  try {
    return (await store.query({ coin, kinds: ['trade'], from, to })).events as TradeEvent[];
  } finally {
    await store.close();
  }
}

const iso = (ms: number) => new Date(ms).toISOString();

describe('cjmm data download (local S3 stub)', { skip: sharedSkip }, () => {
  before(async () => {
    for (const [k, v] of Object.entries(ENV)) {
      savedEnv[k] = process.env[k];
      process.env[k] = v;
    }
    seed = await loadSeedTrades();
    stub = new S3Stub();
    await stub.start();
    stub.put(
      'hyperliquid-archive',
      'market_data/20240101/12/l2Book/BTC.lz4',
      readFileSync(join(ARCHIVE_ROOT, 'market_data/20240101/12/l2Book/BTC.lz4')),
    );
    stub.put(
      'hl-mainnet-node-data',
      nodeKey('node_trades', NODE_TRADES_HOUR),
      nodeTradesFile(seed, NODE_TRADES_HOUR - SEED_HOUR),
    );
    stub.put(
      'hl-mainnet-node-data',
      nodeKey('node_fills', NODE_FILLS_HOUR),
      nodeFillsFile(seed, NODE_FILLS_HOUR - SEED_HOUR, 0),
    );
    BLOCK_HOURS.forEach((h, k) => {
      if (k === 3) return; // the archive lacks this hour
      const file = nodeFillsByBlockFile(seed, h - SEED_HOUR, k * 1e15);
      if (k === 4) {
        goodHour4 = file;
        stub.put(
          'hl-mainnet-node-data',
          nodeKey('node_fills_by_block', h),
          file.subarray(0, file.length - 1000),
        );
      } else stub.put('hl-mainnet-node-data', nodeKey('node_fills_by_block', h), file);
    });
    // Hourly funding for ten days, settled 18 ms after each hour (as Hyperliquid does): several API pages.
    const t0 = SEED_HOUR - 5 * 24 * H;
    stub.funding = Array.from({ length: 240 * 5 }, (_, i) => ({
      coin: i % 5 === 0 ? 'BTC' : 'ETH',
      fundingRate: (1.25e-5 * ((i % 7) - 3)).toString(),
      premium: (-3e-4 + i * 1e-7).toString(),
      time: t0 + Math.floor(i / 5) * (H / 2) + 18 + (i % 5),
    }));
  });
  after(async () => {
    await stub.stop();
    for (const [k, v] of Object.entries(savedEnv)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    rmSync(tmpRoot, { recursive: true, force: true });
  });

  test('--dry-run lists files, bytes and cost and sends no GET', async () => {
    const before = stub.requests.get;
    const r = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH',
      '--from',
      iso(BLOCK_HOURS[0]),
      '--to',
      iso(BLOCK_HOURS[5] + H),
      '--kinds',
      'book,trade',
      '--endpoint',
      stub.url,
      '--dry-run',
      '--store',
      join(tmpRoot, 'dry'),
    );
    assert.equal(r.code, 0, r.err);
    assert.equal(stub.requests.get, before, 'a dry run fetched an object');
    assert.equal(existsSync(join(tmpRoot, 'dry')), false, 'a dry run created the store');
    const sizes = BLOCK_HOURS.filter((_, k) => k !== 3).map(
      (h) => stub.objects.get(`hl-mainnet-node-data/${nodeKey('node_fills_by_block', h)}`)?.length,
    );
    for (const [i, h] of BLOCK_HOURS.filter((_, k) => k !== 3).entries())
      assert.match(
        r.out,
        new RegExp(`s3://hl-mainnet-node-data/${nodeKey('node_fills_by_block', h)}  ${sizes[i]}\\n`),
      );
    const total = sizes.reduce((a, b) => (a ?? 0) + (b ?? 0), 0) as number;
    assert.match(r.out, new RegExp(`5 files, ${(total / 1e6).toFixed(1)} MB to download`));
    // Six ETH book hours and one trade hour are missing from the archive.
    assert.match(r.out, /7 missing in the archive/);
    // Transfer at $0.114/GB plus 5 GETs at $0.00037 per 1,000: fractions of a cent, shown to 2 significant digits.
    const cost = (total / 1e9) * 0.114 + (5 / 1000) * 0.00037;
    assert.ok(cost < 0.01);
    assert.match(
      r.out,
      new RegExp(
        `estimated transfer cost: US\\$${cost.toPrecision(2)} at \\$0.114/GB .*GET requests included`,
      ),
    );
  });

  test('node_fills_by_block: exact trades, aggressor from the taker fill, users kept, missing hour → gap, corrupt hour → named error and nothing stored', async () => {
    const store = join(tmpRoot, 'blocks');
    const r = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH',
      '--from',
      iso(BLOCK_HOURS[0]),
      '--to',
      iso(BLOCK_HOURS[5] + H),
      '--kinds',
      'trade',
      '-j',
      '2',
      '--endpoint',
      stub.url,
      '--with-users',
      '--store',
      store,
    );
    // The corrupt hour fails the command and is named; the others are stored.
    assert.equal(r.code, 1, r.out);
    assert.match(
      r.err,
      new RegExp(`s3://hl-mainnet-node-data/${nodeKey('node_fills_by_block', BLOCK_HOURS[4])}: truncated`),
    );
    assert.equal(
      (await trades(store, 'ETH', BLOCK_HOURS[4], BLOCK_HOURS[4] + H)).length,
      0,
      'rows of the corrupt hour were stored',
    );
    const ledger = readFileSync(join(store, 'coin=ETH', 'downloads.jsonl'), 'utf8');
    assert.doesNotMatch(ledger, new RegExp(`"hour":"${iso(BLOCK_HOURS[4])}"`));
    // The corrupt hour does not stop the others: every other hour is stored, the report lists the failed one.
    assert.match(r.out, /downloaded into .*: 5 hours/);
    assert.match(
      r.out,
      new RegExp(
        `hours NOT stored, a file could not be read: 1\\n +${iso(BLOCK_HOURS[4]).slice(0, 13)} s3://hl-mainnet-node-data/${nodeKey('node_fills_by_block', BLOCK_HOURS[4])}`,
      ),
    );
    assert.equal(
      (await trades(store, 'ETH', BLOCK_HOURS[5], BLOCK_HOURS[5] + H)).length,
      seed.length,
      'the hour after the corrupt one was not stored',
    );

    // Fix the file in the archive and resume: only the hour not recorded complete is fetched again.
    const completeBefore = ledger.split('\n').filter((l) => l.includes('"complete"')).length;
    assert.equal(completeBefore, 4);
    stub.put('hl-mainnet-node-data', nodeKey('node_fills_by_block', BLOCK_HOURS[4]), goodHour4);
    const gets = stub.requests.get;
    const r2 = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH',
      '--from',
      iso(BLOCK_HOURS[0]),
      '--to',
      iso(BLOCK_HOURS[5] + H),
      '--kinds',
      'trade',
      '--endpoint',
      stub.url,
      '--with-users',
      '--store',
      store,
    );
    assert.equal(r2.code, 0, r2.err);
    assert.equal(stub.requests.get - gets, 5 - completeBefore, 'resume fetched a complete hour again');

    const got = await trades(store);
    assert.equal(got.length, 5 * seed.length);
    const byTid = new Map(got.map((t) => [t.tid, t]));
    for (const k of [0, 1, 2, 4, 5]) {
      seed.forEach((s, i) => {
        const t = byTid.get(s.tid + k * 1e15);
        assert.ok(t, `trade ${s.tid} of hour ${k} missing`);
        assert.equal(t.exTime, s.ex + k * H);
        assert.equal(t.rxTime, s.ex + k * H + 250);
        assert.equal(t.px, s.px);
        assert.equal(t.sz, s.sz);
        assert.equal(t.side, s.side);
        assert.equal(t.buyer, userOf(i, 'buyer'));
        assert.equal(t.seller, userOf(i, 'seller'));
      });
    }
    const st = await openStore(store);
    try {
      const gaps = await st.gaps('ETH');
      assert.deepEqual(
        gaps.map((g) => [g.kind, g.start, g.end]),
        [['trade', BLOCK_HOURS[3], BLOCK_HOURS[3] + H]],
      );
      assert.match(
        gaps[0].reason,
        /archive has no s3:\/\/hl-mainnet-node-data\/node_fills_by_block\/hourly\/20251211\/0\.lz4/,
      );
      assert.deepEqual(await st.coins(), ['ETH'], 'another coin of the hourly files was stored');
    } finally {
      await st.close();
    }
    // Nothing left to do: a third run fetches nothing and writes nothing.
    const gets3 = stub.requests.get;
    const r3 = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH',
      '--from',
      iso(BLOCK_HOURS[0]),
      '--to',
      iso(BLOCK_HOURS[5] + H),
      '--kinds',
      'trade',
      '--endpoint',
      stub.url,
      '--store',
      store,
      '--json',
    );
    assert.equal(r3.code, 0, r3.err);
    assert.equal(stub.requests.get, gets3);
    assert.equal(JSON.parse(r3.out).plan.skipped, 6);
  });

  test('node_fills and node_trades: one market trade per trade, exact counts; no users unless asked', async () => {
    const store = join(tmpRoot, 'older');
    for (const hour of [NODE_FILLS_HOUR, NODE_TRADES_HOUR]) {
      const r = await cjmm(
        'data',
        'download',
        '--coin',
        'ETH',
        '--from',
        iso(hour),
        '--to',
        iso(hour + H),
        '--kinds',
        'trade',
        '--endpoint',
        stub.url,
        '--store',
        store,
      );
      assert.equal(r.code, 0, r.err);
    }
    const fills = await trades(store, 'ETH', NODE_FILLS_HOUR, NODE_FILLS_HOUR + H);
    assert.equal(fills.length, seed.length);
    const byTid = new Map(fills.map((t) => [t.tid, t]));
    for (const s of seed) {
      const t = byTid.get(s.tid);
      assert.ok(t);
      assert.deepEqual(
        [t.exTime, t.px, t.sz, t.side],
        [s.ex + NODE_FILLS_HOUR - SEED_HOUR, s.px, s.sz, s.side],
      );
      assert.equal(t.buyer, undefined);
    }
    // node_trades has no tid: the derived one is the hash of the two order ids.
    const nt = await trades(store, 'ETH', NODE_TRADES_HOUR, NODE_TRADES_HOUR + H);
    assert.equal(nt.length, seed.length);
    const byDerived = new Map(nt.map((t) => [t.tid, t]));
    seed.forEach((s, i) => {
      const t = byDerived.get(derivedTid(2 * i + 1, 2 * i + 2));
      assert.ok(t, `node_trades line ${i} missing`);
      assert.deepEqual(
        [t.exTime, t.px, t.sz, t.side],
        [s.ex + NODE_TRADES_HOUR - SEED_HOUR, s.px, s.sz, s.side],
      );
      assert.ok(t.tid >= 2 ** 52 && t.tid < 2 ** 53);
    });
  });

  test('books from the l2Book archive file, funding paged from fundingHistory', async () => {
    const store = join(tmpRoot, 'books');
    const r = await cjmm(
      'data',
      'download',
      '--coin',
      'BTC',
      '--from',
      iso(BOOK_HOUR),
      '--to',
      iso(BOOK_HOUR + H),
      '--kinds',
      'book',
      '--endpoint',
      stub.url,
      '--store',
      store,
    );
    assert.equal(r.code, 0, r.err);
    const st = await openStore(store);
    try {
      const books = (await st.query({ coin: 'BTC', kinds: ['book'] })).events;
      // The same file through `data import` (the archive importer) gives the same books.
      const direct = await openStore(join(tmpRoot, 'books-import'));
      try {
        const imp = await cjmm(
          'data',
          'import',
          join(ARCHIVE_ROOT, 'market_data/20240101/12/l2Book/BTC.lz4'),
          '--store',
          direct.dir,
        );
        assert.equal(imp.code, 0, imp.err);
      } finally {
        await direct.close();
      }
      const again = await openStore(join(tmpRoot, 'books-import'));
      try {
        assert.deepEqual(books, (await again.query({ coin: 'BTC', kinds: ['book'] })).events);
      } finally {
        await again.close();
      }
      assert.equal(books.length, 5587);
    } finally {
      await st.close();
    }

    const from = SEED_HOUR - 3 * 24 * H;
    const to = SEED_HOUR + 24 * H;
    const infos = stub.requests.info;
    const f = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH,BTC',
      '--from',
      iso(from),
      '--to',
      iso(to),
      '--kinds',
      'funding',
      '--endpoint',
      stub.url,
      '--info-url',
      `${stub.url}/info`,
      '--store',
      store,
    );
    assert.equal(f.code, 0, f.err);
    const st2 = await openStore(store);
    try {
      for (const coin of ['ETH', 'BTC']) {
        const expected = stub.funding.filter((x) => x.coin === coin && x.time >= from && x.time < to);
        const got = await queryFunding(st2, coin);
        assert.equal(got.length, expected.length);
        assert.deepEqual(
          got.map((g) => [g.time, g.fundingRate, g.premium]),
          expected.map((x) => [x.time, Number(x.fundingRate), Number(x.premium)]),
        );
      }
    } finally {
      await st2.close();
    }
    // Three days of data in range: ETH 8 settlements an hour = 576 rows → two pages (500 + 76); BTC 144 → one.
    assert.equal(stub.requests.info - infos, 3);
  });

  test('killed mid-way, then rerun: the same store as one uninterrupted run, no duplicates', async () => {
    const clean = join(tmpRoot, 'clean');
    const killed = join(tmpRoot, 'killed');
    const range = ['--from', iso(BLOCK_HOURS[0]), '--to', iso(BLOCK_HOURS[2] + H)];
    const one = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH',
      ...range,
      '--kinds',
      'trade',
      '--endpoint',
      stub.url,
      '--store',
      clean,
    );
    assert.equal(one.code, 0, one.err);

    stub.getDelayMs = 400;
    const child = spawn(
      process.execPath,
      [
        join(REPO_ROOT, 'src/cli/main.ts'),
        'data',
        'download',
        '--coin',
        'ETH',
        ...range,
        '--kinds',
        'trade',
        '-j',
        '1',
        '--endpoint',
        stub.url,
        '--store',
        killed,
      ],
      { env: { ...process.env, ...ENV }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const ledger = join(killed, 'coin=ETH', 'downloads.jsonl');
    await waitFor(
      () => existsSync(ledger) && readFileSync(ledger, 'utf8').includes('"status":"complete"'),
      'the first complete hour',
      60_000,
    );
    child.kill('SIGKILL');
    await exited;
    stub.getDelayMs = 0;
    const doneBefore = readFileSync(ledger, 'utf8')
      .split('\n')
      .filter((l) => l.includes('"complete"')).length;
    assert.ok(doneBefore >= 1 && doneBefore < 3, `killed after ${doneBefore} hours`);

    const rerun = await cjmm(
      'data',
      'download',
      '--coin',
      'ETH',
      ...range,
      '--kinds',
      'trade',
      '--endpoint',
      stub.url,
      '--store',
      killed,
      '--json',
    );
    assert.equal(rerun.code, 0, rerun.err);
    assert.equal(JSON.parse(rerun.out).plan.skipped, doneBefore);
    const a = await trades(clean);
    const b = await trades(killed);
    assert.equal(a.length, 3 * seed.length);
    assert.deepEqual(b, a);
  });

  test('usage errors name the flag and exit 2; no credentials is explained', async () => {
    const bad = [
      [['--coin', 'ETH', '--from', '2025-08-02', '--to', '2025-08-01'], /--to must be after --from/],
      [
        ['--coin', 'ETH', '--from', '2025-08-01', '--to', '2025-08-02', '--kinds', 'quotes'],
        /--kinds: quotes is not one of book, trade, funding/,
      ],
      [
        ['--coin', 'ETH', '--from', '2025-08-01', '--to', '2025-08-02', '-j', '0'],
        /-j\/--jobs must be an integer/,
      ],
      [['--coin', 'ETH', '--from', 'yesterday', '--to', '2025-08-02'], /--from: cannot read "yesterday"/],
      [
        ['--coin', 'ETH', '--from', '2025-08-01', '--to', '2025-08-02', '--source', 'kaiko'],
        /--source must be hyperliquid or tardis/,
      ],
    ] as const;
    for (const [args, re] of bad) {
      const r = await cjmm('data', 'download', ...args, '--store', join(tmpRoot, 'never'));
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, re);
    }
    delete process.env.AWS_ACCESS_KEY_ID;
    delete process.env.AWS_SECRET_ACCESS_KEY;
    try {
      const r = await cjmm(
        'data',
        'download',
        '--coin',
        'ETH',
        '--from',
        iso(BLOCK_HOURS[0]),
        '--to',
        iso(BLOCK_HOURS[0] + H),
        '--kinds',
        'trade',
        '--endpoint',
        stub.url,
        '--dry-run',
      );
      assert.equal(r.code, 2, r.err);
      assert.match(r.err, /no AWS credentials: the Hyperliquid buckets are requester-pays/);
    } finally {
      process.env.AWS_ACCESS_KEY_ID = ENV.AWS_ACCESS_KEY_ID;
      process.env.AWS_SECRET_ACCESS_KEY = ENV.AWS_SECRET_ACCESS_KEY;
    }
  });
});
