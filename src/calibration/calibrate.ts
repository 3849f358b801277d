/**
 * One-shot calibration of a batch of events: the rolling calibrator run over the data once, so the batch
 * and the live numbers come from the same code. Events are stably sorted by exchange time first.
 */
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { RollingCalibrator, type RollingCalibratorOptions } from './rolling.ts';
import { inferTick } from './tick.ts';
import type { CalibrationResult } from './types.ts';

export interface CalibrateOptions extends Omit<RollingCalibratorOptions, 'windowMs' | 'refreshMs'> {
  /** Window length ending at `at` (ms); Infinity or undefined = all data up to `at`. */
  windowMs?: number;
  /** End of the window (exchange ms); default the last event. Later events are ignored (no look-ahead). */
  at?: number;
}

export interface CalibrateOutcome {
  /** undefined when some parameter could not be estimated and had no prior (see flags). */
  result: CalibrationResult | undefined;
  flags: string[];
  tick: number;
  /** Events of other kinds/coins are counted by the calibrator; this is the input size after filtering. */
  events: number;
}

/** Events of `coin` sorted by exchange time (stable: equal times keep their input order). */
export function sortByExchangeTime(events: MarketEvent[], coin: string): MarketEvent[] {
  const idx: number[] = [];
  for (let i = 0; i < events.length; i++) if (events[i].coin === coin) idx.push(i);
  idx.sort((a, b) => events[a].exTime - events[b].exTime || a - b);
  return idx.map((i) => events[i]);
}

/** Events of `coin` whose exchange time goes backwards within their channel (book, bbo, trade), in input order. */
export function countOutOfOrder(events: MarketEvent[], coin: string): number {
  const last: Record<string, number> = { book: -Infinity, bbo: -Infinity, trade: -Infinity };
  let n = 0;
  for (const ev of events) {
    if (ev.coin !== coin) continue;
    if (ev.exTime < last[ev.kind]) n++;
    else last[ev.kind] = ev.exTime;
  }
  return n;
}

/**
 * Calibrates `coin` from events in any order: they are stably sorted by exchange time first; events that were
 * out of order within their channel are counted (`samples.outOfOrder`) and flagged `out-of-order`.
 */
export function calibrate(events: MarketEvent[], gaps: Gap[], opts: CalibrateOptions): CalibrateOutcome {
  const disorder = countOutOfOrder(events, opts.coin);
  const sorted = sortByExchangeTime(events, opts.coin);
  const out = calibrateSorted(sorted, gaps, opts);
  if (disorder > 0) {
    if (!out.flags.includes('out-of-order')) out.flags.push('out-of-order');
    const r = out.result;
    if (r) {
      r.samples.outOfOrder += disorder;
      if (!r.quality.flags.includes('out-of-order')) r.quality.flags.push('out-of-order');
    }
  }
  return out;
}

/** As calibrate(), for events already filtered to the coin and sorted by exchange time. */
export function calibrateSorted(
  sorted: MarketEvent[],
  gaps: Gap[],
  opts: CalibrateOptions,
): CalibrateOutcome {
  const last = sorted.length > 0 ? sorted[sorted.length - 1].exTime : Number.NaN;
  const at = opts.at ?? last;
  const windowMs = opts.windowMs ?? Number.POSITIVE_INFINITY;
  const start = at - windowMs;
  // Quotes from a little before the window give the mid just before its first MOs.
  const lead = opts.staleQuoteMs ?? 30_000;
  let lo = 0;
  if (Number.isFinite(start)) {
    let a = 0;
    let b = sorted.length;
    while (a < b) {
      const m = (a + b) >>> 1;
      if (sorted[m].exTime < start - lead) a = m + 1;
      else b = m;
    }
    lo = a;
  }
  let hi = sorted.length;
  while (hi > lo && sorted[hi - 1].exTime > at) hi--;
  const slice = sorted.slice(lo, hi);
  const tick = opts.tick ?? inferTick(slice);
  const hasBbo = slice.some((e) => e.kind === 'bbo');
  const cal = new RollingCalibrator({
    ...opts,
    tick: tick > 0 ? tick : undefined,
    windowMs,
    quoteSource: opts.quoteSource ?? (hasBbo ? 'bbo' : 'book'),
  });
  for (const g of gaps) cal.onGap(g);
  for (const ev of slice) cal.onEvent(ev);
  const result = Number.isFinite(at) ? cal.refresh(at, true) : undefined;
  return {
    result,
    flags: cal.status()?.flags ?? ['no-data'],
    tick: cal.tickSize(),
    events: slice.length,
  };
}
