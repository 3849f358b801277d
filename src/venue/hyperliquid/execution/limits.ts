/**
 * Request pacing for Hyperliquid's exchange endpoint (docs: "Rate limits and user limits"):
 * - per IP, REST requests share 1200 weight per minute; an exchange action weighs 1 + floor(batch / 40);
 * - per address, a request budget cumulative since the account's creation: cap = 10,000 + 1 per USDC ever traded
 *   (`userRateLimit`: nRequestsCap, nRequestsUsed, cumVlm); each order or cancel in a batch counts once; cancels
 *   are held to a higher cap, min(cap + 100,000, 2·cap). Past the cap, the exchange admits one request 10 s
 *   after the last one it admitted and refuses every other whole ("Too many cumulative requests sent"): then
 *   we are THROTTLED, and send at most one request per 10 s (the queue sends cancels first);
 * - our own cap on actions per second (config risk.maxOrdersPerSecond).
 * On HTTP 429 we back off exponentially instead of retrying at once. Pure logic: the caller passes the time.
 */

export const IP_WEIGHT_PER_MIN = 1200;
export const ADDRESS_INITIAL_ALLOWANCE = 10_000;
export const ADDRESS_THROTTLED_EVERY_MS = 10_000;
/** Slack on top of the exchange's 10 s, for our clock against its. */
export const THROTTLE_MARGIN_MS = 250;

/** The exchange's whole-request refusal when the address budget is exhausted. */
export function isAddressBudgetError(text: string): boolean {
  return /Too many cumulative requests/i.test(text);
}

/** The cap cancels are held to: min(cap + 100,000, 2·cap). */
export function cancelCap(cap: number): number {
  return Math.min(cap + 100_000, cap * 2);
}

/** What `userRateLimit` answers (numbers; cumVlm as a string on the wire). */
export interface AddressRateLimit {
  cumVlm: number | string;
  nRequestsUsed: number;
  nRequestsCap: number;
}

/** The address budget as the status line shows it. */
export interface AddressBudgetView {
  used: number;
  cap: number;
  /** Requests left before throttling (cap − 1 − used; negative: how far past). */
  remaining: number;
  cumVlm: number;
  throttled: boolean;
  /** Synced with the exchange's `userRateLimit` at least once (else a local estimate from 10,000). */
  synced: boolean;
}

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
  /**
   * Address requests remaining at start, before the first `userRateLimit` answer (default: a fresh account's
   * 10,000 − 1).
   */
  addressAllowance?: number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
}

/** All the budgets an exchange action must fit in, plus the 429 backoff state. */
export class RateBudget {
  private readonly ip: TokenBucket;
  private readonly actions: TokenBucket;
  /** Address budget: nRequestsCap, nRequestsUsed (our estimate between syncs), lifetime volume. */
  private cap = ADDRESS_INITIAL_ALLOWANCE;
  private used: number;
  private cumVlm = 0;
  private synced = false;
  /** When the exchange last admitted a request of ours (the 10 s throttle counts from it). */
  private lastAdmittedAt = Number.NEGATIVE_INFINITY;
  private wasThrottled = false;
  /** Called when throttled mode starts or ends (the venue logs it once and says it in status). */
  onThrottleChange: ((throttled: boolean, view: AddressBudgetView) => void) | undefined;
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
    this.used = this.cap - 1 - (o.addressAllowance ?? ADDRESS_INITIAL_ALLOWANCE - 1);
    this.backoffBaseMs = o.backoffBaseMs ?? 500;
    this.backoffMaxMs = o.backoffMaxMs ?? 30_000;
  }

  /** Would an action of `n` items be over the address cap (orders) or the cancel cap (cancels)? */
  private overCap(n: number, isCancel: boolean): boolean {
    const limit = isCancel ? cancelCap(this.cap) : this.cap;
    return this.used + n > limit - 1;
  }

  /**
   * Milliseconds to wait before sending an action of `batchLength` items (0 = send now). Cancels are not held
   * back by our per-second cap, and by the address budget only past their own (higher) cap: pulling quotes
   * must stay possible. Past the cap, a request waits until 10 s after the last one the exchange admitted.
   */
  waitMs(batchLength: number, isCancel: boolean, now: number): number {
    let wait = Math.max(0, this.backoffUntil - now);
    wait = Math.max(wait, this.ip.waitFor(exchangeActionWeight(batchLength), now));
    if (!isCancel) wait = Math.max(wait, this.actions.waitFor(1, now));
    if (this.overCap(batchLength, isCancel)) {
      wait = Math.max(wait, this.lastAdmittedAt + ADDRESS_THROTTLED_EVERY_MS + THROTTLE_MARGIN_MS - now);
    }
    return Math.max(0, wait);
  }

  /** Account for an action that is being sent now (every order or cancel of it counts once). */
  consume(batchLength: number, isCancel: boolean, now: number): void {
    const w = exchangeActionWeight(batchLength);
    this.ip.take(w, now);
    this.stats.actions++;
    this.stats.weight += w;
    if (!isCancel) this.actions.take(1, now);
    this.used += batchLength;
    this.lastAdmittedAt = now;
    this.checkThrottle();
  }

  /**
   * The exchange refused a request whole for the address budget ("Too many cumulative requests sent"): it was
   * not admitted, and the budget is exhausted whatever we counted. The next request may go 10 s from now.
   */
  onAddressRefused(batchLength: number, now: number): void {
    this.used = Math.max(this.used - batchLength, this.cap);
    this.lastAdmittedAt = Math.max(this.lastAdmittedAt, now);
    this.checkThrottle();
  }

  /** The exchange's own count (`userRateLimit`), replacing our estimate. */
  sync(r: AddressRateLimit): void {
    const vlm = Number(r.cumVlm);
    if (Number.isFinite(vlm)) this.cumVlm = vlm;
    if (Number.isFinite(r.nRequestsCap)) this.cap = r.nRequestsCap;
    if (Number.isFinite(r.nRequestsUsed)) this.used = r.nRequestsUsed;
    this.synced = true;
    this.checkThrottle();
  }

  /** Past the address cap for orders: one request per 10 s. */
  get addressThrottled(): boolean {
    return this.overCap(1, false);
  }

  view(): AddressBudgetView {
    return {
      used: this.used,
      cap: this.cap,
      remaining: this.cap - 1 - this.used,
      cumVlm: this.cumVlm,
      throttled: this.addressThrottled,
      synced: this.synced,
    };
  }

  private checkThrottle(): void {
    const t = this.addressThrottled;
    if (t !== this.wasThrottled) {
      this.wasThrottled = t;
      this.onThrottleChange?.(t, this.view());
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

  /** Each USDC traded earns one more request (the cap follows the account's lifetime volume). */
  creditTraded(notionalUsd: number): void {
    if (!(notionalUsd > 0)) return;
    const before = Math.floor(this.cumVlm);
    this.cumVlm += notionalUsd;
    this.cap += Math.floor(this.cumVlm) - before;
    this.checkThrottle();
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

  /** Address requests left before throttling (negative: past the cap). */
  get addressAllowance(): number {
    return this.cap - 1 - this.used;
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
