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
