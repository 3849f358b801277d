/**
 * Spread bounds: `minHalfSpread` / `maxHalfSpread` on every strategy, in ticks or basis points of the mid,
 * for both sides or per side. The quoting layer applies them to the model's depths (after the model, before
 * rounding to the tick): δ ← max(δ, min), then δ ← min(δ, max) — so when a min and a max in different units
 * cross at some mid, the max wins. A side the model does not quote (an inventory bound, touch mode saying no)
 * stays unquoted. Rounding is passive (bid down, ask up), so a quote can sit up to a tick beyond a max bound.
 *
 * The limiter also keeps the time each bound was binding (the model's depth was outside it) per side, as a
 * share of the time that side was quoted, on the strategy's clock; a data gap pauses the count.
 */
import { z } from 'zod';
import type { SpreadBoundBinding } from '../engine/types.ts';

/** One bound: a number of ticks or of basis points of the mid (one of them). */
export interface HalfSpreadBound {
  ticks?: number;
  bps?: number;
}

/** A min or max half-spread per side (absent side: unbounded). */
export interface SideBounds {
  bid?: HalfSpreadBound;
  ask?: HalfSpreadBound;
}

const UNIT_HELP = 'give {"ticks": n} or {"bps": n} (both sides), or per side {"bid": {…}, "ask": {…}}';

function readBound(v: unknown, path: string[], issues: { message: string; path: string[] }[]) {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    issues.push({ message: `must be {"ticks": n} or {"bps": n}`, path });
    return undefined;
  }
  const o = v as Record<string, unknown>;
  const keys = Object.keys(o);
  const bad = keys.filter((k) => k !== 'ticks' && k !== 'bps');
  if (bad.length > 0 || keys.length !== 1) {
    issues.push({
      message:
        bad.length > 0
          ? `unknown field(s) ${bad.join(', ')}: must be {"ticks": n} or {"bps": n}`
          : `give exactly one of ticks or bps`,
      path,
    });
    return undefined;
  }
  const k = keys[0] as 'ticks' | 'bps';
  const x = o[k];
  if (typeof x !== 'number' || !Number.isFinite(x) || x < 0) {
    issues.push({ message: 'must be a number ≥ 0', path: [...path, k] });
    return undefined;
  }
  return { [k]: x } as HalfSpreadBound;
}

/** Reads the user's form into per-side bounds; issues name the field (`bid.ticks: must be a number ≥ 0`). */
export function readSideBounds(
  v: unknown,
  issues: { message: string; path: string[] }[],
): SideBounds | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    issues.push({ message: UNIT_HELP, path: [] });
    return undefined;
  }
  const o = v as Record<string, unknown>;
  if ('bid' in o || 'ask' in o) {
    const bad = Object.keys(o).filter((k) => k !== 'bid' && k !== 'ask');
    if (bad.length > 0) {
      issues.push({ message: `unknown field(s) ${bad.join(', ')}: ${UNIT_HELP}`, path: [] });
      return undefined;
    }
    const out: SideBounds = {};
    if (o.bid !== undefined) out.bid = readBound(o.bid, ['bid'], issues);
    if (o.ask !== undefined) out.ask = readBound(o.ask, ['ask'], issues);
    return out;
  }
  const b = readBound(o, [], issues);
  return b ? { bid: b, ask: b } : undefined;
}

/** zod field for `minHalfSpread` / `maxHalfSpread`: normalised to per-side bounds. */
export const sideBoundsField = () =>
  z
    .unknown()
    .optional()
    .transform((v, ctx) => {
      const issues: { message: string; path: string[] }[] = [];
      const out = readSideBounds(v, issues);
      for (const i of issues) ctx.addIssue({ code: 'custom', message: i.message, path: i.path });
      return issues.length > 0 ? z.NEVER : out;
    });

/** Issues when a min exceeds the max of the same side in the same unit (mixed units are checked at runtime). */
export function checkBoundOrder(min: SideBounds | undefined, max: SideBounds | undefined): string[] {
  const out: string[] = [];
  for (const side of ['bid', 'ask'] as const) {
    const a = min?.[side];
    const b = max?.[side];
    if (!a || !b) continue;
    for (const u of ['ticks', 'bps'] as const) {
      if (a[u] !== undefined && b[u] !== undefined && a[u] > b[u])
        out.push(`${side}: maxHalfSpread ${b[u]} ${u} is below minHalfSpread ${a[u]} ${u}`);
    }
  }
  return out;
}

const NONE = 0;
const MIN = 1;
const MAX = 2;

/** Applies the bounds to a pair of depths and keeps the binding-time shares. One per strategy. */
export class SpreadBoundLimiter {
  private readonly min: SideBounds;
  private readonly max: SideBounds;
  private readonly tick: number;
  /** Depths after the last apply (price units). */
  deltaPlus = Number.NaN;
  deltaMinus = Number.NaN;
  /** Which bound set each side at the last apply: 0 none, 1 min, 2 max. */
  bindBid = NONE;
  bindAsk = NONE;
  // time accounting (strategy clock, ms)
  private last = Number.NaN;
  private bidQuoted = false;
  private askQuoted = false;
  private stateBid = NONE;
  private stateAsk = NONE;
  private tBid = 0;
  private tAsk = 0;
  private tBidMin = 0;
  private tBidMax = 0;
  private tAskMin = 0;
  private tAskMax = 0;

  constructor(min: SideBounds | undefined, max: SideBounds | undefined, tick: number) {
    this.min = min ?? {};
    this.max = max ?? {};
    this.tick = tick;
  }

  /** A limiter when any bound is configured, else undefined (the quoting layer then does nothing extra). */
  static create(
    min: SideBounds | undefined,
    max: SideBounds | undefined,
    tick: number,
  ): SpreadBoundLimiter | undefined {
    const any = min?.bid || min?.ask || max?.bid || max?.ask;
    return any ? new SpreadBoundLimiter(min, max, tick) : undefined;
  }

  private price(b: HalfSpreadBound | undefined, mid: number): number {
    if (!b) return Number.NaN;
    return b.ticks !== undefined ? b.ticks * this.tick : (mid * (b.bps ?? 0)) / 1e4;
  }

  /** Clamps ask depth δ⁺ and bid depth δ⁻ at this mid into deltaPlus / deltaMinus; NaN/∞ stays (no quote). */
  apply(mid: number, deltaPlus: number, deltaMinus: number): void {
    let b = NONE;
    let d = deltaMinus;
    if (Number.isFinite(d)) {
      const lo = this.price(this.min.bid, mid);
      const hi = this.price(this.max.bid, mid);
      if (d < lo) {
        d = lo;
        b = MIN;
      }
      if (d > hi) {
        d = hi;
        b = MAX;
      }
    }
    this.deltaMinus = d;
    this.bindBid = b;
    b = NONE;
    d = deltaPlus;
    if (Number.isFinite(d)) {
      const lo = this.price(this.min.ask, mid);
      const hi = this.price(this.max.ask, mid);
      if (d < lo) {
        d = lo;
        b = MIN;
      }
      if (d > hi) {
        d = hi;
        b = MAX;
      }
    }
    this.deltaPlus = d;
    this.bindAsk = b;
  }

  private advance(now: number): void {
    const dt = now - this.last;
    if (dt > 0) {
      if (this.bidQuoted) {
        this.tBid += dt;
        if (this.stateBid === MIN) this.tBidMin += dt;
        else if (this.stateBid === MAX) this.tBidMax += dt;
      }
      if (this.askQuoted) {
        this.tAsk += dt;
        if (this.stateAsk === MIN) this.tAskMin += dt;
        else if (this.stateAsk === MAX) this.tAskMax += dt;
      }
    }
    if (!(now < this.last)) this.last = now;
  }

  /** From `now` on, these quotes stand (after an apply): which sides are quoted and what bound set them. */
  record(now: number, bidQuoted: boolean, askQuoted: boolean): void {
    if (!Number.isNaN(this.last)) this.advance(now);
    else this.last = now;
    this.bidQuoted = bidQuoted;
    this.askQuoted = askQuoted;
    this.stateBid = bidQuoted ? this.bindBid : NONE;
    this.stateAsk = askQuoted ? this.bindAsk : NONE;
  }

  /** A data gap: stop counting until the next quote. */
  pause(now: number): void {
    if (!Number.isNaN(this.last)) this.advance(now);
    this.bidQuoted = false;
    this.askQuoted = false;
  }

  /** Shares of each side's quoted time during which its min / max bound was binding, up to `now`. */
  binding(now: number): SpreadBoundBinding {
    if (!Number.isNaN(this.last)) this.advance(now);
    const share = (x: number, t: number) => (t > 0 ? x / t : 0);
    return {
      min: { bid: share(this.tBidMin, this.tBid), ask: share(this.tAskMin, this.tAsk) },
      max: { bid: share(this.tBidMax, this.tBid), ask: share(this.tAskMax, this.tAsk) },
    };
  }
}
