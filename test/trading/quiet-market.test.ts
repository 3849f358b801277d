/**
 * Quiet markets: staleness is about the book, never trades. The shared ETH recording with every trade removed
 * from a 60 s window (books and bbo untouched: a real 60 s spell without a trade, as thin coins have all the
 * time) is replayed at REAL speed through the loopback server to a paper session: the feed must not reconnect,
 * no gap or stale event may be journalled, and the quotes must keep resting through the quiet spell (no pull,
 * no re-place caused by it).
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, test } from 'node:test';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { parseTradingConfig } from '../../src/trading/config.ts';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { runTradingSession } from '../../src/trading/session.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const dir = mkdtempSync(join(tmpdir(), 'cjmm-quiet-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const LEAD_MS = 8_000;
const QUIET_MS = 60_000;
const TAIL_MS = 6_000;

test('a real 60 s spell without trades, replayed at real speed: no reconnect, no gap, no stale, quotes stay', {
  skip: sharedSkip,
  timeout: 180_000,
}, async () => {
  const all = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
  const start = all[0].exTime + 20_000;
  const quietFrom = start + LEAD_MS;
  const quietTo = quietFrom + QUIET_MS;
  const events: MarketEvent[] = all.filter(
    (e) => !(e.kind === 'trade' && e.exTime >= quietFrom && e.exTime < quietTo),
  );
  const removed = all.length - events.length;
  assert.ok(removed > 50, `the window really had trades to remove (${removed})`);
  // Books keep flowing through the window (the recording's book cadence, ~0.5 s).
  const books = events.filter((e) => e.kind !== 'trade' && e.exTime >= quietFrom && e.exTime < quietTo);
  assert.ok(books.length > QUIET_MS / 1000, `books in the quiet window: ${books.length}`);

  const server = await startLoopbackServer({
    events,
    coins: ['ETH'],
    speed: 1,
    port: 0,
    startAt: start,
    shiftToNow: true,
  });
  const journal = join(dir, 'quiet.sqlite');
  const samples: { at: number; state: string }[] = [];
  let reconnects = -1;
  let staleEvents = -1;
  try {
    const quiet = new Writable({ write: (_c, _e, cb) => cb() });
    const s = await runTradingSession({
      config: parseTradingConfig({
        coin: 'ETH',
        orderSize: 0.01,
        maxPosition: 3,
        network: 'loopback',
        httpUrl: server.httpUrl,
        wsUrl: server.wsUrl,
        journal,
        // Wide, fixed quotes: they rest through the window unless something pulls them.
        strategy: { strategy: 'fixed', halfSpreadBps: 25 },
        statusIntervalSec: 5,
        orderTimeoutMs: 600_000,
        risk: { staleMs: 5000 },
      }),
      logger: createTradingLogger('info', quiet),
      onStatus: () => {},
      paperLatencyMs: 20,
      durationMs: LEAD_MS + QUIET_MS + TAIL_MS,
      onStarted: (r) => {
        const t = setInterval(() => {
          const now = Date.now();
          samples.push({ at: now, state: r.engine.quotingState(now) });
          const st = r.feedStats();
          if (st) {
            reconnects = st.reconnects;
            staleEvents = st.staleEvents;
          }
        }, 500);
        r.journal.record({ type: 'risk', rxTime: Date.now(), data: { event: 'test-started' } });
        setTimeout(() => clearInterval(t), LEAD_MS + QUIET_MS + TAIL_MS - 500);
      },
    });
    assert.equal(s.restingAfterStop, 0);
    assert.equal(reconnects, 0, 'the feed never reconnected');
    assert.equal(staleEvents, 0, 'the feed never found the book stale');
    // Quotes rested through the quiet spell (allow the first second for the first acks).
    const inWindow = samples.slice(4);
    assert.ok(inWindow.length > 100, `${inWindow.length} samples`);
    const notQuoting = inWindow.filter((x) => x.state !== 'quoting');
    assert.deepEqual(notQuoting, [], 'quoting at every sample');
    const j = openExistingJournal(journal);
    try {
      const risk = j.history({ type: 'risk', limit: 1000 }).map((r) => (r.data as { event?: string }).event);
      assert.ok(!risk.includes('gap'), `no gap journalled: ${risk.join(', ')}`);
      assert.ok(!risk.includes('stale'), `no stale journalled: ${risk.join(', ')}`);
      const pulls = j
        .history({ type: 'cancel', limit: 10_000 })
        .filter((r) => (r.data as { reason?: string }).reason === 'not wanted');
      assert.equal(pulls.length, 0, 'no quote pulled');
    } finally {
      j.close();
    }
  } finally {
    await server.close();
  }
});
