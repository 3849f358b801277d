/**
 * A wall-clock Scheduler for paper trading: the SimulatedVenue's latencies and report deliveries run on real
 * time. Callbacks keep (time, insertion) order through the backtester's EventQueue, and one timer is armed for
 * the earliest of them, so two reports due at the same millisecond are never swapped.
 */
import { EventQueue, type Scheduler } from './scheduler.ts';

export class WallClockScheduler implements Scheduler {
  private readonly queue = new EventQueue();
  private timer: NodeJS.Timeout | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private closed = false;
  private readonly clock: () => number;

  constructor(clock: () => number = Date.now) {
    this.clock = clock;
  }

  now(): number {
    return this.clock();
  }

  at(time: number, fn: () => void): void {
    if (this.closed) return;
    this.queue.at(time, fn);
    this.arm();
  }

  call<A>(time: number, fn: (arg: A, time: number) => void, arg: A): void {
    if (this.closed) return;
    this.queue.call(time, fn, arg);
    this.arm();
  }

  /** Callbacks waiting to run. */
  get pending(): number {
    return this.queue.size;
  }

  /** Drop everything pending and refuse new callbacks (session stop). */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private arm(): void {
    const next = this.queue.peekTime();
    if (next >= this.timerAt && this.timer) return;
    if (this.timer) clearTimeout(this.timer);
    this.timerAt = next;
    this.timer = setTimeout(() => this.run(), Math.max(0, next - this.clock()));
  }

  private run(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const now = this.clock();
    // Run everything due; callbacks may schedule more (due now → run in this pass, in order).
    let guard = 0;
    while (!this.closed && this.queue.size > 0 && this.queue.peekTime() <= now && guard++ < 100_000) {
      this.queue.runNext();
    }
    if (!this.closed && this.queue.size > 0) this.arm();
  }
}
