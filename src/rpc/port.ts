/**
 * What the trading side offers the service core: per-market status and controls, the account, and a stream of
 * raw trading events. The REST API, the live stream, webhooks and Telegram never touch the trading code: they
 * call the core (src/rpc/core.ts), and the core calls this port. The trader (src/trading/trader.ts, one coin
 * or many) implements it through a small adapter (src/rpc/session-port.ts).
 */
import type { PnlAttributionFigures } from '../engine/attribution.ts';

/** A market's state as users see it: the risk state, or why the market is not quoting. */
export type MarketState = 'active' | 'reducing' | 'halted' | 'paused' | 'stale';
export const MARKET_STATES: readonly MarketState[] = ['active', 'reducing', 'halted', 'paused', 'stale'];

export type ControlAction = 'pause' | 'resume' | 'flatten' | 'stop';
export const CONTROL_ACTIONS: readonly ControlAction[] = ['pause', 'resume', 'flatten', 'stop'];
/** Who asked for a control action (journalled with it). */
export type ControlSource = 'api' | 'telegram' | 'dashboard' | 'signal' | 'internal';

/** The model's market parameters and their standard errors (null where unknown, e.g. priors). */
export const PARAM_NAMES = [
  'lambdaPlus',
  'lambdaMinus',
  'kappaPlus',
  'kappaMinus',
  'epsilonPlus',
  'epsilonMinus',
  'sigma',
] as const;
export type ParamName = (typeof PARAM_NAMES)[number];
export type ParamValues = Record<ParamName, number | null>;

export interface ParamSnapshot extends ParamValues {
  stderr: ParamValues;
}

/** One calibration as it arrived (fresh, or falling back to the last good set or the priors). */
export interface CalibrationPoint {
  coin: string;
  /** Wall-clock ms when it arrived. */
  time: number;
  /** Exchange time of the end of its window. */
  at: number;
  source: 'fresh' | 'last-good' | 'prior';
  ok: boolean;
  flags: string[];
  values: ParamValues;
  stderr: ParamValues;
  kappaEpsilonPlus: number | null;
  kappaEpsilonMinus: number | null;
}

export interface PnlParts {
  realised: number;
  unrealised: number;
  fees: number;
  total: number;
}

export interface MarketSnapshot {
  coin: string;
  state: MarketState;
  /** Why (risk reason, operator action, stale feed); empty when active. */
  reason: string;
  mid: number | null;
  /** Our best resting bid and ask (null when none rests). */
  bid: number | null;
  ask: number | null;
  /** Position in coin units. */
  position: number;
  /** One lot (the order size) and the inventory bound in lots. */
  lotSize: number;
  maxPositionLots: number;
  /** Realised includes funding (a realised cash flow); `funding` is that part on its own. */
  pnl: PnlParts;
  /**
   * The same total split as the status line splits it (the engine's attribution): spread capture, adverse
   * selection, inventory carry, fees (negative when paid), funding; they sum to pnl.total.
   */
  pnlAttribution: PnlAttributionFigures;
  /** Funding received (USD, negative = paid) since start. */
  funding: number;
  /** The parameters in use (null for strategies without model parameters). */
  params: ParamSnapshot | null;
  kappaEpsilon: { plus: number | null; minus: number | null };
  fills: number;
  openOrders: number;
}

export interface AccountSnapshot {
  /** USD: starting equity (paper) or account value (live) plus the P&L since start. */
  equity: number;
  /** USD: Σ |position| × mid over markets. */
  notional: number;
  /** Fraction of the equity peak the equity is below it (0 at a new peak). */
  drawdown: number;
  state: MarketState;
}

export interface OrderView {
  coin: string;
  cloid: string;
  oid: number | null;
  side: 'bid' | 'ask';
  px: number;
  sz: number;
  filled: number;
  state: string;
  /** Wall-clock ms when the exchange acknowledged it (null while pending). */
  openedAt: number | null;
}

export interface FillView {
  coin: string;
  /** Wall-clock ms when we learned of it. */
  time: number;
  /** Exchange time. */
  exTime: number | null;
  side: 'bid' | 'ask';
  px: number;
  sz: number;
  fee: number;
  liquidity: string;
  tid: number;
  cloid: string;
  /** Mid when the fill arrived (spread capture is measured against it). */
  mid: number | null;
  /** Position after the fill. */
  position: number;
}

/** Raw events from the trading side; the core turns them into what every surface sees. */
export type TradingEvent =
  | { kind: 'fill'; coin: string; fill: FillView }
  | { kind: 'orders'; coin: string; time: number; action: string; detail: Record<string, unknown> }
  | { kind: 'calibration'; coin: string; point: CalibrationPoint }
  | { kind: 'params-rejected'; coin: string; time: number; detail: Record<string, unknown> }
  | { kind: 'state'; coin: string; time: number; from: string; to: string; reason: string }
  | { kind: 'risk'; coin: string; time: number; event: string; detail: Record<string, unknown> }
  | { kind: 'lifecycle'; time: number; event: 'started' | 'stopping' | 'stopped'; reason?: string }
  | { kind: 'control'; coin: string | null; time: number; action: ControlAction; source: ControlSource };

export interface ControlOutcome {
  coin: string;
  state: MarketState;
  openOrders: number;
}

/** The cheap part of a snapshot, read whenever our orders change. */
export interface QuoteView {
  mid: number | null;
  bid: number | null;
  ask: number | null;
  position: number;
}

export interface MarketPort {
  readonly coin: string;
  snapshot(): MarketSnapshot;
  quote(): QuoteView;
  openOrders(): OrderView[];
  /** Operator controls; each is journalled, and resolves once the venue confirmed (bounded wait). */
  control(action: ControlAction, source: ControlSource): Promise<ControlOutcome>;
}

export interface TradingPort {
  readonly mode: 'paper' | 'live';
  /** Wall-clock ms of the start. */
  readonly startedAt: number;
  markets(): MarketPort[];
  account(): AccountSnapshot;
  /** Stop everything (cancel all, flush, exit). */
  stop(reason: string, source: ControlSource): void;
  /** An operator resume of every market also restarts the account-level kill switch (multi-market). */
  resumeAccount?(): void;
  /** Account-level risk detail (multi-market): margin used / equity, why the account is not active. */
  accountDetail?(): { marginUse: number; reason: string } | undefined;
  subscribe(listener: (e: TradingEvent) => void): () => void;
}
