/**
 * One backtest of a store's whole range in a process of its own (no other data on its heap), for
 * bench/backtest.bench.ts. Mode `stream`: streamed chunk by chunk (runBacktestStream); mode `columns`: the
 * range read into columns first, then replayed from memory with the events made from the columns (what a
 * hyperopt worker does); mode `objects`: the range read whole into event objects (readSource), a tape built
 * from them and replayed (what `cjmm backtest` did with a store before it streamed).
 * Prints one line `BENCH {"wallMs","cpuMs","replayThreadCpuMs","e2eMs","e2eCpuMs","events","sha256"}`: the
 * replay's wall and CPU time (reading included for `stream`, excluded for `columns` and `objects`), the whole
 * run's wall and CPU time from opening the data (`e2e*`: scan or read, build, replay) and a hash of the whole
 * result. Usage: node bench/helpers/stream-run.ts <stream|columns|objects> <store> <strategy> [lot]
 */
import { createHash } from 'node:crypto';
import { runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../../src/backtest/setup.ts';
import {
  instrumentFromStore,
  runBacktestStream,
  StoreTape,
  validColumns,
} from '../../src/backtest/stream.ts';
import { buildTape, tapeFromColumns } from '../../src/backtest/tape.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import type { StrategyName } from '../../src/strategies/index.ts';

const [mode, dir, strategy, lot] = process.argv.slice(2);
const c0 = process.cpuUsage();
const t0 = performance.now();

function print(r: unknown, events: number, wallMs: number, cpuMs: number, replayThreadCpuMs: number): void {
  const e = process.cpuUsage(c0);
  process.stdout.write(
    `BENCH ${JSON.stringify({
      wallMs,
      cpuMs,
      replayThreadCpuMs,
      e2eMs: performance.now() - t0,
      e2eCpuMs: (e.user + e.system) / 1000,
      events,
      sha256: createHash('sha256').update(JSON.stringify(r)).digest('hex'),
    })}\n`,
  );
}

function common(instrument: InstrumentSpec) {
  const b = buildStrategy(strategy as StrategyName, undefined, instrument);
  return { instrument, strategy: b.strategy, orderManager: b.orderManager, risk: b.risk, latency: 50 };
}

if (mode === 'objects') {
  const data = await readSource(dir, { coin: 'ETH' });
  const tape = buildTape(data.events, data.gaps, { coin: 'ETH' });
  const instrument = instrumentFromData('ETH', data.events, { lotSize: Number(lot ?? 0.01) });
  const opts = common(instrument);
  const c = process.cpuUsage();
  const t = performance.now();
  const r = runBacktest({ ...opts, tape });
  const cu = process.cpuUsage(c);
  print(r, tape.length, performance.now() - t, (cu.user + cu.system) / 1000, (cu.user + cu.system) / 1000);
  process.exit(0);
}

const store = await openStore(dir);
try {
  const s = await StoreTape.open(store, {
    coin: 'ETH',
    chunkMs: mode === 'columns' ? Number.POSITIVE_INFINITY : undefined,
  });
  const instrument = await instrumentFromStore(s, { lotSize: Number(lot ?? 0.01) });
  const opts = common(instrument);
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
    run = async () => runBacktest({ ...opts, tape });
  } else run = () => runBacktestStream({ ...opts, stream: s });
  const c = process.cpuUsage();
  const ct = process.threadCpuUsage();
  const t = performance.now();
  const r = await run();
  const wallMs = performance.now() - t;
  const cu = process.cpuUsage(c);
  const th = process.threadCpuUsage(ct);
  print(r, s.header.length, wallMs, (cu.user + cu.system) / 1000, (th.user + th.system) / 1000);
} finally {
  await store.close();
}
