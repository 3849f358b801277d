import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HttpRequestError, type IRequestTransport } from '@nktkas/hyperliquid';
import { keccak256, stringToHex } from 'viem';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { Fill, OrderUpdate, VenueReport } from '../../src/engine/types.ts';
import { UNANSWERED_MAX } from '../../src/venue/hyperliquid/execution/cancel-all.ts';
import {
  createMonotonicNonces,
  exchangeActionWeight,
  RateBudget,
  TokenBucket,
} from '../../src/venue/hyperliquid/execution/limits.ts';
import { fastAgentWallet } from '../../src/venue/hyperliquid/execution/signer.ts';
import { HyperliquidVenue } from '../../src/venue/hyperliquid/execution/venue.ts';
import { formatOrder, mapOrderStatus } from '../../src/venue/hyperliquid/execution/wire.ts';
import { recoverL1Signer } from '../../src/venue/loopback/signing.ts';

const ETH = { coin: 'ETH', asset: 1, szDecimals: 4 };
const cloid = (n: number) => `0x${n.toString(16).padStart(32, '0')}`;
const ALO_ERROR = 'Post only order would have immediately matched, bbo was 3000.1@3000.2. asset=1';

test('orders are rounded toward the passive side on the exchange grid and refused under $10', () => {
  const bid = formatOrder({ side: 'bid', px: 3000.19, sz: 0.012345, tif: 'Alo', cloid: cloid(1) }, ETH);
  const ask = formatOrder({ side: 'ask', px: 3000.11, sz: 0.012345, tif: 'Alo', cloid: cloid(2) }, ETH);
  assert.ok(!('error' in bid) && !('error' in ask));
  // ETH: szDecimals 4 → at most 2 decimals, and 5 significant figures → 0.1 steps at 3,000.
  assert.equal(bid.wire.p, '3000.1');
  assert.equal(ask.wire.p, '3000.2');
  assert.equal(bid.wire.s, '0.0123');
  assert.deepEqual(bid.wire.t, { limit: { tif: 'Alo' } });
  assert.equal(bid.wire.b, true);
  assert.equal(ask.wire.b, false);
  assert.equal(bid.wire.a, 1);
  // BTC: szDecimals 5 → integer prices at 5 significant figures around 100k.
  const btc = formatOrder(
    { side: 'ask', px: 97_123.4, sz: 0.001, tif: 'Alo', cloid: cloid(3) },
    { coin: 'BTC', asset: 0, szDecimals: 5 },
  );
  assert.ok(!('error' in btc) && btc.wire.p === '97124');
  const small = formatOrder({ side: 'bid', px: 3000, sz: 0.003, tif: 'Alo', cloid: cloid(4) }, ETH);
  assert.ok('error' in small && /minimum value of \$10/.test(small.error));
});

test('exchange statuses map onto order states', () => {
  assert.equal(mapOrderStatus('open'), 'open');
  assert.equal(mapOrderStatus('filled'), 'filled');
  assert.equal(mapOrderStatus('badAloPxRejected'), 'rejected');
  assert.equal(mapOrderStatus('scheduledCancel'), 'canceled');
  assert.equal(mapOrderStatus('marginCanceled'), 'canceled');
});

test('rate budget: action weight 1 + floor(n/40), 1200 weight per minute, 429 backoff doubles up to its cap', () => {
  assert.deepEqual([1, 39, 40, 79, 80].map(exchangeActionWeight), [1, 1, 2, 2, 3]);
  const b = new RateBudget(0, {
    actionsPerSecond: 1e9,
    ipWeightPerMin: 1200,
    backoffBaseMs: 500,
    backoffMaxMs: 4000,
  });
  let sent = 0;
  while (b.waitMs(1, false, 0) === 0) {
    b.consume(1, false, 0);
    sent++;
  }
  assert.equal(sent, 1200, 'a full bucket lets exactly 1200 weight through at once');
  // Refill is 20 weight per second.
  assert.equal(b.waitMs(1, false, 0), 50);
  assert.equal(b.waitMs(1, false, 50), 0);
  assert.deepEqual(
    [b.on429(0), b.on429(0), b.on429(0), b.on429(0), b.on429(0)],
    [500, 1000, 2000, 4000, 4000],
  );
  assert.ok(b.inBackoff(3999) && !b.inBackoff(4001));
  b.onSuccess();
  assert.equal(b.on429(10_000), 500);
  // Our actions/s cap holds orders but never cancels.
  const c = new RateBudget(0, { actionsPerSecond: 2 });
  c.consume(1, false, 0);
  c.consume(1, false, 0);
  assert.ok(c.waitMs(1, false, 0) > 0);
  assert.equal(c.waitMs(5, true, 0), 0);
  // Address budget: once exhausted, one request 10 s (+ margin) after the last one admitted; cancels have
  // their own, higher cap; every traded USDC earns one more request.
  const d = new RateBudget(0, { addressAllowance: 2, actionsPerSecond: 1e9 });
  assert.equal(d.addressThrottled, false);
  d.consume(2, false, 0);
  assert.equal(d.addressThrottled, true);
  assert.equal(d.waitMs(1, false, 0), 10_250);
  assert.equal(d.waitMs(1, true, 0), 0, 'cancels: under their own cap');
  d.consume(1, false, 10_250);
  assert.equal(d.waitMs(1, false, 11_250), 9_250);
  d.creditTraded(50.7); // 50 USDC traded → 50 more requests
  assert.equal(d.waitMs(1, false, 11_250), 0);
  assert.equal(d.addressAllowance, 49); // cap 10,050 − 1 − used 10,000
  // The exchange's own count replaces the estimate; its refusal throttles whatever we counted.
  d.sync({ cumVlm: '100.0', nRequestsUsed: 50, nRequestsCap: 10_100 });
  assert.deepEqual(
    { ...d.view() },
    { used: 50, cap: 10_100, remaining: 10_049, cumVlm: 100, throttled: false, synced: true },
  );
  const changes: boolean[] = [];
  d.onThrottleChange = (t) => changes.push(t);
  d.onAddressRefused(1, 20_000);
  assert.equal(d.addressThrottled, true);
  assert.equal(d.waitMs(1, false, 20_000), 10_250);
  d.sync({ cumVlm: '20000', nRequestsUsed: 10_100, nRequestsCap: 30_000 });
  assert.deepEqual(changes, [true, false], 'each change reported once');
});

test('token bucket refills continuously and caps at its capacity', () => {
  const t = new TokenBucket(10, 0.01, 0);
  t.take(10, 0);
  assert.equal(t.waitFor(1, 0), 100);
  assert.equal(t.available(10_000), 10);
});

test('nonces strictly increase per signer even within one millisecond', () => {
  let now = 1_000;
  const next = createMonotonicNonces(() => now);
  const a = [next('0xA'), next('0xa'), next('0xA')];
  assert.deepEqual(a, [1000, 1001, 1002]);
  assert.equal(next('0xB'), 1000, 'signers are independent');
  now = 999; // clock stepped back
  assert.equal(next('0xA'), 1003);
  now = 5000;
  assert.equal(next('0xA'), 5000);
});

/** A fake exchange endpoint: records every signed action and answers from a script. */
class FakeTransport implements IRequestTransport {
  readonly isTestnet = false;
  readonly sent: {
    action: Record<string, unknown>;
    nonce: number;
    signature: { r: string; s: string; v: number };
  }[] = [];
  answers: ((action: Record<string, unknown>) => unknown)[] = [];
  openOrders: unknown[] = [];
  /** openOrders requests made, and how many of the next ones get no answer (a network failure). */
  openOrdersCalls = 0;
  openOrdersUnanswered = 0;
  async request<T>(endpoint: 'info' | 'exchange', payload: unknown): Promise<T> {
    const p = payload as Record<string, unknown>;
    if (endpoint === 'info') {
      if (p.type === 'openOrders') {
        this.openOrdersCalls++;
        if (this.openOrdersUnanswered > 0) {
          this.openOrdersUnanswered--;
          throw new TypeError('fetch failed');
        }
        return this.openOrders as T;
      }
      if (p.type === 'clearinghouseState') {
        return { marginSummary: { accountValue: '1000' }, assetPositions: [], time: 0 } as T;
      }
      if (p.type === 'orderStatus') return { status: 'unknownOid' } as T;
      throw new Error(`unexpected info ${String(p.type)}`);
    }
    this.sent.push(p as (typeof this.sent)[number]);
    const a = p.action as Record<string, unknown>;
    const f = this.answers.shift();
    if (f) return f(a) as T;
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

function makeVenue(t: FakeTransport) {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  const reports: VenueReport[] = [];
  const v = new HyperliquidVenue({
    httpUrl: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/ws',
    signer: { address: account.address, account },
    assets: [ETH],
    transport: t,
    noStreams: true,
    rate: { backoffBaseMs: 20, backoffMaxMs: 80 },
  });
  v.setReportListener((r) => reports.push(r));
  return { v, reports, account };
}

const orderUpdates = (rs: VenueReport[]) => rs.filter((r): r is OrderUpdate => r.kind === 'order');

test('place sends one signed Alo batch (grouping na) that recovers to the agent wallet; resting → open', async () => {
  const t = new FakeTransport();
  const { v, reports, account } = makeVenue(t);
  v.place([
    { cloid: cloid(1), coin: 'ETH', side: 'bid', px: 3000.17, sz: 0.01, tif: 'Alo' },
    { cloid: cloid(2), coin: 'ETH', side: 'ask', px: 3000.21, sz: 0.01, tif: 'Alo' },
  ]);
  await v.whenIdle();
  assert.equal(t.sent.length, 1, 'both orders in one action');
  const { action, nonce, signature } = t.sent[0];
  assert.equal(action.type, 'order');
  assert.equal(action.grouping, 'na');
  const orders = action.orders as { p: string; t: unknown; c: string }[];
  assert.deepEqual(
    orders.map((o) => [o.p, o.c]),
    [
      ['3000.1', cloid(1)],
      ['3000.3', cloid(2)],
    ],
  );
  // The signature is the exchange's L1 scheme, by the agent key.
  assert.equal(await recoverL1Signer({ action, nonce, signature }), account.address.toLowerCase());
  assert.deepEqual(
    orderUpdates(reports).map((u) => [u.cloid, u.state, u.oid, u.px]),
    [
      [cloid(1), 'open', 100, 3000.1],
      [cloid(2), 'open', 101, 3000.3],
    ],
  );
});

test('an Alo rejection becomes a rejected report with the exchange text, with no retry', async () => {
  const t = new FakeTransport();
  const { v, reports } = makeVenue(t);
  t.answers.push(() => ({
    status: 'ok',
    response: { type: 'order', data: { statuses: [{ error: ALO_ERROR }, { resting: { oid: 7 } }] } },
  }));
  v.place([
    { cloid: cloid(1), coin: 'ETH', side: 'bid', px: 3000.2, sz: 0.01, tif: 'Alo' },
    { cloid: cloid(2), coin: 'ETH', side: 'ask', px: 3000.3, sz: 0.01, tif: 'Alo' },
  ]);
  await v.whenIdle();
  await new Promise((r) => setTimeout(r, 100));
  assert.equal(t.sent.length, 1, 'no retry of the rejected order');
  const u = orderUpdates(reports);
  assert.deepEqual(
    u.map((x) => [x.cloid, x.state, x.reason]),
    [
      [cloid(1), 'rejected', ALO_ERROR],
      [cloid(2), 'open', undefined],
    ],
  );
  assert.equal(v.stats.aloRejects, 1);
});

test('HTTP 429: the action is resent after an exponential backoff, once it goes through', async () => {
  const t = new FakeTransport();
  const { v, reports } = makeVenue(t);
  const tooMany = () => {
    throw new HttpRequestError({
      response: new Response('', { status: 429, statusText: 'Too Many Requests' }),
    });
  };
  t.answers.push(tooMany, tooMany);
  const t0 = performance.now();
  v.place([{ cloid: cloid(9), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  const waited = performance.now() - t0;
  assert.equal(t.sent.length, 3);
  assert.ok(
    t.sent[2].nonce > t.sent[1].nonce && t.sent[1].nonce > t.sent[0].nonce,
    'a fresh nonce per attempt',
  );
  assert.ok(waited >= 20 + 40 - 5, `backed off 20 + 40 ms (waited ${waited.toFixed(0)} ms)`);
  assert.equal(v.stats.http429, 2);
  assert.deepEqual(
    orderUpdates(reports).map((u) => u.state),
    ['open'],
  );
});

test('modify goes out as batchModify by oid; the old order is reported canceled, the new one open', async () => {
  const t = new FakeTransport();
  const { v, reports } = makeVenue(t);
  v.place([{ cloid: cloid(1), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  v.modify([{ coin: 'ETH', cloid: cloid(1), newCloid: cloid(2), px: 2999.96, sz: 0.01 }]);
  await v.whenIdle();
  const m = t.sent[1].action as {
    type: string;
    modifies: { oid: number; order: { p: string; c: string; b: boolean } }[];
  };
  assert.equal(m.type, 'batchModify');
  assert.deepEqual(
    m.modifies.map((x) => [x.oid, x.order.c, x.order.p, x.order.b]),
    [[100, cloid(2), '2999.9', true]],
  );
  assert.deepEqual(
    orderUpdates(reports).map((u) => [u.cloid, u.state]),
    [
      [cloid(1), 'open'],
      [cloid(1), 'canceled'],
      [cloid(2), 'open'],
    ],
  );
  v.cancel([{ coin: 'ETH', cloid: cloid(2) }]);
  await v.whenIdle();
  assert.equal((t.sent[2].action as { type: string }).type, 'cancelByCloid');
  assert.deepEqual(orderUpdates(reports).at(-1)?.state, 'canceled');
});

test('fills: duplicates and the reconnect snapshot are counted once; terminal states are sticky', async () => {
  const t = new FakeTransport();
  const { v, reports } = makeVenue(t);
  v.place([{ cloid: cloid(1), coin: 'ETH', side: 'ask', px: 3001, sz: 0.02, tif: 'Alo' }]);
  await v.whenIdle();
  const old = {
    coin: 'ETH',
    px: '2990.0',
    sz: '0.01',
    side: 'B' as const,
    time: 1,
    oid: 5,
    crossed: false,
    fee: '0.004',
    tid: 1,
  };
  // The first snapshot is history from before this session: absorbed, not reported.
  v.onWireFills([old], true);
  const f1 = {
    coin: 'ETH',
    px: '3001.0',
    sz: '0.01',
    side: 'A' as const,
    time: 10,
    oid: 100,
    crossed: false,
    fee: '0.0045',
    tid: 11,
    cloid: cloid(1),
  };
  const f2 = { ...f1, tid: 12, time: 11 };
  v.onWireFills([f1], false);
  v.onWireFills([f1], false); // duplicated message
  // Reconnect: the snapshot repeats what we saw plus a fill missed while disconnected.
  v.onWireFills([old, f1, f2], true);
  const fills = reports.filter((r): r is Fill => r.kind === 'fill');
  assert.deepEqual(
    fills.map((f) => [f.tid, f.side, f.px, f.sz, f.liquidity]),
    [
      [11, 'ask', 3001, 0.01, 'maker'],
      [12, 'ask', 3001, 0.01, 'maker'],
    ],
  );
  assert.equal(v.stats.duplicateFills, 3);
  // Out of order: 'filled' then a late 'open' for the same order: stays filled.
  const ou = (status: string) => ({
    order: { coin: 'ETH', side: 'A' as const, limitPx: '3001.0', sz: '0.0', oid: 100, cloid: cloid(1) },
    status,
    statusTimestamp: 12,
  });
  v.onWireOrderUpdate(ou('filled'));
  v.onWireOrderUpdate(ou('open'));
  assert.deepEqual(
    orderUpdates(reports).map((u) => u.state),
    ['open', 'filled'],
  );
});

test('cancel-all lists the account’s open orders, cancels them by oid, and resolves when none rest', async () => {
  const t = new FakeTransport();
  const { v } = makeVenue(t);
  t.openOrders = [
    { coin: 'ETH', side: 'B', limitPx: '2990', sz: '0.01', oid: 41, timestamp: 0, origSz: '0.01' },
    {
      coin: 'ETH',
      side: 'A',
      limitPx: '3010',
      sz: '0.01',
      oid: 42,
      timestamp: 0,
      origSz: '0.01',
      cloid: cloid(5),
    },
  ];
  t.answers.push((a) => {
    t.openOrders = [];
    return {
      status: 'ok',
      response: { type: 'cancel', data: { statuses: (a.cancels as unknown[]).map(() => 'success') } },
    };
  });
  await v.cancelAll('ETH');
  assert.equal(t.sent.length, 1);
  assert.deepEqual(t.sent[0].action, {
    type: 'cancel',
    cancels: [
      { a: 1, o: 41 },
      { a: 1, o: 42 },
    ],
  });
});

test('cancel-all rides out requests without an answer: listings and a lost cancel, then none rest', async () => {
  const t = new FakeTransport();
  const { v } = makeVenue(t);
  t.openOrders = [
    { coin: 'ETH', side: 'B', limitPx: '2990', sz: '0.01', oid: 41, timestamp: 0, origSz: '0.01' },
  ];
  t.openOrdersUnanswered = 2;
  t.answers.push(() => {
    throw new TypeError('socket hang up'); // the first cancel: no answer (it did not go through)
  });
  t.answers.push((a) => {
    t.openOrders = [];
    return {
      status: 'ok',
      response: { type: 'cancel', data: { statuses: (a.cancels as unknown[]).map(() => 'success') } },
    };
  });
  const t0 = performance.now();
  await v.cancelAll('ETH');
  // Waits: 0.1 and 0.2 s after the two silent listings, 0.1 s after the lost cancel (the listing in between
  // was answered, so the count started again).
  assert.ok(performance.now() - t0 >= 390, `waited ${performance.now() - t0} ms`);
  assert.equal(t.sent.length, 2, 'the cancel was sent again');
  // 2 unanswered, 1 with the order, 1 still with it (the lost cancel), 1 empty.
  assert.equal(t.openOrdersCalls, 5);
});

test('cancel-all gives up after UNANSWERED_MAX requests in a row without an answer', async (tt) => {
  tt.mock.timers.enable({ apis: ['setTimeout'] });
  const t = new FakeTransport();
  const { v } = makeVenue(t);
  t.openOrdersUnanswered = Number.POSITIVE_INFINITY;
  let settled = false;
  const p = v.cancelAll('ETH');
  p.then(
    () => {},
    () => {},
  ).finally(() => {
    settled = true;
  });
  let waited = 0;
  while (!settled && waited < 60_000) {
    await new Promise((r) => setImmediate(r));
    tt.mock.timers.tick(100);
    waited += 100;
  }
  await assert.rejects(p, /fetch failed/);
  assert.equal(t.openOrdersCalls, UNANSWERED_MAX + 1);
  // min(2 s, 0.1 s · 2^(n−1)) for n = 1…8: 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 2 + 2 + 2 = 9.1 s (the stop's budget is 10 s).
  assert.ok(waited >= 9100 && waited <= 9300, `waited ${waited} ms`);
});

test('a refused modify does not claim the old order is gone: the engine’s cancel for it is really sent', async () => {
  const t = new FakeTransport();
  const { v, reports } = makeVenue(t);
  v.place([{ cloid: cloid(1), coin: 'ETH', side: 'bid', px: 3000, sz: 0.01, tif: 'Alo' }]);
  await v.whenIdle();
  t.answers.push(() => ({
    status: 'ok',
    response: { type: 'order', data: { statuses: [{ error: ALO_ERROR }] } },
  }));
  v.modify([{ coin: 'ETH', cloid: cloid(1), newCloid: cloid(2), px: 3000.3, sz: 0.01 }]);
  await v.whenIdle();
  assert.deepEqual(
    orderUpdates(reports).map((u) => [u.cloid, u.state]),
    [
      [cloid(1), 'open'],
      [cloid(2), 'rejected'],
    ],
  );
  v.cancel([{ coin: 'ETH', cloid: cloid(1) }]);
  await v.whenIdle();
  assert.deepEqual(t.sent[2].action, { type: 'cancelByCloid', cancels: [{ asset: 1, cloid: cloid(1) }] });
  assert.deepEqual(orderUpdates(reports).at(-1), {
    ...orderUpdates(reports).at(-1),
    cloid: cloid(1),
    state: 'canceled',
  });
});

test('the fast phantom-agent signer produces the exact signature viem produces', async () => {
  const account = privateKeyToAccount(generatePrivateKey());
  const fast = fastAgentWallet(account);
  const domain = {
    name: 'Exchange',
    version: '1',
    chainId: 1337,
    verifyingContract: '0x0000000000000000000000000000000000000000',
  } as const;
  const types = {
    Agent: [
      { name: 'source', type: 'string' },
      { name: 'connectionId', type: 'bytes32' },
    ],
  } as const;
  for (const source of ['a', 'b']) {
    const message = { source, connectionId: keccak256(stringToHex(`action ${source}`)) };
    const viaViem = await account.signTypedData({ domain, types, primaryType: 'Agent', message });
    assert.equal(await fast.signTypedData({ domain, types, primaryType: 'Agent', message }), viaViem);
  }
});

test('with the raw key, the libsecp256k1 signer is byte-identical to viem; a foreign key falls back to viem', async () => {
  const key = generatePrivateKey();
  const account = privateKeyToAccount(key);
  const domain = {
    name: 'Exchange',
    version: '1',
    chainId: 1337,
    verifyingContract: '0x0000000000000000000000000000000000000000',
  } as const;
  const types = {
    Agent: [
      { name: 'source', type: 'string' },
      { name: 'connectionId', type: 'bytes32' },
    ],
  } as const;
  const withKey = fastAgentWallet(account, key);
  // A key that is not the account's: its signatures would recover to another address, so viem must sign.
  const wrongKey = fastAgentWallet(account, generatePrivateKey());
  for (let i = 0; i < 20; i++) {
    const message = { source: i % 2 ? 'a' : 'b', connectionId: keccak256(stringToHex(`action ${i}`)) };
    const viaViem = await account.signTypedData({ domain, types, primaryType: 'Agent', message });
    assert.equal(await withKey.signTypedData({ domain, types, primaryType: 'Agent', message }), viaViem);
    assert.equal(await wrongKey.signTypedData({ domain, types, primaryType: 'Agent', message }), viaViem);
  }
});
