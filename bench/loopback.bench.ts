/**
 * Loopback server replay throughput: the seed ETH recording stepped through the server's replay (matching,
 * order records, candles, funding hours, pushes to no subscriber) as fast as it goes, with and without 20
 * accounts each resting a bid and an ask near the touch (re-placed as they fill) — events/s, with the CPU time
 * per event (process.cpuUsage) and the load average, since the machine is shared.
 */
import { loadavg } from 'node:os';
import type { MarketEvent } from '../src/marketdata/events.ts';
import { readSource } from '../src/marketdata/source.ts';
import { startLoopbackServer } from '../src/venue/loopback/server.ts';
import { hasShared, SEED_ETH } from '../test/helpers/shared.ts';
import { report } from './timing.ts';

if (!hasShared) {
  console.log('../shared/data not found: skipping loopback benchmarks');
  process.exit(0);
}

const { events } = await readSource(SEED_ETH, { coin: 'ETH' });

async function replayThroughput(evs: MarketEvent[], accounts: number) {
  const addrs = Array.from({ length: accounts }, (_, i) => `0x${(i + 1).toString(16).padStart(40, '0')}`);
  const srv = await startLoopbackServer({
    events: evs,
    coins: ['ETH'],
    autoStart: false,
    accounts: addrs.map((address) => ({ address, balance: 1e7 })),
  });
  const step = 1000;
  const first = evs[0].exTime;
  const last = evs[evs.length - 1].exTime;
  srv.replay.advanceTo(first);
  let placed = 0;
  const requote = () => {
    const mid = srv.state.mid('ETH');
    if (!Number.isFinite(mid)) return;
    for (const a of addrs) {
      if (srv.state.account(a).open.size >= 2) continue;
      srv.state.cancelAll(a);
      for (const [isBuy, px] of [
        [true, Math.floor(mid * 10 - 1) / 10],
        [false, Math.ceil(mid * 10 + 1) / 10],
      ] as const) {
        srv.state.placeOrder(a, {
          asset: 1,
          isBuy,
          pxStr: px.toFixed(1),
          szStr: '0.01',
          reduceOnly: false,
          tif: 'Alo',
          isTrigger: false,
        });
        placed++;
      }
    }
  };
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  for (let t = first; t <= last + step; t += step) {
    srv.replay.advanceTo(t);
    if (accounts > 0) requote();
  }
  const secs = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const fills = addrs.reduce((n, a) => n + srv.state.account(a).fills.length, 0);
  await srv.close();
  return { perSec: evs.length / secs, cpuUsPerEvent: (cpu.user + cpu.system) / evs.length, placed, fills };
}

const load = loadavg()[0].toFixed(1);
const base = await replayThroughput(events, 0);
report(
  `loopback replay, no accounts (seed ETH, ${events.length} events; load ${load})`,
  `${Math.round(base.perSec).toLocaleString('en-US')} ev/s, CPU ${base.cpuUsPerEvent.toFixed(1)} µs/ev`,
);
const busy = await replayThroughput(events, 20);
report(
  `loopback replay, 20 accounts quoting (${busy.placed} orders, ${busy.fills} fills)`,
  `${Math.round(busy.perSec).toLocaleString('en-US')} ev/s, CPU ${busy.cpuUsPerEvent.toFixed(1)} µs/ev`,
  'CPU ≤ 20 µs/event (the seed recording averages ≈ 13 events/s)',
  busy.cpuUsPerEvent <= 20,
);
