/**
 * A bounded time series in typed columns: points are appended in time order; when the capacity is reached
 * every other point is dropped and from then on only every 2nd (then 4th, …) point is kept, so the whole
 * history stays available at a resolution that coarsens with its length, in fixed memory.
 */
export class TimeSeries<K extends string> {
  readonly fields: readonly K[];
  readonly capacity: number;
  private readonly time: Float64Array;
  private readonly cols: Float64Array[];
  private n = 0;
  private stride = 1;
  private pushes = 0;

  constructor(fields: readonly K[], capacity = 20_000) {
    if (!(capacity >= 4) || capacity % 2 !== 0) throw new Error('TimeSeries capacity: an even number ≥ 4');
    this.fields = fields;
    this.capacity = capacity;
    this.time = new Float64Array(capacity);
    this.cols = fields.map(() => new Float64Array(capacity));
  }

  get length(): number {
    return this.n;
  }

  /** Keeps one point in `stride` (1 until the first compaction). */
  get keepEvery(): number {
    return this.stride;
  }

  /** Appends a point (NaN for unknown values); times must not go backwards. */
  push(time: number, values: Record<K, number>): void {
    if (this.n > 0 && time < this.time[this.n - 1]) return;
    if (this.pushes++ % this.stride !== 0) return;
    if (this.n === this.capacity) this.compact();
    const i = this.n++;
    this.time[i] = time;
    for (let c = 0; c < this.fields.length; c++) this.cols[c][i] = values[this.fields[c]];
  }

  private compact(): void {
    const half = this.capacity / 2;
    for (let i = 0; i < half; i++) {
      this.time[i] = this.time[2 * i + 1];
      for (const col of this.cols) col[i] = col[2 * i + 1];
    }
    this.n = half;
    this.stride *= 2;
    this.pushes = 1;
  }

  /** First index with time ≥ t. */
  private lowerBound(t: number): number {
    let lo = 0;
    let hi = this.n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.time[mid] < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /**
   * Points with time ≥ since, at most `maxPoints` (evenly thinned, the newest always kept), as objects; NaN
   * becomes null (JSON has no NaN).
   */
  since(since = 0, maxPoints = 2000): Array<{ time: number } & Record<K, number | null>> {
    const from = this.lowerBound(since);
    const count = this.n - from;
    const step = count > maxPoints ? count / maxPoints : 1;
    const out: Array<{ time: number } & Record<K, number | null>> = [];
    const take = (i: number) => {
      const p = { time: this.time[i] } as { time: number } & Record<K, number | null>;
      for (let c = 0; c < this.fields.length; c++) {
        const v = this.cols[c][i];
        (p as Record<string, number | null>)[this.fields[c]] = Number.isFinite(v) ? v : null;
      }
      out.push(p);
    };
    if (step === 1) {
      for (let i = from; i < this.n; i++) take(i);
    } else {
      // Thinned from the newest backwards so the latest point is always there.
      const idx: number[] = [];
      for (let k = 0; k < maxPoints; k++) idx.push(this.n - 1 - Math.floor(k * step));
      for (let k = idx.length - 1; k >= 0; k--) take(idx[k]);
    }
    return out;
  }

  last(): ({ time: number } & Record<K, number>) | undefined {
    if (this.n === 0) return undefined;
    const i = this.n - 1;
    const p = { time: this.time[i] } as { time: number } & Record<K, number>;
    for (let c = 0; c < this.fields.length; c++)
      (p as Record<string, number>)[this.fields[c]] = this.cols[c][i];
    return p;
  }
}

/** A bounded list that keeps the newest `capacity` items. */
export class Ring<T> {
  private items: T[] = [];
  readonly capacity: number;
  constructor(capacity: number) {
    this.capacity = capacity;
  }
  push(x: T): void {
    this.items.push(x);
    // Trim in chunks so the array is not shifted on every push.
    if (this.items.length > this.capacity * 1.25) this.items = this.items.slice(-this.capacity);
  }
  /** Newest last; at most `limit`, filtered. */
  list(filter: (x: T) => boolean = () => true, limit = this.capacity): T[] {
    const out: T[] = [];
    for (let i = this.items.length - 1; i >= 0 && out.length < limit; i--) {
      if (filter(this.items[i])) out.push(this.items[i]);
    }
    return out.reverse().slice(-this.capacity);
  }
  get length(): number {
    return Math.min(this.items.length, this.capacity);
  }
}
