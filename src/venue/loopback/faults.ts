/**
 * Fault injection for the loopback server. Tests drive it programmatically; `cjmm venue serve` exposes it on
 * POST /_control (Bearer token). Each fault is armed for the next N occurrences or for a duration, then clears
 * itself, so a test states exactly how much misbehaviour it wants. Besides faults, `injectTrade` prints a
 * market trade now (it fills resting orders exactly as a replayed trade would).
 */
import { INITIAL_REQUEST_BUDGET, rateLimitError } from './limits.ts';

/**
 * Default text of `rejectNextOrders`: the address-budget refusal as mainnet words it for a fresh account
 * (limits.ts). The real budget refuses whole requests; this fault refuses single orders inside a batch.
 */
export const RATE_LIMIT_ERROR = rateLimitError(9_999, 1, INITIAL_REQUEST_BUDGET, 0);

export interface FaultState {
  /** Added to every HTTP answer and WebSocket message, ms. */
  delayMs: number;
  http429Left: number;
  rejectOrdersLeft: number;
  rejectError: string;
  duplicateLeft: number;
  reorderLeft: number;
  feedPausedUntil: number;
  /** /exchange requests still to answer with HTTP 500 (not executed). */
  http500Left: number;
  /** /exchange requests still to execute and then leave unanswered (connection closed). */
  dropResponsesLeft: number;
  /** /exchange responses still to delay by `delayExchangeMs` (the action itself runs at once). */
  delayExchangeLeft: number;
  delayExchangeMs: number;
}

/** A market trade to print now: `side` is the aggressor's (a `sell` hits bids). */
export interface InjectedTrade {
  coin: string;
  side: 'buy' | 'sell';
  px: number;
  sz: number;
}

export class FaultInjector {
  readonly state: FaultState = {
    delayMs: 0,
    http429Left: 0,
    rejectOrdersLeft: 0,
    rejectError: RATE_LIMIT_ERROR,
    duplicateLeft: 0,
    reorderLeft: 0,
    feedPausedUntil: 0,
    http500Left: 0,
    dropResponsesLeft: 0,
    delayExchangeLeft: 0,
    delayExchangeMs: 0,
  };
  /** Set by the server: closes every WebSocket connection abruptly (no close frame). */
  onDropConnections: () => number = () => 0;
  /** Set by the server: sends a raw text frame to every WebSocket connection. */
  onInject: (text: string) => number = () => 0;
  /** Set by the server: prints a market trade now; returns its trade id and how many of our fills it caused. */
  onInjectTrade: (t: InjectedTrade) => { tid: number; fills: number } = () => {
    throw new Error('injectTrade needs a running server');
  };

  /** Send `text` as-is to every connected client (e.g. a malformed message); returns how many got it. */
  injectMessage(text: string): number {
    return this.onInject(text);
  }

  /** Abruptly terminate every open WebSocket; returns how many were dropped. */
  dropConnections(): number {
    return this.onDropConnections();
  }

  /** Delay every HTTP answer and WebSocket message by `ms` (0 clears). */
  delay(ms: number): void {
    this.state.delayMs = Math.max(0, ms);
  }

  /** Answer the next `n` HTTP requests with status 429. */
  http429(n: number): void {
    this.state.http429Left = Math.max(0, Math.floor(n));
  }

  /** Reject the next `n` orders with `error` (default: the exchange's rate-limit text). */
  rejectNextOrders(n: number, error: string = RATE_LIMIT_ERROR): void {
    this.state.rejectOrdersLeft = Math.max(0, Math.floor(n));
    this.state.rejectError = error;
  }

  /** Send each of the next `n` WebSocket data messages twice. */
  duplicateNextMessages(n: number): void {
    this.state.duplicateLeft = Math.max(0, Math.floor(n));
  }

  /** Hold the next `n` WebSocket data messages and release them in reverse order. */
  reorderNextMessages(n: number): void {
    this.state.reorderLeft = Math.max(0, Math.floor(n));
  }

  /** Stop sending market data for `ms` of wall time (the replay clock keeps running: data in between is lost). */
  pauseFeed(ms: number, wallNow: number = Date.now()): void {
    this.state.feedPausedUntil = wallNow + Math.max(0, ms);
  }

  /** Answer the next `n` /exchange requests with HTTP 500, without executing them. */
  http500(n: number): void {
    this.state.http500Left = Math.max(0, Math.floor(n));
  }

  /** Execute the next `n` /exchange requests but close the connection instead of answering. */
  dropResponses(n: number): void {
    this.state.dropResponsesLeft = Math.max(0, Math.floor(n));
  }

  /** Delay the answers of the next `n` /exchange requests by `ms` (each runs at once; only the answer waits). */
  delayExchange(ms: number, n: number): void {
    this.state.delayExchangeMs = Math.max(0, ms);
    this.state.delayExchangeLeft = Math.max(0, Math.floor(n));
  }

  /** Print a market trade now, matched against resting orders as a replayed trade would be. */
  injectTrade(t: InjectedTrade): { tid: number; fills: number } {
    return this.onInjectTrade(t);
  }

  takeHttp500(): boolean {
    if (this.state.http500Left <= 0) return false;
    this.state.http500Left--;
    return true;
  }

  takeDropResponse(): boolean {
    if (this.state.dropResponsesLeft <= 0) return false;
    this.state.dropResponsesLeft--;
    return true;
  }

  /** Extra delay for this /exchange answer (0 when none armed). */
  takeExchangeDelay(): number {
    if (this.state.delayExchangeLeft <= 0) return 0;
    this.state.delayExchangeLeft--;
    return this.state.delayExchangeMs;
  }

  feedPaused(wallNow: number = Date.now()): boolean {
    return wallNow < this.state.feedPausedUntil;
  }

  takeHttp429(): boolean {
    if (this.state.http429Left <= 0) return false;
    this.state.http429Left--;
    return true;
  }

  takeOrderRejection(): string | undefined {
    if (this.state.rejectOrdersLeft <= 0) return undefined;
    this.state.rejectOrdersLeft--;
    return this.state.rejectError;
  }

  /** Apply a control command received on POST /_control; returns a JSON-able acknowledgement. */
  control(cmd: Record<string, unknown>): Record<string, unknown> {
    const num = (k: string, dflt?: number): number => {
      const v = cmd[k] ?? dflt;
      if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
        throw new Error(`field "${k}" must be a non-negative number`);
      }
      return v;
    };
    switch (cmd.fault) {
      case 'dropConnections':
        return { dropped: this.dropConnections() };
      case 'delay':
        this.delay(num('ms'));
        break;
      case 'http429':
        this.http429(num('n', 1));
        break;
      case 'rejectNextOrders':
        this.rejectNextOrders(num('n', 1), typeof cmd.error === 'string' ? cmd.error : RATE_LIMIT_ERROR);
        break;
      case 'duplicateNextMessages':
        this.duplicateNextMessages(num('n', 1));
        break;
      case 'reorderNextMessages':
        this.reorderNextMessages(num('n', 2));
        break;
      case 'pauseFeed':
        this.pauseFeed(num('ms'));
        break;
      case 'injectMessage':
        if (typeof cmd.text !== 'string') throw new Error('field "text" must be the raw frame to send');
        return { sent: this.injectMessage(cmd.text) };
      case 'http500':
        this.http500(num('n', 1));
        break;
      case 'dropResponses':
        this.dropResponses(num('n', 1));
        break;
      case 'delayExchange':
        this.delayExchange(num('ms'), num('n', 1));
        break;
      case 'injectTrade': {
        if (typeof cmd.coin !== 'string') throw new Error('field "coin" must be a coin the server replays');
        if (cmd.side !== 'buy' && cmd.side !== 'sell')
          throw new Error('field "side" must be "buy" or "sell" (the aggressor: a sell hits bids)');
        const px = num('px');
        const sz = num('sz');
        if (!(px > 0) || !(sz > 0)) throw new Error('fields "px" and "sz" must be positive numbers');
        return this.injectTrade({ coin: cmd.coin, side: cmd.side, px, sz });
      }
      default:
        throw new Error(
          'field "fault" must be one of dropConnections, delay, http429, rejectNextOrders, duplicateNextMessages, reorderNextMessages, pauseFeed, injectMessage, http500, dropResponses, delayExchange, injectTrade',
        );
    }
    return { ok: true };
  }
}
