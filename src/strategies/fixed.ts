/**
 * Baseline: a fixed symmetric spread around the reference price (the mid by default; in ticks or basis
 * points of mid), one lot per side, no quote on the side that would take |inventory| beyond maxPosition lots.
 */
import type {
  DesiredQuotes,
  InstrumentSpec,
  SpreadBoundBinding,
  Strategy,
  StrategyContext,
} from '../engine/types.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { referenceFrom } from './calibrated.ts';
import type { FixedConfig } from './config.ts';
import { boundedQuotes, contextTouch, inventoryLots, newTouch, QuoteInputs, sameQuotes } from './quoting.ts';
import type { ReferencePrice } from './reference.ts';
import { SpreadBoundLimiter } from './spread-bounds.ts';

export class FixedSpreadStrategy implements Strategy {
  readonly name = 'fixed';
  readonly config: FixedConfig;
  private readonly inst: InstrumentSpec;
  private readonly size: number;
  private last: DesiredQuotes | undefined;
  private readonly touch = newTouch();
  private lastHalfSpread = Number.NaN;
  private readonly inputs = new QuoteInputs();
  private readonly reference: ReferencePrice;
  private readonly limiter: SpreadBoundLimiter | undefined;

  constructor(config: FixedConfig, instrument: InstrumentSpec) {
    this.config = config;
    this.inst = instrument;
    this.size = config.orderSize ?? instrument.lotSize;
    this.reference = referenceFrom(config, instrument);
    this.limiter = SpreadBoundLimiter.create(config.minHalfSpread, config.maxHalfSpread, instrument.tick);
  }

  spreadBoundBinding(now: number): SpreadBoundBinding | null {
    return this.limiter ? this.limiter.binding(now) : null;
  }

  /** Half-spread in price units at this mid. */
  halfSpread(mid: number): number {
    const { halfSpreadTicks, halfSpreadBps } = this.config;
    if (halfSpreadBps !== undefined) return (mid * halfSpreadBps) / 1e4;
    return (halfSpreadTicks ?? 1) * this.inst.tick;
  }

  onBook(ev: MarketEvent, ctx: StrategyContext) {
    this.reference.onEvent(ev);
    return this.quote(ctx);
  }
  onBbo(ev: MarketEvent, ctx: StrategyContext) {
    this.reference.onEvent(ev);
    return this.quote(ctx);
  }
  onGap(gap: Gap, ctx: StrategyContext) {
    this.reference.onGap(gap);
    this.limiter?.pause(ctx.clock.now());
  }
  onFill(_f: unknown, ctx: StrategyContext) {
    return this.quote(ctx);
  }

  quote(ctx: StrategyContext): DesiredQuotes | undefined {
    const t = contextTouch(ctx, this.touch);
    if (!t || !(t.mid > 0)) {
      this.inputs.reset();
      return this.emit({ bid: null, ask: null });
    }
    const q = inventoryLots(ctx.position(), this.size);
    const ref = this.reference.price(t);
    if (this.inputs.same(t.bid, t.ask, q, 0, this.reference.sizeDependent ? ref : 0)) return undefined;
    const d = this.halfSpread(t.mid);
    this.lastHalfSpread = d;
    return this.emit(
      boundedQuotes(
        t,
        q,
        this.config.maxPosition,
        d,
        d,
        this.size,
        this.inst,
        this.limiter,
        ctx.clock.now(),
        ref,
        this.last,
      ),
    );
  }

  diagnostics(): Record<string, unknown> {
    return {
      halfSpread: this.lastHalfSpread,
      maxPosition: this.config.maxPosition,
      orderSize: this.size,
      ...this.reference.diagnostics(),
    };
  }

  private emit(q: DesiredQuotes): DesiredQuotes | undefined {
    if (sameQuotes(this.last, q)) return undefined;
    this.last = q;
    return q;
  }
}
