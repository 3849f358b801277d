/**
 * One market-data connection shared by several users (`cjmm serve`: recorder and trader), against the loopback
 * server: one WebSocket whatever the number of users; each user sees exactly its own coins' events, complete;
 * a user can start after another and stop before it without disturbing it; the last close closes the connection.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { FeedFanout } from '../../src/marketdata/feed-fanout.ts';
import { createMarketFeed } from '../../src/venue/hyperliquid/feed.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { waitFor } from '../helpers/wait.ts';
import { steadyMarket, T0 } from '../venue/fixtures.ts';

test('feed fan-out: one connection, each user its coins, complete; start and stop in any order', async () => {
  const market = [...steadyMarket(4, 'ETH'), ...steadyMarket(4, 'BTC')].sort((a, b) => a.exTime - b.exTime);
  const srv = await startLoopbackServer({ events: market, autoStart: false });
  try {
    const fan = new FeedFanout(['ETH', 'BTC'], (h) =>
      createMarketFeed({
        wsUrl: srv.wsUrl,
        coins: ['ETH', 'BTC'],
        channels: ['l2Book', 'trades', 'bbo'],
        staleAfterMs: 60_000,
        onEvents: h.onEvents,
        onGap: h.onGap,
      }),
    );
    const recorder: MarketEvent[] = [];
    const trader: MarketEvent[] = [];
    // The recorder records both coins and starts first; the trader trades ETH and starts later.
    const rec = fan.attach({ coins: ['ETH', 'BTC'], onEvents: (e) => recorder.push(...e), onGap: () => {} });
    const trd = fan.attach({ coins: ['ETH'], onEvents: (e) => trader.push(...e), onGap: () => {} });
    assert.throws(() => fan.attach({ coins: ['SOL'], onEvents: () => {}, onGap: () => {} }), /SOL not among/);
    await rec.start();
    await trd.start();
    srv.replay.advanceTo(T0 + 2000);
    const upTo = (coins: string[], t: number) =>
      market.filter((e) => coins.includes(e.coin) && e.exTime <= t);
    await waitFor(() => recorder.length >= upTo(['ETH', 'BTC'], T0 + 2000).length || undefined, 'recorder');
    await waitFor(() => trader.length >= upTo(['ETH'], T0 + 2000).length || undefined, 'trader');
    assert.equal(srv.stats.wsConnections, 1, 'one connection for both users');
    assert.ok(
      trader.every((e) => e.coin === 'ETH'),
      'the trader sees its coin only',
    );
    assert.equal(trader.length, upTo(['ETH'], T0 + 2000).length);
    // The trader stops first: the recorder goes on, on the same connection.
    await trd.close();
    assert.equal(fan.openUsers, 1);
    const traderSeen = trader.length;
    srv.replay.advanceTo(T0 + 4000);
    await waitFor(
      () => recorder.length >= upTo(['ETH', 'BTC'], T0 + 4000).length || undefined,
      'recorder, later',
    );
    assert.equal(
      recorder.length,
      upTo(['ETH', 'BTC'], T0 + 4000).length,
      'the recorder got everything, once',
    );
    assert.equal(trader.length, traderSeen, 'nothing for a closed user');
    assert.equal(srv.stats.wsConnections, 1);
    assert.ok(rec.stats().channels.l2Book.messages > 0);
    await rec.close();
    assert.equal(fan.openUsers, 0);
    assert.ok(rec.stats().channels.l2Book.messages > 0, 'the final counters stay readable after the close');
  } finally {
    await srv.close();
  }
});
