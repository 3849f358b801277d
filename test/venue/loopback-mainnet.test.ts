/**
 * Mainnet behaviours of the loopback server, each on by default and each with its switch off:
 * the scheduleCancel volume gate, the cumulative address request budget (with its 10 s slot and the larger
 * cancel cap), the nonce rule, and per-account fee rates. Wall time is a stepped clock (no timing
 * assertions); requests go through @nktkas/hyperliquid's ExchangeClient or are signed here when a test needs
 * its own nonces.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ApiRequestError, ExchangeClient, HttpTransport, InfoClient } from '@nktkas/hyperliquid';
import { signL1Action } from '@nktkas/hyperliquid/signing';
import { generatePrivateKey, type PrivateKeyAccount, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import {
  type LoopbackServer,
  type LoopbackServerOptions,
  startLoopbackServer,
} from '../../src/venue/loopback/server.ts';
import { bbo, book, T0, trade } from './fixtures.ts';
import { assertShape, warmSchemas } from './loopback-schemas.ts';

warmSchemas();
const ETH = 1;
const DAY = 86_400_000;
const GATE = (traded: string) =>
  `Cannot set scheduled cancel time until enough volume traded. Required: $1000000. Traded: $${traded}.`;

function market(): MarketEvent[] {
  return [
    book(T0),
    bbo(T0),
    trade(T0 + 2000, 77, 3349.9, 1.5, 'sell'),
    book(T0 + 2001, 3349.9, 3350.0),
    bbo(T0 + 2001, 3349.9, 3350.0),
  ];
}

interface Harness {
  srv: LoopbackServer;
  info: InfoClient;
  client(w: PrivateKeyAccount): ExchangeClient;
  /** Wall clock seen by the server (nonces, expiry, scheduleCancel, the throttled slot); step it with `wall.t += ms`. */
  wall: { t: number };
  close(): Promise<void>;
}

async function harness(opts: Omit<LoopbackServerOptions, 'events'>): Promise<Harness> {
  const wall = { t: Date.now() };
  const srv = await startLoopbackServer({
    events: market(),
    autoStart: false,
    wallNow: () => wall.t,
    ...opts,
  });
  srv.replay.advanceTo(T0);
  const http = new HttpTransport({ apiUrl: srv.httpUrl });
  return {
    srv,
    wall,
    info: new InfoClient({ transport: http }),
    client: (w) => new ExchangeClient({ transport: http, wallet: w }),
    close: () => srv.close(),
  };
}

/** The error text of a refused action (fails when it was not refused). */
async function refusal(p: Promise<unknown>): Promise<string> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  assert.ok(e instanceof ApiRequestError, `expected the exchange to refuse, got ${String(e)}`);
  return e.message;
}

const alo = (px: string, sz = '0.01') => ({
  orders: [{ a: ETH, b: true, p: px, s: sz, r: false, t: { limit: { tif: 'Alo' as const } } }],
  grouping: 'na' as const,
});

describe('scheduleCancel volume gate', () => {
  test('refused, set and clear, until $1M traded lifetime; the volume traded on the loopback counts', async () => {
    const fresh = privateKeyToAccount(generatePrivateKey());
    const almost = privateKeyToAccount(generatePrivateKey());
    const h = await harness({
      accounts: [{ address: fresh.address }, { address: almost.address, lifetimeVolume: 999_990 }],
    });
    try {
      const c = h.client(fresh);
      assert.equal(await refusal(c.scheduleCancel({ time: Date.now() + 60_000 })), GATE('0'));
      assert.equal(await refusal(c.scheduleCancel()), GATE('0'));
      const a = h.client(almost);
      assert.equal(await refusal(a.scheduleCancel({ time: Date.now() + 60_000 })), GATE('999990'));
      // A taker fill of 0.01 × 3350.2 = $33.502 takes the account past $1M.
      await a.order({
        orders: [{ a: ETH, b: true, p: '3350.2', s: '0.01', r: false, t: { limit: { tif: 'Ioc' } } }],
        grouping: 'na',
      });
      assert.equal((await h.info.userRateLimit({ user: almost.address })).cumVlm, '1000023.502');
      assert.deepEqual(await a.scheduleCancel({ time: Date.now() + 60_000 }), {
        status: 'ok',
        response: { type: 'default' },
      });
      assert.equal(h.srv.state.account(almost.address).scheduledCancelAt !== undefined, true);
    } finally {
      await h.close();
    }
  });

  test('switched off (scheduleCancelGate: false): a fresh account may arm the dead man’s switch', async () => {
    const w = privateKeyToAccount(generatePrivateKey());
    const h = await harness({ accounts: [{ address: w.address }], scheduleCancelGate: false });
    try {
      assert.deepEqual(await h.client(w).scheduleCancel({ time: Date.now() + 60_000 }), {
        status: 'ok',
        response: { type: 'default' },
      });
    } finally {
      await h.close();
    }
  });
});

describe('address request budget', () => {
  test('10,000 + 1 per USDC traded, cumulative; past it one request per 10 s, cancels have a larger cap', async () => {
    const w = privateKeyToAccount(generatePrivateKey());
    const h = await harness({ accounts: [{ address: w.address, requestsUsed: 9_996 }] });
    const c = h.client(w);
    const full = (used: number, cap: number, vlm: string) =>
      `Too many cumulative requests sent (${used} > ${cap}) for cumulative volume traded $${vlm}. Place taker orders to free up 1 request per USDC traded.`;
    try {
      const rl0 = await h.info.userRateLimit({ user: w.address });
      assertShape('UserRateLimitResponse', rl0);
      assert.deepEqual(rl0, {
        cumVlm: '0.0',
        nRequestsUsed: 9_996,
        nRequestsCap: 10_000,
        nRequestsSurplus: 0,
      });
      // A batch of n orders counts n: 9996 + 2 = 9998 ≤ 9999 passes, then 9998 + 2 does not.
      const two = { ...alo('3300'), orders: [...alo('3300').orders, ...alo('3301').orders] };
      const placed = await c.order(two);
      const oids = placed.response.data.statuses.map((s) => (s as { resting: { oid: number } }).resting.oid);
      assert.equal(await refusal(c.order(two)), full(10_000, 9_999, '0'));
      // The refusal used nothing; a single order still fits.
      await c.order(alo('3302'));
      assert.equal((await h.info.userRateLimit({ user: w.address })).nRequestsUsed, 9_999);
      h.wall.t += 1_000;
      const msg = await refusal(c.order(alo('3303')));
      assert.equal(msg, full(10_000, 9_999, '0'));
      // Cancels: cap min(10000 + 100000, 2 × 10000) = 20000, so they still go through.
      assert.deepEqual((await c.cancel({ cancels: [{ a: ETH, o: oids[0] }] })).response.data.statuses, [
        'success',
      ]);
      // Over the cap, one request 10 s after the last one let through.
      h.wall.t += 9_999;
      await refusal(c.order(alo('3303')));
      h.wall.t += 1;
      await c.order(alo('3303'));
      assert.equal(await refusal(c.order(alo('3304'))), full(10_002, 9_999, '0'));
      assert.equal((await h.info.userRateLimit({ user: w.address })).nRequestsUsed, 10_001);
      // Taker volume earns requests: 0.6 ETH at 3350.2 = $2010.12 traded → cap 12010.
      h.wall.t += 10_000;
      await c.order({
        orders: [{ a: ETH, b: true, p: '3350.2', s: '0.6', r: false, t: { limit: { tif: 'Ioc' } } }],
        grouping: 'na',
      });
      const rl = await h.info.userRateLimit({ user: w.address });
      assert.deepEqual(rl, {
        cumVlm: '2010.12',
        nRequestsUsed: 10_002,
        nRequestsCap: 12_010,
        nRequestsSurplus: 0,
      });
      await c.order(alo('3305'));
      await c.order(alo('3306'));
    } finally {
      await h.close();
    }
  });

  test('the refusal is a whole-request error with HTTP 200, as mainnet answers', async () => {
    const w = privateKeyToAccount(generatePrivateKey());
    const h = await harness({
      accounts: [{ address: w.address, requestsUsed: 25_000, lifetimeVolume: 1234.567 }],
    });
    try {
      await h.client(w).noop({ nonce: Date.now() });
      const nonce = Date.now() + 1;
      const action = { type: 'noop' };
      const signature = await signL1Action({ wallet: w, action, nonce });
      const r = await fetch(`${h.srv.httpUrl}/exchange`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify({ action, nonce, signature }),
      });
      assert.equal(r.status, 200);
      assert.deepEqual(await r.json(), {
        status: 'err',
        response:
          'Too many cumulative requests sent (25002 > 11233) for cumulative volume traded $1234.57. Place taker orders to free up 1 request per USDC traded.',
      });
    } finally {
      await h.close();
    }
  });

  test('switched off (requestBudget: false): requests past the cap go through', async () => {
    const w = privateKeyToAccount(generatePrivateKey());
    const h = await harness({
      accounts: [{ address: w.address, requestsUsed: 50_000 }],
      requestBudget: false,
    });
    try {
      const c = h.client(w);
      await c.order(alo('3300'));
      await c.order(alo('3301'));
      assert.equal((await h.info.userRateLimit({ user: w.address })).nRequestsUsed, 50_002);
    } finally {
      await h.close();
    }
  });
});

describe('nonces', () => {
  /** Sign and send a noop with an explicit nonce; the exchange's answer. */
  async function noop(h: Harness, w: PrivateKeyAccount, nonce: number): Promise<unknown> {
    const action = { type: 'noop' };
    const signature = await signL1Action({ wallet: w, action, nonce });
    const r = await fetch(`${h.srv.httpUrl}/exchange`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ action, nonce, signature }),
    });
    return r.json();
  }
  const OK = { status: 'ok', response: { type: 'default' } };
  const err = (response: string) => ({ status: 'err', response });

  test('the 20 highest are kept (+1 per $1M traded), a new one must beat the smallest and be unused, within 1 day', async () => {
    const a = privateKeyToAccount(generatePrivateKey());
    const b = privateKeyToAccount(generatePrivateKey());
    const h = await harness({
      accounts: [{ address: a.address }, { address: b.address, lifetimeVolume: 3_000_000 }],
    });
    try {
      const base = h.wall.t;
      for (let i = 10; i < 30; i++) {
        assert.deepEqual(await noop(h, a, base + i), OK);
        assert.deepEqual(await noop(h, b, base + i), OK);
      }
      assert.deepEqual(await noop(h, a, base + 20), err(`Invalid nonce: duplicate nonce ${base + 20}`));
      // a keeps 20 (base+10..base+29): base+9 is below the smallest; b keeps 23 and still has room.
      assert.deepEqual(
        await noop(h, a, base + 9),
        err(`Invalid nonce: nonce too low ${base + 9} < ${base + 10}`),
      );
      assert.deepEqual(await noop(h, b, base + 9), OK);
      // Out of order but above the smallest: fine.
      assert.deepEqual(await noop(h, a, base + 40), OK);
      assert.deepEqual(await noop(h, a, base + 35), OK);
      // base+10 and base+11 were pushed out by the two new ones: not a duplicate any more, but too low.
      assert.deepEqual(
        await noop(h, a, base + 11),
        err(`Invalid nonce: nonce too low ${base + 11} < ${base + 12}`),
      );
      // Within one day of the exchange's (wall) time.
      assert.deepEqual(
        await noop(h, a, base + DAY + 1),
        err(`Invalid nonce: nonce too high ${base + DAY + 1} > ${base + DAY}`),
      );
      h.wall.t = base + DAY + 100;
      assert.deepEqual(
        await noop(h, a, base + 99),
        err(`Invalid nonce: nonce too low ${base + 99} < ${base + 100}`),
      );
      assert.deepEqual(await noop(h, a, base + 101), OK);
    } finally {
      await h.close();
    }
  });

  test('switched off (strictNonces: false): the older rule, 100 kept within (T − 2 days, T + 1 day)', async () => {
    const a = privateKeyToAccount(generatePrivateKey());
    const h = await harness({ accounts: [{ address: a.address }], strictNonces: false });
    try {
      const base = h.wall.t;
      assert.deepEqual(await noop(h, a, base - 1.5 * DAY), OK);
      for (let i = 10; i < 40; i++) assert.deepEqual(await noop(h, a, base + i), OK);
      assert.deepEqual(await noop(h, a, base + 5), OK, '31 kept: room below');
      assert.deepEqual(
        await noop(h, a, base - 2 * DAY),
        err(`Invalid nonce: nonce too low ${base - 2 * DAY} < ${base - 2 * DAY}`),
      );
    } finally {
      await h.close();
    }
  });
});

describe('per-account fee rates', () => {
  test('userFees reports the account’s rates and the matching charges them: a maker rebate, a custom taker rate', async () => {
    const mm = privateKeyToAccount(generatePrivateKey());
    const plain = privateKeyToAccount(generatePrivateKey());
    const h = await harness({
      accounts: [
        { address: mm.address, fees: { maker: -0.00001, taker: 0.0004 } },
        { address: plain.address },
      ],
    });
    try {
      const fees = await h.info.userFees({ user: mm.address });
      assertShape('UserFeesResponse', fees);
      assert.deepEqual([fees.userAddRate, fees.userCrossRate], ['-0.00001', '0.0004']);
      // A 0.04% taker rate is volume tier 1: its spot rates.
      assert.deepEqual([fees.userSpotAddRate, fees.userSpotCrossRate], ['0.0003', '0.0006']);
      const base = await h.info.userFees({ user: plain.address });
      assert.deepEqual(
        [base.userAddRate, base.userCrossRate, base.feeSchedule.add, base.feeSchedule.cross],
        ['0.00015', '0.00045', '0.00015', '0.00045'],
      );
      const c = h.client(mm);
      // A resting bid at 3350.0, filled by the replayed sale at T0+2000: maker, rebated 0.001% of $33.50.
      await c.order(alo('3350'));
      h.srv.replay.advanceTo(T0 + 2500);
      // A taker sell into the new bid 3349.9: 0.04% of $33.499.
      await c.order({
        orders: [{ a: ETH, b: false, p: '3349.9', s: '0.01', r: true, t: { limit: { tif: 'Ioc' } } }],
        grouping: 'na',
      });
      const fills = await h.info.userFills({ user: mm.address });
      assert.deepEqual(
        fills.map((f) => [f.crossed, f.fee]),
        [
          [true, '0.0134'],
          [false, '-0.000335'],
        ],
      );
      const ch = await h.info.clearinghouseState({ user: mm.address });
      const expected = 100_000 + 0.000335 - 0.0133996 + (3349.9 - 3350) * 0.01;
      assert.ok(
        Math.abs(Number(ch.marginSummary.accountValue) - expected) < 1e-5,
        ch.marginSummary.accountValue,
      );
      const today = (await h.info.userFees({ user: mm.address })).dailyUserVlm.at(-1);
      assert.deepEqual([today?.userAdd, today?.userCross], ['33.5', '33.499']);
    } finally {
      await h.close();
    }
  });
});
