/**
 * One backtest of a store's whole range in a process of its own (no other data on its heap), for
 * bench/backtest.bench.ts. Mode `stream`: streamed chunk by chunk (runBacktestStream); mode `columns`: the
 * range read into columns first, then replayed from memory with the events made from the columns (what a
 * hyperopt worker does). Prints one line `BENCH {"wallMs","cpuMs","replayThreadCpuMs","events","sha256"}`:
 * the replay's wall and CPU time (reading included for `stream`, excluded for `columns`) and a hash of the
 * whole result. Usage: node bench/helpers/stream-run.ts <stream|columns> <store> <strategy> [lot]
 */
import { createHash } from 'node:crypto';
import { runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy } from '../../src/backtest/setup.ts';
import {
  instrumentFromStore,
  runBacktestStream,
  StoreTape,
  validColumns,
} from '../../src/backtest/stream.ts';
import { tapeFromColumns } from '../../src/backtest/tape.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import type { StrategyName } from '../../src/strategies/index.ts';

const [mode, dir, strategy, lot] = process.argv.slice(2);
const store = await openStore(dir);
try {
  const s = await StoreTape.open(store, {
    coin: 'ETH',
    chunkMs: mode === 'columns' ? Number.POSITIVE_INFINITY : undefined,
  });
  const instrument = await instrumentFromStore(s, { lotSize: Number(lot ?? 0.01) });
  const b = buildStrategy(strategy as StrategyName, undefined, instrument);
  const common = {
    instrument,
    strategy: b.strategy,
    orderManager: b.orderManager,
    risk: b.risk,
    latency: 50,
  };
  let run: () => Promise<unknown>;
  if (mode === 'columns') {
    const { cols, counts } = validColumns(await s.load(0));
    const tape = tapeFromColumns(
      { cols, seq: undefined, skipped: counts.skipped, otherCoin: 0 },
      s.header.gaps,
      {
        coin: 'ETH',
      },
    );
    run = async () => runBacktest({ ...common, tape });
  } else run = () => runBacktestStream({ ...common, stream: s });
  const c = process.cpuUsage();
  const ct = process.threadCpuUsage();
  const t = performance.now();
  const r = await run();
  const wallMs = performance.now() - t;
  const cu = process.cpuUsage(c);
  const th = process.threadCpuUsage(ct);
  process.stdout.write(
    `BENCH ${JSON.stringify({
      wallMs,
      cpuMs: (cu.user + cu.system) / 1000,
      replayThreadCpuMs: (th.user + th.system) / 1000,
      events: s.header.length,
      sha256: createHash('sha256').update(JSON.stringify(r)).digest('hex'),
    })}\n`,
  );
} finally {
  await store.close();
}
