/**
 * A replay tape: the market events of one coin, validated once and indexed for the two-clock replay,
 * so a tape can be replayed many times (parameter sweeps) without re-sorting.
 *
 * Clocks. Events carry the exchange time (exTime) and our receive time (rxTime). The simulation runs on the
 * RECEIVE (local) clock: the strategy sees each event at its recorded rxTime. The exchange clock is mapped
 * onto it with a constant offset: local = exchange + clockOffsetMs. By default the offset is the smallest
 * recorded rx − ex (the fastest message is taken to have had no latency), so the recorded feed delays
 * beyond it are kept as information lag and no event is seen before the exchange produced it. Our order's
 * arrival at the exchange is then localSendTime + entryLatency on the local clock, i.e.
 * localSendTime + entryLatency − clockOffsetMs on the exchange clock. With clockOffsetMs = 0 the clocks are
 * taken as synchronised and the whole rx − ex is feed latency.
 */
import type { Gap, MarketEvent } from '../marketdata/events.ts';

export interface Tape {
  coin: string;
  /** Valid events of the coin, in the order given. */
  events: MarketEvent[];
  /** Indices into events by exchange time (stable), and the local time each reaches the matching engine. */
  exOrder: Int32Array;
  exAt: Float64Array;
  /** Indices into events by receive time (stable), and the local time each reaches the strategy. */
  rxOrder: Int32Array;
  rxAt: Float64Array;
  /**
   * The events as the strategy receives them, in receive order: the recorded objects, or copies with
   * rxTime = delivery time where an explicit clock offset delays an event beyond its recorded rxTime.
   */
  rxEvents: MarketEvent[];
  gaps: Gap[];
  clockOffsetMs: number;
  /** Exchange-time span of the valid events. */
  start: number;
  end: number;
  counts: { book: number; trade: number; bbo: number; skipped: number; otherCoin: number };
  /** Recorded rx − ex of every valid event (ms), for a latency profile drawn from the data. */
  feedDelays(): Float64Array;
}

export interface TapeOptions {
  coin?: string;
  /** Exchange-time window [from, to) in ms. */
  from?: number;
  to?: number;
  /**
   * Local minus exchange clock (ms); 'min' (default): the smallest recorded rx − ex (recorded feed delays kept
   * as information lag); 'max': the largest (every event reaches the strategy exactly clockOffsetMs after the
   * exchange produced it: an instant feed up to a constant clock shift).
   */
  clockOffsetMs?: number | 'min' | 'max';
}

function valid(ev: MarketEvent): boolean {
  if (!Number.isFinite(ev.exTime) || !Number.isFinite(ev.rxTime)) return false;
  if (ev.kind === 'trade') return ev.px > 0 && ev.sz > 0 && (ev.side === 'buy' || ev.side === 'sell');
  // A crossed or locked top of book cannot exist on a CLOB: malformed.
  if (ev.kind === 'bbo') return (ev.bidPx > 0 || ev.askPx > 0) && !(ev.bidPx >= ev.askPx);
  if (ev.kind === 'book')
    return (
      Array.isArray(ev.bids) &&
      Array.isArray(ev.asks) &&
      ev.bids.length + ev.asks.length > 0 &&
      levelsOk(ev.bids, -1) &&
      levelsOk(ev.asks, 1) &&
      !(ev.bids.length > 0 && ev.asks.length > 0 && ev.bids[0].px >= ev.asks[0].px)
    );
  return false;
}

/** Positive prices, non-negative sizes, strictly ordered away from the touch (dir −1: bids, +1: asks). */
function levelsOk(levels: { px: number; sz: number }[], dir: number): boolean {
  let prev = dir < 0 ? Number.POSITIVE_INFINITY : 0;
  for (const l of levels) {
    if (!(l.px > 0) || !(l.sz >= 0) || !Number.isFinite(l.px) || !Number.isFinite(l.sz)) return false;
    if (dir < 0 ? !(l.px < prev) : !(l.px > prev)) return false;
    prev = l.px;
  }
  return true;
}

/**
 * Stable sort of indices 0..n−1 by key. Recorded streams are nearly sorted (receive order differs from
 * exchange order by a few messages), so an insertion sort is linear here; it gives up after a budget of
 * moves proportional to n and falls back to the general sort for arbitrary input.
 */
function order(keys: Float64Array): Int32Array {
  const n = keys.length;
  const idx = new Int32Array(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  let budget = 64 * n + 1024;
  for (let i = 1; i < n; i++) {
    const v = idx[i];
    const k = keys[v];
    let j = i - 1;
    while (j >= 0 && keys[idx[j]] > k) {
      idx[j + 1] = idx[j];
      j--;
      if (--budget < 0) break;
    }
    if (budget < 0) {
      const arr = Array.from({ length: n }, (_, m) => m);
      arr.sort((a, b) => keys[a] - keys[b] || a - b);
      return Int32Array.from(arr);
    }
    idx[j + 1] = v;
  }
  return idx;
}

export function buildTape(all: MarketEvent[], gaps: Gap[] = [], opts: TapeOptions = {}): Tape {
  const coin = opts.coin ?? all.find((e) => e.coin)?.coin ?? '';
  const from = opts.from ?? Number.NEGATIVE_INFINITY;
  const to = opts.to ?? Number.POSITIVE_INFINITY;
  const counts = { book: 0, trade: 0, bbo: 0, skipped: 0, otherCoin: 0 };
  const events: MarketEvent[] = [];
  let minDelay = Number.POSITIVE_INFINITY;
  let maxDelay = Number.NEGATIVE_INFINITY;
  for (const ev of all) {
    if (ev.coin !== coin) {
      counts.otherCoin++;
      continue;
    }
    if (!valid(ev)) {
      counts.skipped++;
      continue;
    }
    if (ev.exTime < from || ev.exTime >= to) continue;
    counts[ev.kind]++;
    events.push(ev);
    const d = ev.rxTime - ev.exTime;
    if (d < minDelay) minDelay = d;
    if (d > maxDelay) maxDelay = d;
  }
  const n = events.length;
  const mode = opts.clockOffsetMs ?? 'min';
  const offset =
    n === 0 && typeof mode === 'string' ? 0 : mode === 'min' ? minDelay : mode === 'max' ? maxDelay : mode;
  if (!Number.isFinite(offset)) throw new Error(`clockOffsetMs must be a finite number of ms; got ${offset}`);
  const exKey = new Float64Array(n);
  const rxKey = new Float64Array(n);
  let start = Number.POSITIVE_INFINITY;
  let end = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const ev = events[i];
    exKey[i] = ev.exTime;
    // Never before the exchange produced it (possible only with an explicit offset above the minimum).
    rxKey[i] = Math.max(ev.rxTime, ev.exTime + offset);
    if (ev.exTime < start) start = ev.exTime;
    if (ev.exTime > end) end = ev.exTime;
  }
  const exOrder = order(exKey);
  const rxOrder = order(rxKey);
  const exAt = new Float64Array(n);
  const rxAt = new Float64Array(n);
  const rxEvents: MarketEvent[] = new Array(n);
  for (let k = 0; k < n; k++) {
    exAt[k] = exKey[exOrder[k]] + offset;
    const i = rxOrder[k];
    rxAt[k] = rxKey[i];
    // The engine judges staleness by rxTime: a delayed delivery must carry its delivery time.
    rxEvents[k] = rxKey[i] === events[i].rxTime ? events[i] : { ...events[i], rxTime: rxKey[i] };
  }
  const coinGaps = gaps.filter((g) => g.coin === coin && g.end > start && g.start < end);
  return {
    coin,
    events,
    exOrder,
    exAt,
    rxOrder,
    rxAt,
    rxEvents,
    gaps: coinGaps,
    clockOffsetMs: offset,
    start: n > 0 ? start : 0,
    end: n > 0 ? end : 0,
    counts,
    feedDelays() {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = events[i].rxTime - events[i].exTime;
      return out;
    },
  };
}
