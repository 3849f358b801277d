/**
 * `cjmm trade prune --before <date>` (never deletes orders or fills), and `trade status` / `trade history`
 * reading a journal with funding, adjustments and compact parameter sets — as the user runs them (real binary).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { parseBeforeFlag } from '../../src/cli/commands/trade.ts';
import { openJournal } from '../../src/trading/journal.ts';
import { REPO_ROOT } from '../helpers/shared.ts';

const MAIN = join(REPO_ROOT, 'src', 'cli', 'main.ts');
const dir = mkdtempSync(join(tmpdir(), 'cjmm-trade-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function cjmm(...args: string[]) {
  const r = spawnSync(process.execPath, [MAIN, 'trade', ...args], { encoding: 'utf8', cwd: dir });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

const DAY = 86_400_000;
const T0 = Date.UTC(2026, 0, 1);
const cloid = (n: number) => `0x${n.toString(16).padStart(32, '0')}`;

function makeJournal(path: string) {
  const j = openJournal(path, { coin: 'ETH' });
  for (let d = 0; d < 4; d++) {
    const t = T0 + d * DAY;
    for (let k = 0; k < 10; k++) {
      const c = cloid(d * 100 + k);
      j.record({ type: 'order', rxTime: t + k, data: { cloid: c, side: 'bid', px: 3000, sz: 0.01 } });
      j.record({ type: 'ack', rxTime: t + k, data: { cloid: c, oid: d * 100 + k } });
      j.record({ type: 'params', rxTime: t + k, data: { lambdaPlus: 1.5 + k / 3, kappaPlus: 8.4 } });
      j.record({ type: 'state', rxTime: t + k, data: { coin: 'ETH', position: 0, mid: 3000, netPnl: 0 } });
    }
    j.record({
      type: 'fill',
      rxTime: t + 20,
      data: {
        tid: d + 1,
        cloid: cloid(d * 100),
        side: d % 2 ? 'ask' : 'bid',
        px: 3000 + d,
        sz: 0.01,
        fee: 0.0045,
      },
    });
  }
  j.record({
    type: 'funding',
    rxTime: T0 + 3 * DAY,
    data: { coin: 'ETH', time: T0 + 3 * DAY, usdc: -0.01, szi: 0.01, fundingRate: 1e-5 },
  });
  j.record({
    type: 'adjustment',
    rxTime: T0 + 3 * DAY + 1,
    data: { coin: 'ETH', position: 0.02, px: 3000, reason: 'test' },
  });
  j.close();
}

test('--before: dates (UTC), times, ages; anything else is a usage error naming the flag', () => {
  assert.equal(parseBeforeFlag('2026-01-31'), Date.UTC(2026, 0, 31));
  assert.equal(parseBeforeFlag('2026-01-31T12:30:00'), Date.UTC(2026, 0, 31, 12, 30));
  assert.equal(parseBeforeFlag('2026-01-31T12:30:00+02:00'), Date.UTC(2026, 0, 31, 10, 30));
  assert.equal(parseBeforeFlag('30d', 100 * DAY), 70 * DAY);
  assert.equal(parseBeforeFlag('12h', DAY), DAY / 2);
  assert.throws(() => parseBeforeFlag('yesterday'), /--before must be a date/);
  assert.throws(() => parseBeforeFlag('2026-13-45'), /--before must be a date/);
});

test('trade prune deletes old housekeeping rows and never orders, fills, funding or adjustments', () => {
  const path = join(dir, 'j.sqlite');
  makeJournal(path);
  const dry = cjmm('prune', '--before', '2026-01-03', '--journal', path, '--dry-run', '--json');
  assert.equal(dry.code, 0, dry.err);
  const d = JSON.parse(dry.out) as { deleted: Record<string, number>; dryRun: boolean };
  assert.equal(d.dryRun, true);
  assert.deepEqual(d.deleted, { ack: 20, state: 20, params: 20 });
  const real = cjmm('prune', '--before', '2026-01-03', '--journal', path);
  assert.equal(real.code, 0, real.err);
  assert.match(
    real.out,
    /deleted 60 rows older than 2026-01-03T00:00:00\.000Z \(ack 20, params 20, state 20\); orders, fills, funding and adjustments kept/,
  );
  const hist = cjmm('history', '--journal', path, '--limit', '1000', '--json');
  const rows = JSON.parse(hist.out) as { type: string }[];
  const count = (t: string) => rows.filter((r) => r.type === t).length;
  assert.equal(count('order'), 40);
  assert.equal(count('fill'), 4);
  assert.equal(count('funding'), 1);
  assert.equal(count('adjustment'), 1);
  assert.equal(count('ack'), 20);
  // Status reads the book: realised P&L, fees, funding, the adjustment.
  const st = cjmm('status', '--journal', path);
  assert.equal(st.code, 0, st.err);
  assert.match(
    st.out,
    /position ETH: 0\.02 @ 3000 \(4 fills, realised P&L 0\.0200 USD, fees 0\.0180 USD, funding -0\.0100 USD/,
  );
  assert.match(st.out, /last adjustment .*"reason":"test"/);
  assert.match(st.out, /last params .*"lambdaPlus":4\.5/);
  // Usage errors exit 2.
  const bad = cjmm('prune', '--before', 'last week', '--journal', path);
  assert.equal(bad.code, 2);
  assert.match(bad.err, /--before must be a date/);
  const none = cjmm('prune', '--before', '2026-01-03', '--journal', join(dir, 'nope.sqlite'));
  assert.equal(none.code, 2);
  assert.match(none.err, /--journal: no journal at/);
});
