/**
 * Calibration figures on the shared ETH recording (seed collector, ~24 min): load time, full calibration of
 * a 30-minute window from in-memory events (target ≤ 50 ms), and one incremental 15-second refresh of the
 * rolling calibrator (target ≤ 5 ms). The original pipeline spent ~17 s per cycle.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { calibrateSorted } from '../src/calibration/calibrate.ts';
import { RollingCalibrator } from '../src/calibration/rolling.ts';
import { readSource } from '../src/marketdata/source.ts';
import { fmtUs, report, summarize, timeIt } from './timing.ts';

const shared = process.env.CJMM_SHARED_DATA ?? resolve(import.meta.dirname, '..', '..', 'shared', 'data');
const seedEth = join(shared, 'hyperliquid', 'seed-collector', 'ETH');
if (!existsSync(seedEth)) {
  console.log(`calibration bench skipped: ${seedEth} not found (set CJMM_SHARED_DATA)`);
  process.exit(0);
}

const t0 = performance.now();
const { events, gaps } = await readSource(seedEth, { coin: 'ETH' });
const loadUs = (performance.now() - t0) * 1000;
report(`load seed ETH via readSource (${events.length} events)`, fmtUs(loadUs));

const windowMs = 30 * 60_000;
const full = timeIt(() => calibrateSorted(events, gaps, { coin: 'ETH', windowMs }), {
  minRuns: 20,
  minMs: 3000,
});
report(
  'full calibration, 30-min window (in-memory events)',
  fmtUs(full.median),
  '≤ 50 ms',
  full.median <= 50_000,
);
report('  p10 full calibration (least disturbed by other load)', fmtUs(full.p10));

// Incremental: stream the recording through the rolling calibrator, timing each 15 s refresh (the refresh
// call itself) and each 15 s cycle (ingesting the new events + refresh).
const refreshUs: number[] = [];
const cycleUs: number[] = [];
for (let pass = 0; pass < 4; pass++) {
  const cal = new RollingCalibrator({
    coin: 'ETH',
    windowMs,
    refreshMs: 15_000,
    tick: 0.1,
    quoteSource: 'bbo',
  });
  for (const g of gaps) cal.onGap(g);
  let cycleStart = performance.now();
  let last = Number.NaN;
  for (const ev of events) {
    cal.onEvent(ev);
    if (Number.isNaN(last) || ev.exTime - last >= 15_000) {
      const a = performance.now();
      cal.refresh(ev.exTime);
      const b = performance.now();
      last = ev.exTime;
      if (pass > 0) {
        refreshUs.push((b - a) * 1000);
        cycleUs.push((b - cycleStart) * 1000);
      }
      cycleStart = performance.now();
    }
  }
}
const r = summarize(refreshUs);
const c = summarize(cycleUs);
report('incremental refresh (15 s of new data, 30-min window)', fmtUs(r.median), '≤ 5 ms', r.median <= 5000);
report('  p90 refresh', fmtUs(r.p90));
report('  full 15 s cycle (ingest new events + refresh)', fmtUs(c.median));
report('original Python pipeline, per cycle (seed-system)', '~17 s');
