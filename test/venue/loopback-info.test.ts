/**
 * Every info request and exchange action of the loopback server, driven through @nktkas/hyperliquid's own
 * InfoClient / ExchangeClient / SubscriptionClient, each answer checked against the library's response type
 * (loopback-schemas.ts: strict JSON schemas from its .d.ts) and its values against independent truths: the
 * synthetic market's known trades (candles recomputed here by brute force), orders placed here, hand-computed
 * funding.
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
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { CANDLE_INTERVALS, type CandleInterval } from '../../src/venue/loopback/candles.ts';
import { type LoopbackServer, startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { bbo, book, T0, trade } from './fixtures.ts';
import { assertDecimal, assertShape, warmSchemas } from './loopback-schemas.ts';

warmSchemas();
const ETH = 1;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/** Trades over minutes, hours, days and a month boundary (T0 is 2025-12-10 21:10 UTC). */
const TRADES: TradeEvent[] = [
  trade(T0 + 1_000, 101, 3350.2, 0.5, 'buy'),
  trade(T0 + 61_000, 102, 3350.2, 1.0, 'buy'),
  trade(T0 + 125_000, 103, 3349.9, 2.0, 'sell'),
  trade(T0 + 200_000, 104, 3350.1, 0.25, 'sell'),
  trade(T0 + 2 * HOUR, 105, 3360.5, 0.3, 'buy'),
  trade(T0 + DAY + 3 * HOUR, 106, 3301, 1.1, 'sell'),
  trade(T0 + 9 * DAY, 107, 3405.5, 0.7, 'buy'),
  trade(T0 + 23 * DAY, 108, 3500, 0.2, 'buy'),
];

function market(): MarketEvent[] {
  const out: MarketEvent[] = [book(T0), bbo(T0)];
  for (const t of TRADES) out.push(t);
  // The book moves after the first day (funding is marked at the mid).
  out.push(book(T0 + 4 * HOUR, 3360.4, 3360.6), bbo(T0 + 4 * HOUR, 3360.4, 3360.6));
  return out;
}

/** Brute-force candles: group the trades by each interval's bucket (independent of the server's code). */
function expectedCandles(interval: CandleInterval, trades: TradeEvent[], szDecimals: number) {
  const ms: Record<string, number> = {
    '1m': 60e3,
    '3m': 180e3,
    '5m': 300e3,
    '15m': 900e3,
    '30m': 1800e3,
    '1h': HOUR,
    '2h': 2 * HOUR,
    '4h': 4 * HOUR,
    '8h': 8 * HOUR,
    '12h': 12 * HOUR,
    '1d': DAY,
    '3d': 3 * DAY,
    '1w': 7 * DAY,
  };
  const bucket = (t: number): [number, number] => {
    if (interval === '1M') {
      const d = new Date(t);
      return [
        Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1),
        Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1),
      ];
    }
    const start = t - (t % ms[interval]);
    return [start, start + ms[interval]];
  };
  const groups = new Map<number, { end: number; ts: TradeEvent[] }>();
  for (const t of trades) {
    const [s, e] = bucket(t.exTime);
    const g = groups.get(s) ?? { end: e, ts: [] };
    g.ts.push(t);
    groups.set(s, g);
  }
  const f = (x: number) => (Number.isInteger(x) ? `${x}.0` : String(x));
  return [...groups.entries()]
    .sort((a, b) => a[0] - b[0])
    .map(([s, g]) => ({
      t: s,
      T: g.end - 1,
      s: 'ETH',
      i: interval,
      o: f(g.ts[0].px),
      c: f(g.ts[g.ts.length - 1].px),
      h: f(Math.max(...g.ts.map((x) => x.px))),
      l: f(Math.min(...g.ts.map((x) => x.px))),
      v: f(Number(g.ts.reduce((a, x) => a + x.sz, 0).toFixed(szDecimals))),
      n: g.ts.length,
    }));
}

const limit = (tif: 'Alo' | 'Gtc' | 'Ioc') => ({ limit: { tif } });

describe('loopback info API and actions, checked against @nktkas/hyperliquid response types', () => {
  const trader = privateKeyToAccount(generatePrivateKey());
  let srv: LoopbackServer;
  let info: InfoClient;
  let ex: ExchangeClient;
  let ws: WebSocketTransport;
  const pushed: { fills: unknown[]; updates: unknown[]; fundings: unknown[] } = {
    fills: [],
    updates: [],
    fundings: [],
  };
  // Cloids with high bits set: the library would send a small hex cloid as a number.
  const cloid = '0xa1000000000000000000000000000001';

  before(async () => {
    srv = await startLoopbackServer({
      events: market(),
      autoStart: false,
      // $1M traded: scheduleCancel is allowed (the gate has its own tests).
      accounts: [{ address: trader.address, balance: 50_000, lifetimeVolume: 1_000_000 }],
      scheduleCancelMinDelayMs: 100,
    });
    srv.replay.advanceTo(T0);
    const http = new HttpTransport({ apiUrl: srv.httpUrl });
    info = new InfoClient({ transport: http });
    ex = new ExchangeClient({ transport: http, wallet: trader });
    ws = new WebSocketTransport({ url: srv.wsUrl });
    await ws.ready();
    const subs = new SubscriptionClient({ transport: ws });
    await subs.userFills({ user: trader.address }, (e) => pushed.fills.push(e));
    await subs.orderUpdates({ user: trader.address }, (e) => pushed.updates.push(e));
    await subs.userFundings({ user: trader.address }, (e) => pushed.fundings.push(e));
  });
  after(async () => {
    ws.close();
    await srv.close();
  });

  test('exchange actions answer in the library shapes (ok and error variants)', async () => {
    const rest = await ex.order({
      orders: [{ a: ETH, b: true, p: '3200', s: '0.02', r: false, t: limit('Alo'), c: cloid }],
      grouping: 'na',
    });
    assertShape('OrderResponse', rest, 'order (resting)');
    const fill = await ex.order({
      orders: [{ a: ETH, b: true, p: '3350.2', s: '0.01', r: false, t: limit('Ioc') }],
      grouping: 'na',
    });
    assertShape('OrderResponse', fill, 'order (filled)');
    assert.deepEqual(fill.response.data.statuses[0], {
      filled: {
        totalSz: '0.01',
        avgPx: '3350.2',
        oid: (fill.response.data.statuses[0] as { filled: { oid: number } }).filled.oid,
      },
    });
    const crossing = await ex
      .order({
        orders: [{ a: ETH, b: true, p: '3350.2', s: '0.01', r: false, t: limit('Alo') }],
        grouping: 'na',
      })
      .catch((e: unknown) => e);
    assert.ok(crossing instanceof ApiRequestError);
    assertShape('OrderResponse', crossing.response, 'order (rejected)');

    const restingOid = (rest.response.data.statuses[0] as { resting: { oid: number } }).resting.oid;
    const newCloid = '0xa2000000000000000000000000000002';
    const bm = await ex.batchModify({
      modifies: [
        {
          oid: restingOid,
          order: { a: ETH, b: true, p: '3201', s: '0.02', r: false, t: limit('Alo'), c: newCloid },
        },
      ],
    });
    assertShape('BatchModifyResponse', bm);
    const modOid = (bm.response.data.statuses[0] as { resting: { oid: number } }).resting.oid;
    assertShape(
      'ModifyResponse',
      await ex.modify({
        oid: modOid,
        order: { a: ETH, b: true, p: '3202', s: '0.02', r: false, t: limit('Alo'), c: newCloid },
      }),
    );
    const second = await ex.order({
      orders: [{ a: ETH, b: false, p: '3380', s: '0.01', r: false, t: limit('Alo') }],
      grouping: 'na',
    });
    const secondOid = (second.response.data.statuses[0] as { resting: { oid: number } }).resting.oid;
    assertShape('CancelResponse', await ex.cancel({ cancels: [{ a: ETH, o: secondOid }] }));
    const missing = await ex.cancel({ cancels: [{ a: ETH, o: secondOid }] }).catch((e: unknown) => e);
    assert.ok(missing instanceof ApiRequestError);
    assertShape('CancelResponse', missing.response, 'cancel (error)');
    assertShape(
      'UpdateLeverageResponse',
      await ex.updateLeverage({ asset: ETH, isCross: true, leverage: 10 }),
    );
    assertShape('ScheduleCancelResponse', await ex.scheduleCancel({ time: Date.now() + 3_600_000 }));
    assertShape('ScheduleCancelResponse', await ex.scheduleCancel({}));
    assertShape('NoopResponse', await ex.noop({ nonce: Date.now() + 100_000 }));
    const tooEarly = await ex.scheduleCancel({ time: Date.now() - 1000 }).catch((e: unknown) => e);
    assert.ok(tooEarly instanceof ApiRequestError);
    assertShape('TopLevelErrorResponse', tooEarly.response);
  });

  test('every info request answers in the library shape, with string-encoded numbers', async () => {
    // Past 22:00: one funding payment on the 0.01 ETH long; past the fixture's trades for candles.
    srv.replay.advanceTo(T0 + 24 * DAY);
    const user = trader.address;
    const meta = await info.meta();
    assertShape('MetaResponse', meta);
    assert.equal(meta.universe[ETH].name, 'ETH');
    assert.ok(
      meta.marginTables.some(([id]) => id === meta.universe[ETH].marginTableId),
      'margin table of ETH is listed',
    );
    const [meta2, ctxs] = await info.metaAndAssetCtxs();
    assertShape('MetaAndAssetCtxsResponse', [meta2, ctxs]);
    assert.equal(ctxs[ETH].midPx, '3360.5');
    assert.equal(ctxs[ETH].funding, '0.0000125');
    assertShape('SpotMetaResponse', await info.spotMeta());
    assertShape('SpotMetaAndAssetCtxsResponse', await info.spotMetaAndAssetCtxs());
    assertShape('PerpDexsResponse', await info.perpDexs());
    const mids = await info.allMids();
    assertShape('AllMidsResponse', mids);
    assert.equal(mids.ETH, '3360.5');
    const l2 = await info.l2Book({ coin: 'ETH' });
    assertShape('L2BookResponse', l2);
    assert.deepEqual(l2?.levels[0][0], { px: '3360.4', sz: '5.0', n: 3 });
    const l2agg = await info.l2Book({ coin: 'ETH', nSigFigs: 4 });
    assertShape('L2BookResponse', l2agg);
    // 3360.4 / 3360.3 / 3360.2 round down to 3360 at 4 significant figures: one level of 5 + 6 + 7.
    assert.deepEqual(l2agg?.levels[0], [{ px: '3360.0', sz: '18.0', n: 9 }]);
    assert.deepEqual(l2agg?.levels[1], [{ px: '3361.0', sz: '15.0', n: 6 }]);
    assertShape(
      'CandleSnapshotResponse',
      await info.candleSnapshot({ coin: 'ETH', interval: '1h', startTime: T0 }),
    );
    assertShape('FundingHistoryResponse', await info.fundingHistory({ coin: 'ETH', startTime: T0 }));
    assertShape('PredictedFundingsResponse', await info.predictedFundings());
    const ch = await info.clearinghouseState({ user });
    assertShape('ClearinghouseStateResponse', ch);
    assertShape('SpotClearinghouseStateResponse', await info.spotClearinghouseState({ user }));
    const open = await info.openOrders({ user });
    assertShape('OpenOrdersResponse', open);
    assert.deepEqual(
      open.map((o) => [o.limitPx, o.sz, o.cloid]),
      [['3202.0', '0.02', '0xa2000000000000000000000000000002']],
    );
    const fopen = await info.frontendOpenOrders({ user });
    assertShape('FrontendOpenOrdersResponse', fopen);
    assert.equal(fopen[0].tif, 'Alo');
    const byCloid = await info.orderStatus({ user, oid: '0xa2000000000000000000000000000002' });
    assertShape('OrderStatusResponse', byCloid);
    assert.equal(byCloid.status === 'order' && byCloid.order.status, 'open');
    const byOldCloid = await info.orderStatus({ user, oid: cloid });
    assert.equal(byOldCloid.status === 'order' && byOldCloid.order.status, 'canceled', 'the modified order');
    assertShape('OrderStatusResponse', await info.orderStatus({ user, oid: 1 }));
    const hist = await info.historicalOrders({ user });
    assertShape('HistoricalOrdersResponse', hist);
    // Newest first: the cancelled ask, the modify's replacement, the batchModify's, the rejected Alo, the Ioc, the first.
    assert.deepEqual(
      hist.map((h) => h.status),
      ['canceled', 'open', 'canceled', 'badAloPxRejected', 'filled', 'canceled'],
    );
    const fills = await info.userFills({ user });
    assertShape('UserFillsResponse', fills);
    assert.equal(fills.length, 1);
    assertShape('UserFillsByTimeResponse', await info.userFillsByTime({ user, startTime: T0 }));
    const fees = await info.userFees({ user });
    assertShape('UserFeesResponse', fees);
    assert.deepEqual([fees.userAddRate, fees.userCrossRate], ['0.00015', '0.00045']);
    assert.equal(fees.dailyUserVlm.length, 15);
    const rl = await info.userRateLimit({ user });
    assertShape('UserRateLimitResponse', rl);
    const funding = await info.userFunding({ user, startTime: T0 });
    assertShape('UserFundingResponse', funding);
    for (const [k, v] of Object.entries(ch.marginSummary)) assertDecimal(v, `marginSummary.${k}`);
    for (const f of fills)
      for (const k of ['px', 'sz', 'fee', 'closedPnl', 'startPosition'] as const)
        assertDecimal(f[k], `fill.${k}`);

    // Pushed messages have the subscription event shapes.
    await waitFor(() => pushed.fundings.length >= 2 || undefined, 'userFundings push');
    for (const e of pushed.fills) assertShape('UserFillsEvent', e);
    for (const e of pushed.updates) assertShape('OrderUpdatesEvent', e);
    for (const e of pushed.fundings) assertShape('UserFundingsEvent', e);
  });

  test('candleSnapshot: every interval equals the candles recomputed from the replayed trades', async () => {
    srv.replay.advanceTo(T0 + 24 * DAY);
    for (const interval of CANDLE_INTERVALS) {
      const got = await info.candleSnapshot({
        coin: 'ETH',
        interval,
        startTime: T0 - DAY,
        endTime: T0 + 30 * DAY,
      });
      assertShape('CandleSnapshotResponse', got, `candles ${interval}`);
      assert.deepEqual(got, expectedCandles(interval, TRADES, 4), interval);
    }
    // A window that starts inside a bar includes that bar; nothing after endTime.
    const mid = await info.candleSnapshot({
      coin: 'ETH',
      interval: '5m',
      startTime: T0 + 120_000,
      endTime: T0 + 2 * HOUR - 1,
    });
    assert.deepEqual(
      mid.map((c) => c.t),
      [T0],
    );
  });

  test('unknown and malformed requests get the exchange HTTP 422 text; the server stays up', async () => {
    const post = (body: string) =>
      fetch(`${srv.httpUrl}/info`, { method: 'POST', body, headers: { 'Content-Type': 'application/json' } });
    for (const body of [
      '{"type":"noSuchRequest"}',
      '{"type":"candleSnapshot","req":{"coin":"ETH","interval":"2m","startTime":0}}',
      '{"type":"userFills"}',
      '{"type":"userFillsByTime","user":"0x0000000000000000000000000000000000000001"}',
      '{"type":"orderStatus","user":"0x0000000000000000000000000000000000000001","oid":"abc"}',
      '{"type":"l2Book","coin":"ETH","nSigFigs":7}',
    ]) {
      const r = await post(body);
      assert.equal(r.status, 422, body);
      assert.equal(await r.text(), 'Failed to deserialize the JSON body into the target type', body);
    }
    await assert.rejects(
      new HttpTransport({ apiUrl: srv.httpUrl }).request('info', { type: 'noSuchRequest' }),
      (e: unknown) => e instanceof HttpRequestError && e.response?.status === 422,
    );
    const unknownAction = await fetch(`${srv.httpUrl}/exchange`, {
      method: 'POST',
      body: JSON.stringify({
        action: { type: 'noSuchAction' },
        nonce: Date.now(),
        signature: { r: '0x1', s: '0x2', v: 27 },
      }),
    });
    assert.equal(unknownAction.status, 422);
    assert.equal((await info.meta()).universe[ETH].name, 'ETH');
  });
});

describe('userFills / userFillsByTime paging', () => {
  test('by time: at most 2000 per call, oldest first; paging by time returns every fill once', async () => {
    const srv = await startLoopbackServer({
      events: [book(T0), bbo(T0)],
      autoStart: false,
      accounts: [{ address: '0x00000000000000000000000000000000000000aa', balance: 1e9 }],
    });
    const user = '0x00000000000000000000000000000000000000aa';
    try {
      const N = 2_345;
      for (let k = 0; k < N; k++) {
        srv.replay.advanceTo(T0 + 10 + k);
        // Alternate Ioc buys and sells against the book: one taker fill each, at a distinct time.
        const r = srv.state.placeOrder(user, {
          asset: ETH,
          isBuy: k % 2 === 0,
          pxStr: k % 2 === 0 ? '3350.2' : '3350.1',
          szStr: '0.01',
          reduceOnly: false,
          tif: 'Ioc',
          isTrigger: false,
        });
        assert.ok('filled' in r, JSON.stringify(r));
      }
      const info = new InfoClient({ transport: new HttpTransport({ apiUrl: srv.httpUrl }) });
      const seen: number[] = [];
      let start = T0;
      let calls = 0;
      for (;;) {
        const page = await info.userFillsByTime({ user, startTime: start, endTime: T0 + 10 * N });
        calls++;
        assertShape('UserFillsByTimeResponse', page);
        assert.ok(page.length <= 2000);
        for (let i = 1; i < page.length; i++) assert.ok(page[i].time > page[i - 1].time, 'oldest first');
        for (const f of page) seen.push(f.time);
        if (page.length < 2000) break;
        start = page[page.length - 1].time + 1;
      }
      assert.equal(calls, 2);
      assert.equal(seen.length, N);
      assert.equal(new Set(seen).size, N);
      assert.equal(seen[0], T0 + 10);
      const recent = await info.userFills({ user });
      assert.equal(recent.length, 2000);
      assert.equal(recent[0].time, T0 + 10 + N - 1, 'userFills: newest first');
      const rev = await info.userFillsByTime({ user, startTime: T0, reversed: true });
      assert.equal(rev.length, 2000);
      assert.equal(rev[0].time, T0 + 10 + N - 1, 'reversed: the newest of the range first');
      const window = await info.userFillsByTime({ user, startTime: T0 + 20, endTime: T0 + 29 });
      assert.deepEqual(
        window.map((f) => f.time),
        Array.from({ length: 10 }, (_, i) => T0 + 20 + i),
      );
    } finally {
      await srv.close();
    }
  });
});
