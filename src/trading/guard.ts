/**
 * `cjmm guard`: the trader's dead-man's switch that does not depend on the exchange's `scheduleCancel` (which
 * Hyperliquid refuses until an account has traded $1M). A small separate process watches the trader's
 * heartbeat file (./heartbeat.ts) and, when the trader is gone, cancels the orders of the session it watched
 * (their cloid prefix) through the exchange API, signing with the same API wallet key. Then it exits.
 *
 * The trader is gone when:
 * - its heartbeat says `failed` (it stopped but could not confirm that nothing rests);
 * - on the same host, its pid no longer exists (killed, crashed, OOM): cancelled at once, no need to wait;
 * - the heartbeat is older than the grace (`deadMansSwitchSec`): the trader hangs, or its host is gone. On the
 *   same host a hung trader is killed first (SIGKILL) so it cannot wake up and quote unguarded.
 * It exits without cancelling when the trader stops cleanly (`stopped`) or a new session of the trader took
 * over (its start-up clean-up handles the old orders). `--keep-running` (a service) waits for the next session
 * instead of exiting.
 */
import { hostname } from 'node:os';
import { ExchangeClient, HttpTransport, InfoClient } from '@nktkas/hyperliquid';
import { createMonotonicNonces } from '../venue/hyperliquid/execution/limits.ts';
import { errText, is429 } from '../venue/hyperliquid/execution/transport.ts';
import { type GuardReport, type Heartbeat, readJson, writeJsonAtomic } from './heartbeat.ts';
import type { AgentKey } from './keys.ts';
import type { TradingLogger } from './logger.ts';

export interface GuardOptions {
  heartbeatFile: string;
  reportFile: string;
  key: Pick<AgentKey, 'address' | 'account'>;
  logger: Pick<TradingLogger, 'info' | 'warn' | 'error'>;
  /** Watch exactly this session (the trader that spawned us); otherwise the next running one. */
  session?: number;
  /** Overrides the heartbeat's grace (s). */
  graceSec?: number;
  /** After a session ends, wait for the next one (a service) instead of exiting. */
  keepRunning?: boolean;
  /** How often the heartbeat is read (ms); default min(1000, grace / 10). */
  checkMs?: number;
  /** Kill a hung trader on this host before cancelling (default true). */
  killHung?: boolean;
  signal?: AbortSignal;
}

export type GuardOutcome =
  | { kind: 'stopped-clean'; session: number }
  | { kind: 'replaced'; session: number }
  | { kind: 'cancelled'; session: number; cancelled: number; reason: string }
  | { kind: 'aborted' };

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });

/** Does a process with this pid exist (on this host)? EPERM: it exists but is not ours. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export async function runGuard(o: GuardOptions): Promise<GuardOutcome> {
  const log = o.logger;
  const host = hostname();
  const report = (r: Omit<GuardReport, 'pid' | 'host' | 'at'>) => {
    try {
      writeJsonAtomic(o.reportFile, { pid: process.pid, host, at: Date.now(), ...r } satisfies GuardReport);
    } catch (err) {
      log.warn({ err: errText(err), file: o.reportFile }, 'guard: cannot write its report file');
    }
  };
  const handled = new Set<number>();
  for (;;) {
    report({ state: 'waiting', sessionStartedAt: o.session });
    const hb = await waitForSession(o, handled);
    if (!hb) return { kind: 'aborted' };
    if (hb === 'replaced') {
      log.info({ session: o.session }, 'guard: the trader was restarted (a new session took over); exiting');
      report({ state: 'replaced', sessionStartedAt: o.session });
      return { kind: 'replaced', session: o.session ?? 0 };
    }
    const outcome = await watch(o, hb, report);
    handled.add(hb.sessionStartedAt);
    if (outcome.kind === 'aborted' || !o.keepRunning) return outcome;
  }
}

/** The heartbeat of the session to watch, 'replaced' (bound mode: a newer session), undefined if aborted. */
async function waitForSession(
  o: GuardOptions,
  handled: Set<number>,
): Promise<Heartbeat | 'replaced' | undefined> {
  let said = false;
  while (!o.signal?.aborted) {
    const h = readJson<Heartbeat>(o.heartbeatFile);
    if (h && o.session !== undefined) {
      if (h.sessionStartedAt === o.session) return h;
      if (h.sessionStartedAt > o.session) return 'replaced';
    } else if (h && h.state === 'running' && !handled.has(h.sessionStartedAt)) {
      return h;
    }
    if (!said) {
      o.logger.info({ heartbeat: o.heartbeatFile }, 'guard: waiting for a trader heartbeat');
      said = true;
    }
    await sleep(500, o.signal);
  }
  return undefined;
}

async function watch(
  o: GuardOptions,
  first: Heartbeat,
  report: (r: Omit<GuardReport, 'pid' | 'host' | 'at'>) => void,
): Promise<GuardOutcome> {
  const log = o.logger;
  const session = first.sessionStartedAt;
  const graceMs = (o.graceSec ?? first.graceSec) * 1000;
  const checkMs = o.checkMs ?? Math.max(100, Math.min(1000, graceMs / 10));
  if (first.signer.toLowerCase() !== o.key.address.toLowerCase()) {
    throw new Error(
      `the guard's key is API wallet ${o.key.address}, but the trader signs with ${first.signer}: give the guard the trader's key`,
    );
  }
  report({ state: 'watching', sessionStartedAt: session });
  log.info(
    { session, pid: first.pid, coin: first.coin, graceSec: graceMs / 1000, cloidPrefix: first.cloidPrefix },
    'guard: watching the trader',
  );
  let last = first;
  while (!o.signal?.aborted) {
    await sleep(checkMs, o.signal);
    if (o.signal?.aborted) break;
    const h = readJson<Heartbeat>(o.heartbeatFile);
    if (h) {
      if (h.sessionStartedAt !== session) {
        log.info(
          { session, next: h.sessionStartedAt },
          'guard: a new session of the trader took over; exiting',
        );
        report({ state: 'replaced', sessionStartedAt: session });
        return { kind: 'replaced', session };
      }
      last = h;
    }
    if (last.state === 'stopped') {
      log.info({ session }, 'guard: the trader stopped cleanly; exiting');
      report({ state: 'stopped-clean', sessionStartedAt: session });
      return { kind: 'stopped-clean', session };
    }
    let reason: string | undefined;
    const sameHost = last.host === hostname();
    const age = Date.now() - last.at;
    if (last.state === 'failed') reason = 'the trader stopped without confirming that nothing rests';
    else if (sameHost && !pidAlive(last.pid)) reason = `the trader (pid ${last.pid}) is gone`;
    else if (age > graceMs) {
      reason = `no heartbeat for ${(age / 1000).toFixed(1)} s (grace ${graceMs / 1000} s)`;
      if (sameHost && (o.killHung ?? true) && pidAlive(last.pid)) {
        // A hung trader must not wake up later and quote without its guard.
        try {
          process.kill(last.pid, 'SIGKILL');
          reason += `; killed the hung trader (pid ${last.pid})`;
        } catch (err) {
          log.warn({ pid: last.pid, err: errText(err) }, 'guard: could not kill the hung trader');
        }
      }
    }
    if (!reason) continue;
    log.warn({ session, reason }, "guard: the trader is gone; cancelling its session's orders");
    try {
      const n = await cancelSessionOrders(last, o.key, log, o.signal);
      log.warn({ session, cancelled: n }, 'guard: orders cancelled; nothing of the session rests; exiting');
      report({ state: 'cancelled', sessionStartedAt: session, cancelled: n, reason });
      return { kind: 'cancelled', session, cancelled: n, reason };
    } catch (err) {
      report({ state: 'failed', sessionStartedAt: session, reason: errText(err) });
      throw err;
    }
  }
  return { kind: 'aborted' };
}

/**
 * Cancel every resting order of the account whose cloid starts with the session's prefix; list again until
 * none is left. Rate limits back off (HTTP 429: doubling to 10 s; the address budget: one request per 10 s),
 * for up to ~10 minutes. Returns how many orders were cancelled.
 */
export async function cancelSessionOrders(
  hb: Pick<Heartbeat, 'httpUrl' | 'isTestnet' | 'masterAddress' | 'cloidPrefix'>,
  key: Pick<AgentKey, 'account'>,
  log: Pick<TradingLogger, 'warn'>,
  signal?: AbortSignal,
): Promise<number> {
  const transport = new HttpTransport({ apiUrl: hb.httpUrl, isTestnet: hb.isTestnet, timeout: 10_000 });
  const info = new InfoClient({ transport });
  const exchange = new ExchangeClient({
    transport,
    wallet: key.account,
    nonceManager: createMonotonicNonces(Date.now),
  });
  const user = hb.masterAddress as `0x${string}`;
  const prefix = hb.cloidPrefix.toLowerCase();
  let assets: Map<string, number> | undefined;
  let cancelled = 0;
  let backoff = 500;
  for (let attempt = 0; attempt < 60 && !signal?.aborted; attempt++) {
    try {
      assets ??= new Map((await info.meta()).universe.map((u, i) => [u.name, i] as const));
      const mine = (await info.openOrders({ user })).filter((x) => x.cloid?.toLowerCase().startsWith(prefix));
      if (mine.length === 0) return cancelled;
      for (let i = 0; i < mine.length; i += 40) {
        const batch = mine.slice(i, i + 40);
        const cancels = batch.flatMap((x) => {
          const a = assets?.get(x.coin);
          return a === undefined ? [] : [{ a, o: x.oid }];
        });
        const res = await exchange.cancel({ cancels }).catch((err: unknown) => {
          // Some cancels may fail ("already canceled, or filled"): the next listing tells.
          const r = (err as { response?: { response?: { data?: { statuses?: unknown[] } } } }).response;
          if (r?.response?.data?.statuses)
            return { response: { data: { statuses: r.response.data.statuses } } };
          throw err;
        });
        cancelled += res.response.data.statuses.filter((s) => s === 'success').length;
      }
      backoff = 500;
    } catch (err) {
      const text = errText(err);
      const wait = /Too many cumulative requests/i.test(text) ? 10_500 : is429(err) ? backoff : 1000;
      if (is429(err)) backoff = Math.min(10_000, backoff * 2);
      log.warn({ err: text, retryInMs: wait }, 'guard: cancel failed; retrying');
      await sleep(wait, signal);
    }
  }
  throw new Error(`guard: orders of ${prefix} still resting after repeated cancels`);
}
