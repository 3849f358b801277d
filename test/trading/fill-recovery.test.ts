/**
 * Fills made while the trader was down: paging userFillsByTime by time (2000 per call) without loss or
 * duplication at a page boundary inside one millisecond, the start-up reconciliation journalling each missing
 * fill exactly once with its order ending filled / partially filled, the explicit adjustment for a difference
 * fills cannot explain, and a second reconciliation with no new fills changing nothing. Against a stub exchange
 * that answers as Hyperliquid does (the loopback end-to-end test is in session-money.test.ts).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import type { IRequestTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { openJournal } from '../../src/trading/journal.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { reconcileAtStart } from '../../src/trading/reconciliation.ts';
import {
  FILLS_PER_CALL,
  type HistoryFill,
  pageByTime,
} from '../../src/venue/hyperliquid/execution/fill-history.ts';
import type { ExchangeSnapshot } from '../../src/venue/hyperliquid/execution/reconcile.ts';
import { HyperliquidVenue } from '../../src/venue/hyperliquid/execution/venue.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-fill-recovery-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const cloid = (n: number) => `0x${n.toString(16).padStart(32, '0')}`;
const quiet = createTradingLogger('silent', new Writable({ write: (_c, _e, cb) => cb() }));

test('pageByTime: pages by time, re-reads the boundary millisecond, de-duplicates; a full page inside one ms moves on', async () => {
  // 13 items, several sharing a millisecond across the page boundaries (perCall 5).
  const times = [1, 2, 3, 4, 4, 4, 4, 5, 6, 6, 6, 7, 9];
  const items = times.map((time, i) => ({ time, id: i }));
  const calls: number[] = [];
  const fetch = async (start: number) => {
    calls.push(start);
    return items.filter((x) => x.time >= start).slice(0, 5);
  };
  const r = await pageByTime(0, 5, fetch, (x) => String(x.id));
  assert.deepEqual(
    r.items.map((x) => x.id),
    items.map((x) => x.id),
    'every item exactly once, in time order',
  );
  assert.deepEqual(calls, [0, 4, 5, 7], 'each page starts at the last millisecond of the previous one');
  assert.equal(r.truncatedAt, undefined);
  // Six items in one millisecond with five per call: no cursor can page inside it.
  const same = [1, 1, 1, 1, 1, 1, 2].map((time, i) => ({ time, id: i }));
  const t = await pageByTime(
    0,
    5,
    async (s) => same.filter((x) => x.time >= s).slice(0, 5),
    (x) => String(x.id),
  );
  assert.equal(t.truncatedAt, 1, 'the loss is reported');
  assert.deepEqual(
    t.items.map((x) => x.id),
    [0, 1, 2, 3, 4, 6],
  );
});

/** A stub Hyperliquid for info requests: fills, funding, positions as the real API answers them. */
class StubInfo implements IRequestTransport {
  readonly isTestnet = false;
  fills: HistoryFill[] = [];
  fundings: { time: number; coin: string; usdc: string; szi: string; fundingRate: string }[] = [];
  fillCalls: number[] = [];
  async request<T>(endpoint: 'info' | 'exchange', payload: unknown): Promise<T> {
    const p = payload as Record<string, unknown>;
    if (endpoint !== 'info') throw new Error('no actions here');
    if (p.type === 'userFillsByTime') {
      const start = p.startTime as number;
      this.fillCalls.push(start);
      return this.fills
        .filter((f) => f.time >= start)
        .sort((a, b) => a.time - b.time)
        .slice(0, FILLS_PER_CALL) as T;
    }
    if (p.type === 'userFunding') {
      return this.fundings
        .filter((f) => f.time >= (p.startTime as number))
        .slice(0, 500)
        .map((f) => ({
          time: f.time,
          hash: `0x${'0'.repeat(64)}`,
          delta: { type: 'funding', ...f, nSamples: null },
        })) as T;
    }
    throw new Error(`unexpected info ${String(p.type)}`);
  }
}

function venue(t: StubInfo) {
  const account = privateKeyToAccount(generatePrivateKey());
  return new HyperliquidVenue({
    httpUrl: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/ws',
    signer: { address: account.address, account },
    assets: [{ coin: 'ETH', asset: 1, szDecimals: 4 }],
    transport: t,
    noStreams: true,
  });
}

function fill(i: number, time: number, o: Partial<HistoryFill> = {}): HistoryFill {
  return {
    coin: 'ETH',
    px: (3000 + (i % 7) / 10).toFixed(1),
    sz: '0.01',
    side: i % 2 ? 'A' : 'B',
    time,
    oid: 5000 + i,
    crossed: false,
    fee: '0.0045',
    tid: 9_000_000 + i,
    cloid: cloid(i),
    ...o,
  };
}

test('a fill paged across two userFillsByTime calls is recovered exactly once (2000 per call)', async () => {
  const t = new StubInfo();
  // 2003 fills; the 2000-fill page ends inside a millisecond shared by fills 1997–2002.
  for (let i = 0; i < 2003; i++) t.fills.push(fill(i, i < 1997 ? 1_000 + i : 5_000));
  const v = venue(t);
  const r = await v.fetchFills(0);
  assert.equal(r.calls, 2, 'two calls');
  assert.deepEqual(t.fillCalls, [0, 5_000], 'the second starts at the boundary millisecond');
  assert.equal(r.items.length, 2003);
  assert.equal(new Set(r.items.map((f) => f.tid)).size, 2003, 'no duplicate');
});

const snap = (position: number, entryPx = Number.NaN, time = 10_000_000): ExchangeSnapshot => ({
  coin: 'ETH',
  position,
  entryPx,
  accountValue: 1000,
  marginUsed: 0,
  openOrders: [],
  time,
});

test('start-up reconciliation journals the fills made while down once, closes orders from their fills, and changes nothing when run again', async () => {
  const path = join(dir, 'rec.sqlite');
  const j = openJournal(path, { coin: 'ETH' });
  // The previous session: two resting orders (acked with their oids), one fill journalled, then killed.
  j.record({ type: 'order', rxTime: 1, data: { cloid: cloid(1), side: 'bid', px: 3000, sz: 0.02 } });
  j.record({ type: 'ack', rxTime: 2, data: { cloid: cloid(1), oid: 5001 } });
  j.record({ type: 'order', rxTime: 1, data: { cloid: cloid(2), side: 'ask', px: 3010, sz: 0.02 } });
  j.record({ type: 'ack', rxTime: 2, data: { cloid: cloid(2), oid: 5002 } });
  j.record({ type: 'order', rxTime: 1, data: { cloid: cloid(3), side: 'ask', px: 3020, sz: 0.01 } });
  j.record({ type: 'ack', rxTime: 2, data: { cloid: cloid(3), oid: 5003 } });
  j.record({
    type: 'fill',
    exTime: 2_000,
    rxTime: 3,
    data: { tid: 1, cloid: cloid(1), oid: 5001, side: 'bid', px: 3000, sz: 0.01, fee: 0.0045 },
  });
  const t = new StubInfo();
  t.fills = [
    // Already journalled (re-read through the recovery margin).
    { ...fill(0, 2_000), tid: 1, oid: 5001, cloid: cloid(1), side: 'B', px: '3000.0' },
    // While down: the rest of order 1 (now filled), half of order 2 (no cloid on the wire: mapped by oid).
    { ...fill(1, 3_000), tid: 2, oid: 5001, cloid: cloid(1), side: 'B', px: '3000.0', sz: '0.01' },
    { ...fill(2, 3_500), tid: 3, oid: 5002, cloid: undefined, side: 'A', px: '3010.0', sz: '0.01' },
    // Another coin: not this trader's.
    { ...fill(3, 3_600), coin: 'BTC', tid: 4, oid: 7000 },
  ];
  t.fundings = [{ time: 3_600_000, coin: 'ETH', usdc: '-0.0012', szi: '0.01', fundingRate: '0.0000125' }];
  const v = venue(t);
  // Order 3 was still resting at this start, so the start's cancel-all cancelled it; order 2 was gone already.
  v.cancelledAtStart.add(cloid(3));
  // The venue holds +0.01 (0.02 bought, 0.01 sold): exactly what the fills say.
  const r = await reconcileAtStart({
    venue: v,
    journal: j,
    coin: 'ETH',
    snap: snap(0.01, 3000),
    logger: quiet,
  });
  assert.equal(r.fillsRecovered, 2);
  assert.equal(r.fundingsRecovered, 1);
  assert.equal(r.adjustment, undefined, 'fills explain the position');
  assert.equal(j.fills('ETH').length, 3);
  assert.equal(j.fills('ETH').find((f) => f.tid === 3)?.cloid, cloid(2), 'oid → cloid from the journal');
  assert.equal(j.order(cloid(1))?.state, 'filled');
  assert.equal(j.order(cloid(2))?.state, 'partially filled');
  assert.equal(j.order(cloid(3))?.state, 'canceled');
  // Each order's reason agrees with its fate: no "canceled" on an order that filled.
  assert.doesNotMatch(j.order(cloid(1))?.reason ?? '', /^cancel/);
  assert.match(
    j.order(cloid(2))?.reason ?? '',
    /^partially filled; the rest canceled while the trader was down/,
  );
  assert.equal(j.order(cloid(3))?.reason, 'canceled by cancel-all at session start');
  const b = j.positionBook('ETH');
  assert.ok(Math.abs(b.position - 0.01) < 1e-12);
  assert.ok(Math.abs(b.realised - 0.1) < 1e-9, 'closed 0.01 at 3010 against an entry of 3000');
  assert.ok(Math.abs(b.funding + 0.0012) < 1e-12);

  // A restart with no new fills changes nothing but the session rows.
  const moneyRows = () => ({
    events: j.rawEvents().filter((e) => e.type !== 'session'),
    fills: j.fills(),
    funding: j.fundings(),
    book: j.positionBook('ETH'),
    orders: [1, 2, 3].map((n) => j.order(cloid(n))),
  });
  const before = moneyRows();
  const r2 = await reconcileAtStart({
    venue: v,
    journal: j,
    coin: 'ETH',
    snap: snap(0.01, 3000),
    logger: quiet,
  });
  assert.equal(r2.fillsRecovered, 0);
  assert.equal(r2.fundingsRecovered, 0);
  assert.deepEqual(moneyRows(), before);
  // The second recovery started from the journal's last fill (minus the margin), not from the beginning.
  assert.equal(r2.since, 3_500);
  j.close();
});

test('a venue position the fills cannot explain is journalled as an explicit adjustment; a new journal on an account with a position too', async () => {
  const j = openJournal(join(dir, 'adj.sqlite'), { coin: 'ETH' });
  const t = new StubInfo();
  const v = venue(t);
  // A new journal: nothing to recover (no fills, no earlier reconciliation), the account holds -0.03 @ 3100.
  const r = await reconcileAtStart({
    venue: v,
    journal: j,
    coin: 'ETH',
    snap: snap(-0.03, 3100),
    logger: quiet,
  });
  assert.equal(r.since, undefined);
  assert.deepEqual(r.adjustment, { from: 0, to: -0.03 });
  const adj = j.history({ type: 'adjustment' });
  assert.equal(adj.length, 1);
  assert.equal((adj[0].data as { px: number }).px, 3100, 'booked at the venue entry price');
  const b = j.positionBook('ETH');
  assert.equal(b.position, -0.03);
  assert.equal(b.avgEntry, 3100);
  assert.equal(b.realised, 0, 'an adjustment realises nothing');
  // The next reconciliation starts from this one's exchange time.
  t.fills = [fill(1, 10_000_500, { side: 'B', px: '3090.0', sz: '0.01', cloid: undefined, oid: 42 })];
  const r2 = await reconcileAtStart({
    venue: v,
    journal: j,
    coin: 'ETH',
    snap: snap(-0.02, 3100),
    logger: quiet,
  });
  assert.equal(r2.since, 10_000_000);
  assert.equal(r2.fillsRecovered, 1);
  assert.equal(r2.adjustment, undefined);
  assert.equal(j.fills()[0].cloid, 'oid:42', 'an order unknown to the journal keeps its oid');
  assert.ok(Math.abs(j.positionBook('ETH').realised - 0.1) < 1e-9);
  j.close();
});

test('every periodic sweep recovers a fill the user stream missed, once (userFillsByTime since the last fill)', async () => {
  const t = new StubInfo();
  const v = venue(t);
  const got: { tid?: number; kind: string }[] = [];
  v.setReportListener((r) => got.push(r as { tid?: number; kind: string }));
  let lastFill = 500_000;
  v.enableRecovery({ fillsSince: () => lastFill, fundingSince: () => lastFill });
  // Running (as after start): the sweep's recovery step only runs then.
  (v as unknown as { running: boolean }).running = true;
  const recover = () => (v as unknown as { recover(): Promise<void> }).recover();
  t.fills = [fill(1, 480_000), fill(2, 510_000)];
  await recover();
  // Both are within the look-back margin of the last journalled fill; neither came by the stream.
  assert.deepEqual(
    got.filter((r) => r.kind === 'fill').map((r) => r.tid),
    [9_000_001, 9_000_002],
  );
  assert.equal(t.fillCalls.at(-1), lastFill - 60_000, 'from the last fill minus the margin');
  lastFill = 510_000;
  t.fills.push(fill(3, 520_000));
  await recover();
  assert.deepEqual(
    got.filter((r) => r.kind === 'fill').map((r) => r.tid),
    [9_000_001, 9_000_002, 9_000_003],
    'the next sweep adds only the new one',
  );
  assert.equal(v.stats.fillsRecovered, 3);
  (v as unknown as { running: boolean }).running = false;
});
