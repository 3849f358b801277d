/** A minimal StrategyContext for driving strategies directly. */

import type { InstrumentSpec, StrategyContext } from '../../src/engine/types.ts';
import type { BboEvent } from '../../src/marketdata/events.ts';
import { ETH } from '../engine/mock-venue.ts';

export { ETH };

export interface TestCtx extends StrategyContext {
  pos: number;
  now: number;
  lastBbo: BboEvent | undefined;
  records: { type: string; data: Record<string, unknown> }[];
  setBbo(bid: number, ask: number): BboEvent;
}

export function makeCtx(instrument: InstrumentSpec = ETH, now = 1_700_000_000_000): TestCtx {
  const ctx: TestCtx = {
    pos: 0,
    now,
    lastBbo: undefined,
    records: [],
    clock: { now: () => ctx.now },
    instrument,
    book: undefined,
    get bbo() {
      return ctx.lastBbo;
    },
    position: () => ctx.pos,
    inventoryLots: () => Math.round(ctx.pos / instrument.lotSize),
    openOrders: () => ({ bid: 0, ask: 0 }),
    log: () => {},
    record: (type, data) => {
      ctx.records.push({ type, data });
    },
    setBbo(bid: number, ask: number) {
      ctx.lastBbo = {
        kind: 'bbo',
        coin: instrument.coin,
        exTime: ctx.now,
        rxTime: ctx.now,
        bidPx: bid,
        bidSz: 1,
        askPx: ask,
        askSz: 1,
      };
      return ctx.lastBbo;
    },
  };
  return ctx;
}
