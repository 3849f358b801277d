/**
 * The loopback Hyperliquid server: speaks the exchange's protocol on 127.0.0.1 so the real adapter code (ours
 * and any Hyperliquid client, e.g. @nktkas/hyperliquid's) can be exercised end to end against a replayed
 * market.
 *
 * - HTTP POST /info (info.ts): meta, metaAndAssetCtxs, spotMeta, spotMetaAndAssetCtxs, perpDexs, allMids,
 *   l2Book, candleSnapshot, fundingHistory, predictedFundings, clearinghouseState, spotClearinghouseState,
 *   openOrders, frontendOpenOrders, orderStatus, userFills, userFillsByTime, userFees, userRateLimit,
 *   historicalOrders, userFunding; anything else gets the exchange's HTTP 422.
 * - HTTP POST /exchange (actions.ts): order (Alo/Gtc/Ioc, reduce-only), cancel, cancelByCloid, modify,
 *   batchModify, scheduleCancel, updateLeverage, noop — signatures recovered as the exchange does
 *   (signing.ts), API (agent) wallets mapped to their master account, and mainnet's limits (limits.ts):
 *   nonces, the address request budget, the scheduleCancel volume gate.
 * - Hourly funding on the exchange clock (funding.ts), charged to positions.
 * - WebSocket /ws: subscribe/unsubscribe (l2Book, trades, bbo, orderUpdates, userFills and userFundings with
 *   a first isSnapshot message), ping/pong, post (info and action).
 * - POST /_control (Authorization: Bearer <token>): fault injection, see faults.ts.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type WebSocket, WebSocketServer } from 'ws';
import { type FeeSchedule, HYPERLIQUID_BASE_FEES } from '../../exchange/fees.ts';
import type { AssetRules } from '../../exchange/order-rules.ts';
import type { BboEvent, BookEvent, MarketEvent, TradeEvent } from '../../marketdata/events.ts';
import { bboToWire, tradesToWire } from '../../marketdata/hyperliquid-wire.ts';
import { createExchangeHandler, type MainnetRules } from './actions.ts';
import { CandleBook } from './candles.ts';
import {
  type AccountSetup,
  ExchangeState,
  type FundingEvent,
  type WireFill,
  type WireOrderUpdate,
} from './exchange-state.ts';
import { FaultInjector, type InjectedTrade } from './faults.ts';
import { type FundingRow, FundingSchedule, HOUR_MS, nextHourAfter } from './funding.ts';
import { createInfoHandler, HYPERLIQUID_UNIVERSE_HEAD } from './info.ts';
import { ReplayClock } from './replay.ts';
import { dayNumber } from './user-fees.ts';
import { loopbackBookToWire, type Reply, reply422 } from './wire.ts';

export { HYPERLIQUID_UNIVERSE_HEAD };

export interface LoopbackAccount extends AccountSetup {
  address: string;
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
  /** Default fee rates of every account (Hyperliquid's base tier unless given; per account: `accounts[].fees`). */
  fees?: FeeSchedule;
  /**
   * Accounts allowed to trade (master addresses), each with optional starting state: balance, fee rates,
   * lifetime traded volume (USD) and address-budget requests already used.
   */
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
  /** Funding series (rows as `fundingHistory` answers them); hours it does not cover use `fundingRate`. */
  funding?: FundingRow[];
  /** Hourly funding rate where no series applies (default Hyperliquid's baseline 0.0000125). */
  fundingRate?: number;
  /** Refuse scheduleCancel until the account traded $1M lifetime, as mainnet (default true). */
  scheduleCancelGate?: boolean;
  /** Mainnet's cumulative address request budget (default true). */
  requestBudget?: boolean;
  /** Mainnet's current nonce rule (default true); false: 100 highest kept, within (T − 2 days, T + 1 day). */
  strictNonces?: boolean;
  /** Wall clock for nonces, expiry, scheduleCancel and the throttled request slot (tests step it). */
  wallNow?: () => number;
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
  funding: FundingSchedule;
  rules: MainnetRules;
  stats: { wsConnections: number; marketMessagesSent: number; ordersReceived: number };
  /** Live WebSocket subscriptions (all connections). */
  subscriptionCount(): number;
  /** Register an API wallet at run time. */
  addAgent(agent: string, master: string): void;
  addAccount(account: LoopbackAccount): void;
  /** Print a market trade now (also `faults.injectTrade`); returns its trade id and how many fills it caused. */
  injectTrade(t: InjectedTrade): { tid: number; fills: number };
  close(): Promise<void>;
}

interface Conn {
  ws: WebSocket;
  /** subscription key → subscription object as the client sent it. */
  subs: Map<string, Record<string, unknown>>;
}

const MAX_BODY = 1 << 20;
/** Trade ids of injected trades (above any real Hyperliquid tid, below the matching's synthetic ids). */
const INJECTED_TID_BASE = 900_000_000_000_000;

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
  let shift = 0;
  if (opts.shiftToNow && events.length > 0) {
    const first = startAt ?? events.reduce((m, e) => Math.min(m, e.exTime), Number.POSITIVE_INFINITY);
    shift = Date.now() - first;
    events = events.map((e) => ({ ...e, exTime: e.exTime + shift, rxTime: e.rxTime + shift }));
    if (startAt !== undefined) startAt += shift;
  }
  const assets = opts.assets ?? defaultAssets(coins, inferSzDecimals(events));
  const fees = opts.fees ?? HYPERLIQUID_BASE_FEES;
  // The funding series moves with the replay's times.
  const funding = new FundingSchedule(
    (opts.funding ?? []).filter((r) => coinSet.has(r.coin)).map((r) => ({ ...r, time: r.time + shift })),
    opts.fundingRate,
  );
  const rules: MainnetRules = {
    scheduleCancelGate: opts.scheduleCancelGate ?? true,
    requestBudget: opts.requestBudget ?? true,
    strictNonces: opts.strictNonces ?? true,
  };
  const wallNow = opts.wallNow ?? Date.now;
  const faults = new FaultInjector();
  const masters = new Set<string>();
  const agents = new Map<string, string>();
  const recentTradesN = opts.recentTradesOnSubscribe ?? 10;
  const stats = { wsConnections: 0, marketMessagesSent: 0, ordersReceived: 0 };

  const latestBook = new Map<string, BookEvent>();
  const latestBbo = new Map<string, BboEvent>();
  const recentTrades = new Map<string, TradeEvent[]>();
  const candles = new CandleBook();
  const exchangeDaily = new Map<number, number>();
  const listedAt = new Map<string, number>();
  for (const e of events)
    if (!listedAt.has(e.coin) || e.exTime < (listedAt.get(e.coin) as number)) listedAt.set(e.coin, e.exTime);
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
  /** Whether anyone listens on `key` (checked before building a message: the replay is a hot path). */
  const subscribed = (key: string): boolean => (bySub.get(key)?.size ?? 0) > 0;
  const publish = (key: string, msg: unknown, perConn?: (c: Conn) => unknown) => {
    const set = bySub.get(key);
    if (!set || set.size === 0) return;
    const shared = perConn ? undefined : JSON.stringify(msg);
    for (const c of set) sendData(c, shared ?? JSON.stringify(perConn?.(c)));
  };

  // --- exchange state ---------------------------------------------------------------------------------------
  let replay: ReplayClock;
  let fillsCaused = 0;
  const fundingWire = (evs: FundingEvent[]) => evs.map((e) => state.fundingWire(e));
  const state = new ExchangeState({
    assets,
    fees,
    initialBalance: opts.initialBalance ?? 100_000,
    now: () => Math.floor(replay.now()),
    onOrderUpdates: (user: string, updates: WireOrderUpdate[]) =>
      publish(`orderUpdates:${user}`, { channel: 'orderUpdates', data: updates }),
    wantsOrderUpdates: (user: string) => subscribed(`orderUpdates:${user}`),
    onFills: (user: string, fills: WireFill[]) => {
      fillsCaused += fills.length;
      publish(`userFills:${user}`, undefined, (c) => ({
        channel: 'userFills',
        data: { user: c.subs.get(`userFills:${user}`)?.user ?? user, fills },
      }));
    },
    onFundings: (user: string, evs: FundingEvent[]) =>
      publish(`userFundings:${user}`, undefined, (c) => ({
        channel: 'userFundings',
        data: { user: c.subs.get(`userFundings:${user}`)?.user ?? user, fundings: fundingWire(evs) },
      })),
  });
  const addAccount = (a: LoopbackAccount) => {
    const addr = a.address.toLowerCase();
    masters.add(addr);
    state.setupAccount(addr, a);
  };
  const addAgent = (agent: string, master: string) => {
    agents.set(agent.toLowerCase(), master.toLowerCase());
    if (!masters.has(master.toLowerCase())) addAccount({ address: master });
  };
  for (const a of opts.accounts ?? []) addAccount(a);
  for (const [agent, master] of Object.entries(opts.agents ?? {})) addAgent(agent, master);

  // --- funding: every hour of exchange time -----------------------------------------------------------------
  let nextFundingAt = nextHourAfter(
    startAt ?? (events.length > 0 ? Math.min(...listedAt.values()) : Date.now()),
  );
  /** Settle every funding hour up to and including `t` (callers make sure all events before it are booked). */
  const settleFundingUpTo = (t: number) => {
    while (nextFundingAt <= t) {
      const hour = nextFundingAt;
      state.settleFunding(hour, (coin) => funding.at(coin, hour).rate);
      nextFundingAt += HOUR_MS;
    }
  };

  // --- replay -----------------------------------------------------------------------------------------------
  const onTrade = (ev: TradeEvent) => {
    candles.onTrade(ev.coin, ev.exTime, ev.px, ev.sz);
    const day = dayNumber(ev.exTime);
    exchangeDaily.set(day, (exchangeDaily.get(day) ?? 0) + ev.px * ev.sz);
  };
  const onMarketBatch = (batch: MarketEvent[]) => {
    const paused = faults.feedPaused();
    let i = 0;
    while (i < batch.length) {
      const ev = batch[i];
      if (ev.exTime >= nextFundingAt) settleFundingUpTo(ev.exTime);
      state.onMarket(ev);
      if (ev.kind === 'trade') {
        onTrade(ev);
        // One `trades` message per (coin, exchange time), as the exchange groups the fills of one taker order.
        const group: TradeEvent[] = [ev];
        let j = i + 1;
        while (j < batch.length) {
          const n = batch[j];
          if (n.kind !== 'trade' || n.coin !== ev.coin || n.exTime !== ev.exTime) break;
          state.onMarket(n);
          onTrade(n);
          group.push(n);
          j++;
        }
        const ring = recentTrades.get(ev.coin) ?? [];
        ring.push(...group);
        if (ring.length > Math.max(recentTradesN, 1) * 4) ring.splice(0, ring.length - recentTradesN);
        recentTrades.set(ev.coin, ring);
        if (!paused && subscribed(`trades:${ev.coin}`)) {
          stats.marketMessagesSent++;
          publish(`trades:${ev.coin}`, tradesToWire(group));
        }
        i = j;
        continue;
      }
      if (ev.kind === 'book') {
        latestBook.set(ev.coin, ev);
        if (!paused && subscribed(`l2Book:${ev.coin}`)) {
          stats.marketMessagesSent++;
          publish(`l2Book:${ev.coin}`, loopbackBookToWire(ev));
        }
      } else {
        latestBbo.set(ev.coin, ev);
        if (!paused && subscribed(`bbo:${ev.coin}`)) {
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
    onTime: (t) => settleFundingUpTo(t),
  });

  // Dead man's switch: `scheduleCancel.time` is wall-clock ms, as clients send it.
  const runScheduledCancels = () => {
    const now = wallNow();
    for (const acc of state.accounts.values()) {
      if (acc.scheduledCancelAt !== undefined && now >= acc.scheduledCancelAt) {
        acc.scheduledCancelAt = undefined;
        state.cancelAll(acc.address, 'scheduledCancel');
      }
    }
  };
  const timer = setInterval(() => {
    runScheduledCancels();
    // Funding hours whose preceding events are all booked (also after the data ends: the clock runs on).
    const due = replay.nextEventTime();
    const now = replay.now();
    settleFundingUpTo(due === undefined ? now : Math.min(now, due - 1));
  }, 100);
  timer.unref();

  let injectedTid = INJECTED_TID_BASE;
  const injectTrade = (t: InjectedTrade): { tid: number; fills: number } => {
    if (!coinSet.has(t.coin)) throw new Error(`coin ${t.coin} is not served (serving ${coins.join(', ')})`);
    if (!(t.px > 0) || !(t.sz > 0)) throw new Error('px and sz must be positive');
    const now = Math.floor(replay.now());
    const tid = injectedTid++;
    const before = fillsCaused;
    onMarketBatch([
      { kind: 'trade', coin: t.coin, exTime: now, rxTime: now, px: t.px, sz: t.sz, side: t.side, tid },
    ]);
    return { tid, fills: fillsCaused - before };
  };
  faults.onInjectTrade = injectTrade;

  // --- /info and /exchange ----------------------------------------------------------------------------------
  const info = createInfoHandler({
    assets,
    state,
    candles,
    funding,
    latestBook,
    exchangeDaily,
    now: () => Math.floor(replay.now()),
    listedAt: (coin) => listedAt.get(coin) ?? Math.floor(replay.now()),
  });
  const exchange = createExchangeHandler({
    state,
    faults,
    rules,
    wallNow,
    isTestnet: opts.isTestnet,
    scheduleCancelMinDelayMs: opts.scheduleCancelMinDelayMs ?? 5000,
    stats,
    isAccount: (a) => masters.has(a),
    resolveSigner: (signer) => {
      if (masters.has(signer)) return signer;
      const master = agents.get(signer);
      if (master) return master;
      if (opts.openAccounts) {
        addAccount({ address: signer });
        return signer;
      }
      return undefined;
    },
  });

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
  const respond = (res: ServerResponse, r: Reply, extraDelayMs = 0) => {
    const send = () => {
      if (res.writableEnded || res.destroyed) return;
      if (typeof r.body === 'string' && r.status !== 200) {
        res.writeHead(r.status, { 'Content-Type': 'text/plain; charset=utf-8' }).end(r.body);
      } else {
        res.writeHead(r.status, { 'Content-Type': 'application/json' }).end(JSON.stringify(r.body));
      }
    };
    const d = faults.state.delayMs + extraDelayMs;
    if (d > 0) setTimeout(send, d);
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
        return respond(res, reply422());
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body)) return respond(res, reply422());
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
      if (faults.takeHttp500()) return respond(res, { status: 500, body: 'Internal Server Error' });
      const r = await exchange(body as Record<string, unknown>);
      // Executed, but the client never hears back: the connection closes without an answer.
      if (faults.takeDropResponse()) return void res.destroy();
      return respond(res, r, faults.takeExchangeDelay());
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
      case 'userFundings':
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
    if (faults.feedPaused() && type !== 'userFills' && type !== 'orderUpdates' && type !== 'userFundings')
      return;
    if (type === 'l2Book') {
      const b = latestBook.get(id);
      if (b) rawSend(conn, JSON.stringify(loopbackBookToWire(b)));
    } else if (type === 'bbo') {
      const b = latestBbo.get(id);
      if (b) rawSend(conn, JSON.stringify(bboToWire(b)));
    } else if (type === 'trades') {
      const ring = recentTrades.get(id) ?? [];
      const last = ring.slice(-recentTradesN);
      if (last.length > 0) rawSend(conn, JSON.stringify(tradesToWire(last)));
    } else if (type === 'userFills') {
      const fills = state.peek(id).fills.slice(-2000);
      rawSend(
        conn,
        JSON.stringify({ channel: 'userFills', data: { isSnapshot: true, user: sub.user, fills } }),
      );
    } else if (type === 'userFundings') {
      const fundings = fundingWire(state.peek(id).fundings.slice(-500));
      rawSend(
        conn,
        JSON.stringify({ channel: 'userFundings', data: { isSnapshot: true, user: sub.user, fundings } }),
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

  // Idle keep-alive connections stay open for a minute (Node's 5 s default races clients that reuse a socket
  // after a pause: they get ECONNRESET on a request the server never saw).
  server.keepAliveTimeout = 65_000;
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
    funding,
    rules,
    stats,
    addAgent,
    addAccount,
    injectTrade,
    subscriptionCount: () => {
      let n = 0;
      for (const c of conns) n += c.subs.size;
      return n;
    },
    close: async () => {
      replay.stop();
      clearInterval(timer);
      for (const c of conns) c.ws.terminate();
      wss.close();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
