/**
 * Throttled mode against an exchange that applies mainnet's address-budget rule (an account whose cumulative
 * budget is used up: one request admitted 10 s after the last admitted one, every other refused whole with
 * "Too many cumulative requests sent"). The real HyperliquidVenue, real signing, a stub transport: an eager
 * "engine" asks for a new order or a re-price every 100 ms for 25 s. Expected: the venue reads userRateLimit
 * at start, says THROTTLED once, sends at most one order/modify per 10 s slot (counted at the exchange), gets
 * (almost) no refusals — no tight loop — and a cancel asked for while a re-price waits goes first.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { IRequestTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { VenueReport } from '../../src/engine/types.ts';
import { HyperliquidVenue } from '../../src/venue/hyperliquid/execution/venue.ts';

const USER = privateKeyToAccount(generatePrivateKey()).address;

/** A stub exchange with mainnet's rule for an exhausted address budget (cancels under their own cap). */
class ExhaustedExchange implements IRequestTransport {
  readonly isTestnet = false;
  readonly log: { at: number; type: string; admitted: boolean }[] = [];
  private lastAdmitted = Number.NEGATIVE_INFINITY;
  private oid = 100;
  rateLimitReads = 0;
  async request<T>(endpoint: 'info' | 'exchange', payload: unknown): Promise<T> {
    const p = payload as {
      type?: string;
      action?: { type: string; orders?: unknown[]; modifies?: unknown[]; cancels?: unknown[] };
    };
    if (endpoint === 'info') {
      switch (p.type) {
        case 'userRateLimit':
          this.rateLimitReads++;
          return { cumVlm: '0.0', nRequestsUsed: 10_000, nRequestsCap: 10_000, nRequestsSurplus: 0 } as T;
        case 'openOrders':
          return [] as T;
        case 'clearinghouseState':
          return {
            marginSummary: {
              accountValue: '1000',
              totalNtlPos: '0',
              totalRawUsd: '1000',
              totalMarginUsed: '0',
            },
            crossMarginSummary: {
              accountValue: '1000',
              totalNtlPos: '0',
              totalRawUsd: '1000',
              totalMarginUsed: '0',
            },
            crossMaintenanceMarginUsed: '0',
            withdrawable: '1000',
            assetPositions: [],
            time: Date.now(),
          } as T;
        case 'orderStatus':
          return { status: 'unknownOid' } as T;
        default:
          throw new Error(`stub: info ${p.type}`);
      }
    }
    const a = p.action as { type: string; orders?: unknown[]; modifies?: unknown[]; cancels?: unknown[] };
    const now = Date.now();
    const isCancel = a.type === 'cancel' || a.type === 'cancelByCloid';
    // Order budget exhausted; cancels have their own, larger cap (not reached here).
    const admitted = isCancel || now - this.lastAdmitted >= 10_000;
    this.log.push({ at: now, type: a.type, admitted });
    if (!admitted) {
      return {
        status: 'err',
        response:
          'Too many cumulative requests sent (10001 > 9999) for cumulative volume traded $0. Place taker orders to free up 1 request per USDC traded.',
      } as T;
    }
    this.lastAdmitted = now;
    const n = (a.orders ?? a.modifies ?? a.cancels ?? []).length;
    const statuses = isCancel
      ? Array.from({ length: n }, () => 'success')
      : Array.from({ length: n }, () => ({ resting: { oid: this.oid++ } }));
    return {
      status: 'ok',
      response: { type: a.type === 'batchModify' ? 'batchModify' : a.type, data: { statuses } },
    } as T;
  }
}

test('throttled mode: one order/modify per 10 s, cancels first, logged once, no tight loop', {
  timeout: 60_000,
}, async () => {
  const ex = new ExhaustedExchange();
  const warnings: string[] = [];
  const logger = {
    info() {},
    debug() {},
    error() {},
    warn: (_o: Record<string, unknown>, msg?: string) => void warnings.push(msg ?? ''),
  };
  const account = privateKeyToAccount(generatePrivateKey());
  const throttles: boolean[] = [];
  const venue = new HyperliquidVenue({
    httpUrl: 'http://stub',
    wsUrl: 'ws://stub',
    signer: { address: account.address, account },
    masterAddress: USER,
    assets: [{ coin: 'ETH', asset: 1, szDecimals: 4 }],
    transport: ex,
    noStreams: true,
    reconcileIntervalMs: 0,
    rate: { actionsPerSecond: 100 },
    logger,
    onThrottle: (t) => throttles.push(t),
  });
  const reports: VenueReport[] = [];
  venue.setReportListener((r) => reports.push(r));
  await venue.start();
  assert.equal(ex.rateLimitReads, 1, 'userRateLimit read at start');
  assert.deepEqual(throttles, [true], 'throttled from the exchange’s own count');
  assert.equal(venue.requestBudget.throttled, true);

  // An eager engine: every 100 ms, a new order if none is live, else a re-price of it (one in flight at a time).
  let n = 0;
  const cloid = () => `0x${(++n).toString(16).padStart(32, '0')}`;
  let live: string | undefined;
  let pending = false;
  let cancelAskedAt = 0;
  let cancelCloid = '';
  const t0 = Date.now();
  await new Promise<void>((resolve) => {
    const timer = setInterval(() => {
      const now = Date.now();
      for (const r of reports.splice(0)) {
        if (r.kind === 'order' && r.state === 'open') {
          live = r.cloid;
          pending = false;
        } else if (
          r.kind === 'order' &&
          (r.state === 'rejected' || r.state === 'canceled') &&
          r.cloid === live
        ) {
          live = undefined;
        } else if (r.kind === 'order' && r.state === 'rejected') pending = false;
      }
      if (now - t0 > 25_000) {
        clearInterval(timer);
        resolve();
        return;
      }
      // At ~14 s, with a re-price waiting for its slot, cancel the live order: it must not wait.
      if (!cancelAskedAt && now - t0 > 14_000 && live && pending) {
        cancelAskedAt = now;
        cancelCloid = live;
        venue.cancel([{ coin: 'ETH', cloid: live }]);
        return;
      }
      if (pending) return;
      pending = true;
      const px = 3000 + ((now / 100) % 10);
      if (!live) venue.place([{ cloid: cloid(), coin: 'ETH', side: 'bid', px, sz: 0.01, tif: 'Alo' }]);
      else venue.modify([{ coin: 'ETH', cloid: live, newCloid: cloid(), px, sz: 0.01 }]);
    }, 100);
  });
  await venue.stop();

  const window = ex.log.filter((x) => x.at >= t0 && x.at <= t0 + 25_000);
  const places = window.filter((x) => x.type !== 'cancel' && x.type !== 'cancelByCloid');
  const admitted = places.filter((x) => x.admitted);
  const refused = places.filter((x) => !x.admitted);
  console.log(
    `throttled 25 s: ${places.length} order/modify requests reached the exchange (${admitted.length} admitted, ${refused.length} refused), ` +
      `${window.length - places.length} cancels; unthrottled this eager loop would send ~250`,
  );
  // One slot per 10 s over 25 s: at most 3 admitted; the venue paces itself, so refusals stay rare.
  assert.ok(admitted.length >= 2 && admitted.length <= 3, `admitted ${admitted.length}`);
  assert.ok(refused.length <= 1, `refused ${refused.length}: no tight loop`);
  for (let i = 1; i < admitted.length; i++) {
    assert.ok(admitted[i].at - admitted[i - 1].at >= 10_000, 'admitted ≥ 10 s apart');
  }
  const cancel = ex.log.find(
    (x) => (x.type === 'cancelByCloid' || x.type === 'cancel') && x.at >= cancelAskedAt,
  );
  assert.ok(cancelAskedAt > 0 && cancel, 'the cancel was sent');
  assert.ok(
    cancel.at - cancelAskedAt < 2_000,
    `the cancel went first (${cancel.at - cancelAskedAt} ms), not after the waiting re-price`,
  );
  assert.ok(cancelCloid);
  assert.equal(warnings.filter((w) => /THROTTLED/.test(w)).length, 1, 'said once');
});
