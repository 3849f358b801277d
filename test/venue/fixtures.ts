/** Synthetic ETH market for loopback-server tests: a book, a bbo and trades at known prices and times. */
import type { BboEvent, BookEvent, MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';

export const T0 = Date.UTC(2025, 11, 10, 21, 10, 0);

export function book(exTime: number, bid = 3350.1, ask = 3350.2, coin = 'ETH'): BookEvent {
  const bids = [0, 1, 2].map((i) => ({ px: Number((bid - 0.1 * i).toFixed(1)), sz: 5 + i, n: 3 }));
  const asks = [0, 1, 2].map((i) => ({ px: Number((ask + 0.1 * i).toFixed(1)), sz: 4 + i, n: 2 }));
  return { kind: 'book', coin, exTime, rxTime: exTime + 5, bids, asks };
}

export function bbo(exTime: number, bidPx = 3350.1, askPx = 3350.2, coin = 'ETH'): BboEvent {
  return { kind: 'bbo', coin, exTime, rxTime: exTime + 5, bidPx, bidSz: 5, askPx, askSz: 4 };
}

export function trade(
  exTime: number,
  tid: number,
  px: number,
  sz: number,
  side: 'buy' | 'sell',
  coin = 'ETH',
): TradeEvent {
  return { kind: 'trade', coin, exTime, rxTime: exTime + 5, px, sz, side, tid };
}

/** A steady market: a book + bbo every 100 ms and a trade every 250 ms, for `seconds` seconds from T0. */
export function steadyMarket(seconds: number, coin = 'ETH'): MarketEvent[] {
  const out: MarketEvent[] = [];
  let tid = 1_000_000;
  for (let t = 0; t < seconds * 1000; t += 100) {
    out.push(book(T0 + t, 3350.1, 3350.2, coin), bbo(T0 + t, 3350.1, 3350.2, coin));
    if (t % 250 === 0)
      out.push(
        trade(T0 + t + 1, tid++, t % 500 === 0 ? 3350.2 : 3350.1, 0.5, t % 500 === 0 ? 'buy' : 'sell', coin),
      );
  }
  return out;
}
