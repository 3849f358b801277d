/**
 * The account's fills and funding since a time, by REST: what a restart needs to journal what happened while
 * the trader was down, and what each periodic reconciliation uses to catch a fill the streams missed.
 *
 * `userFillsByTime` answers at most 2000 fills per call, oldest first. Paging is by time: the next call starts
 * at the last fill's millisecond (not after it), so fills sharing the millisecond at a page boundary are fetched
 * again and de-duplicated by (tid, oid) — none is lost, none counted twice. A full page inside one millisecond
 * cannot be paged (the API has no finer cursor): the pager then moves past it and says so. Hyperliquid keeps only
 * the account's most recent 10,000 fills there; older ones cannot be recovered (the position check then journals
 * the difference as an adjustment).
 * `userFunding` (hourly funding payments) is paged the same way (500 per call on Hyperliquid).
 */
import type { ExecutionContext } from './context.ts';
import { infoCall } from './pacing.ts';
import type { WireFill } from './wire.ts';

/** Fills per `userFillsByTime` answer (Hyperliquid's cap). */
export const FILLS_PER_CALL = 2000;
/** Funding events per `userFunding` answer (Hyperliquid's cap). */
export const FUNDINGS_PER_CALL = 500;
/** Safety bound on pages per recovery (10,000 recoverable fills = 5 full pages; the rest is margin). */
const MAX_PAGES = 64;

/** A fill as `userFillsByTime` / `userFills` report it (the fields we journal). */
export interface HistoryFill extends WireFill {
  closedPnl?: string;
  startPosition?: string;
}

/** One hourly funding payment of one position, as `userFunding` and the `userFundings` stream report it. */
export interface FundingEvent {
  time: number;
  coin: string;
  /** USDC credited to the account (negative = paid). */
  usdc: number;
  szi: number;
  fundingRate: number;
}

export interface PagedResult<T> {
  items: T[];
  calls: number;
  /** A full page fell inside one millisecond: fills beyond the cap at that millisecond could not be fetched. */
  truncatedAt?: number;
}

type Ctx = Pick<ExecutionContext, 'info' | 'user' | 'budget' | 'clock' | 'stats' | 'log'>;

/**
 * Page through a time-ordered endpoint from `startTime`: `fetch(start)` returns up to `perCall` items with
 * `time ≥ start`; items are de-duplicated by `key`.
 */
export async function pageByTime<T extends { time: number }>(
  startTime: number,
  perCall: number,
  fetch: (start: number) => Promise<T[]>,
  key: (x: T) => string,
): Promise<PagedResult<T>> {
  const out: T[] = [];
  const seen = new Set<string>();
  let start = Math.max(0, Math.floor(startTime));
  let calls = 0;
  let truncatedAt: number | undefined;
  while (calls < MAX_PAGES) {
    const page = [...(await fetch(start))].sort((a, b) => a.time - b.time);
    calls++;
    for (const x of page) {
      const k = key(x);
      if (seen.has(k)) continue;
      seen.add(k);
      out.push(x);
    }
    if (page.length < perCall) break; // exhausted
    const last = page[page.length - 1].time;
    if (last > start) {
      // The next page starts at the last millisecond seen: its fills come again and are de-duplicated.
      start = last;
    } else {
      // A whole page within one millisecond: no finer cursor exists; move past it.
      truncatedAt = last;
      start = last + 1;
    }
  }
  out.sort((a, b) => a.time - b.time);
  return { items: out, calls, truncatedAt };
}

/** The account's fills with time ≥ `startTime` (exchange ms), oldest first. */
export async function fetchFillsSince(ctx: Ctx, startTime: number): Promise<PagedResult<HistoryFill>> {
  const r = await pageByTime<HistoryFill>(
    startTime,
    FILLS_PER_CALL,
    async (start) => {
      const page = (await infoCall(ctx, 20, () =>
        ctx.info.userFillsByTime({ user: ctx.user, startTime: start, aggregateByTime: false }),
      )) as unknown as HistoryFill[];
      // These answers weigh one more unit per 20 fills returned.
      ctx.budget.consumeInfo(Math.floor(page.length / 20), ctx.clock.now());
      return page;
    },
    (f) => `${f.tid}:${f.oid}`,
  );
  if (r.truncatedAt !== undefined) {
    ctx.log.warn(
      { at: r.truncatedAt, perCall: FILLS_PER_CALL },
      'more fills in one millisecond than one userFillsByTime answer holds: some may be missing',
    );
  }
  return r;
}

/** The account's funding payments with time ≥ `startTime`, oldest first. */
export async function fetchFundingSince(ctx: Ctx, startTime: number): Promise<PagedResult<FundingEvent>> {
  return pageByTime<FundingEvent>(
    startTime,
    FUNDINGS_PER_CALL,
    async (start) => {
      const page = await infoCall(ctx, 20, () => ctx.info.userFunding({ user: ctx.user, startTime: start }));
      ctx.budget.consumeInfo(Math.floor(page.length / 20), ctx.clock.now());
      return page.map((u) => fundingFromWire({ time: u.time, ...u.delta }));
    },
    (f) => `${f.coin}:${f.time}`,
  );
}

/** A funding payment from its wire shape (`userFunding` delta or `userFundings` stream element). */
export function fundingFromWire(w: {
  time: number;
  coin: string;
  usdc: string;
  szi: string;
  fundingRate: string;
}): FundingEvent {
  return {
    time: w.time,
    coin: w.coin,
    usdc: Number(w.usdc),
    szi: Number(w.szi),
    fundingRate: Number(w.fundingRate),
  };
}
