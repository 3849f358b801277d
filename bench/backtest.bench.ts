/**
 * Backtest replay throughput on the shared ETH recording, tiled into a synthetic day.
 * The recording covers ~24 minutes (18k events); a day (~1.5 M events) is built by repeating it 80 times
 * back to back with shifted clocks (prices unchanged; each seam is marked as a 1 s data gap, so quotes are
 * pulled there like at a real gap). Figures: events/s for the replay loop + matching (engine with a strategy
 * that never quotes: the floor cost of the two-clock merge), for `fixed`, and for `cj` (rolling calibration
 * included), and memory.
 */
import { existsSync } from 'node:fs';
import { loadavg } from 'node:os';
import { ConstantLatency } from '../src/backtest/latency.ts';
import { runBacktest } from '../src/backtest/run.ts';
import { EventQueue } from '../src/backtest/scheduler.ts';
import { buildStrategy, instrumentFromData } from '../src/backtest/setup.ts';
import { SimulatedVenue } from '../src/backtest/simulated-venue.ts';
import { buildTape, type Tape } from '../src/backtest/tape.ts';
import type { OrderSide, VenueReport } from '../src/engine/types.ts';
import { MatchingEngine } from '../src/exchange/matching.ts';
import type { Gap, MarketEvent } from '../src/marketdata/events.ts';
import { readSource } from '../src/marketdata/source.ts';
import { SEED_ETH } from '../test/helpers/shared.ts';
import { report } from './timing.ts';

if (!existsSync(SEED_ETH)) {
  console.log(`skipped: ${SEED_ETH} not found (set CJMM_SHARED_DATA)`);
  process.exit(0);
}

/** CPU time (user + system) since `from`, ms: on a shared machine the wall clock overstates our cost. */
function cpuMs(from: NodeJS.CpuUsage): number {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
}
const perCpu = (events: number, cpu: number) => `${(((events / cpu) * 1000) / 1e6).toFixed(2)} M/s per CPU-s`;

const TILES = Number(process.env.CJMM_BENCH_TILES ?? 80);
const data = await readSource(SEED_ETH, { coin: 'ETH' });
const base = data.events;
const span = base[base.length - 1].exTime - base[0].exTime + 1000;

/** Repeat the recording `tiles` times with clocks shifted by whole spans; level arrays are shared. */
function tile(tiles: number): { events: MarketEvent[]; gaps: Gap[] } {
  const events: MarketEvent[] = [];
  const gaps: Gap[] = [];
  for (let k = 0; k < tiles; k++) {
    const dt = k * span;
    for (const ev of base) events.push({ ...ev, exTime: ev.exTime + dt, rxTime: ev.rxTime + dt });
    for (const g of data.gaps) gaps.push({ ...g, start: g.start + dt, end: g.end + dt });
    if (k > 0)
      gaps.push({
        coin: 'ETH',
        kind: 'all',
        start: base[0].exTime + dt - 1000,
        end: base[0].exTime + dt,
        reason: 'tile seam',
      });
  }
  return { events, gaps };
}

const heap0 = process.memoryUsage();
const day = tile(TILES);
const t0 = performance.now();
const tape = buildTape(day.events, day.gaps, { coin: 'ETH' });
const tapeMs = performance.now() - t0;
globalThis.gc?.();
const heap1 = process.memoryUsage();
const n = tape.length;
const instrument = instrumentFromData('ETH', base, { lotSize: 0.01 });
console.log(
  `synthetic day: ${TILES} × the ETH recording = ${n} events, ${((tape.end - tape.start) / 3.6e6).toFixed(1)} h; tape built in ${tapeMs.toFixed(0)} ms`,
);

function once(strategy: 'none' | 'fixed' | 'cj', events: number, config?: Record<string, unknown>) {
  const sub = events === n ? tape : buildTape(day.events.slice(0, events), day.gaps, { coin: 'ETH' });
  runOn(strategy, warm, config);
  return runOn(strategy, sub, config);
}

function runOn(strategy: 'none' | 'fixed' | 'cj', sub: Tape, config?: Record<string, unknown>) {
  const b = strategy === 'none' ? undefined : buildStrategy(strategy, config, instrument);
  const c = process.cpuUsage();
  const t = performance.now();
  const r = runBacktest({
    tape: sub,
    instrument,
    strategy: b?.strategy ?? { name: 'none' },
    orderManager: b?.orderManager,
    risk: b?.risk,
    latency: 50,
  });
  const ms = performance.now() - t;
  const cpu = cpuMs(c);
  return { ms, cpu, eps: (sub.length / ms) * 1000, fills: r.metrics.fills, events: sub.length };
}

/**
 * The replay + matching layer under quoting load, without the engine: the two-clock merge, the simulated
 * venue (latency, reports) and the matching core, driven by a minimal quoter that keeps one post-only order
 * at each touch (cancel + re-place when the touch moves).
 */
function venueOnly(tape: Tape) {
  const n = tape.length;
  const { exAt, rxAt, rxEvents } = tape.streams();
  const q = new EventQueue();
  q.current = exAt[0];
  const matching = new MatchingEngine({ coin: 'ETH', asset: 1, szDecimals: 4, tick: 0.1 });
  const venue = new SimulatedVenue({ scheduler: q, matching, latency: new ConstantLatency(50) });
  const live: Record<
    OrderSide,
    { cloid: string; px: number; state: 'pending' | 'open' | 'cancelling' } | undefined
  > = {
    bid: undefined,
    ask: undefined,
  };
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
  const t = performance.now();
  while (i < n || j < n) {
    const tEx = i < n ? exAt[i] : Number.POSITIVE_INFINITY;
    const tRx = j < n ? rxAt[j] : Number.POSITIVE_INFINITY;
    const tQ = q.peekTime();
    if (tEx <= tQ && tEx <= tRx) {
      q.current = tEx;
      venue.onMarket(tape.event(i++));
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
  const ms = performance.now() - t;
  return { ms, cpu: cpuMs(c), eps: (n / ms) * 1000, fills };
}

// Each measurement is preceded by a warm-up on the first tenth of the day (JIT), as a parameter sweep would be.
const warm = buildTape(day.events.slice(0, Math.ceil(n / 10)), day.gaps, { coin: 'ETH' });
venueOnly(warm);
const vo = venueOnly(tape);
report(
  `replay + matching + venue, touch quoter, no engine (${vo.fills} fills)`,
  `${(vo.eps / 1e6).toFixed(2)} M/s`,
  '≥ 1 M/s',
  vo.eps >= 1e6,
);
report('  same, per CPU-second (load-independent)', perCpu(n, vo.cpu));
const floor = once('none', n);
report('replay loop + matching, no quotes (events/s)', `${(floor.eps / 1e6).toFixed(2)} M/s`);
report('  same, per CPU-second', perCpu(n, floor.cpu));
const fixed = once('fixed', n);
report(
  `backtest fixed, ${(n / 1e6).toFixed(2)} M events (events/s)`,
  `${(fixed.eps / 1e6).toFixed(2)} M/s`,
  '≥ 1 M/s',
  fixed.eps >= 1e6,
);
report('  same, per CPU-second', perCpu(n, fixed.cpu));
report(`backtest fixed, day wall time (${fixed.fills} fills)`, `${(fixed.ms / 1000).toFixed(2)} s`);
// cj re-calibrates every 15 s of data on a 30-min window; a full day is measured unless it would exceed the
// bench budget, in which case a quarter day is measured and the day extrapolated (said in the line).
const cjEvents = process.env.CJMM_BENCH_CJ_FULL ? n : Math.min(n, Math.ceil(n / 4));
const cj = once('cj', cjEvents);
const cjDay = (cj.ms / cj.events) * n;
report(`backtest cj (events/s, ${cj.events} events measured)`, `${(cj.eps / 1e6).toFixed(3)} M/s`);
report('  same, per CPU-second', perCpu(cj.events, cj.cpu));
report(
  `backtest cj, a day of ETH${cjEvents === n ? '' : ' (extrapolated)'}`,
  `${(cjDay / 1000).toFixed(2)} s`,
  '< 5 s',
  cjDay < 5000,
);
report('  same, CPU time', `${(((cj.cpu / cj.events) * n) / 1000).toFixed(2)} s`);
// cj with the imbalance signal: the regime model calibrated on the same window (3 regimes), the regime HJB
// solved at every new parameter set (warm-started), quotes from the current regime's table.
const sig = once('cj', cjEvents, { signal: 'imbalance' });
const sigDay = (sig.ms / sig.events) * n;
report(
  `backtest cj + imbalance signal (events/s, ${sig.events} events)`,
  `${(sig.eps / 1e6).toFixed(3)} M/s`,
);
report(
  `backtest cj + imbalance signal, a day of ETH${cjEvents === n ? '' : ' (extrapolated)'}`,
  `${(sigDay / 1000).toFixed(2)} s`,
  '< 5 s',
  sigDay < 5000,
);
report(
  `  same, CPU time (load avg ${loadavg()[0].toFixed(2)})`,
  `${(((sig.cpu / sig.events) * n) / 1000).toFixed(2)} s`,
);
globalThis.gc?.();
const heap2 = process.memoryUsage();
report('memory: events + tape (heap)', `${((heap1.heapUsed - heap0.heapUsed) / 2 ** 20).toFixed(0)} MiB`);
report('memory: process RSS after the runs', `${(heap2.rss / 2 ** 20).toFixed(0)} MiB`);
