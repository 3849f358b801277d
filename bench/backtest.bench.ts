/**
 * Backtest figures on the shared ETH recording (24 minutes, 18k events) tiled into synthetic "days": a day is
 * the recording repeated 80 times back to back with shifted clocks (each seam a 1 s data gap) = 1.47 M events,
 * ETH-sized. In memory: events/s of the replay loop + matching, of `fixed` and of `cj` (a full day, wall and
 * CPU time). Streamed from a store (the same days written into a store, bench/helpers/synthetic-store.ts):
 * peak RSS of `cjmm backtest --strategy cj` over 1 day and over 7 days, each in its own process, and events/s
 * streamed against in memory on the same day (with a check that all give the same result): the replay alone,
 * and end to end (open, read, replay) against reading the day whole into event objects, as `cjmm backtest` did
 * with a store before it streamed.
 * The machine may be shared: CPU times and the load average are printed with the wall-clock figures.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { calibrationThreadsStarted } from '../src/backtest/calibration-thread.ts';
import type { BacktestResult } from '../src/backtest/run.ts';
import { instrumentFromData } from '../src/backtest/setup.ts';
import { buildTape, type Tape } from '../src/backtest/tape.ts';
import type { OrderSide, VenueReport } from '../src/engine/types.ts';
import { MatchingEngine } from '../src/exchange/matching.ts';
import { columnBytes } from '../src/marketdata/columnar.ts';
import { targetSearchStats } from '../src/model/inventory.ts';
import { solveStats } from '../src/model/regime-hjb.ts';
import { phiSearchStats } from '../src/model/regime-inventory.ts';
import { ConstantLatency } from '../src/sim/latency.ts';
import { EventQueue } from '../src/sim/scheduler.ts';
import { SimulatedVenue } from '../src/sim/simulated-venue.ts';
import { parseStrategyConfig } from '../src/strategies/config.ts';
import { defaultParamFeed } from '../src/strategies/index.ts';
import { SEED_ETH } from '../test/helpers/shared.ts';
import { recording, tiledEvents, tiledGaps, tiledStore } from './helpers/synthetic-store.ts';
import { timedBacktest } from './helpers/timed-backtest.ts';
import { report } from './timing.ts';

if (!existsSync(SEED_ETH)) {
  console.log(`skipped: ${SEED_ETH} not found (set CJMM_SHARED_DATA)`);
  process.exit(0);
}

const here = dirname(fileURLToPath(import.meta.url));
/** CPU time (user + system, all threads) since `from`, ms: on a shared machine the wall clock overstates it. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}
const perCpu = (events: number, cpu: number) => `${(((events / cpu) * 1000) / 1e6).toFixed(2)} M/s per CPU-s`;
const load = () => loadavg()[0].toFixed(2);

const TILES = Number(process.env.CJMM_BENCH_TILES ?? 80);
const WEEK = 7 * TILES;
const rec = await recording(SEED_ETH);
const heap0 = process.memoryUsage();
const dayEvents = tiledEvents(rec, TILES);
const dayGaps = tiledGaps(rec, TILES);
const t0 = performance.now();
// Columns on shared memory, as `cjmm backtest` builds a tape it reads whole: the calibration thread reads them
// in place (a heap tape is copied once, ≈ 0.12 s for this day; runBacktest then reuses the copy).
const tape = buildTape(dayEvents, dayGaps, { coin: 'ETH', shared: true });
const tapeMs = performance.now() - t0;
const n = tape.length;
const instrument = instrumentFromData('ETH', rec.events, { lotSize: 0.01 });
console.log(
  `synthetic day: ${TILES} × the ETH recording = ${n} events, ${((tape.end - tape.start) / 3.6e6).toFixed(1)} h of exchange time; tape (columns) built in ${tapeMs.toFixed(0)} ms; load average ${load()}`,
);
const warm = buildTape(dayEvents.slice(0, Math.ceil(n / 10)), dayGaps, { coin: 'ETH' });
globalThis.gc?.();
const heap1 = process.memoryUsage();
// The replay reads the columns; the event objects go (a heap full of them would only slow the collector).
dayEvents.length = 0;

/** `calibrationThread` as `cjmm backtest` gets it by default ('auto'), unless given. */
function runOn(
  strategy: 'none' | 'fixed' | 'cj',
  sub: Tape,
  config?: Record<string, unknown>,
  calibrationThread?: 'auto' | 'on' | 'off',
) {
  return timedBacktest(strategy, sub, instrument, config, calibrationThread);
}

/** The cj day (warm-up on a tenth, then the day) in a child process: bench/helpers/cj-day.ts. */
function ownProcessDay(mode: 'auto' | 'off'): {
  ms: number;
  cpuMs: number;
  replayCpuMs: number;
  fills: number;
  hash: string;
  threads: number;
} {
  const r = spawnSync(process.execPath, [join(here, 'helpers', 'cj-day.ts'), mode], {
    encoding: 'utf8',
    env: { ...process.env, CJMM_BENCH_TILES: String(TILES) },
    maxBuffer: 1 << 24,
  });
  if (r.status !== 0) throw new Error(`bench/helpers/cj-day.ts failed: ${r.stderr.slice(-2000)}`);
  return JSON.parse(r.stdout.trim().split('\n').pop() as string);
}
/**
 * `runs` such processes back to back; the one of median wall time (a single process's figure moves by ±5 %
 * with what the machine's other tenants do), with the fastest and slowest wall time and whether every run's
 * result was the same.
 */
function ownProcessDays(mode: 'auto' | 'off', runs: number) {
  const all = Array.from({ length: runs }, () => ownProcessDay(mode)).sort((a, b) => a.ms - b.ms);
  const median = all[(runs - 1) >> 1];
  return {
    ...median,
    minMs: all[0].ms,
    maxMs: all[runs - 1].ms,
    runs,
    sameResult: all.every((r) => r.hash === median.hash),
  };
}
const hashOf = (r: unknown) => createHash('sha256').update(JSON.stringify(r)).digest('hex').slice(0, 16);

/** Warm-up on a tenth of the day (JIT), as a parameter sweep would be, then the day. */
function once(strategy: 'none' | 'fixed' | 'cj', config?: Record<string, unknown>) {
  runOn(strategy, warm, config);
  return runOn(strategy, tape, config);
}

/**
 * The replay + matching layer under quoting load, without the engine: the two-clock merge, the simulated
 * venue (latency, reports) and the matching core, driven by a minimal quoter that keeps one post-only order
 * at each touch (cancel + re-place when the touch moves). Events are made from the columns beforehand.
 */
function venueOnly(t: Tape) {
  const len = t.length;
  const { exAt, rxAt, rxEvents } = t.streams();
  const exEvents = Array.from({ length: len }, (_, k) => t.event(k));
  const q = new EventQueue();
  q.current = exAt[0];
  const matching = new MatchingEngine({ coin: 'ETH', asset: 1, szDecimals: 4, tick: 0.1 });
  const venue = new SimulatedVenue({ scheduler: q, matching, latency: new ConstantLatency(50) });
  const live: Record<
    OrderSide,
    { cloid: string; px: number; state: 'pending' | 'open' | 'cancelling' } | undefined
  > = { bid: undefined, ask: undefined };
  let seq = 0;
  let fills = 0;
  venue.setReportListener((r: VenueReport) => {
    if (r.kind === 'fill') {
      fills++;
      return;
    }
    for (const side of ['bid', 'ask'] as const) {
      const o = live[side];
      if (!o || o.cloid !== r.cloid) continue;
      if (r.state === 'open' && o.state === 'pending') o.state = 'open';
      else if (r.state !== 'open') live[side] = undefined;
    }
  });
  const quote = (side: OrderSide, px: number) => {
    const o = live[side];
    if (o === undefined) {
      const cloid = `0x${(++seq).toString(16).padStart(32, '0')}`;
      live[side] = { cloid, px, state: 'pending' };
      venue.place([{ cloid, coin: 'ETH', side, px, sz: 0.01, tif: 'Alo' }]);
    } else if (o.state === 'open' && Math.abs(o.px - px) > 0.05) {
      o.state = 'cancelling';
      venue.cancel([{ coin: 'ETH', cloid: o.cloid }]);
    }
  };
  let i = 0;
  let j = 0;
  const c = process.cpuUsage();
  const t1 = performance.now();
  while (i < len || j < len) {
    const tEx = i < len ? exAt[i] : Number.POSITIVE_INFINITY;
    const tRx = j < len ? rxAt[j] : Number.POSITIVE_INFINITY;
    const tQ = q.peekTime();
    if (tEx <= tQ && tEx <= tRx) {
      q.current = tEx;
      venue.onMarket(exEvents[i++]);
    } else if (tQ <= tRx) q.runNext();
    else {
      q.current = tRx;
      const ev = rxEvents[j++];
      if (ev.kind === 'bbo') {
        quote('bid', ev.bidPx);
        quote('ask', ev.askPx);
      }
    }
  }
  const ms = performance.now() - t1;
  return { ms, cpu: cpuMs(c), eps: (len / ms) * 1000, fills };
}

// ---- in memory ----------------------------------------------------------------------------------------
venueOnly(warm);
const vo = venueOnly(tape);
report(
  `replay + matching + venue, touch quoter, no engine (${vo.fills} fills)`,
  `${(vo.eps / 1e6).toFixed(2)} M/s`,
  '≥ 1 M/s',
  vo.eps >= 1e6,
);
report('  same, per CPU-second (load-independent)', perCpu(n, vo.cpu));
const floor = once('none');
report('replay loop + matching, no quotes (events/s)', `${(floor.eps / 1e6).toFixed(2)} M/s`);
report('  same, per CPU-second', perCpu(n, floor.cpu));
const fixed = once('fixed');
report(
  `backtest fixed, ${(n / 1e6).toFixed(2)} M events (events/s)`,
  `${(fixed.eps / 1e6).toFixed(2)} M/s`,
  '≥ 1 M/s',
  fixed.eps >= 1e6,
);
report('  same, per CPU-second', perCpu(n, fixed.cpu));
report(`backtest fixed, day wall time (${fixed.fills} fills)`, `${(fixed.ms / 1000).toFixed(2)} s`);
runOn('cj', warm);
const target0 = { ...targetSearchStats };
const cj = runOn('cj', tape);
const cjSearches = targetSearchStats.searches - target0.searches;
const cjSolves = targetSearchStats.evaluations - target0.evaluations;
report(`backtest cj (events/s, ${cj.events} events)`, `${(cj.eps / 1e6).toFixed(3)} M/s`);
// The figure: a day of cj as `cjmm backtest` runs it, one strategy in a process of its own (here, after
// the none and fixed runs, the engine's call sites have seen three strategies and are compiled for all of them).
const own = ownProcessDays('auto', 5);
report(
  `backtest cj, a day of ETH, in a process of its own (wall, median of ${own.runs} processes)`,
  `${(own.ms / 1000).toFixed(2)} s`,
  '≤ 1.5 s',
  own.ms <= 1500,
);
report(
  `  same, fastest – slowest of the ${own.runs} (results ${own.sameResult ? 'all identical' : 'NOT all identical'})`,
  `${(own.minMs / 1000).toFixed(2)} – ${(own.maxMs / 1000).toFixed(2)} s`,
);
report(
  `  same (the median run), CPU time all threads / the replay's thread (load average ${load()}; ${own.threads > 0 ? 'with' : 'without'} the calibration thread; result ${own.hash === hashOf(cj.r) ? 'identical to' : 'DIFFERENT from'} this process's)`,
  `${(own.cpuMs / 1000).toFixed(2)} s / ${(own.replayCpuMs / 1000).toFixed(2)} s`,
);
const ownOff = ownProcessDays('off', 3);
report(
  `  same, calibration thread off (median of ${ownOff.runs}): wall; CPU`,
  `${(ownOff.ms / 1000).toFixed(2)} s; ${(ownOff.cpuMs / 1000).toFixed(2)} s (load average ${load()})`,
);
report(
  'backtest cj, a day of ETH, in this process after none and fixed (wall)',
  `${(cj.ms / 1000).toFixed(2)} s`,
);
report(`  same, CPU time, all threads (load average ${load()})`, `${(cj.cpu / 1000).toFixed(2)} s`);
// The default runs the rolling calibrator on a thread of its own ahead of the replay (calibrationThread
// 'auto': a day is long enough, and there are 2 cores): less wall time for a little more CPU in all. The same
// day with it off, back to back, and the results compared.
report(
  `  of which the replay's thread (calibration thread: ${calibrationThreadsStarted() > 0 ? 'on' : 'off'})`,
  `${(cj.mainCpu / 1000).toFixed(2)} s`,
);
const cjOff = runOn('cj', tape, undefined, 'off');
report('backtest cj, a day, calibration thread off (wall)', `${(cjOff.ms / 1000).toFixed(2)} s`);
report(`  same, CPU time (load average ${load()})`, `${(cjOff.cpu / 1000).toFixed(2)} s`);
report(
  '  the two results byte-identical',
  JSON.stringify(cjOff.r) === JSON.stringify(cj.r) ? 'yes' : 'NO',
  'yes',
  JSON.stringify(cjOff.r) === JSON.stringify(cj.r),
);
// The model rebuilds: a φ search per new parameter set (secant steps from the last φ, each a stationary solve).
report(
  `  model rebuilds: ${cjSearches} φ searches, ${(cjSolves / Math.max(1, cjSearches)).toFixed(2)} stationary solves each`,
  '',
);
// Where a cj day goes: its rolling calibrator alone over the same events (every event in, a parameter set
// every 15 s out), against the whole backtest's CPU time. The rest: model re-solves (one target-φ search per
// parameter set), quoting, order flow, matching, replay.
const calFeed = defaultParamFeed(parseStrategyConfig({ strategy: 'cj' }), instrument);
const calC = process.cpuUsage();
let calSets = 0;
// The replay's own event objects (tape.event(k) would make new ones from the columns, at a cost of its own).
const calObjs = tape.cols.objects;
for (let k = 0; k < n; k++) if (calFeed.onEvent(calObjs ? calObjs[tape.lo + k] : tape.event(k))) calSets++;
const calCpu = cpuMs(calC);
report(
  `  of which the rolling calibrator alone (${calSets} parameter sets), CPU time`,
  `${(calCpu / 1000).toFixed(2)} s (${((100 * calCpu) / cjOff.cpu).toFixed(0)} % of the day with the thread off)`,
);
// cj with the imbalance signal: the regime model calibrated on the same window (3 regimes), the regime HJB
// solved warm-started when the regime model moved (default regimes.minChangeSe 0.5: some regime parameter or
// generator rate by more than half its SE since the last solve), quotes from the current regime's table.
// Its cost is the regime model's: per re-solve a φ search (secant steps on ln φ from the last φ, in a 5 % band
// of the target), each step a warm-started stationary regime solve.
const regimeWork = (config: Record<string, unknown>) => {
  runOn('cj', warm, config);
  const s0 = { ...solveStats };
  const p0 = { ...phiSearchStats };
  const r = runOn('cj', tape, config);
  const searches = phiSearchStats.searches - p0.searches;
  const solves = solveStats.solves - s0.solves;
  const newton = solveStats.newtonIterations - s0.newtonIterations;
  return { ...r, searches, solves, newton };
};
const sig = regimeWork({ signal: 'imbalance' });
report(
  'backtest cj + imbalance signal (defaults), a day of ETH (wall)',
  `${(sig.ms / 1000).toFixed(2)} s`,
  '< 5 s',
  sig.ms < 5000,
);
report(
  `  same, CPU time (load average ${load()}; plain cj above: ${(cj.cpu / 1000).toFixed(2)} s)`,
  `${(sig.cpu / 1000).toFixed(2)} s`,
);
report(
  `  regime work: ${sig.searches} φ searches, ${(sig.solves / Math.max(1, sig.searches)).toFixed(2)} solves each, ${(sig.newton / Math.max(1, sig.solves)).toFixed(1)} Newton steps per solve`,
  '',
);
// The same re-solving at every new calibration (regimes.minChangeSe 0).
const sig0 = regimeWork({ signal: 'imbalance', regimes: { count: 3, minChangeSe: 0 } });
report(
  'backtest cj + imbalance signal, regimes.minChangeSe 0 (re-solve at every calibration), a day (wall)',
  `${(sig0.ms / 1000).toFixed(2)} s`,
);
report(
  `  same, CPU time: ${sig0.searches} φ searches (load average ${load()})`,
  `${(sig0.cpu / 1000).toFixed(2)} s`,
);
report(
  'memory: the day as event objects (heap, before they are dropped)',
  `${((heap1.heapUsed - heap0.heapUsed) / 2 ** 20).toFixed(0)} MiB`,
);
report(
  '  the same day as the tape replays it (columns: typed arrays)',
  `${(columnBytes(tape.cols) / 2 ** 20).toFixed(0)} MiB`,
);

// ---- streamed from a store ----------------------------------------------------------------------------
if (process.env.CJMM_BENCH_STREAM === '0') process.exit(0);
const t2 = performance.now();
const dayStore = await tiledStore(rec, TILES);
const weekStore = await tiledStore(rec, WEEK);
console.log(
  `synthetic stores: 1 day (${TILES} tiles) and 7 days (${WEEK} tiles, ${((7 * n) / 1e6).toFixed(1)} M events) ready in ${((performance.now() - t2) / 1000).toFixed(1)} s (built once, kept in the temp folder)`,
);

/** A replay of the day store in a child process (its heap holds nothing else): see helpers/stream-run.ts. */
function child(mode: 'stream' | 'columns' | 'objects', strategy: 'fixed' | 'cj') {
  const r = spawnSync(
    process.execPath,
    [join(here, 'helpers', 'stream-run.ts'), mode, dayStore, strategy, '0.01'],
    { encoding: 'utf8' },
  );
  const line = r.stdout.split('\n').find((l) => l.startsWith('BENCH '));
  if (r.status !== 0 || !line) throw new Error(`stream-run ${mode} failed: ${r.stderr.slice(-2000)}`);
  const m = JSON.parse(line.slice(6)) as {
    wallMs: number;
    cpuMs: number;
    replayThreadCpuMs: number;
    e2eMs: number;
    e2eCpuMs: number;
    events: number;
    sha256: string;
  };
  return { ...m, eps: (m.events / m.wallMs) * 1000, e2eEps: (m.events / m.e2eMs) * 1000 };
}
const hash = (r: BacktestResult) => createHash('sha256').update(JSON.stringify(r)).digest('hex');
for (const [name, mem] of [
  ['fixed', fixed],
  ['cj', cj],
] as const) {
  const col = child('columns', name);
  const s = child('stream', name);
  const obj = child('objects', name);
  const same = s.sha256 === col.sha256 && col.sha256 === hash(mem.r) && obj.sha256 === s.sha256;
  report(
    `${name}: events/s in memory, events made from columns (from objects: ${(mem.eps / 1e6).toFixed(2)} M/s)`,
    `${(col.eps / 1e6).toFixed(2)} M/s`,
  );
  report(
    `${name}: events/s streamed from a store (1 h chunks, read on a thread)`,
    `${(s.eps / 1e6).toFixed(2)} M/s`,
  );
  report(
    `  streamed / in memory from columns (same result: ${same ? 'yes' : 'NO'})`,
    `${((100 * s.eps) / col.eps).toFixed(0)} %`,
    '≥ 90 %',
    s.eps >= 0.9 * col.eps && same,
  );
  report('  streamed / in memory from objects', `${((100 * s.eps) / mem.eps).toFixed(0)} %`);
  report(
    `${name}: end to end (open, read, replay) streamed / read whole as objects (as before streaming)`,
    `${((100 * s.e2eEps) / obj.e2eEps).toFixed(0)} %`,
    '≥ 90 %',
    s.e2eEps >= 0.9 * obj.e2eEps && same,
  );
  report(
    '  same: wall s streamed / objects (CPU s, all threads)',
    `${(s.e2eMs / 1000).toFixed(2)} / ${(obj.e2eMs / 1000).toFixed(2)} (${(s.e2eCpuMs / 1000).toFixed(2)} / ${(obj.e2eCpuMs / 1000).toFixed(2)}; load ${load()})`,
  );
  report(
    '  CPU s: streamed, all threads (replay thread) / columns / objects',
    `${(s.cpuMs / 1000).toFixed(2)} (${(s.replayThreadCpuMs / 1000).toFixed(2)}) / ${(col.cpuMs / 1000).toFixed(2)} / ${(mem.cpu / 1000).toFixed(2)}`,
  );
}

/** `cjmm backtest` in a process of its own (peak RSS is per process): wall, CPU, peak RSS. */
function cliRun(store: string) {
  const r = spawnSync(
    process.execPath,
    [
      join(here, 'helpers', 'cli-run.ts'),
      'backtest',
      '--data',
      store,
      '--coin',
      'ETH',
      '--strategy',
      'cj',
      '--lot',
      '0.01',
      '--json',
    ],
    { encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
  );
  const line = r.stderr.split('\n').find((l) => l.startsWith('BENCH '));
  if (r.status !== 0 || !line) throw new Error(`cjmm backtest failed: ${r.stderr.slice(-2000)}`);
  const m = JSON.parse(line.slice(6)) as { wallMs: number; cpuMs: number; maxRssMiB: number };
  return { ...m, fills: (JSON.parse(r.stdout) as BacktestResult).metrics.fills };
}
/**
 * Peak RSS moves between runs of the same command (when V8 happens to collect, and how far it has sized its
 * young generation by then): each store is run RSS_RUNS times (default 2), alternating, and the ratio is taken
 * on the worst of each.
 */
const RSS_RUNS = Math.max(1, Number(process.env.CJMM_BENCH_RSS_RUNS ?? 2));
const day: ReturnType<typeof cliRun>[] = [];
const week: ReturnType<typeof cliRun>[] = [];
for (let i = 0; i < RSS_RUNS; i++) {
  day.push(cliRun(dayStore));
  week.push(cliRun(weekStore));
}
const worst = (rs: ReturnType<typeof cliRun>[]) => rs.reduce((a, b) => (b.maxRssMiB > a.maxRssMiB ? b : a));
const spread = (rs: ReturnType<typeof cliRun>[]) =>
  rs.length > 1 ? ` (runs: ${rs.map((r) => r.maxRssMiB.toFixed(0)).join(', ')})` : '';
const d1 = worst(day);
const d7 = worst(week);
report(
  `cjmm backtest cj, 1 day from a store: peak RSS, worst of ${RSS_RUNS} (${d1.fills} fills)`,
  `${d1.maxRssMiB.toFixed(0)} MiB${spread(day)}`,
);
report(
  '  same, wall / CPU time (process)',
  `${(d1.wallMs / 1000).toFixed(1)} s / ${(d1.cpuMs / 1000).toFixed(1)} s`,
);
report(
  `cjmm backtest cj, 7 days from a store: peak RSS, worst of ${RSS_RUNS} (${d7.fills} fills)`,
  `${d7.maxRssMiB.toFixed(0)} MiB${spread(week)}`,
  '≤ 1024 MiB',
  d7.maxRssMiB <= 1024,
);
report(
  '  7 days / 1 day, peak RSS (worst of each)',
  `${(d7.maxRssMiB / d1.maxRssMiB).toFixed(2)}×`,
  '≤ 1.25×',
  d7.maxRssMiB <= 1.25 * d1.maxRssMiB,
);
report(
  `  same, wall / CPU time (process; load average ${load()})`,
  `${(d7.wallMs / 1000).toFixed(1)} s / ${(d7.cpuMs / 1000).toFixed(1)} s`,
);
