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
import { type MicropriceSettings, MicropriceSettingsSchema, type ReferenceKind } from './config.ts';
import type { ParamFeed } from './param-feed.ts';
import { boundedQuotes, newTouch, QuoteInputs, sameQuotes, type Touch } from './quoting.ts';
import { ReferenceAttributionModel, ReferencePrice } from './reference.ts';
import { type SideBounds, SpreadBoundLimiter } from './spread-bounds.ts';

/** The reference settings every strategy config carries. */
export interface ReferenceSettings {
  reference?: ReferenceKind;
  microprice?: MicropriceSettings;
}

/**
 * The attribution's reference model for a strategy config: undefined for the mid (the attribution's default),
 * else an estimator of the same kind and settings as the strategy's own reference.
 */
export function referenceModelFor(
  cfg: ReferenceSettings,
  instrument: InstrumentSpec,
): ReferenceAttributionModel | undefined {
  const kind = cfg.reference ?? 'mid';
  if (kind === 'mid') return undefined;
  return new ReferenceAttributionModel(
    kind,
    cfg.microprice ?? MicropriceSettingsSchema.parse({}),
    instrument.tick,
  );
}

/** The strategy's reference price from its config (defaults: mid; micro-price settings from the schema). */
export function referenceFrom(cfg: ReferenceSettings, instrument: InstrumentSpec): ReferencePrice {
  return new ReferencePrice(
    cfg.reference ?? 'mid',
    cfg.microprice ?? MicropriceSettingsSchema.parse({}),
    instrument.tick,
  );
}

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
  /** The price the quotes are centred on (config `reference`). */
  protected readonly reference: ReferencePrice;
  /** Spread bounds (undefined when none are configured). */
  protected readonly limiter: SpreadBoundLimiter | undefined;

  constructor(
    instrument: InstrumentSpec,
    orderSize: number | undefined,
    feed: ParamFeed | undefined,
    /** The strategy config's spread bounds and reference settings (any of them may be absent). */
    settings: {
      minHalfSpread?: SideBounds;
      maxHalfSpread?: SideBounds;
      reference?: ReferenceKind;
      microprice?: MicropriceSettings;
    } = {},
  ) {
    this.inst = instrument;
    this.size = orderSize ?? instrument.lotSize;
    this.feed = feed;
    this.limiter = SpreadBoundLimiter.create(settings.minHalfSpread, settings.maxHalfSpread, instrument.tick);
    this.reference = referenceFrom(settings, instrument);
  }

  /** The parameter feed (undefined when every parameter is configured): a backtest may compute it ahead. */
  get paramFeed(): ParamFeed | undefined {
    return this.feed;
  }

  spreadBoundBinding(now: number): SpreadBoundBinding | null {
    return this.limiter ? this.limiter.binding(now) : null;
  }

  /** The reference price of this touch and the part of it the quote cache must key on (0 for the mid). */
  protected referenceOf(t: Touch): { ref: number; key: number } {
    const ref = this.reference.price(t);
    return { ref, key: this.reference.sizeDependent ? ref : 0 };
  }

  abstract quote(ctx: StrategyContext): DesiredQuotes | undefined;

  /** Adopts a parameter set from the feed; true when it was adopted. */
  protected abstract useCalibration(r: CalibrationResult, ctx: StrategyContext): boolean;

  onBook(ev: MarketEvent, ctx: StrategyContext) {
    this.reference.onEvent(ev);
    this.feedEvent(ev, ctx);
    return this.quote(ctx);
  }
  onBbo(ev: MarketEvent, ctx: StrategyContext) {
    this.reference.onEvent(ev);
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
    this.reference.onGap(gap);
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
   * Quotes at depths (ask δ⁺, bid δ⁻) from the reference price `ref` (default the mid), with no quote on
   * the side that would take |inventory| (lots) beyond `maxPosition`, within the spread bounds (`now`:
   * strategy clock).
   */
  protected emitBounded(
    t: Touch,
    q: number,
    maxPosition: number,
    deltaPlus: number,
    deltaMinus: number,
    now = 0,
    ref: number = t.mid,
  ): DesiredQuotes | undefined {
    return this.emit(
      boundedQuotes(
        t,
        q,
        maxPosition,
        deltaPlus,
        deltaMinus,
        this.size,
        this.inst,
        this.limiter,
        now,
        ref,
        this.last,
      ),
    );
  }

  protected emit(q: DesiredQuotes): DesiredQuotes | undefined {
    if (sameQuotes(this.last, q)) return undefined;
    this.last = q;
    return q;
  }
}
