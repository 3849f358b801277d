// temp profiling script (engineer P); deleted before report
import { runBacktest } from '../src/backtest/run.ts';
import { buildStrategy, instrumentFromData } from '../src/backtest/setup.ts';
import { buildTape } from '../src/backtest/tape.ts';
import type { Gap, MarketEvent } from '../src/marketdata/events.ts';
import { readSource } from '../src/marketdata/source.ts';
import { SEED_ETH } from '../test/helpers/shared.ts';
const which = (process.argv[2] ?? 'fixed') as 'fixed' | 'cj';
const TILES = Number(process.argv[3] ?? 20);
const data = await readSource(SEED_ETH, { coin: 'ETH' });
const base = data.events;
const span = base[base.length - 1].exTime - base[0].exTime + 1000;
const events: MarketEvent[] = []; const gaps: Gap[] = [];
for (let k = 0; k < TILES; k++) { const dt = k * span;
  for (const ev of base) events.push({ ...ev, exTime: ev.exTime + dt, rxTime: ev.rxTime + dt });
  for (const g of data.gaps) gaps.push({ ...g, start: g.start + dt, end: g.end + dt });
  if (k > 0) gaps.push({ coin: 'ETH', kind: 'all', start: base[0].exTime + dt - 1000, end: base[0].exTime + dt, reason: 'tile seam' });
}
const tape = buildTape(events, gaps, { coin: 'ETH' });
const instrument = instrumentFromData('ETH', base, { lotSize: 0.01 });
for (let rep = 0; rep < 2; rep++) {
  const b = buildStrategy(which, undefined, instrument);
  const c = process.cpuUsage(); const t = performance.now();
  const r = runBacktest({ tape, instrument, strategy: b.strategy, orderManager: b.orderManager, risk: b.risk, latency: 50 });
  const ms = performance.now() - t; const cu = process.cpuUsage(c);
  console.log(which, tape.events.length, 'events', ms.toFixed(0), 'ms wall', ((cu.user + cu.system) / 1000).toFixed(0), 'ms cpu', 'fills', r.metrics.fills, 'net', r.metrics.netPnl);
}
