/**
 * `data download` ingest rate from a local S3 stub (no network cost, so this is the client's own ceiling:
 * GET → LZ4 frame stream → line parse → filter → store write): node_fills_by_block trade files built from the
 * seed ETH trades (ETH and SOL fills, one file per hour), and the real BTC l2Book archive file served for
 * several hours. Figures per wall-clock and per CPU time of the process (the machine may be shared), with the
 * load average.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { type DownloadOptions, runDownload } from '../src/marketdata/download/hyperliquid.ts';
import { ArchiveS3 } from '../src/marketdata/download/s3.ts';
import { openStore } from '../src/marketdata/store/index.ts';
import { loadSeedTrades, nodeFillsByBlockFile, nodeKey, SEED_HOUR } from '../test/helpers/node-archive.ts';
import { S3Stub } from '../test/helpers/s3-stub.ts';
import { ARCHIVE_ROOT, hasShared } from '../test/helpers/shared.ts';

const H = 3_600_000;
const HOURS = 6;

if (!hasShared) {
  console.log('download: ../shared/data not found, skipped');
  process.exit(0);
}
Object.assign(process.env, {
  AWS_ACCESS_KEY_ID: 'AKIDBENCH',
  AWS_SECRET_ACCESS_KEY: 'bench',
  AWS_REGION: 'us-east-1',
  AWS_EC2_METADATA_DISABLED: 'true',
});

const root = mkdtempSync(join(tmpdir(), 'cjmm-dl-bench-'));
const stub = new S3Stub();
await stub.start();
try {
  const seed = await loadSeedTrades();
  const book = readFileSync(join(ARCHIVE_ROOT, 'market_data/20240101/12/l2Book/BTC.lz4'));
  const bookHour0 = Date.UTC(2024, 0, 1, 12);
  for (let k = 0; k < HOURS; k++) {
    stub.put(
      'hl-mainnet-node-data',
      nodeKey('node_fills_by_block', SEED_HOUR + k * H),
      nodeFillsByBlockFile(seed, k * H, k * 1e15),
    );
    const d = new Date(bookHour0 + k * H);
    stub.put('hyperliquid-archive', `market_data/20240101/${d.getUTCHours()}/l2Book/BTC.lz4`, book);
  }

  const run = async (label: string, opts: Omit<DownloadOptions, 'jobs' | 'withUsers'>, jobs: number) => {
    const s3 = new ArchiveS3({ endpoint: stub.url });
    const store = await openStore(join(root, `${label}-${jobs}`));
    const load0 = loadavg()[0];
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await runDownload(s3, store, { ...opts, jobs, withUsers: false });
    const wall = (performance.now() - t0) / 1000;
    const c = process.cpuUsage(c0);
    const cpu = (c.user + c.system) / 1e6;
    await store.close();
    s3.close();
    // Events parsed from the files and handed to the store (identical book hours are de-duplicated there).
    const events = r.read.book + r.read.trade;
    const stored = r.written.book + r.written.trade;
    const mbytes = r.bytesFetched / 1e6;
    console.log(
      `${label} (-j ${jobs}): ${r.plan.files} files, ${mbytes.toFixed(1)} MB compressed, ${events} events read (${stored} new in the store) — ` +
        `${(mbytes / wall).toFixed(1)} MB/s, ${Math.round(events / wall).toLocaleString('en')} events/s wall ` +
        `(${wall.toFixed(2)} s); CPU ${cpu.toFixed(2)} s → ${(mbytes / cpu).toFixed(1)} MB/s, ` +
        `${Math.round(events / cpu).toLocaleString('en')} events/s per CPU-second; load avg ${load0.toFixed(2)} → ${loadavg()[0].toFixed(2)}`,
    );
  };
  // Trades: every fill of the hourly file is scanned; ETH's (half of them) are kept and paired into trades.
  const tradeRange = {
    coins: ['ETH'],
    from: SEED_HOUR,
    to: SEED_HOUR + HOURS * H,
    kinds: new Set(['trade'] as const),
  };
  await run('trades node_fills_by_block', tradeRange, 1);
  await run('trades node_fills_by_block', tradeRange, 4);
  const bookRange = {
    coins: ['BTC'],
    from: bookHour0,
    to: bookHour0 + HOURS * H,
    kinds: new Set(['book'] as const),
  };
  await run('books l2Book', bookRange, 1);
  await run('books l2Book', bookRange, 4);
} finally {
  await stub.stop();
  rmSync(root, { recursive: true, force: true });
}
