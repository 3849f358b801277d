/**
 * The loopback server's exchange state: accounts, order records, fills and positions. Matching itself is the
 * simulated exchange's core (src/exchange/matching.ts, one MatchingEngine per coin, owners = account
 * addresses), shared with the backtester; this file adds what a real exchange keeps around it — global order
 * ids, order status history, per-account cross-margin accounting (position, entry price, realized PnL, fees)
 * and the Hyperliquid wire shapes of everything it reports.
 */
import type { OrderSide } from '../../engine/types.ts';
import type { FeeSchedule } from '../../exchange/fees.ts';
import { type MatchFill, MatchingEngine, type PlaceResult } from '../../exchange/matching.ts';
import { type AssetRules, HL_ERRORS, priceDecimals, toWire } from '../../exchange/order-rules.ts';
import type { MarketEvent } from '../../marketdata/events.ts';

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
  | 'scheduledCancel';

export interface OrderRecord {
  order: OrderView;
  /** The matching engine's own id for the order (engines number per coin). */
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
  cumFunding: number;
}

export interface Account {
  address: string;
  /** Cash balance in USD (deposits + realized PnL − fees). */
  balance: number;
  positions: Map<string, Position>;
  leverage: Map<string, number>;
  fills: WireFill[];
  scheduledCancelAt?: number;
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
  onFills: (user: string, fills: WireFill[]) => void;
}

const DEFAULT_LEVERAGE = 20;

export class ExchangeState {
  readonly accounts = new Map<string, Account>();
  /** Every order ever accepted, by global oid. */
  readonly orders = new Map<number, OrderRecord>();
  private readonly engines = new Map<string, MatchingEngine>();
  /** `${coin}:${engineOid}` → global oid. */
  private readonly globalOid = new Map<string, number>();
  private readonly assetsByIndex = new Map<number, AssetRules>();
  private readonly assetsByCoin = new Map<string, AssetRules>();
  private nextOid = 1_000_000;
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

  account(user: string): Account {
    const key = user.toLowerCase();
    let acc = this.accounts.get(key);
    if (!acc) {
      acc = {
        address: key,
        balance: this.opts.initialBalance,
        positions: new Map(),
        leverage: new Map(),
        fills: [],
      };
      this.accounts.set(key, acc);
    }
    return acc;
  }

  assetRules(asset: number): AssetRules | undefined {
    return this.assetsByIndex.get(asset);
  }

  /** Resting orders (of one user when given), oldest first. */
  restingOrders(user?: string): OrderView[] {
    const out: OrderView[] = [];
    for (const r of this.orders.values())
      if (r.status === 'open' && (!user || r.order.user === user)) out.push(r.order);
    return out.sort((a, b) => a.oid - b.oid);
  }

  mid(coin: string): number {
    const e = this.engines.get(coin);
    return e ? e.mid() : Number.NaN;
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
        rec.status = 'filled';
        rec.statusTimestamp = f.exTime;
        const u = updates.get(rec.order.user) ?? [];
        u.push(this.orderUpdate(rec.order, 'filled', f.exTime));
        updates.set(rec.order.user, u);
      }
    }
    for (const [user, list] of byUser) this.opts.onFills(user, list);
    for (const [user, list] of updates) this.opts.onOrderUpdates(user, list);
  }

  orderUpdate(o: OrderView, status: string, ts: number): WireOrderUpdate {
    const szDec = this.assetsByCoin.get(o.coin)?.szDecimals ?? 0;
    return {
      order: {
        coin: o.coin,
        side: o.side,
        limitPx: fmtPx(o.px, szDec),
        sz: toWire(o.sz, szDec),
        oid: o.oid,
        timestamp: o.timestamp,
        origSz: toWire(o.origSz, szDec),
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
    const pos = acc.positions.get(rules.coin) ?? { szi: 0, entryPx: 0, cumFunding: 0 };
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
    pos.szi = next;
    acc.positions.set(rules.coin, pos);
    acc.balance += closedPnl - f.fee;
    const fill: WireFill = {
      coin: rules.coin,
      px: fmtPx(f.px, rules.szDecimals),
      sz: toWire(sz, rules.szDecimals),
      side: f.side === 'bid' ? 'B' : 'A',
      time: f.exTime,
      startPosition: toWire(start, rules.szDecimals),
      dir: direction(start, signed),
      closedPnl: closedPnl.toFixed(6),
      hash: `0x${oid.toString(16).padStart(32, '0')}${f.tid.toString(16).padStart(32, '0')}`,
      oid,
      crossed: f.liquidity === 'taker',
      fee: f.fee.toFixed(6),
      tid: f.tid,
      ...(f.cloid ? { cloid: f.cloid } : {}),
      feeToken: 'USDC',
      twapId: null,
    };
    acc.fills.push(fill);
    return fill;
  }

  /** Turn an engine result into the exchange's order status, recording the order. */
  private settle(
    user: string,
    rules: AssetRules,
    input: OrderInput,
    r: PlaceResult,
    now: number,
  ): OrderStatusWire {
    if (r.status === 'error') return { error: r.error };
    const oid = this.nextOid++;
    this.globalOid.set(`${rules.coin}:${r.oid}`, oid);
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
    const rec: OrderRecord = { order, engineOid: r.oid, status: 'open', statusTimestamp: now };
    this.orders.set(oid, rec);
    if (r.fills.length > 0) this.bookFills(rules.coin, r.fills);
    const cloid = input.cloid ? { cloid: input.cloid } : {};
    if (r.status === 'resting') {
      this.opts.onOrderUpdates(user, [this.orderUpdate(order, 'open', now)]);
      return { resting: { oid, ...cloid } };
    }
    // Filled, or an Ioc that filled partly: the order is done either way.
    if (rec.status === 'open') {
      rec.status = order.sz <= 0 ? 'filled' : 'canceled';
      rec.statusTimestamp = now;
      this.opts.onOrderUpdates(user, [this.orderUpdate(order, rec.status, now)]);
    }
    return {
      filled: {
        totalSz: toWire(roundSz(r.totalSz, rules.szDecimals), rules.szDecimals),
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
    const acc = this.account(user);
    if (!input.reduceOnly && !this.hasMarginFor(acc, rules, Number(input.pxStr), Number(input.szStr))) {
      return { error: `Insufficient margin to place order. asset=${input.asset}` };
    }
    return { rules };
  }

  /** Place one order (already signature-checked) for `user`. */
  placeOrder(user: string, input: OrderInput): OrderStatusWire {
    const v = this.validateInput(user, input);
    if ('error' in v) return v;
    const engine = this.engines.get(v.rules.coin) as MatchingEngine;
    const now = this.opts.now();
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
  private hasMarginFor(acc: Account, rules: AssetRules, px: number, sz: number): boolean {
    const lev = this.leverageOf(acc, rules.coin);
    const summary = this.marginSummary(acc);
    let restingMargin = 0;
    for (const o of this.restingOrders(acc.address))
      restingMargin += (o.px * o.sz) / this.leverageOf(acc, o.coin);
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

  findByCloid(user: string, cloid: string): OrderRecord | undefined {
    const want = cloid.toLowerCase();
    let best: OrderRecord | undefined;
    for (const r of this.orders.values()) {
      if (
        r.order.user === user &&
        r.order.cloid?.toLowerCase() === want &&
        (!best || r.order.oid > best.order.oid)
      ) {
        best = r;
      }
    }
    return best;
  }

  private cancelRecord(rec: OrderRecord, status: OrderFinalStatus): boolean {
    const engine = this.engines.get(rec.order.coin);
    if (!engine || rec.status !== 'open') return false;
    const r = engine.cancel(rec.engineOid, this.opts.now(), rec.order.user);
    if (r.status !== 'success') return false;
    const now = this.opts.now();
    rec.status = status;
    rec.statusTimestamp = now;
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
    const r = engine.modify(
      rec.engineOid,
      { px: Number(input.pxStr), sz: Number(input.szStr), newCloid: input.cloid, tif: input.tif as WireTif },
      now,
      user,
    );
    // The engine cancels the old order once the replacement passes validation, even if it is then rejected.
    const oldStillLive = engine.openOrders(user).some((o) => o.oid === rec.engineOid);
    if (!oldStillLive) {
      rec.status = 'canceled';
      rec.statusTimestamp = now;
      this.opts.onOrderUpdates(user, [this.orderUpdate(rec.order, 'canceled', now)]);
    }
    return this.settle(user, v.rules, { ...input, isBuy: rec.order.side === 'B' }, r, now);
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

  clearinghouseState(user: string) {
    const acc = this.account(user);
    const s = this.marginSummary(acc);
    const summary = {
      accountValue: s.accountValue.toFixed(6),
      totalNtlPos: s.totalNtlPos.toFixed(6),
      totalRawUsd: (s.accountValue - s.upnl).toFixed(6),
      totalMarginUsed: s.totalMarginUsed.toFixed(6),
    };
    const assetPositions = [];
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
        type: 'oneWay' as const,
        position: {
          coin,
          szi: toWire(p.szi, szDec),
          leverage: { type: 'cross' as const, value: lev },
          entryPx: fmtPx(p.entryPx, szDec),
          positionValue: value.toFixed(6),
          unrealizedPnl: upnl.toFixed(6),
          returnOnEquity: (margin > 0 ? upnl / margin : 0).toFixed(6),
          liquidationPx: null,
          marginUsed: margin.toFixed(6),
          maxLeverage: rules?.maxLeverage ?? 50,
          cumFunding: { allTime: '0.0', sinceOpen: '0.0', sinceChange: '0.0' },
        },
      });
    }
    return {
      marginSummary: summary,
      crossMarginSummary: summary,
      crossMaintenanceMarginUsed: (s.totalMarginUsed / 2).toFixed(6),
      withdrawable: Math.max(0, s.accountValue - s.totalMarginUsed).toFixed(6),
      assetPositions,
      time: this.opts.now(),
    };
  }

  openOrders(user: string) {
    return this.restingOrders(user).map((o) => ({
      ...this.orderUpdate(o, 'open', o.timestamp).order,
      reduceOnly: o.reduceOnly,
    }));
  }

  orderStatus(user: string, oidOrCloid: number | string) {
    const rec =
      typeof oidOrCloid === 'number' ? this.orders.get(oidOrCloid) : this.findByCloid(user, oidOrCloid);
    if (!rec || rec.order.user !== user) return { status: 'unknownOid' as const };
    const w = this.orderUpdate(rec.order, rec.status, rec.statusTimestamp);
    return {
      status: 'order' as const,
      order: {
        order: {
          ...w.order,
          triggerCondition: 'N/A',
          isTrigger: false,
          triggerPx: '0.0',
          children: [],
          isPositionTpsl: false,
          reduceOnly: rec.order.reduceOnly,
          orderType: 'Limit',
          tif: rec.order.tif,
          cloid: rec.order.cloid ?? null,
        },
        status: rec.status,
        statusTimestamp: rec.statusTimestamp,
      },
    };
  }
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
  return toWire(px, priceDecimals(px, szDecimals));
}
