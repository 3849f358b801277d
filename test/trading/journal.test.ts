import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openExistingJournal, openJournal } from '../../src/trading/journal.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const C1 = `0x${'0'.repeat(31)}1`;
const C2 = `0x${'0'.repeat(31)}2`;
const C3 = `0x${'0'.repeat(31)}3`;

test('orders, acks, fills and cancels build the position and the open orders; duplicate fills are refused', () => {
  const path = join(dir, 'a.sqlite');
  const j = openJournal(path, { coin: 'ETH' });
  j.record({ type: 'order', rxTime: 1, data: { cloid: C1, side: 'bid', px: 3000, sz: 0.01 } });
  j.record({ type: 'order', rxTime: 2, data: { cloid: C2, side: 'ask', px: 3001, sz: 0.01 } });
  j.record({ type: 'ack', exTime: 3, rxTime: 4, data: { cloid: C1, side: 'bid', px: 3000, sz: 0.01 } });
  j.record({ type: 'ack', exTime: 3, rxTime: 4, data: { cloid: C2, side: 'ask', px: 3001, sz: 0.01 } });
  assert.deepEqual(
    j.openOrders().map((o) => [o.cloid, o.state, o.coin]),
    [
      [C1, 'open', 'ETH'],
      [C2, 'open', 'ETH'],
    ],
  );
  const fill = { cloid: C1, side: 'bid', px: 3000, sz: 0.01, fee: 0.0045, tid: 77 };
  assert.equal(j.record({ type: 'fill', exTime: 5, rxTime: 6, data: fill }), true);
  // The same fill again (reconnect snapshot, duplicated message): refused, nothing changes.
  assert.equal(j.record({ type: 'fill', exTime: 5, rxTime: 7, data: fill }), false);
  assert.equal(j.duplicateFills, 1);
  // Fills are keyed by (tid, cloid): another order's fill is a new fill.
  j.record({
    type: 'fill',
    exTime: 8,
    rxTime: 9,
    data: { cloid: C2, side: 'ask', px: 3001, sz: 0.004, fee: 0.002, tid: 78 },
  });
  j.markOrder(C1, 'filled', 10);
  j.record({ type: 'cancel', rxTime: 11, data: { cloid: C2, state: 'canceled', reason: 'stop' } });
  const s = j.status();
  assert.equal(s.positions.length, 1);
  assert.equal(s.positions[0].position, 0.006);
  assert.equal(s.positions[0].fills, 2);
  // cash = −3000·0.01 + 3001·0.004 − fees
  assert.ok(Math.abs(s.positions[0].cash - (-30 + 12.004 - 0.0065)) < 1e-9);
  assert.equal(s.openOrders.length, 0);
  assert.equal(s.counts.fill, 2, 'the refused duplicate wrote no event');
  assert.equal(j.hasFill(77, C1), true);
  assert.equal(j.hasFill(77, C2), false);
  j.close();
});

test('a restart recovers the journal state; a state entry never moves the position, an adjustment does', () => {
  const path = join(dir, 'b.sqlite');
  const j = openJournal(path, { coin: 'ETH' });
  j.record({ type: 'order', rxTime: 1, data: { cloid: C3, side: 'ask', px: 3100, sz: 0.02 } });
  j.record({ type: 'ack', rxTime: 2, data: { cloid: C3, oid: 900 } });
  j.record({ type: 'fill', rxTime: 3, data: { cloid: C3, side: 'ask', px: 3100, sz: 0.01, fee: 0, tid: 5 } });
  j.record({ type: 'params', rxTime: 4, data: { kappaPlus: 2 } });
  j.record({ type: 'risk', rxTime: 5, data: { event: 'halt', reason: 'drawdown' } });
  j.close(); // process dies here

  const k = openExistingJournal(path);
  assert.equal(k.position('ETH'), -0.01);
  assert.deepEqual(
    k.openOrders('ETH').map((o) => [o.cloid, o.oid]),
    [[C3, 900]],
  );
  assert.equal(k.cloidOfOid(900), C3);
  assert.deepEqual(k.status().lastParams?.data, { kappaPlus: 2 });
  assert.deepEqual(k.status().lastRisk?.data, { event: 'halt', reason: 'drawdown' });
  // A status snapshot says what the engine held; it is not a position change.
  k.record({ type: 'state', rxTime: 6, data: { coin: 'ETH', position: -0.05, source: 'exchange' } });
  assert.equal(k.position('ETH'), -0.01);
  // The venue reports -0.02 and no fill explains it: an explicit adjustment, booked at the venue's entry.
  assert.equal(
    k.record({
      type: 'adjustment',
      rxTime: 7,
      data: { coin: 'ETH', position: -0.02, entryPx: 3100, reason: 'venue position differs' },
    }),
    true,
  );
  assert.equal(k.position('ETH'), -0.02);
  const adj = k.status().lastAdjustment?.data as { from: number; delta: number };
  assert.equal(adj.from, -0.01);
  assert.equal(adj.delta, -0.01);
  // Nothing to adjust: no row.
  assert.equal(k.record({ type: 'adjustment', rxTime: 8, data: { coin: 'ETH', position: -0.02 } }), false);
  // The order was cancelled by cancel-all after its partial fill: it ends 'partially filled'.
  assert.equal(k.closeOpenOrders(9, 'cancel-all at start'), 1);
  assert.equal(k.order(C3)?.state, 'partially filled');
  // Its reason says what happened to it (not a bare cancel).
  assert.equal(k.order(C3)?.reason, 'partially filled; the rest cancel-all at start');
  assert.equal(k.openOrders().length, 0);
  // The same fill re-sent after the restart is still a duplicate (same tid, same order by oid).
  assert.equal(
    k.record({
      type: 'fill',
      rxTime: 10,
      data: { oid: 900, side: 'ask', px: 3100, sz: 0.01, fee: 0, tid: 5 },
    }),
    false,
  );
  assert.equal(k.position('ETH'), -0.02);
  // Positions rebuilt from fills and adjustments give the same book.
  const before = k.positionBook('ETH');
  k.rebuildPositions();
  assert.deepEqual(k.positionBook('ETH'), before);
  k.close();
});

test('a modify: the old order stays live until the venue confirms the replacement, which writes no row of its own', () => {
  const j = openJournal(join(dir, 'm.sqlite'), { coin: 'ETH' });
  const C4 = `0x${'0'.repeat(31)}4`;
  const C5 = `0x${'0'.repeat(31)}5`;
  const C6 = `0x${'0'.repeat(31)}6`;
  j.record({ type: 'order', rxTime: 1, data: { cloid: C1, side: 'bid', px: 3000, sz: 0.01 } });
  j.record({ type: 'ack', rxTime: 2, data: { cloid: C1, oid: 1 } });
  j.record({ type: 'modify', rxTime: 3, data: { cloid: C1, newCloid: C4, side: 'bid', px: 3001, sz: 0.01 } });
  assert.deepEqual(
    j.openOrders().map((o) => [o.cloid, o.state]),
    [
      [C1, 'open'],
      [C4, 'pending'],
    ],
    'a modify in flight: the old order is still live',
  );
  // The venue confirms: the old one is replaced (no cancel row), the new one acked.
  j.record({ type: 'cancel', rxTime: 4, data: { cloid: C1, state: 'canceled', reason: 'canceled' } });
  j.record({ type: 'ack', rxTime: 4, data: { cloid: C4, oid: 2 } });
  assert.equal(j.order(C1)?.state, 'modified');
  assert.equal(j.status().counts.cancel, undefined, 'no cancel row for the replaced order');
  // A refused modify: the replacement is rejected, the engine cancels the old order — a real cancel.
  j.record({ type: 'modify', rxTime: 5, data: { cloid: C4, newCloid: C5, side: 'bid', px: 3002, sz: 0.01 } });
  j.record({ type: 'reject', rxTime: 6, data: { cloid: C5, reason: 'Cannot modify' } });
  j.record({ type: 'cancel', rxTime: 6, data: { cloid: C4, reason: 'modify rejected' } });
  j.record({ type: 'cancel', rxTime: 7, data: { cloid: C4, state: 'canceled', reason: 'canceled' } });
  assert.equal(j.order(C4)?.state, 'canceled');
  assert.equal(j.order(C5)?.state, 'rejected');
  assert.equal(j.status().counts.cancel, 2);
  // A modify sent just before a crash: the old order is still live for the restart to settle.
  j.record({ type: 'order', rxTime: 8, data: { cloid: C6, side: 'ask', px: 3010, sz: 0.01 } });
  j.record({ type: 'ack', rxTime: 8, data: { cloid: C6, oid: 3 } });
  j.record({ type: 'modify', rxTime: 9, data: { cloid: C6, newCloid: C2, side: 'ask', px: 3011, sz: 0.01 } });
  assert.equal(j.order(C6)?.state, 'open');
  j.close();
});

test('history filters by type, limits to the newest N, and returns them oldest first', () => {
  const j = openJournal(join(dir, 'c.sqlite'), { coin: 'ETH' });
  for (let i = 0; i < 10; i++)
    j.record({ type: i % 2 ? 'risk' : 'params', exTime: 100 + i, rxTime: 200 + i, data: { i } });
  const h = j.history({ type: 'risk', limit: 3 });
  assert.deepEqual(
    h.map((r) => (r.data as { i: number }).i),
    [5, 7, 9],
  );
  assert.ok(h.every((r) => r.type === 'risk' && r.exTime === 100 + (r.data as { i: number }).i));
  assert.equal(j.history({ limit: 100 }).length, 10);
  j.close();
});

test('a missing journal is a clear error naming --journal', () => {
  assert.throws(
    () => openExistingJournal(join(dir, 'nope.sqlite')),
    /--journal: no journal at .*nope.sqlite/,
  );
});

test('status: the last session is the last start or stop, not the reconciliation row that follows a start', async () => {
  const { formatStatus } = await import('../../src/trading/journal-report.ts');
  const j = openJournal(join(dir, 'sess.sqlite'), { coin: 'ETH' });
  j.record({ type: 'session', rxTime: 1, data: { event: 'start', mode: 'live', pid: 4242 } });
  j.record({ type: 'session', rxTime: 2, data: { event: 'reconciled', exchangeTime: 2, fillsRecovered: 1 } });
  // Killed here (no stop row): status says a session started by pid 4242 is running or crashed.
  assert.deepEqual(j.status().lastSession?.data, { event: 'start', mode: 'live', pid: 4242 });
  assert.match(formatStatus(j.status()), /last session: running or crashed \(started, pid 4242\)/);
  j.record({ type: 'session', rxTime: 3, data: { event: 'stop', reason: 'signal' } });
  assert.match(formatStatus(j.status()), /last session: stopped \(signal\)/);
  j.close();
});

test('a reader opening the journal while the trader holds a write transaction waits for it (no "database is locked")', async () => {
  const { spawn } = await import('node:child_process');
  const path = join(dir, 'locked.sqlite');
  openJournal(path).close();
  // The trader: another process in the middle of a write transaction for 600 ms.
  const writer = spawn(
    process.execPath,
    [
      '-e',
      `const { DatabaseSync } = require('node:sqlite');
       const db = new DatabaseSync(${JSON.stringify(path)});
       db.exec("PRAGMA busy_timeout = 2000; BEGIN IMMEDIATE; INSERT INTO events (type, ex_time, rx_time, data) VALUES ('x', 0, 0, '{}')");
       console.log('writing');
       setTimeout(() => db.exec('COMMIT'), 600);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((r) => writer.stdout.once('data', () => r()));
  const t0 = performance.now();
  const j = openExistingJournal(path); // `cjmm status` and `cjmm journal` open it this way
  const waited = performance.now() - t0;
  j.close();
  await new Promise((r) => writer.once('exit', r));
  assert.ok(waited > 300, `opened once the write transaction ended (${waited.toFixed(0)} ms)`);
});

test("the engine's refusals end the journal's order rows: a placement and a modify's replacement rejected, a refused cancel canceled", async () => {
  const { bbo, startedEngine } = await import('../engine/mock-venue.ts');
  const j = openJournal(join(dir, 'refusals.sqlite'), { coin: 'ETH' });
  const { clock, venue, strategy, engine } = await startedEngine({
    journal: j,
    orderManager: { rejectBackoffMs: 1 },
  });
  // 1. A post-only placement refused.
  strategy.want = { bid: { px: 3000.1, sz: 0.01 }, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [placed] = venue.take();
  venue.reject(placed.cloid);
  assert.equal(j.order(placed.cloid)?.state, 'rejected');
  // 2. A modify refused under the replacement's cloid (Hyperliquid: "Cannot modify canceled or filled order").
  clock.t += 10;
  strategy.want = { bid: { px: 3000.0, sz: 0.01 }, ask: null };
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [second] = venue.take();
  venue.ack(second.cloid);
  strategy.want = { bid: { px: 2999.5, sz: 0.01 }, ask: null };
  clock.t += 10;
  engine.onMarket(bbo(clock, 3000.1, 3000.2));
  const [mod] = venue.take();
  assert.equal(mod.kind, 'modify');
  const newCloid = (mod as { newCloid: string }).newCloid;
  venue.reject(newCloid, 'Cannot modify canceled or filled order');
  assert.equal(j.order(newCloid)?.state, 'rejected', "the replacement's row is not left pending");
  // The engine cancels the original (it may still rest); the venue refuses that cancel: it is gone.
  const [cancel] = venue.take();
  assert.deepEqual([cancel.kind, cancel.cloid], ['cancel', second.cloid]);
  venue.reject(second.cloid, 'Order was never placed, already canceled, or filled.');
  assert.equal(j.order(second.cloid)?.state, 'canceled');
  // Nothing the journal calls open or pending is left.
  assert.deepEqual(
    j.openOrders().map((o) => [o.cloid, o.state]),
    [],
  );
  j.close();
});
