/**
 * What a live trader holds once for all its markets: the API wallet (one per process: the signer lock), the
 * heartbeat and the guard process watching it (one dead-man's switch for every coin's orders: they all carry
 * the session's cloid prefix), the one Hyperliquid venue (one signer, one nonce sequence, one address request
 * budget shared by the coins — throttled mode spends it on cancels first — one set of user streams, one
 * periodic sweep), the start-up reconciliation of every coin (fills and funding made while down, recovered by
 * userFillsByTime exactly once), the account's fee rates (userFees) and its margin in use (clearinghouseState).
 * Reports, positions and funding are handed to the coin's market through `route`.
 *
 * Start order: heartbeat and guard before any order can exist → venue start (cancel-all of this trader's
 * orders, dead-man's switch, first sweep) → reconciliation → fee rates. Stop: every market has cancelled its
 * orders; the venue cancels whatever of ours is left, disarms, closes its streams; a last sweep counts what
 * still rests; the heartbeat says `stopped` (the guard exits) or `failed` (the guard cancels at once).
 */
import { hostname } from 'node:os';
import type { VenueReport } from '../engine/types.ts';
import type { AssetRules } from '../exchange/order-rules.ts';
import { inScope } from '../venue/hyperliquid/execution/cancel-all.ts';
import type { FundingEvent } from '../venue/hyperliquid/execution/fill-history.ts';
import type { ExchangeSnapshot } from '../venue/hyperliquid/execution/reconcile.ts';
import { type AccountFees, HyperliquidVenue } from '../venue/hyperliquid/execution/venue.ts';
import type { TradingConfig } from './config.ts';
import { SessionError } from './errors.ts';
import { pidAlive } from './guard.ts';
import { readGuardReport, type SpawnedGuard, spawnGuard, waitForGuard } from './guard-spawn.ts';
import { HeartbeatWriter, heartbeatPath } from './heartbeat.ts';
import type { SqliteJournal } from './journal.ts';
import type { AgentKey } from './keys.ts';
import type { TradingLogger } from './logger.ts';
import { type MarketsReconciliation, reconcileMarketsAtStart } from './reconciliation.ts';
import type { TickToOrderLatency } from './tick-latency.ts';

/** Where the venue's reports, positions and funding go: the coin's market. */
export interface LiveRoutes {
  report(r: VenueReport): void;
  position(snap: ExchangeSnapshot): void;
  funding(events: FundingEvent[]): void;
}

export interface LiveAccountOptions {
  /** The markets' configs; the first one's shared settings (account, journal, guard, …) apply to all. */
  markets: TradingConfig[];
  key: AgentKey;
  masterAddress: `0x${string}`;
  rules: AssetRules[];
  httpUrl: string;
  wsUrl: string;
  isTestnet: boolean;
  journal: SqliteJournal;
  logger: TradingLogger;
  startedAt: number;
  /** This trader's tag ('0x' + 8 hex) and the session's cloid prefix ('0x' + 16 hex). */
  cloidTag: string;
  cloidPrefix: string;
  /** The process's tick-to-order figure: a signed action handed to the transport is its "send". */
  latency: TickToOrderLatency;
  routes: LiveRoutes;
}

/** The account margin the venue reports (last sweep). */
export interface VenueMargin {
  accountValue: number;
  marginUsed: number;
  time: number;
}

export class LiveAccount {
  readonly venue: HyperliquidVenue;
  readonly heartbeat: HeartbeatWriter;
  guard: SpawnedGuard | undefined;
  /** The account's own fee rates (userFees), when the venue answered. */
  fees: AccountFees | undefined;
  /** The first sweep: each coin's position and the account value at start. */
  firstSnaps: ExchangeSnapshot[] = [];
  reconciliation: MarketsReconciliation | undefined;
  /** The margin summary of the last sweep. */
  margin: VenueMargin | undefined;
  private readonly o: LiveAccountOptions;
  private readonly config: TradingConfig;

  constructor(o: LiveAccountOptions) {
    this.o = o;
    const config = o.markets[0];
    this.config = config;
    const coins = o.markets.map((m) => m.coin);
    this.heartbeat = new HeartbeatWriter(heartbeatPath(config.journal), {
      pid: process.pid,
      host: hostname(),
      sessionStartedAt: o.startedAt,
      coin: coins.join(','),
      httpUrl: o.httpUrl,
      isTestnet: o.isTestnet,
      masterAddress: o.masterAddress,
      signer: o.key.address,
      cloidPrefix: o.cloidPrefix,
      graceSec: config.deadMansSwitchSec,
    });
    const journal = o.journal;
    this.venue = new HyperliquidVenue({
      httpUrl: o.httpUrl,
      wsUrl: o.wsUrl,
      isTestnet: o.isTestnet,
      signer: { address: o.key.address, account: o.key.account, privateKey: o.key.privateKey },
      masterAddress: o.masterAddress,
      assets: o.rules,
      logger: o.logger,
      // One connection to the exchange paces every market's actions: their budgets add up.
      rate: { actionsPerSecond: o.markets.reduce((a, m) => a + m.risk.maxOrdersPerSecond, 0) },
      deadMansSwitchSec: config.deadMansSwitchSec,
      reconcileIntervalMs: config.reconcileIntervalSec * 1000,
      onSend: (_type, at) => o.latency.onSend(at),
      isKnownFill: (tid, cloid, oid) => journal.hasFill(tid, cloid, oid),
      cloidOfOid: (oid) => journal.cloidOfOid(oid),
      ackTimeoutMs: config.ackTimeoutMs,
      ownCloidPrefix: o.cloidTag,
      startupCleanup: config.startupCleanup,
      onThrottle: (throttled, b) =>
        journal.record({
          type: 'risk',
          rxTime: Date.now(),
          data: { event: throttled ? 'throttled' : 'throttle-ended', coin: null, ...b },
        }),
    });
    this.venue.setReportListener((r) => o.routes.report(r));
  }

  /**
   * Heartbeat and guard, venue start (cancel-all of ours, dead-man's switch, first sweep), the reconciliation of
   * every coin, the account's fee rates. Throws SessionError naming what failed.
   */
  async start(): Promise<void> {
    const { o, config } = this;
    const { logger } = o;
    // The heartbeat before any order can exist, and the guard watching it (detached: it outlives us).
    this.heartbeat.start();
    if (config.guard && config.deadMansSwitchSec > 0) {
      try {
        const guard = spawnGuard({ journal: config.journal, session: o.startedAt, key: o.key });
        this.guard = guard;
        logger.info({ pid: guard.pid, log: guard.log, graceSec: config.deadMansSwitchSec }, 'guard started');
        void waitForGuard(config.journal, o.startedAt, 20_000).then((r) => {
          if (!r)
            logger.error({ pid: guard.pid, log: guard.log }, 'the guard has not reported that it watches us');
        });
      } catch (err) {
        logger.error({ err: (err as Error).message }, 'cannot start the guard: trading without it');
      }
    }
    const lv = this.venue;
    const snaps = await lv.start().catch((err: Error) => {
      throw new SessionError(`live venue start-up at ${o.httpUrl} failed: ${err.message}`);
    });
    const coins = o.markets.map((m) => m.coin);
    this.firstSnaps = coins.map((c) => {
      const s = snaps.find((x) => x.coin === c);
      if (!s) throw new SessionError(`the exchange reported no ${c} position snapshot`);
      return s;
    });
    this.noteMargin(this.firstSnaps[0]);
    // Fills and funding made while we were down, the previous session's orders, the position check.
    this.reconciliation = await reconcileMarketsAtStart({
      venue: lv,
      journal: o.journal,
      snaps: this.firstSnaps,
      logger,
      markPrice: async (coin) => Number((await lv.info.allMids())[coin]),
    }).catch((err: Error) => {
      throw new SessionError(`start-up reconciliation with ${o.httpUrl} failed: ${err.message}`);
    });
    const { coins: per, ...total } = this.reconciliation;
    logger.info(
      coins.length === 1 ? { ...total, ...per[0] } : { ...total, coins: per },
      'journal reconciled with the exchange',
    );
    // The account's own fee rates (tier, referral and staking discounts), not the base tier.
    this.fees = await lv.accountFees().catch((err: Error) => {
      logger.warn({ err: err.message }, 'userFees unavailable: using the base fee tier');
      return undefined;
    });
    // From now on: positions and funding to their market; each sweep also recovers missed fills and funding.
    lv.onPosition = (snap) => {
      this.noteMargin(snap);
      o.routes.position(snap);
    };
    lv.onFunding = (events) => o.routes.funding(events);
    const reconciledAt = Math.max(...this.firstSnaps.map((s) => s.time));
    const earliest = (f: (coin: string) => number | undefined) =>
      Math.min(...coins.map((c) => f(c) ?? reconciledAt));
    lv.enableRecovery({
      fillsSince: () => earliest((c) => o.journal.lastFillTime(c)),
      fundingSince: () => earliest((c) => o.journal.lastFundingTime(c)),
    });
  }

  /** The account value at start (the drawdown fractions' base). */
  get accountValue(): number {
    return this.firstSnaps[0]?.accountValue ?? Number.NaN;
  }

  private noteMargin(snap: ExchangeSnapshot): void {
    this.margin = { accountValue: snap.accountValue, marginUsed: snap.marginUsed, time: snap.time };
  }

  /** Which protections cover the resting quotes: the guard process and the exchange's scheduleCancel. */
  protections(): string {
    const { config } = this;
    const r = readGuardReport(config.journal);
    const watching =
      r?.state === 'watching' &&
      r.sessionStartedAt === this.o.startedAt &&
      (r.host !== hostname() || pidAlive(r.pid));
    const g = watching
      ? `guard ${r.pid}`
      : config.guard && config.deadMansSwitchSec > 0
        ? 'guard DOWN'
        : 'no guard';
    const dms = this.venue.deadMansSwitchState;
    const d =
      dms === 'armed'
        ? 'scheduleCancel'
        : dms === 'unavailable'
          ? 'no scheduleCancel (account not eligible)'
          : dms === 'off'
            ? 'no scheduleCancel'
            : 'scheduleCancel pending';
    return `${g}, ${d}`;
  }

  /**
   * Requests per USDC traded by this process (Hyperliquid earns 1 request per USDC: sustainable below 1), over
   * every market, and the account's budget: requests left, or THROTTLED.
   */
  requests(tradedUsd: number): string {
    const venue = this.venue;
    const perUsd = tradedUsd > 0 ? (venue.requestsSent / tradedUsd).toFixed(2) : '—';
    const b = venue.requestBudget;
    const left = b.throttled
      ? `THROTTLED (budget used ${b.used}/${b.cap}: 1 request per 10 s, cancels first)`
      : `budget ${b.remaining} left${b.synced ? '' : ' (est.)'}`;
    return `req/USDC ${perUsd}, ${left}`;
  }

  /**
   * After every market stopped: the venue cancels what of ours is left, disarms the switch and closes its
   * streams; a last sweep counts what still rests per coin (-1: unknown); the heartbeat tells the guard.
   */
  async stop(): Promise<Map<string, { resting: number; position: number | undefined }>> {
    const { logger } = this.o;
    const out = new Map<string, { resting: number; position: number | undefined }>();
    await withTimeout(this.venue.stop(), 10_000).catch(async (e) => {
      logger.error(
        { err: String(e) },
        'venue stop failed: giving up on the cancels (what still rests is counted below; the guard, if running, cancels it)',
      );
      await this.venue.abandon().catch(() => {});
    });
    let total = 0;
    try {
      const snaps = await this.venue.sweep();
      for (const m of this.o.markets) {
        const s = snaps.find((x) => x.coin === m.coin);
        // Ours only: other traders' orders on a shared account are theirs to keep.
        const resting = s?.openOrders.filter((x) => inScope(x.cloid, this.o.cloidTag)).length ?? 0;
        total += resting;
        out.set(m.coin, { resting, position: s?.position });
      }
    } catch {
      total = -1;
      for (const m of this.o.markets) out.set(m.coin, { resting: -1, position: undefined });
    }
    // The guard exits on `stopped`; `failed` (something may still rest) makes it cancel at once.
    this.heartbeat.stop(total === 0 ? 'stopped' : 'failed');
    return out;
  }
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
