/**
 * Markouts: the signed mid move from just before an MO to a horizon after it (exchange clock), positive
 * when the mid moves WITH the MO (up after a buy, down after a sell). ε at the default horizon feeds the model.
 *
 * Mids live on the half-tick grid, so each markout is an integer number of quanta (tick/2). Samples are kept
 * as a histogram of those integers, which makes adding and evicting O(1) and the robust mean O(distinct
 * values) instead of O(window). The robust mean is a winsorised mean: values beyond median ± 6 robust
 * standard deviations (IQR/1.349, or the plain SD when the IQR is 0) are pulled to the fence. For the
 * near-symmetric noise of a markout this is unbiased to well below its standard error while a handful of
 * wild values (a bad print, a stale book) cannot move it.
 */

export interface HorizonSpec {
  /** Label as given: 'next', '1s', '500ms' … */
  label: string;
  /** Milliseconds after the MO; 0 with next=true means "the next quote update". */
  ms: number;
  next: boolean;
}

export const DEFAULT_HORIZONS = ['next', '1s', '5s', '30s'];

/** Parses 'next' or a duration ('250ms', '1s', '2m'). Throws with the field name on bad input. */
export function parseHorizon(label: string): HorizonSpec {
  const s = label.trim();
  if (s === 'next') return { label: s, ms: 0, next: true };
  const ms = parseDurationMs(s);
  if (!(ms > 0)) throw new RangeError(`markout horizon '${label}': expected 'next' or a positive duration`);
  return { label: s, ms, next: false };
}

/** '500ms' | '15s' | '30m' | '2h' | '1d' (or a bare number of seconds) → milliseconds. */
export function parseDurationMs(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?$/.exec(s.trim());
  if (!m) throw new RangeError(`duration '${s}': expected a number with a unit ms|s|m|h|d, e.g. 30m`);
  const v = Number(m[1]);
  const unit = m[2] ?? 's';
  const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[unit] ?? 1000;
  return v * mult;
}

export interface RobustMean {
  mean: number;
  stderr: number;
  n: number;
}

/** Histogram of integer-valued samples supporting add/remove and a winsorised mean. */
export class QuantizedSample {
  // Distinct keys kept sorted (ascending) with their counts, so the robust mean (per horizon and side on
  // every refresh) reads them in order without collecting and sorting: one binary search per add/remove.
  private keys = new Float64Array(16);
  private cnt = new Float64Array(16);
  private size = 0;
  private total = 0;

  /** Index of key, or −(insertion point) − 1. */
  private find(key: number): number {
    const keys = this.keys;
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (keys[m] < key) lo = m + 1;
      else hi = m;
    }
    return lo < this.size && keys[lo] === key ? lo : -lo - 1;
  }

  add(key: number): void {
    const i = this.find(key);
    if (i >= 0) this.cnt[i]++;
    else {
      const at = -i - 1;
      if (this.size === this.keys.length) {
        const k = new Float64Array(2 * this.size);
        k.set(this.keys);
        this.keys = k;
        const c = new Float64Array(2 * this.size);
        c.set(this.cnt);
        this.cnt = c;
      }
      this.keys.copyWithin(at + 1, at, this.size);
      this.cnt.copyWithin(at + 1, at, this.size);
      this.keys[at] = key;
      this.cnt[at] = 1;
      this.size++;
    }
    this.total++;
  }

  remove(key: number): void {
    const i = this.find(key);
    if (i < 0) return;
    if (this.cnt[i] <= 1) {
      this.keys.copyWithin(i, i + 1, this.size);
      this.cnt.copyWithin(i, i + 1, this.size);
      this.size--;
    } else this.cnt[i]--;
    this.total--;
  }

  get n(): number {
    return this.total;
  }

  /** Winsorised mean and its standard error, in units of `quantum`. */
  robustMean(quantum: number): RobustMean {
    const n = this.total;
    if (n === 0) return { mean: Number.NaN, stderr: Number.NaN, n: 0 };
    const size = this.size;
    const keys = this.keys;
    const cnt = this.cnt;
    const quantile = (p: number) => {
      const target = p * (n - 1);
      let cum = 0;
      for (let i = 0; i < size; i++) {
        cum += cnt[i];
        if (cum - 1 >= target) return keys[i];
      }
      return keys[size - 1];
    };
    const med = quantile(0.5);
    let scale = (quantile(0.75) - quantile(0.25)) / 1.349;
    if (!(scale > 0)) {
      let s1 = 0;
      let s2 = 0;
      for (let i = 0; i < size; i++) {
        const k = keys[i];
        const c = cnt[i];
        s1 += c * k;
        s2 += c * k * k;
      }
      const m = s1 / n;
      scale = Math.sqrt(Math.max(0, s2 / n - m * m));
    }
    const lo = scale > 0 ? med - 6 * scale : Number.NEGATIVE_INFINITY;
    const hi = scale > 0 ? med + 6 * scale : Number.POSITIVE_INFINITY;
    let s1 = 0;
    let s2 = 0;
    for (let i = 0; i < size; i++) {
      const k = keys[i];
      const c = cnt[i];
      const v = k < lo ? lo : Math.min(k, hi);
      s1 += c * v;
      s2 += c * v * v;
    }
    const mean = s1 / n;
    const variance = n > 1 ? Math.max(0, (s2 - n * mean * mean) / (n - 1)) : Number.NaN;
    return { mean: mean * quantum, stderr: n > 1 ? Math.sqrt(variance / n) * quantum : Number.NaN, n };
  }
}
