/**
 * The trading port over the trader (src/trading/trader.ts), one coin or many, paper or live. The trader is
 * started with the hooks below: a strategy factory whose parameter feed reports every calibration, a journal
 * tap (every order, fill, parameter set, risk and state entry), onStarted / onMarketStarted (the markets, the
 * account). The taps only queue on the quoting path; the queue is turned into trading events on the next turn
 * of the event loop, after the order went out. P&L is the engine's own: the parts of its net P&L
 * (src/engine/attribution.ts), the same numbers as the status line.
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type { PnlAttributionFigures } from '../engine/attribution.ts';
import type { Engine } from '../engine/engine.ts';
import type { InstrumentSpec, Strategy } from '../engine/types.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import type { StrategyConfig } from '../strategies/config.ts';
import { createStrategy, defaultParamFeed, type ParamFeed } from '../strategies/index.ts';
import type { TradingConfig } from '../trading/config.ts';
import type { JournalEntry } from '../trading/journal.ts';
import type { MarketSession, StrategyFactory } from '../trading/market-session.ts';
import type { RunningTrader } from '../trading/trader.ts';
import {
  type AccountSnapshot,
  type CalibrationPoint,
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
  type QuoteView,
  type TradingEvent,
  type TradingPort,
} from './port.ts';

type Rec = Record<string, unknown>;
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const fin = (x: number): number | null => (Number.isFinite(x) ? x : null);

/** A parameter feed that reports every parameter set it hands out. */
export class TappedParamFeed implements ParamFeed {
  private readonly inner: ParamFeed;
  private readonly tap: (r: CalibrationResult) => void;
  constructor(inner: ParamFeed, tap: (r: CalibrationResult) => void) {
    this.inner = inner;
    this.tap = tap;
  }
  onEvent(ev: MarketEvent): CalibrationResult | undefined {
    const r = this.inner.onEvent(ev);
    if (r) this.tap(r);
    return r;
  }
  onGap(gap: Parameters<ParamFeed['onGap']>[0]): void {
    this.inner.onGap(gap);
  }
  current(): CalibrationResult | undefined {
    return this.inner.current();
  }
}

/** A calibration result as the service reports it. */
export function calibrationPoint(r: CalibrationResult, time: number): CalibrationPoint {
  const values = {} as ParamValues;
  const stderr = {} as ParamValues;
  for (const k of PARAM_NAMES) {
    values[k] = num(r[k]);
    stderr[k] = num(r.stderr?.[k]);
  }
  return {
    coin: r.coin,
    time,
    at: r.at,
    source: r.source,
    ok: r.quality?.ok ?? r.source === 'fresh',
    flags: r.quality?.flags ?? [],
    values,
    stderr,
    kappaEpsilonPlus: num(r.kappaPlus * r.epsilonPlus),
    kappaEpsilonMinus: num(r.kappaMinus * r.epsilonMinus),
  };
}

/** Polls `check` every 20 ms until true or `timeoutMs`. */
function until(check: () => boolean, timeoutMs: number): Promise<void> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const tick = () => {
      if (check() || Date.now() - t0 >= timeoutMs) resolve();
      else setTimeout(tick, 20);
    };
    tick();
  });
}

const STATE_RANK: Record<MarketState, number> = { active: 0, stale: 1, paused: 2, reducing: 3, halted: 4 };

/** What a market port needs from the trading side it sits on. */
export interface MarketDeps {
  /** The running market (undefined until its first book). */
  market(): Pick<MarketSession, 'engine' | 'attribution'> | undefined;
  /** The trading side has ended (no engine will come). */
  ended(): boolean;
  journalControl(coin: string, action: ControlAction, source: ControlSource): void;
  /** Stop this market (its orders cancelled; the last market stops the trader). */
  stopMarket(coin: string, reason: string, source: ControlSource): void;
}

const ZERO_ATTRIBUTION: PnlAttributionFigures = {
  spreadCapture: 0,
  adverseSelection: 0,
  inventoryCarry: 0,
  fees: 0,
  funding: 0,
};

/** One market: status and operator controls over its engine. */
export class EngineMarket implements MarketPort {
  readonly coin: string;
  private readonly deps: MarketDeps;
  private readonly config: TradingConfig;
  paused: { reason: string } | undefined;
  flattening = false;
  stopped = false;
  /** Recent calibration results by their `at`, to find the standard errors of the set in use. */
  readonly calibrations: CalibrationResult[] = [];

  constructor(deps: MarketDeps, config: TradingConfig) {
    this.deps = deps;
    this.config = config;
    this.coin = config.coin;
  }

  private get engine(): Engine | undefined {
    return this.deps.market()?.engine;
  }

  quote(): QuoteView {
    const eng = this.engine;
    if (!eng) return { mid: null, bid: null, ask: null, position: 0 };
    const { bid, ask } = bestQuotes(eng);
    return { mid: fin(eng.lastMid), bid, ask, position: eng.portfolio.position };
  }

  private state(eng: Engine | undefined): { state: MarketState; reason: string } {
    if (!eng)
      return {
        state: 'stale',
        reason: this.deps.ended() ? 'session ended' : 'starting: waiting for the first book',
      };
    if (this.stopped || this.deps.ended()) return { state: 'halted', reason: 'stopped' };
    if (this.paused) return { state: 'paused', reason: this.paused.reason };
    const r = eng.risk;
    if (r.state === 'HALTED') return { state: 'halted', reason: r.reason };
    if (r.stale || eng.quotingState() === 'stale') {
      return {
        state: 'stale',
        reason: r.stale
          ? `no book update for more than ${r.config.staleMs} ms`
          : 'data gap: waiting for fresh data',
      };
    }
    if (r.state === 'REDUCING') return { state: 'reducing', reason: r.reason };
    return { state: 'active', reason: '' };
  }

  snapshot(): MarketSnapshot {
    const eng = this.engine;
    const { state, reason } = this.state(eng);
    const lotSize = this.config.orderSize;
    if (!eng) {
      return {
        coin: this.coin,
        state,
        reason,
        mid: null,
        bid: null,
        ask: null,
        position: 0,
        lotSize,
        maxPositionLots: this.config.maxPosition,
        pnl: { realised: 0, unrealised: 0, fees: 0, total: 0 },
        pnlAttribution: { ...ZERO_ATTRIBUTION },
        funding: 0,
        params: null,
        kappaEpsilon: { plus: null, minus: null },
        fills: 0,
        openOrders: 0,
      };
    }
    const p = eng.portfolio;
    const mid = eng.lastMid;
    const { bid, ask } = bestQuotes(eng);
    const d = (eng.strategy.diagnostics?.() ?? {}) as Rec;
    const params = this.paramsInUse(d);
    const kePlus = num(d.kappaEpsilonPlus) ?? (params ? product(params.kappaPlus, params.epsilonPlus) : null);
    const keMinus =
      num(d.kappaEpsilonMinus) ?? (params ? product(params.kappaMinus, params.epsilonMinus) : null);
    return {
      coin: this.coin,
      state,
      reason,
      mid: fin(mid),
      bid,
      ask,
      position: p.position,
      lotSize,
      maxPositionLots: this.config.maxPosition,
      pnl: {
        // Funding is a realised cash flow: total = realised + unrealised − fees holds with it.
        realised: p.realisedPnl + p.funding,
        unrealised: mid > 0 ? p.unrealisedPnl(mid) : 0,
        fees: p.feesPaid,
        total: mid > 0 ? p.netPnl(mid) : 0,
      },
      // The status line's split of that total (engine attribution): spread capture, adverse selection,
      // inventory carry, fees (negative when paid), funding.
      pnlAttribution:
        mid > 0
          ? (this.deps.market()?.attribution.figures(mid) ?? { ...ZERO_ATTRIBUTION })
          : { ...ZERO_ATTRIBUTION },
      funding: p.funding,
      params,
      kappaEpsilon: { plus: kePlus, minus: keMinus },
      fills: p.fills.length,
      openOrders: eng.orders.openOrders().length,
    };
  }

  /** The strategy's parameters in use, with the standard errors of the calibration they came from. */
  private paramsInUse(d: Rec): ParamSnapshot | null {
    const used = (d.params && typeof d.params === 'object' ? d.params : null) as Rec | null;
    const calibratedAt = num(d.calibratedAt);
    const fromCal =
      calibratedAt !== null ? this.calibrations.find((c) => c.at === calibratedAt) : this.calibrations.at(-1);
    if (!used && !fromCal) return null;
    const values = {} as ParamValues;
    const stderr = {} as ParamValues;
    const fromPriors = d.source === 'prior';
    for (const k of PARAM_NAMES) {
      const v = used ? num(used[k]) : null;
      values[k] = v ?? (fromCal && !fromPriors ? num(fromCal[k]) : null);
      stderr[k] = null;
      if (!fromCal || fromPriors) continue;
      if (v === null || v === fromCal[k]) {
        stderr[k] = num(fromCal.stderr?.[k]);
      } else if (k === 'epsilonPlus' || k === 'epsilonMinus') {
        // ε taken from a markout horizon: its standard error is that markout's.
        const m = fromCal.markouts?.find((x) => (k === 'epsilonPlus' ? x.plus.mean : x.minus.mean) === v);
        stderr[k] = m ? num(k === 'epsilonPlus' ? m.plus.stderr : m.minus.stderr) : null;
      }
    }
    return { ...values, stderr };
  }

  openOrders() {
    const eng = this.engine;
    if (!eng) return [];
    return eng.orders.openOrders().map((o) => ({
      coin: this.coin,
      cloid: o.cloid,
      oid: o.oid ?? null,
      side: o.side,
      px: o.px,
      sz: o.sz,
      filled: o.filled,
      state: o.state,
      openedAt: fin(o.openedAt),
    }));
  }

  /** Called after each fill: a flatten ends (paused) once the position is flat. */
  afterFill(): void {
    const eng = this.engine;
    if (!eng || !this.flattening) return;
    if (Math.abs(eng.portfolio.position) < this.config.orderSize * 1e-6) {
      this.flattening = false;
      this.pauseEngine(eng, 'flattened: position is flat');
    }
  }

  private pauseEngine(eng: Engine, reason: string): void {
    this.paused = { reason };
    eng.risk.halt(Date.now(), reason);
    kick(eng);
  }

  async control(action: ControlAction, source: ControlSource): Promise<ControlOutcome> {
    const eng = this.engine;
    const now = Date.now();
    this.deps.journalControl(this.coin, action, source);
    if (action === 'stop') {
      this.stopped = true;
      this.deps.stopMarket(this.coin, `stop (${source})`, source);
    } else if (eng) {
      if (action === 'pause') {
        this.flattening = false;
        this.pauseEngine(eng, `paused by the operator (${source})`);
      } else if (action === 'resume') {
        this.flattening = false;
        this.paused = undefined;
        eng.risk.resume(now, `resumed by the operator (${source})`);
        kick(eng);
      } else if (action === 'flatten') {
        this.paused = undefined;
        if (Math.abs(eng.portfolio.position) < this.config.orderSize * 1e-6) {
          this.pauseEngine(eng, `flattened (${source}): position already flat`);
        } else {
          this.flattening = true;
          if (eng.risk.state === 'HALTED') eng.risk.resume(now, `flatten (${source})`);
          eng.risk.reduceOnly(now, `flatten by the operator (${source}): reduce-only until flat`);
          kick(eng);
        }
      }
      // Done when the venue confirmed the cancels (bounded wait): all of them when pausing, those on the side
      // that would add to the position when flattening.
      if (action === 'pause' || (action === 'flatten' && this.paused)) {
        await until(() => eng.orders.openOrders().length === 0, 5000);
      } else if (action === 'flatten') {
        await until(() => {
          const pos = eng.portfolio.position;
          return eng.orders
            .openOrders()
            .every((o) => (pos > 0 ? o.side === 'ask' : pos < 0 ? o.side === 'bid' : false));
        }, 5000);
      }
    } else if (action !== 'resume') {
      // Not quoting yet: remember, so the engine starts paused.
      this.paused = { reason: `paused by the operator (${source})` };
    } else {
      this.paused = undefined;
    }
    return {
      coin: this.coin,
      state: this.state(this.engine).state,
      openOrders: eng ? eng.orders.openOrders().length : 0,
    };
  }

  /** The engine just started: apply a pause asked for before it existed. */
  onEngine(eng: Engine): void {
    if (this.paused) eng.risk.halt(Date.now(), this.paused.reason);
  }
}

function product(a: number | null, b: number | null): number | null {
  return a !== null && b !== null ? fin(a * b) : null;
}

/** Re-run the engine's decision now (a control changed what may be quoted). */
function kick(eng: Engine): void {
  if (eng.isRunning) eng.onTimer(Date.now());
}

function bestQuotes(eng: Engine): { bid: number | null; ask: number | null } {
  let bid = Number.NaN;
  let ask = Number.NaN;
  for (const x of eng.orders.openOrders()) {
    if (x.state === 'pending-new') continue; // not on the book yet
    if (x.side === 'bid' && !(x.px <= bid)) bid = x.px;
    if (x.side === 'ask' && !(x.px >= ask)) ask = x.px;
  }
  return { bid: fin(bid), ask: fin(ask) };
}

interface Queued {
  entry?: JournalEntry;
  calibration?: CalibrationResult;
  time: number;
  mid: number;
}

/**
 * The port's machinery: the hooks' queue (the taps only append; it is turned into trading events on the next
 * turn of the event loop), listeners, lifecycle.
 */
abstract class JournalPort implements TradingPort {
  readonly mode: 'paper' | 'live';
  readonly startedAt = Date.now();
  ended = false;
  protected listeners: ((e: TradingEvent) => void)[] = [];
  private queue: Queued[] = [];
  private drainScheduled = false;
  protected stopRequested = false;
  /** Called when a stop is asked before the trading side runs (the runner aborts the start). */
  onStopRequest: ((reason: string) => void) | undefined;

  constructor(mode: 'paper' | 'live') {
    this.mode = mode;
  }

  abstract markets(): EngineMarket[];
  abstract account(): AccountSnapshot;
  protected abstract engineOf(coin: string): Engine | undefined;
  protected abstract journal(): { record(e: JournalEntry): unknown } | undefined;
  protected abstract stopTrading(reason: string): boolean;

  protected market(coin: string): EngineMarket | undefined {
    return this.markets().find((m) => m.coin === coin);
  }

  subscribe(listener: (e: TradingEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  protected emit(e: TradingEvent): void {
    for (const l of this.listeners) l(e);
  }

  stop(reason: string, _source: ControlSource): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.emit({ kind: 'lifecycle', time: Date.now(), event: 'stopping', reason });
    if (!this.stopTrading(reason)) this.onStopRequest?.(reason);
  }

  journalControl(coin: string, action: ControlAction, source: ControlSource): void {
    this.journal()?.record({
      type: 'risk',
      rxTime: Date.now(),
      data: { event: 'control', action, coin, source },
    });
  }

  /** Strategy factory: the default strategies, their rolling calibrator tapped. */
  readonly strategyFactory: StrategyFactory = (cfg: StrategyConfig, instrument: InstrumentSpec): Strategy => {
    const feed = new TappedParamFeed(defaultParamFeed(cfg, instrument), (r) =>
      this.enqueue({ calibration: r }),
    );
    return createStrategy(cfg.strategy, cfg, instrument, { feed });
  };

  /** Journal tap: called inside journal.record, on the quoting path: only queues. */
  readonly journalTap = (entry: JournalEntry): void => {
    this.enqueue({ entry });
  };

  private enqueue(q: Omit<Queued, 'time' | 'mid'>): void {
    const coin = q.calibration?.coin ?? coinOf(q.entry?.data);
    const mid = coin ? (this.engineOf(coin)?.lastMid ?? Number.NaN) : Number.NaN;
    this.queue.push({ ...q, time: Date.now(), mid });
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  protected started(): void {
    this.emit({ kind: 'lifecycle', time: Date.now(), event: 'started' });
  }

  /** The trading side returned (or failed): everything it had is final. */
  end(reason: string): void {
    this.drain();
    this.ended = true;
    if (!this.stopRequested) this.emit({ kind: 'lifecycle', time: Date.now(), event: 'stopping', reason });
    this.stopRequested = true;
    this.emit({ kind: 'lifecycle', time: Date.now(), event: 'stopped', reason });
  }

  /** The coin of an entry without one (one coin: its own; account-wide rows carry coin null). */
  protected abstract defaultCoin(): string;

  protected drain(): void {
    this.drainScheduled = false;
    const batch = this.queue;
    this.queue = [];
    for (const q of batch) {
      if (q.calibration) {
        const market = this.market(q.calibration.coin);
        if (market) {
          const cals = market.calibrations;
          cals.push(q.calibration);
          if (cals.length > 8) cals.splice(0, cals.length - 8);
        }
        this.emit({
          kind: 'calibration',
          coin: q.calibration.coin,
          point: calibrationPoint(q.calibration, q.time),
        });
        continue;
      }
      const e = q.entry;
      if (!e) continue;
      const d = (e.data ?? {}) as Rec;
      const coin = coinOf(e.data) ?? this.defaultCoin();
      switch (e.type) {
        case 'fill': {
          const eng = this.engineOf(coin);
          const fill: FillView = {
            coin,
            time: e.rxTime,
            exTime: e.exTime ?? null,
            side: d.side === 'ask' ? 'ask' : 'bid',
            px: Number(d.px),
            sz: Number(d.sz),
            fee: Number(d.fee ?? 0),
            liquidity: String(d.liquidity ?? 'maker'),
            tid: Number(d.tid),
            cloid: String(d.cloid ?? ''),
            mid: fin(q.mid),
            position: Number(d.position ?? eng?.portfolio.position ?? 0),
          };
          this.emit({ kind: 'fill', coin, fill });
          this.market(coin)?.afterFill();
          break;
        }
        case 'order':
        case 'ack':
        case 'reject':
        case 'cancel':
        case 'modify':
          this.emit({ kind: 'orders', coin, time: e.rxTime, action: e.type, detail: d });
          break;
        case 'params':
          if (d.rejected === true) this.emit({ kind: 'params-rejected', coin, time: e.rxTime, detail: d });
          break;
        case 'state':
          if (typeof d.to === 'string') {
            this.emit({
              kind: 'state',
              coin,
              time: e.rxTime,
              from: String(d.from ?? ''),
              to: d.to,
              reason: String(d.reason ?? ''),
            });
          }
          break;
        case 'risk':
          if (d.event === 'account-kill-switch') {
            this.emit({ kind: 'risk', coin: '', time: e.rxTime, event: 'account-kill-switch', detail: d });
            for (const m of this.markets())
              this.emit({
                kind: 'state',
                coin: m.coin,
                time: e.rxTime,
                from: '',
                to: 'HALTED',
                reason: String(d.reason ?? ''),
              });
          } else if (d.event !== 'control') {
            this.emit({ kind: 'risk', coin, time: e.rxTime, event: String(d.event ?? ''), detail: d });
          }
          break;
        default:
          break;
      }
    }
  }
}

/** The coin an entry's data names (the first item's, for a batch). */
function coinOf(data: unknown): string | undefined {
  const d = Array.isArray(data) ? data[0] : data;
  if (d && typeof d === 'object' && typeof (d as Rec).coin === 'string') return (d as Rec).coin as string;
  return undefined;
}

/** The port over the trader (src/trading/trader.ts): one market per coin, one account. */
export class TraderPort extends JournalPort {
  running: RunningTrader | undefined;
  private readonly list: EngineMarket[];
  private readonly coins: string[];

  constructor(markets: TradingConfig[]) {
    super(markets[0].mode === 'live' ? 'live' : 'paper');
    this.coins = markets.map((m) => m.coin);
    this.list = markets.map(
      (config) =>
        new EngineMarket(
          {
            market: () => this.running?.markets.get(config.coin),
            ended: () => this.ended || (this.running?.stoppedMarkets.has(config.coin) ?? false),
            journalControl: (coin, action, source) => this.journalControl(coin, action, source),
            stopMarket: (coin, reason) => {
              void this.running?.stopMarket(coin, reason);
            },
          },
          config,
        ),
    );
  }

  markets(): EngineMarket[] {
    return this.list;
  }

  /** A market's engine (undefined until its first book). */
  engine(coin: string): Engine | undefined {
    return this.running?.markets.get(coin)?.engine;
  }

  protected engineOf(coin: string): Engine | undefined {
    return this.engine(coin);
  }

  protected journal() {
    return this.running?.journal;
  }

  protected defaultCoin(): string {
    return this.coins[0];
  }

  protected stopTrading(reason: string): boolean {
    if (!this.running) return false;
    this.running.stop(reason);
    return true;
  }

  /**
   * The account: equity, notional, drawdown of every market together; its state is the account-level risk's
   * when that acts (reducing, halted), else the markets' when they all agree (one market: its own), else active.
   */
  account(): AccountSnapshot {
    const a = this.running?.account();
    const states = this.list.map((m) => m.snapshot().state);
    const common = states.length > 0 && states.every((s) => s === states[0]) ? states[0] : 'active';
    if (!a) return { equity: 0, notional: 0, drawdown: 0, state: worstState(states) };
    const state = a.state !== 'active' ? a.state : common;
    return { equity: a.equity, notional: a.notional, drawdown: a.drawdown, state };
  }

  /** Margin use and the account's reason, for the markets endpoint and status. */
  accountDetail(): { marginUse: number; reason: string } | undefined {
    const a = this.running?.account();
    return a ? { marginUse: a.marginUse, reason: a.reason } : undefined;
  }

  readonly onStarted = (r: RunningTrader): void => {
    this.running = r;
    this.started();
  };

  /** A market started (its first book arrived): apply a pause asked for before. */
  readonly onMarketStarted = (coin: string, eng: Engine): void => {
    this.market(coin)?.onEngine(eng);
  };

  /** Resume of every market after the account kill switch restarts the account's peak. */
  resumeAccount(): void {
    this.running?.resetAccount();
  }
}

export function worstState(states: MarketState[]): MarketState {
  let w: MarketState = 'active';
  for (const s of states) if (STATE_RANK[s] > STATE_RANK[w]) w = s;
  return w;
}
