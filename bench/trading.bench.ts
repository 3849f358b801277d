/**
 * Tick-to-order latency inside the process: a book (or bbo) WebSocket message as received (text) → parse →
 * engine → cj strategy (model solved on the recorded ETH calibration) → risk → order manager (journalling to
 * SQLite) → the live
 * Hyperliquid venue formats, rounds and signs the action (EIP-712, agent key) → handed to the transport.
 * The transport is a stub that answers at once, so no network time is counted; one action is in flight at a
 * time, as in the live venue. Messages are the real ETH recording's books and bbo updates; only ticks that
 * lead to an order action (place or modify) are samples. Target p99 ≤ 1 ms (the original re-quoted every 15–30 s).
 * Measured twice in the same run: the engine alone (baseline), and through the trader's market session (the
 * coin's view of the shared venue, the journalling wrapper, the P&L attribution, the invariant check) as
 * `cjmm trade --live` runs it, one coin or many.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import type { IRequestTransport } from '@nktkas/hyperliquid';
import { generatePrivateKey, privateKeyToAccount } from 'viem/accounts';
import { Engine } from '../src/engine/engine.ts';
import type { InstrumentSpec } from '../src/engine/types.ts';
import type { MarketEvent } from '../src/marketdata/events.ts';
import { bboToWire, bookToWire, parseWsText } from '../src/marketdata/hyperliquid-wire.ts';
import { readSource } from '../src/marketdata/source.ts';
import { createStrategy } from '../src/strategies/index.ts';
import { parseTradingConfig } from '../src/trading/config.ts';
import { openJournal } from '../src/trading/journal.ts';
import { createTradingLogger } from '../src/trading/logger.ts';
import { CoinVenue, MarketSession, marketJournal } from '../src/trading/market-session.ts';
import { TickToOrderLatency } from '../src/trading/tick-latency.ts';
import { HyperliquidVenue } from '../src/venue/hyperliquid/execution/venue.ts';
import { SEED_ETH } from '../test/helpers/shared.ts';
import { fmtUs, report, summarize } from './timing.ts';

/** Answers at once, like the exchange would: Alo orders that would cross the current touch are rejected. */
class StubExchange implements IRequestTransport {
  readonly isTestnet = false;
  onSend: () => void = () => {};
  bestBid = Number.NaN;
  bestAsk = Number.NaN;
  private oid = 1;
  async request<T>(endpoint: 'info' | 'exchange', payload: unknown): Promise<T> {
    if (endpoint === 'info') return [] as T;
    this.onSend();
    const a = (
      payload as { action: { type: string; orders?: unknown[]; modifies?: unknown[]; cancels?: unknown[] } }
    ).action;
    const n = (a.orders ?? a.modifies ?? a.cancels ?? []).length;
    const orders = (a.orders ??
      (a.modifies as { order: unknown }[] | undefined)?.map((m) => m.order) ??
      []) as {
      b: boolean;
      p: string;
    }[];
    const statuses =
      a.type === 'cancelByCloid' || a.type === 'cancel'
        ? Array.from({ length: n }, () => 'success')
        : orders.map((o) =>
            (o.b && Number(o.p) >= this.bestAsk) || (!o.b && Number(o.p) <= this.bestBid)
              ? {
                  error: `Post only order would have immediately matched, bbo was ${this.bestBid}@${this.bestAsk}. asset=1`,
                }
              : { resting: { oid: this.oid++ } },
          );
    return {
      status: 'ok',
      response: { type: a.type.startsWith('cancel') ? 'cancel' : 'order', data: { statuses } },
    } as T;
  }
}

const src = await readSource(SEED_ETH, { coin: 'ETH' });
const quotesEvents = src.events.filter((e) => e.kind === 'book' || e.kind === 'bbo');
const span = quotesEvents[quotesEvents.length - 1].exTime - quotesEvents[0].exTime + 1000;
/** The recording's messages, pass `k` shifted k spans later so the exchange clock keeps going forward. */
const textsOfPass = (k: number) =>
  quotesEvents.map((e) => {
    const shifted = { ...e, exTime: e.exTime + k * span };
    return JSON.stringify(shifted.kind === 'book' ? bookToWire(shifted) : bboToWire(shifted));
  });

const instrument: InstrumentSpec = {
  coin: 'ETH',
  tick: 0.1,
  szDecimals: 4,
  lotSize: 0.01,
  minNotional: 10,
  makerFee: 0.00015,
  takerFee: 0.00045,
};
// Priors = `cjmm calibrate` on the same recording (λ in 1/s, κ in 1/USD, ε in USD).
const cjConfig = {
  calibrate: false,
  qMax: 5,
  priors: {
    lambdaPlus: 1.62,
    lambdaMinus: 1.1,
    kappaPlus: 8.4,
    kappaMinus: 8.58,
    epsilonPlus: 0.117,
    epsilonMinus: 0.147,
  },
};
const strategy = createStrategy('cj', cjConfig, instrument);
const privateKey = generatePrivateKey();
const account = privateKeyToAccount(privateKey);
// The SQLite journal is on the path too (the engine journals every order before sending it).
const journalDir = mkdtempSync(join(tmpdir(), 'cjmm-bench-'));

/** A live venue over a stub exchange that answers at once. */
function stubVenue(): { stub: StubExchange; venue: HyperliquidVenue } {
  const stub = new StubExchange();
  const venue = new HyperliquidVenue({
    httpUrl: 'http://127.0.0.1:1',
    wsUrl: 'ws://127.0.0.1:1/ws',
    // As the live session does: with the raw key, signatures are made by libsecp256k1 (execution/signer.ts).
    signer: { address: account.address, account, privateKey },
    assets: [{ coin: 'ETH', asset: 1, szDecimals: 4 }],
    transport: stub,
    noStreams: true,
    // No pacing here: the bench times the in-process path, not the exchange's rate limits.
    rate: { actionsPerSecond: 1e9, ipWeightPerMin: 1e12, addressAllowance: 1e12 },
  });
  return { stub, venue };
}

/**
 * Replays the recording's messages through `onEvent` (parse → …): the time from the message to the first
 * signed action handed to the stub transport, for ticks that led to an order action.
 */
async function measure(stub: StubExchange, venue: HyperliquidVenue, onEvent: (ev: MarketEvent) => void) {
  const samples: number[] = [];
  const cpu0 = process.cpuUsage();
  let messages = 0;
  let warm = 0;
  let sentAt = Number.NaN;
  stub.onSend = () => {
    if (Number.isNaN(sentAt)) sentAt = performance.now();
  };
  const deadline = performance.now() + 30_000;
  for (let pass = 0; pass < 20 && samples.length < 5000 && performance.now() < deadline; pass++) {
    for (const text of textsOfPass(pass)) {
      if (performance.now() > deadline) break;
      sentAt = Number.NaN;
      const t0 = performance.now();
      for (const ev of parseWsText(text, Date.now())) {
        if (ev.kind === 'book') {
          stub.bestBid = ev.bids[0]?.px ?? Number.NaN;
          stub.bestAsk = ev.asks[0]?.px ?? Number.NaN;
        } else if (ev.kind === 'bbo') {
          stub.bestBid = ev.bidPx;
          stub.bestAsk = ev.askPx;
        }
        onEvent(ev);
      }
      // Signing is asynchronous (microtasks, no I/O): let it finish, then wait for the stub's answer.
      await venue.whenIdle();
      // The first 1,000 messages warm the JIT up and are not counted.
      if (!Number.isNaN(sentAt) && warm >= 1000) samples.push((sentAt - t0) * 1000);
      warm++;
      messages++;
    }
  }
  const cpu = process.cpuUsage(cpu0);
  // CPU time per message (parse → … → signed order, the stub's answer and the journal included): a figure the
  // shared machine's scheduling does not inflate the way it does the wall-clock tail.
  const cpuPerMessageUs = (cpu.user + cpu.system) / messages;
  return Object.assign(samples, { cpuPerMessageUs });
}

const p99Of = (samples: number[]) =>
  [...samples].sort((a, b) => a - b)[Math.min(samples.length - 1, Math.floor(0.99 * samples.length))];

// 1. The engine alone on the live venue (the baseline).
const journal = openJournal(join(journalDir, 'journal.sqlite'), { coin: 'ETH' });
{
  const { stub, venue } = stubVenue();
  const engine = new Engine({
    journal,
    clock: { now: () => Date.now() },
    venue,
    strategy,
    instrument,
    risk: { maxPositionLots: 5, maxOrdersPerSec: 1e9, orderBurst: 1e9, staleMs: Number.POSITIVE_INFINITY },
    cloidSeed: 1,
  });
  engine.start();
  const samples = await measure(stub, venue, (ev) => engine.onMarket(ev));
  const s = summarize(samples);
  const p99 = p99Of(samples);
  report('trade: tick-to-order p50 (book msg → signed order)', fmtUs(s.median), '—');
  report('trade: tick-to-order p90 (book msg → signed order)', fmtUs(s.p90), '—');
  report('trade: tick-to-order p99 (book msg → signed order)', fmtUs(p99), '≤ 1 ms', p99 <= 1000);
  report('trade: ticks measured (each led to an order action)', String(samples.length));
  report('trade: CPU time per message (engine alone)', fmtUs(samples.cpuPerMessageUs), '—');
}

// 2. The same through the trader's market session (src/trading/market-session.ts): the coin's view of the
//    shared venue, the journalling venue wrapper, the P&L attribution and the invariant check after each
//    message — what `cjmm trade --live` runs per tick, one coin or many.
const journal2 = openJournal(join(journalDir, 'journal-market.sqlite'));
{
  const { stub, venue } = stubVenue();
  const first = quotesEvents.find((e) => e.kind === 'book');
  if (first?.kind !== 'book') throw new Error('no book in the recording');
  const config = parseTradingConfig({
    coin: 'ETH',
    orderSize: instrument.lotSize,
    maxPosition: 5,
    mode: 'live',
    account: { masterAddress: account.address },
    risk: { maxOrdersPerSecond: 1e6, staleMs: 2_000_000_000 },
    strategy: { strategy: 'cj', ...cjConfig },
  });
  const shared = new CoinVenue(venue, 'ETH');
  venue.setReportListener((r) => shared.deliver(r));
  const market = await MarketSession.create({
    mode: 'live',
    config,
    rules: { coin: 'ETH', asset: 1, szDecimals: 4, maxLeverage: 25 },
    book: first,
    // The multi-market shape: the market stamps its coin on the shared journal.
    journal: marketJournal(journal2, 'ETH'),
    logger: createTradingLogger('silent'),
    strategy: (cfg, inst) => createStrategy(cfg.strategy, cfg, inst),
    equity: 10_000,
    fees: { maker: instrument.makerFee, taker: instrument.takerFee },
    cloidSeed: '0x00c0ffee0000000100',
    startedAt: Date.now(),
    latency: new TickToOrderLatency(),
    index: 0,
    liveVenue: shared,
  });
  market.start([]);
  const samples = await measure(stub, venue, (ev) => {
    market.onMarket(ev);
    market.checkInvariants();
  });
  const s = summarize(samples);
  const p99 = p99Of(samples);
  report('trade: tick-to-order p50 through the market session', fmtUs(s.median), '—');
  report('trade: tick-to-order p99 through the market session', fmtUs(p99), '≤ 1 ms', p99 <= 1000);
  report('trade: ticks measured through the market session', String(samples.length));
  report('trade: CPU time per message through the market session', fmtUs(samples.cpuPerMessageUs), '—');
  await market.stop().catch(() => {});
}
const cpu = process.cpuUsage();
report(
  'trade: CPU time of the bench process (user + system)',
  `${((cpu.user + cpu.system) / 1e6).toFixed(1)} s; load ${loadavg()[0].toFixed(2)}`,
  '—',
);
journal2.close();
journal.close();
rmSync(journalDir, { recursive: true, force: true });
