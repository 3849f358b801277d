/**
 * Orders that are never acknowledged: every request has a deadline (`ackTimeoutMs`); after it, or after a
 * dropped connection or a server error, each order of the action is settled from the exchange's orderStatus by
 * cloid (resting, filled, cancelled, never arrived), a cancel of an order that still rests is sent again, and
 * until an order is settled the engine counts it in flight (the position limit holds). Against a stub exchange;
 * the loopback's fault injection (drop the response, delay it, HTTP 500) is exercised in session-money.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpRequestError, type IRequestTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { Engine } from '../../src/engine/engine.ts';
import type { OrderUpdate, Strategy, VenueReport } from '../../src/engine/types.ts';
import { HyperliquidVenue } from '../../src/venue/hyperliquid/execution/venue.ts';
import { waitFor } from '../helpers/wait.ts';

// A session-like cloid (seed in the high half): the library would read a small hex value as an oid.
const cloid = (n: number) => `0x00000001${n.toString(16).padStart(24, '0')}`;
const ETH = { coin: 'ETH', asset: 1, szDecimals: 4 };

type Behaviour = 'hang' | 'http500' | 'drop' | 'ok';
interface StatusRow {
  status: string;
  oid: number;
  px?: string;
  sz?: string;
}

/** A stub exchange: per-action behaviour, orderStatus answers from a table (or failing), every action recorded. */
class StubExchange implements IRequestTransport {
  readonly isTestnet = false;
  readonly actions: Record<string, unknown>[] = [];
  next: Behaviour[] = [];
  statuses = new Map<string, StatusRow>();
  statusFails = false;
  statusQueries: string[] = [];
  /** What openOrders lists. */
  open: { coin: string; oid: number; cloid?: string; side: 'B' | 'A'; limitPx: string; sz: string }[] = [];
  /** clearinghouseState requests (one per sweep). */
  positionQueries = 0;
  /** Called after an openOrders listing is taken, before it is answered. */
  onOpenOrders: (() => void) | undefined;
  async request<T>(endpoint: 'info' | 'exchange', payload: unknown, signal?: AbortSignal): Promise<T> {
    const p = payload as Record<string, unknown>;
    if (endpoint === 'info') {
      if (p.type === 'orderStatus') {
        this.statusQueries.push(String(p.oid));
        if (this.statusFails) throw new HttpRequestError({ detail: 'connection refused' });
        const s = this.statuses.get(String(p.oid).toLowerCase());
        if (!s) return { status: 'unknownOid' } as T;
        return {
          status: 'order',
          order: {
            order: {
              coin: 'ETH',
              side: 'B',
              limitPx: s.px ?? '3000.0',
              sz: s.sz ?? '0.01',
              oid: s.oid,
              timestamp: 1,
              origSz: '0.01',
              cloid: p.oid,
            },
            status: s.status,
            statusTimestamp: 2,
          },
        } as T;
      }
      if (p.type === 'openOrders') {
        const listed = this.open.map((o) => ({ ...o, timestamp: 1, origSz: o.sz }));
        this.onOpenOrders?.();
        return listed as T;
      }
      if (p.type === 'clearinghouseState') {
        this.positionQueries++;
        return { marginSummary: { accountValue: '1000' }, assetPositions: [], time: 0 } as T;
      }
      throw new Error(`unexpected info ${String(p.type)}`);
    }
    const a = p.action as Record<string, unknown>;
    this.actions.push(a);
    const how = this.next.shift() ?? 'ok';
    if (how === 'hang') {
      // Executed (or not) on the exchange, but the answer never comes: only the deadline ends the wait.
      return new Promise<T>((_r, reject) => {
        signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
      });
    }
    if (how === 'http500') {
      throw new HttpRequestError({ response: new Response('internal error', { status: 500 }) });
    }
    if (how === 'drop')
      throw new HttpRequestError({ detail: 'socket hang up', cause: new Error('ECONNRESET') });
    const n = ((a.orders ?? a.modifies ?? a.cancels) as unknown[] | undefined)?.length ?? 0;
    return {
      status: 'ok',
      response: {
        type: a.type === 'cancelByCloid' ? 'cancel' : 'order',
        data: {
          statuses: Array.from({ length: n }, (_, i) =>
            a.type === 'cancelByCloid' ? 'success' : { resting: { oid: 100 + i } },
          ),
        },
      },
    } as T;
  }
}

function makeVenue(t: StubExchange, ackTimeoutMs = 150) {
  const account = privateKeyToAccount(generatePrivateKey());
  const reports: VenueReport[] = [];
  const v = new HyperliquidVenue({
    httpUrl: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/ws',
    signer: { address: account.address, account },
    assets: [ETH],
    transport: t,
    noStreams: true,
    ackTimeoutMs,
    reconcileIntervalMs: 0,
  });
  v.setReportListener((r) => reports.push(r));
  return { v, reports };
}

const states = (rs: VenueReport[], c: string) =>
  rs.filter((r): r is OrderUpdate => r.kind === 'order' && r.cloid === c).map((r) => r.state);

test('no answer within ackTimeoutMs: the order is settled from orderStatus (resting → open with its oid)', async () => {
  const t = new StubExchange();
  const { v, reports } = makeVenue(t);
  t.next = ['hang'];
  t.statuses.set(cloid(1), { status: 'open', oid: 777 });
  v.place([{ cloid: cloid(1), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(1)), ['open']);
  const open = reports.find((r) => r.kind === 'order' && r.cloid === cloid(1)) as OrderUpdate;
  assert.equal(open.oid, 777);
  assert.equal(v.stats.ackTimeouts, 1);
  assert.deepEqual(t.statusQueries, [cloid(1)], 'asked by cloid');
});

test('HTTP 500 and the exchange never saw it: the placement is rejected as never arrived', async () => {
  const t = new StubExchange();
  const { v, reports } = makeVenue(t);
  t.next = ['http500'];
  v.place([{ cloid: cloid(2), coin: 'ETH', side: 'ask', px: 3001, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(2)), ['rejected']);
  const r = reports.find((x) => x.kind === 'order' && x.cloid === cloid(2)) as OrderUpdate;
  assert.match(r.reason ?? '', /never reached the exchange/);
  assert.equal(v.stats.ackTimeouts, 0, 'an error answer is not a timeout');
});

test('an order settled as never arrived that turns up resting later is cancelled by the next sweep', async () => {
  const t = new StubExchange();
  const { v, reports } = makeVenue(t);
  await v.start();
  t.next = ['http500'];
  v.place([{ cloid: cloid(7), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(7)), ['rejected']);
  // The request did reach the exchange after all (late): it rests there.
  t.open = [{ coin: 'ETH', oid: 555, cloid: cloid(7), side: 'B', limitPx: '3000.0', sz: '0.01' }];
  await new Promise((r) => setTimeout(r, 60));
  await v.sweep();
  const cancel = t.actions.find((a) => a.type === 'cancel');
  assert.ok(cancel, 'cancelled as an orphan');
  assert.deepEqual(
    (cancel.cancels as { o: number }[]).map((c) => c.o),
    [555],
  );
  t.open = [];
  await v.stop();
});

test('an order canceled while the sweep waits for its listing is not taken for an orphan (no second cancel)', async () => {
  const t = new StubExchange();
  const { v, reports } = makeVenue(t);
  await v.start();
  v.place([{ cloid: cloid(9), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(9)), ['open']);
  const oid = (reports.find((r) => r.kind === 'order' && r.cloid === cloid(9)) as OrderUpdate).oid as number;
  // Placed well before the sweep (as a live order usually is).
  await new Promise((r) => setTimeout(r, 80));
  t.open = [{ coin: 'ETH', oid, cloid: cloid(9), side: 'B', limitPx: '3000.0', sz: '0.01' }];
  // The listing shows it resting; our cancel's update arrives before the sweep reads the answer.
  t.onOpenOrders = () => {
    t.onOpenOrders = undefined;
    t.open = [];
    v.onWireOrderUpdate({
      order: {
        coin: 'ETH',
        side: 'B',
        limitPx: '3000.0',
        sz: '0.0',
        oid,
        cloid: cloid(9),
      },
      status: 'canceled',
      statusTimestamp: 3,
    });
  };
  const before = t.actions.length;
  await v.sweep();
  assert.deepEqual(states(reports, cloid(9)), ['open', 'canceled']);
  assert.equal(v.stats.orphansCanceled, 0);
  assert.deepEqual(t.actions.slice(before), [], 'no cancel sent for it');
  await v.stop();
});

test('a sweep asked for just before the stop does not run after it (the session has ended)', async (tt) => {
  const t = new StubExchange();
  const { v } = makeVenue(t);
  await v.start();
  const sweeps = t.positionQueries;
  // The sweep's 50 ms delay is under the test's control: the stop completes first, whatever the machine's load.
  tt.mock.timers.enable({ apis: ['setTimeout'] });
  const soon = (v as unknown as { reconciler: { sweepSoon(): Promise<void> } }).reconciler.sweepSoon();
  await v.stop();
  tt.mock.timers.tick(50);
  await soon;
  assert.equal(t.positionQueries, sweeps, 'no sweep after the stop');
});

test('response dropped after the order executed and filled: settled filled', async () => {
  const t = new StubExchange();
  const { v, reports } = makeVenue(t);
  t.next = ['drop'];
  t.statuses.set(cloid(3), { status: 'filled', oid: 778 });
  v.place([{ cloid: cloid(3), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(3)), ['filled']);
});

test('a cancel without an answer whose order still rests is sent again; a modify without one is settled by the replacement', async () => {
  const t = new StubExchange();
  const { v, reports } = makeVenue(t);
  v.place([{ cloid: cloid(4), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(4)), ['open']);
  // Cancel: dropped; the order still rests (the cancel never arrived) → sent again, then confirmed.
  t.next = ['drop'];
  t.statuses.set(cloid(4), { status: 'open', oid: 100 });
  v.cancel([{ coin: 'ETH', cloid: cloid(4) }]);
  await waitFor(() => states(reports, cloid(4)).includes('canceled'), 'the cancel confirmed', 3000);
  const cancels = t.actions.filter((a) => a.type === 'cancelByCloid');
  assert.equal(cancels.length, 2, 'the cancel went out twice');
  // Modify: no answer in time; the replacement rests → the old one was replaced.
  v.place([{ cloid: cloid(5), coin: 'ETH', side: 'ask', px: 3010, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  t.next = ['hang'];
  t.statuses.set(cloid(6), { status: 'open', oid: 900, px: '3011.0' });
  v.modify([{ coin: 'ETH', cloid: cloid(5), newCloid: cloid(6), px: 3011, sz: 0.01 }]);
  await v.whenIdle();
  assert.deepEqual(states(reports, cloid(6)), ['open']);
  assert.deepEqual(states(reports, cloid(5)), ['open', 'canceled']);
});

test('an exchange that keeps answering 500: the re-sent cancel backs off (doubling) instead of spinning, and goes through once it answers', async () => {
  const t = new StubExchange();
  const backoffs: number[] = [];
  const sentAt: number[] = [];
  const account = privateKeyToAccount(generatePrivateKey());
  const reports: VenueReport[] = [];
  const v = new HyperliquidVenue({
    httpUrl: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/ws',
    signer: { address: account.address, account },
    assets: [ETH],
    transport: {
      isTestnet: false,
      request: (endpoint, payload, signal) => {
        if (endpoint === 'exchange') sentAt.push(Date.now());
        return t.request(endpoint, payload, signal);
      },
    },
    noStreams: true,
    ackTimeoutMs: 150,
    reconcileIntervalMs: 0,
    logger: {
      info() {},
      error() {},
      debug(o) {
        if (typeof o.backoffMs === 'number') backoffs.push(o.backoffMs);
      },
      warn(o) {
        if (typeof o.backoffMs === 'number') backoffs.push(o.backoffMs);
      },
    },
  });
  v.setReportListener((r) => reports.push(r));
  v.place([{ cloid: cloid(20), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  t.statuses.set(cloid(20), { status: 'open', oid: 100 });
  t.next = ['http500', 'http500', 'http500', 'http500'];
  v.cancel([{ coin: 'ETH', cloid: cloid(20) }]);
  // Asked again meanwhile (as the engine does while the order still shows as resting): no copies pile up.
  v.cancel([{ coin: 'ETH', cloid: cloid(20) }]);
  v.cancel([{ coin: 'ETH', cloid: cloid(20) }]);
  // While it stays silent the venue says so (the status line's EXCHANGE NOT ANSWERING).
  await waitFor(() => v.unansweredInARow >= 2 || undefined, 'two unanswered in a row', 10_000);
  await waitFor(() => states(reports, cloid(20)).includes('canceled'), 'the cancel confirmed', 10_000);
  assert.equal(v.unansweredInARow, 0, 'the answer ends the streak');
  const cancels = t.actions.filter((a) => a.type === 'cancelByCloid');
  assert.equal(cancels.length, 5, 'four unanswered cancels, the fifth answered');
  assert.deepEqual(
    cancels.map((a) => (a.cancels as unknown[]).length),
    [1, 1, 1, 1, 1],
    'one cancel of the order per request',
  );
  assert.deepEqual(backoffs, [100, 200, 400, 800], 'the hold doubles with each unanswered request');
  // Each re-send waited at least its backoff after the failed one (setTimeout never fires early).
  const gaps = sentAt.slice(2).map((x, i) => x - sentAt[i + 1]);
  for (const [i, g] of gaps.entries())
    assert.ok(g >= backoffs[i] - 2, `re-send ${i + 1} after ${g} ms < ${backoffs[i]} ms`);
  // The answer ended the streak: the next unanswered request starts again at the base backoff.
  t.next = ['drop'];
  v.place([{ cloid: cloid(21), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  assert.equal(backoffs.at(-1), 100);
});

test('while an order is unsettled the engine counts it in flight: the position limit holds, nothing more goes out on that side', async () => {
  const t = new StubExchange();
  const { v } = makeVenue(t, 200);
  // A strategy that always wants a one-lot bid.
  const strategy: Strategy = {
    name: 'bid-only',
    onBook: () => ({ bid: { px: 3000, sz: 0.01 }, ask: null }),
    onTimer: () => ({ bid: { px: 3000, sz: 0.01 }, ask: null }),
  };
  let now = 1_000_000;
  const eng = new Engine({
    clock: { now: () => now },
    venue: v,
    strategy,
    instrument: {
      coin: 'ETH',
      tick: 0.1,
      szDecimals: 4,
      lotSize: 0.01,
      minNotional: 10,
      makerFee: 0.00015,
      takerFee: 0.00045,
    },
    risk: { maxPositionLots: 1, staleMs: Number.POSITIVE_INFINITY },
    timerIntervalMs: 50,
    cloidSeed: 1_700_000_000_000,
  });
  const limit = 0.01 + 1e-12;
  const check = () => {
    const pos = eng.portfolio.position;
    assert.ok(pos + eng.orders.exposure('bid') <= limit, `position ${pos} + bids in flight exceed 1 lot`);
  };
  // The exchange takes the order but its answer never comes, and orderStatus is unreachable for now.
  t.next = ['hang'];
  t.statusFails = true;
  eng.start();
  const book = (px: number) =>
    eng.onMarket({
      kind: 'book',
      coin: 'ETH',
      exTime: now,
      rxTime: now,
      bids: [{ px, sz: 1, n: 1 }],
      asks: [{ px: px + 0.2, sz: 1, n: 1 }],
    });
  book(3000.5);
  for (let i = 0; i < 20; i++) {
    now += 50;
    book(3000.5 + (i % 3) / 10);
    eng.onTimer(now);
    check();
    await new Promise((r) => setTimeout(r, 20));
  }
  // The deadline passed, orderStatus failed: still unsettled, still counted, and only one order ever sent.
  assert.equal(v.stats.ackTimeouts, 1);
  assert.equal(eng.orders.exposure('bid'), 0.01, 'the unsettled order is counted in flight');
  assert.equal(t.actions.filter((a) => a.type === 'order').length, 1, 'no second bid while unsettled');
  // The order did rest and now fills (the stream delivers it): position 1 lot, nothing in flight.
  const pending = eng.orders.openOrders()[0];
  assert.equal(pending.state, 'pending-new');
  v.onWireFills(
    [
      {
        coin: 'ETH',
        px: '3000.0',
        sz: '0.01',
        side: 'B',
        time: now,
        oid: 4242,
        crossed: false,
        fee: '0.0045',
        tid: 1,
        cloid: pending.cloid,
      },
    ],
    false,
  );
  check();
  assert.equal(eng.portfolio.position, 0.01);
  assert.equal(eng.orders.exposure('bid'), 0);
  // The sweep settles the venue's record once orderStatus answers: filled.
  t.statusFails = false;
  t.statuses.set(pending.cloid, { status: 'filled', oid: 4242 });
  await v.sweep();
  assert.equal(v.liveOrders().length, 0, 'nothing left unsettled');
  // At the limit: no new bid.
  now += 50;
  eng.onTimer(now);
  await v.whenIdle();
  check();
  assert.equal(t.actions.filter((a) => a.type === 'order').length, 1);
});

test('a stop the exchange never confirms can be abandoned: nothing more is sent, the stop returns', async () => {
  const t = new StubExchange();
  const { v } = makeVenue(t);
  await v.start();
  v.place([{ cloid: cloid(30), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  t.statuses.set(cloid(30), { status: 'open', oid: 100 });
  t.open = [{ coin: 'ETH', oid: 100, cloid: cloid(30), side: 'B', limitPx: '3000.0', sz: '0.01' }];
  // The exchange answers 500 to everything from now on (for far longer than any test waits).
  t.next = Array.from({ length: 1000 }, () => 'http500' as const);
  // A cancel the exchange never confirms keeps the queue busy (re-sent with a growing backoff): the stop waits.
  v.cancel([{ coin: 'ETH', cloid: cloid(30) }]);
  const stopping = v.stop();
  const outcome = stopping.then(
    () => 'stopped',
    (e: Error) => e.message,
  );
  await waitFor(() => t.actions.length >= 4, 'the cancel re-sent', 5000);
  await v.abandon();
  const sent = t.actions.length;
  // The stop ends at once, saying what is true: the order may still rest (the guard's, or a human's, turn).
  assert.match(await outcome, /abandoned: orders may still rest/);
  await v.whenIdle();
  assert.ok(
    t.actions.length <= sent + 1,
    `at most the request in flight after abandon (${sent} → ${t.actions.length})`,
  );
});
