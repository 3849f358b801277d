/**
 * The P&L attribution module against hand numbers and against a brute-force recomputation of each term from
 * its definition (full price history, every fill's reference at the fill and at the end of its horizon).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { attributionTotal, PnlAttribution, PortfolioAttribution } from '../../src/engine/attribution.ts';
import { Portfolio } from '../../src/engine/portfolio.ts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { MicropriceSettingsSchema } from '../../src/strategies/config.ts';
import { ReferenceAttributionModel } from '../../src/strategies/reference.ts';
import { Rng } from '../../src/util/rng.ts';

const close = (a: number, b: number, what: string, tol = 1e-9) =>
  assert.ok(Math.abs(a - b) <= tol, `${what}: ${a} ≠ ${b}`);

test('hand example: spread, adverse over the horizon, carry of the seasoned position, fees, funding', () => {
  const a = new PnlAttribution({ horizonMs: 1000 });
  a.onPrice(0, 100);
  a.onFill(100, 'bid', 99.9, 2, 0.03); // spread 2·0.1 = 0.2; horizon ends at 1100
  a.onPrice(500, 100.2);
  a.onFill(600, 'ask', 100.4, 1, -0.01); // spread 1·(100.4−100.2) = 0.2 (a rebate: fees +0.01); ends 1600
  a.onPrice(1200, 99.5); // F1 settled at the price in force at 1100: 100.2 → adverse 2·0.2 = 0.4
  a.onFunding(1300, -0.05);
  a.onPrice(2000, 99.0); // F2 settled at 99.5 (in force at 1600) → adverse −1·(99.5−100.2) = 0.7
  const f = a.figures();
  close(f.spreadCapture, 0.4, 'spread');
  close(f.adverseSelection, 0.4 + 0.7, 'adverse');
  // carry: F1 2·(99.0 − 100.2) = −2.4, F2 −1·(99.0 − 99.5) = +0.5
  close(f.inventoryCarry, -1.9, 'carry');
  close(a.inventoryCarryDirect(), -1.9, 'carry from its definition');
  close(f.fees, -0.02, 'fees (paid 0.03, rebate 0.01)');
  close(f.funding, -0.05, 'funding');
  // net = cash + q·M + funding = (−199.8 − 0.03 + 100.4 + 0.01) + 1·99.0 − 0.05
  close(a.netPnl(), -199.8 - 0.03 + 100.4 + 0.01 + 99.0 - 0.05, 'net');
  close(attributionTotal(f), a.netPnl(), 'sum = net', 1e-12);
});

test('an unsettled fill: adverse so far is the move since the fill, and nothing is carried yet', () => {
  const a = new PnlAttribution({ horizonMs: 5000 });
  a.onPrice(0, 50);
  a.onFill(10, 'ask', 50.05, 1, 0);
  a.onPrice(20, 50.2, 50.1); // reference 50.2, mark 50.1
  const f = a.figures();
  close(f.spreadCapture, 0.05, 'spread');
  close(f.adverseSelection, -0.2, 'adverse so far');
  // carry = Q·(M − R) for the unseasoned part: −1·(50.1 − 50.2)
  close(f.inventoryCarry, 0.1, 'carry = reference vs mark');
  close(a.inventoryCarryDirect(), 0.1, 'carry direct');
  close(a.netPnl(), 50.05 - 50.1, 'net');
});

test('late fills (paper/live) take the reference in force at their time from the history', () => {
  const a = new PnlAttribution({ horizonMs: 100, historyMs: 60_000 });
  a.onPrice(0, 10);
  a.onPrice(50, 11);
  a.onPrice(200, 12);
  a.onPrice(300, 13);
  // Reported at 300 but executed at 60 (reference 11) with a horizon ending at 160 (still 11).
  a.onFill(60, 'bid', 10.5, 1, 0);
  // Executed at 250 (reference 12), horizon ends at 350: not yet passed at 300.
  a.onFill(250, 'bid', 11.5, 1, 0);
  let f = a.figures();
  close(f.spreadCapture, 0.5 + 0.5, 'spread at the fills’ references');
  close(f.adverseSelection, 0 + (13 - 12), 'adverse');
  a.onPrice(400, 14);
  f = a.figures();
  close(f.adverseSelection, 0 + (13 - 12), 'adverse settled at 350 (13)');
  close(f.inventoryCarry, 14 - 11 + (14 - 13), 'carry');
  close(a.inventoryCarryDirect(), f.inventoryCarry, 'carry direct');
  assert.equal(a.referenceAt(199), 11);
  assert.equal(a.referenceAt(200), 12);
});

test('a position adopted without a fill is carried from its booking price', () => {
  const a = new PnlAttribution({ horizonMs: 1000 });
  a.onPrice(0, 200);
  a.adjust(0.5, -0.5 * 200); // resumed +0.5 at 200
  a.onPrice(10, 204);
  const f = a.figures();
  close(f.inventoryCarry, 2, 'carry of the adopted position');
  close(a.inventoryCarryDirect(), 2, 'carry direct');
  assert.equal(f.spreadCapture, 0);
  close(a.netPnl(), 2, 'net');
});

test('property: random tapes with late fills — each term equals its brute-force definition, sum = net', () => {
  const rng = new Rng(7);
  for (let run = 0; run < 30; run++) {
    const h = [0, 50, 400, 2000][run % 4];
    const a = new PnlAttribution({ horizonMs: h, historyMs: 1e9 });
    const prices: { t: number; r: number; m: number }[] = [];
    const fills: { t: number; s: number; px: number; fee: number }[] = [];
    let t = 0;
    let r = 100;
    let m = 100;
    let funding = 0;
    a.onPrice(t, r, m);
    prices.push({ t, r, m });
    for (let k = 0; k < 300; k++) {
      t += Math.floor(rng.uniform() * 100);
      const u = rng.uniform();
      if (u < 0.5) {
        r = Math.round((r + (rng.uniform() - 0.5)) * 100) / 100;
        m = Math.round((r + (rng.uniform() - 0.5) * 0.2) * 100) / 100;
        a.onPrice(t, r, m);
        prices.push({ t, r, m });
      } else if (u < 0.95) {
        // Up to 300 ms late.
        const ft = Math.max(0, t - Math.floor(rng.uniform() * 300));
        const s = (rng.uniform() < 0.5 ? -1 : 1) * Math.ceil(rng.uniform() * 3);
        const px = Math.round((r + (rng.uniform() - 0.5)) * 100) / 100;
        const fee = Math.abs(s) * px * 0.00015;
        a.onFill(ft, s > 0 ? 'bid' : 'ask', px, Math.abs(s), fee);
        fills.push({ t: ft, s, px, fee });
      } else {
        const x = (rng.uniform() - 0.5) * 0.1;
        a.onFunding(t, x);
        funding += x;
      }
    }
    const refAt = (x: number) => {
      let v = prices[0].r;
      for (const p of prices) if (p.t <= x) v = p.r;
      return v;
    };
    const now = t;
    const M = prices[prices.length - 1].m;
    let spread = 0;
    let adverse = 0;
    let carry = 0;
    let fees = 0;
    let cash = 0;
    let q = 0;
    for (const f of fills) {
      const rf = refAt(f.t);
      const rt = refAt(Math.min(f.t + h, now));
      spread += f.s * (rf - f.px);
      adverse += f.s * (rt - rf);
      carry += f.s * (M - rt);
      fees -= f.fee;
      cash -= f.s * f.px + f.fee;
      q += f.s;
    }
    const got = a.figures();
    close(got.spreadCapture, spread, `run ${run} spread`, 1e-8);
    close(got.adverseSelection, adverse, `run ${run} adverse`, 1e-8);
    close(got.inventoryCarry, carry, `run ${run} carry`, 1e-8);
    close(a.inventoryCarryDirect(), carry, `run ${run} carry direct`, 1e-8);
    close(got.fees, fees, `run ${run} fees`, 1e-9);
    close(got.funding, funding, `run ${run} funding`, 1e-12);
    close(a.netPnl(), cash + q * M + funding, `run ${run} net`, 1e-8);
    close(attributionTotal(got), a.netPnl(), `run ${run} sum = net`, 1e-12);
  }
});

test('PortfolioAttribution follows an engine portfolio: de-duplicated fills, funding, adopted positions', () => {
  const pf = new Portfolio(1000);
  const pa = new PortfolioAttribution(pf, { horizonMs: 1000 });
  const fill = (tid: number, side: 'bid' | 'ask', px: number, sz: number, exTime: number) => ({
    kind: 'fill' as const,
    cloid: `0x${tid}`,
    coin: 'X',
    side,
    px,
    sz,
    fee: px * sz * 0.0001,
    liquidity: 'maker' as const,
    tid,
    exTime,
    rxTime: exTime + 300,
  });
  pa.onMarket(0, 100);
  pf.applyFill(fill(1, 'bid', 99.9, 1, 100));
  pf.applyFill(fill(1, 'bid', 99.9, 1, 100)); // duplicate: ignored by the portfolio, so by the attribution
  pa.onMarket(200, 100.5);
  // A fill reported after the price at 200, executed at 150 (reference 100).
  pf.applyFill(fill(2, 'ask', 100.2, 0.5, 150));
  pf.applyFunding(-0.01);
  pa.onMarket(2000, 101);
  // Restart-style adoption of +2 at the mark 101 (cash −202).
  pf.position += 2;
  pf.cash -= 2 * 101;
  pa.onMarket(3000, 102);
  const f = pa.figures(102);
  close(f.spreadCapture, 1 * (100 - 99.9) - 0.5 * (100 - 100.2), 'spread');
  // Horizons end at 1100 (100.5) and 1150 (100.5).
  close(f.adverseSelection, 1 * (100.5 - 100) - 0.5 * (100.5 - 100), 'adverse');
  close(f.funding, -0.01, 'funding');
  close(f.fees, -(99.9 * 0.0001 + 100.2 * 0.5 * 0.0001), 'fees');
  // carry: the fills from 100.5 to 102, the adopted 2 from 101 to 102.
  close(f.inventoryCarry, 1 * (102 - 100.5) - 0.5 * (102 - 100.5) + 2 * (102 - 101), 'carry');
  close(pa.attribution.inventoryCarryDirect(), f.inventoryCarry, 'carry direct');
  close(attributionTotal(f), pf.netPnl(102), 'sum = the portfolio net P&L', 1e-12);
});

test('PortfolioAttribution with the strategy’s reference (paper/live): measured against it, marked at the mid', () => {
  const pf = new Portfolio(1000);
  const reference = new ReferenceAttributionModel('weighted-mid', MicropriceSettingsSchema.parse({}), 0.1);
  const pa = new PortfolioAttribution(pf, { horizonMs: 1000, reference });
  const mid = new PortfolioAttribution(pf, { horizonMs: 1000 });
  assert.equal(pa.referenceName, 'weighted-mid');
  assert.equal(mid.referenceName, 'mid');
  const base = { coin: 'X', rxTime: 0 };
  const bbo = (exTime: number, bidPx: number, bidSz: number, askPx: number, askSz: number): MarketEvent => ({
    kind: 'bbo',
    ...base,
    exTime,
    bidPx,
    bidSz,
    askPx,
    askSz,
  });
  const book = (exTime: number, b: [number, number], a: [number, number]): MarketEvent => ({
    kind: 'book',
    ...base,
    exTime,
    bids: [{ px: b[0], sz: b[1], n: 1 }],
    asks: [{ px: a[0], sz: a[1], n: 1 }],
  });
  // Weighted mid I·ask + (1 − I)·bid, I = Q_bid/(Q_bid + Q_ask).
  const wm = (bid: number, bq: number, ask: number, aq: number) => (bq * ask + aq * bid) / (bq + aq);
  const feed = (ev: MarketEvent, m: number) => {
    pa.onEvent(ev, m);
    mid.onEvent(ev, m);
  };
  feed(bbo(0, 100, 3, 100.1, 1), 100.05); // R = 100.075
  pf.applyFill({
    kind: 'fill',
    cloid: '0x1',
    coin: 'X',
    side: 'bid',
    px: 100,
    sz: 2,
    fee: 0.02,
    liquidity: 'maker',
    tid: 1,
    exTime: 100,
    rxTime: 150,
  });
  // A book snapshot older than the bbo is not the top; a newer one is.
  feed(book(50, [99, 1], [101, 1]), 100.05);
  feed(book(600, [100, 1], [100.1, 3]), 100.05); // R = 100.025 (ask-heavy)
  feed({ kind: 'trade', ...base, exTime: 700, px: 100.1, sz: 1, side: 'buy', tid: 9 } as MarketEvent, 100.05);
  feed(bbo(1500, 100.1, 1, 100.2, 1), 100.15); // R = mid = 100.15
  const f = pa.figures(100.15);
  const r0 = wm(100, 3, 100.1, 1);
  const r1 = wm(100, 1, 100.1, 3);
  close(f.spreadCapture, 2 * (r0 - 100), 'spread vs the weighted mid at the fill');
  // The horizon ends at 1100: the reference in force then is the book at 600.
  close(f.adverseSelection, 2 * (r1 - r0), 'adverse: the reference over the horizon');
  close(f.inventoryCarry, 2 * (100.15 - r1), 'carry to the mark (the mid)');
  close(attributionTotal(f), pf.netPnl(100.15), 'sum = net P&L (marked at the mid)', 1e-12);
  // Against the mid: the same net P&L, split differently.
  const g = mid.figures(100.15);
  close(g.spreadCapture, 2 * (100.05 - 100), 'spread vs the mid');
  close(attributionTotal(g), attributionTotal(f), 'same net', 1e-12);
  // Without a model, onEvent(ev, mid) is onMarket(exTime, mid).
  const pf2 = new Portfolio(1000);
  const a1 = new PortfolioAttribution(pf2);
  a1.onEvent(bbo(5, 1, 1, 3, 1), 2);
  assert.equal(a1.attribution.reference, 2);
});
