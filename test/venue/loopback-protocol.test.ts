/**
 * Protocol tests of the loopback Hyperliquid server, driven by @nktkas/hyperliquid's own clients (HTTP and
 * WebSocket transports) with keys generated here. The market is synthetic with known prices, stepped
 * deterministically with `replay.advanceTo`, so every expected number is computed by hand.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ApiRequestError,
  ExchangeClient,
  HttpRequestError,
  HttpTransport,
  InfoClient,
  SubscriptionClient,
  WebSocketTransport,
} from '@nktkas/hyperliquid';
import { signL1Action } from '@nktkas/hyperliquid/signing';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { type LoopbackServer, startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { bbo, book, steadyMarket, T0, trade } from './fixtures.ts';

const ETH = 1; // Hyperliquid's asset index of ETH
const CONTROL_TOKEN = 'test-token';

/** Book/bbo at T0; at T0+2000 a sale through 3350.0 (the market drops one level); quiet afterwards. */
function market(): MarketEvent[] {
  return [
    book(T0),
    bbo(T0),
    trade(T0 + 2000, 77, 3349.9, 1.5, 'sell'),
    book(T0 + 2001, 3349.9, 3350.0),
    bbo(T0 + 2001, 3349.9, 3350.0),
    book(T0 + 4000, 3349.9, 3350.0),
    bbo(T0 + 4000, 3349.9, 3350.0),
  ];
}

type Status =
  | { resting: { oid: number; cloid?: string } }
  | { filled: { totalSz: string; avgPx: string; oid: number } }
  | string;
/** The resting status of an order answer (fails the test otherwise). */
function resting(st: Status): { oid: number; cloid?: string } {
  assert.ok(typeof st === 'object' && 'resting' in st, `expected a resting order, got ${JSON.stringify(st)}`);
  return st.resting;
}
function filled(st: Status): { totalSz: string; avgPx: string; oid: number } {
  assert.ok(typeof st === 'object' && 'filled' in st, `expected a filled order, got ${JSON.stringify(st)}`);
  return st.filled;
}

const limit = (tif: 'Alo' | 'Gtc' | 'Ioc') => ({ limit: { tif } });

describe('loopback server driven by @nktkas/hyperliquid', () => {
  const trader = privateKeyToAccount(generatePrivateKey());
  const agent = privateKeyToAccount(generatePrivateKey());
  const master = privateKeyToAccount(generatePrivateKey());
  const stranger = privateKeyToAccount(generatePrivateKey());
  let srv: LoopbackServer;
  let http: HttpTransport;
  let info: InfoClient;
  let ex: ExchangeClient;
  let wsTransport: WebSocketTransport;

  before(async () => {
    srv = await startLoopbackServer({
      events: market(),
      autoStart: false,
      accounts: [{ address: trader.address, balance: 10_000, lifetimeVolume: 1_000_000 }],
      agents: { [agent.address]: master.address },
      controlToken: CONTROL_TOKEN,
      scheduleCancelMinDelayMs: 100,
    });
    srv.replay.advanceTo(T0);
    http = new HttpTransport({ apiUrl: srv.httpUrl });
    info = new InfoClient({ transport: http });
    ex = new ExchangeClient({ transport: http, wallet: trader });
    wsTransport = new WebSocketTransport({ url: srv.wsUrl });
    await wsTransport.ready();
  });
  after(async () => {
    wsTransport.close();
    await srv.close();
  });

  test('info: meta, metaAndAssetCtxs, l2Book, allMids have the exchange shapes', async () => {
    const meta = await info.meta();
    assert.equal(meta.universe[ETH].name, 'ETH');
    assert.equal(meta.universe[ETH].szDecimals, 4);
    const [meta2, ctxs] = await info.metaAndAssetCtxs();
    assert.equal(meta2.universe.length, ctxs.length);
    assert.equal(ctxs[ETH].midPx, '3350.15');
    const l2 = await info.l2Book({ coin: 'ETH' });
    assert.ok(l2);
    assert.deepEqual(l2.levels[0][0], { px: '3350.1', sz: '5.0', n: 3 });
    assert.deepEqual(l2.levels[1][0], { px: '3350.2', sz: '4.0', n: 2 });
    assert.equal((await info.allMids()).ETH, '3350.15');
  });

  test('a post-only order that would cross is rejected with the exchange error string', async () => {
    await assert.rejects(
      ex.order({
        orders: [{ a: ETH, b: true, p: '3350.2', s: '0.01', r: false, t: limit('Alo') }],
        grouping: 'na',
      }),
      (e: unknown) =>
        e instanceof ApiRequestError &&
        e.message.includes('Post only order would have immediately matched, bbo was 3350.1@3350.2. asset=1'),
    );
  });

  test('order rules: minimum value, invalid price, Ioc without liquidity', async () => {
    const cases: [string, string, 'Alo' | 'Gtc' | 'Ioc', string][] = [
      ['3340', '0.002', 'Gtc', 'Order must have minimum value of $10. asset=1'],
      ['3340.123', '0.01', 'Gtc', 'asset=1'],
      ['3300', '0.01', 'Ioc', 'Order could not immediately match against any resting orders. asset=1'],
    ];
    for (const [p, s, tif, msg] of cases) {
      await assert.rejects(
        ex.order({ orders: [{ a: ETH, b: true, p, s, r: false, t: limit(tif) }], grouping: 'na' }),
        (e: unknown) => e instanceof ApiRequestError && e.message.includes(msg),
        `${p} x ${s} ${tif}`,
      );
    }
  });

  test('a key that is not an account is refused as the exchange does (wrong key)', async () => {
    const client = new ExchangeClient({ transport: http, wallet: stranger });
    await assert.rejects(
      client.order({
        orders: [{ a: ETH, b: true, p: '3340', s: '0.01', r: false, t: limit('Gtc') }],
        grouping: 'na',
      }),
      (e: unknown) =>
        e instanceof ApiRequestError &&
        e.message === `User or API Wallet ${stranger.address.toLowerCase()} does not exist.`,
    );
  });

  test('signature verification: a tampered action recovers another signer; a replayed nonce is refused', async () => {
    const action = {
      type: 'order',
      orders: [{ a: ETH, b: true, p: '3340', s: '0.01', r: false, t: { limit: { tif: 'Gtc' } } }],
      grouping: 'na',
    };
    const nonce = Date.now() + 7;
    const signature = await signL1Action({ wallet: trader, action, nonce });
    const post = async (body: unknown) =>
      (await fetch(`${srv.httpUrl}/exchange`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(body),
      }).then((r) => r.json())) as { status: string; response: unknown };
    const tampered = structuredClone(action);
    tampered.orders[0].p = '3345';
    const bad = await post({ action: tampered, nonce, signature });
    assert.equal(bad.status, 'err');
    assert.match(String(bad.response), /^User or API Wallet 0x[0-9a-f]{40} does not exist\.$/);
    assert.ok(!String(bad.response).includes(trader.address.toLowerCase()));
    const good = await post({ action, nonce, signature });
    assert.equal(good.status, 'ok', JSON.stringify(good));
    const again = await post({ action, nonce, signature });
    assert.deepEqual(again, { status: 'err', response: `Invalid nonce: duplicate nonce ${nonce}` });
    await ex.cancel({
      cancels: [
        {
          a: ETH,
          o: (good.response as { data: { statuses: { resting: { oid: number } }[] } }).data.statuses[0]
            .resting.oid,
        },
      ],
    });
  });

  test('an API wallet trades for its master account', async () => {
    const client = new ExchangeClient({ transport: http, wallet: agent });
    const r = await client.order({
      orders: [{ a: ETH, b: false, p: '3360', s: '0.01', r: false, t: limit('Alo') }],
      grouping: 'na',
    });
    const st = resting(r.response.data.statuses[0]);
    const open = await info.openOrders({ user: master.address });
    assert.deepEqual(
      open.map((o) => [o.oid, o.side, o.limitPx, o.sz]),
      [[st.oid, 'A', '3360.0', '0.01']],
    );
    assert.deepEqual(await info.openOrders({ user: agent.address }), []);
    await client.cancel({ cancels: [{ a: ETH, o: st.oid }] });
    assert.deepEqual(await info.openOrders({ user: master.address }), []);
  });

  test('cancelByCloid, batchModify (new oid, old one cancelled), orderStatus', async () => {
    const cloid = '0x0000000000000000000000000000abcd';
    const placed = await ex.order({
      orders: [{ a: ETH, b: true, p: '3340', s: '0.01', r: false, t: limit('Alo'), c: cloid }],
      grouping: 'na',
    });
    const first = resting(placed.response.data.statuses[0]);
    assert.equal(first.cloid, cloid);
    const newCloid = '0x0000000000000000000000000000abce';
    const mod = await ex.batchModify({
      modifies: [
        {
          oid: first.oid,
          order: { a: ETH, b: true, p: '3341', s: '0.02', r: false, t: limit('Alo'), c: newCloid },
        },
      ],
    });
    const second = resting(mod.response.data.statuses[0]);
    assert.notEqual(second.oid, first.oid);
    const old = await info.orderStatus({ user: trader.address, oid: first.oid });
    assert.equal(old.status, 'order');
    assert.equal(old.status === 'order' && old.order.status, 'canceled');
    const open = await info.openOrders({ user: trader.address });
    assert.deepEqual(
      open.map((o) => [o.oid, o.limitPx, o.sz, o.cloid]),
      [[second.oid, '3341.0', '0.02', newCloid]],
    );
    const c = await ex.cancelByCloid({ cancels: [{ asset: ETH, cloid: newCloid }] });
    assert.deepEqual(c.response.data.statuses, ['success']);
    await assert.rejects(
      ex.cancelByCloid({ cancels: [{ asset: ETH, cloid: newCloid }] }),
      (e: unknown) =>
        e instanceof ApiRequestError &&
        e.message.includes('Order was never placed, already canceled, or filled'),
    );
    assert.deepEqual(await info.orderStatus({ user: trader.address, oid: 123 }), { status: 'unknownOid' });
  });

  test('updateLeverage and scheduleCancel (dead man switch cancels resting orders)', async () => {
    assert.deepEqual(await ex.updateLeverage({ asset: ETH, isCross: true, leverage: 10 }), {
      status: 'ok',
      response: { type: 'default' },
    });
    await assert.rejects(ex.updateLeverage({ asset: ETH, isCross: true, leverage: 26 }), ApiRequestError);
    const placed = await ex.order({
      orders: [{ a: ETH, b: true, p: '3330', s: '0.01', r: false, t: limit('Alo') }],
      grouping: 'na',
    });
    const oid = resting(placed.response.data.statuses[0]).oid;
    await ex.scheduleCancel({ time: Date.now() + 150 });
    await waitFor(
      () => (srv.state.restingOrders(trader.address.toLowerCase()).length === 0 ? true : undefined),
      'scheduled cancel',
    );
    const st = await info.orderStatus({ user: trader.address, oid });
    assert.equal(st.status === 'order' && st.order.status, 'scheduledCancel');
  });

  test('faults: HTTP 429, order rejections with a given error string, control endpoint needs the token', async () => {
    srv.faults.http429(1);
    await assert.rejects(
      info.meta(),
      (e: unknown) => e instanceof HttpRequestError && e.response?.status === 429,
    );
    assert.equal((await info.meta()).universe[ETH].name, 'ETH');

    const unauth = await fetch(`${srv.httpUrl}/_control`, {
      method: 'POST',
      body: '{"fault":"rejectNextOrders"}',
    });
    assert.equal(unauth.status, 401);
    const ctl = await fetch(`${srv.httpUrl}/_control`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${CONTROL_TOKEN}` },
      body: JSON.stringify({
        fault: 'rejectNextOrders',
        n: 1,
        error: 'Insufficient margin to place order. asset=1',
      }),
    });
    assert.deepEqual(await ctl.json(), { ok: true });
    const order = { a: ETH, b: true, p: '3330', s: '0.01', r: false, t: limit('Alo') } as const;
    await assert.rejects(
      ex.order({ orders: [order], grouping: 'na' }),
      (e: unknown) =>
        e instanceof ApiRequestError && e.message.includes('Insufficient margin to place order. asset=1'),
    );
    const ok = await ex.order({ orders: [order], grouping: 'na' });
    await ex.cancel({ cancels: [{ a: ETH, o: resting(ok.response.data.statuses[0]).oid }] });
  });

  test('WebSocket post: info and signed actions over the socket', async () => {
    const wsInfo = new InfoClient({ transport: wsTransport });
    const wsEx = new ExchangeClient({ transport: wsTransport, wallet: trader });
    assert.equal((await wsInfo.meta()).universe[ETH].name, 'ETH');
    const r = await wsEx.order({
      orders: [{ a: ETH, b: false, p: '3370', s: '0.01', r: false, t: limit('Gtc') }],
      grouping: 'na',
    });
    const st = resting(r.response.data.statuses[0]);
    const c = await wsEx.cancel({ cancels: [{ a: ETH, o: st.oid }] });
    assert.deepEqual(c.response.data.statuses, ['success']);
  });

  // Last: it moves the replay past the trade.
  test('a resting bid filled by a replayed trade: orderUpdates + userFills pushed, position and fees booked', async () => {
    const subs = new SubscriptionClient({ transport: wsTransport });
    const fillMsgs: {
      isSnapshot?: boolean;
      fills: {
        px: string;
        sz: string;
        oid: number;
        fee: string;
        crossed: boolean;
        side: string;
        tid: number;
      }[];
    }[] = [];
    const updates: { order: { oid: number }; status: string }[] = [];
    await subs.userFills({ user: trader.address }, (d) => fillMsgs.push(d));
    await subs.orderUpdates({ user: trader.address }, (d) => updates.push(...d));
    await waitFor(() => (fillMsgs.length > 0 ? true : undefined), 'userFills snapshot');
    assert.equal(fillMsgs[0].isSnapshot, true);

    const placed = await ex.order({
      orders: [{ a: ETH, b: true, p: '3350', s: '0.01', r: false, t: limit('Alo') }],
      grouping: 'na',
    });
    const oid = resting(placed.response.data.statuses[0]).oid;
    srv.replay.advanceTo(T0 + 2500);
    const live = await waitFor(() => fillMsgs.find((m) => !m.isSnapshot), 'fill push');
    assert.equal(live.fills.length, 1);
    const f = live.fills[0];
    assert.deepEqual([f.px, f.sz, f.oid, f.side, f.crossed, f.tid], ['3350.0', '0.01', oid, 'B', false, 77]);
    // Maker fee 0.015% of 3350 × 0.01 = 0.005025 USD.
    assert.ok(Math.abs(Number(f.fee) - 0.005025) < 1e-9, f.fee);
    await waitFor(
      () => updates.find((u) => u.order.oid === oid && u.status === 'filled'),
      'filled order update',
    );

    const ch = await info.clearinghouseState({ user: trader.address });
    assert.equal(ch.assetPositions.length, 1);
    const pos = ch.assetPositions[0].position;
    assert.deepEqual([pos.coin, pos.szi, pos.entryPx], ['ETH', '0.01', '3350.0']);
    // Marked at the new mid 3349.95: uPnL = 0.01 × (3349.95 − 3350) = −0.0005.
    assert.ok(Math.abs(Number(pos.unrealizedPnl) + 0.0005) < 1e-9, pos.unrealizedPnl);
    const fills = await info.userFills({ user: trader.address });
    assert.deepEqual(
      fills.map((x) => x.oid),
      [oid],
    );

    // A Gtc sell crossing the bid takes liquidity at 3349.9 and closes the position (taker fee, closed PnL).
    const sell = await ex.order({
      orders: [{ a: ETH, b: false, p: '3349.9', s: '0.01', r: true, t: limit('Gtc') }],
      grouping: 'na',
    });
    const sst = filled(sell.response.data.statuses[0]);
    assert.deepEqual([sst.totalSz, sst.avgPx], ['0.01', '3349.9']);
    const after = await info.clearinghouseState({ user: trader.address });
    assert.equal(after.assetPositions.length, 0);
    const closing = (await info.userFills({ user: trader.address }))[0];
    assert.equal(closing.dir, 'Close Long');
    assert.ok(Math.abs(Number(closing.closedPnl) + 0.001) < 1e-9, closing.closedPnl);
    // Balance: 10 000 − maker fee − taker fee (0.045% of 33.499) + closed PnL (−0.001).
    const expected = 10_000 - 0.005025 - 3349.9 * 0.01 * 0.00045 - 0.001;
    assert.ok(
      Math.abs(Number(after.marginSummary.accountValue) - expected) < 1e-6,
      after.marginSummary.accountValue,
    );
  });
});

describe('loopback server WebSocket frames (raw client)', () => {
  test('subscription acks echo the request, ping/pong, unsubscribe, reordered messages', async () => {
    const { WebSocket } = await import('ws');
    const srv = await startLoopbackServer({ events: steadyMarket(5), autoStart: false });
    const ws = new WebSocket(srv.wsUrl);
    const frames: { channel: string; data?: unknown }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    try {
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      const sub = { type: 'l2Book', coin: 'ETH', nSigFigs: null, mantissa: null };
      ws.send(JSON.stringify({ method: 'subscribe', subscription: sub }));
      ws.send(JSON.stringify({ method: 'ping' }));
      ws.send(JSON.stringify({ method: 'subscribe', subscription: { type: 'l2Book', coin: 'NOPE' } }));
      await waitFor(() => (frames.length >= 3 ? true : undefined), 'acks');
      assert.deepEqual(frames[0], {
        channel: 'subscriptionResponse',
        data: { method: 'subscribe', subscription: sub },
      });
      assert.deepEqual(frames[1], { channel: 'pong' });
      assert.equal(frames[2].channel, 'error');
      assert.match(String(frames[2].data), /^Invalid subscription/);
      frames.length = 0;
      srv.faults.reorderNextMessages(3);
      srv.replay.advanceTo(T0 + 200); // three books: +0, +100, +200
      await waitFor(() => (frames.length >= 3 ? true : undefined), 'books');
      const times = frames.map((f) => (f.data as { time: number }).time - T0);
      assert.deepEqual(times, [200, 100, 0]);
      ws.send(JSON.stringify({ method: 'unsubscribe', subscription: sub }));
      await waitFor(() => (frames.length >= 4 ? true : undefined), 'unsubscribe ack');
      assert.deepEqual(frames[3], {
        channel: 'subscriptionResponse',
        data: { method: 'unsubscribe', subscription: sub },
      });
      srv.replay.advanceTo(T0 + 1000);
      await new Promise((r) => setTimeout(r, 50));
      assert.equal(frames.length, 4, 'no data after unsubscribe');
    } finally {
      ws.close();
      await srv.close();
    }
  });
});

test('garbage on every endpoint is refused without taking the server down', async () => {
  const { WebSocket } = await import('ws');
  const srv = await startLoopbackServer({ events: steadyMarket(1), autoStart: false, controlToken: 't' });
  try {
    const post = (path: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${srv.httpUrl}${path}`, { method: 'POST', body, headers });
    const bodies = [
      '',
      'not json',
      '[]',
      '{"type":"nope"}',
      '{"action":{"type":"order","orders":[7]},"nonce":1,"signature":{"r":"0x1","s":"0x2","v":27}}',
      '{"action":{"type":"order"},"nonce":"x","signature":{}}',
      `{"action":{"type":"order","orders":[]},"nonce":${Date.now()},"signature":{"r":"0x1","s":"0x2","v":27},"vaultAddress":"0xzz"}`,
    ];
    for (const b of bodies) {
      for (const path of ['/info', '/exchange']) {
        const r = await post(path, b);
        assert.ok(r.status === 200 || r.status === 422, `${path} ${b} → ${r.status}`);
        await r.text();
      }
    }
    const ctl = await post('/_control', '{"fault":"explode"}', { Authorization: 'Bearer t' });
    assert.equal(ctl.status, 400);
    assert.match(await ctl.text(), /field "fault" must be one of/);
    const ws = new WebSocket(srv.wsUrl);
    await new Promise((resolve) => ws.once('open', resolve));
    const frames: { channel: string }[] = [];
    ws.on('message', (d) => frames.push(JSON.parse(d.toString())));
    for (const f of [
      '{',
      '{"method":"post","id":1,"request":{"type":"action","payload":{"action":1}}}',
      '{"method":"x"}',
    ]) {
      ws.send(f);
    }
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(frames.length === 3, JSON.stringify(frames));
    ws.close();
    const meta = (await (await post('/info', '{"type":"meta"}')).json()) as { universe: { name: string }[] };
    assert.equal(meta.universe[1].name, 'ETH');
  } finally {
    await srv.close();
  }
});

test('order ids never repeat across restarts (a journal kept from an earlier run knows fills by them)', async () => {
  const trader = privateKeyToAccount(generatePrivateKey());
  const oidOnFreshServer = async () => {
    const srv = await startLoopbackServer({
      events: market(),
      autoStart: false,
      accounts: [{ address: trader.address, balance: 10_000 }],
    });
    try {
      srv.replay.advanceTo(T0);
      const ex = new ExchangeClient({
        transport: new HttpTransport({ apiUrl: srv.httpUrl }),
        wallet: trader,
      });
      const r = await ex.order({
        orders: [{ a: ETH, b: true, p: '3300', s: '0.01', r: false, t: limit('Alo') }],
        grouping: 'na',
      });
      return resting(r.response.data.statuses[0] as Status).oid;
    } finally {
      await srv.close();
    }
  };
  const first = await oidOnFreshServer();
  const second = await oidOnFreshServer();
  assert.ok(
    second > first,
    `the restarted server's first order id ${second} is above the earlier one's ${first}`,
  );
});
