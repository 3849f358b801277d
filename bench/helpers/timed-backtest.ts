/**
 * One backtest of the synthetic day (or a part of it) as the backtest bench times it: a fresh strategy, latency
 * 50 ms, wall time, CPU time of every thread and of the replay's own thread. Shared by bench/backtest.bench.ts
 * and bench/helpers/cj-day.ts (the cj day in a process of its own), so both measure the same thing.
 */

import { runBacktest } from '../../src/backtest/run.ts';
import { buildStrategy } from '../../src/backtest/setup.ts';
import type { Tape } from '../../src/backtest/tape.ts';
import type { InstrumentSpec } from '../../src/engine/types.ts';

export function timedBacktest(
  strategy: 'none' | 'fixed' | 'cj',
  sub: Tape,
  instrument: InstrumentSpec,
  config?: Record<string, unknown>,
  calibrationThread?: 'auto' | 'on' | 'off',
) {
  const b = strategy === 'none' ? undefined : buildStrategy(strategy, config, instrument);
  const c = process.cpuUsage();
  const tc = process.threadCpuUsage();
  const t = performance.now();
  const r = runBacktest({
    tape: sub,
    instrument,
    strategy: b?.strategy ?? { name: 'none' },
    orderManager: b?.orderManager,
    risk: b?.risk,
    latency: 50,
    calibrationThread,
  });
  const ms = performance.now() - t;
  const d = process.cpuUsage(c);
  const td = process.threadCpuUsage(tc);
  return {
    ms,
    /** CPU time of every thread, ms. */
    cpu: (d.user + d.system) / 1000,
    /** CPU time of the replay's thread, ms. */
    mainCpu: (td.user + td.system) / 1000,
    eps: (sub.length / ms) * 1000,
    fills: r.metrics.fills,
    events: sub.length,
    r,
  };
}
