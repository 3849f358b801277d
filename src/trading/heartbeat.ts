/**
 * The trader's heartbeat and the guard's answer: two small JSON files next to the journal, each rewritten
 * atomically (temp file + rename), so a reader never sees half a file.
 *
 *   <journal>.heartbeat.json   written by the trader every second while it runs: who it is (pid, host), what it
 *                              trades (endpoint, account, signer, cloid prefix of the session), the grace, and
 *                              `state`: running → stopped (clean stop, nothing resting) or failed (stopped with
 *                              orders possibly resting);
 *   <journal>.guard.json       written by `cjmm guard`: its pid, the session it watches, what it did.
 *
 * The heartbeat is written from the trader's event loop: a process that is killed, hangs, or is stopped by
 * the OS stops writing it. Nothing secret is in either file (no key material).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';

export const HEARTBEAT_VERSION = 1;

export interface Heartbeat {
  version: number;
  /** Wall-clock ms of this write. */
  at: number;
  state: 'running' | 'stopped' | 'failed';
  pid: number;
  host: string;
  /** The session (its start, ms): a new one means the trader was restarted. */
  sessionStartedAt: number;
  coin: string;
  httpUrl: string;
  isTestnet: boolean;
  /** The account traded and the API wallet signing for it. */
  masterAddress: string;
  signer: string;
  /** Cloid prefix of this session's orders ('0x' + 16 hex): what the guard cancels. */
  cloidPrefix: string;
  /** The guard cancels when no heartbeat came for this long (config deadMansSwitchSec). */
  graceSec: number;
  /** Write period, ms. */
  everyMs: number;
}

export interface GuardReport {
  pid: number;
  host: string;
  at: number;
  /** watching → stopped-clean | replaced | cancelled | failed */
  state: 'waiting' | 'watching' | 'stopped-clean' | 'replaced' | 'cancelled' | 'failed';
  sessionStartedAt?: number;
  /** Orders cancelled for a dead trader. */
  cancelled?: number;
  reason?: string;
}

export const heartbeatPath = (journal: string) => `${journal}.heartbeat.json`;
export const guardReportPath = (journal: string) => `${journal}.guard.json`;
export const guardLogPath = (journal: string) => `${journal}.guard.log`;

/** Replace `path` with `value` as JSON in one rename (readers see the old or the new file, never half). */
export function writeJsonAtomic(path: string, value: unknown): void {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value)}\n`, { mode: 0o600 });
  renameSync(tmp, path);
}

/** The JSON in `path`, or undefined when it is missing or unreadable. */
export function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** Writes the heartbeat every `everyMs` from the event loop until `stop(state)`. */
export class HeartbeatWriter {
  readonly path: string;
  private readonly base: Omit<Heartbeat, 'at' | 'state'>;
  private timer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;

  constructor(path: string, base: Omit<Heartbeat, 'at' | 'state' | 'version' | 'everyMs'>, everyMs = 1000) {
    this.path = path;
    this.base = { ...base, version: HEARTBEAT_VERSION, everyMs };
  }

  start(): void {
    this.write('running');
    this.timer = setInterval(() => this.write('running'), this.base.everyMs);
    this.timer.unref();
  }

  /** The last write: `stopped` after a clean stop (nothing resting), `failed` otherwise. */
  stop(state: 'stopped' | 'failed'): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.write(state);
  }

  /** A write error (disk full…), once; undefined when the last write went through. */
  get error(): string | undefined {
    return this.lastError;
  }

  private write(state: Heartbeat['state']): void {
    try {
      writeJsonAtomic(this.path, { ...this.base, at: Date.now(), state } satisfies Heartbeat);
      this.lastError = undefined;
    } catch (err) {
      this.lastError = (err as Error).message;
    }
  }
}
