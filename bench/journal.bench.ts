/**
 * Journal growth per hour of trading and journal write time, at the default config (config/default.json: cj
 * with its rolling calibration, 0.01 ETH quotes, status every 10 s, 15 s order timeout).
 *
 * The real ETH recording is replayed through what a paper session runs — the engine, the cj strategy, the
 * simulated exchange with the paper latency (100 ms each way), the session's own journal rows (venue
 * confirmations, parameter sets, the status row) — on a simulated clock, as fast as it goes. One journal
 * transaction per market message, as in a session (entries of one event-loop turn are committed together).
 * The journal is a real SQLite file with the session's settings (WAL, the background checkpointer).
 * Figures: bytes per hour of market data (journal file + WAL after the run, scaled from the recording's
 * active span to one hour), rows per hour by type, p50/p99 of one transaction's write time.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { buildTape } from '../src/backtest/tape.ts';
import { Engine } from '../src/engine/engine.ts';
import type { InstrumentSpec } from '../src/engine/types.ts';
import { HYPERLIQUID_BASE_FEES } from '../src/exchange/fees.ts';
import { MatchingEngine } from '../src/exchange/matching.ts';
import { MIN_NOTIONAL_USD, priceTick } from '../src/exchange/order-rules.ts';
import { readSource } from '../src/marketdata/source.ts';
import { ConstantLatency } from '../src/sim/latency.ts';
import { EventQueue } from '../src/sim/scheduler.ts';
import { SimulatedVenue } from '../src/sim/simulated-venue.ts';
import { createStrategy } from '../src/strategies/index.ts';
import { loadTradingConfig } from '../src/trading/config.ts';
import { openJournal } from '../src/trading/journal.ts';
import { journallingVenue, paramsJournaller } from '../src/trading/session-journal.ts';
import { REPO_ROOT, SEED_ETH } from '../test/helpers/shared.ts';
import { report } from './timing.ts';

const config = loadTradingConfig(join(REPO_ROOT, 'config/default.json'));
const src = await readSource(SEED_ETH, { coin: 'ETH' });
const tape = buildTape(src.events, src.gaps ?? [], { coin: 'ETH' });
const { exAt, rxAt, rxEvents } = tape.streams();
const firstBook = rxEvents.find((e) => e.kind === 'book');
if (firstBook?.kind !== 'book') throw new Error('no book in the recording');
const mid0 = 0.5 * (firstBook.bids[0].px + firstBook.asks[0].px);
const instrument: InstrumentSpec = {
  coin: 'ETH',
  tick: priceTick(mid0, 4),
  szDecimals: 4,
  lotSize: config.orderSize,
  minNotional: MIN_NOTIONAL_USD,
  makerFee: HYPERLIQUID_BASE_FEES.maker,
  takerFee: HYPERLIQUID_BASE_FEES.taker,
};

const dir = mkdtempSync(join(tmpdir(), 'cjmm-journal-bench-'));
const path = join(dir, 'journal.sqlite');
// As a session opens it: the maintenance thread checkpoints the WAL, every 5 s by default. A session has
// idle time between market messages for it; the replay has none and runs ~1000x faster than the market, so
// here the thread's checkpoint is run (and waited for, untimed) every 5 s of market time instead.
const journal = openJournal(path, { coin: 'ETH', maintenance: { checkpointEveryMs: 3_600_000 } });
await journal.maintenance?.ready;
const q = new EventQueue();
q.current = Math.min(exAt[0], rxAt[0]);
const matching = new MatchingEngine({
  coin: 'ETH',
  asset: 1,
  szDecimals: 4,
  tick: instrument.tick,
  minNotional: MIN_NOTIONAL_USD,
});
const sim = new SimulatedVenue({ scheduler: q, matching, latency: new ConstantLatency(100, 100, 100) });
const venue = journallingVenue(sim, journal);
const strategy = createStrategy(config.strategy.strategy, config.strategy, instrument);
const engine = new Engine({
  clock: q,
  venue,
  strategy,
  instrument,
  risk: {
    maxPositionLots: config.maxPosition,
    maxDrawdownFrac: config.risk.maxDrawdown,
    staleMs: config.risk.staleMs,
    maxOrdersPerSec: config.risk.maxOrdersPerSecond,
    orderBurst: Math.max(2, Math.ceil(2 * config.risk.maxOrdersPerSecond)),
  },
  orderManager: {
    priceToleranceTicks: config.strategy.priceToleranceTicks,
    minQuoteLifeMs: config.strategy.minQuoteLifeMs,
  },
  journal,
  timerIntervalMs: Math.min(1000, Math.max(50, Math.floor(config.risk.staleMs / 4))),
  startingEquity: config.paperEquity,
  cloidSeed: 1,
});
const journalParams = paramsJournaller(strategy, journal, () => q.now());

// Session timers on the simulated clock: the 100 ms tick (parameter sets), the status row, the order timeout.
const statusEvery = config.statusIntervalSec * 1000;
const timeoutEvery = Math.min(1000, config.orderTimeoutMs);
let nextTick = q.current + 100;
let nextStatus = q.current + statusEvery;
let nextTimeout = q.current + timeoutEvery;
const sessionTimers = (now: number) => {
  if (now >= nextTick) {
    nextTick = now + 100;
    journalParams();
  }
  if (now >= nextStatus) {
    nextStatus = now + statusEvery;
    const mid = engine.lastMid;
    journal.record({
      type: 'state',
      rxTime: now,
      data: {
        coin: 'ETH',
        position: engine.portfolio.position,
        mid,
        netPnl: mid > 0 ? engine.portfolio.netPnl(mid) : 0,
        state: engine.risk.state,
      },
    });
  }
  if (now >= nextTimeout) {
    nextTimeout = now + timeoutEvery;
    const old = engine.orders
      .openOrders()
      .filter((x) => x.state === 'open' && now - x.openedAt > config.orderTimeoutMs)
      .map((x) => ({ coin: 'ETH', cloid: x.cloid }));
    if (old.length > 0) venue.cancel(old);
  }
};

let walMax = 0;
const flushTimed = () => {
  // One transaction per turn of the event loop, as in a session (the journal times its own transactions).
  journal.flush();
};
const size = (p: string) => {
  try {
    return statSync(p).size;
  } catch {
    return 0;
  }
};

const cpu0 = process.cpuUsage();
const wall0 = performance.now();
journal.record({ type: 'session', rxTime: q.current, data: { event: 'start', mode: 'paper', coin: 'ETH' } });
engine.start();
journal.record({ type: 'params', rxTime: q.current, data: { event: 'instrument', ...instrument } });
const n = tape.length;
let i = 0;
let j = 0;
const CHECKPOINT_EVERY_MS = 5000;
let nextCheckpoint = q.current + CHECKPOINT_EVERY_MS;
while (i < n || j < n) {
  if (q.current >= nextCheckpoint) {
    nextCheckpoint = q.current + CHECKPOINT_EVERY_MS;
    walMax = Math.max(walMax, size(`${path}-wal`));
    await journal.maintenance?.checkpointNow();
  }
  const tEx = i < n ? exAt[i] : Number.POSITIVE_INFINITY;
  const tRx = j < n ? rxAt[j] : Number.POSITIVE_INFINITY;
  const tQ = q.peekTime();
  const tTimer = Math.min(engine.nextTimerAt(), nextTick, nextStatus, nextTimeout);
  if (tEx <= tQ && tEx <= tRx && tEx <= tTimer) {
    q.current = tEx;
    sim.onMarket(tape.event(i++));
  } else if (tQ <= tRx && tQ <= tTimer) {
    q.runNext();
  } else if (tRx <= tTimer) {
    q.current = tRx;
    engine.onMarket(rxEvents[j++]);
  } else {
    q.current = tTimer;
    if (tTimer >= engine.nextTimerAt()) engine.onTimer(tTimer);
    sessionTimers(tTimer);
  }
  // One transaction per turn of the event loop, as in a session.
  flushTimed();
}
const cpu = process.cpuUsage(cpu0);
const wallMs = performance.now() - wall0;
const counts = journal.status().counts;
const writes = journal.writeTimes();
journal.close();

const bytes = size(path) + size(`${path}-wal`);
const gapMs = tape.gaps.reduce((s, g) => s + Math.max(0, g.end - g.start), 0);
const activeHours = (tape.end - tape.start - gapMs) / 3_600_000;
const rows = Object.values(counts).reduce((a, b) => a + b, 0);
// What stays with retention: prune every housekeeping row (as journalRetentionDays does once they are old),
// and measure the kept rows compacted (VACUUM INTO a copy).
const pruned = openJournal(path);
const pr = pruned.prune(Number.POSITIVE_INFINITY);
pruned.close();
const db = new DatabaseSync(path);
db.exec(`VACUUM INTO '${join(dir, 'kept.sqlite')}'`);
db.close();
const kept = size(join(dir, 'kept.sqlite'));
const fmt = (us: number) => (us < 1000 ? `${us.toFixed(0)} µs` : `${(us / 1000).toFixed(2)} ms`);
report('journal: bytes per hour of trading (default config)', `${(bytes / activeHours / 1e6).toFixed(2)} MB`);
report('journal: of which never pruned (orders, fills, …)', `${(kept / activeHours / 1e6).toFixed(2)} MB`);
report(
  'journal: rows per hour retention may prune',
  `${Math.round(Object.values(pr.deleted).reduce((a, b) => a + b, 0) / activeHours)}`,
);
report('journal: rows per hour', `${Math.round(rows / activeHours)}`);
report(
  'journal: rows per hour by type',
  Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ${Math.round(v / activeHours)}`)
    .join(', '),
);
report('journal: transaction write time p50', fmt(writes.p50Us));
report('journal: transaction write time p99', fmt(writes.p99Us), '≤ 1 ms', writes.p99Us <= 1000);
report('journal: transactions (last 8192 timed)', `${writes.writes}`);
report('journal: largest WAL file (checkpoint every 5 s)', `${(walMax / 1e3).toFixed(0)} kB`);
report(
  'journal: replay (market span, wall, CPU)',
  `${(activeHours * 60).toFixed(1)} min, ${(wallMs / 1000).toFixed(1)} s, ${((cpu.user + cpu.system) / 1e6).toFixed(1)} s CPU`,
);
report('journal: load average (1 min)', loadavg()[0].toFixed(2));
if (!process.env.KEEP) rmSync(dir, { recursive: true, force: true });
else console.log(path);
