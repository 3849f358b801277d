/**
 * Compaction merges each closed hour's shards into one file and must be invisible to readers: the same events
 * before and after, no double counting after a crash at any step, dedup still working, open hours untouched.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { COMPACT_GRACE_MS, openStore } from '../../src/marketdata/store/index.ts';
import { Rng } from '../../src/util/rng.ts';

const tmpRoot = mkdtempSync(join(tmpdir(), 'cjmm-compact-test-'));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));

const H21 = Date.UTC(2025, 11, 10, 21, 0, 0);
/** "Now" for the tests: hour 21 closed (past its grace), hour 22 still open. */
const NOW = H21 + 2 * 3_600_000 - COMPACT_GRACE_MS / 2;

function batch(rng: Rng, start: number, n: number, tid0: number): MarketEvent[] {
  const out: MarketEvent[] = [];
  for (let i = 0; i < n; i++) {
    const t = start + i * 997;
    const mid = 3000 + rng.normal();
    out.push({
      kind: 'book',
      coin: 'ETH',
      exTime: t,
      rxTime: t + 20.5,
      bids: Array.from({ length: 1 + rng.int(20) }, (_, k) => ({
        px: mid - 0.1 * (k + 1),
        sz: rng.uniform(),
        n: 1 + k,
      })),
      asks: Array.from({ length: 1 + rng.int(20) }, (_, k) => ({
        px: mid + 0.1 * (k + 1),
        sz: rng.uniform(),
        n: 2 + k,
      })),
    });
    out.push({
      kind: 'bbo',
      coin: 'ETH',
      exTime: t + 1,
      rxTime: t + 30,
      bidPx: mid - 0.1,
      bidSz: 1,
      askPx: mid + 0.1,
      askSz: 2,
    });
    out.push({
      kind: 'trade',
      coin: 'ETH',
      exTime: t + 2,
      rxTime: t + 40,
      px: mid,
      sz: 0.5,
      side: 'buy',
      tid: tid0 + i,
      hash: `0x${i}`,
    });
  }
  return out;
}

function dirOf(store: string, kind: string, hour: string): string {
  return join(store, 'coin=ETH', `kind=${kind}`, 'date=2025-12-10', `hour=${hour}`);
}
const shards = (dir: string) =>
  readdirSync(dir).filter((n) => n.startsWith('part-') && n.endsWith('.parquet'));

describe('store compaction', () => {
  test('merges closed hours only, changes no query result, survives crashes at every step, keeps dedup', async () => {
    const dir = join(tmpRoot, 'store');
    const rng = new Rng(5);
    const batches = [0, 1, 2, 3].map((b) => batch(rng, H21 + b * 600_000, 50, 1_000_000 + b * 1000));
    const open = batch(rng, H21 + 3_600_000 + 60_000, 20, 9_000_000);
    let store = await openStore(dir);
    for (const b of batches) await store.write(b);
    await store.write(open);
    await store.write(
      open.map((e) => ({
        ...e,
        exTime: e.exTime + 300_000,
        ...(e.kind === 'trade' ? { tid: e.tid + 1 } : {}),
      })),
    );
    const expected = (await store.query({ coin: 'ETH' })).events;
    const expectedSummary = await store.summary();
    assert.equal(shards(dirOf(dir, 'book', '21')).length, 4);
    const originals = shards(dirOf(dir, 'trade', '21'));

    const r = await store.compact({ now: NOW });
    assert.deepEqual(r, { partitions: 3, shardsBefore: 12, rows: 600 });
    for (const kind of ['book', 'bbo', 'trade']) {
      assert.equal(shards(dirOf(dir, kind, '21')).length, 1, kind);
      assert.equal(shards(dirOf(dir, kind, '22')).length, 2, `${kind} open hour untouched`);
    }
    assert.deepEqual((await store.query({ coin: 'ETH' })).events, expected);
    assert.deepEqual(await store.summary(), expectedSummary);
    assert.deepEqual(await store.compact({ now: NOW }), { partitions: 0, shardsBefore: 0, rows: 0 });
    await store.close();

    // Crash before the manifest switch: an extra merged file nobody references. Crash after it, before the
    // deletes: a replaced shard still on disk. Neither may be read.
    const tradeDir = dirOf(dir, 'trade', '21');
    const merged = shards(tradeDir)[0];
    copyFileSync(join(tradeDir, merged), join(tradeDir, 'part-compact-1-1-1.parquet'));
    // A replaced shard left on disk under its own name (its content here: all the hour's trades).
    copyFileSync(join(tradeDir, merged), join(tradeDir, originals[0]));
    store = await openStore(dir);
    assert.deepEqual((await store.query({ coin: 'ETH' })).events, expected);
    assert.deepEqual(await store.summary(), expectedSummary);

    // Late events for the closed hour, then compaction again: the leftovers are cleaned, the new shard merged.
    const late = batch(rng, H21 + 3_000_000, 10, 5_000_000);
    const w = await store.write([...late, ...batches[1]]);
    assert.equal(w.duplicates, batches[1].length, 'dedup sees the compacted rows');
    const r2 = await store.compact({ now: NOW });
    assert.equal(r2.partitions, 3);
    assert.deepEqual(readdirSync(tradeDir).sort(), ['compacted.json', shards(tradeDir)[0]].sort());
    const want = [...expected, ...late].sort((a, b) => a.exTime - b.exTime);
    const got = (await store.query({ coin: 'ETH' })).events;
    assert.equal(got.length, want.length);
    assert.deepEqual(
      got.map((e) => `${e.kind}:${e.exTime}`).sort(),
      want.map((e) => `${e.kind}:${e.exTime}`).sort(),
    );
    await store.close();
  });

  test('cjmm data compact reports what it merged', () => {
    const dir = join(tmpRoot, 'store');
    const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
    const r = spawnSync(process.execPath, [cli, 'data', 'compact', '--store', dir], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    // Hour 22 of 2025-12-10 is long closed in real time now: its two shards per kind are merged.
    assert.match(r.stdout, /^compacted 3 partitions: 6 shards → 3 files, 120 rows$/m);
    const bad = spawnSync(process.execPath, [cli, 'data', 'compact', '--store', dir, '--coin', 'DOGE'], {
      encoding: 'utf8',
    });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /--coin: DOGE is not in the store/);
  });
});
