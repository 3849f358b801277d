/**
 * Funding in the trader's P&L. Hyperliquid settles perp funding every hour: a position pays (or receives)
 * position × oracle price × rate; a positive rate means longs pay shorts.
 *
 * - Live: the venue's own funding events (the `userFundings` stream, and `userFunding` by REST at start and
 *   periodically for what the stream missed) are journalled exactly once each (coin, time) and booked into the
 *   engine's cash — so into P&L, equity and the drawdown kill switch.
 * - Paper: at every hour boundary of exchange time seen in the market data, the position then pays
 *   −position × mid × rate, at the configured `paper.fundingRate` (hourly fraction) or, without one, the rate
 *   the venue reports for that hour (`fundingHistory`: the real one on mainnet, the recording's on the
 *   loopback); journalled the same way (source 'paper').
 */
import { HttpTransport, InfoClient } from '@nktkas/hyperliquid';
import type { Engine } from '../engine/engine.ts';
import type { FundingEvent } from '../venue/hyperliquid/execution/fill-history.ts';
import type { SqliteJournal } from './journal.ts';
import type { TradingLogger } from './logger.ts';

export const HOUR_MS = 3_600_000;
/** Hyperliquid's rate when the premium is zero: 0.01% per 8 h, paid hourly. */
export const HYPERLIQUID_BASELINE_HOURLY_RATE = 0.0000125;

/** The hourly rate of the funding paid at hour `hour` (ms), or undefined when unknown (yet). */
export type FundingRateSource = (coin: string, hour: number) => Promise<number | undefined>;

/** Rates from the venue's `fundingHistory` (the row stamped at the hour, a few ms after it). */
export function venueFundingRates(httpUrl: string, isTestnet: boolean): FundingRateSource {
  const info = new InfoClient({
    transport: new HttpTransport({ apiUrl: httpUrl, isTestnet, timeout: 10_000 }),
  });
  return async (coin, hour) => {
    const rows = await info.fundingHistory({
      coin,
      startTime: hour - 5 * 60_000,
      endTime: hour + 5 * 60_000,
    });
    let best: { d: number; rate: number } | undefined;
    for (const r of rows) {
      const d = Math.abs(r.time - hour);
      const rate = Number(r.fundingRate);
      if (Number.isFinite(rate) && (!best || d < best.d)) best = { d, rate };
    }
    return best?.rate;
  };
}

/** Book one venue funding event (live): journalled once; new ones go into the engine's cash. */
export function bookVenueFunding(
  journal: SqliteJournal,
  engine: Engine | undefined,
  coin: string,
  events: FundingEvent[],
): number {
  let n = 0;
  for (const e of events) {
    if (e.coin !== coin) continue;
    const fresh = journal.record({
      type: 'funding',
      exTime: e.time,
      rxTime: Date.now(),
      data: { ...e, source: 'venue' },
    });
    if (!fresh) continue;
    n++;
    engine?.portfolio.applyFunding(e.usdc);
  }
  return n;
}

/** Paper funding: hourly, on the position at the hour boundary of the market data's exchange clock. */
export class PaperFunding {
  private lastHour: number | undefined;
  private warnedFallback = false;
  /** Payments booked this session. */
  payments = 0;
  private readonly o: {
    coin: string;
    journal: SqliteJournal;
    engine: Engine;
    logger: TradingLogger;
    /** Configured hourly rate (`paper.fundingRate`); without one, `source` is asked. */
    rate?: number;
    source?: FundingRateSource;
    /** Retries of the source for an hour not published yet, and their spacing (ms). */
    retries?: number;
    retryMs?: number;
  };

  constructor(o: PaperFunding['o']) {
    this.o = o;
  }

  /** A market event at exchange time `exTime`: books the hours it crossed. */
  onMarket(exTime: number): void {
    if (!Number.isFinite(exTime)) return;
    const hour = Math.floor(exTime / HOUR_MS) * HOUR_MS;
    if (this.lastHour === undefined) {
      this.lastHour = hour;
      return;
    }
    if (hour <= this.lastHour) return;
    this.lastHour = hour;
    const eng = this.o.engine;
    const position = eng.portfolio.position;
    const mark = eng.lastMid;
    if (position === 0 || !(mark > 0)) return;
    void this.book(hour, position, mark);
  }

  private async rateOf(hour: number): Promise<{ rate: number; from: string }> {
    const { rate, source, coin, logger } = this.o;
    if (rate !== undefined) return { rate, from: 'config' };
    if (source) {
      const tries = this.o.retries ?? 3;
      for (let i = 0; i < tries; i++) {
        try {
          const r = await source(coin, hour);
          if (r !== undefined) return { rate: r, from: 'venue' };
        } catch (err) {
          logger.debug({ err: (err as Error).message }, 'fundingHistory unavailable');
        }
        if (i + 1 < tries) await new Promise((res) => setTimeout(res, this.o.retryMs ?? 10_000).unref());
      }
    }
    if (!this.warnedFallback) {
      this.warnedFallback = true;
      logger.warn(
        { rate: HYPERLIQUID_BASELINE_HOURLY_RATE },
        "paper funding: the venue reports no rate for the hour and paper.fundingRate is not set: using Hyperliquid's baseline rate",
      );
    }
    return { rate: HYPERLIQUID_BASELINE_HOURLY_RATE, from: 'baseline' };
  }

  private async book(hour: number, position: number, mark: number): Promise<void> {
    const { rate, from } = await this.rateOf(hour);
    const usdc = -position * mark * rate;
    const fresh = this.o.journal.record({
      type: 'funding',
      exTime: hour,
      rxTime: Date.now(),
      data: {
        coin: this.o.coin,
        time: hour,
        usdc,
        szi: position,
        fundingRate: rate,
        px: mark,
        source: `paper:${from}`,
      },
    });
    if (!fresh) return;
    this.payments++;
    this.o.engine.portfolio.applyFunding(usdc);
  }
}
