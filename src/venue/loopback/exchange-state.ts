/**
 * The loopback server's exchange state: accounts, order records, fills and positions. Matching itself is the
 * simulated exchange's core (src/exchange/matching.ts, one MatchingEngine per coin, owners = account
 * addresses), shared with the backtester; this file adds what a real exchange keeps around it — global order
 * ids, order status history (rejections included), per-account cross-margin accounting (position, entry
 * price, realized PnL, the account's own fee rates, hourly funding), the account's lifetime volume and
 * request count (mainnet's limits, limits.ts) and the Hyperliquid wire shapes of everything it reports.
 */
import type {
  ClearinghouseStateResponse,
  FrontendOpenOrdersResponse,
  HistoricalOrdersResponse,
  OpenOrdersResponse,
  OrderStatusResponse,
  UserFundingResponse,
} from '@nktkas/hyperliquid/api/info';
import type { OrderSide } from '../../engine/types.ts';
import type { FeeSchedule } from '../../exchange/fees.ts';
import { type MatchFill, MatchingEngine, type PlaceResult } from '../../exchange/matching.ts';
import { type AssetRules, HL_ERRORS, priceDecimals } from '../../exchange/order-rules.ts';
import type { MarketEvent } from '../../marketdata/events.ts';
import { type DailyVolume, dayNumber } from './user-fees.ts';
import { decimal, fixed } from './wire.ts';

export type WireSide = 'B' | 'A';
export type WireTif = 'Alo' | 'Gtc' | 'Ioc';

/** An order as the server reports it (global oid; `sz` is the remaining size). */
export interface OrderView {
  oid: number;
  cloid?: string;
  user: string;
  coin: string;
  asset: number;
  side: WireSide;
  px: number;
  sz: number;
  origSz: number;
  tif: WireTif;
  reduceOnly: boolean;
  timestamp: number;
}

export type OrderFinalStatus =
  | 'open'
  | 'filled'
  | 'canceled'
  | 'rejected'
  | 'badAloPxRejected'
  | 'iocCancelRejected'
  | 'minTradeNtlRejected'
  | 'tickRejected'
  | 'reduceOnlyRejected'
  | 'perpMarginRejected'
  | 'scheduledCancel';

export interface OrderRecord {
  order: OrderView;
  /** The matching engine's own id for the order (engines number per coin); -1 for a rejected order. */
  engineOid: number;
  status: OrderFinalStatus;
  statusTimestamp: number;
}

/** A fill in Hyperliquid's `userFills` wire shape. */
export interface WireFill {
  coin: string;
  px: string;
  sz: string;
  side: WireSide;
  time: number;
  startPosition: string;
  dir: string;
  closedPnl: string;
  hash: string;
  oid: number;
  crossed: boolean;
  fee: string;
  tid: number;
  cloid?: string;
  feeToken: string;
  twapId: null;
}

export interface WireOrderUpdate {
  order: {
    coin: string;
    side: WireSide;
    limitPx: string;
    sz: string;
    oid: number;
    timestamp: number;
    origSz: string;
    cloid?: string;
    reduceOnly?: boolean;
  };
  status: string;
  statusTimestamp: number;
}

export type OrderStatusWire =
  | { resting: { oid: number; cloid?: string } }
  | { filled: { totalSz: string; avgPx: string; oid: number; cloid?: string } }
  | { error: string };

export interface Position {
  szi: number;
  entryPx: number;
  /** Funding paid (positive) or received (negative), USD: all time, since the position opened, since its size last changed. */
  fundingAllTime: number;
  fundingSinceOpen: number;
  fundingSinceChange: number;
}

/** One hourly funding payment of one position (`userFunding`). */
export interface FundingEvent {
  time: number;
  coin: string;
  /** USD credited to the account (negative = paid). */
  usdc: number;
  szi: number;
  fundingRate: number;
  hash: string;
}

export interface Account {
  address: string;
  /** Cash balance in USD (deposits + realized PnL − fees + funding). */
  balance: number;
  positions: Map<string, Position>;
  leverage: Map<string, number>;
  /** Fills in time order. */
  fills: WireFill[];
  scheduledCancelAt?: number;
  /** The account's fee rates (charged on its fills, reported by `userFees`). */
  fees: FeeSchedule;
  /** Lifetime traded notional, USD (mainnet's request budget, nonce set size and scheduleCancel gate). */
  cumVlm: number;
  /** Address-budget requests used since the account's creation. */
  nRequestsUsed: number;
  lastAdmittedAt?: number;
  fundings: FundingEvent[];
  /** Resting orders (global oids). */
  open: Set<number>;
  /** Every order the account sent that got an oid (rejections included), in order. */
  orderIds: number[];
  /** Taker/maker notional per UTC day (`userFees.dailyUserVlm`). */
  daily: Map<number, DailyVolume>;
}

/** Starting state of an account (server options / `cjmm venue serve` flags). */
export interface AccountSetup {
  balance?: number;
  fees?: FeeSchedule;
  /** Lifetime traded volume before the replay, USD. */
  lifetimeVolume?: number;
  /** Address-budget requests already used. */
  requestsUsed?: number;
}

export interface OrderInput {
  asset: number;
  isBuy: boolean;
  pxStr: string;
  szStr: string;
  reduceOnly: boolean;
  tif: string;
  cloid?: string;
  isTrigger: boolean;
}

export interface ExchangeStateOptions {
  assets: AssetRules[];
  fees: FeeSchedule;
  initialBalance: number;
  /** Exchange clock (replay time). */
  now: () => number;
  onOrderUpdates: (user: string, updates: WireOrderUpdate[]) => void;
  /** Whether anyone listens to a user's order updates (they are not built otherwise: a hot path). */
  wantsOrderUpdates?: (user: string) => boolean;
  onFills: (user: string, fills: WireFill[]) => void;
  onFundings?: (user: string, events: FundingEvent[]) => void;
}

const DEFAULT_LEVERAGE = 20;
/** `userFillsByTime` only sees an account's most recent fills (Hyperliquid keeps 10,000 there). */
export const FILLS_BY_TIME_HORIZON = 10_000;
/** Fills per `userFills` / `userFillsByTime` answer, orders per `historicalOrders` answer. */
export const FILLS_PAGE = 2000;

/** The status an order gets when a rule refuses it (what `orderStatus` and `historicalOrders` report). */
function rejectionStatus(error: string): OrderFinalStatus | undefined {
  if (error.startsWith('Post only order would have immediately matched')) return 'badAloPxRejected';
  if (error.startsWith('Order could not immediately match')) return 'iocCancelRejected';
  if (error.startsWith('Order must have minimum value')) return 'minTradeNtlRejected';
  if (error.startsWith('Price must be divisible by tick size')) return 'tickRejected';
  if (error.startsWith('Reduce only order would increase position')) return 'reduceOnlyRejected';
  if (error.startsWith('Insufficient margin to place order')) return 'perpMarginRejected';
  return undefined;
}

export class ExchangeState {
  readonly accounts = new Map<string, Account>();
  /** Every order ever given an oid, by global oid. */
  readonly orders = new Map<number, OrderRecord>();
  private readonly engines = new Map<string, MatchingEngine>();
  /** `${coin}:${engineOid}` → global oid. */
  private readonly globalOid = new Map<string, number>();
  /** `${user}|${cloid}` → the latest oid with that cloid. */
  private readonly byCloid = new Map<string, number>();
  private readonly assetsByIndex = new Map<number, AssetRules>();
  private readonly assetsByCoin = new Map<string, AssetRules>();
  /**
   * Order ids never repeat, across restarts too (as on Hyperliquid, where they only grow): a journal kept from an
   * earlier run identifies fills by trade id and order id, and a server restarting at the same ids would make
   * new fills look like old ones. Wall-clock ms × 1000 leaves a thousand ids per ms of uptime.
   */
  private nextOid = Date.now() * 1000;
  private readonly opts: ExchangeStateOptions;

  constructor(opts: ExchangeStateOptions) {
    this.opts = opts;
    for (const a of opts.assets) {
      this.assetsByIndex.set(a.asset, a);
      this.assetsByCoin.set(a.coin, a);
      this.engines.set(
        a.coin,
        new MatchingEngine({ coin: a.coin, asset: a.asset, szDecimals: a.szDecimals, fees: opts.fees }),
      );
    }
  }

  /** The account of `user`, created (funded with the initial balance) on first use. */
  account(user: string): Account {
    const key = user.toLowerCase();
    let acc = this.accounts.get(key);
    if (!acc) {
      acc = this.blank(key, this.opts.initialBalance);
      this.accounts.set(key, acc);
    }
    return acc;
  }

  /** The account of `user` for reading: an address that never traded here reads as empty (not created). */
  peek(user: string): Account {
    const key = user.toLowerCase();
    return this.accounts.get(key) ?? this.blank(key, 0);
  }

  private blank(address: string, balance: number): Account {
    return {
      address,
      balance,
      positions: new Map(),
      leverage: new Map(),
      fills: [],
      fees: { ...this.opts.fees },
      cumVlm: 0,
      nRequestsUsed: 0,
      fundings: [],
      open: new Set(),
      orderIds: [],
      daily: new Map(),
    };
  }

  /** Apply a starting setup to an account (creating it). */
  setupAccount(user: string, setup: AccountSetup): Account {
    const acc = this.account(user);
    if (setup.balance !== undefined) acc.balance = setup.balance;
    if (setup.fees) acc.fees = { ...setup.fees };
    if (setup.lifetimeVolume !== undefined) acc.cumVlm = setup.lifetimeVolume;
    if (setup.requestsUsed !== undefined) acc.nRequestsUsed = setup.requestsUsed;
    return acc;
  }

  assetRules(asset: number): AssetRules | undefined {
    return this.assetsByIndex.get(asset);
  }

  coinRules(coin: string): AssetRules | undefined {
    return this.assetsByCoin.get(coin);
  }

  /** Resting orders (of one user when given), oldest first. */
  restingOrders(user?: string): OrderView[] {
    const out: OrderView[] = [];
    const accs = user === undefined ? [...this.accounts.values()] : [this.accounts.get(user.toLowerCase())];
    for (const acc of accs) {
      if (!acc) continue;
      for (const oid of acc.open) {
        const r = this.orders.get(oid);
        if (r) out.push(r.order);
      }
    }
    return out.sort((a, b) => a.oid - b.oid);
  }

  mid(coin: string): number {
    const e = this.engines.get(coin);
    return e ? e.mid() : Number.NaN;
  }

  /** Best bid and ask the matching sees (NaN when unknown). */
  bbo(coin: string): [number, number] {
    const e = this.engines.get(coin);
    return e ? [e.bestBid(), e.bestAsk()] : [Number.NaN, Number.NaN];
  }

  /** Feed one replayed market event to the coin's matching engine and book the fills it causes. */
  onMarket(ev: MarketEvent): void {
    const engine = this.engines.get(ev.coin);
    if (!engine) return;
    const fills =
      ev.kind === 'book' ? engine.onBook(ev) : ev.kind === 'bbo' ? engine.onBbo(ev) : engine.onTrade(ev);
    if (fills.length > 0) this.bookFills(ev.coin, [...fills]);
  }

  /** Account for engine fills, update order records, push orderUpdates/userFills per user. */
  private bookFills(coin: string, fills: MatchFill[]): void {
    const rules = this.assetsByCoin.get(coin);
    if (!rules) return;
    const byUser = new Map<string, WireFill[]>();
    const updates = new Map<string, WireOrderUpdate[]>();
    for (const f of fills) {
      const oid = this.globalOid.get(`${coin}:${f.oid}`);
      const rec = oid === undefined ? undefined : this.orders.get(oid);
      if (!rec) continue;
      const wire = this.applyFill(rec.order.user, rules, f, oid as number);
      const list = byUser.get(rec.order.user) ?? [];
      list.push(wire);
      byUser.set(rec.order.user, list);
      rec.order.sz = roundSz(f.remaining, rules.szDecimals);
      if (rec.order.sz <= 0 && rec.status === 'open') {
        this.close(rec, 'filled', f.exTime);
        if (this.wants(rec.order.user)) {
          const u = updates.get(rec.order.user) ?? [];
          u.push(this.orderUpdate(rec.order, 'filled', f.exTime));
          updates.set(rec.order.user, u);
        }
      }
    }
    for (const [user, list] of byUser) this.opts.onFills(user, list);
    for (const [user, list] of updates) this.opts.onOrderUpdates(user, list);
  }

  private wants(user: string): boolean {
    return this.opts.wantsOrderUpdates?.(user) ?? true;
  }

  private close(rec: OrderRecord, status: OrderFinalStatus, ts: number): void {
    rec.status = status;
    rec.statusTimestamp = ts;
    this.accounts.get(rec.order.user)?.open.delete(rec.order.oid);
  }

  orderUpdate(o: OrderView, status: string, ts: number): WireOrderUpdate {
    const szDec = this.assetsByCoin.get(o.coin)?.szDecimals ?? 0;
    return {
      order: {
        coin: o.coin,
        side: o.side,
        limitPx: fmtPx(o.px, szDec),
        sz: fixed(o.sz, szDec),
        oid: o.oid,
        timestamp: o.timestamp,
        origSz: fixed(o.origSz, szDec),
        ...(o.cloid ? { cloid: o.cloid } : {}),
        ...(o.reduceOnly ? { reduceOnly: true } : {}),
      },
      status,
      statusTimestamp: ts,
    };
  }

  /** Book a fill on the account (position, entry price, realized PnL, fee) and return its wire form. */
  private applyFill(user: string, rules: AssetRules, f: MatchFill, oid: number): WireFill {
    const acc = this.account(user);
    let pos = acc.positions.get(rules.coin);
    if (!pos) {
      pos = { szi: 0, entryPx: 0, fundingAllTime: 0, fundingSinceOpen: 0, fundingSinceChange: 0 };
      acc.positions.set(rules.coin, pos);
    }
    const sz = roundSz(f.sz, rules.szDecimals);
    const start = pos.szi;
    const signed = f.side === 'bid' ? sz : -sz;
    let closedPnl = 0;
    if (start !== 0 && Math.sign(start) !== Math.sign(signed)) {
      closedPnl = Math.min(Math.abs(start), sz) * (f.px - pos.entryPx) * Math.sign(start);
    }
    const next = roundSz(start + signed, rules.szDecimals);
    if (next === 0) pos.entryPx = 0;
    else if (start === 0 || Math.sign(next) !== Math.sign(start)) pos.entryPx = f.px;
    else if (Math.abs(next) > Math.abs(start)) {
      pos.entryPx = (pos.entryPx * Math.abs(start) + f.px * sz) / Math.abs(next);
    }
    if (start === 0 || (next !== 0 && Math.sign(next) !== Math.sign(start))) pos.fundingSinceOpen = 0;
    pos.fundingSinceChange = 0;
    pos.szi = next;
    // The account's own rates, whatever the engine's default (a negative maker rate is a rebate).
    const notional = f.px * sz;
    const fee = notional * (f.liquidity === 'maker' ? acc.fees.maker : acc.fees.taker);
    acc.balance += closedPnl - fee;
    acc.cumVlm += notional;
    const day = dayNumber(f.exTime);
    let dv = acc.daily.get(day);
    if (!dv) acc.daily.set(day, (dv = { cross: 0, add: 0 }));
    if (f.liquidity === 'taker') dv.cross += notional;
    else dv.add += notional;
    const fill: WireFill = {
      coin: rules.coin,
      px: fmtPx(f.px, rules.szDecimals),
      sz: fixed(sz, rules.szDecimals),
      side: f.side === 'bid' ? 'B' : 'A',
      time: f.exTime,
      startPosition: fixed(start, rules.szDecimals),
      dir: direction(start, signed),
      closedPnl: fixed(closedPnl, 6),
      hash: `0x${oid.toString(16).padStart(32, '0')}${f.tid.toString(16).padStart(32, '0')}`,
      oid,
      crossed: f.liquidity === 'taker',
      fee: fixed(fee, 6),
      tid: f.tid,
      ...(f.cloid ? { cloid: f.cloid } : {}),
      feeToken: 'USDC',
      twapId: null,
    };
    acc.fills.push(fill);
    return fill;
  }

  /** Record an order under a new global oid. */
  private record(
    user: string,
    rules: AssetRules,
    input: OrderInput,
    engineOid: number,
    now: number,
  ): OrderRecord {
    const oid = this.nextOid++;
    const sz = Number(input.szStr);
    const order: OrderView = {
      oid,
      ...(input.cloid ? { cloid: input.cloid } : {}),
      user,
      coin: rules.coin,
      asset: rules.asset,
      side: input.isBuy ? 'B' : 'A',
      px: Number(input.pxStr),
      sz,
      origSz: sz,
      tif: input.tif as WireTif,
      reduceOnly: input.reduceOnly,
      timestamp: now,
    };
    const rec: OrderRecord = { order, engineOid, status: 'open', statusTimestamp: now };
    this.orders.set(oid, rec);
    if (input.cloid) this.byCloid.set(`${user}|${input.cloid.toLowerCase()}`, oid);
    this.account(user).orderIds.push(oid);
    return rec;
  }

  /** A refused order still gets an oid and a history entry with its rejection status (as on the exchange). */
  private reject(
    user: string,
    rules: AssetRules,
    input: OrderInput,
    error: string,
    now: number,
  ): OrderStatusWire {
    const status = rejectionStatus(error);
    if (status && Number(input.szStr) > 0 && Number(input.pxStr) > 0) {
      const rec = this.record(user, rules, input, -1, now);
      rec.status = status;
      rec.order.sz = 0;
    }
    return { error };
  }

  /** Turn an engine result into the exchange's order status, recording the order. */
  private settle(
    user: string,
    rules: AssetRules,
    input: OrderInput,
    r: PlaceResult,
    now: number,
  ): OrderStatusWire {
    if (r.status === 'error') return this.reject(user, rules, input, r.error, now);
    const rec = this.record(user, rules, input, r.oid, now);
    const order = rec.order;
    const oid = order.oid;
    this.globalOid.set(`${rules.coin}:${r.oid}`, oid);
    this.account(user).open.add(oid);
    if (r.fills.length > 0) this.bookFills(rules.coin, r.fills);
    const cloid = input.cloid ? { cloid: input.cloid } : {};
    if (r.status === 'resting') {
      if (this.wants(user)) this.opts.onOrderUpdates(user, [this.orderUpdate(order, 'open', now)]);
      return { resting: { oid, ...cloid } };
    }
    // Filled, or an Ioc that filled partly: the order is done either way.
    if (rec.status === 'open') {
      this.close(rec, order.sz <= 0 ? 'filled' : 'canceled', now);
      if (this.wants(user)) this.opts.onOrderUpdates(user, [this.orderUpdate(order, rec.status, now)]);
    }
    return {
      filled: {
        totalSz: fixed(roundSz(r.totalSz, rules.szDecimals), rules.szDecimals),
        avgPx: fmtPx(r.avgPx, rules.szDecimals),
        oid,
        ...cloid,
      },
    };
  }

  private validateInput(user: string, input: OrderInput): { rules: AssetRules } | { error: string } {
    const rules = this.assetsByIndex.get(input.asset);
    if (!rules) return { error: `Invalid asset. asset=${input.asset}` };
    if (input.isTrigger) {
      return { error: `Trigger orders are not supported by the loopback server. asset=${input.asset}` };
    }
    if (input.tif !== 'Alo' && input.tif !== 'Gtc' && input.tif !== 'Ioc') {
      return { error: `Invalid TIF. asset=${input.asset}` };
    }
    if (!/^\d+(\.\d+)?$/.test(input.pxStr)) return { error: HL_ERRORS.invalidPrice() };
    if (!/^\d+(\.\d+)?$/.test(input.szStr)) return { error: HL_ERRORS.invalidSize() };
    if (input.cloid && this.findByCloid(user, input.cloid)?.status === 'open')
      return { error: 'Duplicate cloid.' };
    return { rules };
  }

  /** Place one order (already signature-checked) for `user`. */
  placeOrder(user: string, input: OrderInput): OrderStatusWire {
    const v = this.validateInput(user, input);
    if ('error' in v) return v;
    const now = this.opts.now();
    const acc = this.account(user);
    if (!input.reduceOnly && !this.hasMarginFor(acc, v.rules, Number(input.pxStr), Number(input.szStr))) {
      return this.reject(
        user,
        v.rules,
        input,
        `Insufficient margin to place order. asset=${input.asset}`,
        now,
      );
    }
    const engine = this.engines.get(v.rules.coin) as MatchingEngine;
    const side: OrderSide = input.isBuy ? 'bid' : 'ask';
    const r = engine.place(
      {
        owner: user,
        cloid: input.cloid,
        side,
        px: Number(input.pxStr),
        sz: Number(input.szStr),
        tif: input.tif as WireTif,
        reduceOnly: input.reduceOnly,
      },
      now,
    );
    return this.settle(user, v.rules, input, r, now);
  }

  /** Initial margin check: (position + resting + new notional) / leverage must fit in the account value. */
  private hasMarginFor(acc: Account, rules: AssetRules, px: number, sz: number, except?: number): boolean {
    const lev = this.leverageOf(acc, rules.coin);
    const summary = this.marginSummary(acc);
    let restingMargin = 0;
    for (const oid of acc.open) {
      if (oid === except) continue;
      const o = this.orders.get(oid)?.order;
      if (o) restingMargin += (o.px * o.sz) / this.leverageOf(acc, o.coin);
    }
    return summary.accountValue - summary.totalMarginUsed - restingMargin >= (px * sz) / lev - 1e-9;
  }

  private leverageOf(acc: Account, coin: string): number {
    const max = this.assetsByCoin.get(coin)?.maxLeverage ?? DEFAULT_LEVERAGE;
    return acc.leverage.get(coin) ?? Math.min(DEFAULT_LEVERAGE, max);
  }

  marginSummary(acc: Account): {
    accountValue: number;
    totalNtlPos: number;
    totalMarginUsed: number;
    upnl: number;
  } {
    let upnl = 0;
    let ntl = 0;
    let used = 0;
    for (const [coin, p] of acc.positions) {
      if (p.szi === 0) continue;
      const mark = this.markPx(coin, p.entryPx);
      upnl += p.szi * (mark - p.entryPx);
      ntl += Math.abs(p.szi) * mark;
      used += (Math.abs(p.szi) * mark) / this.leverageOf(acc, coin);
    }
    return { accountValue: acc.balance + upnl, totalNtlPos: ntl, totalMarginUsed: used, upnl };
  }

  markPx(coin: string, fallback: number): number {
    const mid = this.mid(coin);
    return Number.isFinite(mid) ? mid : fallback;
  }

  /** Open interest of the loopback's own accounts in a coin (sum of |position|). */
  openInterest(coin: string): number {
    let oi = 0;
    for (const acc of this.accounts.values()) oi += Math.abs(acc.positions.get(coin)?.szi ?? 0);
    return oi;
  }

  findByCloid(user: string, cloid: string): OrderRecord | undefined {
    const oid = this.byCloid.get(`${user}|${cloid.toLowerCase()}`);
    return oid === undefined ? undefined : this.orders.get(oid);
  }

  private cancelRecord(rec: OrderRecord, status: OrderFinalStatus): boolean {
    const engine = this.engines.get(rec.order.coin);
    if (!engine || rec.status !== 'open') return false;
    const r = engine.cancel(rec.engineOid, this.opts.now(), rec.order.user);
    if (r.status !== 'success') return false;
    const now = this.opts.now();
    this.close(rec, status, now);
    if (this.wants(rec.order.user))
      this.opts.onOrderUpdates(rec.order.user, [this.orderUpdate(rec.order, status, now)]);
    return true;
  }

  cancel(user: string, asset: number, oid: number): 'success' | { error: string } {
    const rec = this.orders.get(oid);
    if (!rec || rec.order.user !== user || rec.order.asset !== asset || !this.cancelRecord(rec, 'canceled')) {
      return { error: HL_ERRORS.cancelMissing() };
    }
    return 'success';
  }

  cancelByCloid(user: string, asset: number, cloid: string): 'success' | { error: string } {
    const rec = this.findByCloid(user, cloid);
    if (!rec) return { error: HL_ERRORS.cancelMissing() };
    return this.cancel(user, asset, rec.order.oid);
  }

  /** Modify = cancel + place; the replacement gets a new oid (as on Hyperliquid) and loses queue priority. */
  modify(user: string, target: number | string, input: OrderInput): OrderStatusWire {
    const rec = typeof target === 'number' ? this.orders.get(target) : this.findByCloid(user, target);
    if (rec?.status !== 'open' || rec.order.user !== user) return { error: HL_ERRORS.modifyMissing() };
    const v = this.validateInput(user, { ...input, cloid: undefined });
    if ('error' in v) return v;
    const engine = this.engines.get(rec.order.coin) as MatchingEngine;
    const now = this.opts.now();
    const replacement = { ...input, isBuy: rec.order.side === 'B' };
    const acc = this.account(user);
    if (
      !rec.order.reduceOnly &&
      !this.hasMarginFor(acc, v.rules, Number(input.pxStr), Number(input.szStr), rec.order.oid)
    ) {
      // Refused before anything changes: the order being modified stays as it was.
      return { error: `Insufficient margin to place order. asset=${input.asset}` };
    }
    const r = engine.modify(
      rec.engineOid,
      { px: Number(input.pxStr), sz: Number(input.szStr), newCloid: input.cloid, tif: input.tif as WireTif },
      now,
      user,
    );
    // The engine cancels the old order once the replacement passes validation, even if it is then rejected.
    if (engine.openOrder(rec.engineOid) === undefined) {
      this.close(rec, 'canceled', now);
      if (this.wants(user)) this.opts.onOrderUpdates(user, [this.orderUpdate(rec.order, 'canceled', now)]);
    }
    return this.settle(user, v.rules, replacement, r, now);
  }

  /** Cancel every resting order of `user` (the scheduleCancel dead man's switch). */
  cancelAll(user: string, status: OrderFinalStatus = 'canceled'): number {
    let n = 0;
    for (const o of this.restingOrders(user)) {
      const rec = this.orders.get(o.oid);
      if (rec && this.cancelRecord(rec, status)) n++;
    }
    return n;
  }

  updateLeverage(user: string, asset: number, leverage: number): { ok: true } | { error: string } {
    const rules = this.assetsByIndex.get(asset);
    if (!rules) return { error: `Invalid asset. asset=${asset}` };
    const max = rules.maxLeverage ?? 50;
    if (!Number.isInteger(leverage) || leverage < 1 || leverage > max)
      return { error: 'Invalid leverage value' };
    this.account(user).leverage.set(rules.coin, leverage);
    return { ok: true };
  }

  /**
   * Settle one hour's funding: every open position pays szi × mark × rate (a positive rate: longs pay
   * shorts), rounded to the micro-dollar as the exchange reports it. Pushes the events per user.
   */
  settleFunding(hour: number, rateOf: (coin: string) => number): void {
    for (const acc of this.accounts.values()) {
      let events: FundingEvent[] | undefined;
      for (const [coin, p] of acc.positions) {
        if (p.szi === 0) continue;
        const rate = rateOf(coin);
        const mark = this.markPx(coin, p.entryPx);
        const usdc = Math.round(-p.szi * mark * rate * 1e6) / 1e6;
        acc.balance += usdc;
        p.fundingAllTime -= usdc;
        p.fundingSinceOpen -= usdc;
        p.fundingSinceChange -= usdc;
        const asset = this.assetsByCoin.get(coin)?.asset ?? 0;
        const ev: FundingEvent = {
          time: hour,
          coin,
          usdc,
          szi: p.szi,
          fundingRate: rate,
          hash: `0x${hour.toString(16).padStart(32, '0')}${asset.toString(16).padStart(32, '0')}`,
        };
        acc.fundings.push(ev);
        (events ??= []).push(ev);
      }
      if (events) this.opts.onFundings?.(acc.address, events);
    }
  }

  /** One funding payment as the `userFundings` stream sends it. */
  fundingWire(ev: FundingEvent): Omit<UserFundingResponse[number]['delta'], 'type'> & { time: number } {
    const szDec = this.assetsByCoin.get(ev.coin)?.szDecimals ?? 0;
    return {
      time: ev.time,
      coin: ev.coin,
      usdc: fixed(ev.usdc, 6),
      szi: fixed(ev.szi, szDec),
      fundingRate: decimal(ev.fundingRate),
      nSamples: null,
    };
  }

  /** `userFunding`: the account's funding payments in [startTime, endTime], oldest first, at most 500. */
  userFunding(user: string, startTime: number, endTime: number, limit: number): UserFundingResponse {
    const out: UserFundingResponse = [];
    for (const ev of this.peek(user).fundings) {
      if (ev.time < startTime) continue;
      if (ev.time > endTime || out.length >= limit) break;
      const { time, ...rest } = this.fundingWire(ev);
      out.push({ time, hash: ev.hash as `0x${string}`, delta: { type: 'funding', ...rest } });
    }
    return out;
  }

  clearinghouseState(user: string): ClearinghouseStateResponse {
    const acc = this.peek(user);
    const s = this.marginSummary(acc);
    const summary = {
      accountValue: fixed(s.accountValue, 6),
      totalNtlPos: fixed(s.totalNtlPos, 6),
      totalRawUsd: fixed(s.accountValue - s.upnl, 6),
      totalMarginUsed: fixed(s.totalMarginUsed, 6),
    };
    const assetPositions: ClearinghouseStateResponse['assetPositions'] = [];
    for (const [coin, p] of acc.positions) {
      if (p.szi === 0) continue;
      const rules = this.assetsByCoin.get(coin);
      const szDec = rules?.szDecimals ?? 0;
      const lev = this.leverageOf(acc, coin);
      const mark = this.markPx(coin, p.entryPx);
      const value = Math.abs(p.szi) * mark;
      const upnl = p.szi * (mark - p.entryPx);
      const margin = value / lev;
      assetPositions.push({
        type: 'oneWay',
        position: {
          coin,
          szi: fixed(p.szi, szDec),
          leverage: { type: 'cross', value: lev },
          entryPx: fmtPx(p.entryPx, szDec),
          positionValue: fixed(value, 6),
          unrealizedPnl: fixed(upnl, 6),
          returnOnEquity: fixed(margin > 0 ? upnl / margin : 0, 6),
          liquidationPx: null,
          marginUsed: fixed(margin, 6),
          maxLeverage: rules?.maxLeverage ?? 50,
          cumFunding: {
            allTime: fixed(p.fundingAllTime, 6),
            sinceOpen: fixed(p.fundingSinceOpen, 6),
            sinceChange: fixed(p.fundingSinceChange, 6),
          },
        },
      });
    }
    return {
      marginSummary: summary,
      crossMarginSummary: { ...summary },
      crossMaintenanceMarginUsed: fixed(s.totalMarginUsed / 2, 6),
      withdrawable: fixed(Math.max(0, s.accountValue - s.totalMarginUsed), 6),
      assetPositions,
      time: this.opts.now(),
    };
  }

  openOrders(user: string): OpenOrdersResponse {
    return this.restingOrders(user).map(
      (o) => this.orderUpdate(o, 'open', o.timestamp).order as OpenOrdersResponse[number],
    );
  }

  /** An order as the frontend endpoints show it (`frontendOpenOrders`, `orderStatus`, `historicalOrders`). */
  private frontendOrder(o: OrderView): FrontendOpenOrdersResponse[number] {
    const szDec = this.assetsByCoin.get(o.coin)?.szDecimals ?? 0;
    return {
      coin: o.coin,
      side: o.side,
      limitPx: fmtPx(o.px, szDec),
      sz: fixed(o.sz, szDec),
      oid: o.oid,
      timestamp: o.timestamp,
      origSz: fixed(o.origSz, szDec),
      triggerCondition: 'N/A',
      isTrigger: false,
      triggerPx: '0.0',
      children: [],
      isPositionTpsl: false,
      reduceOnly: o.reduceOnly,
      orderType: 'Limit',
      tif: o.tif,
      cloid: (o.cloid as `0x${string}` | undefined) ?? null,
    };
  }

  frontendOpenOrders(user: string): FrontendOpenOrdersResponse {
    return this.restingOrders(user).map((o) => this.frontendOrder(o));
  }

  orderStatus(user: string, oidOrCloid: number | string): OrderStatusResponse {
    const rec =
      typeof oidOrCloid === 'number' ? this.orders.get(oidOrCloid) : this.findByCloid(user, oidOrCloid);
    if (!rec || rec.order.user !== user) return { status: 'unknownOid' };
    return {
      status: 'order',
      order: {
        order: this.frontendOrder(rec.order),
        status: rec.status,
        statusTimestamp: rec.statusTimestamp,
      },
    };
  }

  /** `historicalOrders`: the account's most recent orders (2000), newest first, with their latest status. */
  historicalOrders(user: string): HistoricalOrdersResponse {
    const ids = this.peek(user).orderIds;
    const out: HistoricalOrdersResponse = [];
    for (let i = ids.length - 1; i >= 0 && out.length < FILLS_PAGE; i--) {
      const rec = this.orders.get(ids[i]);
      if (rec)
        out.push({
          order: this.frontendOrder(rec.order),
          status: rec.status,
          statusTimestamp: rec.statusTimestamp,
        });
    }
    return out;
  }

  /** `userFills`: the most recent fills, newest first. */
  userFills(user: string, aggregateByTime = false): WireFill[] {
    const fills = this.peek(user).fills;
    const recent = fills.slice(Math.max(0, fills.length - FILLS_PAGE));
    return (aggregateByTime ? aggregateFills(recent) : recent).reverse();
  }

  /**
   * `userFillsByTime`: fills with time in [startTime, endTime] among the account's most recent 10,000, at
   * most 2000 per answer, oldest first (so a client pages by moving startTime past the last one it got); with
   * `reversed`, the newest 2000 of the range, newest first.
   */
  userFillsByTime(
    user: string,
    startTime: number,
    endTime: number,
    opts: { aggregateByTime?: boolean; reversed?: boolean } = {},
  ): WireFill[] {
    const all = this.peek(user).fills;
    let lo = Math.max(0, all.length - FILLS_BY_TIME_HORIZON);
    let hi = all.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (all[mid].time < startTime) lo = mid + 1;
      else hi = mid;
    }
    const first = lo;
    let end = first;
    while (end < all.length && all[end].time <= endTime) end++;
    let range = all.slice(first, end);
    if (opts.aggregateByTime) range = aggregateFills(range);
    if (opts.reversed) return range.slice(Math.max(0, range.length - FILLS_PAGE)).reverse();
    return range.slice(0, FILLS_PAGE);
  }
}

/**
 * Merge the partial fills of one crossing order at one time (a taker order that took several levels) into one
 * fill: sizes, fees and closed PnL summed, the price size-weighted (`aggregateByTime`).
 */
function aggregateFills(fills: WireFill[]): WireFill[] {
  const out: WireFill[] = [];
  for (const f of fills) {
    const last = out[out.length - 1];
    if (last && f.crossed && last.crossed && last.oid === f.oid && last.time === f.time) {
      const a = Number(last.sz);
      const b = Number(f.sz);
      const dec = Math.max(decimalsOf(last.sz), decimalsOf(f.sz));
      const pxDec = Math.max(decimalsOf(last.px), decimalsOf(f.px)) + 2;
      out[out.length - 1] = {
        ...last,
        px: fixed((Number(last.px) * a + Number(f.px) * b) / (a + b), pxDec),
        sz: fixed(a + b, dec),
        closedPnl: fixed(Number(last.closedPnl) + Number(f.closedPnl), 6),
        fee: fixed(Number(last.fee) + Number(f.fee), 6),
      };
    } else out.push({ ...f });
  }
  return out;
}

function decimalsOf(s: string): number {
  const i = s.indexOf('.');
  return i < 0 ? 0 : s.length - i - 1;
}

function direction(start: number, signed: number): string {
  const end = start + signed;
  if (start === 0 || (start > 0 && end > start) || (start < 0 && end < start)) {
    return signed > 0 ? 'Open Long' : 'Open Short';
  }
  if (start > 0 && end < 0) return 'Long > Short';
  if (start < 0 && end > 0) return 'Short > Long';
  return start > 0 ? 'Close Long' : 'Close Short';
}

function roundSz(x: number, szDecimals: number): number {
  return Number(x.toFixed(szDecimals));
}

/** Price as the exchange prints it: the allowed decimals for its magnitude, no trailing zeros. */
export function fmtPx(px: number, szDecimals: number): string {
  if (!Number.isFinite(px)) return '0';
  return fixed(px, priceDecimals(px, szDecimals));
}
