/**
 * Mainnet's account limits, as the loopback server enforces them (each can be switched off):
 *
 * - Address request budget (docs: "Rate limits and user limits"): an address may send 1 action per 1 USDC
 *   it has traded since its creation, plus an initial 10,000; a batch of n orders or cancels counts n.
 *   Cancels have their own cap, min(limit + 100000, limit * 2). Past the cap the address still gets one
 *   request 10 s after the last one it was allowed; every other request is refused whole, with HTTP 200 and
 *   `{"status":"err","response":"Too many cumulative requests sent (A > B) for cumulative volume traded $V.
 *   Place taker orders to free up 1 request per USDC traded."}`. A refusal uses no budget. The numbers are
 *   the ones the live exchange prints (a testnet probe, 2026-10: with nRequestsUsed 97459 and nRequestsCap
 *   97457 it answered "(97460 > 97456) … $87457.46"): A = used + this request's weight, B = cap − 1, so a
 *   request passes while used + weight ≤ cap − 1.
 * - Nonces (docs: "Nonces and API wallets", current text): the 20 highest nonces are kept per signer, one
 *   more per 1M USDC of the account's volume, at most 100; a new nonce must be larger than the smallest kept
 *   and never used before, and within 1 day of the exchange's time. The rule before that (the loopback's
 *   old one, `strictNonces: false`): the 100 highest kept, within (T − 2 days, T + 1 day).
 * - `scheduleCancel` (the dead man's switch) is refused, set or clear, until the account has traded $1M.
 */

export const INITIAL_REQUEST_BUDGET = 10_000;
export const THROTTLED_REQUEST_INTERVAL_MS = 10_000;
export const SCHEDULE_CANCEL_MIN_VOLUME = 1_000_000;
const DAY_MS = 24 * 3600 * 1000;

/** What an address may still send: the state `userRateLimit` reports. */
export interface RequestBudgetState {
  /** Lifetime traded notional, USD. */
  cumVlm: number;
  nRequestsUsed: number;
  /** Wall time of the last request admitted: over the cap, the next one may pass 10 s after it. */
  lastAdmittedAt?: number;
}

/** `nRequestsCap` of `userRateLimit`: 10,000 + 1 per whole USDC traded. */
export function requestCap(cumVlm: number): number {
  return INITIAL_REQUEST_BUDGET + Math.floor(Math.max(0, cumVlm));
}

/** The cap cancels are held to: min(limit + 100000, limit * 2). */
export function cancelCap(cap: number): number {
  return Math.min(cap + 100_000, cap * 2);
}

/** USD as the exchange prints it in its messages: no trailing zeros ("87457.46", "4643", "0"). */
export function fmtUsd(x: number, maxDecimals: number): string {
  const s = Math.max(0, x).toFixed(maxDecimals);
  return s.includes('.') ? s.replace(/0+$/, '').replace(/\.$/, '') : s;
}

export function rateLimitError(used: number, weight: number, limit: number, cumVlm: number): string {
  return (
    `Too many cumulative requests sent (${used + weight} > ${limit - 1}) for cumulative volume traded ` +
    `$${fmtUsd(cumVlm, 2)}. Place taker orders to free up 1 request per USDC traded.`
  );
}

/**
 * Admit an action of `weight` requests against the address budget; returns the exchange's refusal, or
 * undefined (and counts the requests) when it may go through.
 */
export function admitRequest(
  s: RequestBudgetState,
  weight: number,
  isCancel: boolean,
  wallNow: number,
): string | undefined {
  const cap = requestCap(s.cumVlm);
  const limit = isCancel ? cancelCap(cap) : cap;
  if (s.nRequestsUsed + weight > limit - 1) {
    const last = s.lastAdmittedAt;
    if (last !== undefined && wallNow - last < THROTTLED_REQUEST_INTERVAL_MS) {
      return rateLimitError(s.nRequestsUsed, weight, limit, s.cumVlm);
    }
  }
  s.lastAdmittedAt = wallNow;
  s.nRequestsUsed += weight;
  return undefined;
}

export function scheduleCancelVolumeError(cumVlm: number): string {
  return (
    `Cannot set scheduled cancel time until enough volume traded. Required: $${SCHEDULE_CANCEL_MIN_VOLUME}. ` +
    `Traded: $${fmtUsd(cumVlm, 6)}.`
  );
}

/** How many of a signer's highest nonces are kept. */
export function keptNonces(strict: boolean, cumVlm: number): number {
  return strict ? Math.min(100, 20 + Math.floor(Math.max(0, cumVlm) / 1_000_000)) : 100;
}

/**
 * One signer's used nonces: the highest `kept` of them, ascending. `check` says whether a nonce may be used
 * (the exchange's error otherwise); `use` records it. Split so a request refused later (rate limit) does not
 * burn its nonce.
 */
export class NonceSet {
  private readonly kept: number[] = [];

  check(nonce: number, now: number, strict: boolean, keep: number): string | undefined {
    const low = strict ? now - DAY_MS : now - 2 * DAY_MS;
    const high = now + DAY_MS;
    if (nonce <= low) return `Invalid nonce: nonce too low ${nonce} < ${low}`;
    if (nonce >= high) return `Invalid nonce: nonce too high ${nonce} > ${high}`;
    const k = this.kept;
    if (binarySearch(k, nonce) >= 0) return `Invalid nonce: duplicate nonce ${nonce}`;
    if (k.length >= keep && nonce < k[k.length - keep]) {
      return `Invalid nonce: nonce too low ${nonce} < ${k[k.length - keep]}`;
    }
    return undefined;
  }

  use(nonce: number, keep: number): void {
    const k = this.kept;
    const i = binarySearch(k, nonce);
    if (i >= 0) return;
    k.splice(~i, 0, nonce);
    if (k.length > keep) k.splice(0, k.length - keep);
  }

  get size(): number {
    return this.kept.length;
  }
}

/** Index of x in ascending `a`, or ~(insertion point) when absent. */
function binarySearch(a: number[], x: number): number {
  let lo = 0;
  let hi = a.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid] < x) lo = mid + 1;
    else if (a[mid] > x) hi = mid - 1;
    else return mid;
  }
  return ~lo;
}
