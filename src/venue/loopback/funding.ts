/**
 * Hourly funding of the loopback server, as Hyperliquid settles it: on every hour of exchange time each open
 * position pays (or receives) position × oracle price × rate; a positive rate means longs pay shorts. The
 * loopback has no separate oracle: the oracle (and mark) price is the book's mid at that hour.
 *
 * The rate of an hour comes from a funding series when one is given (rows as Hyperliquid's `fundingHistory`
 * answers them, e.g. the data layer's `funding` kind: hourly fraction + premium), the latest row at or before
 * the hour; otherwise, and before the series starts, a configured rate — by default Hyperliquid's baseline,
 * the interest-rate component alone (0.01% per 8 h = 0.00125% per hour, premium 0).
 */

export const HOUR_MS = 3_600_000;
/** Hyperliquid's funding when the premium is zero: 0.01% per 8 hours, paid hourly. */
export const HYPERLIQUID_BASELINE_FUNDING_RATE = 0.0000125;
/** At most this many rows per `fundingHistory` / `userFunding` answer (Hyperliquid's page size). */
export const FUNDING_PAGE = 500;

/** One hour's funding of one coin (a `fundingHistory` row with numbers). */
export interface FundingRow {
  /** ms since epoch (Hyperliquid stamps each row a few ms after the hour). */
  time: number;
  coin: string;
  /** Hourly rate as a fraction of notional (0.0000125 = 0.00125%). */
  fundingRate: number;
  premium: number;
}

interface Series {
  /** Hour start (ms) of each row, ascending. */
  hours: number[];
  rates: number[];
  premiums: number[];
}

export class FundingSchedule {
  private readonly series = new Map<string, Series>();
  readonly defaultRate: number;

  constructor(rows: readonly FundingRow[] = [], defaultRate = HYPERLIQUID_BASELINE_FUNDING_RATE) {
    if (!Number.isFinite(defaultRate) || Math.abs(defaultRate) >= 0.04) {
      throw new Error(
        `funding rate must be an hourly fraction in (-0.04, 0.04), e.g. 0.0000125; got ${defaultRate}`,
      );
    }
    this.defaultRate = defaultRate;
    const byCoin = new Map<string, FundingRow[]>();
    for (const r of rows) {
      if (!Number.isFinite(r.time) || !Number.isFinite(r.fundingRate) || typeof r.coin !== 'string') {
        throw new Error(`funding row needs time, coin and fundingRate: ${JSON.stringify(r)}`);
      }
      let list = byCoin.get(r.coin);
      if (!list) byCoin.set(r.coin, (list = []));
      list.push(r);
    }
    for (const [coin, list] of byCoin) {
      list.sort((a, b) => a.time - b.time);
      const s: Series = { hours: [], rates: [], premiums: [] };
      for (const r of list) {
        const h = Math.round(r.time / HOUR_MS) * HOUR_MS;
        const last = s.hours.length - 1;
        const premium = Number.isFinite(r.premium) ? r.premium : 0;
        if (last >= 0 && s.hours[last] === h) {
          s.rates[last] = r.fundingRate;
          s.premiums[last] = premium;
        } else {
          s.hours.push(h);
          s.rates.push(r.fundingRate);
          s.premiums.push(premium);
        }
      }
      this.series.set(coin, s);
    }
  }

  hasSeries(coin: string): boolean {
    return this.series.has(coin);
  }

  /** First hour of the coin's series, if any. */
  firstHour(coin: string): number | undefined {
    return this.series.get(coin)?.hours[0];
  }

  /** The rate and premium that apply at the hour starting `hour` (ms, a multiple of an hour). */
  at(coin: string, hour: number): { rate: number; premium: number } {
    const s = this.series.get(coin);
    if (s) {
      const i = lastAtOrBefore(s.hours, hour);
      if (i >= 0) return { rate: s.rates[i], premium: s.premiums[i] };
    }
    return { rate: this.defaultRate, premium: 0 };
  }

  /**
   * `fundingHistory`: one row per settled hour in [startTime, endTime] (and ≤ now), oldest first, at most
   * FUNDING_PAGE; hours before `listedAt` (the first data of the market) are not part of its history.
   */
  history(coin: string, startTime: number, endTime: number, now: number, listedAt: number): FundingRow[] {
    const out: FundingRow[] = [];
    const first = Math.max(ceilHour(startTime), ceilHour(listedAt));
    const last = Math.min(endTime, now);
    for (let h = first; h <= last && out.length < FUNDING_PAGE; h += HOUR_MS) {
      const { rate, premium } = this.at(coin, h);
      out.push({ time: h, coin, fundingRate: rate, premium });
    }
    return out;
  }
}

export function ceilHour(t: number): number {
  return Math.ceil(t / HOUR_MS) * HOUR_MS;
}

/** Next funding time strictly after `t`. */
export function nextHourAfter(t: number): number {
  return (Math.floor(t / HOUR_MS) + 1) * HOUR_MS;
}

function lastAtOrBefore(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  let ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] <= x) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/**
 * Parse funding rows from JSON as Hyperliquid's `fundingHistory` answers them (strings or numbers), or from
 * an object `{ "rows": [...] }`. `coin` fills rows that lack one.
 */
export function parseFundingRows(json: unknown, coin?: string): FundingRow[] {
  const list = Array.isArray(json) ? json : (json as { rows?: unknown })?.rows;
  if (!Array.isArray(list)) throw new Error('expected an array of {time, coin, fundingRate, premium} rows');
  return list.map((r, i) => {
    const o = r as Record<string, unknown>;
    const time = Number(o.time);
    const rate = Number(o.fundingRate);
    const c = typeof o.coin === 'string' ? o.coin : coin;
    if (!Number.isFinite(time) || !Number.isFinite(rate) || !c) {
      throw new Error(`row ${i}: needs numeric time and fundingRate and a coin; got ${JSON.stringify(r)}`);
    }
    const premium = o.premium === undefined || o.premium === null ? 0 : Number(o.premium);
    return { time, coin: c, fundingRate: rate, premium: Number.isFinite(premium) ? premium : 0 };
  });
}
