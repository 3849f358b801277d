/**
 * A simulated-time scheduler: callbacks ordered by (time, insertion order) in a binary heap.
 * `Scheduler` is the interface the SimulatedVenue runs on; a wall-clock implementation (setTimeout) serves
 * paper trading on the live feed.
 */

export interface Scheduler {
  now(): number;
  /** Run fn at `time` (never before now; a past time runs at the next opportunity, in order). */
  at(time: number, fn: () => void): void;
  /**
   * Run fn(arg, time) at `time`, as `at` does (same order among both kinds): the hot paths schedule a method
   * with its argument instead of making a closure per callback. `time` is the time given here.
   */
  call<A>(time: number, fn: (arg: A, time: number) => void, arg: A): void;
}

/** `at`'s callbacks go through `call` with this runner. */
const runThunk = (fn: () => void) => fn();

export class EventQueue implements Scheduler {
  // The heap in parallel arrays (no object per entry): time, insertion number, callback, its argument.
  private times: number[] = [];
  private seqs: number[] = [];
  private fns: Array<(arg: unknown, time: number) => void> = [];
  private args: unknown[] = [];
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
    this.call(time, runThunk, fn);
  }

  call<A>(time: number, fn: (arg: A, time: number) => void, arg: A): void {
    const t = Math.max(time, this.current);
    const s = this.seq++;
    const times = this.times;
    const seqs = this.seqs;
    const fns = this.fns;
    const args = this.args;
    // Sift up with a hole: parents later than (t, s) move down, the new entry is written once.
    let i = times.length;
    times.push(t);
    seqs.push(s);
    fns.push(fn as (arg: unknown, time: number) => void);
    args.push(arg);
    while (i > 0) {
      const p = (i - 1) >> 1;
      const tp = times[p];
      if (tp < t || (tp === t && seqs[p] < s)) break;
      times[i] = tp;
      seqs[i] = seqs[p];
      fns[i] = fns[p];
      args[i] = args[p];
      i = p;
    }
    times[i] = t;
    seqs[i] = s;
    fns[i] = fn as (arg: unknown, time: number) => void;
    args[i] = arg;
  }

  /** Remove and run the earliest callback, advancing `current` to its time. */
  runNext(): void {
    const times = this.times;
    const seqs = this.seqs;
    const fns = this.fns;
    const args = this.args;
    const t = times[0];
    const fn = fns[0];
    const arg = args[0];
    // The last entry fills the root's hole, sifted down.
    const lt = times.pop() as number;
    const ls = seqs.pop() as number;
    const lf = fns.pop() as (arg: unknown, time: number) => void;
    const la = args.pop();
    const n = times.length;
    if (n > 0) {
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        if (l >= n) break;
        const r = l + 1;
        let m = l;
        let tm = times[l];
        if (r < n) {
          const tr = times[r];
          if (tr < tm || (tr === tm && seqs[r] < seqs[l])) {
            m = r;
            tm = tr;
          }
        }
        if (lt < tm || (lt === tm && ls < seqs[m])) break;
        times[i] = tm;
        seqs[i] = seqs[m];
        fns[i] = fns[m];
        args[i] = args[m];
        i = m;
      }
      times[i] = lt;
      seqs[i] = ls;
      fns[i] = lf;
      args[i] = la;
    }
    if (t > this.current) this.current = t;
    fn(arg, t);
  }
}
