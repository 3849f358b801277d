/**
 * Pre-trade risk. Trading states:
 *  - ACTIVE: quote as the strategy wants, within the limits below;
 *  - REDUCING: only the side that reduces |position| is quoted (position or notional beyond its limit,
 *    or asked for by the operator);
 *  - HALTED: nothing is quoted and every order is cancelled (drawdown kill switch, or the operator).
 *    HALTED is sticky: only `resume()` leaves it.
 * Guards that do not change the state: stale data (no quotes while the last book/bbo is older than
 * `staleMs` on the receive clock), the per-side position limit counting orders in flight, the notional
 * limit, and a token bucket on order entry (place / modify; cancels are never throttled, so pulling quotes
 * always works).
 */
import type { Journal } from './journal.ts';
import type { Portfolio } from './portfolio.ts';
import type { Clock, DesiredQuotes, OrderSide } from './types.ts';

export type TradingState = 'ACTIVE' | 'REDUCING' | 'HALTED';

export interface RiskConfig {
  /** Max |position| in lots, counting every order that could still fill on that side. */
  maxPositionLots: number;
  /** Max |position + in-flight| × price in USD. */
  maxNotional: number;
  /** Kill switch: HALTED when equity falls this fraction of `equityBase` below its peak. */
  maxDrawdownFrac: number;
  /** USD base of the drawdown fraction; default the portfolio's starting equity. */
  equityBase?: number;
  /** Pull quotes when the last book/bbo is older than this on the receive clock (ms). */
  staleMs: number;
  /** Sustained order-entry rate (place + modify per second) and the bucket size. */
  maxOrdersPerSec: number;
  orderBurst: number;
}

export const DEFAULT_RISK_CONFIG: RiskConfig = {
  maxPositionLots: 10,
  maxNotional: Number.POSITIVE_INFINITY,
  maxDrawdownFrac: 0.05,
  staleMs: 5000,
  maxOrdersPerSec: 10,
  orderBurst: 20,
};

export interface RiskLogger {
  warn(fields: Record<string, unknown>, msg: string): void;
}

/** Validates a partial risk config against the defaults; errors name the field. */
export function resolveRiskConfig(partial: Partial<RiskConfig> = {}): RiskConfig {
  const cfg: RiskConfig = { ...DEFAULT_RISK_CONFIG };
  const known = new Set([...Object.keys(DEFAULT_RISK_CONFIG), 'equityBase']);
  for (const [k, v] of Object.entries(partial)) {
    if (!known.has(k)) throw new Error(`risk.${k}: unknown field (known: ${[...known].join(', ')})`);
    if (v !== undefined) (cfg as unknown as Record<string, unknown>)[k] = v;
  }
  const positive = (name: keyof RiskConfig, allowInf = false) => {
    const v = cfg[name] as number;
    if (typeof v !== 'number' || Number.isNaN(v) || v <= 0 || (!allowInf && !Number.isFinite(v))) {
      throw new Error(`risk.${name}: must be a positive number${allowInf ? ' (or Infinity)' : ''}, got ${v}`);
    }
  };
  positive('maxPositionLots', true);
  positive('maxNotional', true);
  positive('staleMs', true);
  positive('maxOrdersPerSec', true);
  positive('orderBurst', true);
  if (!(cfg.maxDrawdownFrac > 0 && cfg.maxDrawdownFrac <= 1)) {
    throw new Error(`risk.maxDrawdownFrac: must be in (0, 1], got ${cfg.maxDrawdownFrac}`);
  }
  if (cfg.equityBase !== undefined && !(cfg.equityBase > 0 && Number.isFinite(cfg.equityBase))) {
    throw new Error(`risk.equityBase: must be a positive number of USD, got ${cfg.equityBase}`);
  }
  return cfg;
}

export class RiskManager {
  readonly config: RiskConfig;
  state: TradingState = 'ACTIVE';
  reason = '';
  /** True while the market data is stale (quotes pulled). */
  stale = false;
  /** Orders refused by the position / notional limits, and by the rate limit. */
  blockedByLimit = 0;
  blockedByRate = 0;
  private manual: { state: 'REDUCING' | 'HALTED'; reason: string } | undefined;
  // A number from the start (declared without a value it would start undefined, and V8 would box every
  // later write: one heap object per order).
  private tokens = Number.NaN;
  private tokensAt = Number.NaN;
  private readonly lotSize: number;
  private readonly journal: Journal | undefined;
  private readonly logger: RiskLogger | undefined;
  private readonly onHalt: (() => void) | undefined;

  constructor(
    config: Partial<RiskConfig> | undefined,
    deps: { lotSize: number; journal?: Journal; logger?: RiskLogger; onHalt?: () => void },
  ) {
    this.config = resolveRiskConfig(config);
    this.lotSize = deps.lotSize;
    this.journal = deps.journal;
    this.logger = deps.logger;
    this.onHalt = deps.onHalt;
    this.tokens = this.config.orderBurst;
  }

  get maxPositionCoins(): number {
    return this.config.maxPositionLots * this.lotSize;
  }

  /** Re-evaluates the trading state from the portfolio at `mark`. */
  evaluate(now: number, portfolio: Portfolio, mark: number): TradingState {
    if (this.state === 'HALTED') return this.state;
    if (this.manual?.state === 'HALTED') return this.setState(now, 'HALTED', this.manual.reason);
    if (Number.isFinite(mark)) {
      const base = this.config.equityBase ?? portfolio.startingEquity;
      const dd = portfolio.drawdown(mark);
      if (base > 0 && dd >= this.config.maxDrawdownFrac * base) {
        return this.setState(
          now,
          'HALTED',
          `drawdown ${dd.toFixed(2)} USD ≥ ${(this.config.maxDrawdownFrac * 100).toFixed(2)}% of ${base} USD`,
        );
      }
    }
    const pos = portfolio.position;
    const tol = 1e-9 * this.lotSize;
    if (Math.abs(pos) > this.maxPositionCoins + tol) {
      return this.setState(now, 'REDUCING', `position ${pos} beyond ${this.config.maxPositionLots} lots`);
    }
    if (Number.isFinite(mark) && Math.abs(pos) * mark > this.config.maxNotional) {
      return this.setState(
        now,
        'REDUCING',
        `notional ${(Math.abs(pos) * mark).toFixed(2)} USD beyond ${this.config.maxNotional}`,
      );
    }
    if (this.manual) return this.setState(now, this.manual.state, this.manual.reason);
    return this.setState(now, 'ACTIVE', '');
  }

  /**
   * evaluate(clock.now(), portfolio, prices.mid), as the engine calls it on every change of the mid: an ACTIVE
   * state within every limit stays ACTIVE (what evaluate concludes) without a call that takes numbers (each
   * would be boxed: a heap object per market event); anything else goes through evaluate. Keep the checks
   * the same as evaluate's.
   */
  evaluateFor(clock: Clock, portfolio: Portfolio, prices: { readonly mid: number }): TradingState {
    const mark = prices.mid;
    if (this.state === 'ACTIVE' && this.manual === undefined) {
      let within = true;
      if (Number.isFinite(mark)) {
        const base = this.config.equityBase ?? portfolio.startingEquity;
        if (base > 0 && portfolio.drawdown(mark) >= this.config.maxDrawdownFrac * base) within = false;
      }
      const pos = portfolio.position;
      if (Math.abs(pos) > this.maxPositionCoins + 1e-9 * this.lotSize) within = false;
      if (Number.isFinite(mark) && Math.abs(pos) * mark > this.config.maxNotional) within = false;
      if (within) {
        this.reason = '';
        return 'ACTIVE';
      }
    }
    return this.evaluate(clock.now(), portfolio, mark);
  }

  /** Operator / session controls. */
  halt(now: number, reason: string): void {
    this.manual = { state: 'HALTED', reason };
    this.setState(now, 'HALTED', reason);
  }
  reduceOnly(now: number, reason: string): void {
    this.manual = { state: 'REDUCING', reason };
    if (this.state !== 'HALTED') this.setState(now, 'REDUCING', reason);
  }
  /** Leaves HALTED / operator REDUCING; the next `evaluate` recomputes the state from the limits. */
  resume(now: number, reason = 'resumed'): void {
    this.manual = undefined;
    this.setState(now, 'ACTIVE', reason);
  }

  /** Whether checkStale(now, lastMarketRx) would find the data stale (no side effects). */
  isStaleAt(now: number, lastMarketRx: number): boolean {
    return !(now - lastMarketRx <= this.config.staleMs);
  }

  /** Updates the stale flag from the receive time of the last book/bbo; returns it. */
  checkStale(now: number, lastMarketRx: number): boolean {
    const stale = !(now - lastMarketRx <= this.config.staleMs);
    if (stale !== this.stale) {
      this.stale = stale;
      const data = { stale, ageMs: Number.isFinite(lastMarketRx) ? now - lastMarketRx : null };
      this.journal?.record({
        type: 'risk',
        rxTime: now,
        data: { event: stale ? 'stale' : 'fresh', ...data },
      });
      if (stale) this.logger?.warn(data, 'market data stale: quotes pulled');
    }
    return stale;
  }

  /** Applies the state and the stale guard to the strategy's wishes. */
  filterQuotes(desired: DesiredQuotes, position: number): DesiredQuotes {
    if (this.state === 'HALTED' || this.stale) return NO_QUOTES;
    if (this.state === 'REDUCING') {
      return {
        bid: position < 0 ? desired.bid : null,
        ask: position > 0 ? desired.ask : null,
      };
    }
    return desired;
  }

  /**
   * May an order adding `addSz` on `side` be sent? `exposure` is the size already in flight on that side
   * (resting + pending, including orders being cancelled: they can still fill).
   */
  allowOrder(side: OrderSide, addSz: number, position: number, exposure: number, px: number): boolean {
    const worst = side === 'bid' ? position + exposure + addSz : position - exposure - addSz;
    const tol = 1e-9 * this.lotSize;
    if (Math.abs(worst) > this.maxPositionCoins + tol && Math.abs(worst) > Math.abs(position)) {
      this.blockedByLimit++;
      return false;
    }
    if (Math.abs(worst) * px > this.config.maxNotional && Math.abs(worst) > Math.abs(position)) {
      this.blockedByLimit++;
      return false;
    }
    return true;
  }

  /** Token bucket for order entry; returns false (and counts it) when the rate is exceeded. */
  takeToken(now: number): boolean {
    const { maxOrdersPerSec, orderBurst } = this.config;
    if (Number.isFinite(this.tokensAt) && now > this.tokensAt) {
      this.tokens = Math.min(orderBurst, this.tokens + ((now - this.tokensAt) / 1000) * maxOrdersPerSec);
    }
    this.tokensAt = Number.isFinite(this.tokensAt) ? Math.max(this.tokensAt, now) : now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    this.blockedByRate++;
    return false;
  }

  private setState(now: number, state: TradingState, reason: string): TradingState {
    if (state !== this.state) {
      const from = this.state;
      this.state = state;
      this.reason = reason;
      this.journal?.record({ type: 'state', rxTime: now, data: { from, to: state, reason } });
      this.logger?.warn({ from, to: state, reason }, `trading state ${from} → ${state}`);
      if (state === 'HALTED' && from !== 'HALTED') this.onHalt?.();
    } else {
      this.reason = reason;
    }
    return state;
  }
}

const NO_QUOTES: DesiredQuotes = Object.freeze({ bid: null, ask: null }) as DesiredQuotes;
