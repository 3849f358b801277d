/**
 * One `cj` backtest of the synthetic day (the ETH recording tiled CJMM_BENCH_TILES times, as in
 * bench/backtest.bench.ts) in a process of its own, the way `cjmm backtest` runs one strategy: no other
 * strategy has run in this process before, so the JIT's type feedback is cj's alone. As in the bench, a tenth of
 * the day first (warm-up), then the day. Prints one JSON line on stdout:
 * `{"ms", "cpuMs", "replayCpuMs", "fills", "hash", "threads"}` — wall and CPU (all threads) of the day, CPU of
 * the replay's thread, fills, sha256 of the whole result (first 16 hex digits), calibration threads started.
 * Usage: node bench/helpers/cj-day.ts [auto|on|off]   (the calibration thread; default auto)
 */
import { createHash } from 'node:crypto';
import { calibrationThreadsStarted } from '../../src/backtest/calibration-thread.ts';
import { instrumentFromData } from '../../src/backtest/setup.ts';
import { buildTape, type Tape } from '../../src/backtest/tape.ts';
import { enableCompileCache } from '../../src/util/compile-cache.ts';
import { SEED_ETH } from '../../test/helpers/shared.ts';
import { recording, tiledEvents, tiledGaps } from './synthetic-store.ts';
import { timedBacktest } from './timed-backtest.ts';

// As the CLI does first (src/cli/main.ts): the calibration thread then loads its modules from the cache.
enableCompileCache();

const mode = (process.argv[2] ?? 'auto') as 'auto' | 'on' | 'off';
const TILES = Number(process.env.CJMM_BENCH_TILES ?? 80);
const rec = await recording(SEED_ETH);
const dayEvents = tiledEvents(rec, TILES);
const dayGaps = tiledGaps(rec, TILES);
// Shared columns, as `cjmm backtest` builds a tape it reads whole (the calibration thread reads them in place).
const tape = buildTape(dayEvents, dayGaps, { coin: 'ETH', shared: true });
const warm = buildTape(dayEvents.slice(0, Math.ceil(tape.length / 10)), dayGaps, {
  coin: 'ETH',
  shared: true,
});
dayEvents.length = 0;
const instrument = instrumentFromData('ETH', rec.events, { lotSize: 0.01 });

function run(sub: Tape) {
  const d = timedBacktest('cj', sub, instrument, undefined, mode);
  return { ms: d.ms, cpuMs: d.cpu, replayCpuMs: d.mainCpu, r: d.r };
}

run(warm);
const day = run(tape);
const hash = createHash('sha256').update(JSON.stringify(day.r)).digest('hex').slice(0, 16);
console.log(
  JSON.stringify({
    ms: day.ms,
    cpuMs: day.cpuMs,
    replayCpuMs: day.replayCpuMs,
    fills: day.r.metrics.fills,
    hash,
    threads: calibrationThreadsStarted(),
  }),
);
