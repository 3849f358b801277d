/**
 * Reconciliation of the journal with the venue (live).
 *
 * At start, after cancel-all has confirmed that nothing of ours rests (so no fill can happen meanwhile), for
 * every coin the trader trades (one fetch for all of them):
 *   1. every fill of the account since the journal's last known fill of the coin (or, without fills, since the
 *      last reconciliation) is fetched with userFillsByTime (all pages) and each one the journal lacks is journalled,
 *      exactly once by trade id, with its real price, size, fee, side, time and order (cloid from the fill, else
 *      the journal's oid → cloid);
 *   2. the same for funding payments (userFunding);
 *   3. the journal's orders still open are closed from their fills: `filled`, `partially filled` or `canceled`;
 *   4. the position that follows from the journalled fills is checked against the venue's; a difference the fills
 *      cannot explain (fills older than the venue keeps, a journal started on an account that already had a
 *      position) is journalled as an explicit `adjustment`, with a warning — never silently;
 *   5. a `session` row {event: 'reconciled'} records the exchange time reconciled up to.
 * While running, each periodic sweep recovers fills and funding the streams missed the same way (the venue's
 * `enableRecovery`), and a venue position that differs from the engine's for two sweeps in a row is adopted
 * and journalled as an adjustment (`positionCheck`).
 */
import type { ExchangeSnapshot } from '../venue/hyperliquid/execution/reconcile.ts';
import { type HyperliquidVenue, RECOVERY_MARGIN_MS } from '../venue/hyperliquid/execution/venue.ts';
import type { SqliteJournal } from './journal.ts';
import type { TradingLogger } from './logger.ts';

/** Positions closer than this (coin units) are the same. */
const POSITION_EPS = 1e-9;

export interface StartReconciliation {
  /** Exchange time fills were fetched from (undefined: a new journal, nothing to recover). */
  since?: number;
  /** The venue's time of the position snapshot reconciled against. */
  exchangeTime: number;
  fillsRecovered: number;
  fundingsRecovered: number;
  /** The journal's open orders closed (filled, partially filled or cancelled). */
  ordersClosed: number;
  /** The explicit adjustment journalled, if the venue's position differed from the fills'. */
  adjustment?: { from: number; to: number };
  /** userFillsByTime calls made. */
  calls: number;
}

/** Where the journal's knowledge of fills ends: its last fill, else its last reconciliation (exchange time). */
export function recoverySince(journal: SqliteJournal, coin: string): number | undefined {
  const lastFill = journal.lastFillTime(coin);
  const rec = journal.lastReconciliation()?.exchangeTime;
  const lastRec = typeof rec === 'number' && Number.isFinite(rec) ? rec : undefined;
  if (lastFill === undefined) return lastRec;
  return lastFill;
}

/** One coin's part of a start-up reconciliation. */
export interface CoinReconciliation {
  coin: string;
  since?: number;
  fillsRecovered: number;
  fundingsRecovered: number;
  adjustment?: { from: number; to: number };
}

/** Several coins reconciled at once (one trader, one journal, one account). */
export interface MarketsReconciliation {
  exchangeTime: number;
  fillsRecovered: number;
  fundingsRecovered: number;
  ordersClosed: number;
  calls: number;
  coins: CoinReconciliation[];
}

/** One coin: see reconcileMarketsAtStart. */
export async function reconcileAtStart(o: {
  venue: HyperliquidVenue;
  journal: SqliteJournal;
  coin: string;
  snap: ExchangeSnapshot;
  logger: TradingLogger;
  /** Price to book an adjustment at when the venue reports no entry price (e.g. the mid). */
  markPrice?: () => Promise<number>;
}): Promise<StartReconciliation> {
  const r = await reconcileMarketsAtStart({
    venue: o.venue,
    journal: o.journal,
    snaps: [o.snap],
    logger: o.logger,
    markPrice: o.markPrice ? () => o.markPrice!() : undefined,
  });
  const c = r.coins[0];
  return {
    since: c.since,
    exchangeTime: r.exchangeTime,
    fillsRecovered: r.fillsRecovered,
    fundingsRecovered: r.fundingsRecovered,
    ordersClosed: r.ordersClosed,
    adjustment: c.adjustment,
    calls: r.calls,
  };
}

/**
 * The start-up reconciliation of every coin a trader trades (one snapshot per coin, from the venue's first
 * sweep): the account's fills since the earliest coin's journalled knowledge are fetched once (every page),
 * and each coin journals those of its own it lacks; the same for funding; open orders are closed; each coin's
 * position is checked; one `reconciled` session row records it all (with each coin's counts).
 */
export async function reconcileMarketsAtStart(o: {
  venue: HyperliquidVenue;
  journal: SqliteJournal;
  snaps: ExchangeSnapshot[];
  logger: TradingLogger;
  /** Price of a coin to book an adjustment at when the venue reports no entry price (e.g. the mid). */
  markPrice?: (coin: string) => Promise<number>;
}): Promise<MarketsReconciliation> {
  const { venue, journal, snaps, logger } = o;
  if (snaps.length === 0) throw new Error('reconciliation: no coin to reconcile');
  const per = new Map<string, CoinReconciliation>(
    snaps.map((s) => [
      s.coin,
      { coin: s.coin, since: recoverySince(journal, s.coin), fillsRecovered: 0, fundingsRecovered: 0 },
    ]),
  );
  const sinces = [...per.values()].map((c) => c.since).filter((x): x is number => x !== undefined);
  let calls = 0;
  if (sinces.length > 0) {
    const from = Math.max(0, Math.min(...sinces) - RECOVERY_MARGIN_MS);
    const fills = await venue.fetchFills(from);
    calls = fills.calls;
    for (const f of fills.items) {
      const c = per.get(f.coin);
      // A coin with nothing journalled yet (a new journal): nothing of ours to recover.
      if (!c || c.since === undefined) continue;
      const isNew = journal.record({
        type: 'fill',
        exTime: f.time,
        rxTime: Date.now(),
        data: {
          tid: f.tid,
          oid: f.oid,
          cloid: f.cloid ?? journal.cloidOfOid(f.oid),
          coin: f.coin,
          side: f.side === 'B' ? 'bid' : 'ask',
          px: Number(f.px),
          sz: Number(f.sz),
          fee: Number(f.fee) || 0,
          liquidity: f.crossed ? 'taker' : 'maker',
          exTime: f.time,
          source: 'recovered',
        },
      });
      if (isNew) c.fillsRecovered++;
    }
    const fundSinces = [...per.values()]
      .filter((c) => c.since !== undefined)
      .map((c) => journal.lastFundingTime(c.coin) ?? (c.since as number));
    const fund = await venue.fetchFunding(Math.max(0, Math.min(...fundSinces) - RECOVERY_MARGIN_MS));
    for (const e of fund.items) {
      const c = per.get(e.coin);
      if (!c || c.since === undefined) continue;
      if (
        journal.record({
          type: 'funding',
          exTime: e.time,
          rxTime: Date.now(),
          data: { ...e, source: 'venue' },
        })
      )
        c.fundingsRecovered++;
    }
  }
  const fillsRecovered = [...per.values()].reduce((a, c) => a + c.fillsRecovered, 0);
  const fundingsRecovered = [...per.values()].reduce((a, c) => a + c.fundingsRecovered, 0);
  if (fillsRecovered > 0 || fundingsRecovered > 0) {
    logger.warn(
      {
        fills: fillsRecovered,
        fundings: fundingsRecovered,
        coins: [...per.values()].filter((c) => c.fillsRecovered + c.fundingsRecovered > 0).map((c) => c.coin),
      },
      'journalled fills and funding made while the trader was down',
    );
  }
  const ordersClosed = journal.closeOpenOrders(Date.now(), (cloid) =>
    venue.cancelledAtStart.has(cloid)
      ? 'canceled by cancel-all at session start'
      : 'canceled while the trader was down (not resting at session start: guard, scheduleCancel or by hand)',
  );
  for (const snap of snaps) {
    let mark: number | undefined;
    if (
      Math.abs(journal.position(snap.coin) - snap.position) > POSITION_EPS &&
      !(snap.entryPx > 0) &&
      o.markPrice !== undefined
    ) {
      mark = await o.markPrice(snap.coin).catch(() => undefined);
    }
    const c = per.get(snap.coin) as CoinReconciliation;
    c.adjustment = checkPosition({ journal, coin: snap.coin, snap, logger, mark, at: 'start' });
  }
  const exchangeTime = Math.max(...snaps.map((s) => s.time));
  const one = snaps.length === 1 ? per.get(snaps[0].coin) : undefined;
  journal.record({
    type: 'session',
    exTime: exchangeTime,
    rxTime: Date.now(),
    data: {
      event: 'reconciled',
      exchangeTime,
      since: one ? (one.since ?? null) : null,
      fillsRecovered,
      fundingsRecovered,
      ordersClosed,
      adjusted: [...per.values()].some((c) => c.adjustment !== undefined),
      ...(one
        ? {}
        : {
            coins: [...per.values()].map((c) => ({
              coin: c.coin,
              since: c.since ?? null,
              fillsRecovered: c.fillsRecovered,
              fundingsRecovered: c.fundingsRecovered,
              adjusted: c.adjustment !== undefined,
            })),
          }),
    },
  });
  return {
    exchangeTime,
    fillsRecovered,
    fundingsRecovered,
    ordersClosed,
    calls,
    coins: [...per.values()],
  };
}

/**
 * Compare the journal's position (from its fills, funding and earlier adjustments) with the venue's; journal
 * an explicit adjustment for a difference, with a warning. Returns the adjustment made, if any.
 */
export function checkPosition(o: {
  journal: SqliteJournal;
  coin: string;
  snap: ExchangeSnapshot;
  logger: TradingLogger;
  mark?: number;
  at: string;
}): { from: number; to: number } | undefined {
  const { journal, coin, snap, logger } = o;
  const book = journal.positionBook(coin);
  if (Math.abs(book.position - snap.position) <= POSITION_EPS) return undefined;
  const entry = Number.isFinite(snap.entryPx) && snap.entryPx > 0 ? snap.entryPx : undefined;
  const px = entry ?? (o.mark !== undefined && o.mark > 0 ? o.mark : undefined);
  logger.warn(
    { coin, journal: book.position, venue: snap.position, at: o.at },
    'the venue position differs from the journalled fills: journalling an explicit adjustment',
  );
  journal.record({
    type: 'adjustment',
    exTime: snap.time,
    rxTime: Date.now(),
    data: {
      coin,
      position: snap.position,
      px: px ?? null,
      entryPx: entry ?? null,
      reason: 'venue position differs from the journalled fills',
      at: o.at,
    },
  });
  return { from: book.position, to: snap.position };
}
