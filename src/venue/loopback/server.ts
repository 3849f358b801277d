/**
 * The loopback Hyperliquid server: speaks the exchange's protocol on 127.0.0.1 so the real adapter code (ours
 * and @nktkas/hyperliquid's clients) can be exercised end to end against a replayed market.
 *
 * - HTTP POST /info: meta, metaAndAssetCtxs, allMids, l2Book, clearinghouseState, openOrders,
 *   frontendOpenOrders, userFills, orderStatus.
 * - HTTP POST /exchange: order (Alo/Gtc/Ioc), cancel, cancelByCloid, modify, batchModify, scheduleCancel,
 *   updateLeverage — each signature recovered as the exchange does (src/venue/loopback/signing.ts), nonces
 *   checked per signer, API (agent) wallets mapped to their master account.
 * - WebSocket /ws: subscribe/unsubscribe (l2Book, trades, bbo, orderUpdates, userFills with isSnapshot),
 *   ping/pong, post (info and action).
 * - POST /_control (Authorization: Bearer <token>): fault injection, see faults.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { type FeeSchedule, HYPERLIQUID_BASE_FEES } from '../../exchange/fees.ts';
import { type AssetRules, priceDecimals, toWire } from '../../exchange/order-rules.ts';
import type { BboEvent, BookEvent, MarketEvent, TradeEvent } from '../../marketdata/events.ts';
import { bboToWire, bookToWire, tradesToWire } from '../../marketdata/hyperliquid-wire.ts';
import { ExchangeState, type OrderInput, type WireFill, type WireOrderUpdate } from './exchange-state.ts';
import { FaultInjector } from './faults.ts';
import { ReplayClock } from './replay.ts';
import { isWireSignature, recoverL1Signer } from './signing.ts';

/** The first entries of Hyperliquid's perp universe (index = asset id used in orders). */
export const HYPERLIQUID_UNIVERSE_HEAD: readonly AssetRules[] = [
  { coin: 'BTC', asset: 0, szDecimals: 5, maxLeverage: 40 },
  { coin: 'ETH', asset: 1, szDecimals: 4, maxLeverage: 25 },
  { coin: 'ATOM', asset: 2, szDecimals: 2, maxLeverage: 5 },
  { coin: 'MATIC', asset: 3, szDecimals: 1, maxLeverage: 20 },
  { coin: 'DYDX', asset: 4, szDecimals: 1, maxLeverage: 10 },
  { coin: 'SOL', asset: 5, szDecimals: 2, maxLeverage: 20 },
];

export interface LoopbackAccount {
  address: string;
  /** Starting USD balance (default: the server's initialBalance). */
  balance?: number;
}

export interface LoopbackServerOptions {
  /** Market events to replay (any coins; those outside `coins` are ignored). */
  events: MarketEvent[];
  /** Coins served; default: every coin present in `events`. */
  coins?: string[];
  /** Replay speed multiplier (1 = real time). Default 1. */
  speed?: number;
  port?: number;
  host?: string;
  /** Exchange time (ms) to start the replay at; default the first event. */
  startAt?: number;
  loop?: boolean;
  /**
   * Shift every exchange (and receive) time so the replay starts at the wall clock's now: clients then see
   * current timestamps (sensible lags, nonces and order times on one clock). Trade ids are unchanged.
   */
  shiftToNow?: boolean;
  /** Start replaying immediately (default true); otherwise call `replay.start()`. */
  autoStart?: boolean;
  /** Asset rules (meta). Default: Hyperliquid's real indices for BTC/ETH/…, else appended after them. */
  assets?: AssetRules[];
  fees?: FeeSchedule;
  /** Accounts allowed to trade (master addresses). */
  accounts?: LoopbackAccount[];
  /** API wallets: agent address → master address. */
  agents?: Record<string, string>;
  /** Accept any signer as a funded account (convenient for demos; the exchange itself does not). */
  openAccounts?: boolean;
  initialBalance?: number;
  /** Token for POST /_control; without one the control endpoint is disabled. */
  controlToken?: string;
  /** Expect testnet signatures (phantom agent source "b"). */
  isTestnet?: boolean;
  /** Minimum delay of a scheduleCancel time from now, ms (the exchange's is 5000). */
  scheduleCancelMinDelayMs?: number;
  /** Trades sent as the first message of a `trades` subscription (the exchange sends recent trades). */
  recentTradesOnSubscribe?: number;
}

export interface LoopbackServer {
  httpUrl: string;
  wsUrl: string;
  port: number;
  /** Exchange (replay) clock. */
  clock: { now(): number };
  replay: ReplayClock;
  faults: FaultInjector;
  state: ExchangeState;
  stats: { wsConnections: number; marketMessagesSent: number; ordersReceived: number };
  /** Live WebSocket subscriptions (all connections). */
  subscriptionCount(): number;
  /** Register an API wallet at run time. */
  addAgent(agent: string, master: string): void;
  addAccount(account: LoopbackAccount): void;
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  /** subscription key → subscription object as the client sent it. */
  subs: Map<string, Record<string, unknown>>;
}

type Reply = { status: number; body: unknown };

const MAX_BODY = 1 << 20;
const NONCE_WINDOW = 100;
const NONCE_PAST_MS = 2 * 24 * 3600 * 1000;
const NONCE_FUTURE_MS = 24 * 3600 * 1000;
const DESERIALIZE_ERROR = 'Failed to deserialize the JSON body into the target type';

/** A mid is half a tick finer than prices (the exchange prints 3350.15 between 3350.1 and 3350.2). */
function fmtMid(mid: number, szDecimals: number): string {
  return toWire(mid, priceDecimals(mid, szDecimals) + 1);
}

/** Default asset rules for a coin list: Hyperliquid's real index where known, else appended in order. */
export function defaultAssets(
  coins: string[],
  szDecimalsHint: Map<string, number> = new Map(),
): AssetRules[] {
  const out: AssetRules[] = [];
  let next = HYPERLIQUID_UNIVERSE_HEAD.length;
  for (const coin of coins) {
    const known = HYPERLIQUID_UNIVERSE_HEAD.find((a) => a.coin === coin);
    if (known) out.push({ ...known });
    else out.push({ coin, asset: next++, szDecimals: szDecimalsHint.get(coin) ?? 2, maxLeverage: 20 });
  }
  return out;
}

/** Largest number of size decimals seen per coin (a lower bound of the coin's szDecimals). */
export function inferSzDecimals(events: MarketEvent[]): Map<string, number> {
  const out = new Map<string, number>();
  const dec = (x: number) => {
    const s = String(x);
    const i = s.indexOf('.');
    return i < 0 ? 0 : Math.min(6, s.length - i - 1);
  };
  for (const e of events) {
    let d = 0;
    if (e.kind === 'trade') d = dec(e.sz);
    else if (e.kind === 'bbo') d = Math.max(dec(e.bidSz || 0), dec(e.askSz || 0));
    else for (const l of e.bids.slice(0, 3)) d = Math.max(d, dec(l.sz));
    if (d > (out.get(e.coin) ?? -1)) out.set(e.coin, d);
  }
  return out;
}

export async function startLoopbackServer(opts: LoopbackServerOptions): Promise<LoopbackServer> {
  const host = opts.host ?? '127.0.0.1';
  const coins = opts.coins ?? [...new Set(opts.events.map((e) => e.coin))];
  if (coins.length === 0)
    throw new Error('loopback server: no coins to serve (events are empty and coins not given)');
  const coinSet = new Set(coins);
  let events = opts.events.filter((e) => coinSet.has(e.coin));
  let startAt = opts.startAt;
  if (opts.shiftToNow && events.length > 0) {
    const first = startAt ?? events.reduce((m, e) => Math.min(m, e.exTime), Number.POSITIVE_INFINITY);
    const shift = Date.now() - first;
    events = events.map((e) => ({ ...e, exTime: e.exTime + shift, rxTime: e.rxTime + shift }));
    if (startAt !== undefined) startAt += shift;
  }
  const assets = opts.assets ?? defaultAssets(coins, inferSzDecimals(events));
  const fees = opts.fees ?? HYPERLIQUID_BASE_FEES;
  const faults = new FaultInjector();
  const masters = new Set<string>();
  const agents = new Map<string, string>();
  const nonces = new Map<string, number[]>();
  const recentTradesN = opts.recentTradesOnSubscribe ?? 10;
  const stats = { wsConnections: 0, marketMessagesSent: 0, ordersReceived: 0 };

  const latestBook = new Map<string, BookEvent>();
  const latestBbo = new Map<string, BboEvent>();
  const recentTrades = new Map<string, TradeEvent[]>();
  const conns = new Set<Conn>();
  const bySub = new Map<string, Set<Conn>>();
  /** Messages held back by the reorder fault, released in reverse order. */
  let held: { conn: Conn; text: string }[] = [];

  // --- outbound WebSocket messages ------------------------------------------------------------------------
  const rawSend = (conn: Conn, text: string) => {
    if (conn.ws.readyState !== conn.ws.OPEN) return;
    const d = faults.state.delayMs;
    if (d > 0) setTimeout(() => conn.ws.readyState === conn.ws.OPEN && conn.ws.send(text), d);
    else conn.ws.send(text);
  };
  /** Data messages go through the duplicate / reorder faults; acks and pongs do not. */
  const sendData = (conn: Conn, text: string) => {
    if (faults.state.reorderLeft > 0) {
      held.push({ conn, text });
      faults.state.reorderLeft--;
      if (faults.state.reorderLeft === 0) {
        const out = held.reverse();
        held = [];
        for (const h of out) rawSend(h.conn, h.text);
      }
      return;
    }
    rawSend(conn, text);
    if (faults.state.duplicateLeft > 0) {
      faults.state.duplicateLeft--;
      rawSend(conn, text);
    }
  };
  const publish = (key: string, msg: unknown, perConn?: (c: Conn) => unknown) => {
    const set = bySub.get(key);
    if (!set || set.size === 0) return;
    const shared = perConn ? undefined : JSON.stringify(msg);
    for (const c of set) sendData(c, shared ?? JSON.stringify(perConn?.(c)));
  };

  // --- exchange state ---------------------------------------------------------------------------------------
  let replay: ReplayClock;
  const state = new ExchangeState({
    assets,
    fees,
    initialBalance: opts.initialBalance ?? 100_000,
    now: () => Math.floor(replay.now()),
    onOrderUpdates: (user: string, updates: WireOrderUpdate[]) =>
      publish(`orderUpdates:${user}`, { channel: 'orderUpdates', data: updates }),
    onFills: (user: string, fills: WireFill[]) =>
      publish(`userFills:${user}`, undefined, (c) => ({
        channel: 'userFills',
        data: { user: c.subs.get(`userFills:${user}`)?.user ?? user, fills },
      })),
  });
  const addAccount = (a: LoopbackAccount) => {
    const addr = a.address.toLowerCase();
    masters.add(addr);
    const acc = state.account(addr);
    if (a.balance !== undefined) acc.balance = a.balance;
  };
  const addAgent = (agent: string, master: string) => {
    agents.set(agent.toLowerCase(), master.toLowerCase());
    if (!masters.has(master.toLowerCase())) addAccount({ address: master });
  };
  for (const a of opts.accounts ?? []) addAccount(a);
  for (const [agent, master] of Object.entries(opts.agents ?? {})) addAgent(agent, master);

  // --- replay -----------------------------------------------------------------------------------------------
  const onMarketBatch = (batch: MarketEvent[]) => {
    const paused = faults.feedPaused();
    let i = 0;
    while (i < batch.length) {
      const ev = batch[i];
      state.onMarket(ev);
      if (ev.kind === 'trade') {
        // One `trades` message per (coin, exchange time), as the exchange groups the fills of one taker order.
        const group: TradeEvent[] = [ev];
        let j = i + 1;
        while (j < batch.length) {
          const n = batch[j];
          if (n.kind !== 'trade' || n.coin !== ev.coin || n.exTime !== ev.exTime) break;
          state.onMarket(n);
          group.push(n);
          j++;
        }
        const ring = recentTrades.get(ev.coin) ?? [];
        ring.push(...group);
        if (ring.length > Math.max(recentTradesN, 1) * 4) ring.splice(0, ring.length - recentTradesN);
        recentTrades.set(ev.coin, ring);
        if (!paused) {
          stats.marketMessagesSent++;
          publish(`trades:${ev.coin}`, tradesToWire(group));
        }
        i = j;
        continue;
      }
      if (ev.kind === 'book') {
        latestBook.set(ev.coin, ev);
        if (!paused) {
          stats.marketMessagesSent++;
          publish(`l2Book:${ev.coin}`, bookToWire(ev));
        }
      } else {
        latestBbo.set(ev.coin, ev);
        if (!paused) {
          stats.marketMessagesSent++;
          publish(`bbo:${ev.coin}`, bboToWire(ev));
        }
      }
      i++;
    }
    runScheduledCancels();
  };
  replay = new ReplayClock({
    events,
    speed: opts.speed ?? 1,
    startAt,
    loop: opts.loop,
    onEvents: onMarketBatch,
  });

  // Dead man's switch: `scheduleCancel.time` is wall-clock ms, as clients send it.
  const runScheduledCancels = () => {
    const now = Date.now();
    for (const acc of state.accounts.values()) {
      if (acc.scheduledCancelAt !== undefined && now >= acc.scheduledCancelAt) {
        acc.scheduledCancelAt = undefined;
        state.cancelAll(acc.address, 'scheduledCancel');
      }
    }
  };
  const cancelTimer = setInterval(runScheduledCancels, 100);
  cancelTimer.unref();

  // --- /info ------------------------------------------------------------------------------------------------
  const metaBody = () => {
    const maxIndex = Math.max(...assets.map((a) => a.asset));
    const universe = [];
    for (let i = 0; i <= maxIndex; i++) {
      const a = assets.find((x) => x.asset === i);
      const head = HYPERLIQUID_UNIVERSE_HEAD[i];
      if (a) universe.push({ name: a.coin, szDecimals: a.szDecimals, maxLeverage: a.maxLeverage ?? 20 });
      else if (head) {
        universe.push({
          name: head.coin,
          szDecimals: head.szDecimals,
          maxLeverage: head.maxLeverage,
          isDelisted: true,
        });
      } else universe.push({ name: `UNUSED${i}`, szDecimals: 0, maxLeverage: 1, isDelisted: true });
    }
    return { universe, marginTables: [], collateralToken: 0 };
  };
  const midOf = (coin: string): number => state.mid(coin);
  const info = (req: Record<string, unknown>): Reply => {
    const user = typeof req.user === 'string' ? req.user.toLowerCase() : undefined;
    switch (req.type) {
      case 'meta':
        return { status: 200, body: metaBody() };
      case 'metaAndAssetCtxs': {
        const meta = metaBody();
        const ctxs = meta.universe.map((u) => {
          const mid = midOf(u.name);
          const px = Number.isFinite(mid) ? fmtMid(mid, u.szDecimals) : null;
          return {
            funding: '0.0',
            openInterest: '0.0',
            prevDayPx: px ?? '0.0',
            dayNtlVlm: '0.0',
            premium: '0.0',
            oraclePx: px ?? '0.0',
            markPx: px ?? '0.0',
            midPx: px,
            impactPxs: px ? [px, px] : null,
            dayBaseVlm: '0.0',
          };
        });
        return { status: 200, body: [meta, ctxs] };
      }
      case 'allMids': {
        const mids: Record<string, string> = {};
        for (const a of assets) {
          const m = midOf(a.coin);
          if (Number.isFinite(m)) mids[a.coin] = fmtMid(m, a.szDecimals);
        }
        return { status: 200, body: mids };
      }
      case 'l2Book': {
        const coin = String(req.coin);
        const book = latestBook.get(coin);
        if (!book) return { status: 200, body: null };
        return { status: 200, body: { ...bookToWire(book).data, time: Math.floor(replay.now()) } };
      }
      case 'clearinghouseState':
        if (!user) break;
        return { status: 200, body: state.clearinghouseState(user) };
      case 'openOrders':
      case 'frontendOpenOrders':
        if (!user) break;
        return { status: 200, body: state.openOrders(user) };
      case 'userFills':
        if (!user) break;
        return { status: 200, body: [...state.account(user).fills].reverse().slice(0, 2000) };
      case 'orderStatus': {
        if (!user) break;
        const oid = typeof req.oid === 'number' ? req.oid : typeof req.oid === 'string' ? req.oid : undefined;
        if (oid === undefined) break;
        return { status: 200, body: state.orderStatus(user, oid) };
      }
    }
    return { status: 422, body: DESERIALIZE_ERROR };
  };

  // --- /exchange --------------------------------------------------------------------------------------------
  const err = (response: string): Reply => ({ status: 200, body: { status: 'err', response } });
  const checkNonce = (signer: string, nonce: number): string | undefined => {
    const now = Date.now();
    if (nonce < now - NONCE_PAST_MS || nonce > now + NONCE_FUTURE_MS) {
      return `Invalid nonce: nonce ${nonce} is outside the allowed window of the current time`;
    }
    const set = nonces.get(signer) ?? [];
    if (set.includes(nonce)) return `Invalid nonce: duplicate nonce ${nonce}`;
    if (set.length >= NONCE_WINDOW && nonce <= set[0]) {
      return `Invalid nonce: nonce ${nonce} is lower than the smallest of the last ${NONCE_WINDOW} (${set[0]})`;
    }
    set.push(nonce);
    set.sort((a, b) => a - b);
    if (set.length > NONCE_WINDOW) set.shift();
    nonces.set(signer, set);
    return undefined;
  };
  const parseOrder = (o: unknown): OrderInput | undefined => {
    if (typeof o !== 'object' || o === null) return undefined;
    const w = o as Record<string, unknown>;
    const t = w.t as Record<string, unknown> | undefined;
    if (
      typeof w.a !== 'number' ||
      typeof w.b !== 'boolean' ||
      typeof w.p !== 'string' ||
      typeof w.s !== 'string'
    ) {
      return undefined;
    }
    const limit = t?.limit as Record<string, unknown> | undefined;
    return {
      asset: w.a,
      isBuy: w.b,
      pxStr: w.p,
      szStr: w.s,
      reduceOnly: w.r === true,
      tif: typeof limit?.tif === 'string' ? limit.tif : 'Gtc',
      cloid: typeof w.c === 'string' ? w.c.toLowerCase() : undefined,
      isTrigger: t !== undefined && 'trigger' in t,
    };
  };
  const placeWithFaults = (user: string, input: OrderInput) => {
    stats.ordersReceived++;
    const rejection = faults.takeOrderRejection();
    if (rejection !== undefined) return { error: rejection };
    return state.placeOrder(user, input);
  };

  const exchange = async (body: Record<string, unknown>): Promise<Reply> => {
    const { action, nonce, signature } = body;
    if (
      typeof action !== 'object' ||
      action === null ||
      typeof nonce !== 'number' ||
      !isWireSignature(signature)
    ) {
      return { status: 422, body: DESERIALIZE_ERROR };
    }
    const vaultAddress = typeof body.vaultAddress === 'string' ? body.vaultAddress.toLowerCase() : undefined;
    const expiresAfter = typeof body.expiresAfter === 'number' ? body.expiresAfter : undefined;
    let signer: string;
    try {
      signer = await recoverL1Signer({
        action,
        nonce,
        signature,
        vaultAddress,
        expiresAfter,
        isTestnet: opts.isTestnet,
      });
    } catch {
      return err('Invalid signature');
    }
    const master = masters.has(signer) ? signer : agents.get(signer);
    let user: string;
    if (master) user = master;
    else if (opts.openAccounts) {
      addAccount({ address: signer });
      user = signer;
    } else return err(`User or API Wallet ${signer} does not exist.`);
    if (vaultAddress) {
      if (!masters.has(vaultAddress)) return err(`Vault not registered: ${vaultAddress}`);
      user = vaultAddress;
    }
    if (expiresAfter !== undefined && expiresAfter < Date.now()) {
      return err(`Action expired: expiresAfter ${expiresAfter} is in the past`);
    }
    const nonceError = checkNonce(signer, nonce);
    if (nonceError) return err(nonceError);

    const a = action as Record<string, unknown>;
    const ok = (type: string, data?: unknown): Reply => ({
      status: 200,
      body: { status: 'ok', response: data === undefined ? { type } : { type, data } },
    });
    switch (a.type) {
      case 'order': {
        if (!Array.isArray(a.orders)) break;
        const statuses = a.orders.map((o) => {
          const input = parseOrder(o);
          return input ? placeWithFaults(user, input) : { error: 'Order has invalid size.' };
        });
        return ok('order', { statuses });
      }
      case 'cancel': {
        if (!Array.isArray(a.cancels)) break;
        const statuses = a.cancels.map((c: { a?: unknown; o?: unknown }) =>
          typeof c?.a === 'number' && typeof c?.o === 'number'
            ? state.cancel(user, c.a, c.o)
            : { error: 'Order was never placed, already canceled, or filled.' },
        );
        return ok('cancel', { statuses });
      }
      case 'cancelByCloid': {
        if (!Array.isArray(a.cancels)) break;
        const statuses = a.cancels.map((c: { asset?: unknown; cloid?: unknown }) =>
          typeof c?.asset === 'number' && typeof c?.cloid === 'string'
            ? state.cancelByCloid(user, c.asset, c.cloid)
            : { error: 'Order was never placed, already canceled, or filled.' },
        );
        return ok('cancel', { statuses });
      }
      case 'batchModify': {
        if (!Array.isArray(a.modifies)) break;
        const statuses = a.modifies.map((m: { oid?: unknown; order?: unknown }) => {
          const input = parseOrder(m?.order);
          const target =
            typeof m?.oid === 'number' ? m.oid : typeof m?.oid === 'string' ? m.oid.toLowerCase() : undefined;
          if (!input || target === undefined) return { error: 'Cannot modify canceled or filled order' };
          stats.ordersReceived++;
          const rejection = faults.takeOrderRejection();
          if (rejection !== undefined) return { error: rejection };
          return state.modify(user, target, input);
        });
        return ok('order', { statuses });
      }
      case 'modify': {
        const input = parseOrder(a.order);
        const target =
          typeof a.oid === 'number' ? a.oid : typeof a.oid === 'string' ? a.oid.toLowerCase() : undefined;
        if (!input || target === undefined) break;
        const r = state.modify(user, target, input);
        return 'error' in r ? err(r.error) : ok('default');
      }
      case 'scheduleCancel': {
        const acc = state.account(user);
        if (a.time === undefined || a.time === null) {
          acc.scheduledCancelAt = undefined;
          return ok('default');
        }
        if (typeof a.time !== 'number') break;
        if (a.time < Date.now() + (opts.scheduleCancelMinDelayMs ?? 5000)) {
          return err('Scheduled cancel time too early, must be at least 5 seconds from now.');
        }
        acc.scheduledCancelAt = a.time;
        return ok('default');
      }
      case 'updateLeverage': {
        if (typeof a.asset !== 'number' || typeof a.leverage !== 'number') break;
        const r = state.updateLeverage(user, a.asset, a.leverage);
        return 'error' in r ? err(r.error) : ok('default');
      }
      case 'noop':
        return ok('default');
      default:
        return err(`Unsupported action type on the loopback server: ${String(a.type)}`);
    }
    return { status: 422, body: DESERIALIZE_ERROR };
  };

  // --- HTTP -------------------------------------------------------------------------------------------------
  const readBody = (req: IncomingMessage): Promise<string> =>
    new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let n = 0;
      req.on('data', (c: Buffer) => {
        n += c.length;
        if (n > MAX_BODY) {
          reject(new Error('body too large'));
          req.destroy();
        } else chunks.push(c);
      });
      req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
      req.on('error', reject);
    });
  const respond = (res: ServerResponse, r: Reply) => {
    const send = () => {
      if (res.writableEnded) return;
      if (typeof r.body === 'string' && r.status !== 200) {
        res.writeHead(r.status, { 'Content-Type': 'text/plain' }).end(r.body);
      } else {
        res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(r.body));
      }
    };
    if (faults.state.delayMs > 0) setTimeout(send, faults.state.delayMs);
    else send();
  };
  const server = createServer(async (req, res) => {
    try {
      if (req.method !== 'POST') return respond(res, { status: 405, body: 'POST only' });
      const path = (req.url ?? '/').split('?')[0];
      const text = await readBody(req);
      let body: unknown;
      try {
        body = JSON.parse(text);
      } catch {
        return respond(res, { status: 422, body: DESERIALIZE_ERROR });
      }
      if (typeof body !== 'object' || body === null)
        return respond(res, { status: 422, body: DESERIALIZE_ERROR });
      if (path === '/_control') {
        if (!opts.controlToken || req.headers.authorization !== `Bearer ${opts.controlToken}`) {
          return respond(res, { status: 401, body: 'control endpoint needs Authorization: Bearer <token>' });
        }
        try {
          return respond(res, { status: 200, body: faults.control(body as Record<string, unknown>) });
        } catch (e) {
          return respond(res, { status: 400, body: (e as Error).message });
        }
      }
      if (path !== '/info' && path !== '/exchange') return respond(res, { status: 404, body: 'not found' });
      if (faults.takeHttp429()) return respond(res, { status: 429, body: null });
      if (path === '/info') return respond(res, info(body as Record<string, unknown>));
      return respond(res, await exchange(body as Record<string, unknown>));
    } catch (e) {
      respond(res, { status: 500, body: (e as Error).message });
    }
  });

  // --- WebSocket --------------------------------------------------------------------------------------------
  const wss = new WebSocketServer({ noServer: true });
  server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== '/ws') {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });
  const subKey = (s: Record<string, unknown>): string | undefined => {
    switch (s.type) {
      case 'l2Book':
      case 'trades':
      case 'bbo':
        return typeof s.coin === 'string' && coinSet.has(s.coin) ? `${s.type}:${s.coin}` : undefined;
      case 'orderUpdates':
      case 'userFills':
        return typeof s.user === 'string' && /^0x[0-9a-fA-F]{40}$/.test(s.user)
          ? `${s.type}:${s.user.toLowerCase()}`
          : undefined;
      default:
        return undefined;
    }
  };
  const snapshotFor = (conn: Conn, key: string, sub: Record<string, unknown>) => {
    const [type, id] = key.split(':');
    // A paused feed sends no market data at all, snapshots included (the client must see it stale).
    if (faults.feedPaused() && type !== 'userFills' && type !== 'orderUpdates') return;
    if (type === 'l2Book') {
      const b = latestBook.get(id);
      if (b) rawSend(conn, JSON.stringify(bookToWire(b)));
    } else if (type === 'bbo') {
      const b = latestBbo.get(id);
      if (b) rawSend(conn, JSON.stringify(bboToWire(b)));
    } else if (type === 'trades') {
      const ring = recentTrades.get(id) ?? [];
      const last = ring.slice(-recentTradesN);
      if (last.length > 0) rawSend(conn, JSON.stringify(tradesToWire(last)));
    } else if (type === 'userFills') {
      const fills = state.account(id).fills.slice(-2000);
      rawSend(
        conn,
        JSON.stringify({ channel: 'userFills', data: { isSnapshot: true, user: sub.user, fills } }),
      );
    }
  };
  const onWsMessage = async (conn: Conn, text: string) => {
    let msg: Record<string, unknown>;
    try {
      msg = JSON.parse(text);
    } catch {
      rawSend(conn, JSON.stringify({ channel: 'error', data: `Invalid JSON: ${text.slice(0, 100)}` }));
      return;
    }
    if (msg.method === 'ping') {
      rawSend(conn, '{"channel":"pong"}');
      return;
    }
    if (msg.method === 'subscribe' || msg.method === 'unsubscribe') {
      const sub = msg.subscription as Record<string, unknown> | undefined;
      const key = sub && typeof sub === 'object' ? subKey(sub) : undefined;
      if (!sub || !key) {
        rawSend(
          conn,
          JSON.stringify({ channel: 'error', data: `Invalid subscription ${JSON.stringify(sub ?? null)}` }),
        );
        return;
      }
      if (msg.method === 'subscribe') {
        if (conn.subs.has(key)) {
          rawSend(
            conn,
            JSON.stringify({ channel: 'error', data: `Already subscribed: ${JSON.stringify(sub)}` }),
          );
          return;
        }
        conn.subs.set(key, sub);
        let set = bySub.get(key);
        if (!set) bySub.set(key, (set = new Set()));
        set.add(conn);
        rawSend(
          conn,
          JSON.stringify({
            channel: 'subscriptionResponse',
            data: { method: 'subscribe', subscription: sub },
          }),
        );
        snapshotFor(conn, key, sub);
      } else {
        if (!conn.subs.has(key)) {
          rawSend(
            conn,
            JSON.stringify({ channel: 'error', data: `Already unsubscribed: ${JSON.stringify(sub)}` }),
          );
          return;
        }
        conn.subs.delete(key);
        bySub.get(key)?.delete(conn);
        rawSend(
          conn,
          JSON.stringify({
            channel: 'subscriptionResponse',
            data: { method: 'unsubscribe', subscription: sub },
          }),
        );
      }
      return;
    }
    if (msg.method === 'post') {
      const id = msg.id;
      const request = msg.request as Record<string, unknown> | undefined;
      const payload = request?.payload as Record<string, unknown> | undefined;
      let response: unknown;
      if (typeof id !== 'number' || !request || typeof payload !== 'object' || payload === null) {
        rawSend(
          conn,
          JSON.stringify({ channel: 'error', data: `Invalid post request ${text.slice(0, 200)}` }),
        );
        return;
      }
      if (request.type === 'info') {
        const r = info(payload);
        response =
          r.status === 200
            ? { type: 'info', payload: { type: payload.type, data: r.body } }
            : { type: 'error', payload: String(r.body) };
      } else if (request.type === 'action') {
        const r = await exchange(payload);
        response =
          r.status === 200 ? { type: 'action', payload: r.body } : { type: 'error', payload: String(r.body) };
      } else {
        response = { type: 'error', payload: `Unknown request type ${String(request.type)}` };
      }
      rawSend(conn, JSON.stringify({ channel: 'post', data: { id, response } }));
      return;
    }
    rawSend(conn, JSON.stringify({ channel: 'error', data: `Unknown method: ${text.slice(0, 100)}` }));
  };
  wss.on('connection', (ws: WebSocket) => {
    const conn: Conn = { ws, subs: new Map() };
    conns.add(conn);
    stats.wsConnections++;
    ws.on('message', (data) => {
      const text = data.toString();
      onWsMessage(conn, text).catch((err: Error) =>
        rawSend(conn, JSON.stringify({ channel: 'error', data: `Internal error: ${err.message}` })),
      );
    });
    ws.on('close', () => {
      conns.delete(conn);
      for (const key of conn.subs.keys()) bySub.get(key)?.delete(conn);
    });
    ws.on('error', () => ws.terminate());
  });
  faults.onInject = (text: string) => {
    for (const c of conns) rawSend(c, text);
    return conns.size;
  };
  faults.onDropConnections = () => {
    const n = conns.size;
    for (const c of [...conns]) c.ws.terminate();
    return n;
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  if (opts.autoStart !== false) replay.start();
  const urlHost = host.includes(':') ? `[${host}]` : host;

  return {
    httpUrl: `http://${urlHost}:${port}`,
    wsUrl: `ws://${urlHost}:${port}/ws`,
    port,
    clock: { now: () => replay.now() },
    replay,
    faults,
    state,
    stats,
    addAgent,
    addAccount,
    subscriptionCount: () => {
      let n = 0;
      for (const c of conns) n += c.subs.size;
      return n;
    },
    close: async () => {
      replay.stop();
      clearInterval(cancelTimer);
      for (const c of conns) c.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
