import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import {
  applyOverrides,
  ConfigError,
  loadTradingConfig,
  parseTradingConfig,
  resolveEndpoints,
} from '../../src/trading/config.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

const issuesOf = (raw: unknown): string[] => {
  try {
    parseTradingConfig(raw);
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    return err.issues;
  }
  assert.fail('config was accepted');
};

test('defaults reproduce the seed settings: 15 s order timeout, 30 min / 15 s calibration, 5 % drawdown, paper', () => {
  const c = parseTradingConfig({ coin: 'ETH', orderSize: 0.01 });
  assert.equal(c.mode, 'dry-run');
  assert.equal(c.network, 'mainnet');
  assert.equal(c.orderTimeoutMs, 15_000);
  assert.deepEqual(c.calibration, { windowSec: 1800, refreshSec: 15 });
  assert.equal(c.risk.maxDrawdown, 0.05);
  // The session-wide settings flow into the strategy's own fields.
  assert.equal(c.strategy.strategy, 'cj');
  assert.equal(c.strategy.orderSize, 0.01);
  assert.ok(
    c.strategy.strategy === 'cj' && c.strategy.windowMs === 1_800_000 && c.strategy.refreshMs === 15_000,
  );
  assert.ok(c.strategy.strategy === 'cj' && c.strategy.qMax === c.maxPosition);
});

test('config/default.json is paper market making of ETH on the mainnet public feed', () => {
  const c = loadTradingConfig(join(REPO_ROOT, 'config', 'default.json'));
  assert.equal(c.coin, 'ETH');
  assert.equal(c.mode, 'dry-run');
  assert.equal(c.network, 'mainnet');
  assert.deepEqual(resolveEndpoints(c), {
    httpUrl: 'https://api.hyperliquid.xyz',
    wsUrl: 'wss://api.hyperliquid.xyz/ws',
    isTestnet: false,
  });
  // Valid JSON with no key material in it.
  assert.doesNotMatch(readFileSync(join(REPO_ROOT, 'config', 'default.json'), 'utf8'), /0x[0-9a-fA-F]{64}/);
});

test('every error names its field and the valid range', () => {
  assert.deepEqual(issuesOf({ coin: 'ETH', orderSize: 0.01, risk: { maxDrawdown: 2 } }), [
    'risk.maxDrawdown: must be between 0 and 1',
  ]);
  const missing = issuesOf({});
  assert.ok(missing.some((m) => m.startsWith('coin: is required')));
  assert.ok(missing.some((m) => m.startsWith('orderSize: is required')));
  assert.deepEqual(issuesOf({ coin: 'ETH', orderSize: 0.01, risk: { staleMS: 5 } }), [
    'risk: unknown field(s) staleMS (check the spelling)',
  ]);
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, network: 'loopback' })[0].startsWith(
      'httpUrl: network loopback',
    ),
  );
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, httpUrl: 'http://x' })[0].startsWith('wsUrl: give both'),
  );
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, wsUrl: 'http://x', httpUrl: 'http://x' })[0].startsWith(
      'wsUrl: must be a ws: or wss: URL',
    ),
  );
  assert.deepEqual(issuesOf({ coin: 'ETH', orderSize: 0.01, maxPosition: 2.5 }), [
    'maxPosition: must be an integer',
  ]);
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, strategy: { strategy: 'cj', phi: -1 } })[0].startsWith(
      'strategy.phi:',
    ),
  );
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, deadMansSwitchSec: 3 })[0].startsWith('deadMansSwitchSec:'),
  );
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, account: { masterAddress: '0x123' } })[0].startsWith(
      'account.masterAddress:',
    ),
  );
  assert.ok(
    issuesOf({ coin: 'ETH', orderSize: 0.01, mode: 'paper' })[0].startsWith('mode: must be dry-run or live'),
  );
});

test('command-line overrides apply before validation, so their errors still name the field', () => {
  const raw = { coin: 'ETH', orderSize: 0.01, account: { keyEnv: 'MY_KEY' } };
  const o = applyOverrides(raw, { coin: 'BTC', mode: 'live', keyFile: '/k', journal: '/j.sqlite' });
  assert.deepEqual(o, {
    coin: 'BTC',
    orderSize: 0.01,
    mode: 'live',
    journal: '/j.sqlite',
    account: { keyEnv: 'MY_KEY', keyFile: '/k' },
  });
  assert.equal(raw.coin, 'ETH', 'the file contents are not mutated');
  assert.throws(
    () => parseTradingConfig(applyOverrides(raw, { coin: 'E T H' })),
    /coin: must be a coin name/,
  );
});

test('unreadable and non-JSON config files are reported against --config', () => {
  assert.throws(
    () => loadTradingConfig('/nonexistent/cjmm.json'),
    /--config: cannot read \/nonexistent\/cjmm.json \(ENOENT\)/,
  );
  assert.throws(
    () => loadTradingConfig(join(REPO_ROOT, 'README.md')),
    /--config: .*README.md is not valid JSON/,
  );
});

test('cjmm trade with a bad config: exit 2 naming the field, nothing started (no journal)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'cjmm-cfg-'));
  try {
    const cfg = join(dir, 'bad.json');
    const journal = join(dir, 'j.sqlite');
    writeFileSync(cfg, JSON.stringify({ coin: 'ETH', orderSize: 0.01, risk: { maxDrawdown: 1.5 }, journal }));
    const env = { ...process.env, PATH: `${join(REPO_ROOT, 'node_modules', '.bin')}:${process.env.PATH}` };
    const r = spawnSync(process.execPath, [join(REPO_ROOT, 'src/cli/main.ts'), 'trade', '--config', cfg], {
      env,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cjmm: invalid config \(.*bad.json\): risk.maxDrawdown: must be between 0 and 1/);
    assert.equal(existsSync(journal), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
