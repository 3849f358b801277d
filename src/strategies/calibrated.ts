/**
 * What the quoting strategies that take parameters from a feed (`cj`, `as`, `glft`) share: every market
 * event goes to the feed first, book/bbo/fill re-quote, a gap goes to the feed, and a quote set equal to
 * the last one is not re-emitted. Subclasses supply the quote and how a new parameter set is adopted.
 */
import type { CalibrationResult } from '../calibration/types.ts';
import type {
  DesiredQuotes,
  InstrumentSpec,
  SpreadBoundBinding,
  Strategy,
  StrategyContext,
} from '../engine/types.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import type { ParamFeed } from './param-feed.ts';
import { boundedQuotes, newTouch, QuoteInputs, sameQuotes, type Touch } from './quoting.ts';
import { type SideBounds, SpreadBoundLimiter } from './spread-bounds.ts';

export abstract class FeedQuoter implements Strategy {
  abstract readonly name: string;
  protected readonly inst: InstrumentSpec;
  /** Order size in coin units (inventory is counted in these lots). */
  protected readonly size: number;
  protected readonly feed: ParamFeed | undefined;
  protected last: DesiredQuotes | undefined;
  protected readonly touch = newTouch();
  protected readonly inputs = new QuoteInputs();
  /** Bumped when adopted parameters change the quotes (part of the `inputs` cache key). */
  protected version = 0;
  /** Spread bounds (undefined when none are configured). */
  protected readonly limiter: SpreadBoundLimiter | undefined;

  constructor(
    instrument: InstrumentSpec,
    orderSize: number | undefined,
    feed: ParamFeed | undefined,
    bounds?: { minHalfSpread?: SideBounds; maxHalfSpread?: SideBounds },
  ) {
    this.inst = instrument;
    this.size = orderSize ?? instrument.lotSize;
    this.feed = feed;
    this.limiter = SpreadBoundLimiter.create(bounds?.minHalfSpread, bounds?.maxHalfSpread, instrument.tick);
  }

  spreadBoundBinding(now: number): SpreadBoundBinding | null {
    return this.limiter ? this.limiter.binding(now) : null;
  }

  abstract quote(ctx: StrategyContext): DesiredQuotes | undefined;

  /** Adopts a parameter set from the feed; true when it was adopted. */
  protected abstract useCalibration(r: CalibrationResult, ctx: StrategyContext): boolean;

  onBook(ev: MarketEvent, ctx: StrategyContext) {
    this.feedEvent(ev, ctx);
    return this.quote(ctx);
  }
  onBbo(ev: MarketEvent, ctx: StrategyContext) {
    this.feedEvent(ev, ctx);
    return this.quote(ctx);
  }
  onTrade(ev: MarketEvent, ctx: StrategyContext): DesiredQuotes | undefined {
    this.feedEvent(ev, ctx);
    return undefined;
  }
  onFill(_f: unknown, ctx: StrategyContext) {
    return this.quote(ctx);
  }
  onGap(gap: Gap, ctx?: StrategyContext) {
    this.feed?.onGap(gap);
    if (ctx) this.limiter?.pause(ctx.clock.now());
  }

  /** Feeds the event to the parameter feed; true when a new parameter set was adopted. */
  protected feedEvent(ev: MarketEvent, ctx: StrategyContext): boolean {
    if (!this.feed) return false;
    const r = this.feed.onEvent(ev);
    if (!r || !this.useCalibration(r, ctx)) return false;
    this.version++; // new parameters: the cached quote inputs are stale
    return true;
  }

  /**
   * Quotes at depths (ask δ⁺, bid δ⁻) from the touch's mid, with no quote on the side that would take
   * |inventory| (lots) beyond `maxPosition`, within the spread bounds (`now`: strategy clock).
   */
  protected emitBounded(
    t: Touch,
    q: number,
    maxPosition: number,
    deltaPlus: number,
    deltaMinus: number,
    now = 0,
  ): DesiredQuotes | undefined {
    return this.emit(
      boundedQuotes(t, q, maxPosition, deltaPlus, deltaMinus, this.size, this.inst, this.limiter, now),
    );
  }

  protected emit(q: DesiredQuotes): DesiredQuotes | undefined {
    if (sameQuotes(this.last, q)) return undefined;
    this.last = q;
    return q;
  }
}
