/**
 * The HTTP side of the venue: a transport wrapper that notes when a signed action leaves (tick-to-order
 * instrumentation), and the reading of request errors — rate limited (HTTP 429), refused by the exchange (the
 * response is kept), or a transport failure whose outcome is unknown.
 */
import { HttpRequestError, type IRequestTransport } from '@nktkas/hyperliquid';

/** Transport wrapper: notes when a signed action is handed to the network. */
export class InstrumentedTransport implements IRequestTransport {
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

/** Rate limited by the exchange (HTTP 429). */
export function is429(err: unknown): boolean {
  return err instanceof HttpRequestError && err.response?.status === 429;
}

/**
 * The error response of a rejected action (ApiRequestError keeps the raw response); undefined when the
 * request itself failed (timeout, connection reset: the outcome is unknown).
 */
export function apiResponse(err: unknown): unknown {
  if (err && typeof err === 'object' && 'response' in err && !(err instanceof HttpRequestError)) {
    return (err as { response: unknown }).response;
  }
  return undefined;
}

export function errText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
