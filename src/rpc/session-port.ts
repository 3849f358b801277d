/**
 * The trading port over today's one-coin trading session (src/trading/session.ts). The session is started
 * with the hooks below: a strategy factory whose parameter feed reports every calibration, a journal tap
 * (every order, fill, parameter set, risk and state entry), onStarted (the engine, venue and journal) and
 * onStatus. The taps only queue on the quoting path; the queue is turned into trading events on the next
 * turn of the event loop, after the order went out.
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type { Engine } from '../engine/engine.ts';
import type { InstrumentSpec, Strategy } from '../engine/types.ts';
import type { MarketEvent } from '../marketdata/events.ts';
import type { StrategyConfig } from '../strategies/config.ts';
import { createStrategy, defaultParamFeed, type ParamFeed } from '../strategies/index.ts';
import type { TradingConfig } from '../trading/config.ts';
import type { JournalEntry } from '../trading/journal.ts';
import type { RunningSession, StrategyFactory } from '../trading/session.ts';
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

/** One market of the session: status and operator controls over its engine. */
class SessionMarket implements MarketPort {
  readonly coin: string;
  private readonly port: SessionPort;
  private readonly config: TradingConfig;
  paused: { reason: string } | undefined;
  flattening = false;
  stopped = false;
  /** Recent calibration results by their `at`, to find the standard errors of the set in use. */
  readonly calibrations: CalibrationResult[] = [];

  constructor(port: SessionPort, config: TradingConfig) {
    this.port = port;
    this.config = config;
    this.coin = config.coin;
  }

  private get engine(): Engine | undefined {
    return this.port.running?.engine;
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
        reason: this.port.ended ? 'session ended' : 'starting: waiting for the first book',
      };
    if (this.stopped || this.port.ended) return { state: 'halted', reason: 'stopped' };
    if (this.paused) return { state: 'paused', reason: this.paused.reason };
    const r = eng.risk;
    if (r.state === 'HALTED') return { state: 'halted', reason: r.reason };
    if (r.stale) return { state: 'stale', reason: `no book update for more than ${r.config.staleMs} ms` };
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
        realised: p.realisedPnl,
        unrealised: mid > 0 ? p.unrealisedPnl(mid) : 0,
        fees: p.feesPaid,
        total: mid > 0 ? p.netPnl(mid) : 0,
      },
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
    this.port.journalControl(this.coin, action, source);
    if (action === 'stop') {
      this.stopped = true;
      this.port.stop(`stop (${source})`, source);
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

export class SessionPort implements TradingPort {
  readonly mode: 'paper' | 'live';
  readonly startedAt = Date.now();
  running: RunningSession | undefined;
  ended = false;
  private readonly market: SessionMarket;
  private listeners: ((e: TradingEvent) => void)[] = [];
  private queue: Queued[] = [];
  private drainScheduled = false;
  private stopRequested = false;

  constructor(config: TradingConfig) {
    this.mode = config.mode === 'live' ? 'live' : 'paper';
    this.market = new SessionMarket(this, config);
  }

  markets(): MarketPort[] {
    return [this.market];
  }

  account(): AccountSnapshot {
    const eng = this.running?.engine;
    if (!eng) return { equity: 0, notional: 0, drawdown: 0, state: this.market.snapshot().state };
    const mid = eng.lastMid;
    const p = eng.portfolio;
    const equity = mid > 0 ? p.equity(mid) : p.startingEquity + p.cash;
    const peak = Math.max(p.equityPeak, equity);
    const s = this.market.snapshot().state;
    return {
      equity,
      notional: mid > 0 ? Math.abs(p.position) * mid : 0,
      drawdown: peak > 0 ? Math.max(0, peak - equity) / peak : 0,
      state: s,
    };
  }

  subscribe(listener: (e: TradingEvent) => void): () => void {
    this.listeners.push(listener);
    return () => {
      this.listeners = this.listeners.filter((l) => l !== listener);
    };
  }

  private emit(e: TradingEvent): void {
    for (const l of this.listeners) l(e);
  }

  stop(reason: string, _source: ControlSource): void {
    if (this.stopRequested) return;
    this.stopRequested = true;
    this.emit({ kind: 'lifecycle', time: Date.now(), event: 'stopping', reason });
    this.running?.stop(reason);
    if (!this.running) this.onStopRequest?.(reason);
  }

  /** Called when a stop is asked before the session is running (the runner aborts the start). */
  onStopRequest: ((reason: string) => void) | undefined;

  journalControl(coin: string, action: ControlAction, source: ControlSource): void {
    this.running?.journal.record({
      type: 'risk',
      rxTime: Date.now(),
      data: { event: 'control', action, coin, source },
    });
  }

  // ---- hooks for runTradingSession ----

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
    this.queue.push({ ...q, time: Date.now(), mid: this.running?.engine.lastMid ?? Number.NaN });
    if (this.drainScheduled) return;
    this.drainScheduled = true;
    setImmediate(() => this.drain());
  }

  readonly onStarted = (r: RunningSession): void => {
    this.running = r;
    this.market.onEngine(r.engine);
    this.emit({ kind: 'lifecycle', time: Date.now(), event: 'started' });
  };

  /** The session returned (or failed): everything it had is final. */
  end(reason: string): void {
    this.drain();
    this.ended = true;
    if (!this.stopRequested) this.emit({ kind: 'lifecycle', time: Date.now(), event: 'stopping', reason });
    this.stopRequested = true;
    this.emit({ kind: 'lifecycle', time: Date.now(), event: 'stopped', reason });
  }

  private drain(): void {
    this.drainScheduled = false;
    const batch = this.queue;
    this.queue = [];
    const coin = this.market.coin;
    for (const q of batch) {
      if (q.calibration) {
        const cals = this.market.calibrations;
        cals.push(q.calibration);
        if (cals.length > 8) cals.splice(0, cals.length - 8);
        this.emit({ kind: 'calibration', coin, point: calibrationPoint(q.calibration, q.time) });
        continue;
      }
      const e = q.entry;
      if (!e) continue;
      const d = (e.data ?? {}) as Rec;
      switch (e.type) {
        case 'fill': {
          const fill: FillView = {
            coin: typeof d.coin === 'string' ? d.coin : coin,
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
            position: Number(d.position ?? this.running?.engine.portfolio.position ?? 0),
          };
          this.emit({ kind: 'fill', coin: fill.coin, fill });
          this.market.afterFill();
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
          if (d.event !== 'control') {
            this.emit({ kind: 'risk', coin, time: e.rxTime, event: String(d.event ?? ''), detail: d });
          }
          break;
        default:
          break;
      }
    }
  }
}

export function worstState(states: MarketState[]): MarketState {
  let w: MarketState = 'active';
  for (const s of states) if (STATE_RANK[s] > STATE_RANK[w]) w = s;
  return w;
}
