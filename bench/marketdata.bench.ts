/**
 * Market-data figures: import time of the shared ETH Parquet set, recorder parse-and-store throughput
 * (websocket text → parseWsText → store.write, one process), and the time to load a 30-minute window of ETH
 * from the store into memory. Each figure is given per wall-clock time and per CPU time of the process (all
 * its threads, process.cpuUsage): the machine may be shared, and CPU time is the less distorted of the two.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MarketEvent } from '../src/marketdata/events.ts';
import { parseWsText } from '../src/marketdata/hyperliquid-wire.ts';
import { importSource } from '../src/marketdata/source.ts';
import { openStore } from '../src/marketdata/store/index.ts';
import { Rng } from '../src/util/rng.ts';
import { SEED_ETH } from '../test/helpers/shared.ts';
import { fmtUs, report, summarize, timeItAsync } from './timing.ts';

const root = mkdtempSync(join(tmpdir(), 'cjmm-md-bench-'));
let nDirs = 0;
const fresh = () => join(root, `s${nDirs++}`);
/** CPU time (user + system, all threads) since `c0`, µs. */
const cpuUs = (c0: NodeJS.CpuUsage) => {
  const c = process.cpuUsage(c0);
  return c.user + c.system;
};

try {
  // --- import of the shared ETH set ------------------------------------------------------------------
  if (existsSync(SEED_ETH)) {
    const samples: number[] = [];
    const cpuSamples: number[] = [];
    let rows = 0;
    for (let i = 0; i < 3; i++) {
      const store = await openStore(fresh());
      const c0 = process.cpuUsage();
      const t0 = performance.now();
      const rep = await importSource(SEED_ETH, store);
      samples.push((performance.now() - t0) * 1000);
      cpuSamples.push(cpuUs(c0));
      rows = rep.written.book + rep.written.trade + rep.written.bbo;
      await store.close();
    }
    report(`import seed ETH Parquet set (57 files, ${rows} events)`, fmtUs(summarize(samples).median));
    report('  same, CPU time of the process', fmtUs(summarize(cpuSamples).median));

    // --- 30-minute window query ---------------------------------------------------------------------
    const store = await openStore(fresh());
    await importSource(SEED_ETH, store);
    const from = Date.UTC(2025, 11, 10, 21, 4, 0);
    const to = from + 30 * 60_000;
    let n = 0;
    const cpuSamples2: number[] = [];
    const q = await timeItAsync(
      async () => {
        const c0 = process.cpuUsage();
        n = (await store.query({ coin: 'ETH', from, to })).events.length;
        cpuSamples2.push(cpuUs(c0));
      },
      { minRuns: 15, warmup: 2 },
    );
    const qCpu = summarize(cpuSamples2.slice(2)).median;
    report(
      `query 30-min window of ETH into memory (${n} events)`,
      fmtUs(q.median),
      '≤ 100 ms',
      q.median <= 100_000,
    );
    report('  same, CPU time of the process', fmtUs(qCpu), '≤ 100 ms', qCpu <= 100_000);
    await store.close();
  } else {
    console.log(`(shared data not found at ${SEED_ETH}: import and query figures skipped)`);
  }

  // --- recorder parse-and-store throughput --------------------------------------------------------------
  const rng = new Rng(42);
  const T0 = Date.UTC(2025, 11, 10, 21, 0, 0);
  const dec = (x: number, d: number) => x.toFixed(d).replace(/0+$/, '').replace(/\.$/, '.0');

  function tradeMessages(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const px = 3350 + Math.round(rng.normal() * 20) / 10;
      out.push(
        JSON.stringify({
          channel: 'trades',
          data: [
            {
              coin: 'ETH',
              side: rng.bernoulli(0.5) ? 'B' : 'A',
              px: dec(px, 1),
              sz: dec(0.0001 + rng.uniform() * 3, 4),
              time: T0 + i * 10,
              hash: `0x${rng.nextU32().toString(16).padStart(64, '0')}`,
              tid: 100_000_000_000_000 + i,
              users: [`0x${'1'.repeat(40)}`, `0x${'2'.repeat(40)}`],
            },
          ],
        }),
      );
    }
    return out;
  }

  function bookMessages(n: number): string[] {
    const out: string[] = [];
    for (let i = 0; i < n; i++) {
      const mid = 3350 + rng.normal();
      const side = (sign: number) =>
        Array.from({ length: 20 }, (_, k) => ({
          px: dec(Math.round((mid + sign * (0.05 + 0.1 * k)) * 10) / 10, 1),
          sz: dec(rng.uniform() * 50, 4),
          n: 1 + rng.int(40),
        }));
      out.push(
        JSON.stringify({
          channel: 'l2Book',
          data: { coin: 'ETH', time: T0 + i * 50, levels: [side(-1), side(1)] },
        }),
      );
    }
    return out;
  }

  /**
   * Parse every message and store them in flush batches, as the recorder does. Messages per wall-clock
   * second, and per CPU-second of this process (all its threads): the latter is less distorted when other
   * processes share the cores.
   */
  async function parseAndStore(msgs: string[], batch: number): Promise<{ wall: number; cpu: number }> {
    const store = await openStore(fresh());
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let buf: MarketEvent[] = [];
    for (let i = 0; i < msgs.length; i++) {
      const evs = parseWsText(msgs[i], T0 + i);
      for (const ev of evs) buf.push(ev);
      if ((i + 1) % batch === 0) {
        await store.write(buf);
        buf = [];
      }
    }
    if (buf.length) await store.write(buf);
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(c0);
    await store.close();
    return { wall: msgs.length / secs, cpu: msgs.length / ((cpu.user + cpu.system) / 1e6) };
  }

  const best = (a: { wall: number; cpu: number }, b: { wall: number; cpu: number }) => ({
    wall: Math.max(a.wall, b.wall),
    cpu: Math.max(a.cpu, b.cpu),
  });
  const perSec = (x: number) => `${Math.round(x).toLocaleString('en-US')}/s`;

  const trades = tradeMessages(200_000);
  const tradeRate = best(await parseAndStore(trades, 50_000), await parseAndStore(trades, 50_000));
  report(
    'parse+store trade messages (1 fill each, 50k/flush)',
    perSec(tradeRate.wall),
    '≥ 100,000/s',
    tradeRate.wall >= 100_000,
  );
  report(
    '  same, per CPU-second of the process',
    perSec(tradeRate.cpu),
    '≥ 100,000/s',
    tradeRate.cpu >= 100_000,
  );
  const books = bookMessages(40_000);
  const bookRate = best(await parseAndStore(books, 10_000), await parseAndStore(books, 10_000));
  report(
    'parse+store 20-level l2Book messages (10k/flush)',
    perSec(bookRate.wall),
    '≥ 20,000/s',
    bookRate.wall >= 20_000,
  );
  report('  same, per CPU-second of the process', perSec(bookRate.cpu), '≥ 20,000/s', bookRate.cpu >= 20_000);
} finally {
  rmSync(root, { recursive: true, force: true });
}
