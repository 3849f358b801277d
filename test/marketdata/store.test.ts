import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { BboEvent, BookEvent, Gap, MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { compareEvents } from '../../src/marketdata/source.ts';
import { openStore, StoreError, StoreLockedError } from '../../src/marketdata/store/index.ts';
import { Rng } from '../../src/util/rng.ts';

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-store-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let nDirs = 0;
const freshDir = () => join(tmpRoot, `s${nDirs++}`);

const T0 = Date.UTC(2025, 11, 10, 21, 40, 0); // 21:40 UTC: the synthetic stream crosses into hour 22

/** A synthetic multi-kind stream with known content: variable depths, missing sides, optional fields. */
function synthetic(seed: number, coin: string, n: number): MarketEvent[] {
  const rng = new Rng(seed);
  const out: MarketEvent[] = [];
  let t = T0;
  let tid = 1_000_000_000_000;
  for (let i = 0; i < n; i++) {
    t += 1 + rng.int(900);
    const rx = t + 50 + rng.uniform() * 1000; // fractional receive time
    const mid = 3000 + rng.normal();
    const r = rng.int(3);
    if (r === 0) {
      const depth = rng.int(21); // 0..20, an empty side included
      const bids = Array.from({ length: depth }, (_, k) => ({
        px: Math.round((mid - 0.05 - k * 0.1) * 10) / 10,
        sz: Math.round(rng.uniform() * 1e5) / 1e4,
        n: 1 + rng.int(30),
      }));
      const asks = Array.from({ length: rng.int(21) }, (_, k) => ({
        px: Math.round((mid + 0.05 + k * 0.1) * 10) / 10,
        sz: Math.round(rng.uniform() * 1e5) / 1e4,
        n: 1 + rng.int(30),
      }));
      out.push({ kind: 'book', coin, exTime: t, rxTime: rx, bids, asks } satisfies BookEvent);
    } else if (r === 1) {
      const missingAsk = rng.bernoulli(0.1);
      out.push({
        kind: 'bbo',
        coin,
        exTime: t,
        rxTime: rx,
        bidPx: mid - 0.05,
        bidSz: rng.uniform() * 10,
        askPx: missingAsk ? Number.NaN : mid + 0.05,
        askSz: missingAsk ? Number.NaN : rng.uniform() * 10,
      } satisfies BboEvent);
    } else {
      const fills = 1 + rng.int(3);
      for (let f = 0; f < fills; f++) {
        const ev: TradeEvent = {
          kind: 'trade',
          coin,
          exTime: t,
          rxTime: rx,
          px: mid,
          sz: 0.001 + rng.uniform(),
          side: rng.bernoulli(0.5) ? 'buy' : 'sell',
          tid: tid + rng.int(1000),
        };
        tid += 1000;
        if (rng.bernoulli(0.7)) {
          ev.hash = `0x${rng.nextU32().toString(16).padStart(64, '0')}`;
          ev.buyer = `0x${'a'.repeat(40)}`;
          ev.seller = `0x${'b'.repeat(40)}`;
        }
        out.push(ev);
      }
    }
  }
  return out;
}

describe('market store', () => {
  test('round trip is exact, sorted, partitioned by coin/kind/date/hour of exchange time', async () => {
    const dir = freshDir();
    const eth = synthetic(1, 'ETH', 6000);
    const sol = synthetic(2, 'xyz:SOL', 300);
    const store = await openStore(dir);
    // Written shuffled: the store must sort.
    const rng = new Rng(9);
    const shuffled = [...eth, ...sol];
    for (let i = shuffled.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [shuffled[i], shuffled[j]] = [shuffled[j], shuffled[i]];
    }
    const res = await store.write(shuffled);
    const count = (evs: MarketEvent[], k: string) => evs.filter((e) => e.kind === k).length;
    assert.deepEqual(res.written, {
      book: count(shuffled, 'book'),
      trade: count(shuffled, 'trade'),
      bbo: count(shuffled, 'bbo'),
    });
    assert.equal(res.duplicates, 0);
    const q = await store.query({ coin: 'ETH' });
    assert.deepEqual(q.events, [...eth].sort(compareEvents));
    assert.deepEqual((await store.query({ coin: 'xyz:SOL' })).events, [...sol].sort(compareEvents));
    assert.deepEqual(await store.coins(), ['ETH', 'xyz:SOL']);
    // Hive folders by exchange hour: the stream starts at 21:40 and runs past 22:00.
    assert.ok(eth.at(-1)!.exTime > Date.UTC(2025, 11, 10, 22));
    const kindDir = join(dir, 'coin=ETH', 'kind=trade', 'date=2025-12-10');
    assert.deepEqual(readdirSync(kindDir), ['hour=21', 'hour=22']);
    for (const h of ['hour=21', 'hour=22']) {
      for (const f of readdirSync(join(kindDir, h))) assert.match(f, /^part-\d+-\d+-\d+\.parquet$/);
    }
    assert.ok(existsSync(join(dir, 'coin=xyz%3ASOL')));
    await store.close();
  });

  test('query window is [from, to) on exchange time and filters kinds', async () => {
    const dir = freshDir();
    const evs = synthetic(3, 'ETH', 3000);
    const store = await openStore(dir);
    await store.write(evs);
    const sorted = [...evs].sort(compareEvents);
    const from = sorted[500].exTime;
    const to = sorted[2000].exTime;
    const q = await store.query({ coin: 'ETH', from, to, kinds: ['trade', 'bbo'] });
    const want = sorted.filter((e) => e.exTime >= from && e.exTime < to && e.kind !== 'book');
    assert.deepEqual(q.events, want);
    assert.equal((await store.query({ coin: 'NOPE' })).events.length, 0);
    await store.close();
  });

  test('duplicates are dropped within a batch, across batches, and after reopening (cold cache)', async () => {
    const dir = freshDir();
    const evs = synthetic(4, 'ETH', 2000);
    const total = evs.length;
    let store = await openStore(dir);
    const half = Math.floor(total / 2);
    // First half, with its first 100 events repeated inside the same batch (a replay after reconnect).
    const r1 = await store.write([...evs.slice(0, half), ...evs.slice(0, 100)]);
    assert.equal(r1.duplicates, 100);
    // Second write overlaps the first by 300 events.
    const r2 = await store.write(evs.slice(half - 300));
    assert.equal(r2.duplicates, 300);
    await store.close();
    store = await openStore(dir);
    const r3 = await store.write(evs);
    assert.equal(r3.duplicates, total);
    assert.deepEqual(r3.written, { book: 0, trade: 0, bbo: 0 });
    // A trade with the same tid but a different time is a different trade.
    const t = evs.find((e) => e.kind === 'trade') as TradeEvent;
    const r4 = await store.write([{ ...t, exTime: t.exTime + 1 }]);
    assert.equal(r4.written.trade, 1);
    const q = await store.query({ coin: 'ETH' });
    assert.equal(q.events.length, total + 1);
    await store.close();
  });

  test('gaps are stored per coin, merged idempotently, and returned when they overlap the window', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    const gaps: Gap[] = [
      { coin: 'ETH', kind: 'all', start: T0 + 10_000, end: T0 + 20_000, reason: 'disconnect' },
      { coin: 'ETH', kind: 'trade', start: T0 + 50_000, end: T0 + 60_000, reason: 'trade feed stale' },
      { coin: 'BTC', kind: 'all', start: T0, end: T0 + 5_000, reason: 'restart' },
    ];
    assert.equal((await store.write([], gaps)).gaps, 3);
    assert.equal((await store.write([], gaps)).gaps, 0);
    assert.deepEqual(await store.gaps('ETH'), gaps.slice(0, 2));
    const q = await store.query({ coin: 'ETH', from: T0 + 15_000, to: T0 + 40_000 });
    assert.deepEqual(q.gaps, [gaps[0]]);
    const qb = await store.query({ coin: 'ETH', kinds: ['book'] });
    assert.deepEqual(qb.gaps, [gaps[0]]);
    await store.close();
  });

  test('readers ignore temp files; summary counts rows, first/last time and gaps', async () => {
    const dir = freshDir();
    const evs = synthetic(5, 'ETH', 800);
    let store = await openStore(dir);
    await store.write(evs, [{ coin: 'ETH', kind: 'all', start: T0, end: T0 + 1000, reason: 'x' }]);
    // A crash mid-write leaves a dot-prefixed temp file: it must be invisible.
    const hourDir = join(dir, 'coin=ETH', 'kind=trade', 'date=2025-12-10', 'hour=21');
    writeFileSync(join(hourDir, '.part-1-2-3.parquet.tmp'), 'half a parquet file');
    const q = await store.query({ coin: 'ETH' });
    assert.equal(q.events.length, evs.length);
    // The next writer (after a reopen, cold cache) clears the crashed writer's leftovers in that partition.
    await store.close();
    store = await openStore(dir);
    await store.write(evs.slice(0, 5));
    assert.ok(!readdirSync(hourDir).some((f) => f.endsWith('.tmp')));
    const sum = await store.summary();
    for (const kind of ['book', 'trade', 'bbo'] as const) {
      const mine = evs.filter((e) => e.kind === kind);
      const row = sum.find((r) => r.kind === kind)!;
      assert.equal(row.rows, mine.length);
      assert.equal(row.start, Math.min(...mine.map((e) => e.exTime)));
      assert.equal(row.end, Math.max(...mine.map((e) => e.exTime)));
      assert.equal(row.gaps.length, 1);
    }
    await store.close();
  });

  test('a live writer lock refuses a second writer; a stale lock is taken over', async () => {
    const dir = freshDir();
    const store = await openStore(dir);
    // The parent process is alive and is not us: its lock must be respected.
    writeFileSync(join(dir, '.writer.lock'), String(process.ppid));
    await assert.rejects(store.write(synthetic(6, 'ETH', 10)), StoreLockedError);
    // Reading needs no lock.
    assert.equal((await store.query({ coin: 'ETH' })).events.length, 0);
    // A pid that does not exist: stale, taken over.
    writeFileSync(join(dir, '.writer.lock'), '4194000');
    const r = await store.write(synthetic(6, 'ETH', 10));
    assert.ok(r.written.book + r.written.bbo + r.written.trade > 0);
    await store.close();
    assert.equal(existsSync(join(dir, '.writer.lock')), false);
  });

  test('unstorable events are counted and skipped; bad query bounds are refused', async () => {
    const store = await openStore(freshDir());
    const good = synthetic(7, 'ETH', 20);
    const t = good.find((e) => e.kind === 'trade') as TradeEvent;
    const bad: MarketEvent[] = [
      { ...t, exTime: Number.NaN },
      { ...t, tid: 1.5 },
      { ...t, coin: '' },
      { ...good[0], rxTime: Number.POSITIVE_INFINITY },
      { kind: 'book', coin: 'ETH', exTime: T0, rxTime: T0, bids: [{ px: 1, sz: 1, n: 0.5 }], asks: [] },
    ];
    const r = await store.write([...bad, ...good]);
    assert.equal(r.rejected, 5);
    assert.equal(r.written.book + r.written.trade + r.written.bbo, good.length);
    assert.deepEqual((await store.query({ coin: 'ETH' })).events, [...good].sort(compareEvents));
    await assert.rejects(store.query({ coin: 'ETH', from: Number.NaN }), RangeError);
    await store.close();
  });

  test('refuses a non-empty folder that is not a store', async () => {
    const dir = freshDir();
    await openStore(dir).then((s) => s.close());
    const notStore = freshDir();
    await openStore(join(notStore, 'x')).then((s) => s.close()); // creates notStore/x
    await assert.rejects(openStore(notStore), StoreError);
  });
});
