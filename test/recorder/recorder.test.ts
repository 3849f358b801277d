/**
 * Recorder end to end against the loopback server:
 * - in-process, replaying the real seed-collector ETH recording at high speed, with a forced disconnect in the
 *   middle: the gap is stored, no trade is written twice, every trade outside the gap is in the store;
 * - `cjmm record` as a child process with a flush interval far longer than the run: everything it received is
 *   in the store after SIGTERM (the flush on stop), and it exits 0.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import type { Gap, MarketEvent, TradeEvent } from '../../src/marketdata/events.ts';
import { createRecorder } from '../../src/marketdata/recorder.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { openStore } from '../../src/marketdata/store/index.ts';
import { createMarketFeed } from '../../src/venue/hyperliquid/feed.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { REPO_ROOT, SEED_ETH, sharedSkip } from '../helpers/shared.ts';
import { waitFor } from '../helpers/wait.ts';
import { steadyMarket, T0 } from '../venue/fixtures.ts';

const tradesOf = (evs: MarketEvent[]) => evs.filter((e): e is TradeEvent => e.kind === 'trade');

describe('recorder end to end', () => {
  test('records a replay of real ETH data through a forced disconnect', { skip: sharedSkip }, async () => {
    // Two minutes of the seed recording (before its own 243 s gap), replayed at 40x ≈ 3 s.
    const from = Date.parse('2025-12-10T21:10:40Z');
    const src = await readSource(SEED_ETH, { coin: 'ETH', from, to: from + 120_000 });
    const sourceTrades = tradesOf(src.events);
    assert.ok(sourceTrades.length > 200, `seed window has ${sourceTrades.length} trades`);
    const dir = await mkdtemp(join(tmpdir(), 'cjmm-rec-'));
    const srv = await startLoopbackServer({
      events: src.events,
      coins: ['ETH'],
      speed: 40,
      autoStart: false,
    });
    const store = await openStore(dir);
    const written: MarketEvent[] = [];
    const writtenGaps: Gap[] = [];
    let feedReconnects = () => 0;
    const recorder = createRecorder({
      sink: {
        write: async (events, gaps) => {
          written.push(...events);
          writtenGaps.push(...(gaps ?? []));
          return store.write(events, gaps);
        },
      },
      flushIntervalMs: 500,
      statusIntervalMs: 60_000,
      makeFeed: (h) => {
        const feed = createMarketFeed({
          wsUrl: srv.wsUrl,
          coins: ['ETH'],
          channels: ['l2Book', 'trades', 'bbo'],
          staleAfterMs: 30_000,
          reconnectDelayMs: () => 100,
          ...h,
        });
        feedReconnects = () => feed.stats().reconnects;
        return feed;
      },
    });
    try {
      await recorder.start();
      srv.replay.start();
      const lastTrade = sourceTrades[sourceTrades.length - 1];
      // Drop every connection about a third of the way through the replay.
      await waitFor(() => srv.replay.now() > from + 40_000, 'replay progress');
      assert.equal(srv.faults.dropConnections(), 1);
      await waitFor(() => feedReconnects() >= 1, 'reconnect');
      await waitFor(() => srv.replay.ended, 'end of replay');
      await recorder.flush();
      await waitFor(
        () => written.some((e) => e.kind === 'trade' && e.tid === lastTrade.tid),
        'last trade recorded',
        5000,
      ).catch(() => undefined);
      await recorder.stop();

      const stored = await store.query({ coin: 'ETH', kinds: ['trade'] });
      const storedGaps = await store.gaps('ETH');
      assert.equal(writtenGaps.length, 1, JSON.stringify(writtenGaps));
      const gap = writtenGaps[0];
      assert.equal(gap.reason, 'disconnect');
      // The drop came after 40 s of replay; the client may trail the server by a few hundred ms of wall
      // time on a loaded machine, i.e. seconds of exchange time at 40×: the gap starts well past the first
      // quarter of the window, not at its start.
      assert.ok(gap.start > from + 15_000 && gap.end > gap.start, JSON.stringify(gap));
      assert.ok(
        storedGaps.some((g) => g.start === gap.start && g.end === gap.end),
        'the gap is in the store',
      );
      // No duplicates: neither in what the recorder wrote nor in the store.
      const writtenTids = tradesOf(written).map((t) => `${t.tid}:${t.exTime}`);
      assert.equal(new Set(writtenTids).size, writtenTids.length, 'recorder wrote a trade twice');
      const storedTrades = tradesOf(stored.events);
      assert.equal(new Set(storedTrades.map((t) => t.tid)).size, storedTrades.length);
      // No loss outside the gap, nothing invented.
      const have = new Map(storedTrades.map((t) => [t.tid, t]));
      const sourceByTid = new Map(sourceTrades.map((t) => [t.tid, t]));
      let outside = 0;
      for (const t of sourceTrades) {
        if (t.exTime >= gap.start && t.exTime <= gap.end) continue;
        outside++;
        const got = have.get(t.tid);
        assert.ok(got, `trade ${t.tid} at ${new Date(t.exTime).toISOString()} missing`);
        assert.deepEqual([got.px, got.sz, got.side, got.exTime], [t.px, t.sz, t.side, t.exTime]);
      }
      assert.ok(outside > 100);
      for (const t of storedTrades) assert.ok(sourceByTid.has(t.tid), `unknown trade ${t.tid}`);
      // Books and bbo outside the gap are all there too.
      const books = await store.query({ coin: 'ETH', kinds: ['book'] });
      const bookTimes = new Set(books.events.map((e) => e.exTime));
      for (const b of src.events) {
        if (b.kind === 'book' && (b.exTime < gap.start || b.exTime > gap.end)) {
          assert.ok(bookTimes.has(b.exTime), `book at ${b.exTime} missing`);
        }
      }
    } finally {
      await recorder.stop().catch(() => {});
      await store.close();
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('a failed store write is retried with the same data; a permanent one stops the recorder', async () => {
    const market = steadyMarket(4);
    const srv = await startLoopbackServer({ events: market, autoStart: false });
    const dir = await mkdtemp(join(tmpdir(), 'cjmm-rec-retry-'));
    const store = await openStore(dir);
    let calls = 0;
    let permanent = false;
    const fatal: unknown[] = [];
    const recorder = createRecorder({
      sink: {
        write: async (events, gaps) => {
          calls++;
          if (calls === 1) throw new Error('disk hiccup');
          if (permanent) throw new RangeError('store locked');
          return store.write(events, gaps);
        },
      },
      flushIntervalMs: 60_000,
      statusIntervalMs: 60_000,
      isPermanentWriteError: (err) => err instanceof RangeError,
      onFatal: (err) => fatal.push(err),
      makeFeed: (h) =>
        createMarketFeed({
          wsUrl: srv.wsUrl,
          coins: ['ETH'],
          channels: ['l2Book', 'trades', 'bbo'],
          staleAfterMs: 60_000,
          ...h,
        }),
    });
    try {
      await recorder.start();
      srv.replay.advanceTo(T0 + 2000);
      const firstHalf = market.filter((e) => e.exTime <= T0 + 2000);
      await waitFor(() => recorder.status().buffered >= firstHalf.length, 'first half buffered');
      await recorder.flush(); // fails: kept
      assert.equal(recorder.status().buffered, firstHalf.length);
      assert.equal(recorder.status().written, 0);
      srv.replay.advanceTo(T0 + 4000);
      await waitFor(() => recorder.status().buffered >= market.length, 'all buffered');
      await recorder.flush(); // succeeds: everything, once
      assert.equal(recorder.status().written, market.length);
      const stored = await store.query({ coin: 'ETH' });
      assert.equal(stored.events.length, market.length);
      permanent = true;
      srv.replay.advanceTo(T0 + 10_000);
      await recorder.flush();
      assert.equal(fatal.length, 0, 'nothing new to write yet is not an error');
      srv.faults.injectMessage(
        JSON.stringify({
          channel: 'trades',
          data: [
            {
              coin: 'ETH',
              side: 'B',
              px: '3350.2',
              sz: '0.1',
              time: T0 + 9000,
              hash: '0x0',
              tid: 42,
              users: ['0x0', '0x0'],
            },
          ],
        }),
      );
      await waitFor(() => recorder.status().buffered >= 1, 'injected trade');
      await recorder.flush();
      assert.equal(fatal.length, 1);
      assert.ok(fatal[0] instanceof RangeError);
    } finally {
      await recorder.stop().catch(() => {});
      await store.close();
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test('cjmm record flushes everything on SIGTERM and exits 0', async () => {
    const market = steadyMarket(120);
    const srv = await startLoopbackServer({ events: market, speed: 1 });
    const dir = await mkdtemp(join(tmpdir(), 'cjmm-rec-term-'));
    try {
      const child = spawn(
        process.execPath,
        [
          join(REPO_ROOT, 'src', 'cli', 'main.ts'),
          'record',
          '--coins',
          'ETH',
          '--store',
          dir,
          '--http-url',
          srv.httpUrl,
          '--ws-url',
          srv.wsUrl,
          '--flush-interval',
          '600',
          '--status-interval',
          '600',
        ],
        { stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let stderr = '';
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      await waitFor(
        () => stderr.includes('recording (SIGINT/SIGTERM to stop)'),
        `recorder start; stderr: ${stderr}`,
      );
      // Let a few trades through (one every 250 ms), then stop it.
      const startedAt = srv.replay.now();
      await waitFor(() => srv.replay.now() > startedAt + 1500, 'some data');
      child.kill('SIGTERM');
      const code = await exited;
      assert.equal(code, 0, stderr);
      assert.match(stderr, /stopped cleanly/);

      const store = await openStore(dir);
      try {
        const trades = tradesOf((await store.query({ coin: 'ETH', kinds: ['trade'] })).events);
        assert.ok(trades.length >= 3, `only ${trades.length} trades stored`);
        // Everything between the first and the last stored trade is there: nothing lost at the stop.
        const first = trades[0].exTime;
        const last = trades[trades.length - 1].exTime;
        const expected = tradesOf(market).filter((t) => t.exTime >= first && t.exTime <= last);
        assert.deepEqual(
          trades.map((t) => t.tid),
          expected.map((t) => t.tid),
        );
        const books = (await store.query({ coin: 'ETH', kinds: ['book'] })).events;
        assert.ok(books.length > 5);
        assert.ok(books[0].exTime >= T0);
      } finally {
        await store.close();
      }
    } finally {
      await srv.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
