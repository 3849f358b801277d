/**
 * Request pacing for Hyperliquid's exchange endpoint (docs: "Rate limits and user limits"):
 * - per IP, REST requests share 1200 weight per minute; an exchange action weighs 1 + floor(batch / 40);
 * - per address, a request allowance of 10,000 to start plus 1 per USDC traded; each order or cancel in a batch
 *   counts once; when exhausted the address may send one request every 10 s (cancels get a higher cap);
 * - our own cap on actions per second (config risk.maxOrdersPerSecond).
 * On HTTP 429 we back off exponentially instead of retrying at once. Pure logic: the caller passes the time.
 */

export const IP_WEIGHT_PER_MIN = 1200;
export const ADDRESS_INITIAL_ALLOWANCE = 10_000;
export const ADDRESS_THROTTLED_EVERY_MS = 10_000;

/** Weight of one exchange action carrying `batchLength` orders / cancels / modifies. */
export function exchangeActionWeight(batchLength: number): number {
  return 1 + Math.floor(batchLength / 40);
}

/** Continuous token bucket: `capacity` tokens, refilled at `ratePerMs`. */
export class TokenBucket {
  readonly capacity: number;
  readonly ratePerMs: number;
  private tokens: number;
  private last: number;

  constructor(capacity: number, ratePerMs: number, now: number) {
    this.capacity = capacity;
    this.ratePerMs = ratePerMs;
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.ratePerMs);
      this.last = now;
    }
  }

  /** Milliseconds until `n` tokens are available (0 = now). */
  waitFor(n: number, now: number): number {
    this.refill(now);
    const need = Math.min(n, this.capacity) - this.tokens;
    return need <= 0 ? 0 : Math.ceil(need / this.ratePerMs);
  }

  take(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  available(now: number): number {
    this.refill(now);
    return this.tokens;
  }
}

export interface RateBudgetOptions {
  ipWeightPerMin?: number;
  actionsPerSecond?: number;
  /** Address request allowance remaining at start (default 10,000, the exchange's initial grant). */
  addressAllowance?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** All the budgets an exchange action must fit in, plus the 429 backoff state. */
export class RateBudget {
  private readonly ip: TokenBucket;
  private readonly actions: TokenBucket;
  private addressRemaining: number;
  private lastThrottledAt = Number.NEGATIVE_INFINITY;
  private backoffUntil = 0;
  private strikes = 0;
  readonly backoffBaseMs: number;
  readonly backoffMaxMs: number;
  /** Counters for the status line and tests. */
  readonly stats = { actions: 0, weight: 0, http429: 0, waitedMs: 0 };

  constructor(now: number, o: RateBudgetOptions = {}) {
    const perMin = o.ipWeightPerMin ?? IP_WEIGHT_PER_MIN;
    this.ip = new TokenBucket(perMin, perMin / 60_000, now);
    const aps = o.actionsPerSecond ?? 10;
    this.actions = new TokenBucket(Math.max(1, aps), aps / 1000, now);
    this.addressRemaining = o.addressAllowance ?? ADDRESS_INITIAL_ALLOWANCE;
    this.backoffBaseMs = o.backoffBaseMs ?? 500;
    this.backoffMaxMs = o.backoffMaxMs ?? 30_000;
  }

  /**
   * Milliseconds to wait before sending an action of `batchLength` items (0 = send now). Cancels are never
   * held back by the address allowance (the exchange gives them a higher cap) nor by our per-second cap:
   * pulling quotes must always be possible.
   */
  waitMs(batchLength: number, isCancel: boolean, now: number): number {
    let wait = Math.max(0, this.backoffUntil - now);
    wait = Math.max(wait, this.ip.waitFor(exchangeActionWeight(batchLength), now));
    if (!isCancel) {
      wait = Math.max(wait, this.actions.waitFor(1, now));
      if (this.addressRemaining < batchLength) {
        wait = Math.max(wait, this.lastThrottledAt + ADDRESS_THROTTLED_EVERY_MS - now);
      }
    }
    return Math.max(0, wait);
  }

  /** Account for an action that is being sent now. */
  consume(batchLength: number, isCancel: boolean, now: number): void {
    const w = exchangeActionWeight(batchLength);
    this.ip.take(w, now);
    this.stats.actions++;
    this.stats.weight += w;
    if (!isCancel) {
      this.actions.take(1, now);
      if (this.addressRemaining < batchLength) this.lastThrottledAt = now;
      this.addressRemaining -= batchLength;
    }
  }

  /** Account for an info request (weight 2 for clearinghouseState/orderStatus, 20 for most others). */
  consumeInfo(weight: number, now: number): void {
    this.ip.take(weight, now);
    this.stats.weight += weight;
  }

  infoWaitMs(weight: number, now: number): number {
    return Math.max(Math.max(0, this.backoffUntil - now), this.ip.waitFor(weight, now));
  }

  /** Each traded USDC earns one more request. */
  creditTraded(notionalUsd: number): void {
    if (notionalUsd > 0) this.addressRemaining += Math.floor(notionalUsd);
  }

  /** A 429: back off base·2^strikes (capped), with ±20 % deterministic-free jitter left to the caller. */
  on429(now: number): number {
    this.stats.http429++;
    const d = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** this.strikes);
    this.strikes++;
    this.backoffUntil = Math.max(this.backoffUntil, now + d);
    return d;
  }

  /** A request went through: the next 429 starts the backoff from the base again. */
  onSuccess(): void {
    this.strikes = 0;
  }

  get addressAllowance(): number {
    return this.addressRemaining;
  }

  inBackoff(now: number): boolean {
    return now < this.backoffUntil;
  }
}

/**
 * Nonces strictly increasing per signer, even for several actions within one millisecond: the nonce is the
 * current time unless that would not exceed the last one, then last + 1 (Hyperliquid keeps the 100 highest
 * nonces per signer and requires each new one to be larger than the smallest of them and within a day of now).
 */
export function createMonotonicNonces(now: () => number = Date.now): (signer: string) => number {
  const last = new Map<string, number>();
  return (signer: string) => {
    const key = signer.toLowerCase();
    const t = Math.floor(now());
    const prev = last.get(key) ?? 0;
    const n = t > prev ? t : prev + 1;
    last.set(key, n);
    return n;
  };
}
