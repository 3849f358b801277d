/**
 * The pure parts of the service core: bounded time series (coarsening, since/maxPoints), the alert rules (which
 * happenings become alerts, cooldowns, hysteresis, summaries), P&L parts = the engine's attribution, and the core's
 * validation of controls over a fake trading port (nothing is called on a refused request).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { PortfolioAttribution } from '../../src/engine/attribution.ts';
import { Portfolio } from '../../src/engine/portfolio.ts';
import type { Fill } from '../../src/engine/types.ts';
import { AlertRules } from '../../src/rpc/alerts.ts';
import { RpcError, ServiceCore } from '../../src/rpc/core.ts';
import type { Alert } from '../../src/rpc/events.ts';
import type {
  CalibrationPoint,
  ControlAction,
  MarketPort,
  MarketSnapshot,
  TradingEvent,
  TradingPort,
} from '../../src/rpc/port.ts';
import { Ring, TimeSeries } from '../../src/rpc/series.ts';

test('time series: keeps everything up to capacity, then every other point, in fixed memory', () => {
  const s = new TimeSeries(['x'] as const, 8);
  for (let i = 0; i < 8; i++) s.push(i, { x: i * 10 });
  assert.equal(s.length, 8);
  assert.deepEqual(
    s.since(0).map((p) => p.time),
    [0, 1, 2, 3, 4, 5, 6, 7],
  );
  s.push(8, { x: 80 }); // full: compacts to the odd points, then keeps every 2nd push
  assert.equal(s.keepEvery, 2);
  assert.deepEqual(
    s.since(0).map((p) => p.time),
    [1, 3, 5, 7, 8],
  );
  s.push(9, { x: 90 }); // skipped (stride 2)
  s.push(10, { x: 100 });
  assert.deepEqual(
    s.since(0).map((p) => p.time),
    [1, 3, 5, 7, 8, 10],
  );
  for (let t = 11; t < 200; t++) s.push(t, { x: t });
  assert.ok(s.length <= 8);
  const all = s.since(0);
  assert.ok(
    all.every((p, i) => i === 0 || p.time > all[i - 1].time),
    'time order kept',
  );
  assert.equal(s.since(0, 3).length, 3);
  assert.equal(s.since(0, 3).at(-1)!.time, all.at(-1)!.time, 'thinning keeps the newest');
  assert.equal(s.since(1e9).length, 0);
  const n = new TimeSeries(['a'] as const, 4);
  n.push(1, { a: Number.NaN });
  assert.equal(n.since(0)[0].a, null, 'NaN becomes null');
  n.push(0, { a: 1 });
  assert.equal(n.length, 1, 'a point back in time is refused');
  const r = new Ring<number>(3);
  for (let i = 0; i < 10; i++) r.push(i);
  assert.deepEqual(r.list(), [7, 8, 9]);
  assert.deepEqual(
    r.list((x) => x % 2 === 1),
    [7, 9],
  );
});

function cal(coin: string, time: number, ok: boolean, kePlus: number): CalibrationPoint {
  const v = {
    lambdaPlus: 1,
    lambdaMinus: 1,
    kappaPlus: 10,
    kappaMinus: 10,
    epsilonPlus: kePlus / 10,
    epsilonMinus: 0.01,
    sigma: 0.1,
  };
  return {
    coin,
    time,
    at: time,
    source: ok ? 'fresh' : 'last-good',
    ok,
    flags: ok ? [] : ['few-market-orders'],
    values: v,
    stderr: v,
    kappaEpsilonPlus: kePlus,
    kappaEpsilonMinus: 0.1,
  };
}

test('alert rules: start/stop, kill switch, risk states, feed gaps with cooldown, κε hysteresis, calibration failures, summaries', () => {
  const out: Alert[] = [];
  const r = new AlertRules({ fillsSummaryMin: 1, kappaEpsilonMax: 1, cooldownSec: 60 }, (a) => out.push(a));
  r.started(0, 'paper', ['ETH', 'BTC']);
  r.stateChanged(1000, 'ETH', 'active', 'halted', 'drawdown 510.00 USD ≥ 5.00% of 10000 USD');
  r.stateChanged(2000, 'BTC', 'active', 'reducing', 'position 0.6 beyond 5 lots');
  r.stateChanged(2500, 'BTC', 'active', 'paused', 'paused by the operator (api)'); // a control, not a risk change
  r.stateChanged(3000, 'BTC', 'active', 'stale', '');
  r.stateChanged(3100, 'ETH', 'active', 'halted', 'stopped'); // the stop alert says it
  r.feedGap(3500, 'BTC', { start: 0, end: 2500, reason: 'reconnect' }); // within the cooldown of the stale alert
  r.feedGap(70_000, 'BTC', { start: 60_000, end: 62_500, reason: 'reconnect' });
  r.calibration(cal('ETH', 4000, true, 0.5));
  r.calibration(cal('ETH', 5000, true, 1.5)); // crosses above
  r.calibration(cal('ETH', 6000, true, 1.6)); // still above: no repeat
  r.calibration(cal('ETH', 7000, false, 0.5)); // back below, and the calibration fails
  r.calibration(cal('ETH', 8000, false, 0.5)); // still failing: no repeat
  r.fill({
    coin: 'ETH',
    time: 9000,
    exTime: null,
    side: 'bid',
    px: 100,
    sz: 1,
    fee: 0.01,
    liquidity: 'maker',
    tid: 1,
    cloid: 'a',
    mid: 100.05,
    position: 1,
  });
  r.fill({
    coin: 'ETH',
    time: 9500,
    exTime: null,
    side: 'ask',
    px: 101,
    sz: 1,
    fee: 0.01,
    liquidity: 'maker',
    tid: 2,
    cloid: 'b',
    mid: 100.95,
    position: 0,
  });
  r.tick(30_000, new Map([['ETH', 0.9]])); // not due yet
  r.tick(60_000, new Map([['ETH', 0.9]]));
  r.tick(120_000, new Map([['ETH', 1.0]])); // due, but no fills: no message
  r.stopped(130_000, 'signal');
  assert.deepEqual(
    out.map((a) => [a.kind, a.coin, a.severity]),
    [
      ['start', null, 'info'],
      ['kill-switch', 'ETH', 'critical'],
      ['risk-state', 'BTC', 'warning'],
      ['feed-gap', 'BTC', 'warning'],
      ['feed-gap', 'BTC', 'warning'],
      ['kappa-epsilon', 'ETH', 'warning'],
      ['calibration-failure', 'ETH', 'warning'],
      ['fills-summary', null, 'info'],
      ['stop', null, 'info'],
    ],
  );
  const summary = out.find((a) => a.kind === 'fills-summary')!;
  const m = (summary.data as { markets: Record<string, number | string>[] }).markets[0];
  assert.equal(m.fills, 2);
  assert.equal(m.buys, 1);
  assert.equal(m.sells, 1);
  assert.equal(m.volume, 201);
  assert.ok(Math.abs((m.pnlChange as number) - 0.9) < 1e-12);
  assert.match(summary.message, /ETH: 2 fills \(1 buys, 1 sells\), 201\.00 USD traded/);
  assert.deepEqual(
    out.map((a) => a.id),
    out.map((_, i) => i + 1),
    'ids increase',
  );
});

/** A trading port whose markets are plain data; records the controls it receives. */
class FakePort implements TradingPort {
  readonly mode = 'paper' as const;
  readonly startedAt = 1000;
  readonly calls: string[] = [];
  listeners: ((e: TradingEvent) => void)[] = [];
  snaps = new Map<string, MarketSnapshot>();
  stopped: string | undefined;
  constructor(coins: string[]) {
    for (const coin of coins) {
      this.snaps.set(coin, {
        coin,
        state: 'active',
        reason: '',
        mid: 100,
        bid: 99.9,
        ask: 100.1,
        position: 0,
        lotSize: 1,
        maxPositionLots: 5,
        pnl: { realised: 0, unrealised: 0, fees: 0, total: 0 },
        pnlAttribution: { spreadCapture: 0, adverseSelection: 0, inventoryCarry: 0, fees: 0, funding: 0 },
        funding: 0,
        params: null,
        kappaEpsilon: { plus: null, minus: null },
        fills: 0,
        openOrders: 2,
      });
    }
  }
  markets(): MarketPort[] {
    return [...this.snaps.keys()].map((coin) => ({
      coin,
      snapshot: () => this.snaps.get(coin)!,
      quote: () => {
        const s = this.snaps.get(coin)!;
        return { mid: s.mid, bid: s.bid, ask: s.ask, position: s.position };
      },
      openOrders: () => [],
      control: async (action: ControlAction) => {
        this.calls.push(`${action} ${coin}`);
        const s = this.snaps.get(coin)!;
        if (action === 'pause') s.state = 'paused';
        if (action === 'resume') s.state = 'active';
        return { coin, state: s.state, openOrders: 0 };
      },
    }));
  }
  account() {
    return { equity: 10_000, notional: 0, drawdown: 0, state: 'active' as const };
  }
  stop(reason: string) {
    this.stopped = reason;
  }
  subscribe(l: (e: TradingEvent) => void) {
    this.listeners.push(l);
    return () => {};
  }
  emit(e: TradingEvent) {
    for (const l of this.listeners) l(e);
  }
}

test('core: controls are validated before anything is called; stop without a coin stops the process', async () => {
  const port = new FakePort(['ETH', 'BTC']);
  const core = new ServiceCore({ port, clock: () => 5000 });
  core.start();
  try {
    await assert.rejects(core.control('pause', 'SOL', 'api'), (e: unknown) => {
      assert.ok(e instanceof RpcError);
      assert.equal(e.status, 404);
      assert.equal(e.message, "coin: 'SOL' is not traded here (markets: ETH, BTC)");
      return true;
    });
    await assert.rejects(
      core.control('explode' as ControlAction, 'ETH', 'api'),
      /action: 'explode' is not one of pause, resume, flatten, stop/,
    );
    assert.deepEqual(port.calls, [], 'nothing called on a refused control');
    assert.throws(() => core.pnl(), /coin: required when several markets run \(markets: ETH, BTC\)/);
    const r = await core.control('pause', undefined, 'api');
    assert.deepEqual(port.calls, ['pause ETH', 'pause BTC']);
    assert.deepEqual(
      r.markets.map((m) => m.state),
      ['paused', 'paused'],
    );
    await core.control('stop', undefined, 'telegram');
    assert.equal(port.stopped, 'stop (telegram)');
    assert.deepEqual(
      port.calls,
      ['pause ETH', 'pause BTC'],
      'a full stop goes to the port, not market by market',
    );
  } finally {
    core.close();
  }
});

test("core: P&L parts are the engine's attribution (the status line's numbers), in status, parts and series", () => {
  const port = new FakePort(['ETH']);
  const core = new ServiceCore({ port, clock: () => 5000 });
  core.start();
  try {
    // The engine's books of two fills: bought 2 at 99.9 (mid 100), sold 2 at 100.3 (mid 100.1).
    const pf = new Portfolio(10_000);
    const attribution = new PortfolioAttribution(pf, { horizonMs: 1000 });
    const fill = (side: 'bid' | 'ask', px: number, tid: number, exTime: number): Fill => ({
      kind: 'fill',
      cloid: `c${tid}`,
      oid: tid,
      coin: 'ETH',
      side,
      px,
      sz: 2,
      fee: 0.02,
      liquidity: 'maker',
      tid,
      exTime,
      rxTime: exTime,
    });
    attribution.onMarket(1000, 100);
    pf.applyFill(fill('bid', 99.9, 1, 1000));
    attribution.onMarket(1500, 100.1);
    pf.applyFill(fill('ask', 100.3, 2, 1500));
    attribution.onMarket(3000, 100.1);
    const figures = attribution.figures(100.1);
    const s = port.snaps.get('ETH')!;
    s.pnl = {
      realised: pf.realisedPnl,
      unrealised: pf.unrealisedPnl(100.1),
      fees: pf.feesPaid,
      total: pf.netPnl(100.1),
    };
    s.pnlAttribution = figures;
    // Edges against the mid at each fill: 2 × 0.1 + 2 × 0.2; fees paid 0.04 (negative in the attribution).
    const parts = core.pnlParts('ETH');
    assert.ok(Math.abs(parts.spreadCapture - 0.6) < 1e-12);
    assert.ok(Math.abs(parts.fees + 0.04) < 1e-12);
    assert.deepEqual({ ...parts, total: undefined }, { ...figures, total: undefined });
    const sum =
      parts.spreadCapture + parts.adverseSelection + parts.inventoryCarry + parts.fees + parts.funding;
    assert.ok(Math.abs(sum - parts.total) < 1e-12, 'the five parts sum to the total');
    assert.ok(Math.abs(parts.total - 0.76) < 1e-12);
    assert.deepEqual(core.status().markets[0].pnlAttribution, figures, 'status carries the same numbers');
    core.sample(6000);
    const p = core.pnl().points.at(-1)!;
    assert.ok(Math.abs((p.total as number) - 0.76) < 1e-12);
    assert.equal(p.spreadCapture, figures.spreadCapture);
    assert.equal(p.adverseSelection, figures.adverseSelection);
    assert.equal(p.inventoryCarry, figures.inventoryCarry);
    const series =
      (p.spreadCapture as number) +
      (p.adverseSelection as number) +
      (p.inventoryCarry as number) +
      (p.funding as number) -
      (p.fees as number);
    assert.ok(
      Math.abs(series - (p.total as number)) < 1e-12,
      'series: spread + adverse + carry + funding − fees',
    );
    port.emit({
      kind: 'fill',
      coin: 'ETH',
      fill: {
        coin: 'ETH',
        time: 1,
        exTime: 1000,
        side: 'bid',
        px: 99.9,
        sz: 2,
        fee: 0.02,
        liquidity: 'maker',
        tid: 1,
        cloid: 'c1',
        mid: 100,
        position: 2,
      },
    });
    port.emit({
      kind: 'fill',
      coin: 'ETH',
      fill: {
        coin: 'ETH',
        time: 2,
        exTime: 1500,
        side: 'ask',
        px: 100.3,
        sz: 2,
        fee: 0.02,
        liquidity: 'maker',
        tid: 2,
        cloid: 'c2',
        mid: 100.1,
        position: 0,
      },
    });
    assert.equal(core.fills({ since: 2 }).fills.length, 1);
    assert.equal(core.fills({ limit: 1 }).fills[0].tid, 2);
  } finally {
    core.close();
  }
});
