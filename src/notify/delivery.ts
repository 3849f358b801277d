/**
 * Delivery of notifications off the trading path: a bounded queue per destination, one request at a time,
 * a timeout per attempt, retries with exponential backoff, and the oldest message dropped (and counted)
 * when the queue is full. `send` never throws and never waits: trading is never held up by a slow receiver.
 */
export interface DeliveryOptions {
  /** Does one attempt; resolves on success, rejects (any error) on failure. */
  attempt: (body: unknown, signal: AbortSignal) => Promise<void>;
  timeoutMs: number;
  retries: number;
  /** First backoff (ms), doubled per retry, capped at 30 s. */
  backoffMs?: number;
  maxQueue?: number;
  onGiveUp?: (err: unknown, body: unknown) => void;
}

export interface DeliveryStats {
  sent: number;
  failedAttempts: number;
  gaveUp: number;
  dropped: number;
  queued: number;
}

export class DeliveryQueue {
  private readonly o: DeliveryOptions;
  private readonly queue: unknown[] = [];
  private running = false;
  private closed = false;
  private readonly idleWaiters: (() => void)[] = [];
  private sleepTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly abort = new AbortController();
  readonly stats: DeliveryStats = { sent: 0, failedAttempts: 0, gaveUp: 0, dropped: 0, queued: 0 };

  constructor(o: DeliveryOptions) {
    this.o = o;
  }

  send(body: unknown): void {
    if (this.closed) return;
    const max = this.o.maxQueue ?? 1000;
    if (this.queue.length >= max) {
      this.queue.shift();
      this.stats.dropped++;
    }
    this.queue.push(body);
    this.stats.queued = this.queue.length;
    if (!this.running) void this.loop();
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((r) => {
      this.wake = r;
      this.sleepTimer = setTimeout(r, ms);
    });
  }

  private async loop(): Promise<void> {
    this.running = true;
    while (this.queue.length > 0 && !this.abort.signal.aborted) {
      // Taken off the queue while in flight: a full queue drops the oldest WAITING message, never this one.
      const body = this.queue.shift();
      this.stats.queued = this.queue.length;
      let ok = false;
      let lastErr: unknown;
      for (let i = 0; i <= this.o.retries && !this.abort.signal.aborted; i++) {
        if (i > 0) await this.sleep(Math.min(30_000, (this.o.backoffMs ?? 1000) * 2 ** (i - 1)));
        const signal = AbortSignal.any([AbortSignal.timeout(this.o.timeoutMs), this.abort.signal]);
        try {
          await this.o.attempt(body, signal);
          ok = true;
          break;
        } catch (err) {
          this.stats.failedAttempts++;
          lastErr = err;
        }
      }
      if (ok) this.stats.sent++;
      else {
        this.stats.gaveUp++;
        this.o.onGiveUp?.(lastErr, body);
      }
    }
    this.running = false;
    for (const w of this.idleWaiters.splice(0)) w();
  }

  /** Resolves when everything queued was delivered or given up, or after `timeoutMs`. */
  flush(timeoutMs: number): Promise<boolean> {
    if (!this.running && this.queue.length === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      this.idleWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  /** Stop: pending messages are dropped, an attempt in flight is aborted. */
  close(): void {
    this.closed = true;
    this.abort.abort();
    if (this.sleepTimer) clearTimeout(this.sleepTimer);
    this.wake?.();
  }
}
