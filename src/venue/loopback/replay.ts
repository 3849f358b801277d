/**
 * Replay clock and scheduler: plays recorded events on the exchange clock at `speed` × real time.
 * exchange time = startExTime + (wall − wallStart) × speed. With `loop`, the data set restarts after its end
 * with exchange times (and trade ids) shifted forward so a recorder never sees a repeated (tid, exTime).
 */
import type { MarketEvent } from '../../marketdata/events.ts';

export interface ReplayOptions {
  events: MarketEvent[];
  speed: number;
  /** Exchange time to start from (ms); default: the first event. */
  startAt?: number;
  loop?: boolean;
  /** Called with every batch of events whose exchange time has come (in exchange-time order). */
  onEvents: (events: MarketEvent[]) => void;
  /** Called after each delivery step with the exchange time reached (also when no event was due). */
  onTime?: (exTime: number) => void;
  onEnd?: () => void;
  wallNow?: () => number;
}

export class ReplayClock {
  private readonly events: MarketEvent[];
  private readonly opts: ReplayOptions;
  private readonly wallNow: () => number;
  private readonly span: number;
  private readonly tidSpan: number;
  private wallStart = 0;
  private exStart = 0;
  private index = 0;
  private cycle = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  ended = false;

  constructor(opts: ReplayOptions) {
    if (!(opts.speed > 0) || !Number.isFinite(opts.speed)) {
      throw new Error(`speed must be a positive finite multiplier (1 = real time); got ${opts.speed}`);
    }
    this.opts = opts;
    this.wallNow = opts.wallNow ?? Date.now;
    // Stable sort on exchange time: ties keep recording order.
    this.events = opts.events
      .map((e, i) => ({ e, i }))
      .sort((a, b) => a.e.exTime - b.e.exTime || a.i - b.i)
      .map((x) => x.e);
    const first = this.events[0]?.exTime ?? 0;
    const last = this.events[this.events.length - 1]?.exTime ?? 0;
    this.span = last - first + 1000;
    let minTid = Number.POSITIVE_INFINITY;
    let maxTid = Number.NEGATIVE_INFINITY;
    for (const e of this.events) {
      if (e.kind === 'trade') {
        minTid = Math.min(minTid, e.tid);
        maxTid = Math.max(maxTid, e.tid);
      }
    }
    this.tidSpan = Number.isFinite(minTid) ? maxTid - minTid + 1 : 0;
    const startAt = opts.startAt ?? first;
    this.exStart = startAt;
    while (this.index < this.events.length && this.events[this.index].exTime < startAt) this.index++;
  }

  get length(): number {
    return this.events.length;
  }

  /** Current exchange time. Before start() and after stop() it stays where it was. */
  now(): number {
    if (this.stopped) return this.exStart;
    return this.exStart + (this.wallNow() - this.wallStart) * this.opts.speed;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.wallStart = this.wallNow();
    this.schedule();
  }

  stop(): void {
    if (this.stopped) return;
    this.exStart = this.now();
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  /**
   * While stopped: deliver every event up to exchange time `exTime` synchronously and move the clock there.
   * Lets tests and tools step the market deterministically.
   */
  advanceTo(exTime: number): void {
    if (!this.stopped)
      throw new Error('advanceTo() needs a stopped replay (autoStart: false, or stop() first)');
    const batch: MarketEvent[] = [];
    while (this.index < this.events.length && this.exTimeAt(this.index) <= exTime) {
      batch.push(this.shifted(this.events[this.index]));
      this.index++;
    }
    this.exStart = Math.max(this.exStart, exTime);
    if (batch.length > 0) this.opts.onEvents(batch);
    this.opts.onTime?.(this.exStart);
  }

  /** Exchange time of the next event not yet delivered (undefined at the end of a non-looping replay). */
  nextEventTime(): number | undefined {
    if (this.index < this.events.length) return this.exTimeAt(this.index);
    if (this.opts.loop && this.events.length > 0) return this.events[0].exTime + (this.cycle + 1) * this.span;
    return undefined;
  }

  private shifted(e: MarketEvent): MarketEvent {
    if (this.cycle === 0) return e;
    const dt = this.cycle * this.span;
    if (e.kind === 'trade') return { ...e, exTime: e.exTime + dt, tid: e.tid + this.cycle * this.tidSpan };
    return { ...e, exTime: e.exTime + dt };
  }

  private exTimeAt(i: number): number {
    return this.events[i].exTime + this.cycle * this.span;
  }

  private schedule(): void {
    if (this.stopped) return;
    if (this.index >= this.events.length) {
      if (this.opts.loop && this.events.length > 0) {
        this.cycle++;
        this.index = 0;
      } else {
        this.ended = true;
        this.opts.onEnd?.();
        return;
      }
    }
    const dueIn = (this.exTimeAt(this.index) - this.now()) / this.opts.speed;
    this.timer = setTimeout(() => this.tick(), Math.max(0, Math.min(dueIn, 1000)));
  }

  private tick(): void {
    this.timer = undefined;
    if (this.stopped) return;
    const now = this.now();
    const batch: MarketEvent[] = [];
    while (this.index < this.events.length && this.exTimeAt(this.index) <= now) {
      batch.push(this.shifted(this.events[this.index]));
      this.index++;
    }
    if (batch.length > 0) this.opts.onEvents(batch);
    this.opts.onTime?.(now);
    this.schedule();
  }
}
