/**
 * POST /info of the loopback server: every request a standard Hyperliquid client makes to load markets and
 * trade a perp, answered with Hyperliquid's field names and string-encoded numbers (the shapes are checked
 * against @nktkas/hyperliquid's response types in test/venue/loopback-info.test.ts). A request the exchange
 * would not deserialize — an unknown `type`, a missing or malformed field — gets its HTTP 422 text.
 *
 * Market context the loopback cannot know from a recording is its own: the oracle and mark price are the
 * book's mid; open interest is that of the loopback's accounts; 24 h volume and prevDayPx come from the
 * trades replayed so far.
 */
import type {
  FundingHistoryResponse,
  L2BookResponse,
  MetaAndAssetCtxsResponse,
  MetaResponse,
  PerpDexsResponse,
  PredictedFundingsResponse,
  SpotClearinghouseStateResponse,
  SpotMetaAndAssetCtxsResponse,
  SpotMetaResponse,
  UserRateLimitResponse,
} from '@nktkas/hyperliquid/api/info';
import { type AssetRules, priceDecimals } from '../../exchange/order-rules.ts';
import type { BookEvent, BookLevel } from '../../marketdata/events.ts';
import { type CandleBook, isCandleInterval } from './candles.ts';
import { type ExchangeState, fmtPx } from './exchange-state.ts';
import { FUNDING_PAGE, type FundingSchedule, nextHourAfter } from './funding.ts';
import { requestCap } from './limits.ts';
import { userFeesResponse } from './user-fees.ts';
import { decimal, fixed, isAddress, levelOrders, optTime, type Reply, reply422 } from './wire.ts';

/** The first entries of Hyperliquid's perp universe (index = asset id used in orders). */
export const HYPERLIQUID_UNIVERSE_HEAD: readonly AssetRules[] = [
  { coin: 'BTC', asset: 0, szDecimals: 5, maxLeverage: 40 },
  { coin: 'ETH', asset: 1, szDecimals: 4, maxLeverage: 25 },
  { coin: 'ATOM', asset: 2, szDecimals: 2, maxLeverage: 5 },
  { coin: 'MATIC', asset: 3, szDecimals: 1, maxLeverage: 20 },
  { coin: 'DYDX', asset: 4, szDecimals: 1, maxLeverage: 10 },
  { coin: 'SOL', asset: 5, szDecimals: 2, maxLeverage: 20 },
];

/** Hyperliquid's USDC, token 0 of the spot universe (the perps' collateral). */
const USDC_TOKEN: SpotMetaResponse['tokens'][number] = {
  name: 'USDC',
  szDecimals: 8,
  weiDecimals: 8,
  index: 0,
  tokenId: '0x6d1e7cde53ba9467b783cb7c530ce054',
  isCanonical: true,
  evmContract: null,
  fullName: null,
  deployerTradingFeeShare: '0.0',
};

/** Notional whose average execution price is an asset's impact price (Hyperliquid: 20k for BTC/ETH, else 6k). */
function impactNotional(coin: string): number {
  return coin === 'BTC' || coin === 'ETH' ? 20_000 : 6_000;
}

export interface InfoContext {
  assets: readonly AssetRules[];
  state: ExchangeState;
  candles: CandleBook;
  funding: FundingSchedule;
  latestBook: Map<string, BookEvent>;
  /** Market notional per UTC day from the replayed trades (`userFees.dailyUserVlm.exchange`). */
  exchangeDaily: Map<number, number>;
  /** Exchange time now (ms). */
  now(): number;
  /** First exchange time of a coin's market (its funding history starts there). */
  listedAt(coin: string): number;
}

/** A mid is half a tick finer than prices (the exchange prints 3350.15 between 3350.1 and 3350.2). */
export function fmtMid(mid: number, szDecimals: number): string {
  return fixed(mid, priceDecimals(mid, szDecimals) + 1);
}

/** Average execution price of `notional` USD taken from book levels; undefined when the book is too thin. */
function impactPx(levels: BookLevel[], notional: number): number | undefined {
  let usd = 0;
  let base = 0;
  for (const l of levels) {
    const take = Math.min(l.sz, (notional - usd) / l.px);
    usd += take * l.px;
    base += take;
    if (usd >= notional - 1e-9) return usd / base;
  }
  return undefined;
}

/** Merge book levels to `nSigFigs` significant figures (bids rounded down, asks up), as l2Book does. */
function aggregateLevels(
  levels: BookLevel[],
  nSigFigs: number,
  mantissa: number,
  isBid: boolean,
): BookLevel[] {
  const out: BookLevel[] = [];
  for (const l of levels) {
    const mag = Math.floor(Math.log10(l.px)) + 1;
    const step = 10 ** (mag - nSigFigs) * (nSigFigs === 5 && mantissa > 1 ? mantissa : 1);
    const k = l.px / step;
    const r = isBid ? Math.floor(k + 1e-9) : Math.ceil(k - 1e-9);
    const px = Number((r * step).toPrecision(12));
    const last = out[out.length - 1];
    if (last && last.px === px) {
      last.sz += l.sz;
      last.n += l.n;
    } else out.push({ px, sz: l.sz, n: l.n });
  }
  return out;
}

export function createInfoHandler(ctx: InfoContext): (req: Record<string, unknown>) => Reply {
  const { state, assets } = ctx;
  const ok = (body: unknown): Reply => ({ status: 200, body });
  const served = new Set(assets.map((a) => a.coin));
  const byCoin = new Map(assets.map((a) => [a.coin, a]));

  const metaBody = (): MetaResponse => {
    const maxIndex = Math.max(...assets.map((a) => a.asset));
    const universe: MetaResponse['universe'] = [];
    const tables = new Set<number>();
    for (let i = 0; i <= maxIndex; i++) {
      const a = assets.find((x) => x.asset === i);
      const head = HYPERLIQUID_UNIVERSE_HEAD[i];
      if (a) {
        const lev = a.maxLeverage ?? 20;
        tables.add(lev);
        universe.push({ szDecimals: a.szDecimals, name: a.coin, maxLeverage: lev, marginTableId: lev });
      } else if (head) {
        const lev = head.maxLeverage ?? 20;
        tables.add(lev);
        universe.push({
          szDecimals: head.szDecimals,
          name: head.coin,
          maxLeverage: lev,
          marginTableId: lev,
          isDelisted: true,
        });
      } else {
        tables.add(1);
        universe.push({
          szDecimals: 0,
          name: `UNUSED${i}`,
          maxLeverage: 1,
          marginTableId: 1,
          isDelisted: true,
        });
      }
    }
    // One single-tier table per leverage, with its leverage as id (Hyperliquid's numbering below 50).
    const marginTables: MetaResponse['marginTables'] = [...tables]
      .sort((x, y) => x - y)
      .map((lev) => [lev, { description: '', marginTiers: [{ lowerBound: '0.0', maxLeverage: lev }] }]);
    return { universe, marginTables, collateralToken: 0 };
  };

  const assetCtx = (name: string, szDecimals: number): MetaAndAssetCtxsResponse[1][number] => {
    const now = ctx.now();
    const mid = served.has(name) ? state.mid(name) : Number.NaN;
    const px = Number.isFinite(mid) ? fmtMid(mid, szDecimals) : null;
    const day = ctx.candles.day(name, now);
    const next = served.has(name) ? ctx.funding.at(name, nextHourAfter(now)) : { rate: 0, premium: 0 };
    const book = ctx.latestBook.get(name);
    const n = impactNotional(name);
    const ib = book ? impactPx(book.bids, n) : undefined;
    const ia = book ? impactPx(book.asks, n) : undefined;
    const pd = priceDecimals(mid, szDecimals) + 1;
    return {
      prevDayPx: day.prevDayPx === undefined ? (px ?? '0.0') : fmtPx(day.prevDayPx, szDecimals),
      dayNtlVlm: decimal(day.ntlVlm),
      markPx: px ?? '0.0',
      midPx: px,
      funding: decimal(next.rate),
      openInterest: decimal(state.openInterest(name)),
      premium: served.has(name) ? decimal(next.premium) : null,
      oraclePx: px ?? '0.0',
      impactPxs: ib !== undefined && ia !== undefined ? [fixed(ib, pd), fixed(ia, pd)] : null,
      dayBaseVlm: decimal(day.baseVlm),
    };
  };

  const spotMeta = (): SpotMetaResponse => ({ universe: [], tokens: [USDC_TOKEN] });

  const l2Book = (req: Record<string, unknown>): Reply => {
    if (typeof req.coin !== 'string') return reply422();
    const nSig = req.nSigFigs ?? null;
    const mantissa = req.mantissa ?? null;
    if (nSig !== null && !(nSig === 2 || nSig === 3 || nSig === 4 || nSig === 5)) return reply422();
    if (mantissa !== null && !(nSig === 5 && (mantissa === 1 || mantissa === 2 || mantissa === 5)))
      return reply422();
    const book = ctx.latestBook.get(req.coin);
    const rules = byCoin.get(req.coin);
    if (!book || !rules) return ok(null);
    const side = (levels: BookLevel[], isBid: boolean) =>
      (nSig === null ? levels : aggregateLevels(levels, nSig, (mantissa as number | null) ?? 1, isBid)).map(
        (l) => ({
          px: fmtPx(l.px, rules.szDecimals),
          sz: fixed(l.sz, rules.szDecimals),
          n: levelOrders(l.n),
        }),
      );
    const body: L2BookResponse = {
      coin: req.coin,
      time: Math.floor(ctx.now()),
      levels: [side(book.bids, true), side(book.asks, false)],
    };
    return ok(body);
  };

  const candleSnapshot = (req: Record<string, unknown>): Reply => {
    const r = req.req as Record<string, unknown> | undefined;
    if (typeof r !== 'object' || r === null || typeof r.coin !== 'string' || !isCandleInterval(r.interval))
      return reply422();
    const start = optTime(r.startTime);
    const end = optTime(r.endTime);
    if (start === undefined || Number.isNaN(start) || Number.isNaN(end)) return reply422();
    const rules = byCoin.get(r.coin);
    if (!rules) return ok([]);
    const now = ctx.now();
    const bars = ctx.candles.snapshot(r.coin, r.interval, start, Math.min(end ?? now, now));
    return ok(
      bars.map((b) => ({
        t: b.t,
        T: b.T,
        s: r.coin,
        i: r.interval,
        o: fmtPx(b.o, rules.szDecimals),
        c: fmtPx(b.c, rules.szDecimals),
        h: fmtPx(b.h, rules.szDecimals),
        l: fmtPx(b.l, rules.szDecimals),
        v: fixed(b.v, rules.szDecimals),
        n: b.n,
      })),
    );
  };

  const fundingHistory = (req: Record<string, unknown>): Reply => {
    if (typeof req.coin !== 'string') return reply422();
    const start = optTime(req.startTime);
    const end = optTime(req.endTime);
    if (start === undefined || Number.isNaN(start) || Number.isNaN(end)) return reply422();
    if (!served.has(req.coin)) return ok([]);
    const now = ctx.now();
    const rows = ctx.funding.history(req.coin, start, end ?? now, now, ctx.listedAt(req.coin));
    const body: FundingHistoryResponse = rows.map((r) => ({
      coin: r.coin,
      fundingRate: decimal(r.fundingRate),
      premium: decimal(r.premium),
      time: r.time,
    }));
    return ok(body);
  };

  const predictedFundings = (): Reply => {
    const next = nextHourAfter(ctx.now());
    const body: PredictedFundingsResponse = assets.map((a) => [
      a.coin,
      [
        [
          'HlPerp',
          {
            fundingRate: decimal(ctx.funding.at(a.coin, next).rate),
            nextFundingTime: next,
            fundingIntervalHours: 1,
          },
        ],
      ],
    ]);
    return ok(body);
  };

  return (req) => {
    const user = isAddress(req.user) ? req.user.toLowerCase() : undefined;
    const dexOk = req.dex === undefined || req.dex === null || req.dex === '';
    switch (req.type) {
      case 'meta':
        return dexOk ? ok(metaBody()) : reply422();
      case 'metaAndAssetCtxs': {
        if (!dexOk) return reply422();
        const meta = metaBody();
        const body: MetaAndAssetCtxsResponse = [
          meta,
          meta.universe.map((u) => assetCtx(u.name, u.szDecimals)),
        ];
        return ok(body);
      }
      case 'spotMeta':
        return ok(spotMeta());
      case 'spotMetaAndAssetCtxs': {
        const body: SpotMetaAndAssetCtxsResponse = [spotMeta(), []];
        return ok(body);
      }
      case 'perpDexs': {
        const body: PerpDexsResponse = [null];
        return ok(body);
      }
      case 'allMids': {
        if (!dexOk) return reply422();
        const mids: Record<string, string> = {};
        for (const a of assets) {
          const m = state.mid(a.coin);
          if (Number.isFinite(m)) mids[a.coin] = fmtMid(m, a.szDecimals);
        }
        return ok(mids);
      }
      case 'l2Book':
        return l2Book(req);
      case 'candleSnapshot':
        return candleSnapshot(req);
      case 'fundingHistory':
        return fundingHistory(req);
      case 'predictedFundings':
        return predictedFundings();
    }
    // Everything below is about one account.
    if (!user) return reply422();
    switch (req.type) {
      case 'clearinghouseState':
        return dexOk ? ok(state.clearinghouseState(user)) : reply422();
      case 'spotClearinghouseState': {
        // The account's USDC sits in the perps clearinghouse; its spot side holds nothing.
        const body: SpotClearinghouseStateResponse = { balances: [] };
        return ok(body);
      }
      case 'openOrders':
        return dexOk ? ok(state.openOrders(user)) : reply422();
      case 'frontendOpenOrders':
        return dexOk ? ok(state.frontendOpenOrders(user)) : reply422();
      case 'orderStatus': {
        const oid = req.oid;
        if (typeof oid === 'number' && Number.isSafeInteger(oid)) return ok(state.orderStatus(user, oid));
        if (typeof oid === 'string' && /^0x[0-9a-fA-F]{32}$/.test(oid))
          return ok(state.orderStatus(user, oid.toLowerCase()));
        return reply422();
      }
      case 'historicalOrders':
        return ok(state.historicalOrders(user));
      case 'userFills':
        return ok(state.userFills(user, req.aggregateByTime === true));
      case 'userFillsByTime': {
        const start = optTime(req.startTime);
        const end = optTime(req.endTime);
        if (start === undefined || Number.isNaN(start) || Number.isNaN(end)) return reply422();
        return ok(
          state.userFillsByTime(user, start, end ?? Number.MAX_SAFE_INTEGER, {
            aggregateByTime: req.aggregateByTime === true,
            reversed: req.reversed === true,
          }),
        );
      }
      case 'userFunding': {
        const start = optTime(req.startTime);
        const end = optTime(req.endTime);
        if (start === undefined || Number.isNaN(start) || Number.isNaN(end)) return reply422();
        return ok(state.userFunding(user, start, end ?? Number.MAX_SAFE_INTEGER, FUNDING_PAGE));
      }
      case 'userFees': {
        const acc = state.peek(user);
        return ok(
          userFeesResponse({
            fees: acc.fees,
            now: ctx.now(),
            userDaily: acc.daily,
            exchangeDaily: ctx.exchangeDaily,
          }),
        );
      }
      case 'userRateLimit': {
        const acc = state.peek(user);
        const body: UserRateLimitResponse = {
          cumVlm: fixed(acc.cumVlm, 6),
          nRequestsUsed: acc.nRequestsUsed,
          nRequestsCap: requestCap(acc.cumVlm),
          nRequestsSurplus: 0,
        };
        return ok(body);
      }
    }
    return reply422();
  };
}
