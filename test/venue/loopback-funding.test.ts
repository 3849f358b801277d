/**
 * Hourly funding on the loopback server: charged on the hour of exchange time at position × mid × rate
 * (a positive rate: longs pay), from a funding series where it has a row (carried forward between rows) and
 * the configured rate otherwise; reported by userFunding, fundingHistory, predictedFundings,
 * metaAndAssetCtxs, clearinghouseState's cumFunding and the userFundings stream. Every expected number is
 * computed here by hand from the synthetic market.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import {
  ExchangeClient,
  HttpTransport,
  InfoClient,
  SubscriptionClient,
  WebSocketTransport,
} from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import { readFundingFile, readStoreFunding } from '../../src/venue/loopback/funding-source.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { bbo, book, T0 } from './fixtures.ts';
import { assertShape, warmSchemas } from './loopback-schemas.ts';

warmSchemas();
const ETH = 1;
const HOUR = 3_600_000;
/** T0 is 21:10 UTC: the first three funding hours. */
const H1 = T0 + 50 * 60_000;
const H2 = H1 + HOUR;
const H3 = H2 + HOUR;

function market(): MarketEvent[] {
  // Mid 3350.15 all along.
  return [book(T0), bbo(T0), book(H3 + 30 * 60_000), bbo(H3 + 30 * 60_000)];
}

const ioc = (isBuy: boolean, px: string, sz: string) => ({
  orders: [{ a: ETH, b: isBuy, p: px, s: sz, r: !isBuy, t: { limit: { tif: 'Ioc' as const } } }],
  grouping: 'na' as const,
});

describe('hourly funding', () => {
  test('from a series (rows carried forward): charged on the hour, reported everywhere', async () => {
    const w = privateKeyToAccount(generatePrivateKey());
    const srv = await startLoopbackServer({
      events: market(),
      autoStart: false,
      accounts: [{ address: w.address }],
      // Rows stamped a few ms after the hour, as Hyperliquid's are; none for H2 (carried from H1).
      funding: [
        { time: H1 + 38, coin: 'ETH', fundingRate: 0.0001, premium: 0.00005 },
        { time: H3 + 12, coin: 'ETH', fundingRate: -0.00002, premium: -0.0004 },
      ],
    });
    const ws = new WebSocketTransport({ url: srv.wsUrl });
    try {
      srv.replay.advanceTo(T0);
      const http = new HttpTransport({ apiUrl: srv.httpUrl });
      const info = new InfoClient({ transport: http });
      const ex = new ExchangeClient({ transport: http, wallet: w });
      await ws.ready();
      const pushed: { isSnapshot?: boolean; fundings: { time: number; usdc: string }[] }[] = [];
      await new SubscriptionClient({ transport: ws }).userFundings({ user: w.address }, (e) =>
        pushed.push(e),
      );

      await ex.order(ioc(true, '3350.2', '0.01'));
      srv.replay.advanceTo(H1 - 1);
      assert.deepEqual(
        await info.userFunding({ user: w.address, startTime: 0 }),
        [],
        'nothing before the hour',
      );
      srv.replay.advanceTo(H3);
      // −0.01 × 3350.15 × rate, rounded to the micro-dollar.
      const funding = await info.userFunding({ user: w.address, startTime: 0 });
      assertShape('UserFundingResponse', funding);
      assert.deepEqual(
        funding.map((f) => [
          f.time,
          f.delta.coin,
          f.delta.usdc,
          f.delta.szi,
          f.delta.fundingRate,
          f.delta.nSamples,
        ]),
        [
          [H1, 'ETH', '-0.00335', '0.01', '0.0001', null],
          [H2, 'ETH', '-0.00335', '0.01', '0.0001', null],
          [H3, 'ETH', '0.00067', '0.01', '-0.00002', null],
        ],
      );
      assert.deepEqual(
        (await info.userFunding({ user: w.address, startTime: H2, endTime: H2 })).map((f) => f.time),
        [H2],
      );
      const ch = await info.clearinghouseState({ user: w.address });
      assert.deepEqual(ch.assetPositions[0].position.cumFunding, {
        allTime: '0.00603',
        sinceOpen: '0.00603',
        sinceChange: '0.00603',
      });
      // Balance: −taker fee (0.045% of 33.502) − funding 0.00603; uPnL 0.01 × (3350.15 − 3350.2).
      const expected = 100_000 - 3350.2 * 0.01 * 0.00045 - 0.00603 + 0.01 * (3350.15 - 3350.2);
      assert.ok(
        Math.abs(Number(ch.marginSummary.accountValue) - expected) < 1e-6,
        ch.marginSummary.accountValue,
      );

      const hist = await info.fundingHistory({ coin: 'ETH', startTime: 0 });
      assertShape('FundingHistoryResponse', hist);
      assert.deepEqual(hist, [
        { coin: 'ETH', fundingRate: '0.0001', premium: '0.00005', time: H1 },
        { coin: 'ETH', fundingRate: '0.0001', premium: '0.00005', time: H2 },
        { coin: 'ETH', fundingRate: '-0.00002', premium: '-0.0004', time: H3 },
      ]);
      const predicted = await info.predictedFundings();
      assert.deepEqual(predicted, [
        [
          'ETH',
          [['HlPerp', { fundingRate: '-0.00002', nextFundingTime: H3 + HOUR, fundingIntervalHours: 1 }]],
        ],
      ]);
      const [, ctxs] = await info.metaAndAssetCtxs();
      assert.deepEqual([ctxs[ETH].funding, ctxs[ETH].premium], ['-0.00002', '-0.0004']);

      await waitFor(
        () => (pushed.filter((p) => !p.isSnapshot).length >= 3 ? true : undefined),
        'three pushes',
      );
      assert.deepEqual(
        pushed.filter((p) => !p.isSnapshot).map((p) => p.fundings.map((f) => [f.time, f.usdc])),
        [[[H1, '-0.00335']], [[H2, '-0.00335']], [[H3, '0.00067']]],
      );

      // Reducing the position restarts sinceChange; sinceOpen and allTime go on.
      await ex.order(ioc(false, '3350.1', '0.005'));
      const after = (await info.clearinghouseState({ user: w.address })).assetPositions[0].position
        .cumFunding;
      assert.deepEqual(after, { allTime: '0.00603', sinceOpen: '0.00603', sinceChange: '0.0' });
    } finally {
      ws.close();
      await srv.close();
    }
  });

  test('configured rate (default: the 0.0000125/h baseline); shorts receive; a late subscriber gets a snapshot', async () => {
    const long = privateKeyToAccount(generatePrivateKey());
    const short = privateKeyToAccount(generatePrivateKey());
    for (const [rate, expectLong, expectShort] of [
      [undefined, '-0.000419', '0.000419'],
      [0.00002, '-0.00067', '0.00067'],
    ] as const) {
      const srv = await startLoopbackServer({
        events: market(),
        autoStart: false,
        accounts: [{ address: long.address }, { address: short.address }],
        fundingRate: rate,
      });
      try {
        srv.replay.advanceTo(T0);
        const http = new HttpTransport({ apiUrl: srv.httpUrl });
        const info = new InfoClient({ transport: http });
        await new ExchangeClient({ transport: http, wallet: long }).order(ioc(true, '3350.2', '0.01'));
        await new ExchangeClient({ transport: http, wallet: short }).order({
          ...ioc(false, '3350.1', '0.01'),
          orders: [{ ...ioc(false, '3350.1', '0.01').orders[0], r: false }],
        });
        srv.replay.advanceTo(H1);
        assert.equal(
          (await info.userFunding({ user: long.address, startTime: 0 }))[0].delta.usdc,
          expectLong,
        );
        assert.equal(
          (await info.userFunding({ user: short.address, startTime: 0 }))[0].delta.usdc,
          expectShort,
        );
        const hist = await info.fundingHistory({ coin: 'ETH', startTime: 0 });
        assert.deepEqual(
          hist.map((h) => [h.time, h.fundingRate, h.premium]),
          [[H1, rate === undefined ? '0.0000125' : '0.00002', '0.0']],
        );
        const ws = new WebSocketTransport({ url: srv.wsUrl });
        try {
          await ws.ready();
          const got: { isSnapshot?: boolean; fundings: { usdc: string }[] }[] = [];
          await new SubscriptionClient({ transport: ws }).userFundings({ user: short.address }, (e) =>
            got.push(e),
          );
          const snap = await waitFor(() => got[0], 'snapshot');
          assertShape('UserFundingsEvent', snap);
          assert.deepEqual([snap.isSnapshot, snap.fundings.map((f) => f.usdc)], [true, [expectShort]]);
        } finally {
          ws.close();
        }
      } finally {
        await srv.close();
      }
    }
  });

  test('the clock runs on after the data ends: hours keep being settled while replaying live', async () => {
    const w = privateKeyToAccount(generatePrivateKey());
    // At 100,000× the 50 minutes to the first hour pass in 30 ms of wall time, long after the last event.
    const srv = await startLoopbackServer({
      events: [book(T0), bbo(T0)],
      autoStart: false,
      speed: 100_000,
      accounts: [{ address: w.address }],
    });
    try {
      srv.replay.advanceTo(T0);
      srv.state.placeOrder(w.address.toLowerCase(), {
        asset: ETH,
        isBuy: true,
        pxStr: '3350.2',
        szStr: '0.01',
        reduceOnly: false,
        tif: 'Ioc',
        isTrigger: false,
      });
      srv.replay.start();
      const evs = await waitFor(() => {
        const f = srv.state.account(w.address).fundings;
        return f.length >= 2 ? f : undefined;
      }, 'two funding hours');
      assert.deepEqual(
        evs.slice(0, 2).map((e) => e.time),
        [H1, H1 + HOUR],
      );
    } finally {
      await srv.close();
    }
  });
});

describe('funding series sources', () => {
  test('a JSON file as fundingHistory answers, and the store’s funding kind when it exists', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cjmm-funding-'));
    try {
      const file = join(dir, 'eth-funding.json');
      writeFileSync(
        file,
        JSON.stringify([
          { coin: 'ETH', fundingRate: '0.0000125', premium: '-0.0001', time: H1 + 5 },
          { coin: 'ETH', fundingRate: '0.00003', premium: '0.0002', time: H2 + 7 },
        ]),
      );
      assert.deepEqual(readFundingFile(file), [
        { time: H1 + 5, coin: 'ETH', fundingRate: 0.0000125, premium: -0.0001 },
        { time: H2 + 7, coin: 'ETH', fundingRate: 0.00003, premium: 0.0002 },
      ]);
      writeFileSync(join(dir, 'bad.json'), '[{"coin":"ETH","time":"soon"}]');
      assert.throws(
        () => readFundingFile(join(dir, 'bad.json')),
        /bad\.json: row 0: needs numeric time and fundingRate/,
      );

      const store = join(dir, 'store');
      assert.deepEqual(await readStoreFunding(dir, ['ETH']), [], 'not a store: no series');
      const st = await openStore(store);
      assert.deepEqual(await readStoreFunding(store, ['ETH']), [], 'a store without funding rows: no series');
      await st.writeFunding([
        { coin: 'ETH', time: H1 + 3, fundingRate: 0.0001, premium: 0.00004 },
        { coin: 'ETH', time: H2 + 3, fundingRate: -0.00001, premium: Number.NaN },
        { coin: 'BTC', time: H1 + 3, fundingRate: 0.00002, premium: 0 },
      ]);
      await st.close();
      assert.deepEqual(await readStoreFunding(store, ['ETH']), [
        { time: H1 + 3, coin: 'ETH', fundingRate: 0.0001, premium: 0.00004 },
        { time: H2 + 3, coin: 'ETH', fundingRate: -0.00001, premium: 0 },
      ]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
