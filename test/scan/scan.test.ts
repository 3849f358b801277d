/**
 * `cjmm scan`: on the shared recordings (ETH with trades; BTC's archive is books only, so its model fields are
 * null and the text says why), on a simulated world with known parameters, and with --live against the
 * loopback Hyperliquid server.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { importSource, readSource } from '../../src/marketdata/source.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import { stationaryExpectedPnl } from '../../src/model/expected-pnl.ts';
import { simulateMarket } from '../../src/model/market-sim.ts';
import { DEFAULT_SCAN_OPTIONS, rankScan, scanCoin } from '../../src/scan/scan.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { ARCHIVE_ROOT, REPO_ROOT, SEED_ETH, SEED_ROOT, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-scan-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEYS = [
  'coin',
  'spreadTicks',
  'lambdaPlus',
  'lambdaMinus',
  'kappaPlus',
  'kappaMinus',
  'epsilonPlus',
  'epsilonMinus',
  'kappaEpsilon',
  'touchQueue',
  'expectedPnlPerHour',
  'breakEvenMakerFee',
];

function cjmm(...args: string[]) {
  return spawnSync(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), 'scan', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

test('simulated world with known parameters: the scan recovers them and the expected P&L they imply', () => {
  const truth = {
    lambdaPlus: 1.5,
    lambdaMinus: 1.5,
    kappaPlus: 6,
    kappaMinus: 7,
    epsilonPlus: 0.03,
    epsilonMinus: 0.03,
    sigma: 0.02,
  };
  const sim = simulateMarket({
    seed: 5,
    durationSec: 3600,
    tick: 0.01,
    mid0: 200,
    ...truth,
    wideSpreadFrac: 0,
  });
  const opts = { ...DEFAULT_SCAN_OPTIONS, drift: 'model' as const, notionalUsd: 20, phi: 0.001 };
  const { row, detail } = scanCoin('SIM', sim.events, [], opts);
  assert.deepEqual(Object.keys(row), KEYS);
  // One-tick book throughout.
  assert.ok(Math.abs((row.spreadTicks ?? 0) - 1) < 1e-9, String(row.spreadTicks));
  const cal = [
    ['lambdaPlus', row.lambdaPlus],
    ['lambdaMinus', row.lambdaMinus],
    ['kappaPlus', row.kappaPlus],
    ['kappaMinus', row.kappaMinus],
  ] as const;
  for (const [k, v] of cal)
    assert.ok(v !== null && Math.abs(v / truth[k] - 1) < 0.12, `${k} ${v} vs ${truth[k]}`);
  assert.equal(
    row.kappaEpsilon,
    Math.max(row.kappaPlus! * row.epsilonPlus!, row.kappaMinus! * row.epsilonMinus!),
  );
  // The expected P&L at the true parameters, same lot, fee, φ and bounds.
  const lot = detail.lot;
  assert.ok(Math.abs(lot * detail.mid - 20) < 0.02 * detail.mid, `lot ${lot}`);
  const e = stationaryExpectedPnl({
    ...truth,
    phi: opts.phi,
    alpha: 0,
    qMin: -opts.qMax,
    qMax: opts.qMax,
    feePerFill: opts.fees.maker * detail.mid,
  });
  const want = e.pnlRate * lot * 3600;
  assert.ok(
    row.expectedPnlPerHour !== null && Math.abs(row.expectedPnlPerHour / want - 1) < 0.1,
    `scan ${row.expectedPnlPerHour} vs truth ${want} USD/h`,
  );
  assert.deepEqual(detail.phi, { value: 0.001, source: 'config' });
  // By default φ is solved, as cj does, for the inventory target √E[q²] = 2 lots.
  const byTarget = scanCoin('SIM', sim.events, [], { ...opts, phi: undefined });
  assert.equal(byTarget.detail.phi?.source, 'target');
  assert.ok(byTarget.row.expectedPnlPerHour !== null && byTarget.row.expectedPnlPerHour > 0);
  // Break-even holding the policy fixed: above the fee paid (the model's margin per fill is positive).
  assert.ok(row.breakEvenMakerFee !== null && row.breakEvenMakerFee > opts.fees.maker);
  // Rebate tiers raise the model's expectation: the curve over Hyperliquid's maker fees falls with the fee.
  const curve = detail.pnlAtFees.map((p) => p.pnlPerHour);
  for (let i = 1; i < curve.length; i++) assert.ok(curve[i] >= curve[i - 1] - 1e-9);
});

test('ranking: best expected P&L first, coins the model cannot price last', () => {
  const mk = (coin: string, pnl: number | null) => ({ row: { coin, expectedPnlPerHour: pnl } as never });
  const ranked = rankScan([mk('A', null), mk('B', 1), mk('C', 3), mk('D', null), mk('E', -2)]);
  assert.deepEqual(
    ranked.map((x) => (x.row as { coin: string }).coin),
    ['C', 'B', 'E', 'A', 'D'],
  );
});

describe('cjmm scan on the shared recordings (ETH seed + BTC archive)', { skip: sharedSkip }, () => {
  const store = join(dir, 'store');
  before(async () => {
    const s = await openStore(store);
    try {
      await importSource(SEED_ROOT, s);
      await importSource(ARCHIVE_ROOT, s);
    } finally {
      await s.close();
    }
  });

  test('--json: exactly the keys, best first; BTC (books only) has no model figures', () => {
    const r = cjmm('--data', store, '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(Object.keys(out), ['coins']);
    assert.deepEqual(
      out.coins.map((c: { coin: string }) => c.coin),
      ['ETH', 'BTC'],
    );
    for (const c of out.coins) assert.deepEqual(Object.keys(c), KEYS);
    const [eth, btc] = out.coins;
    // ETH: a one-tick book most of the time (mean a little above one tick), the calibration's numbers.
    assert.ok(eth.spreadTicks > 1 && eth.spreadTicks < 1.5, String(eth.spreadTicks));
    assert.ok(eth.touchQueue > 0);
    for (const k of KEYS.slice(2)) assert.equal(typeof eth[k], 'number', `ETH ${k}`);
    assert.ok(Math.abs(eth.lambdaPlus - 1.622) < 0.01 && Math.abs(eth.kappaMinus - 8.58) < 0.05);
    assert.ok(eth.expectedPnlPerHour >= 0, 'the optimal policy never expects a loss');
    // BTC: the book gives spread and queue; without trades nothing of the model is invented.
    assert.ok(btc.spreadTicks >= 1 && btc.touchQueue > 0);
    for (const k of KEYS.slice(2, 9).concat(['expectedPnlPerHour', 'breakEvenMakerFee']))
      assert.equal(btc[k], null, `BTC ${k}`);
  });

  test('text table, notes on what cannot be estimated, the HTML report; --coins and errors', () => {
    const report = join(dir, 'scan.html');
    const r = cjmm('--data', store, '--report', report, '--fee-tier', '6,mm3');
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /maker fee -0\.30 bps \(tier 6 \+ maker rebate 3\)/);
    assert.match(r.stdout, /^1 {2}ETH/m);
    assert.match(r.stdout, /BTC:\n(.*\n)*\s+not estimated: no trades \(book-only data\)/);
    const html = readFileSync(report, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.match(html, /Expected P&amp;L of the stationary CJ policy vs maker fee/);
    assert.doesNotMatch(html, /<script|src="http/);
    const one = cjmm('--data', store, '--coins', 'ETH', '--json');
    assert.equal(one.status, 0, one.stderr);
    assert.equal(JSON.parse(one.stdout).coins.length, 1);
    const bad = cjmm('--data', store, '--coins', 'DOGE');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--coins: no events of DOGE/);
    const badDrift = cjmm('--data', store, '--drift', 'up');
    assert.equal(badDrift.status, 2);
    assert.match(badDrift.stderr, /--drift must be one of model\|shrink\|zero/);
    assert.equal(cjmm('--data', store, '--live').status, 2);
  });

  test('--live samples the feed (loopback server replaying ETH), stores the sample, then scans it', async () => {
    const events = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 30,
      port: 0,
      shiftToNow: true,
    });
    try {
      const liveStore = join(dir, 'live');
      const child = spawn(
        process.execPath,
        [
          join(REPO_ROOT, 'src/cli/main.ts'),
          'scan',
          '--data',
          liveStore,
          '--coins',
          'ETH',
          '--live',
          '--sample',
          '6s',
          '--network',
          'loopback',
          '--http-url',
          server.httpUrl,
          '--ws-url',
          server.wsUrl,
          '--json',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => {
        stdout += d;
      });
      child.stderr.on('data', (d) => {
        stderr += d;
      });
      const code = await new Promise<number | null>((res) => child.on('close', res));
      assert.equal(code, 0, stderr);
      assert.match(stderr, /sampling ETH from ws:\/\/127\.0\.0\.1:\d+\/ws for 6 s/);
      assert.match(stderr, /stored \d+ events in /);
      const out = JSON.parse(stdout);
      assert.equal(out.coins[0].coin, 'ETH');
      assert.ok(out.coins[0].spreadTicks >= 1, stdout);
      // The sample went into the store.
      const ls = spawnSync(
        process.execPath,
        [join(REPO_ROOT, 'src/cli/main.ts'), 'data', 'ls', '--store', liveStore, '--json'],
        {
          encoding: 'utf8',
        },
      );
      assert.equal(ls.status, 0, ls.stderr);
      const kinds = JSON.parse(ls.stdout).map((x: { kind: string }) => x.kind);
      assert.ok(kinds.includes('book') && kinds.includes('trade'), ls.stdout);
    } finally {
      await server.close();
    }
  });
});
