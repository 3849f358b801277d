/**
 * The journal's money record: realised P&L by average cost (as Hyperliquid's closedPnl), funding exactly once,
 * compact parameter sets that read back whole, retention that never deletes orders or fills (by hand and on
 * the maintenance thread), and the migration of a version-0 journal (positions rebuilt from its fills).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { openExistingJournal, openJournal } from '../../src/trading/journal.ts';
import { PARAMS_KEYFRAME_EVERY } from '../../src/trading/journal-params.ts';
import { waitFor } from '../helpers/wait.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-journal-money-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cloid = (n: number) => `0x${n.toString(16).padStart(32, '0')}`;
const close = (a: number, b: number, tol = 1e-9) => Math.abs(a - b) <= tol;

test('realised P&L follows the fills by average cost (adds, partial close, flip), fees apart', () => {
  const j = openJournal(join(dir, 'pnl.sqlite'), { coin: 'ETH' });
  const fills: [string, number, number, number][] = [
    // side, px, sz, fee
    ['bid', 3000, 0.02, 0.009],
    ['bid', 3010, 0.01, 0.0045],
    // avg entry (3000·0.02 + 3010·0.01)/0.03 = 3003.333…
    ['ask', 3020, 0.02, 0.009], // closes 0.02: (3020 − 3003.333…)·0.02 = 0.33333…
    ['ask', 3005, 0.03, 0.0135], // closes 0.01 at (3005 − 3003.333…)·0.01 = 0.016667, flips to −0.02 @ 3005
    ['bid', 2990, 0.01, 0.0045], // closes 0.01 short: (3005 − 2990)·0.01 = 0.15
  ];
  fills.forEach(([side, px, sz, fee], i) => {
    j.record({
      type: 'fill',
      exTime: 100 + i,
      rxTime: 200 + i,
      data: { tid: i + 1, cloid: cloid(i + 1), side, px, sz, fee },
    });
  });
  const avg1 = (3000 * 0.02 + 3010 * 0.01) / 0.03;
  const realised = (3020 - avg1) * 0.02 + (3005 - avg1) * 0.01 + (3005 - 2990) * 0.01;
  const b = j.positionBook('ETH');
  assert.ok(close(b.position, -0.01));
  assert.ok(close(b.avgEntry, 3005));
  assert.ok(close(b.realised, realised), `${b.realised} vs ${realised}`);
  assert.ok(close(b.fees, 0.0405));
  // cash + position × mark = realised + unrealised − fees, at any mark.
  const mark = 2999;
  assert.ok(close(b.cash + b.position * mark, realised + b.position * (mark - 3005) - 0.0405));
  // Per-fill closed P&L sums to the realised P&L.
  const perFill = j.fills('ETH').reduce((s, f) => s + (f.closed_pnl as number), 0);
  assert.ok(close(perFill, realised));
  assert.equal(j.lastFillTime('ETH'), 104);
  j.close();
});

test('funding is booked once per venue event (coin, time) into cash and the funding total', () => {
  const j = openJournal(join(dir, 'funding.sqlite'), { coin: 'ETH' });
  const ev = { coin: 'ETH', time: 3_600_000, usdc: -0.0123, szi: 0.05, fundingRate: 0.0000125 };
  assert.equal(j.record({ type: 'funding', exTime: ev.time, rxTime: 1, data: ev }), true);
  assert.equal(j.record({ type: 'funding', exTime: ev.time, rxTime: 2, data: ev }), false);
  assert.equal(j.record({ type: 'funding', rxTime: 3, data: { ...ev, time: 7_200_000, usdc: 0.004 } }), true);
  const b = j.positionBook('ETH');
  assert.ok(close(b.funding, -0.0083));
  assert.ok(close(b.cash, -0.0083));
  assert.equal(j.status().counts.funding, 2);
  assert.equal(j.duplicateFundings, 1);
  assert.equal(j.lastFundingTime('ETH'), 7_200_000);
  assert.equal(j.hasFunding('ETH', 3_600_000), true);
  j.close();
});

test('parameter sets are stored as compact deltas and read back whole (status, history)', () => {
  const path = join(dir, 'params.sqlite');
  const j = openJournal(path, { coin: 'ETH' });
  const sets: Record<string, unknown>[] = [];
  for (let i = 0; i < PARAMS_KEYFRAME_EVERY + 5; i++) {
    const set = {
      strategy: 'cj',
      source: 'calibration',
      lambdaPlus: 1.5 + i / 7,
      kappaPlus: 8.4,
      phi: 0.001,
      qMax: 5,
      nested: { a: i % 3, b: 'x' },
    };
    sets.push(set);
    j.record({ type: 'params', rxTime: 10 + i, data: set });
    // A second shape interleaved (the strategy's own record): its own chain, not a keyframe per set.
    j.record({
      type: 'params',
      rxTime: 10 + i,
      data: { source: 'calibration', q: i % 4, mid: 3000 + i / 3 },
    });
    j.record({ type: 'params', rxTime: 10 + i, data: { event: 'instrument', coin: 'ETH', i } });
  }
  const expect = (s: Record<string, unknown>) => ({
    ...s,
    lambdaPlus: Number((s.lambdaPlus as number).toPrecision(7)),
  });
  const all = j.history({ type: 'params', limit: 1000 });
  const hist = all.filter((r) => (r.data as { strategy?: string }).strategy === 'cj');
  assert.equal(hist.length, sets.length);
  hist.forEach((r, i) => {
    assert.deepEqual(r.data, expect(sets[i]));
  });
  const other = all.filter((r) => (r.data as { q?: number }).q !== undefined);
  other.forEach((r, i) => {
    assert.deepEqual(r.data, { source: 'calibration', q: i % 4, mid: Number((3000 + i / 3).toPrecision(7)) });
  });
  // Stored compactly: the unchanged fields are not repeated in a delta.
  const raw = j.rawEvents().filter((r) => r.type === 'params' && r.data.includes('lambdaPlus'));
  assert.ok(raw[1].data.includes('"_delta":0') && !raw[1].data.includes('kappaPlus'));
  assert.ok(
    !raw[PARAMS_KEYFRAME_EVERY].data.includes('_delta'),
    'a keyframe every PARAMS_KEYFRAME_EVERY sets',
  );
  j.close();
  const k = openExistingJournal(path);
  // The last params row is the instrument (standalone); the last set before it reads back whole.
  assert.deepEqual((k.status().lastParams?.data as { event?: string } | undefined)?.event, 'instrument');
  const lastSet = k.history({ type: 'params', limit: 3 })[0];
  assert.deepEqual(lastSet.data, expect(sets[sets.length - 1]));
  k.close();
});

test('prune deletes old housekeeping rows only: orders, modifies, fills, funding, risk and sessions stay', () => {
  const path = join(dir, 'prune.sqlite');
  const j = openJournal(path, { coin: 'ETH' });
  const day = 86_400_000;
  const t0 = Date.UTC(2026, 0, 1);
  let n = 0;
  for (let d = 0; d < 10; d++) {
    const t = t0 + d * day;
    j.record({ type: 'session', rxTime: t, data: { event: 'start' } });
    for (let k = 0; k < 30; k++) {
      const c = cloid(++n);
      j.record({ type: 'order', rxTime: t + k, data: { cloid: c, side: 'bid', px: 3000, sz: 0.01 } });
      j.record({ type: 'ack', rxTime: t + k, data: { cloid: c, oid: n } });
      j.record({
        type: 'modify',
        rxTime: t + k,
        data: { cloid: c, newCloid: cloid(100_000 + n), px: 3001, sz: 0.01 },
      });
      j.record({ type: 'cancel', rxTime: t + k, data: { cloid: cloid(100_000 + n), reason: 'not wanted' } });
      j.record({ type: 'params', rxTime: t + k, data: { lambdaPlus: 1 + k / 10, kappaPlus: 8 } });
      j.record({ type: 'state', rxTime: t + k, data: { position: 0, mid: 3000 } });
    }
    j.record({
      type: 'fill',
      rxTime: t + 40,
      data: { tid: d + 1, cloid: cloid(n), side: 'bid', px: 3000, sz: 0.01, fee: 0.001 },
    });
    j.record({
      type: 'funding',
      rxTime: t + 41,
      data: { coin: 'ETH', time: t + 41, usdc: -0.001, szi: 0.01, fundingRate: 1e-5 },
    });
    j.record({ type: 'risk', rxTime: t + 42, data: { event: 'gap' } });
  }
  const before = j.status();
  const book0 = j.positionBook('ETH');
  const lastParams = before.lastParams?.data;
  const cutoff = t0 + 7 * day;
  const dry = j.prune(cutoff, { dryRun: true });
  assert.equal(j.status().counts.ack, before.counts.ack, 'a dry run deletes nothing');
  const res = j.prune(cutoff);
  assert.deepEqual(res.deleted, dry.deleted);
  const after = j.status();
  for (const t of ['order', 'modify', 'fill', 'funding', 'risk', 'session'])
    assert.equal(after.counts[t], before.counts[t], `${t} rows kept`);
  assert.equal(after.counts.ack, 90, 'acks of the last 3 days kept');
  assert.equal(after.counts.cancel, 90);
  assert.equal(after.counts.state, 90);
  assert.ok(after.counts.params >= 90, 'params kept back to the keyframe of the kept ones');
  assert.deepEqual(after.lastParams?.data, lastParams, 'the last parameter set still reads whole');
  assert.deepEqual(j.positionBook('ETH'), book0, 'the money record is untouched');
  assert.equal(j.fills().length, 10);
  assert.equal(j.fundings().length, 10);
  // Every order row is still there (original and replacement of each modify).
  const orders = (j as unknown as { db: DatabaseSync }).db
    .prepare('SELECT COUNT(*) AS n FROM orders')
    .get() as {
    n: number;
  };
  assert.equal(orders.n, 600);
  // Every kept params row after the cut still expands (no delta lost its keyframe).
  for (const r of j.history({ type: 'params', limit: 1000 }))
    assert.ok(!(r.data as { _partial?: boolean })._partial, `params row ${r.id} lost its keyframe`);
  j.close();
});

test('prune gives freed space back: a new journal shrinks (incremental auto-vacuum); an older one with --vacuum', () => {
  const fill = (path: string) => {
    const j = openJournal(path, { coin: 'ETH' });
    const t0 = Date.UTC(2026, 0, 1);
    for (let k = 0; k < 4000; k++) {
      j.record({ type: 'ack', rxTime: t0 + k, data: { cloid: cloid(k), oid: k, note: 'x'.repeat(100) } });
      j.record({ type: 'state', rxTime: t0 + k, data: { position: 0, mid: 3000, pad: 'y'.repeat(100) } });
    }
    return { j, cut: t0 + 4000 };
  };
  const autoVacuum = (j: unknown) =>
    ((j as { db: DatabaseSync }).db.prepare('PRAGMA auto_vacuum').get() as { auto_vacuum: number })
      .auto_vacuum;
  // A journal made by openJournal: incremental (the pragma must come before WAL writes the first page).
  const a = fill(join(dir, 'shrink-new.sqlite'));
  assert.equal(autoVacuum(a.j), 2, 'a new journal is incremental auto-vacuum');
  const r = a.j.prune(a.cut);
  assert.equal(r.incrementalVacuum, true);
  assert.ok(r.bytesAfter < r.bytesBefore / 3, `${r.bytesBefore} → ${r.bytesAfter} bytes`);
  a.j.close();
  // A journal from before (auto_vacuum none, first page written by WAL): pages are only reused…
  const oldPath = join(dir, 'shrink-old.sqlite');
  const raw = new DatabaseSync(oldPath);
  raw.exec('PRAGMA journal_mode = WAL');
  raw.close();
  const b = fill(oldPath);
  assert.equal(autoVacuum(b.j), 0);
  const r1 = b.j.prune(b.cut - 2000);
  assert.equal(r1.incrementalVacuum, false);
  assert.equal(r1.bytesAfter, r1.bytesBefore, 'no shrink without vacuum');
  // …until one --vacuum rewrites it and switches it to incremental.
  const r2 = b.j.prune(b.cut, { vacuum: true });
  assert.equal(r2.vacuumed, true);
  assert.equal(r2.incrementalVacuum, true);
  assert.ok(r2.bytesAfter < r1.bytesAfter / 3, `${r1.bytesAfter} → ${r2.bytesAfter} bytes`);
  assert.equal(b.j.status().counts.ack, 1, 'the newest ack kept');
  b.j.close();
});

test('a version-0 journal is migrated: positions rebuilt from its fills, nothing lost', () => {
  const path = join(dir, 'v0.sqlite');
  const db = new DatabaseSync(path);
  db.exec(`
    CREATE TABLE events (id INTEGER PRIMARY KEY AUTOINCREMENT, type TEXT NOT NULL, ex_time REAL, rx_time REAL NOT NULL, data TEXT NOT NULL);
    CREATE INDEX events_type ON events(type, id);
    CREATE TABLE orders (cloid TEXT PRIMARY KEY, oid INTEGER, coin TEXT NOT NULL, side TEXT NOT NULL, px REAL NOT NULL, sz REAL NOT NULL, state TEXT NOT NULL, reason TEXT, created_rx REAL NOT NULL, updated_rx REAL NOT NULL);
    CREATE INDEX orders_state ON orders(state);
    CREATE TABLE fills (tid INTEGER NOT NULL, cloid TEXT NOT NULL, oid INTEGER, coin TEXT NOT NULL, side TEXT NOT NULL, px REAL NOT NULL, sz REAL NOT NULL, fee REAL NOT NULL, liquidity TEXT, ex_time REAL, rx_time REAL NOT NULL, UNIQUE (tid, cloid));
    CREATE TABLE positions (coin TEXT PRIMARY KEY, position REAL NOT NULL, cash REAL NOT NULL, fees REAL NOT NULL, fills INTEGER NOT NULL, updated_rx REAL NOT NULL);
    INSERT INTO fills VALUES (1, '${cloid(1)}', NULL, 'ETH', 'bid', 3000, 0.02, 0.01, 'maker', 10, 11);
    INSERT INTO fills VALUES (2, '${cloid(2)}', NULL, 'ETH', 'ask', 3100, 0.01, 0.01, 'maker', 12, 13);
    INSERT INTO orders VALUES ('${cloid(3)}', 77, 'ETH', 'bid', 2990, 0.01, 'open', NULL, 5, 5);
    INSERT INTO events (type, rx_time, data) VALUES ('fill', 11, '{}');
    -- version 0 let a state entry overwrite the position: 0.05 is not what the fills say
    INSERT INTO positions VALUES ('ETH', 0.05, -29.0, 0.02, 2, 13);
  `);
  db.close();
  const j = openExistingJournal(path);
  const b = j.positionBook('ETH');
  assert.ok(close(b.position, 0.01));
  assert.ok(close(b.realised, 1), 'closed 0.01 at +100');
  assert.ok(close(b.avgEntry, 3000));
  assert.deepEqual(
    j.openOrders().map((o) => o.cloid),
    [cloid(3)],
  );
  assert.equal(j.status().counts.fill, 1);
  j.close();
  // Idempotent: reopening does not migrate again.
  const k = openExistingJournal(path);
  assert.ok(close(k.positionBook('ETH').position, 0.01));
  k.close();
});

test('retention on the maintenance thread: journalRetentionDays prunes old housekeeping rows while the journal is open', async () => {
  const path = join(dir, 'retention.sqlite');
  const old = Date.now() - 10 * 86_400_000;
  const w = openJournal(path, { coin: 'ETH' });
  for (let k = 0; k < 50; k++) {
    w.record({ type: 'order', rxTime: old + k, data: { cloid: cloid(k), side: 'bid', px: 3000, sz: 0.01 } });
    w.record({ type: 'ack', rxTime: old + k, data: { cloid: cloid(k), oid: k } });
    w.record({ type: 'state', rxTime: old + k, data: { position: 0 } });
  }
  w.close();
  const pruned: Record<string, number>[] = [];
  const j = openJournal(path, {
    coin: 'ETH',
    maintenance: {
      retentionDays: 7,
      pruneEveryMs: 100,
      onMessage: (m) => {
        if (m.kind === 'pruned') pruned.push(m.result.deleted);
      },
    },
  });
  await waitFor(() => pruned.length > 0, 'the maintenance thread to prune');
  assert.deepEqual(pruned[0], { ack: 49, state: 49 }, 'all but the newest of each housekeeping type');
  assert.equal(j.status().counts.order, 50, 'orders are never pruned');
  j.close();
});
