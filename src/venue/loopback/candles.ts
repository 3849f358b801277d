/**
 * Candles of the loopback server, built from the replayed (and injected) trades as they happen: one-minute
 * bars per coin (open, high, low, close, base volume, notional, trade count), aggregated on request into any
 * of Hyperliquid's intervals. Bars open at multiples of the interval since the epoch (UTC); `1M` bars open on
 * the first day of each calendar month. Intervals without a trade have no candle. Only trades already
 * replayed are in the bars, so a client never sees the future.
 */

export const CANDLE_INTERVALS = [
  '1m',
  '3m',
  '5m',
  '15m',
  '30m',
  '1h',
  '2h',
  '4h',
  '8h',
  '12h',
  '1d',
  '3d',
  '1w',
  '1M',
] as const;
export type CandleInterval = (typeof CANDLE_INTERVALS)[number];

const MINUTE = 60_000;
const INTERVAL_MS: Record<Exclude<CandleInterval, '1M'>, number> = {
  '1m': MINUTE,
  '3m': 3 * MINUTE,
  '5m': 5 * MINUTE,
  '15m': 15 * MINUTE,
  '30m': 30 * MINUTE,
  '1h': 60 * MINUTE,
  '2h': 120 * MINUTE,
  '4h': 240 * MINUTE,
  '8h': 480 * MINUTE,
  '12h': 720 * MINUTE,
  '1d': 1440 * MINUTE,
  '3d': 3 * 1440 * MINUTE,
  '1w': 7 * 1440 * MINUTE,
};
/** Hyperliquid answers at most this many candles (the most recent ones in the range). */
export const MAX_CANDLES = 5000;

export function isCandleInterval(x: unknown): x is CandleInterval {
  return typeof x === 'string' && (CANDLE_INTERVALS as readonly string[]).includes(x);
}

/** One aggregated bar (numbers; the server formats them). */
export interface Bar {
  /** Open time and close time (inclusive, = next open − 1) in ms. */
  t: number;
  T: number;
  o: number;
  h: number;
  l: number;
  c: number;
  /** Base volume and notional (Σ px·sz). */
  v: number;
  q: number;
  n: number;
}

/** Start of the bar of `interval` containing time t, and the start of the next one. */
export function barBounds(interval: CandleInterval, t: number): [number, number] {
  if (interval === '1M') {
    const d = new Date(t);
    const start = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), 1);
    const next = Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
    return [start, next];
  }
  const ms = INTERVAL_MS[interval];
  const start = Math.floor(t / ms) * ms;
  return [start, start + ms];
}

/** Per-coin one-minute bars, appended as trades arrive (the hot path: O(1) per trade in time order). */
export class CandleBook {
  private readonly coins = new Map<string, Bar[]>();

  onTrade(coin: string, time: number, px: number, sz: number): void {
    let bars = this.coins.get(coin);
    if (!bars) this.coins.set(coin, (bars = []));
    const t = Math.floor(time / MINUTE) * MINUTE;
    let bar = bars[bars.length - 1];
    if (!bar || bar.t < t) {
      bars.push({ t, T: t + MINUTE - 1, o: px, h: px, l: px, c: px, v: sz, q: px * sz, n: 1 });
      return;
    }
    if (bar.t > t) {
      // Out of order (rare): find or insert the bar of that minute.
      let i = bars.length - 1;
      while (i > 0 && bars[i].t > t) i--;
      if (bars[i].t !== t) {
        const b = { t, T: t + MINUTE - 1, o: px, h: px, l: px, c: px, v: sz, q: px * sz, n: 1 };
        bars.splice(bars[i].t < t ? i + 1 : i, 0, b);
        return;
      }
      bar = bars[i];
    }
    if (px > bar.h) bar.h = px;
    if (px < bar.l) bar.l = px;
    bar.c = px;
    bar.v += sz;
    bar.q += px * sz;
    bar.n++;
  }

  /** Bars of `interval` that overlap [startTime, endTime], oldest first, the last MAX_CANDLES of them. */
  snapshot(coin: string, interval: CandleInterval, startTime: number, endTime: number): Bar[] {
    const bars = this.coins.get(coin) ?? [];
    const out: Bar[] = [];
    let cur: Bar | undefined;
    let curEnd = 0;
    for (let i = firstAtOrAfter(bars, barBounds(interval, startTime)[0]); i < bars.length; i++) {
      const m = bars[i];
      if (!cur || m.t >= curEnd) {
        const [start, next] = barBounds(interval, m.t);
        if (start > endTime) break;
        cur = { t: start, T: next - 1, o: m.o, h: m.h, l: m.l, c: m.c, v: m.v, q: m.q, n: m.n };
        curEnd = next;
        out.push(cur);
        continue;
      }
      if (m.h > cur.h) cur.h = m.h;
      if (m.l < cur.l) cur.l = m.l;
      cur.c = m.c;
      cur.v += m.v;
      cur.q += m.q;
      cur.n += m.n;
    }
    return out.length > MAX_CANDLES ? out.slice(out.length - MAX_CANDLES) : out;
  }

  /** Price and volume over the trailing day ending at `now`: what a market's 24 h context reports. */
  day(coin: string, now: number): { prevDayPx?: number; baseVlm: number; ntlVlm: number } {
    const bars = this.coins.get(coin) ?? [];
    const from = now - 1440 * MINUTE;
    let baseVlm = 0;
    let ntlVlm = 0;
    let prevDayPx: number | undefined;
    for (let i = bars.length - 1; i >= 0; i--) {
      const b = bars[i];
      if (b.t > now) continue;
      if (b.t < from) {
        prevDayPx = b.c;
        break;
      }
      baseVlm += b.v;
      ntlVlm += b.q;
      prevDayPx = b.o; // the earliest price of the day so far, if the data is younger than a day
    }
    return { prevDayPx, baseVlm, ntlVlm };
  }
}

function firstAtOrAfter(bars: Bar[], t: number): number {
  let lo = 0;
  let hi = bars.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (bars[mid].t < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
