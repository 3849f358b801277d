/**
 * A simulated-time scheduler: callbacks ordered by (time, insertion order) in a binary heap.
 * `Scheduler` is the interface the SimulatedVenue runs on; a wall-clock implementation (setTimeout) serves
 * paper trading on the live feed.
 */

export interface Scheduler {
  now(): number;
  /** Run fn at `time` (never before now; a past time runs at the next opportunity, in order). */
  at(time: number, fn: () => void): void;
}

export class EventQueue implements Scheduler {
  private times: number[] = [];
  private seqs: number[] = [];
  private fns: Array<() => void> = [];
  private seq = 0;
  current = Number.NEGATIVE_INFINITY;

  now(): number {
    return this.current;
  }

  get size(): number {
    return this.times.length;
  }

  /** Time of the earliest pending callback (Infinity when none). */
  peekTime(): number {
    return this.times.length > 0 ? this.times[0] : Number.POSITIVE_INFINITY;
  }

  at(time: number, fn: () => void): void {
    const t = Math.max(time, this.current);
    const s = this.seq++;
    let i = this.times.length;
    this.times.push(t);
    this.seqs.push(s);
    this.fns.push(fn);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (this.less(p, i)) break;
      this.swap(i, p);
      i = p;
    }
  }

  /** Remove and run the earliest callback, advancing `current` to its time. */
  runNext(): void {
    const t = this.times[0];
    const fn = this.fns[0];
    const last = this.times.length - 1;
    this.swap(0, last);
    this.times.pop();
    this.seqs.pop();
    this.fns.pop();
    let i = 0;
    const n = this.times.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(l, m)) m = l;
      if (r < n && this.less(r, m)) m = r;
      if (m === i) break;
      this.swap(i, m);
      i = m;
    }
    if (t > this.current) this.current = t;
    fn();
  }

  private less(a: number, b: number): boolean {
    const ta = this.times[a];
    const tb = this.times[b];
    return ta < tb || (ta === tb && this.seqs[a] < this.seqs[b]);
  }

  private swap(a: number, b: number): void {
    const t = this.times[a];
    this.times[a] = this.times[b];
    this.times[b] = t;
    const s = this.seqs[a];
    this.seqs[a] = this.seqs[b];
    this.seqs[b] = s;
    const f = this.fns[a];
    this.fns[a] = this.fns[b];
    this.fns[b] = f;
  }
}
