/**
 * The stationary law of a birth–death chain on the states lo..hi — the inventory under a quoting policy:
 * q → q+1 at rate up[i] (bid fills), q → q−1 at rate down[i] (ask fills). Detailed balance gives
 * π(i+1) / π(i) = up[i] / down[i+1], accumulated in logs so that long chains neither overflow nor underflow.
 */

/**
 * logPi[lo..hi] up to a constant (logPi[lo] = 0); returns the first index of the largest, or −1 when a rate the
 * chain needs is not > 0 (it is reducible; logPi is then partly written). Neighbouring states mostly quote at the
 * same level, hence the same rate: the last log of each side is reused while its rate repeats (the same number
 * as a fresh Math.log).
 */
export function birthDeathLogPi(
  up: Float64Array,
  down: Float64Array,
  lo: number,
  hi: number,
  logPi: Float64Array,
): number {
  logPi[lo] = 0;
  let mode = lo;
  let lastUp = Number.NaN;
  let logUp = Number.NaN;
  let lastDown = Number.NaN;
  let logDown = Number.NaN;
  for (let i = lo; i < hi; i++) {
    const u = up[i];
    const l = down[i + 1];
    if (!(u > 0 && l > 0)) return -1;
    if (u !== lastUp) {
      lastUp = u;
      logUp = Math.log(u);
    }
    if (l !== lastDown) {
      lastDown = l;
      logDown = Math.log(l);
    }
    logPi[i + 1] = logPi[i] + logUp - logDown;
    if (logPi[i + 1] > logPi[mode]) mode = i + 1;
  }
  return mode;
}

/** π(lo..hi) into `pi` (normalised; entries outside untouched) from birthDeathLogPi's logPi and mode. */
export function birthDeathPi(
  logPi: Float64Array,
  lo: number,
  hi: number,
  mode: number,
  pi: Float64Array,
): void {
  const top = logPi[mode];
  let sum = 0;
  for (let i = lo; i <= hi; i++) {
    pi[i] = Math.exp(logPi[i] - top);
    sum += pi[i];
  }
  for (let i = lo; i <= hi; i++) pi[i] /= sum;
}

/**
 * The law of birthDeathLogPi as weights w[i] = e^{logPi[i] − logPi[mode]} on lo..hi and their sum z (in index
 * order: the numbers birthDeathPi normalises, and the ergodic solver's policy evaluation sums), remembered for
 * the rates of the last call. A φ search evaluates the same chain again and again — a solve's policy is usually
 * the last one's, and its inventory law is read right after it — and the logs and exponentials are the cost.
 * Read w and z before the next call.
 */
export class BirthDeathWeights {
  readonly w: Float64Array;
  z = 0;
  private readonly logPi: Float64Array;
  private readonly up: Float64Array;
  private readonly down: Float64Array;
  private lo = -1;
  private hi = -1;
  private mode = -1;

  constructor(n: number) {
    this.w = new Float64Array(n);
    this.logPi = new Float64Array(n);
    this.up = new Float64Array(n);
    this.down = new Float64Array(n);
  }

  /** The law's mode, or −1 when a rate the chain needs is not > 0 (w and z are then not set). */
  of(up: Float64Array, down: Float64Array, lo: number, hi: number): number {
    if (this.mode >= 0 && lo === this.lo && hi === this.hi && this.sameRates(up, down)) return this.mode;
    const logPi = this.logPi;
    const mode = birthDeathLogPi(up, down, lo, hi, logPi);
    this.mode = mode;
    this.lo = lo;
    this.hi = hi;
    if (mode < 0) return -1;
    for (let i = lo; i < hi; i++) {
      this.up[i] = up[i];
      this.down[i + 1] = down[i + 1];
    }
    const w = this.w;
    const top = logPi[mode];
    let z = 0;
    for (let i = lo; i <= hi; i++) {
      w[i] = Math.exp(logPi[i] - top);
      z += w[i];
    }
    this.z = z;
    return mode;
  }

  /** The rates birthDeathLogPi reads on lo..hi are the remembered ones (> 0, so === is exact). */
  private sameRates(up: Float64Array, down: Float64Array): boolean {
    for (let i = this.lo; i < this.hi; i++)
      if (up[i] !== this.up[i] || down[i + 1] !== this.down[i + 1]) return false;
    return true;
  }
}

const WEIGHTS = new Map<number, BirthDeathWeights>();

/** The shared BirthDeathWeights of chains on n states. */
export function birthDeathWeights(n: number): BirthDeathWeights {
  let b = WEIGHTS.get(n);
  if (!b) {
    b = new BirthDeathWeights(n);
    WEIGHTS.set(n, b);
  }
  return b;
}
