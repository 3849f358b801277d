/**
 * Many coins, one account, one process (paper): ETH from the real recording, BTC and SOL synthetic worlds, all
 * replayed at 20× by one loopback server. One market-data connection; every market quotes and fills; the API
 * lists every market; pausing one leaves the others quoting; the journal's books per coin equal the engines';
 * a coin whose feed stops goes stale alone; the account drawdown kill switch halts every coin.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import type { TraderPort } from '../../src/rpc/session-port.ts';
import { parseServiceConfig } from '../../src/service/config.ts';
import { demoWorld } from '../../src/service/demo-world.ts';
import { type RunningService, runService } from '../../src/service/run.ts';
import { ConfigError } from '../../src/trading/config.ts';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { formatStatus } from '../../src/trading/journal-report.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { parseMarkets } from '../../src/trading/markets.ts';
import type { TraderSummary } from '../../src/trading/trader.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { SEED_ROOT, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';
import { TEST_TOKEN } from './harness.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-multi-'));
after(() => rmSync(dir, { recursive: true, force: true }));
type Json = Record<string, unknown>;

test('markets: top-level keys are defaults, each market overrides; errors name markets.N.field', () => {
  const r = parseMarkets(
    {
      orderSize: 0.01,
      maxPosition: 4,
      risk: { maxNotional: 1000, staleMs: 4000 },
      strategy: {
        strategy: 'cj',
        phi: 0.002,
        priors: {
          lambdaPlus: 1,
          lambdaMinus: 1,
          kappaPlus: 8,
          kappaMinus: 8,
          epsilonPlus: 0.1,
          epsilonMinus: 0.1,
        },
      },
      markets: [
        { coin: 'ETH' },
        { coin: 'BTC', orderSize: 0.0004, risk: { maxNotional: 500 }, strategy: { phi: 0.01 } },
      ],
      accountRisk: { maxNotional: 5000 },
    },
    undefined,
  );
  assert.deepEqual(
    r.markets.map((m) => [m.coin, m.orderSize, m.maxPosition, m.risk.maxNotional, m.risk.staleMs]),
    [
      ['ETH', 0.01, 4, 1000, 4000],
      ['BTC', 0.0004, 4, 500, 4000],
    ],
  );
  const btc = r.markets[1].strategy as unknown as Json;
  assert.equal(btc.phi, 0.01);
  assert.equal((btc.priors as Json).kappaPlus, 8, 'the strategy section merges one level deep');
  assert.equal(r.accountRisk.maxNotional, 5000);
  assert.equal(r.accountRisk.maxDrawdown, 0.05);
  const sel = parseMarkets({ orderSize: 0.01, markets: [{ coin: 'ETH', maxPosition: 2 }] }, ['SOL', 'ETH']);
  assert.deepEqual(
    sel.markets.map((m) => [m.coin, m.maxPosition]),
    [
      ['SOL', 5],
      ['ETH', 2],
    ],
    '--coins selects: their markets entries, else the defaults',
  );
  assert.throws(
    () =>
      parseMarkets({
        orderSize: 0.01,
        markets: [
          { coin: 'ETH', journal: 'x.sqlite' },
          { coin: 'BTC', orderSize: -1 },
          { maxPosition: 3 },
          { coin: 'ETH' },
        ],
        accountRisk: { maxDrawdown: 2 },
      }),
    (e: unknown) => {
      assert.ok(e instanceof ConfigError);
      const m = e.message;
      assert.match(m, /markets\.0\.journal: one per process: set it at the top level/);
      assert.match(m, /markets\.1\.orderSize: must be > 0/);
      assert.match(m, /markets\.2\.coin: is required/);
      assert.match(m, /markets: ETH is listed twice/);
      assert.match(m, /accountRisk\.maxDrawdown: must be between 0 and 1/);
      return true;
    },
  );
});

async function runWorld(opts: {
  cutSolAfterSec?: number;
  accountRisk?: Json;
  durationMs: number;
  during: (s: RunningService & { port: TraderPort }, url: string) => Promise<void>;
}) {
  const world = await demoWorld(SEED_ROOT, ['ETH', 'BTC', 'SOL'], { durationSec: 600, strategy: 'cj' });
  let events = world.events;
  if (opts.cutSolAfterSec !== undefined) {
    const cut = world.startTime + opts.cutSolAfterSec * 1000;
    events = events.filter((e) => e.coin !== 'SOL' || e.exTime < cut);
  }
  const server = await startLoopbackServer({
    events,
    coins: ['ETH', 'BTC', 'SOL'],
    speed: 20,
    port: 0,
    shiftToNow: true,
  });
  const journal = join(dir, `multi-${Math.random().toString(36).slice(2)}.sqlite`);
  const logs: string[] = [];
  const logger = createTradingLogger(
    'info',
    new Writable({
      write: (c, _e, cb) => {
        logs.push(String(c));
        cb();
      },
    }),
  );
  const config = parseServiceConfig(
    {
      orderSize: 0.01,
      maxPosition: 3,
      network: 'loopback',
      httpUrl: server.httpUrl,
      wsUrl: server.wsUrl,
      journal,
      statusIntervalSec: 1,
      calibration: { windowSec: 120, refreshSec: 5 },
      risk: { staleMs: 2000 },
      strategy: {
        strategy: 'cj',
        phi: 0.001,
        priors: {
          lambdaPlus: 1.62,
          lambdaMinus: 1.1,
          kappaPlus: 8.4,
          kappaMinus: 8.58,
          epsilonPlus: 0.117,
          epsilonMinus: 0.147,
        },
      },
      markets: world.markets.map((m) =>
        Object.keys(m.overrides).length > 0 ? m.overrides : { coin: m.coin },
      ),
      accountRisk: opts.accountRisk ?? {},
      api: { enabled: true, port: 0 },
      alerts: { cooldownSec: 0 },
    },
    {},
    {},
  );
  let svc: (RunningService & { port: TraderPort }) | undefined;
  const lines: string[] = [];
  const done = runService({
    config,
    logger,
    durationMs: opts.durationMs,
    env: { CJMM_API_TOKEN: TEST_TOKEN },
    trader: { paperLatencyMs: 20 },
    onStatusLine: (l) => lines.push(l),
    onReady: (s) => {
      svc = s as RunningService & { port: TraderPort };
    },
  });
  done.catch(() => {});
  const s = await waitFor(() => svc, 'the service');
  let summary: TraderSummary;
  try {
    await opts.during(s, s.api!.url);
  } finally {
    s.port.stop('test over', 'internal');
    summary = await done;
    await server.close();
  }
  return { summary, journal, server, logs, lines, svc: s };
}

const get = async (url: string, path: string) => {
  const r = await fetch(url + path, { headers: { authorization: `Bearer ${TEST_TOKEN}` } });
  return { status: r.status, body: (await r.json()) as Json };
};
const post = async (url: string, path: string, body: unknown) => {
  const r = await fetch(url + path, {
    method: 'POST',
    headers: { authorization: `Bearer ${TEST_TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  return { status: r.status, body: (await r.json()) as Json };
};

describe('three coins in one process', { skip: sharedSkip }, () => {
  test('one connection; every market trades; pause one, the others go on; a coin whose feed stops goes stale alone; journal = engines', async () => {
    const { summary, journal, logs, server } = await runWorld({
      cutSolAfterSec: 150, // SOL's data ends 7.5 s into the run at 20×
      durationMs: 120_000,
      during: async (s, url) => {
        const trader = () => s.port.running!;
        await waitFor(() => s.port.running?.markets.size === 3 || undefined, 'three markets', 30_000);
        await waitFor(
          () =>
            ['ETH', 'BTC'].every((c) => trader().markets.get(c)!.engine.portfolio.fills.length > 0) ||
            undefined,
          'fills in ETH and BTC',
          60_000,
        );
        const mk = await get(url, '/api/v1/markets');
        const acct = mk.body.account as Json;
        assert.equal(typeof acct.marginUse, 'number', 'margin use of the account');
        assert.ok((acct.marginUse as number) >= 0 && (acct.marginUse as number) < 1);
        const st = await get(url, '/api/v1/status');
        assert.equal(st.status, 200);
        const coins = (st.body.markets as Json[]).map((m) => m.coin);
        assert.deepEqual(coins, ['ETH', 'BTC', 'SOL']);
        for (const m of st.body.markets as Json[]) {
          assert.deepEqual(Object.keys(m), [
            'coin',
            'state',
            'mid',
            'bid',
            'ask',
            'position',
            'pnl',
            'params',
            'kappaEpsilon',
            'pnlAttribution',
          ]);
        }
        // SOL's data stopped: SOL goes stale, nothing of SOL rests; ETH and BTC keep quoting.
        await waitFor(
          () => (s.core.status().markets.find((m) => m.coin === 'SOL')?.state === 'stale' ? true : undefined),
          'SOL stale',
          30_000,
        );
        await waitFor(
          () => trader().markets.get('SOL')!.engine.orders.openOrders().length === 0 || undefined,
          'no SOL orders',
        );
        // The connection stays: only SOL is resubscribed (no reconnect, so no gap for the others).
        await waitFor(
          () => (trader().feedStats()?.resubscribes ?? 0) >= 1 || undefined,
          'SOL resubscribed alone',
          30_000,
        );
        assert.equal(trader().feedStats()?.reconnects, 0, 'the shared connection was never dropped');
        // BTC's synthetic data never stops: it is not stale (ETH's recording has gaps of its own, so not ETH).
        assert.notEqual(s.core.status().markets.find((m) => m.coin === 'BTC')?.state, 'stale');
        const gapAlerts = s.core.alerts().alerts.filter((a) => a.kind === 'feed-gap');
        assert.ok(gapAlerts.some((a) => a.coin === 'SOL'));
        assert.ok(!gapAlerts.some((a) => a.coin === 'BTC'), 'no feed alert for BTC');
        // Pause ETH: ETH paused with nothing resting and nothing placed; BTC still quoting and placing.
        const p = await post(url, '/api/v1/pause', { coin: 'ETH' });
        assert.equal(p.status, 200);
        assert.deepEqual(p.body.markets, [{ coin: 'ETH', state: 'paused', openOrders: 0 }]);
        const eth = trader().markets.get('ETH')!.engine;
        const btc = trader().markets.get('BTC')!.engine;
        const placedBtc = btc.orders.stats.placed + btc.orders.stats.modified;
        const placedEth = eth.orders.stats.placed + eth.orders.stats.modified;
        await waitFor(
          () => btc.orders.stats.placed + btc.orders.stats.modified > placedBtc || undefined,
          'BTC goes on',
          30_000,
        );
        assert.equal(
          eth.orders.stats.placed + eth.orders.stats.modified,
          placedEth,
          'nothing sent for the paused ETH',
        );
        assert.equal(eth.orders.openOrders().length, 0);
        assert.notEqual(s.core.status().markets.find((m) => m.coin === 'BTC')?.state, 'paused');
        const unknown = await post(url, '/api/v1/pause', { coin: 'DOGE' });
        assert.equal(unknown.status, 404);
        assert.match(String(unknown.body.message), /markets: ETH, BTC, SOL/);
      },
    });
    assert.equal(server.stats.wsConnections, 1, 'one WebSocket connection for the three coins');
    assert.equal(summary.restingAfterStop, 0);
    assert.deepEqual(summary.violations, []);
    assert.deepEqual(summary.coins, ['ETH', 'BTC', 'SOL']);
    // One connection to the exchange's WebSocket for every coin.
    assert.equal(logs.filter((l) => l.includes('feed subscribed')).length, 1);
    const j = openExistingJournal(journal);
    try {
      for (const m of summary.markets) {
        const book = j.positionBook(m.coin);
        assert.ok(
          Math.abs(book.position - m.position) < 1e-9,
          `${m.coin}: journal position ${book.position} = engine ${m.position}`,
        );
      }
      assert.equal(j.status().openOrders.length, 0);
      // `trade status`: each coin's last status with the engine attribution (the status line's numbers).
      const text = formatStatus(j.status());
      for (const c of ['ETH', 'BTC', 'SOL'])
        assert.match(text, new RegExp(`last status ${c}: mid .*\\n  P&L attribution \\(USD\\): spread`));
    } finally {
      j.close();
    }
  });

  test('the account drawdown kill switch halts every coin and cancels everything', async () => {
    const { summary, journal } = await runWorld({
      accountRisk: { maxDrawdown: 0.00002 }, // 0.20 USD of 10,000
      durationMs: 120_000,
      during: async (s) => {
        await waitFor(
          () => s.port.running?.account().state === 'halted' || undefined,
          'the account kill switch',
          90_000,
        );
        await waitFor(
          () => s.core.status().markets.every((m) => m.state === 'halted') || undefined,
          'every market halted',
        );
        await waitFor(
          () =>
            [...s.port.running!.markets.values()].every((m) => m.engine.orders.openOrders().length === 0) ||
            undefined,
          'nothing resting',
        );
        assert.equal(s.core.status().account.state, 'halted');
        assert.ok(s.core.alerts().alerts.some((a) => a.kind === 'kill-switch' && a.coin === null));
        // Still halted a second later (sticky).
        await new Promise((r) => setTimeout(r, 1000));
        assert.ok(s.core.status().markets.every((m) => m.state === 'halted'));
      },
    });
    assert.equal(summary.account.state, 'halted');
    assert.equal(summary.restingAfterStop, 0);
    const j = openExistingJournal(journal);
    try {
      const kill = j
        .history({ type: 'risk', limit: 1000 })
        .map((r) => r.data as Json)
        .filter((d) => d.event === 'account-kill-switch');
      assert.equal(kill.length, 1);
      assert.match(String(kill[0].reason), /account drawdown/);
    } finally {
      j.close();
    }
  });
});
