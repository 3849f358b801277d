/**
 * The one core of queries and controls (freqtrade's rpc/ idea): the REST API, the live stream, webhooks,
 * Telegram and the dashboard all call these methods, so every surface says the same thing. It listens to the
 * trading port's raw events, keeps bounded histories per market (mid/quotes/inventory/P&L sampled every
 * second, every calibration, fills, order actions, alerts) and publishes on the event bus. P&L and its parts
 * are the trading side's own (the engine's attribution: spread capture, adverse selection, inventory carry,
 * fees, funding), so the API, the stream, the dashboard and the status line say the same numbers.
 */
import { AlertRules, type AlertSettings } from './alerts.ts';
import { type Alert, EventBus, type MarketSample, type ServiceEvent } from './events.ts';
import {
  type AccountSnapshot,
  type CalibrationPoint,
  CONTROL_ACTIONS,
  type ControlAction,
  type ControlOutcome,
  type ControlSource,
  type FillView,
  type MarketPort,
  type MarketSnapshot,
  type MarketState,
  PARAM_NAMES,
  type ParamSnapshot,
  type ParamValues,
  type TradingEvent,
  type TradingPort,
} from './port.ts';
import { Ring, TimeSeries } from './series.ts';

/** A refusal the API turns into a 4xx JSON error; nothing was changed. */
export class RpcError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = 'RpcError';
    this.status = status;
    this.code = code;
  }
}

const SERIES_FIELDS = [
  'mid',
  'bid',
  'ask',
  'position',
  'total',
  'realised',
  'unrealised',
  'fees',
  'spreadCapture',
  'adverseSelection',
  'inventoryCarry',
  'funding',
] as const;
type SeriesField = (typeof SERIES_FIELDS)[number];

export interface OrderAction {
  coin: string;
  time: number;
  action: string;
  detail: Record<string, unknown>;
}

interface MarketBook {
  coin: string;
  series: TimeSeries<SeriesField>;
  calibrations: Ring<CalibrationPoint>;
  fills: Ring<FillView>;
  actions: Ring<OrderAction>;
  state: MarketState | undefined;
  lastQuote: string;
}

export interface StatusBody {
  mode: 'paper' | 'live';
  uptimeSec: number;
  account: { equity: number; notional: number; drawdown: number; state: MarketState };
  markets: {
    coin: string;
    state: MarketState;
    mid: number | null;
    bid: number | null;
    ask: number | null;
    position: number;
    pnl: { realised: number; unrealised: number; fees: number; total: number };
    params: ParamSnapshot;
    kappaEpsilon: { plus: number | null; minus: number | null };
    pnlAttribution: PnlAttribution;
  }[];
}

/** The engine's split of a market's net P&L (USD; fees negative when paid): the status line's numbers. */
export interface PnlAttribution {
  spreadCapture: number;
  adverseSelection: number;
  inventoryCarry: number;
  fees: number;
  funding: number;
}

function attributionOf(s: MarketSnapshot): PnlAttribution {
  const a = s.pnlAttribution;
  return {
    spreadCapture: a.spreadCapture,
    adverseSelection: a.adverseSelection,
    inventoryCarry: a.inventoryCarry,
    fees: a.fees,
    funding: a.funding,
  };
}

export interface CoreOptions {
  port: TradingPort;
  alerts?: Partial<AlertSettings>;
  /** Sampling period of the per-market series and of the `status` stream event (ms), default 1000. */
  sampleMs?: number;
  /** Points kept per market series before it coarsens (default 20,000: 5.5 h at 1 s, then coarser). */
  seriesCapacity?: number;
  clock?: () => number;
  onListenerError?: (err: unknown) => void;
}

const NULL_PARAMS: ParamValues = Object.fromEntries(PARAM_NAMES.map((k) => [k, null])) as ParamValues;
const nullParams = (): ParamSnapshot => ({ ...NULL_PARAMS, stderr: { ...NULL_PARAMS } });
const nz = (x: number | null | undefined) => (typeof x === 'number' && Number.isFinite(x) ? x : Number.NaN);

export class ServiceCore {
  readonly bus: EventBus;
  readonly port: TradingPort;
  private readonly books = new Map<string, MarketBook>();
  private readonly alertLog = new Ring<Alert>(500);
  private readonly rules: AlertRules;
  private readonly sampleMs: number;
  private readonly capacity: number;
  private readonly clock: () => number;
  private timer: NodeJS.Timeout | undefined;
  private unsubscribe: (() => void) | undefined;
  private quotesDirty = new Set<string>();
  private quoteCheckScheduled = false;
  private started = false;

  constructor(o: CoreOptions) {
    this.port = o.port;
    this.sampleMs = o.sampleMs ?? 1000;
    this.capacity = o.seriesCapacity ?? 20_000;
    this.clock = o.clock ?? Date.now;
    this.bus = new EventBus({ onError: o.onListenerError });
    this.rules = new AlertRules(o.alerts ?? {}, (a) => {
      this.alertLog.push(a);
      this.bus.emit({ type: 'alert', alert: a });
    });
  }

  /** Starts listening to the trading side and sampling. Idempotent. */
  start(): void {
    if (this.started) return;
    this.started = true;
    this.unsubscribe = this.port.subscribe((e) => this.onTrading(e));
    this.timer = setInterval(() => this.sample(), this.sampleMs);
    this.timer.unref();
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  get alertSettings(): AlertSettings {
    return this.rules.settings;
  }

  private book(coin: string): MarketBook {
    let b = this.books.get(coin);
    if (!b) {
      b = {
        coin,
        series: new TimeSeries(SERIES_FIELDS, this.capacity),
        calibrations: new Ring(10_000),
        fills: new Ring(5000),
        actions: new Ring(500),
        state: undefined,
        lastQuote: '',
      };
      this.books.set(coin, b);
    }
    return b;
  }

  private onTrading(e: TradingEvent): void {
    switch (e.kind) {
      case 'fill': {
        const b = this.book(e.coin);
        const f = e.fill;
        b.fills.push(f);
        this.rules.fill(f);
        this.bus.emit({ type: 'fill', ...f });
        this.markQuotesDirty(e.coin);
        break;
      }
      case 'orders':
        this.book(e.coin).actions.push({ coin: e.coin, time: e.time, action: e.action, detail: e.detail });
        this.markQuotesDirty(e.coin);
        break;
      case 'calibration':
        this.book(e.coin).calibrations.push(e.point);
        this.rules.calibration(e.point);
        this.bus.emit({ type: 'params', ...e.point });
        break;
      case 'params-rejected':
        this.rules.paramsRejected(e.time, e.coin, e.detail);
        break;
      case 'state':
        this.checkState(e.coin, e.time);
        break;
      case 'risk':
        if (e.event === 'gap') this.rules.feedGap(e.time, e.coin, e.detail);
        else if (e.event === 'account-kill-switch')
          this.rules.accountKillSwitch(e.time, String(e.detail.reason ?? ''));
        this.checkState(e.coin, e.time);
        break;
      case 'lifecycle':
        if (e.event === 'started') {
          this.rules.started(
            e.time,
            this.port.mode,
            this.port.markets().map((m) => m.coin),
          );
          for (const m of this.port.markets()) this.checkState(m.coin, e.time);
        } else if (e.event === 'stopping') {
          this.rules.stopped(e.time, e.reason ?? '');
        }
        break;
      case 'control':
        this.rules.control(e.time, e.coin, e.action, e.source);
        if (e.coin) this.checkState(e.coin, e.time);
        break;
    }
  }

  private markQuotesDirty(coin: string): void {
    this.quotesDirty.add(coin);
    if (this.quoteCheckScheduled) return;
    this.quoteCheckScheduled = true;
    setImmediate(() => {
      this.quoteCheckScheduled = false;
      const coins = [...this.quotesDirty];
      this.quotesDirty.clear();
      const now = this.clock();
      for (const c of coins) {
        const m = this.marketOrUndefined(c);
        if (m) this.checkQuote(m, now);
      }
    });
  }

  private checkQuote(m: MarketPort, now: number): void {
    const q = m.quote();
    const b = this.book(m.coin);
    const key = `${q.mid}|${q.bid}|${q.ask}|${q.position}`;
    if (key === b.lastQuote) return;
    b.lastQuote = key;
    this.bus.emit({ type: 'quote', coin: m.coin, time: now, ...q });
  }

  private checkState(coin: string, now: number): void {
    const m = this.marketOrUndefined(coin);
    if (!m) return;
    const s = m.snapshot();
    this.noteState(s, now);
  }

  private noteState(s: MarketSnapshot, now: number): void {
    const b = this.book(s.coin);
    const prev = b.state;
    if (prev === s.state) return;
    b.state = s.state;
    if (prev === undefined) return;
    this.bus.emit({
      type: 'risk',
      coin: s.coin,
      time: now,
      state: s.state,
      previous: prev,
      reason: s.reason,
    });
    this.rules.stateChanged(now, s.coin, prev, s.state, s.reason);
  }

  /** One sample of every market (series, state, quotes), the alert clock, and a `status` stream event. */
  sample(now = this.clock()): void {
    const pnl = new Map<string, number>();
    const snaps: MarketSnapshot[] = [];
    const samples: MarketSample[] = [];
    for (const m of this.port.markets()) {
      const s = m.snapshot();
      snaps.push(s);
      const b = this.book(s.coin);
      this.noteState(s, now);
      const a = s.pnlAttribution;
      // The same figures for the chart series (NaN prices as nz) and the samples (as they are).
      const figures = {
        position: s.position,
        total: s.pnl.total,
        realised: s.pnl.realised,
        unrealised: s.pnl.unrealised,
        fees: s.pnl.fees,
        spreadCapture: a.spreadCapture,
        adverseSelection: a.adverseSelection,
        inventoryCarry: a.inventoryCarry,
        funding: s.funding,
      };
      b.series.push(now, { mid: nz(s.mid), bid: nz(s.bid), ask: nz(s.ask), ...figures });
      samples.push({ coin: s.coin, time: now, mid: s.mid, bid: s.bid, ask: s.ask, ...figures });
      pnl.set(s.coin, s.pnl.total);
      this.checkQuote(m, now);
    }
    this.rules.tick(now, pnl);
    if (this.bus.size > 0)
      this.bus.emit({ type: 'status', status: this.statusFrom(snaps, now), samples, markets: snaps });
  }

  // ---- queries ----

  status(): StatusBody {
    return this.statusFrom(
      this.port.markets().map((m) => m.snapshot()),
      this.clock(),
    );
  }

  private statusFrom(snaps: MarketSnapshot[], now: number): StatusBody {
    const acct: AccountSnapshot = this.port.account();
    return {
      mode: this.port.mode,
      uptimeSec: Math.max(0, (now - this.port.startedAt) / 1000),
      account: { equity: acct.equity, notional: acct.notional, drawdown: acct.drawdown, state: acct.state },
      markets: snaps.map((s) => ({
        coin: s.coin,
        state: s.state,
        mid: s.mid,
        bid: s.bid,
        ask: s.ask,
        position: s.position,
        pnl: { realised: s.pnl.realised, unrealised: s.pnl.unrealised, fees: s.pnl.fees, total: s.pnl.total },
        params: s.params ?? nullParams(),
        kappaEpsilon: { plus: s.kappaEpsilon.plus, minus: s.kappaEpsilon.minus },
        pnlAttribution: attributionOf(s),
      })),
    };
  }

  /** Every market's full snapshot (the dashboard and Telegram use the extra fields). */
  snapshots(): MarketSnapshot[] {
    return this.port.markets().map((m) => m.snapshot());
  }

  coins(): string[] {
    return this.port.markets().map((m) => m.coin);
  }

  private marketOrUndefined(coin: string): MarketPort | undefined {
    return this.port.markets().find((m) => m.coin === coin);
  }

  /** The market named `coin`; 404 naming the markets when there is none. */
  market(coin: string): MarketPort {
    const m = this.marketOrUndefined(coin);
    if (!m) {
      throw new RpcError(
        404,
        'unknown-coin',
        `coin: '${coin}' is not traded here (markets: ${this.coins().join(', ') || 'none'})`,
      );
    }
    return m;
  }

  /** A coin for per-market series: the one given, or the only market; 400 when several and none given. */
  private oneCoin(coin: string | undefined): string {
    if (coin !== undefined) return this.market(coin).coin;
    const coins = this.coins();
    if (coins.length === 1) return coins[0];
    throw new RpcError(
      400,
      'coin-required',
      `coin: required when several markets run (markets: ${coins.join(', ')})`,
    );
  }

  orders(q: { coin?: string } = {}): { orders: ReturnType<MarketPort['openOrders']>; recent: OrderAction[] } {
    const markets = q.coin !== undefined ? [this.market(q.coin)] : this.port.markets();
    const orders = markets.flatMap((m) => m.openOrders());
    const recent = markets
      .flatMap((m) => this.book(m.coin).actions.list())
      .sort((a, b) => a.time - b.time)
      .slice(-100);
    return { orders, recent };
  }

  fills(q: { coin?: string; since?: number; limit?: number } = {}): { fills: FillView[] } {
    const markets = q.coin !== undefined ? [this.market(q.coin)] : this.port.markets();
    const since = q.since ?? 0;
    const limit = q.limit ?? 500;
    const fills = markets
      .flatMap((m) => this.book(m.coin).fills.list((f) => f.time >= since))
      .sort((a, b) => a.time - b.time)
      .slice(-limit);
    return { fills };
  }

  paramsHistory(q: { coin?: string; since?: number } = {}): { coin: string; points: CalibrationPoint[] } {
    const coin = this.oneCoin(q.coin);
    const since = q.since ?? 0;
    return { coin, points: this.book(coin).calibrations.list((p) => p.time >= since) };
  }

  pnl(q: { coin?: string; since?: number; maxPoints?: number } = {}) {
    const coin = this.oneCoin(q.coin);
    const pts = this.book(coin).series.since(q.since ?? 0, q.maxPoints ?? 2000);
    return {
      coin,
      points: pts.map((p) => ({
        time: p.time,
        total: p.total,
        realised: p.realised,
        unrealised: p.unrealised,
        fees: p.fees,
        spreadCapture: p.spreadCapture,
        adverseSelection: p.adverseSelection,
        inventoryCarry: p.inventoryCarry,
        funding: p.funding,
        position: p.position,
      })),
    };
  }

  quotes(q: { coin?: string; since?: number; maxPoints?: number } = {}) {
    const coin = this.oneCoin(q.coin);
    const s = this.market(coin).snapshot();
    const pts = this.book(coin).series.since(q.since ?? 0, q.maxPoints ?? 2000);
    return {
      coin,
      lotSize: s.lotSize,
      maxPositionLots: s.maxPositionLots,
      points: pts.map((p) => ({ time: p.time, mid: p.mid, bid: p.bid, ask: p.ask, position: p.position })),
    };
  }

  alerts(q: { since?: number; limit?: number } = {}): { alerts: Alert[] } {
    const since = q.since ?? 0;
    return { alerts: this.alertLog.list((a) => a.time >= since, q.limit ?? 100) };
  }

  /**
   * A market's P&L now split as the status line splits it (the engine's attribution, summing to total):
   * spread capture, adverse selection, inventory carry, fees (negative when paid), funding.
   */
  pnlParts(coin: string): PnlAttribution & { total: number } {
    const s = this.market(coin).snapshot();
    return { ...attributionOf(s), total: s.pnl.total };
  }

  // ---- controls ----

  /**
   * pause | resume | flatten | stop, for one coin or (coin undefined) all. Validated before anything changes;
   * each market's control is journalled by the trading side. `stop` without a coin stops the whole process.
   */
  async control(
    action: ControlAction,
    coin: string | undefined,
    source: ControlSource,
  ): Promise<{ action: ControlAction; coin: string | null; markets: ControlOutcome[] }> {
    if (!CONTROL_ACTIONS.includes(action)) {
      throw new RpcError(
        400,
        'unknown-action',
        `action: '${action}' is not one of ${CONTROL_ACTIONS.join(', ')}`,
      );
    }
    const targets = coin !== undefined ? [this.market(coin)] : this.port.markets();
    const now = this.clock();
    let markets: ControlOutcome[];
    if (action === 'stop' && coin === undefined) {
      markets = targets.map((m) => ({
        coin: m.coin,
        state: m.snapshot().state,
        openOrders: m.openOrders().length,
      }));
      this.onTrading({ kind: 'control', coin: null, time: now, action, source });
      this.bus.emit({ type: 'control', time: now, action, source, coin: null, markets });
      this.port.stop(`stop (${source})`, source);
      return { action, coin: null, markets };
    }
    if (action === 'resume' && coin === undefined) this.port.resumeAccount?.();
    markets = await Promise.all(targets.map((m) => m.control(action, source)));
    this.onTrading({ kind: 'control', coin: coin ?? null, time: now, action, source });
    this.bus.emit({ type: 'control', time: now, action, source, coin: coin ?? null, markets });
    return { action, coin: coin ?? null, markets };
  }

  /** Emit on the bus (tests, and surfaces that add their own events). */
  publish(e: ServiceEvent): void {
    this.bus.emit(e);
  }
}
