import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { parseBacktestConfig } from '../../src/backtest/setup.ts';
import { importSource } from '../../src/marketdata/source.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import { REPO_ROOT, SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-bt-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cjmm(...args: string[]) {
  return spawnSync(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), 'backtest', ...args], {
    encoding: 'utf8',
    timeout: 120_000,
  });
}

describe('cjmm backtest: argument and config errors name the field', () => {
  test('bad --queue', () => {
    const r = cjmm('--data', dir, '--strategy', 'fixed', '--queue', 'fifo');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--queue must be conservative or prob/);
  });

  test('bad --calibration-thread and backtest.calibrationThread', () => {
    const r = cjmm('--data', dir, '--strategy', 'cj', '--calibration-thread', 'maybe');
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--calibration-thread must be auto, on or off \(got maybe\)/);
    assert.throws(
      () => parseBacktestConfig({ backtest: { calibrationThread: 'yes' } }),
      /backtest\.calibrationThread: must be 'auto', 'on' or 'off'/,
    );
    assert.equal(
      parseBacktestConfig({ backtest: { calibrationThread: 'off' } }).backtest.calibrationThread,
      'off',
    );
  });

  test('bad config values are refused with the field path', () => {
    assert.throws(() => parseBacktestConfig({ strategy: 'cj', phi: -1 }), /strategy\.phi: must be ≥ 0/);
    assert.throws(() => parseBacktestConfig({ backtest: { queue: 'fifo' } }), /backtest\.queue/);
    assert.throws(
      () => parseBacktestConfig({ backtest: { lotsize: 1 } }),
      /backtest: unknown field\(s\) lotsize/,
    );
    const ok = parseBacktestConfig({
      strategy: { strategy: 'fixed', halfSpreadTicks: 2 },
      backtest: { latency: '20ms', fees: { maker: 0, taker: 0.0004 } },
    });
    assert.equal(ok.strategy?.strategy, 'fixed');
    assert.equal(ok.backtest.latency, '20ms');
  });
});

describe('cjmm backtest on the recorded ETH data', { skip: sharedSkip }, () => {
  test('--json, --report and the config file', () => {
    const cfg = join(dir, 'bt.json');
    writeFileSync(
      cfg,
      JSON.stringify({ strategy: 'fixed', halfSpreadTicks: 1, backtest: { lotSize: 0.01 } }),
    );
    const report = join(dir, 'r.html');
    const r = cjmm(
      '--data',
      SEED_ETH,
      '--coin',
      'ETH',
      '--strategy',
      'fixed',
      '--config',
      cfg,
      '--latency',
      '20ms',
      '--json',
      '--report',
      report,
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.coin, 'ETH');
    assert.equal(out.settings.latency, 'constant 20 ms each way');
    assert.equal(out.settings.instrument.lotSize, 0.01);
    assert.ok(out.metrics.fills > 0);
    assert.equal(out.metrics.markouts.map((m: { horizon: string }) => m.horizon).join(','), '1s,5s,30s');
    const html = readFileSync(report, 'utf8');
    assert.match(html, /^<!doctype html>/);
    assert.ok((html.match(/<svg /g) ?? []).length >= 3);
    assert.doesNotMatch(html, /<script|src="http/);
    assert.match(html, /P&amp;L attribution \(USD, cumulative/);
    // The new metrics keys.
    for (const k of ['spreadCapture', 'adverseSelection', 'inventoryCarry', 'fees', 'funding'])
      assert.equal(typeof out.metrics.pnlAttribution[k], 'number', k);
    assert.equal(typeof out.metrics.breakEvenMakerFee, 'number');
    assert.equal(out.metrics.spreadBoundBinding, null);
  });

  test('--fee-tier sets the fees from the schedule; --maker-fee overrides; the text shows the attribution', () => {
    const base = ['--data', SEED_ETH, '--coin', 'ETH', '--strategy', 'fixed', '--to', '2025-12-10T21:14:00Z'];
    const r = cjmm(...base, '--fee-tier', '6,mm3', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.settings.fees, { maker: -0.00003, taker: 0.00024 });
    assert.equal(out.settings.feeTier.description, 'tier 6 + maker rebate 3');
    // A rebate: fees are received, the attribution's fee term is positive.
    assert.ok(out.metrics.pnlAttribution.fees > 0);
    const o = cjmm(...base, '--fee-tier', '2', '--maker-fee', '0', '--json');
    assert.equal(o.status, 0, o.stderr);
    assert.deepEqual(JSON.parse(o.stdout).settings.fees, { maker: 0, taker: 0.00035 });
    const t = cjmm(...base, '--config', writeCfg({ strategy: 'fixed', backtest: { fees: { tier: 3 } } }));
    assert.equal(t.status, 0, t.stderr);
    assert.match(t.stdout, /fees maker 0\.00004 \/ taker 0\.0003 \(tier 3\)/);
    assert.match(t.stdout, /P&L attribution {4}spread -?\d/);
    assert.match(t.stdout, /break-even maker {3}-?\d/);
    const bad = cjmm(...base, '--fee-tier', 'vip9');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--fee-tier: cannot read 'vip9'/);
    const badCfg = cjmm(...base, '--config', writeCfg({ backtest: { fees: { tier: 8 } } }));
    assert.equal(badCfg.status, 2);
    assert.match(badCfg.stderr, /backtest\.fees\.tier/);
  });
});

describe('cjmm backtest --calibration-thread', { skip: sharedSkip }, () => {
  test('on (flag) and off (config file) print the same result', () => {
    const cfg = join(dir, 'off.json');
    writeFileSync(cfg, JSON.stringify({ strategy: 'cj', backtest: { calibrationThread: 'off' } }));
    const on = cjmm(
      '--data',
      SEED_ETH,
      '--coin',
      'ETH',
      '--strategy',
      'cj',
      '--calibration-thread',
      'on',
      '--json',
    );
    const off = cjmm('--data', SEED_ETH, '--coin', 'ETH', '--strategy', 'cj', '--config', cfg, '--json');
    assert.equal(on.status, 0, on.stderr);
    assert.equal(off.status, 0, off.stderr);
    assert.ok(JSON.parse(on.stdout).metrics.fills > 0);
    assert.equal(on.stdout, off.stdout);
  });
});

describe('cjmm backtest reads recorded funding from a store', { skip: sharedSkip }, () => {
  test('the funding rows of the coin around the data are used (settings.funding.recordedRates)', async () => {
    const store = join(dir, 'funding-store');
    const s = await openStore(store);
    try {
      await importSource(SEED_ETH, s);
      // The recording spans 21:10–21:34: the 21:00 rate is the one in force, 20:00 and 23:00 are outside.
      const h = (x: string) => Date.parse(`2025-12-10T${x}:00:00Z`);
      await s.writeFunding(
        ['20', '21', '23'].map((x) => ({
          coin: 'ETH',
          time: h(x),
          fundingRate: 0.0000125,
          premium: Number.NaN,
        })),
      );
    } finally {
      await s.close();
    }
    const r = cjmm('--data', store, '--coin', 'ETH', '--strategy', 'fixed', '--json');
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.settings.funding, { recordedRates: 1, constantRate: null, payments: 0 });
    assert.equal(out.metrics.pnlAttribution.funding, 0);
    // A store streams chunk by chunk: 2-minute chunks give the same bytes as the default (hourly) ones.
    const chunked = cjmm('--data', store, '--coin', 'ETH', '--strategy', 'fixed', '--json', '--chunk', '2m');
    assert.equal(chunked.status, 0, chunked.stderr);
    assert.equal(chunked.stdout, r.stdout);
    const bad = cjmm('--data', store, '--strategy', 'fixed', '--chunk', 'soon');
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /--chunk must be a duration such as 1h, 10m or 30s/);
    const noCoin = cjmm('--data', store, '--coin', 'BTC', '--strategy', 'fixed');
    assert.equal(noCoin.status, 2);
    assert.match(noCoin.stderr, /--coin BTC: no events of that coin/);
  });
});

let cfgSeq = 0;
function writeCfg(obj: unknown): string {
  const f = join(dir, `cfg-${cfgSeq++}.json`);
  writeFileSync(f, JSON.stringify(obj));
  return f;
}
