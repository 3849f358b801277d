/**
 * The live Venue: orders go to Hyperliquid (or the loopback server) through @nktkas/hyperliquid's
 * ExchangeClient, signed by an API (agent) wallet; queries and streams use the master address.
 *
 * - Post-only (Alo) two-sided quoting; replacements with `batchModify`, cancels batched with `cancelByCloid`;
 *   prices rounded to the exchange grid toward the passive side, sizes down to szDecimals, orders under the
 *   $10 minimum notional refused locally (reported as rejected, never sent).
 * - One action in flight at a time (the library serialises per signer anyway, which keeps nonces arriving in
 *   order); queued actions of the same kind are merged into one batch. Every action waits for the rate budget
 *   (IP weight, address allowance, our actions/s cap); a 429 backs off exponentially and resends later.
 * - Exchange rejections (e.g. Alo "would have immediately matched") become `rejected` reports with the
 *   exchange's text; the venue never retries an order by itself, the engine re-prices.
 * - Reconciliation: orderUpdates and userFills streams (fills de-duplicated by (tid, cloid), including the
 *   snapshot re-sent on every reconnect), plus a periodic REST sweep of open orders and the position; the
 *   exchange position is the truth and is handed to the session through `onPosition`.
 * - Dead-man's switch: `scheduleCancel(now + N s)` refreshed every N/3 s while running.
 */
import {
  ExchangeClient,
  HttpRequestError,
  HttpTransport,
  InfoClient,
  type IRequestTransport,
  type ISubscription,
  SubscriptionClient,
  WebSocketTransport,
} from '@nktkas/hyperliquid';
import type {
  CancelRequest,
  Clock,
  Fill,
  ModifyRequest,
  OrderRequest,
  OrderSide,
  OrderState,
  OrderUpdate,
  Venue,
  VenueReport,
} from '../../engine/types.ts';
import {
  type AssetRules,
  meetsMinNotional,
  priceDecimals,
  roundPricePassive,
  roundSizeDown,
  toWire,
} from '../../exchange/order-rules.ts';
import { createMonotonicNonces, RateBudget, type RateBudgetOptions } from './execution-limits.ts';
import { fastAgentWallet } from './execution-signer.ts';

export interface VenueLogger {
  info(obj: Record<string, unknown>, msg?: string): void;
  warn(obj: Record<string, unknown>, msg?: string): void;
  error(obj: Record<string, unknown>, msg?: string): void;
  debug(obj: Record<string, unknown>, msg?: string): void;
}

const silentLogger: VenueLogger = { info() {}, warn() {}, error() {}, debug() {} };

/** What the venue needs to sign: a viem local account (the agent wallet). */
export interface Signer {
  address: `0x${string}`;
  // biome-ignore lint/suspicious/noExplicitAny: the library's AbstractWallet accepts any viem local account
  account: any;
  /**
   * The raw key `account` was made from, optional: with it, signatures are made by libsecp256k1 (WASM, ~3×
   * faster, far less GC) instead of viem's JS code — byte-identical (execution-signer.ts). Never logged.
   */
  privateKey?: `0x${string}`;
}

export interface HyperliquidVenueOptions {
  httpUrl: string;
  wsUrl: string;
  isTestnet?: boolean;
  signer: Signer;
  /** Account whose orders/positions we trade (the agent's master). Defaults to the signer's address. */
  masterAddress?: `0x${string}`;
  /** Assets we may trade (from meta); `fetchAssets` fills this when omitted. */
  assets?: AssetRules[];
  clock?: Clock;
  logger?: VenueLogger;
  rate?: RateBudgetOptions;
  /** Dead-man's switch horizon in seconds (0 disables). */
  deadMansSwitchSec?: number;
  /** Period of the REST sweep of open orders and position, ms (0 disables the timer). */
  reconcileIntervalMs?: number;
  /** Replace the HTTP transport (tests, the latency bench). */
  transport?: IRequestTransport;
  /** Do not open the WebSocket streams (the latency bench). */
  noStreams?: boolean;
  /** Called when a signed exchange action is handed to the transport (tick-to-order instrumentation). */
  onSend?: (actionType: string, atMs: number) => void;
  /** Already-journalled fills, so a restart does not count them again. */
  isKnownFill?: (tid: number, cloid: string) => boolean;
}

/** Exchange truth from a REST sweep. */
export interface ExchangeSnapshot {
  coin: string;
  position: number;
  entryPx: number;
  accountValue: number;
  openOrders: { cloid?: string; oid: number; side: OrderSide; px: number; sz: number }[];
  time: number;
}

interface KnownOrder {
  cloid: string;
  coin: string;
  side: OrderSide;
  px: number;
  sz: number;
  oid?: number;
  state: OrderState;
  sentAt: number;
  /** The action's outcome is unknown (timeout, network error): the next sweep decides. */
  uncertain?: boolean;
}

interface WireOrder {
  a: number;
  b: boolean;
  p: string;
  s: string;
  r: boolean;
  t: { limit: { tif: 'Alo' | 'Gtc' | 'Ioc' } };
  c: `0x${string}`;
}

type Action =
  | { kind: 'order'; items: { req: OrderRequest; wire: WireOrder }[]; attempts: number }
  | { kind: 'cancel'; items: CancelRequest[]; attempts: number }
  | { kind: 'modify'; items: { req: ModifyRequest; wire: WireOrder }[]; attempts: number };

const TERMINAL: ReadonlySet<OrderState> = new Set(['filled', 'canceled', 'rejected']);
const MAX_429_ATTEMPTS = 6;
const BATCH_MAX = 40;

/** Map Hyperliquid order statuses to ours. */
export function mapOrderStatus(status: string): OrderState {
  if (status === 'open') return 'open';
  if (status === 'filled') return 'filled';
  if (status === 'triggered') return 'open';
  if (status.endsWith('Rejected') || status === 'rejected') return 'rejected';
  return 'canceled';
}

/** Format one order for the wire (passive rounding); returns an error text when it cannot be sent. */
export function formatOrder(
  req: {
    side: OrderSide;
    px: number;
    sz: number;
    tif: 'Alo' | 'Gtc' | 'Ioc';
    cloid: string;
    reduceOnly?: boolean;
  },
  rules: AssetRules,
): { wire: WireOrder; px: number; sz: number } | { error: string } {
  if (!(req.px > 0) || !Number.isFinite(req.px)) return { error: `invalid price ${req.px}` };
  const px = roundPricePassive(req.px, rules.szDecimals, req.side);
  const sz = roundSizeDown(req.sz, rules.szDecimals);
  if (!(sz > 0)) return { error: `size ${req.sz} rounds to 0 at szDecimals ${rules.szDecimals}` };
  if (!meetsMinNotional(px, sz)) {
    return { error: `Order must have minimum value of $10 (px ${px} × sz ${sz} = $${(px * sz).toFixed(2)})` };
  }
  return {
    px,
    sz,
    wire: {
      a: rules.asset,
      b: req.side === 'bid',
      p: toWire(px, priceDecimals(px, rules.szDecimals)),
      s: toWire(sz, rules.szDecimals),
      r: req.reduceOnly ?? false,
      t: { limit: { tif: req.tif } },
      c: req.cloid as `0x${string}`,
    },
  };
}

/** Transport wrapper: counts info weight, notes when a signed action leaves, turns 429 into a typed error. */
class InstrumentedTransport implements IRequestTransport {
  readonly isTestnet: boolean;
  private readonly inner: IRequestTransport;
  private readonly onSend: (payload: unknown) => void;

  constructor(inner: IRequestTransport, onSend: (payload: unknown) => void) {
    this.inner = inner;
    this.isTestnet = inner.isTestnet;
    this.onSend = onSend;
  }

  request<T>(endpoint: 'info' | 'exchange', payload: unknown, signal?: AbortSignal): Promise<T> {
    if (endpoint === 'exchange') this.onSend(payload);
    return this.inner.request<T>(endpoint, payload, signal);
  }
}

function is429(err: unknown): boolean {
  return err instanceof HttpRequestError && err.response?.status === 429;
}

/** The error response of a rejected action (ApiRequestError keeps the raw response). */
function apiResponse(err: unknown): unknown {
  if (err && typeof err === 'object' && 'response' in err && !(err instanceof HttpRequestError)) {
    return (err as { response: unknown }).response;
  }
  return undefined;
}

function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

export class HyperliquidVenue implements Venue {
  readonly name = 'hyperliquid';
  readonly signerAddress: `0x${string}`;
  readonly user: `0x${string}`;
  readonly budget: RateBudget;
  readonly info: InfoClient;
  readonly exchange: ExchangeClient;
  /** Counters for the status line and tests. */
  readonly stats = {
    ordersSent: 0,
    modifiesSent: 0,
    cancelsSent: 0,
    rejects: 0,
    aloRejects: 0,
    fills: 0,
    duplicateFills: 0,
    http429: 0,
    sweeps: 0,
    reconnects: 0,
    orphansCanceled: 0,
  };
  /** Set by the session: exchange truth after each sweep. */
  onPosition?: (snap: ExchangeSnapshot) => void;

  private readonly opts: HyperliquidVenueOptions;
  private readonly clock: Clock;
  private readonly log: VenueLogger;
  private readonly assetsByCoin = new Map<string, AssetRules>();
  private listener: (r: VenueReport) => void = () => {};
  private readonly orders = new Map<string, KnownOrder>();
  private readonly oidToCloid = new Map<number, string>();
  private readonly seenFills = new Set<string>();
  private readonly queue: Action[] = [];
  private busy = false;
  private pumpTimer: NodeJS.Timeout | undefined;
  private dmsTimer: NodeJS.Timeout | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private dmsDisabled = false;
  /** Set once the first userFills snapshot (history before this session) has been absorbed. */
  private fillBaselineDone = false;
  private running = false;
  private wsTransport: WebSocketTransport | undefined;
  private subs: ISubscription[] = [];
  private sweepInFlight: Promise<void> | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(opts: HyperliquidVenueOptions) {
    this.opts = opts;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.log = opts.logger ?? silentLogger;
    this.signerAddress = opts.signer.address;
    this.user = opts.masterAddress ?? opts.signer.address;
    for (const a of opts.assets ?? []) this.assetsByCoin.set(a.coin, a);
    this.budget = new RateBudget(this.clock.now(), opts.rate);
    const base =
      opts.transport ?? new HttpTransport({ apiUrl: opts.httpUrl, isTestnet: opts.isTestnet ?? false });
    const transport = new InstrumentedTransport(base, (payload) => {
      const type = (payload as { action?: { type?: string } }).action?.type ?? '?';
      opts.onSend?.(type, performance.now());
    });
    this.info = new InfoClient({ transport });
    this.exchange = new ExchangeClient({
      transport,
      // Viem local accounts sign through the precomputed phantom-agent path (execution-signer.ts).
      wallet:
        typeof opts.signer.account?.sign === 'function'
          ? fastAgentWallet(opts.signer.account, opts.signer.privateKey)
          : opts.signer.account,
      // Wall time: the exchange checks nonces against its own clock.
      nonceManager: createMonotonicNonces(Date.now),
    });
  }

  setReportListener(listener: (r: VenueReport) => void): void {
    this.listener = listener;
  }

  /** Rules of a coin, fetched from meta when not given. */
  rules(coin: string): AssetRules {
    const r = this.assetsByCoin.get(coin);
    if (!r) throw new Error(`coin ${coin}: not in the exchange's perp universe (check --coin)`);
    return r;
  }

  async fetchAssets(): Promise<AssetRules[]> {
    const meta = await this.info.meta();
    const out: AssetRules[] = meta.universe.map((u, i) => ({
      coin: u.name,
      asset: i,
      szDecimals: u.szDecimals,
      maxLeverage: u.maxLeverage,
    }));
    for (const a of out) if (!this.assetsByCoin.has(a.coin)) this.assetsByCoin.set(a.coin, a);
    return out;
  }

  /**
   * Connect the streams, cancel whatever rests, arm the dead-man's switch, start the sweep.
   * Throws (before any quoting) if the exchange refuses our signer, e.g. an API wallet that is not approved.
   */
  async start(): Promise<ExchangeSnapshot[]> {
    if (this.assetsByCoin.size === 0) await this.fetchAssets();
    if (!this.opts.noStreams) await this.openStreams();
    this.running = true;
    await this.cancelAll();
    await this.refreshDeadMansSwitch(true);
    const snaps = await this.sweep();
    const every = this.opts.reconcileIntervalMs ?? 10_000;
    if (every > 0) {
      this.sweepTimer = setInterval(() => {
        void this.sweep().catch((err) => this.log.warn({ err: errText(err) }, 'reconcile sweep failed'));
      }, every);
      this.sweepTimer.unref();
    }
    return snaps;
  }

  /** Cancel everything, disarm the dead-man's switch, close the streams. */
  async stop(): Promise<void> {
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.dmsTimer) clearInterval(this.dmsTimer);
    this.sweepTimer = undefined;
    this.dmsTimer = undefined;
    try {
      await this.cancelAll();
    } finally {
      this.running = false;
      if (!this.dmsDisabled && (this.opts.deadMansSwitchSec ?? 0) > 0) {
        // Unset the switch: nothing rests any more, and a stale trigger would surprise the next session.
        await this.exchange.scheduleCancel().catch(() => {});
      }
      for (const s of this.subs) await s.unsubscribe().catch(() => {});
      this.subs = [];
      this.wsTransport?.close();
      this.wsTransport = undefined;
      if (this.pumpTimer) clearTimeout(this.pumpTimer);
    }
  }

  // ---------------------------------------------------------------- Venue: actions

  place(orders: OrderRequest[]): void {
    const items: { req: OrderRequest; wire: WireOrder }[] = [];
    const now = this.clock.now();
    for (const req of orders) {
      const rules = this.assetsByCoin.get(req.coin);
      const f = rules ? formatOrder(req, rules) : { error: `unknown coin ${req.coin}` };
      const known: KnownOrder = {
        cloid: req.cloid,
        coin: req.coin,
        side: req.side,
        px: req.px,
        sz: req.sz,
        state: 'pending',
        sentAt: now,
      };
      this.orders.set(req.cloid, known);
      if ('error' in f) {
        this.emitOrder(known, 'rejected', { reason: f.error });
        continue;
      }
      known.px = f.px;
      known.sz = f.sz;
      items.push({ req, wire: f.wire });
    }
    if (items.length > 0) this.enqueue({ kind: 'order', items, attempts: 0 });
  }

  modify(mods: ModifyRequest[]): void {
    const items: { req: ModifyRequest; wire: WireOrder }[] = [];
    const now = this.clock.now();
    for (const m of mods) {
      const old = this.orders.get(m.cloid);
      const rules = this.assetsByCoin.get(m.coin);
      const side: OrderSide = old?.side ?? 'bid';
      const known: KnownOrder = {
        cloid: m.newCloid,
        coin: m.coin,
        side,
        px: m.px,
        sz: m.sz,
        state: 'pending',
        sentAt: now,
      };
      this.orders.set(m.newCloid, known);
      if (!old || TERMINAL.has(old.state)) {
        this.emitOrder(known, 'rejected', { reason: `modify: order ${m.cloid} is not open` });
        continue;
      }
      const f = rules
        ? formatOrder({ side, px: m.px, sz: m.sz, tif: 'Alo', cloid: m.newCloid }, rules)
        : { error: `unknown coin ${m.coin}` };
      if ('error' in f) {
        this.emitOrder(known, 'rejected', { reason: f.error });
        continue;
      }
      known.px = f.px;
      known.sz = f.sz;
      items.push({ req: m, wire: f.wire });
    }
    if (items.length > 0) this.enqueue({ kind: 'modify', items, attempts: 0 });
  }

  cancel(cancels: CancelRequest[]): void {
    const items = cancels.filter((c) => {
      const o = this.orders.get(c.cloid);
      return !o || !TERMINAL.has(o.state);
    });
    if (items.length > 0) this.enqueue({ kind: 'cancel', items, attempts: 0 });
  }

  /**
   * Cancel every resting order of the account (all coins, or one), including ones this process did not place;
   * resolves once the exchange lists none (or throws after 5 attempts).
   */
  async cancelAll(coin?: string): Promise<void> {
    // Drop queued placements: they would re-create what we are removing.
    for (let i = this.queue.length - 1; i >= 0; i--) {
      const a = this.queue[i];
      if (a.kind === 'cancel') continue;
      if (coin !== undefined && a.items.some((x) => x.req.coin !== coin)) continue;
      this.queue.splice(i, 1);
      for (const x of a.items) {
        const cloid = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
        const k = this.orders.get(cloid);
        if (k) this.emitOrder(k, 'canceled', { reason: 'cancel-all before send' });
      }
    }
    await this.whenIdle();
    for (let attempt = 0; attempt < 5; attempt++) {
      const open = (await this.infoCall(20, () => this.info.openOrders({ user: this.user }))).filter(
        (o) => coin === undefined || o.coin === coin,
      );
      if (open.length === 0) {
        for (const k of this.orders.values()) {
          if ((coin === undefined || k.coin === coin) && !TERMINAL.has(k.state)) {
            this.emitOrder(k, 'canceled', { reason: 'cancel-all' });
          }
        }
        return;
      }
      const cancels: { a: number; o: number }[] = [];
      for (const o of open) {
        const r = this.assetsByCoin.get(o.coin);
        if (r) cancels.push({ a: r.asset, o: o.oid });
      }
      for (let i = 0; i < cancels.length; i += BATCH_MAX) {
        const batch = cancels.slice(i, i + BATCH_MAX);
        await this.waitBudget(batch.length, true);
        this.budget.consume(batch.length, true, this.clock.now());
        this.stats.cancelsSent += batch.length;
        try {
          const res = await this.exchange.cancel({ cancels: batch });
          this.budget.onSuccess();
          void res;
        } catch (err) {
          if (is429(err)) {
            this.stats.http429++;
            this.budget.on429(this.clock.now());
          } else if (apiResponse(err) === undefined) {
            this.log.warn({ err: errText(err) }, 'cancel-all: request failed');
          }
          // Per-order errors ("already canceled or filled") are fine: we re-list below.
        }
      }
      for (const o of open) {
        const cloid = o.cloid ?? this.oidToCloid.get(o.oid);
        const k = cloid ? this.orders.get(cloid) : undefined;
        if (k && !TERMINAL.has(k.state)) this.emitOrder(k, 'canceled', { reason: 'cancel-all', oid: o.oid });
      }
    }
    throw new Error('cancel-all: orders still resting after 5 attempts');
  }

  // ---------------------------------------------------------------- action queue

  private enqueue(a: Action): void {
    // Merge with the last queued action of the same kind (one batch, one nonce, one weight unit per 40).
    const last = this.queue[this.queue.length - 1];
    if (
      last &&
      last.kind === a.kind &&
      last.items.length + a.items.length <= BATCH_MAX &&
      last.attempts === 0
    ) {
      (last.items as unknown[]).push(...a.items);
    } else {
      this.queue.push(a);
    }
    this.pump();
  }

  private pump(): void {
    if (this.busy || this.pumpTimer) return;
    const a = this.queue[0];
    if (!a) {
      const w = this.idleWaiters;
      this.idleWaiters = [];
      for (const f of w) f();
      return;
    }
    const now = this.clock.now();
    const wait = this.budget.waitMs(a.items.length, a.kind === 'cancel', now);
    if (wait > 0) {
      this.pumpTimer = setTimeout(() => {
        this.pumpTimer = undefined;
        this.pump();
      }, wait);
      return;
    }
    this.queue.shift();
    this.busy = true;
    this.budget.consume(a.items.length, a.kind === 'cancel', now);
    void this.send(a).finally(() => {
      this.busy = false;
      this.pump();
    });
  }

  /** Resolves when no action is queued or in flight. */
  whenIdle(): Promise<void> {
    if (!this.busy && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  private async waitBudget(n: number, isCancel: boolean): Promise<void> {
    for (;;) {
      const w = this.budget.waitMs(n, isCancel, this.clock.now());
      if (w <= 0) return;
      await new Promise((r) => setTimeout(r, w));
    }
  }

  private async infoCall<T>(weight: number, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      await new Promise<void>((resolve) => {
        const w = this.budget.infoWaitMs(weight, this.clock.now());
        if (w <= 0) resolve();
        else setTimeout(resolve, w);
      });
      this.budget.consumeInfo(weight, this.clock.now());
      try {
        const r = await fn();
        this.budget.onSuccess();
        return r;
      } catch (err) {
        if (is429(err) && attempt < MAX_429_ATTEMPTS) {
          this.stats.http429++;
          this.budget.on429(this.clock.now());
          continue;
        }
        throw err;
      }
    }
  }

  private async send(a: Action): Promise<void> {
    try {
      if (a.kind === 'order') {
        this.stats.ordersSent += a.items.length;
        const res = await this.exchange.order({ orders: a.items.map((x) => x.wire), grouping: 'na' });
        this.budget.onSuccess();
        this.handleStatuses(a, res.response.data.statuses as unknown[]);
      } else if (a.kind === 'modify') {
        this.stats.modifiesSent += a.items.length;
        const res = await this.exchange.batchModify({
          // By exchange oid when known: the library reads a hex cloid with a small value as a number.
          modifies: a.items.map((x) => ({
            oid: this.orders.get(x.req.cloid)?.oid ?? (x.req.cloid as `0x${string}`),
            order: x.wire,
          })),
        });
        this.budget.onSuccess();
        this.handleStatuses(a, res.response.data.statuses as unknown[]);
      } else {
        this.stats.cancelsSent += a.items.length;
        const cancels = a.items.map((c) => ({
          asset: this.rules(c.coin).asset,
          cloid: c.cloid as `0x${string}`,
        }));
        const res = await this.exchange.cancelByCloid({ cancels });
        this.budget.onSuccess();
        this.handleCancelStatuses(a.items, res.response.data.statuses as unknown[]);
      }
    } catch (err) {
      this.handleSendError(a, err);
    }
  }

  private handleSendError(a: Action, err: unknown): void {
    const now = this.clock.now();
    if (is429(err)) {
      this.stats.http429++;
      const backoff = this.budget.on429(now);
      a.attempts++;
      if (a.kind === 'cancel' || a.attempts < MAX_429_ATTEMPTS) {
        this.log.warn({ kind: a.kind, backoffMs: backoff, attempt: a.attempts }, 'HTTP 429: backing off');
        this.queue.unshift(a);
        return;
      }
      this.rejectAll(a, 'rate limited (HTTP 429), gave up after backoff');
      return;
    }
    const resp = apiResponse(err) as { status?: string; response?: unknown } | undefined;
    if (resp && typeof resp === 'object') {
      const statuses = (resp.response as { data?: { statuses?: unknown[] } } | undefined)?.data?.statuses;
      if (Array.isArray(statuses)) {
        // Some items failed, others may have succeeded: handle each.
        if (a.kind === 'cancel') this.handleCancelStatuses(a.items, statuses);
        else this.handleStatuses(a, statuses);
        return;
      }
      // The whole action was refused (e.g. unknown API wallet, bad nonce).
      const text = typeof resp.response === 'string' ? resp.response : errText(err);
      this.log.error({ kind: a.kind, error: text }, 'exchange refused the action');
      if (a.kind === 'cancel') {
        void this.sweepSoon();
        return;
      }
      this.rejectAll(a, text);
      return;
    }
    // Transport failure (timeout, connection reset): the outcome is unknown; the next sweep decides.
    this.log.warn(
      { kind: a.kind, err: errText(err) },
      'exchange request failed; outcome unknown until the sweep',
    );
    if (a.kind !== 'cancel') {
      for (const x of a.items) {
        const cloid = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
        const k = this.orders.get(cloid);
        if (k) k.uncertain = true;
      }
    }
    void this.sweepSoon();
  }

  private rejectAll(a: Action, reason: string): void {
    if (a.kind === 'cancel') return;
    for (const x of a.items) {
      const cloid = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
      const k = this.orders.get(cloid);
      if (k) this.emitOrder(k, 'rejected', { reason });
    }
  }

  private handleStatuses(a: Action & { kind: 'order' | 'modify' }, statuses: unknown[]): void {
    a.items.forEach((x, i) => {
      const st = statuses[i] as Record<string, unknown> | string | undefined;
      const cloid = a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid;
      const k = this.orders.get(cloid);
      if (!k) return;
      if (a.kind === 'modify') {
        const old = this.orders.get((x.req as ModifyRequest).cloid);
        const accepted = st !== undefined && typeof st === 'object' && ('resting' in st || 'filled' in st);
        // An accepted modify replaced the old order. A refused one may or may not have left it on the book (and
        // "Cannot modify" means it was already gone): say nothing about it; the engine cancels it, which is
        // sent for real, and the sweep settles what the exchange really has.
        if (old && accepted && !TERMINAL.has(old.state))
          this.emitOrder(old, 'canceled', { reason: 'modified' });
        else if (old && !TERMINAL.has(old.state)) old.uncertain = true;
      }
      if (st && typeof st === 'object' && 'resting' in st) {
        const oid = (st.resting as { oid: number }).oid;
        this.emitOrder(k, 'open', { oid, px: k.px, sz: k.sz });
      } else if (st && typeof st === 'object' && 'filled' in st) {
        const f = st.filled as { oid: number };
        this.emitOrder(k, 'filled', { oid: f.oid, sz: 0 });
      } else if (st && typeof st === 'object' && 'error' in st) {
        const reason = String(st.error);
        this.stats.rejects++;
        if (/immediately match|post only/i.test(reason)) this.stats.aloRejects++;
        this.emitOrder(k, 'rejected', { reason });
      } else {
        k.uncertain = true;
        void this.sweepSoon();
      }
    });
  }

  private handleCancelStatuses(items: CancelRequest[], statuses: unknown[]): void {
    let unresolved = false;
    items.forEach((c, i) => {
      const k = this.orders.get(c.cloid);
      if (statuses[i] === 'success') {
        if (k) this.emitOrder(k, 'canceled', { reason: 'canceled' });
      } else {
        // "Order was never placed, already canceled, or filled": the streams / sweep tell us which.
        unresolved = true;
      }
    });
    if (unresolved) void this.sweepSoon();
  }

  // ---------------------------------------------------------------- reports

  private emitOrder(
    k: KnownOrder,
    state: OrderState,
    extra: { oid?: number; px?: number; sz?: number; reason?: string; exTime?: number } = {},
  ): void {
    if (TERMINAL.has(k.state)) return; // terminal states are sticky (late or re-ordered messages)
    if (k.state === state && state === 'open' && extra.sz === undefined) return;
    if (k.state === state && state === 'open' && extra.sz === k.sz && (extra.px ?? k.px) === k.px) return;
    if (extra.oid !== undefined) {
      k.oid = extra.oid;
      this.oidToCloid.set(extra.oid, k.cloid);
    }
    if (extra.px !== undefined) k.px = extra.px;
    if (extra.sz !== undefined && state === 'open') k.sz = extra.sz;
    k.state = state;
    k.uncertain = false;
    const now = this.clock.now();
    const u: OrderUpdate = {
      kind: 'order',
      cloid: k.cloid,
      oid: k.oid,
      coin: k.coin,
      state,
      exTime: extra.exTime ?? now,
      rxTime: now,
    };
    if (state === 'open') {
      u.px = k.px;
      u.sz = k.sz;
    }
    if (extra.reason !== undefined) u.reason = extra.reason;
    this.listener(u);
  }

  // ---------------------------------------------------------------- streams

  private async openStreams(): Promise<void> {
    const ws = new WebSocketTransport({
      url: this.opts.wsUrl,
      isTestnet: this.opts.isTestnet ?? false,
      timeout: 10_000,
      reconnect: {
        maxRetries: Number.POSITIVE_INFINITY,
        reconnectionDelay: (n: number) => Math.min(5000, 100 * 2 ** n),
      },
    });
    this.wsTransport = ws;
    let opened = 0;
    ws.socket.addEventListener('open', () => {
      opened++;
      if (opened > 1) {
        this.stats.reconnects++;
        this.log.warn({ reconnects: this.stats.reconnects }, 'user streams reconnected; sweeping');
        void this.sweepSoon();
      }
    });
    const sub = new SubscriptionClient({ transport: ws });
    this.subs.push(
      await sub.orderUpdates({ user: this.user }, (events) => {
        for (const e of events) this.onWireOrderUpdate(e as unknown as WireOrderUpdate);
      }),
    );
    this.subs.push(
      await sub.userFills({ user: this.user }, (ev) => {
        this.onWireFills(ev.fills as unknown as WireFill[], ev.isSnapshot === true);
      }),
    );
  }

  /** Exposed for tests: one orderUpdates element. */
  onWireOrderUpdate(e: WireOrderUpdate): void {
    const o = e.order;
    if (!o || typeof o.oid !== 'number') return;
    const cloid = o.cloid ?? this.oidToCloid.get(o.oid);
    const k = cloid ? this.orders.get(cloid) : undefined;
    if (!k) return; // not ours (another coin, another session): the sweep cancels orphans
    const state = mapOrderStatus(e.status);
    const sz = Number(o.sz);
    const px = Number(o.limitPx);
    if (state === 'open') this.emitOrder(k, 'open', { oid: o.oid, px, sz, exTime: e.statusTimestamp });
    else this.emitOrder(k, state, { oid: o.oid, reason: e.status, exTime: e.statusTimestamp });
  }

  /** Exposed for tests: one userFills message. */
  onWireFills(fills: WireFill[], isSnapshot: boolean): void {
    const baseline = isSnapshot && !this.fillBaselineDone;
    this.fillBaselineDone = true;
    for (const f of fills) {
      const cloid = f.cloid ?? this.oidToCloid.get(f.oid) ?? `oid:${f.oid}`;
      const key = `${f.tid}:${cloid}`;
      if (this.seenFills.has(key) || this.opts.isKnownFill?.(f.tid, cloid)) {
        this.stats.duplicateFills++;
        this.seenFills.add(key);
        continue;
      }
      this.seenFills.add(key);
      // The first snapshot lists fills from before this session: the start-up sweep's position includes them.
      // Later snapshots (after a reconnect) may hold fills we missed while disconnected: those count.
      if (baseline) continue;
      if (!this.assetsByCoin.has(f.coin)) continue;
      const px = Number(f.px);
      const sz = Number(f.sz);
      if (!(px > 0) || !(sz > 0)) continue;
      this.stats.fills++;
      this.budget.creditTraded(px * sz);
      const k = this.orders.get(cloid);
      const fill: Fill = {
        kind: 'fill',
        cloid,
        oid: f.oid,
        coin: f.coin,
        side: f.side === 'B' ? 'bid' : 'ask',
        px,
        sz,
        fee: Number(f.fee) || 0,
        liquidity: f.crossed ? 'taker' : 'maker',
        tid: f.tid,
        exTime: f.time,
        rxTime: this.clock.now(),
      };
      if (k && k.state === 'open')
        k.sz = Math.max(0, roundSizeDown(k.sz - sz, this.rules(k.coin).szDecimals));
      this.listener(fill);
    }
  }

  // ---------------------------------------------------------------- reconciliation

  private sweepSoon(): Promise<void> {
    if (!this.running) return Promise.resolve();
    if (!this.sweepInFlight) {
      this.sweepInFlight = new Promise<void>((r) => setTimeout(r, 50))
        .then(() => this.sweep())
        .then(() => undefined)
        .catch((err) => this.log.warn({ err: errText(err) }, 'reconcile sweep failed'))
        .finally(() => {
          this.sweepInFlight = undefined;
        });
    }
    return this.sweepInFlight;
  }

  /**
   * REST sweep: open orders and positions. Orders we think are live but the exchange does not list are
   * resolved with orderStatus; orders resting that we do not know are canceled (orphans); each traded coin's
   * exchange position goes to `onPosition`.
   */
  async sweep(): Promise<ExchangeSnapshot[]> {
    this.stats.sweeps++;
    const sweepStart = this.clock.now();
    const [open, ch] = await Promise.all([
      this.infoCall(20, () => this.info.openOrders({ user: this.user })),
      this.infoCall(2, () => this.info.clearinghouseState({ user: this.user })),
    ]);
    const listed = new Set<string>();
    const orphans: { a: number; o: number }[] = [];
    for (const o of open) {
      const cloid = o.cloid ?? this.oidToCloid.get(o.oid);
      const k = cloid ? this.orders.get(cloid) : undefined;
      if (!k) {
        const r = this.assetsByCoin.get(o.coin);
        if (r && this.running) orphans.push({ a: r.asset, o: o.oid });
        continue;
      }
      listed.add(k.cloid);
      if (k.state === 'pending' || k.uncertain)
        this.emitOrder(k, 'open', { oid: o.oid, px: Number(o.limitPx), sz: Number(o.sz) });
    }
    for (const k of this.orders.values()) {
      if (TERMINAL.has(k.state) || listed.has(k.cloid)) continue;
      // Skip orders sent after the listing was taken or still waiting for their answer.
      if (
        k.sentAt >= sweepStart - 50 ||
        (k.state === 'pending' && !k.uncertain && this.isQueuedOrInFlight(k.cloid))
      ) {
        continue;
      }
      const st = await this.infoCall(2, () =>
        this.info.orderStatus({ user: this.user, oid: k.cloid as `0x${string}` }),
      ).catch(() => undefined);
      if (!st) continue;
      if (st.status === 'order') {
        const s = mapOrderStatus(st.order.status);
        if (s === 'open') this.emitOrder(k, 'open', { oid: st.order.order.oid });
        else this.emitOrder(k, s, { oid: st.order.order.oid, reason: st.order.status });
      } else if (k.state === 'pending' || k.uncertain) {
        this.emitOrder(k, 'rejected', { reason: 'never reached the exchange (unknown cloid)' });
      }
    }
    if (orphans.length > 0) {
      this.log.warn({ n: orphans.length }, 'canceling resting orders this session does not know');
      this.stats.orphansCanceled += orphans.length;
      await this.waitBudget(orphans.length, true);
      this.budget.consume(orphans.length, true, this.clock.now());
      await this.exchange.cancel({ cancels: orphans }).catch(() => {});
    }
    const accountValue = Number(ch.marginSummary.accountValue);
    const snaps: ExchangeSnapshot[] = [];
    for (const coin of this.tradedCoins()) {
      const p = ch.assetPositions.find((x) => x.position.coin === coin)?.position;
      const snap: ExchangeSnapshot = {
        coin,
        position: p ? Number(p.szi) : 0,
        entryPx: p?.entryPx ? Number(p.entryPx) : Number.NaN,
        accountValue,
        openOrders: open
          .filter((o) => o.coin === coin)
          .map((o) => ({
            cloid: o.cloid,
            oid: o.oid,
            side: o.side === 'B' ? ('bid' as const) : ('ask' as const),
            px: Number(o.limitPx),
            sz: Number(o.sz),
          })),
        time: ch.time,
      };
      snaps.push(snap);
      this.onPosition?.(snap);
    }
    return snaps;
  }

  private isQueuedOrInFlight(cloid: string): boolean {
    if (this.busy) return true;
    return this.queue.some((a) =>
      a.kind === 'cancel'
        ? false
        : a.items.some(
            (x) => (a.kind === 'order' ? x.req.cloid : (x.req as ModifyRequest).newCloid) === cloid,
          ),
    );
  }

  private tradedCoins(): string[] {
    const s = new Set<string>(this.opts.assets?.map((a) => a.coin) ?? []);
    for (const k of this.orders.values()) s.add(k.coin);
    return [...s];
  }

  // ---------------------------------------------------------------- dead-man's switch

  private async refreshDeadMansSwitch(first: boolean): Promise<void> {
    const sec = this.opts.deadMansSwitchSec ?? 0;
    if (sec <= 0 || this.dmsDisabled) return;
    try {
      await this.exchange.scheduleCancel({ time: Date.now() + sec * 1000 });
      this.budget.consume(1, true, this.clock.now());
    } catch (err) {
      const text = errText(err);
      if (/not eligible|volume|Cannot set scheduled cancel/i.test(text)) {
        // Hyperliquid only allows it after enough traded volume: log once and trade without it.
        this.dmsDisabled = true;
        this.log.warn(
          { reason: text },
          "dead-man's switch unavailable for this account; continuing without it",
        );
        return;
      }
      if (first && /does not exist|not authorized|agent|wallet/i.test(text)) {
        throw new Error(`exchange refused the API wallet ${this.signerAddress} for ${this.user}: ${text}`);
      }
      this.log.warn({ err: text }, "dead-man's switch refresh failed; will retry");
    }
    if (first && !this.dmsTimer && !this.dmsDisabled) {
      this.dmsTimer = setInterval(() => void this.refreshDeadMansSwitch(false), (sec * 1000) / 3);
      this.dmsTimer.unref();
    }
  }

  /** Orders this process still considers live (pending or open). */
  liveOrders(): { cloid: string; side: OrderSide; px: number; sz: number; state: OrderState }[] {
    return [...this.orders.values()]
      .filter((k) => !TERMINAL.has(k.state))
      .map((k) => ({ cloid: k.cloid, side: k.side, px: k.px, sz: k.sz, state: k.state }));
  }
}

/** One element of the orderUpdates stream. */
export interface WireOrderUpdate {
  order: { coin: string; side: 'B' | 'A'; limitPx: string; sz: string; oid: number; cloid?: string };
  status: string;
  statusTimestamp: number;
}

/** One fill of the userFills stream. */
export interface WireFill {
  coin: string;
  px: string;
  sz: string;
  side: 'B' | 'A';
  time: number;
  oid: number;
  crossed: boolean;
  fee: string;
  tid: number;
  cloid?: string;
}
