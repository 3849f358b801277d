import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Portfolio } from '../../src/engine/portfolio.ts';
import type { Fill, OrderSide } from '../../src/engine/types.ts';

const close = (a: number, b: number, msg?: string) =>
  assert.ok(Math.abs(a - b) < 1e-9, `${msg ?? ''} ${a} vs ${b}`);

function fill(tid: number, side: OrderSide, px: number, sz: number, fee: number, cloid = `c${tid}`): Fill {
  return {
    kind: 'fill',
    cloid,
    coin: 'ETH',
    side,
    px,
    sz,
    fee,
    liquidity: 'maker',
    tid,
    exTime: tid,
    rxTime: tid,
  };
}

test('average-cost accounting equals a hand computation, fill by fill', () => {
  const p = new Portfolio(1000);
  // 1. buy 2 @ 100, fee 0.03
  p.applyFill(fill(1, 'bid', 100, 2, 0.03));
  close(p.position, 2);
  close(p.avgEntryPx, 100);
  close(p.cash, -200.03);
  close(p.realisedPnl, 0);
  // 2. buy 1 @ 103: average (2·100 + 103)/3 = 101
  p.applyFill(fill(2, 'bid', 103, 1, 0.0155));
  close(p.avgEntryPx, 101);
  close(p.cash, -303.0455);
  // 3. sell 2 @ 104: realise 2·(104 − 101) = 6, average unchanged
  p.applyFill(fill(3, 'ask', 104, 2, 0.0312));
  close(p.position, 1);
  close(p.realisedPnl, 6);
  close(p.avgEntryPx, 101);
  close(p.cash, -95.0767);
  // 4. sell 3 @ 99 with a rebate: closes 1 (−2 realised), flips to −2 opened at 99
  p.applyFill(fill(4, 'ask', 99, 3, -0.01));
  close(p.position, -2);
  close(p.realisedPnl, 4);
  close(p.avgEntryPx, 99);
  close(p.cash, 201.9333);
  close(p.feesPaid, 0.0667);
  // mark 98: unrealised −2·(98 − 99) = 2; equity = start + realised + unrealised − fees
  close(p.unrealisedPnl(98), 2);
  close(p.equity(98), 1000 + 4 + 2 - 0.0667);
  // 5. buy 2 @ 97 closes the short: realise 2·(99 − 97) = 4
  p.applyFill(fill(5, 'bid', 97, 2, 0));
  assert.equal(p.position, 0);
  assert.ok(Number.isNaN(p.avgEntryPx));
  close(p.realisedPnl, 8);
  close(p.cash, 7.9333);
  close(p.netPnl(1234), 8 - 0.0667, 'flat: net P&L does not depend on the mark');
  close(p.volume, 200 + 103 + 208 + 297 + 194);
  assert.equal(p.fills.length, 5);
});

test('a duplicate fill (same cloid and tid) is counted once; same tid on another order is not a duplicate', () => {
  const p = new Portfolio(0);
  assert.equal(p.applyFill(fill(7, 'bid', 50, 1, 0.01, 'a')), true);
  assert.equal(p.applyFill(fill(7, 'bid', 50, 1, 0.01, 'a')), false);
  close(p.position, 1);
  close(p.cash, -50.01);
  assert.equal(p.duplicateFills, 1);
  assert.equal(p.applyFill(fill(7, 'ask', 50, 1, 0.01, 'b')), true);
  assert.equal(p.position, 0);
});

test('equity peak and drawdown follow the marks', () => {
  const p = new Portfolio(1000);
  p.applyFill(fill(1, 'bid', 100, 1, 0));
  p.mark(110); // equity 1010
  close(p.equityPeak, 1010);
  p.mark(95); // equity 995
  close(p.drawdown(95), 15);
  close(p.equityPeak, 1010);
});

test('sums of lot sizes stay exact (no float residue position)', () => {
  const p = new Portfolio(0);
  for (let i = 0; i < 10; i++) p.applyFill(fill(i, 'bid', 3000.1, 0.1, 0));
  for (let i = 10; i < 20; i++) p.applyFill(fill(i, 'ask', 3000.1, 0.1, 0));
  assert.equal(p.position, 0);
  close(p.realisedPnl, 0);
});
