/**
 * The mid as the window sees it: the quote timeline, the declared gaps (no data, so no mid, inside them) and
 * the staleness rule (a quote older than `staleMs` no longer gives the mid). Depths and markouts both read
 * the mid through here, so they agree on when it is usable.
 */
import type { Gap } from '../../marketdata/events.ts';
import { QuoteTimeline } from '../depth.ts';

/** Declared data gaps, sorted by start. */
export class WindowGaps {
  private readonly list: Gap[] = [];
  // Both checked on every event, mostly at times that only grow: contains() remembers a stretch of time no gap
  // covers, [freeFrom, freeTo], and cutAt() where its last scan stopped (both forgotten when the list changes).
  private freeFrom = Number.POSITIVE_INFINITY;
  private freeTo = Number.NEGATIVE_INFINITY;
  private cutFrom = Number.NEGATIVE_INFINITY;
  private cutIndex = 0;

  get length(): number {
    return this.list.length;
  }

  /** Inserts a gap in start order (the caller has checked coin and end > start). */
  add(gap: Gap): void {
    let i = this.list.length;
    while (i > 0 && this.list[i - 1].start > gap.start) i--;
    this.list.splice(i, 0, gap);
    this.changed();
  }

  // The scans below stop at the first gap starting at or after the interval's end: the list is in start
  // order and may hold every gap of a whole backtest ahead of the window (checked on every event).

  /** True when t lies strictly inside a gap. */
  contains(t: number): boolean {
    if (t >= this.freeFrom && t <= this.freeTo) return false;
    const list = this.list;
    // Every gap starting before t ends at or before t when the answer is no: then no gap covers
    // [the latest of those ends, the next start].
    let endedBy = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (g.start >= t) {
        this.freeFrom = endedBy;
        this.freeTo = g.start;
        return false;
      }
      if (t < g.end) return true;
      if (g.end > endedBy) endedBy = g.end;
    }
    this.freeFrom = endedBy;
    this.freeTo = Number.POSITIVE_INFINITY;
    return false;
  }

  /** Start of the first gap inside (a, b], or b. */
  cutAt(a: number, b: number): number {
    // The first gap starting at or after a (the list is in start order): from where the last scan stopped
    // when a has not moved back.
    const list = this.list;
    let i = a >= this.cutFrom ? this.cutIndex : 0;
    while (i < list.length && !(list[i].start >= a)) i++;
    this.cutFrom = a;
    this.cutIndex = i;
    return i < list.length && list[i].start < b ? list[i].start : b;
  }

  private changed(): void {
    this.freeFrom = Number.POSITIVE_INFINITY;
    this.freeTo = Number.NEGATIVE_INFINITY;
    this.cutFrom = Number.NEGATIVE_INFINITY;
    this.cutIndex = 0;
  }

  /** True when some gap overlaps (a, b). */
  overlaps(a: number, b: number): boolean {
    const list = this.list;
    for (let i = 0; i < list.length; i++) {
      const g = list[i];
      if (g.start >= b) return false;
      if (g.end > a) return true;
    }
    return false;
  }

  /** Calls fn for each gap (in start order). */
  forEach(fn: (g: Gap) => void): void {
    for (const g of this.list) fn(g);
  }

  /** Forgets gaps that ended before t. */
  dropEndedBefore(t: number): void {
    if (!(this.list.length > 0 && this.list[0].end < t)) return;
    while (this.list.length > 0 && this.list[0].end < t) this.list.shift();
    this.changed();
  }
}

export class WindowQuotes {
  readonly timeline = new QuoteTimeline();
  readonly gaps = new WindowGaps();
  private readonly staleMs: number;

  constructor(staleMs: number) {
    this.staleMs = staleMs;
  }

  /** Quote i gives the mid at time t: it has a mid, is not stale at t, and no gap lies between. */
  usableAt(i: number, t: number): boolean {
    const q = this.timeline;
    const qt = q.time(i);
    return !Number.isNaN(q.mid(i)) && t - qt <= this.staleMs && !this.gaps.overlaps(qt, t);
  }

  /** Index of the quote giving the mid just before t (strictly earlier), or −1 when there is no usable one. */
  midBefore(t: number): number {
    const i = this.timeline.indexBefore(t);
    return i < 0 || !this.usableAt(i, t) ? -1 : i;
  }

  /** Index of the first quote at or after t when it is a usable "next mid" (fresh, no gap), or −1. */
  nextMid(t: number): number {
    const q = this.timeline;
    const i = q.indexAtOrAfter(t);
    if (i < 0 || q.time(i) - t > this.staleMs || this.gaps.overlaps(t, q.time(i))) return -1;
    if (Number.isNaN(q.mid(i))) return -1;
    return i;
  }

  /** Index of the quote giving the mid at `target`, or −1 when unusable or a gap lies in (from, target). */
  midAt(from: number, target: number): number {
    const i = this.timeline.indexAtOrBefore(target);
    if (i < 0 || !this.usableAt(i, target) || this.gaps.overlaps(from, target)) return -1;
    return i;
  }

  /** Forgets quotes and gaps the window no longer needs (the last quote before the start stays: it is the
   * mid just before the first MO). */
  evictBefore(windowStart: number): void {
    this.timeline.evictBefore(windowStart);
    this.gaps.dropEndedBefore(windowStart - this.staleMs);
  }
}
