/**
 * The live Venue: orders go to Hyperliquid (or the loopback server) through @nktkas/hyperliquid's
 * ExchangeClient, signed by an API (agent) wallet; queries and streams use the master address.
 *
 * - Post-only (Alo) two-sided quoting; replacements with `batchModify`, cancels batched with `cancelByCloid`;
 *   prices rounded to the exchange grid toward the passive side, sizes down to szDecimals, orders under the
 *   $10 minimum notional refused locally (reported as rejected, never sent) — ./wire.ts.
 * - One action in flight at a time, same-kind actions merged into batches, every action paced by the rate budget,
 *   a 429 backs off and resends later — ./action-queue.ts; what each answer means — ./action-results.ts.
 * - Reconciliation: orderUpdates, userFills and userFundings streams (./streams.ts; fills de-duplicated in
 *   ./fills.ts), plus a periodic REST sweep of open orders and the position (./reconcile.ts) that also recovers
 *   fills and funding the streams missed (./fill-history.ts, once the session enables it); the exchange position
 *   is handed to the session through `onPosition`, funding payments through `onFunding`.
 * - Every request has an acknowledgement deadline; orders of an action without an answer are settled by
 *   orderStatus (./settle.ts).
 * - Dead-man's switch: `scheduleCancel(now + N s)` refreshed every N/3 s while running — ./dead-mans-switch.ts.
 * - Order states and the reports the engine sees: ./orders.ts. Cancel-all: ./cancel-all.ts.
 * This class wires them together and is the engine's Venue.
 */
import { ExchangeClient, HttpTransport, InfoClient, type IRequestTransport } from '@nktkas/hyperliquid';
import type {
  CancelRequest,
  Clock,
  ModifyRequest,
  OrderRequest,
  OrderSide,
  OrderState,
  Venue,
  VenueReport,
} from '../../../engine/types.ts';
import type { AssetRules } from '../../../exchange/order-rules.ts';
import { ActionQueue, DEFAULT_ACK_TIMEOUT_MS } from './action-queue.ts';
import { cancelAllResting, inScope } from './cancel-all.ts';
import { createVenueStats, type ExecutionContext, silentLogger, type VenueLogger } from './context.ts';
import { DeadMansSwitch } from './dead-mans-switch.ts';
import {
  type FundingEvent,
  fetchFillsSince,
  fetchFundingSince,
  type HistoryFill,
  type PagedResult,
} from './fill-history.ts';
import { FillLedger } from './fills.ts';
import {
  type AddressBudgetView,
  createMonotonicNonces,
  RateBudget,
  type RateBudgetOptions,
} from './limits.ts';
import { type KnownOrder, OrderTracker, TERMINAL } from './orders.ts';
import { infoCall } from './pacing.ts';
import { type ExchangeSnapshot, Reconciler } from './reconcile.ts';
import { fastAgentWallet, type Signer } from './signer.ts';
import { applyOrderUpdate, UserStreams } from './streams.ts';
import { apiResponse, errText, InstrumentedTransport } from './transport.ts';
import { formatOrder, type WireFill, type WireOrder, type WireOrderUpdate } from './wire.ts';

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
  /** Already-journalled fills (same trade id, same order by cloid or oid), so a restart does not count them again. */
  isKnownFill?: (tid: number, cloid: string, oid: number) => boolean;
  /** The cloid of an order id this process does not know (the journal's orders), for fills without a cloid. */
  cloidOfOid?: (oid: number) => string | undefined;
  /** Acknowledgement deadline of each request, ms (default 5000); then orderStatus settles its orders. */
  ackTimeoutMs?: number;
  /** How often a sweep also asks userFunding for missed funding payments, ms (default 60,000). */
  fundingCheckMs?: number;
  /**
   * This trader's cloid prefix ('0x' + 8 hex digits): clean-ups (start, stop, orphans) touch only orders whose
   * cloid starts with it, so traders sharing an account never cancel each other's orders. Unset: every order
   * of the account is ours to clean up.
   */
  ownCloidPrefix?: string;
  /** What start-up cancels: this trader's orders ('own', default when ownCloidPrefix is set) or all ('all'). */
  startupCleanup?: 'own' | 'all';
  /** How often the address budget is read from `userRateLimit`, ms (default 60 s; every 15 s while throttled). */
  rateLimitCheckMs?: number;
  /** Throttled mode started or ended (the session journals it and shows it in status). */
  onThrottle?: (throttled: boolean, budget: AddressBudgetView) => void;
}

/** What the periodic recovery of missed fills and funding starts from (exchange time, ms). */
export interface RecoveryOptions {
  /** Recover fills with time ≥ this (minus a margin): the journal's last fill. */
  fillsSince(): number;
  /** Recover funding payments with time ≥ this (minus a margin): the journal's last funding payment. */
  fundingSince(): number;
}

/** Recovery looks this far back before the journal's last fill / funding (the rest is de-duplicated). */
export const RECOVERY_MARGIN_MS = 60_000;

/** The account's fee rates (`userFees`): what its fills are charged, as fractions of notional. */
export interface AccountFees {
  maker: number;
  taker: number;
}

export class HyperliquidVenue implements Venue {
  readonly name = 'hyperliquid';
  readonly signerAddress: `0x${string}`;
  readonly user: `0x${string}`;
  readonly budget: RateBudget;
  readonly info: InfoClient;
  readonly exchange: ExchangeClient;
  /** Counters for the status line and tests. */
  readonly stats = createVenueStats();
  /** Set by the session: exchange truth after each sweep. */
  onPosition?: (snap: ExchangeSnapshot) => void;
  /** Set by the session: funding payments (stream snapshot and updates, and REST recovery). */
  onFunding?: (events: FundingEvent[], source: 'stream' | 'rest') => void;

  private readonly opts: HyperliquidVenueOptions;
  private readonly clock: Clock;
  private readonly log: VenueLogger;
  private readonly assetsByCoin = new Map<string, AssetRules>();
  private listener: (r: VenueReport) => void = () => {};
  private readonly orders: OrderTracker;
  private readonly queue: ActionQueue;
  private readonly fills: FillLedger;
  private readonly streams: UserStreams;
  private readonly reconciler: Reconciler;
  private readonly deadMansSwitch: DeadMansSwitch;
  private readonly ctx: ExecutionContext;
  private sweepTimer: NodeJS.Timeout | undefined;
  private rateLimitTimer: NodeJS.Timeout | undefined;
  private rateLimitUnsupported = false;
  private running = false;
  private abandoned = false;
  /**
   * Cloids of the orders found resting at start and cancelled by its cancel-all. An order the journal had open
   * that is not among them was gone before this start: cancelled while the trader was down (its guard,
   * scheduleCancel, by hand) or filled (then its fills are recovered).
   */
  readonly cancelledAtStart = new Set<string>();
  private recovery: RecoveryOptions | undefined;
  private lastFundingCheck = Number.NEGATIVE_INFINITY;
  /** This trader's cloid prefix (undefined: the whole account is ours). */
  readonly ownPrefix: string | undefined;

  constructor(opts: HyperliquidVenueOptions) {
    if (opts.ownCloidPrefix !== undefined && !/^0x[0-9a-f]{8}$/.test(opts.ownCloidPrefix)) {
      throw new Error(`ownCloidPrefix: must be 0x + 8 lower-case hex digits, got ${opts.ownCloidPrefix}`);
    }
    this.opts = opts;
    this.ownPrefix = opts.ownCloidPrefix;
    this.clock = opts.clock ?? { now: () => Date.now() };
    this.log = opts.logger ?? silentLogger;
    this.signerAddress = opts.signer.address;
    this.user = opts.masterAddress ?? opts.signer.address;
    for (const a of opts.assets ?? []) this.assetsByCoin.set(a.coin, a);
    this.budget = new RateBudget(this.clock.now(), opts.rate);
    this.budget.onThrottleChange = (throttled, view) => {
      // Said once per change, never per refused request.
      if (throttled) {
        this.stats.throttledEpisodes++;
        this.log.warn(
          { used: view.used, cap: view.cap, cumVlm: view.cumVlm },
          'address request budget exhausted: THROTTLED — one request per 10 s, cancels first, until the account trades more (1 request per USDC)',
        );
      } else {
        this.log.info(
          { used: view.used, cap: view.cap },
          'address request budget available again: throttling ended',
        );
      }
      opts.onThrottle?.(throttled, view);
      this.scheduleRateLimitCheck();
    };
    const base =
      opts.transport ?? new HttpTransport({ apiUrl: opts.httpUrl, isTestnet: opts.isTestnet ?? false });
    const transport = new InstrumentedTransport(base, (payload) => {
      const type = (payload as { action?: { type?: string } }).action?.type ?? '?';
      opts.onSend?.(type, performance.now());
    });
    this.info = new InfoClient({ transport });
    this.exchange = new ExchangeClient({
      transport,
      // Viem local accounts sign through the precomputed phantom-agent path (./signer.ts).
      wallet:
        typeof opts.signer.account?.sign === 'function'
          ? fastAgentWallet(opts.signer.account, opts.signer.privateKey)
          : opts.signer.account,
      // Wall time: the exchange checks nonces against its own clock.
      nonceManager: createMonotonicNonces(Date.now),
    });

    this.orders = new OrderTracker(this.clock, (u) => this.listener(u));
    this.ctx = {
      clock: this.clock,
      log: this.log,
      stats: this.stats,
      budget: this.budget,
      info: this.info,
      exchange: this.exchange,
      user: this.user,
      orders: this.orders,
      assets: this.assetsByCoin,
      rules: (coin) => this.rules(coin),
      isRunning: () => this.running,
      sweepSoon: () => this.reconciler.sweepSoon(),
    };
    this.queue = new ActionQueue(this.ctx, { ackTimeoutMs: opts.ackTimeoutMs ?? DEFAULT_ACK_TIMEOUT_MS });
    this.fills = new FillLedger(this.ctx, opts.isKnownFill, (f) => this.listener(f), opts.cloidOfOid);
    this.streams = new UserStreams(this.ctx, {
      onOrderUpdate: (e) => this.onWireOrderUpdate(e),
      onFills: (fills, isSnapshot) => this.onWireFills(fills, isSnapshot),
      // A (re)subscription snapshot is history: the start-up reconciliation and the periodic userFunding check
      // cover it. Each later message is a new hour's payment.
      onFundings: (events, isSnapshot) => {
        if (!isSnapshot) this.onFunding?.(this.ours(events), 'stream');
      },
    });
    this.reconciler = new Reconciler(this.ctx, {
      isQueuedOrInFlight: (cloid) => this.queue.isQueuedOrInFlight(cloid),
      tradedCoins: () => this.tradedCoins(),
      onSnapshot: (snap) => this.onPosition?.(snap),
      recover: () => this.recover(),
      ownPrefix: this.ownPrefix,
    });
    this.deadMansSwitch = new DeadMansSwitch({
      exchange: this.exchange,
      budget: this.budget,
      clock: this.clock,
      log: this.log,
      sec: opts.deadMansSwitchSec ?? 0,
      signerAddress: this.signerAddress,
      user: this.user,
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
    if (!this.opts.noStreams) await this.streams.open(this.opts.wsUrl, this.opts.isTestnet ?? false);
    this.running = true;
    await this.syncRateLimit();
    this.scheduleRateLimitCheck();
    const all = this.opts.startupCleanup === 'all' || this.ownPrefix === undefined;
    await this.cancelAllScoped(undefined, all ? undefined : this.ownPrefix, this.cancelledAtStart);
    if (!all) await this.noteForeignOrders();
    await this.deadMansSwitch.refresh(true);
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
    this.sweepTimer = undefined;
    if (this.rateLimitTimer) clearTimeout(this.rateLimitTimer);
    this.rateLimitTimer = undefined;
    this.deadMansSwitch.stopRefreshing();
    try {
      await this.cancelAll();
    } finally {
      this.running = false;
      // Abandoned meanwhile (the exchange never confirmed): the switch stays armed as the last protection.
      if (!this.abandoned) await this.deadMansSwitch.disarm();
      await this.streams.close();
      this.queue.halt();
    }
  }

  /**
   * Give up on a stop that does not complete (the exchange does not confirm the cancels): nothing more is sent,
   * the user streams close (no fill arrives for a journal about to close: the next start recovers it from
   * userFillsByTime), and the exchange's scheduleCancel, if armed, stays armed.
   */
  async abandon(): Promise<void> {
    this.abandoned = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    if (this.rateLimitTimer) clearTimeout(this.rateLimitTimer);
    this.rateLimitTimer = undefined;
    this.deadMansSwitch.stopRefreshing();
    this.running = false;
    this.queue.halt();
    await this.streams.close();
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
      this.orders.track(known);
      if ('error' in f) {
        this.orders.report(known, 'rejected', { reason: f.error });
        continue;
      }
      known.px = f.px;
      known.sz = f.sz;
      items.push({ req, wire: f.wire });
    }
    if (items.length > 0) this.queue.enqueue({ kind: 'order', items, attempts: 0 });
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
      this.orders.track(known);
      if (!old || TERMINAL.has(old.state)) {
        this.orders.report(known, 'rejected', { reason: `modify: order ${m.cloid} is not open` });
        continue;
      }
      const f = rules
        ? formatOrder({ side, px: m.px, sz: m.sz, tif: 'Alo', cloid: m.newCloid }, rules)
        : { error: `unknown coin ${m.coin}` };
      if ('error' in f) {
        this.orders.report(known, 'rejected', { reason: f.error });
        continue;
      }
      known.px = f.px;
      known.sz = f.sz;
      items.push({ req: m, wire: f.wire });
    }
    if (items.length > 0) this.queue.enqueue({ kind: 'modify', items, attempts: 0 });
  }

  cancel(cancels: CancelRequest[]): void {
    const items = cancels.filter((c) => {
      const o = this.orders.get(c.cloid);
      return !o || !TERMINAL.has(o.state);
    });
    if (items.length > 0) this.queue.enqueue({ kind: 'cancel', items, attempts: 0 });
  }

  /**
   * Cancel this trader's resting orders (cloid prefix; every order of the account without one), of all coins or
   * one, including ones this process did not place (an earlier session's); resolves once the exchange lists
   * none (or throws after 5 attempts).
   */
  async cancelAll(coin?: string): Promise<void> {
    await this.cancelAllScoped(coin, this.ownPrefix);
  }

  private async cancelAllScoped(
    coin: string | undefined,
    prefix: string | undefined,
    cancelled?: Set<string>,
  ): Promise<void> {
    // Drop queued placements: they would re-create what we are removing.
    this.queue.dropPlacements(coin, (cloid) => {
      const k = this.orders.get(cloid);
      if (k) this.orders.report(k, 'canceled', { reason: 'cancel-all before send' });
    });
    await this.queue.whenIdle();
    await cancelAllResting(this.ctx, coin, prefix, () => this.abandoned, cancelled);
  }

  /** Say once at start that orders of other traders (or manual ones) rest on the account and are left alone. */
  private async noteForeignOrders(): Promise<void> {
    const open = await this.info.openOrders({ user: this.user }).catch(() => []);
    const foreign = open.filter((o) => !inScope(o.cloid, this.ownPrefix));
    if (foreign.length > 0) {
      this.log.info(
        { orders: foreign.length, ownCloidPrefix: this.ownPrefix },
        "orders of other traders (or placed by hand) rest on this account: left alone (config startupCleanup: 'all' cancels them at start)",
      );
    }
  }

  /** Requests in a row the exchange has not answered (5xx, timeouts, a dropped connection); 0 once it answers. */
  get unansweredInARow(): number {
    return this.queue.unansweredInARow;
  }

  /** Resolves when no action is queued or in flight. */
  whenIdle(): Promise<void> {
    return this.queue.whenIdle();
  }

  // ---------------------------------------------------------------- streams and reconciliation

  /** Exposed for tests: one orderUpdates element. */
  onWireOrderUpdate(e: WireOrderUpdate): void {
    applyOrderUpdate(this.orders, e);
  }

  /** Exposed for tests: one userFills message. */
  onWireFills(fills: WireFill[], isSnapshot: boolean): void {
    this.fills.onWireFills(fills, isSnapshot);
  }

  /**
   * REST sweep: open orders and positions. Orders we think are live but the exchange does not list are
   * resolved with orderStatus; orders resting that we do not know are canceled (orphans); each traded coin's
   * exchange position goes to `onPosition`.
   */
  sweep(): Promise<ExchangeSnapshot[]> {
    return this.reconciler.sweep();
  }

  // ---------------------------------------------------------------- fills and funding by REST, fees

  /** The account's fills (of the coins traded) with time ≥ `since`, every page (./fill-history.ts). */
  async fetchFills(since: number): Promise<PagedResult<HistoryFill>> {
    const r = await fetchFillsSince(this.ctx, since);
    return { ...r, items: r.items.filter((f) => this.assetsByCoin.has(f.coin)) };
  }

  /** The account's funding payments (of the coins traded) with time ≥ `since`. */
  async fetchFunding(since: number): Promise<PagedResult<FundingEvent>> {
    const r = await fetchFundingSince(this.ctx, since);
    return { ...r, items: this.ours(r.items) };
  }

  /** The account's own maker/taker rates (`userFees`: after VIP tier, referral and staking discounts). */
  async accountFees(): Promise<AccountFees> {
    const f = await infoCall(this.ctx, 20, () => this.info.userFees({ user: this.user }));
    const maker = Number(f.userAddRate);
    const taker = Number(f.userCrossRate);
    if (!Number.isFinite(maker) || !Number.isFinite(taker)) {
      throw new Error(`userFees: unreadable rates (add ${f.userAddRate}, cross ${f.userCrossRate})`);
    }
    return { maker, taker };
  }

  /**
   * From now on every sweep also recovers the fills and funding the streams missed (fills through the fill
   * ledger to the engine, funding to `onFunding`). The session enables it once the engine listens.
   */
  enableRecovery(r: RecoveryOptions): void {
    this.recovery = r;
  }

  private async recover(): Promise<void> {
    const r = this.recovery;
    if (!r || !this.running) return;
    const fills = await this.fetchFills(Math.max(0, r.fillsSince() - RECOVERY_MARGIN_MS));
    const n = this.fills.onRecoveredFills(fills.items);
    if (n > 0) {
      this.stats.fillsRecovered += n;
      this.log.warn({ n }, 'fills the streams missed, recovered by userFillsByTime');
    }
    const now = this.clock.now();
    if (this.onFunding && now - this.lastFundingCheck >= (this.opts.fundingCheckMs ?? 60_000)) {
      this.lastFundingCheck = now;
      const fund = await this.fetchFunding(Math.max(0, r.fundingSince() - RECOVERY_MARGIN_MS));
      if (fund.items.length > 0) this.onFunding(fund.items, 'rest');
    }
  }

  private ours(events: FundingEvent[]): FundingEvent[] {
    return events.filter((e) => this.assetsByCoin.has(e.coin));
  }

  private tradedCoins(): string[] {
    const s = new Set<string>(this.opts.assets?.map((a) => a.coin) ?? []);
    for (const c of this.orders.coins()) s.add(c);
    return [...s];
  }

  /** Read the account's request budget from the exchange (`userRateLimit`, IP weight 20, no address cost). */
  async syncRateLimit(): Promise<void> {
    if (this.rateLimitUnsupported) return;
    try {
      const r = await infoCall(this.ctx, 20, () => this.info.userRateLimit({ user: this.user }));
      this.budget.sync(r);
    } catch (err) {
      // An exchange (or an old loopback) that does not answer it: keep counting from the fresh-account budget.
      this.rateLimitUnsupported =
        apiResponse(err) !== undefined || /422|unknown|not supported/i.test(errText(err));
      this.log.warn({ err: errText(err) }, 'cannot read userRateLimit: counting the request budget locally');
    }
  }

  /** The next `userRateLimit` read: every rateLimitCheckMs, every 15 s while throttled. */
  private scheduleRateLimitCheck(): void {
    if (this.rateLimitTimer) clearTimeout(this.rateLimitTimer);
    this.rateLimitTimer = undefined;
    if (!this.running || this.rateLimitUnsupported) return;
    const every = this.budget.addressThrottled ? 15_000 : (this.opts.rateLimitCheckMs ?? 60_000);
    this.rateLimitTimer = setTimeout(() => {
      void this.syncRateLimit().finally(() => this.scheduleRateLimitCheck());
    }, every);
    this.rateLimitTimer.unref();
  }

  /** The address request budget (exchange's count when synced) and whether we are throttled. */
  get requestBudget(): AddressBudgetView {
    return this.budget.view();
  }

  /** Requests of the address budget this process sent: orders + modifies + cancels, one per item. */
  get requestsSent(): number {
    return this.stats.ordersSent + this.stats.modifiesSent + this.stats.cancelsSent;
  }

  /** The exchange-side dead-man's switch: armed, unavailable (account not eligible), off or pending. */
  get deadMansSwitchState(): 'armed' | 'unavailable' | 'off' | 'pending' {
    return this.deadMansSwitch.state;
  }

  /** Orders this process still considers live (pending or open). */
  liveOrders(): { cloid: string; side: OrderSide; px: number; sz: number; state: OrderState }[] {
    return this.orders.live();
  }
}
