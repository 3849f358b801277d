/**
 * Paper and live sessions end to end against the loopback Hyperliquid server replaying the real ETH
 * recording (real feed, real execution adapter, real signatures), with fault injection. Invariants checked
 * throughout by the session itself (|position| + in-flight ≤ limit) and here against the server's books.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import type { MarketEvent } from '../../src/marketdata/events.ts';
import { readSource } from '../../src/marketdata/source.ts';
import { parseTradingConfig, type TradingConfigInput } from '../../src/trading/config.ts';
import { openExistingJournal } from '../../src/trading/journal.ts';
import { formatStatus } from '../../src/trading/journal-report.ts';
import { agentKeyFromHex } from '../../src/trading/keys.ts';
import { createTradingLogger } from '../../src/trading/logger.ts';
import { type RunningSession, runTradingSession } from '../../src/trading/session.ts';
import { startLoopbackServer } from '../../src/venue/loopback/server.ts';
import { REPO_ROOT, SEED_ETH, sharedSkip } from '../helpers/shared.ts';

const ALO_ERROR = 'Post only order would have immediately matched, bbo was 3330.8@3330.9. asset=1';
const dir = mkdtempSync(join(tmpdir(), 'cjmm-session-'));
let events: MarketEvent[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function wallet() {
  const key = generatePrivateKey();
  const agent = agentKeyFromHex(key, 'test key');
  const master = privateKeyToAccount(generatePrivateKey()).address.toLowerCase() as `0x${string}`;
  return { key, agent, master };
}

function logSink() {
  const lines: string[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      lines.push(String(c));
      cb();
    },
  });
  return { lines, logger: createTradingLogger('info', sink) };
}

function config(over: Partial<TradingConfigInput> & { httpUrl: string; wsUrl: string; journal: string }) {
  return parseTradingConfig({
    coin: 'ETH',
    orderSize: 0.01,
    maxPosition: 3,
    network: 'loopback',
    strategy: { strategy: 'fixed', halfSpreadTicks: 1 },
    statusIntervalSec: 1,
    deadMansSwitchSec: 30,
    reconcileIntervalSec: 1,
    guard: false,
    ...over,
  });
}

describe('trading sessions against the loopback Hyperliquid server', { skip: sharedSkip }, () => {
  before(async () => {
    events = (await readSource(SEED_ETH, { coin: 'ETH' })).events;
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  test('paper session: quotes posted, fills booked, journal agrees, nothing resting after stop', async () => {
    // shiftToNow at 20x: the replay's exchange clock runs ahead of our wall clock (the paper exchange must
    // not hold fills and acks back until the wall clock catches up).
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 20,
      port: 0,
      shiftToNow: true,
    });
    try {
      const journal = join(dir, 'paper.sqlite');
      const { logger } = logSink();
      const statusLines: string[] = [];
      const s = await runTradingSession({
        config: config({ httpUrl: server.httpUrl, wsUrl: server.wsUrl, journal }),
        logger,
        durationMs: 8000,
        onStatus: (l) => statusLines.push(l),
        paperLatencyMs: 20,
      });
      assert.equal(s.mode, 'paper');
      assert.ok(s.ordersPlaced > 0, 'quotes were posted');
      assert.ok(s.fills > 0, 'the replayed market filled some quotes');
      assert.equal(s.restingAfterStop, 0);
      assert.deepEqual(s.violations, []);
      assert.equal(server.stats.ordersReceived, 0, 'paper orders never reach the exchange');
      assert.ok(statusLines.length >= 3 && /paper ETH \| mid \d+\.\d+ \| bid/.test(statusLines[0]));
      // P&L attribution in the summary and the status: the five terms sum to the net P&L.
      const pa = s.pnlAttribution;
      assert.ok(pa, 'summary has the P&L attribution');
      const total = pa.spreadCapture + pa.adverseSelection + pa.inventoryCarry + pa.fees + pa.funding;
      assert.ok(Math.abs(total - s.netPnl) < 1e-9, `attribution ${total} vs net ${s.netPnl}`);
      assert.ok(pa.fees < 0, 'maker fees were paid');
      assert.match(statusLines.at(-1) ?? '', /pnl [-+]\d+\.\d\d USD \(spread [-+]\d/);
      const j = openExistingJournal(journal);
      try {
        const st = j.status();
        const last = st.lastState?.data as { netPnl: number; pnlAttribution?: typeof pa };
        const la = last.pnlAttribution;
        assert.ok(la, 'journalled status has the attribution');
        assert.ok(
          Math.abs(
            la.spreadCapture + la.adverseSelection + la.inventoryCarry + la.fees + la.funding - last.netPnl,
          ) < 1e-9,
        );
        assert.match(formatStatus(st), /P&L attribution \(USD\): spread/);
        assert.equal(st.positions[0].position, s.position, 'journal position = engine position');
        assert.equal(st.positions[0].fills, s.fills);
        assert.equal(st.openOrders.length, 0);
        assert.equal((st.lastSession?.data as { event?: string } | undefined)?.event, 'stop');
      } finally {
        j.close();
      }
    } finally {
      await server.close();
    }
  });

  test('paper session with a reference price: the attribution is measured against the strategy’s reference', async () => {
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 20,
      port: 0,
      shiftToNow: true,
    });
    try {
      const journal = join(dir, 'paper-ref.sqlite');
      const { logger } = logSink();
      const statusLines: string[] = [];
      const s = await runTradingSession({
        config: config({
          httpUrl: server.httpUrl,
          wsUrl: server.wsUrl,
          journal,
          strategy: { strategy: 'fixed', halfSpreadTicks: 1, reference: 'weighted-mid' },
        }),
        logger,
        durationMs: 6000,
        onStatus: (l) => statusLines.push(l),
        paperLatencyMs: 20,
      });
      assert.equal(s.pnlAttributionReference, 'weighted-mid');
      const pa = s.pnlAttribution;
      assert.ok(pa && s.fills > 0, 'fills and an attribution');
      const total = pa.spreadCapture + pa.adverseSelection + pa.inventoryCarry + pa.fees + pa.funding;
      assert.ok(Math.abs(total - s.netPnl) < 1e-9, `attribution ${total} vs net ${s.netPnl}`);
      assert.match(statusLines.at(-1) ?? '', /pnl [-+]\d+\.\d\d USD \(vs weighted-mid: spread [-+]\d/);
      const j = openExistingJournal(journal);
      try {
        const st = j.status();
        assert.equal(
          (st.lastState?.data as { pnlAttributionReference?: string } | undefined)?.pnlAttributionReference,
          'weighted-mid',
        );
        assert.match(formatStatus(st), /P&L attribution \(USD, vs weighted-mid\): spread/);
      } finally {
        j.close();
      }
    } finally {
      await server.close();
    }
  });

  test('live session with faults: disconnects, 429s, Alo rejects, delays, duplicated and reordered messages, stale feed', async () => {
    const { key, agent, master } = wallet();
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 20,
      port: 0,
      // $1M traded lifetime: mainnet lets the account arm scheduleCancel, which this test checks.
      accounts: [{ address: master, lifetimeVolume: 1_000_000 }],
      agents: { [agent.address.toLowerCase()]: master },
    });
    const journal = join(dir, 'live.sqlite');
    const { lines, logger } = logSink();
    const checks: string[] = [];
    let running: RunningSession | undefined;
    try {
      const faults = async (r: RunningSession) => {
        running = r;
        const f = server.faults;
        await sleep(600);
        const acc = server.state.account(master);
        if (!(acc.scheduledCancelAt && acc.scheduledCancelAt > Date.now()))
          checks.push("dead-man's switch not armed");
        f.duplicateNextMessages(30);
        await sleep(400);
        f.http429(3);
        await sleep(400);
        f.rejectNextOrders(3, ALO_ERROR);
        await sleep(500);
        f.dropConnections();
        await sleep(700);
        f.delay(250);
        await sleep(800);
        f.delay(0);
        f.reorderNextMessages(6);
        await sleep(800);
        // Stale book: the feed stops; the stale guard must pull every quote.
        f.pauseFeed(3000);
        await sleep(2500);
        const restingOrders = server.state.restingOrders(master);
        if (restingOrders.length !== 0) {
          const views = restingOrders.map((o) => {
            const m = r.engine.orders.get(o.cloid ?? '');
            const v = r.liveVenue?.liveOrders().find((x) => x.cloid === o.cloid);
            return `${o.cloid} engine=${m?.state ?? 'unknown'} venue=${v?.state ?? 'not live'} stale=${r.engine.risk.stale}`;
          });
          checks.push(`${restingOrders.length} orders resting on a stale book: ${views.join('; ')}`);
        }
        await sleep(1500);
        r.stop('test done');
      };
      const s = await runTradingSession({
        config: config({
          httpUrl: server.httpUrl,
          wsUrl: server.wsUrl,
          journal,
          mode: 'live',
          risk: { staleMs: 1000 },
          account: { masterAddress: master },
        }),
        logger,
        key: agent,
        onStarted: (r) => void faults(r),
        onStatus: () => {},
      });
      assert.deepEqual(checks, []);
      assert.equal(s.mode, 'live');
      assert.ok(s.ordersPlaced > 0);
      assert.deepEqual(s.violations, []);
      // Nothing resting after stop, on the exchange itself.
      assert.equal(s.restingAfterStop, 0);
      assert.deepEqual(server.state.restingOrders(master), []);
      // Exchange position is the truth, and the engine agrees with it.
      const exPos = server.state.account(master).positions.get('ETH')?.szi ?? 0;
      assert.ok(Math.abs(s.position - exPos) < 1e-9, `engine ${s.position} vs exchange ${exPos}`);
      assert.equal(s.exchangePosition ?? 0, exPos);
      // Live P&L attribution (fills from the exchange's streams, de-duplicated): the five terms sum to net P&L.
      const pa = s.pnlAttribution;
      assert.ok(pa, 'live summary has the P&L attribution');
      const total = pa.spreadCapture + pa.adverseSelection + pa.inventoryCarry + pa.fees + pa.funding;
      assert.ok(Math.abs(total - s.netPnl) < 1e-9, `live attribution ${total} vs net ${s.netPnl}`);
      assert.equal(s.pnlAttributionReference, 'mid');
      // No fill counted twice: engine fills = exchange fills = journal fills, tids unique.
      const exFills = server.state.account(master).fills;
      const lv = running?.liveVenue;
      assert.ok(lv);
      assert.equal(s.fills, exFills.length, `engine ${s.fills} fills vs exchange ${exFills.length}`);
      const j = openExistingJournal(journal);
      try {
        assert.equal(j.fills('ETH').length, exFills.length);
        assert.ok(Math.abs(j.position('ETH') - exPos) < 1e-9);
        assert.equal(j.openOrders().length, 0);
      } finally {
        j.close();
      }
      // The faults happened and were handled.
      assert.ok(lv.stats.reconnects >= 1, 'user streams reconnected');
      assert.ok(lv.stats.http429 >= 1, '429s were seen and backed off');
      assert.ok(lv.stats.rejects >= 1, 'rejects were reported');
      // Logs were written, and none carries key material.
      const log = lines.join('');
      assert.ok(log.includes('session started'));
      for (let i = 2; i + 8 <= key.length; i += 8)
        assert.ok(!log.includes(key.slice(i, i + 8)), 'key material in logs');
    } finally {
      await server.close();
    }
  });

  test('drawdown kill switch: HALTED, every quote pulled, no new orders while halted', async () => {
    const { agent, master } = wallet();
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 20,
      port: 0,
      accounts: [{ address: master }],
      agents: { [agent.address.toLowerCase()]: master },
    });
    const notes: string[] = [];
    try {
      const s = await runTradingSession({
        // A drawdown limit of 1e-9 of the 100,000 USD equity (0.01 cent): the first fill's fee halts.
        config: config({
          httpUrl: server.httpUrl,
          wsUrl: server.wsUrl,
          journal: join(dir, 'dd.sqlite'),
          mode: 'live',
          risk: { maxDrawdown: 1e-9 },
          account: { masterAddress: master },
        }),
        logger: logSink().logger,
        key: agent,
        onStatus: () => {},
        onStarted: (r) => {
          const poll = setInterval(() => {
            if (r.engine.risk.state !== 'HALTED') return;
            clearInterval(poll);
            void (async () => {
              await sleep(800);
              const placed = server.stats.ordersReceived;
              const resting = server.state.restingOrders(master).length;
              if (resting !== 0) notes.push(`${resting} resting after halt`);
              await sleep(1200);
              if (server.stats.ordersReceived !== placed) notes.push('orders sent while halted');
              r.stop('checked');
            })();
          }, 50);
          setTimeout(() => {
            clearInterval(poll);
            r.stop('never halted');
          }, 12_000);
        },
      });
      assert.equal(s.stopReason, 'checked', `stopped because: ${s.stopReason}`);
      assert.equal(s.tradingState, 'HALTED');
      assert.deepEqual(notes, []);
      assert.equal(s.restingAfterStop, 0);
    } finally {
      await server.close();
    }
  });

  test('process killed (SIGKILL) and restarted: recovers from journal + exchange, nothing left resting', async () => {
    const { key, agent, master } = wallet();
    const server = await startLoopbackServer({
      events,
      coins: ['ETH'],
      speed: 20,
      port: 0,
      // $1M traded lifetime: mainnet lets the account arm scheduleCancel, which this test checks.
      accounts: [{ address: master, lifetimeVolume: 1_000_000 }],
      agents: { [agent.address.toLowerCase()]: master },
    });
    const journal = join(dir, 'restart.sqlite');
    try {
      const child = spawn(
        process.execPath,
        [
          join(REPO_ROOT, 'test/trading/fixtures/live-child.ts'),
          server.httpUrl,
          server.wsUrl,
          journal,
          master,
        ],
        { env: { ...process.env, CJMM_PRIVATE_KEY: key }, stdio: ['ignore', 'pipe', 'pipe'] },
      );
      let out = '';
      child.stdout.on('data', (d) => (out += String(d)));
      child.stderr.on('data', (d) => (out += String(d)));
      const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
      for (let i = 0; i < 300 && server.state.restingOrders(master).length < 2; i++) await sleep(50);
      const deadline = server.state.account(master).scheduledCancelAt;
      child.kill('SIGKILL');
      await exited;
      const left = server.state.restingOrders(master);
      assert.ok(left.length > 0, 'the killed process left quotes resting');
      assert.ok(deadline !== undefined && deadline > Date.now(), "the dead-man's switch is armed for them");
      const leftCloids = new Set(left.map((o) => o.cloid));
      const j0 = openExistingJournal(journal);
      const journalOpen = j0.openOrders('ETH').length;
      j0.close();
      assert.ok(journalOpen > 0, 'the journal remembers open orders');

      let afterStart: string[] = [];
      const s = await runTradingSession({
        config: config({
          httpUrl: server.httpUrl,
          wsUrl: server.wsUrl,
          journal,
          mode: 'live',
          account: { masterAddress: master },
        }),
        logger: logSink().logger,
        key: agent,
        onStatus: () => {},
        durationMs: 2500,
        onStarted: (r) => {
          afterStart = server.state.restingOrders(master).map((o) => o.cloid ?? '');
          void r;
        },
      });
      assert.ok(
        afterStart.every((c) => !leftCloids.has(c)),
        'cancel-all at start removed the previous process’s orders',
      );
      const exPos = server.state.account(master).positions.get('ETH')?.szi ?? 0;
      assert.ok(Math.abs(s.position - exPos) < 1e-9, 'position recovered from the exchange');
      assert.equal(s.restingAfterStop, 0);
      assert.deepEqual(server.state.restingOrders(master), []);
      const j = openExistingJournal(journal);
      try {
        assert.equal(j.openOrders().length, 0);
        assert.ok(Math.abs(j.position('ETH') - exPos) < 1e-9);
        const marks = j
          .history({ type: 'session', limit: 10 })
          .map((r) => (r.data as { event: string }).event)
          .filter((e) => e !== 'reconciled');
        assert.deepEqual(marks, ['start', 'start', 'stop'], 'start (killed), start, stop');
      } finally {
        j.close();
      }
    } finally {
      await server.close();
    }
  });
});
