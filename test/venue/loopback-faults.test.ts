/**
 * Fault injection added for the trader's unacknowledged-order and fills-while-down tests, driven through
 * POST /_control as a test or an operator would: HTTP 500 (not executed), executed-but-unanswered requests,
 * delayed answers, and `injectTrade`, a market trade that fills resting orders as a replayed one would.
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  ExchangeClient,
  HttpRequestError,
  HttpTransport,
  InfoClient,
  SubscriptionClient,
  TransportError,
  WebSocketTransport,
} from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { type LoopbackServer, startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { bbo, book, T0 } from './fixtures.ts';

const ETH = 1;
const TOKEN = 'faults-token';

describe('loopback faults through POST /_control', () => {
  const w = privateKeyToAccount(generatePrivateKey());
  let srv: LoopbackServer;
  let ex: ExchangeClient;
  let info: InfoClient;
  const control = async (cmd: Record<string, unknown>, token = TOKEN) => {
    const r = await fetch(`${srv.httpUrl}/_control`, {
      method: 'POST',
      headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
      body: JSON.stringify(cmd),
    });
    // biome-ignore lint/suspicious/noExplicitAny: control answers are JSON or text, checked field by field below
    const body: any = r.headers.get('content-type')?.includes('json') ? await r.json() : await r.text();
    return { status: r.status, body };
  };
  let n = 0;
  /** A resting Alo bid with a fresh cloid (high bits set, so the library sends it as a string). */
  const bid = (px: string) => {
    const cloid = `0xc${(++n).toString(16).padStart(31, '0')}` as `0x${string}`;
    return {
      cloid,
      req: {
        orders: [
          { a: ETH, b: true, p: px, s: '0.01', r: false, t: { limit: { tif: 'Alo' as const } }, c: cloid },
        ],
        grouping: 'na' as const,
      },
    };
  };

  before(async () => {
    srv = await startLoopbackServer({
      events: [book(T0), bbo(T0)],
      autoStart: false,
      accounts: [{ address: w.address }],
      controlToken: TOKEN,
    });
    srv.replay.advanceTo(T0);
    const http = new HttpTransport({ apiUrl: srv.httpUrl, timeout: null });
    ex = new ExchangeClient({ transport: http, wallet: w });
    info = new InfoClient({ transport: http });
  });
  after(() => srv.close());

  test('http500: the next N /exchange requests get HTTP 500 and are not executed', async () => {
    assert.deepEqual(await control({ fault: 'http500', n: 2 }), { status: 200, body: { ok: true } });
    for (let i = 0; i < 2; i++) {
      const o = bid('3300');
      await assert.rejects(
        ex.order(o.req),
        (e: unknown) => e instanceof HttpRequestError && e.response?.status === 500,
      );
      assert.equal(
        (await info.orderStatus({ user: w.address, oid: o.cloid })).status,
        'unknownOid',
        'never arrived',
      );
    }
    assert.ok((await info.meta()).universe.length > 0, '/info is not affected');
    const o = bid('3300');
    await ex.order(o.req);
    const st = await info.orderStatus({ user: w.address, oid: o.cloid });
    assert.equal(st.status === 'order' && st.order.status, 'open');
  });

  test('dropResponses: the request is executed, the connection closes without an answer', async () => {
    assert.deepEqual(await control({ fault: 'dropResponses', n: 1 }), { status: 200, body: { ok: true } });
    const o = bid('3301');
    await assert.rejects(
      ex.order(o.req),
      (e: unknown) => e instanceof TransportError && !(e instanceof HttpRequestError && e.response),
    );
    const st = await info.orderStatus({ user: w.address, oid: o.cloid });
    assert.equal(
      st.status === 'order' && st.order.status,
      'open',
      'the order rests although the client never heard',
    );
    const next = bid('3302');
    await ex.order(next.req);
  });

  test('delayExchange: the action runs at once, only its answer waits', async () => {
    assert.deepEqual(await control({ fault: 'delayExchange', ms: 1500, n: 1 }), {
      status: 200,
      body: { ok: true },
    });
    const o = bid('3303');
    let answered = false;
    const p = ex.order(o.req).then((r) => {
      answered = true;
      return r;
    });
    const rec = await waitFor(
      () => srv.state.findByCloid(w.address.toLowerCase(), o.cloid),
      'order recorded',
    );
    assert.equal(rec.status, 'open');
    assert.equal(answered, false, 'the order rested before its answer was sent');
    const r = await p;
    assert.ok('resting' in (r.response.data.statuses[0] as object));
  });

  test('injectTrade: a market trade fills resting orders exactly as a replayed trade would', async () => {
    const ws = new WebSocketTransport({ url: srv.wsUrl });
    try {
      await ws.ready();
      const trades: { px: string; sz: string; side: string; tid: number }[][] = [];
      await new SubscriptionClient({ transport: ws }).trades({ coin: 'ETH' }, (t) => trades.push(t));
      const o = bid('3340');
      const placed = await ex.order(o.req);
      const oid = (placed.response.data.statuses[0] as { resting: { oid: number } }).resting.oid;
      // A sale at our price: the recorded book shows nothing at 3340 (beyond its depth), so no queue is ahead
      // of us and the 0.004 fills that much of our 0.01.
      const r = await control({ fault: 'injectTrade', coin: 'ETH', side: 'sell', px: 3340, sz: 0.004 });
      assert.equal(r.status, 200);
      assert.equal(r.body.fills, 1);
      const fills = await info.userFills({ user: w.address });
      assert.deepEqual(
        fills.map((f) => [f.oid, f.px, f.sz, f.side, f.crossed, f.tid]),
        [[oid, '3340.0', '0.004', 'B', false, r.body.tid]],
      );
      // A sale through the remaining 0.006 fills it completely, at our price.
      const r2 = await control({ fault: 'injectTrade', coin: 'ETH', side: 'sell', px: 3330, sz: 2 });
      assert.equal(r2.body.fills, 1);
      const st = await info.orderStatus({ user: w.address, oid });
      assert.equal(st.status === 'order' && st.order.status, 'filled');
      // A buy never touches a bid.
      assert.equal(
        (await control({ fault: 'injectTrade', coin: 'ETH', side: 'buy', px: 3300, sz: 1 })).body.fills,
        0,
      );
      await waitFor(() => (trades.flat().length >= 3 ? true : undefined), 'trades pushed');
      assert.deepEqual(
        trades.flat().map((t) => [t.px, t.sz, t.side]),
        [
          ['3340.0', '0.004', 'A'],
          ['3330.0', '2.0', 'A'],
          ['3300.0', '1.0', 'B'],
        ],
      );
      const candles = await info.candleSnapshot({ coin: 'ETH', interval: '1m', startTime: T0 });
      assert.deepEqual(
        candles.map((c) => [c.o, c.h, c.l, c.c, c.n]),
        [['3340.0', '3340.0', '3300.0', '3300.0', 3]],
      );
    } finally {
      ws.close();
    }
  });

  test('control errors name the field and the fix; the token is required', async () => {
    assert.equal((await control({ fault: 'http500' }, 'wrong')).status, 401);
    const bad = await control({ fault: 'injectTrade', coin: 'ETH', side: 'B', px: 3300, sz: 1 });
    assert.equal(bad.status, 400);
    assert.match(String(bad.body), /field "side" must be "buy" or "sell"/);
    const unknownCoin = await control({ fault: 'injectTrade', coin: 'DOGE', side: 'buy', px: 1, sz: 1 });
    assert.equal(unknownCoin.status, 400);
    assert.match(String(unknownCoin.body), /coin DOGE is not served/);
    const noMs = await control({ fault: 'delayExchange', n: 1 });
    assert.equal(noMs.status, 400);
    assert.match(String(noMs.body), /field "ms" must be a non-negative number/);
  });
});
