import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { exportData } from '../../src/marketdata/export.ts';
import { type FundingRow, openStore, queryFunding } from '../../src/marketdata/store/index.ts';

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-funding-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

const H = 3_600_000;
const T0 = Date.UTC(2025, 7, 31, 20); // spans a month boundary (Aug → Sep)

function hourly(coin: string, n: number, start = T0): FundingRow[] {
  return Array.from({ length: n }, (_, i) => ({
    coin,
    // Hyperliquid settles a few ms after the hour.
    time: start + i * H + 18,
    fundingRate: 1.25e-5 * (i % 3 === 0 ? -1 : 1) * (1 + i / 10),
    premium: -4e-4 + i * 1e-6,
  }));
}

describe('store: funding kind', () => {
  test('stored, de-duplicated by (coin, time), read back in a window, listed and exported', async () => {
    const store = await openStore(join(tmpRoot, 's1'));
    try {
      const eth = hourly('ETH', 10);
      const r1 = await store.writeFunding([...eth.slice(0, 6), eth[2]]);
      assert.deepEqual(r1, { written: 6, duplicates: 1, rejected: 0 });
      // Overlapping page (as fundingHistory paging returns) plus a bad row.
      const r2 = await store.writeFunding([
        ...eth.slice(4),
        { coin: 'ETH', time: Number.NaN, fundingRate: 0, premium: 0 },
      ]);
      assert.deepEqual(r2, { written: 4, duplicates: 2, rejected: 1 });
      await store.writeFunding(hourly('BTC', 3));

      assert.deepEqual(await queryFunding(store, 'ETH'), eth);
      // [from, to) on settlement time, across the month partition boundary.
      const win = await queryFunding(store, 'ETH', T0 + 3 * H, T0 + 6 * H + 18);
      assert.deepEqual(
        win.map((r) => r.time),
        [T0 + 3 * H + 18, T0 + 4 * H + 18, T0 + 5 * H + 18],
      );
      // Aug: one shard; Sep: one per write that had new Sep rows.
      assert.equal((await store.files('ETH', 'funding')).length, 3);

      const sum = (await store.summary()).filter((r) => r.kind === 'funding');
      assert.deepEqual(
        sum.map((r) => [r.coin, r.rows, r.start, r.end]),
        [
          ['BTC', 3, T0 + 18, T0 + 2 * H + 18],
          ['ETH', 10, T0 + 18, T0 + 9 * H + 18],
        ],
      );

      const out = join(tmpRoot, 'eth-funding.csv');
      const [res] = await exportData(store, { coin: 'ETH', kind: 'funding', out, format: 'csv' });
      assert.equal(res.rows, 10);
      const lines = readFileSync(out, 'utf8').trim().split('\n');
      assert.equal(lines[0], 'time,funding_rate,premium,mark_px,oracle_px');
      assert.equal(Number(lines[1].split(',')[0]), T0 + 18);
    } finally {
      await store.close();
    }
    // Survives reopening (a new process sees the same rows, still de-duplicated).
    const again = await openStore(join(tmpRoot, 's1'));
    try {
      assert.deepEqual(await again.writeFunding(hourly('ETH', 10)), {
        written: 0,
        duplicates: 10,
        rejected: 0,
      });
      assert.equal((await queryFunding(again, 'ETH')).length, 10);
    } finally {
      await again.close();
    }
  });

  test('mark and oracle prices round-trip when given, absent otherwise', async () => {
    const store = await openStore(join(tmpRoot, 's2'));
    try {
      const rows: FundingRow[] = [
        { coin: 'SOL', time: T0, fundingRate: 1e-5, premium: Number.NaN, markPx: 201.5, oraclePx: 201.4 },
        { coin: 'SOL', time: T0 + H, fundingRate: 2e-5, premium: 1e-4 },
      ];
      await store.writeFunding(rows);
      const got = await queryFunding(store, 'SOL');
      assert.equal(got[0].markPx, 201.5);
      assert.equal(got[0].oraclePx, 201.4);
      assert.ok(Number.isNaN(got[0].premium));
      assert.deepEqual(got[1], rows[1]);
    } finally {
      await store.close();
    }
  });
});
