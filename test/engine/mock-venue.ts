/** Test doubles for the engine: a scriptable venue, a settable clock, a scripted strategy. */

import type {
  CancelRequest,
  Clock,
  DesiredQuotes,
  InstrumentSpec,
  ModifyRequest,
  OrderRequest,
  OrderSide,
  Strategy,
  Venue,
  VenueReport,
} from '../../src/engine/types.ts';
import type { BboEvent } from '../../src/marketdata/events.ts';

export const ETH: InstrumentSpec = {
  coin: 'ETH',
  tick: 0.1,
  szDecimals: 4,
  lotSize: 0.01,
  minNotional: 10,
  makerFee: 0.00015,
  takerFee: 0.00045,
};

export class TestClock implements Clock {
  t: number;
  constructor(t = 1_700_000_000_000) {
    this.t = t;
  }
  now(): number {
    return this.t;
  }
}

export type Action =
  | ({ kind: 'place' } & OrderRequest)
  | ({ kind: 'cancel' } & CancelRequest)
  | ({ kind: 'modify' } & ModifyRequest);

/** Records every request; the test decides what the venue answers. */
export class MockVenue implements Venue {
  readonly name = 'mock';
  actions: Action[] = [];
  private listener: (r: VenueReport) => void = () => {};
  private tid = 1;
  private readonly clock: Clock;
  constructor(clock: Clock) {
    this.clock = clock;
  }
  setReportListener(l: (r: VenueReport) => void): void {
    this.listener = l;
  }
  place(orders: OrderRequest[]): void {
    for (const o of orders) this.actions.push({ kind: 'place', ...o });
  }
  cancel(cancels: CancelRequest[]): void {
    for (const c of cancels) this.actions.push({ kind: 'cancel', ...c });
  }
  modify(mods: ModifyRequest[]): void {
    for (const m of mods) this.actions.push({ kind: 'modify', ...m });
  }
  async cancelAll(): Promise<void> {}
  take(): Action[] {
    const a = this.actions;
    this.actions = [];
    return a;
  }
  private upd(
    cloid: string,
    state: 'open' | 'canceled' | 'rejected' | 'filled',
    extra: { px?: number; sz?: number; reason?: string } = {},
  ) {
    const t = this.clock.now();
    this.listener({ kind: 'order', cloid, coin: 'ETH', state, exTime: t, rxTime: t, ...extra });
  }
  ack(cloid: string, px?: number, sz?: number) {
    this.upd(cloid, 'open', { px, sz });
  }
  canceled(cloid: string, reason?: string) {
    this.upd(cloid, 'canceled', { reason });
  }
  reject(cloid: string, reason = 'Post only order would have immediately matched') {
    this.upd(cloid, 'rejected', { reason });
  }
  filled(cloid: string) {
    this.upd(cloid, 'filled');
  }
  fill(cloid: string, side: OrderSide, px: number, sz: number, opts: { tid?: number; fee?: number } = {}) {
    const t = this.clock.now();
    this.listener({
      kind: 'fill',
      cloid,
      coin: 'ETH',
      side,
      px,
      sz,
      fee: opts.fee ?? 0,
      liquidity: 'maker',
      tid: opts.tid ?? this.tid++,
      exTime: t,
      rxTime: t,
    });
  }
}

/** A strategy that quotes whatever the test sets in `want`, on every bbo and timer. */
export class ScriptedStrategy implements Strategy {
  readonly name = 'scripted';
  want: DesiredQuotes = { bid: null, ask: null };
  onBbo() {
    return this.want;
  }
  onTimer() {
    return this.want;
  }
}

export function bbo(clock: TestClock, bidPx: number, askPx: number): BboEvent {
  return { kind: 'bbo', coin: 'ETH', exTime: clock.t, rxTime: clock.t, bidPx, bidSz: 1, askPx, askSz: 1 };
}

/** An engine on ETH over a MockVenue and a ScriptedStrategy at a TestClock, started. */
export async function startedEngine(opts: Partial<import('../../src/engine/engine.ts').EngineOptions> = {}) {
  const { Engine } = await import('../../src/engine/engine.ts');
  const clock = new TestClock();
  const venue = new MockVenue(clock);
  const strategy = new ScriptedStrategy();
  const engine = new Engine({ clock, venue, strategy, instrument: ETH, ...opts });
  engine.start();
  return { clock, venue, strategy, engine };
}
