/**
 * The event manager: one fan-out of what happens (quotes, fills, parameter sets, risk changes, alerts,
 * controls, status ticks) to every surface — the live stream, webhooks, Telegram, the dashboard — so they all
 * say the same thing. Listeners run synchronously in subscription order; one that throws is counted and
 * skipped, never breaking the others (or the trading that feeds the bus).
 */
import type {
  CalibrationPoint,
  ControlAction,
  ControlOutcome,
  ControlSource,
  FillView,
  MarketSnapshot,
  MarketState,
} from './port.ts';

export type AlertKind =
  | 'start'
  | 'stop'
  | 'fills-summary'
  | 'risk-state'
  | 'kill-switch'
  | 'feed-gap'
  | 'kappa-epsilon'
  | 'calibration-failure'
  | 'control';
export const ALERT_KINDS: readonly AlertKind[] = [
  'start',
  'stop',
  'fills-summary',
  'risk-state',
  'kill-switch',
  'feed-gap',
  'kappa-epsilon',
  'calibration-failure',
  'control',
];
export type AlertSeverity = 'info' | 'warning' | 'critical';

export interface Alert {
  id: number;
  time: number;
  kind: AlertKind;
  severity: AlertSeverity;
  coin: string | null;
  message: string;
  data: Record<string, unknown>;
}

export interface QuoteEvent {
  type: 'quote';
  coin: string;
  time: number;
  mid: number | null;
  bid: number | null;
  ask: number | null;
  position: number;
}
export interface FillEvent extends FillView {
  type: 'fill';
}
export interface ParamsEvent extends CalibrationPoint {
  type: 'params';
}
export interface RiskEvent {
  type: 'risk';
  coin: string;
  time: number;
  state: MarketState;
  previous: MarketState;
  reason: string;
}
export interface AlertEvent {
  type: 'alert';
  alert: Alert;
}
export interface ControlEvent {
  type: 'control';
  time: number;
  action: ControlAction;
  source: ControlSource;
  coin: string | null;
  markets: ControlOutcome[];
}
/** One sample of a market's series (what GET /api/v1/quotes and /pnl return, point by point). */
export interface MarketSample {
  coin: string;
  time: number;
  mid: number | null;
  bid: number | null;
  ask: number | null;
  position: number;
  total: number;
  realised: number;
  unrealised: number;
  fees: number;
  /** The engine's attribution of total (fees above are paid, positive; total = the three + funding − fees). */
  spreadCapture: number;
  adverseSelection: number;
  inventoryCarry: number;
  funding: number;
}
export interface StatusEvent {
  type: 'status';
  /** The body of GET /api/v1/status at this instant. */
  status: unknown;
  /** This instant's sample of every market's series (absent on the stream's first event). */
  samples?: MarketSample[];
  /** Every market's full snapshot (GET /api/v1/markets), absent on the stream's first event. */
  markets?: MarketSnapshot[];
}

export type ServiceEvent =
  | QuoteEvent
  | FillEvent
  | ParamsEvent
  | RiskEvent
  | AlertEvent
  | ControlEvent
  | StatusEvent;
export type ServiceEventType = ServiceEvent['type'];
export const SERVICE_EVENT_TYPES: readonly ServiceEventType[] = [
  'quote',
  'fill',
  'params',
  'risk',
  'alert',
  'control',
  'status',
];

export type Listener = (e: ServiceEvent) => void;

export class EventBus {
  private listeners: Listener[] = [];
  /** Listener exceptions swallowed (each also goes to onError when given). */
  listenerErrors = 0;
  private readonly onError: ((err: unknown) => void) | undefined;

  constructor(opts: { onError?: (err: unknown) => void } = {}) {
    this.onError = opts.onError;
  }

  subscribe(fn: Listener): () => void {
    this.listeners = [...this.listeners, fn];
    return () => {
      this.listeners = this.listeners.filter((l) => l !== fn);
    };
  }

  get size(): number {
    return this.listeners.length;
  }

  emit(e: ServiceEvent): void {
    // A snapshot of the list: (un)subscribing from inside a listener affects the next event only.
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.listenerErrors++;
        this.onError?.(err);
      }
    }
  }
}
