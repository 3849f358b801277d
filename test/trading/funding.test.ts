/**
 * Funding in the trader: paper funding at each hour boundary of the market's exchange clock on the position then
 * (configured rate, or the venue's rate for the hour, else Hyperliquid's baseline with a warning), live funding
 * events booked once each; both journalled once per (coin, hour) and booked into cash, so into P&L, equity and
 * the drawdown kill switch. And the account's own fee rates from userFees.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import type { IRequestTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { Engine } from '../../src/engine/engine.ts';
import type { Venue } from '../../src/engine/types.ts';
import {
  bookVenueFunding,
  HOUR_MS,
  HYPERLIQUID_BASELINE_HOURLY_RATE,
  PaperFunding,
} from '../../src/trading/funding.ts';
import { openJournal } from '../../src/trading/journal.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { HyperliquidVenue } from '../../src/venue/hyperliquid/execution/venue.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-funding-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function logSink() {
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(String(c));
      cb();
    },
  });
  return { lines, logger: createTradingLogger('info', sink) };
}

const nullVenue: Venue = {
  name: 'null',
  place() {},
  cancel() {},
  modify() {},
  cancelAll: async () => {},
  setReportListener() {},
};

function engineAt(mid0: number, position: number, maxDrawdownFrac = 0.5) {
  let mid = mid0;
  let now = 0;
  const eng = new Engine({
    clock: { now: () => now },
    venue: nullVenue,
    strategy: { name: 'none' },
    instrument: {
      coin: 'ETH',
      tick: 0.1,
      szDecimals: 4,
      lotSize: 0.01,
      minNotional: 10,
      makerFee: 0.00015,
      takerFee: 0.00045,
    },
    startingEquity: 1000,
    risk: { maxDrawdownFrac, staleMs: Number.POSITIVE_INFINITY },
  });
  eng.portfolio.position = position;
  eng.portfolio.avgEntryPx = mid;
  eng.portfolio.cash = -position * mid;
  const book = (t: number, px = mid) => {
    mid = px;
    now = t;
    eng.onMarket({
      kind: 'book',
      coin: 'ETH',
      exTime: t,
      rxTime: t,
      bids: [{ px: mid - 0.05, sz: 1, n: 1 }],
      asks: [{ px: mid + 0.05, sz: 1, n: 1 }],
    });
  };
  return { eng, book };
}

const settle = () => new Promise((r) => setTimeout(r, 20));

test('paper funding: each hour boundary charges −position × mid × rate once, into cash, P&L and equity', async () => {
  const j = openJournal(join(dir, 'paper.sqlite'), { coin: 'ETH' });
  const { eng, book } = engineAt(3000, 0.05);
  const rate = 0.0001;
  const pf = new PaperFunding({ coin: 'ETH', journal: j, engine: eng, logger: logSink().logger, rate });
  const h0 = 1_765_400_000_000 - (1_765_400_000_000 % HOUR_MS);
  for (const t of [
    h0 + 10,
    h0 + 1000,
    h0 + HOUR_MS - 1,
    h0 + HOUR_MS + 5,
    h0 + HOUR_MS + 900,
    h0 + 3 * HOUR_MS + 1,
  ]) {
    book(t);
    pf.onMarket(t);
  }
  await settle();
  // Two boundaries crossed (h0+1h, and h0+3h: the hour in between had no market data, one payment for the jump).
  const paid = -0.05 * 3000 * rate;
  assert.equal(pf.payments, 2);
  const rows = j.fundings('ETH');
  assert.deepEqual(
    rows.map((r) => r.time),
    [h0 + HOUR_MS, h0 + 3 * HOUR_MS],
  );
  assert.ok(Math.abs((rows[0].usdc as number) - paid) < 1e-12);
  assert.equal(rows[0].source, 'paper:config');
  assert.ok(Math.abs(eng.portfolio.funding - 2 * paid) < 1e-12);
  assert.ok(Math.abs(eng.portfolio.netPnl(3000) - 2 * paid) < 1e-9, 'funding is in the net P&L');
  // A restart at the same hour does not book it again.
  const pf2 = new PaperFunding({ coin: 'ETH', journal: j, engine: eng, logger: logSink().logger, rate });
  pf2.onMarket(h0 + 3 * HOUR_MS - 10);
  pf2.onMarket(h0 + 3 * HOUR_MS + 50);
  await settle();
  assert.equal(pf2.payments, 0);
  assert.equal(j.fundings('ETH').length, 2);
  // A short position receives when the rate is positive.
  const short = engineAt(3000, -0.02);
  const pf3 = new PaperFunding({
    coin: 'ETH',
    journal: j,
    engine: short.eng,
    logger: logSink().logger,
    rate,
  });
  short.book(h0 + 5 * HOUR_MS - 1);
  pf3.onMarket(h0 + 5 * HOUR_MS - 1);
  pf3.onMarket(h0 + 5 * HOUR_MS + 1);
  await settle();
  assert.ok(short.eng.portfolio.funding > 0);
  j.close();
});

test('paper funding without a configured rate: the venue rate for the hour, else the baseline with one warning', async () => {
  const j = openJournal(join(dir, 'paper-src.sqlite'), { coin: 'ETH' });
  const { eng, book } = engineAt(2000, 0.1);
  const asked: number[] = [];
  const { lines, logger } = logSink();
  const pf = new PaperFunding({
    coin: 'ETH',
    journal: j,
    engine: eng,
    logger,
    retries: 1,
    source: async (_c, hour) => {
      asked.push(hour);
      return asked.length === 1 ? -0.00002 : undefined;
    },
  });
  const h = 3 * HOUR_MS * 1000;
  for (const t of [h - 1, h + 1, h + HOUR_MS + 1]) {
    book(t);
    pf.onMarket(t);
  }
  await settle();
  const rows = j.fundings('ETH');
  assert.deepEqual(
    rows.map((r) => [r.rate, r.source]),
    [
      [-0.00002, 'paper:venue'],
      [HYPERLIQUID_BASELINE_HOURLY_RATE, 'paper:baseline'],
    ],
  );
  assert.ok(Math.abs((rows[0].usdc as number) - 0.1 * 2000 * 0.00002) < 1e-12, 'a negative rate pays longs');
  assert.equal(lines.filter((l) => l.includes('baseline rate')).length, 1);
  j.close();
});

test('live funding: each venue event is journalled and booked once; funding can trip the drawdown kill switch', async () => {
  const j = openJournal(join(dir, 'live.sqlite'), { coin: 'ETH' });
  const { eng, book } = engineAt(3000, 0.05, 0.01);
  book(1);
  const ev = { time: HOUR_MS, coin: 'ETH', usdc: -0.5, szi: 0.05, fundingRate: 0.003 };
  assert.equal(bookVenueFunding(j, eng, 'ETH', [ev, { ...ev, coin: 'BTC' }]), 1);
  assert.equal(
    bookVenueFunding(j, eng, 'ETH', [ev]),
    0,
    'the same event again (stream + REST) is not booked twice',
  );
  assert.equal(eng.portfolio.funding, -0.5);
  assert.equal(j.positionBook('ETH').funding, -0.5);
  // 1% of 1000 USD equity: a 10.5 USD funding payment halts quoting at the next mark.
  bookVenueFunding(j, eng, 'ETH', [{ ...ev, time: 2 * HOUR_MS, usdc: -10 }]);
  assert.equal(eng.risk.state, 'ACTIVE');
  book(2, 3000.1);
  assert.equal(eng.risk.state, 'HALTED');
  assert.match(eng.risk.reason, /drawdown/);
  j.close();
});

test("live fees: the account's own maker/taker rates from userFees", async () => {
  const transport: IRequestTransport = {
    isTestnet: false,
    request: async <T>(_e: 'info' | 'exchange', p: unknown) => {
      assert.equal((p as { type: string }).type, 'userFees');
      return { userAddRate: '-0.00001', userCrossRate: '0.000315', dailyUserVlm: [] } as T;
    },
  };
  const account = privateKeyToAccount(generatePrivateKey());
  const v = new HyperliquidVenue({
    httpUrl: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/ws',
    signer: { address: account.address, account },
    assets: [{ coin: 'ETH', asset: 1, szDecimals: 4 }],
    transport,
    noStreams: true,
  });
  assert.deepEqual(await v.accountFees(), { maker: -0.00001, taker: 0.000315 });
});
