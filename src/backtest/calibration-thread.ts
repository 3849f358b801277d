/**
 * The calibration thread of a backtest: the rolling calibrator of a calibrated strategy (cj, as, glft) runs on
 * a worker thread of its own, ahead of the replay, so that one backtest uses a second core. The calibrator is a
 * pure function of the events the strategy's feed sees (and the gaps), and those are known in advance: the
 * strategy-side (receive-time) order of the tape, filtered by the engine's delivery rule
 * (src/engine/market-filter.ts), with each gap before the first event at or after its start. The worker walks
 * that order, runs a RollingCalibrator with the strategy's own options, and publishes every parameter set with
 * the number of the feed call that made it. On the replay's thread the strategy's RollingParamFeed delegates to
 * a `CalibrationThread`, which counts the calls and hands out each result at its call — waiting only when the
 * worker is behind — so the strategy sees exactly what its own calibrator would have returned.
 *
 * The worker needs ≈ 0.1 s to start (a new isolate loads the modules): meanwhile the replay's side runs a
 * calibrator of its own (the head start) and hands over once the worker has caught up, checking that the
 * worker's results and gaps so far were at the same calls; the replay never waits for the worker's start.
 *
 * It checks that it stays in step: every result's event (exchange time and kind) and every gap must be the
 * worker's at the same call, and the call counts must agree at the end; otherwise the backtest fails with an
 * error saying so and how to turn the thread off — never silently different results.
 *
 * Transport (shared memory, no event loop needed: the replay runs synchronously): a control block of Int32
 * counters (calls done, records published, state, records consumed, waiting flags) and a ring of Float64
 * records — results as their numbers (calibration-codec.ts) and gaps — plus a message port for the rare
 * things that are not numbers (new shapes and strings, a structured clone, an error), read with
 * receiveMessageOnPort.
 *
 * Trade-off: the replay's thread saves the calibrator (≈ 0.4 s of CPU in a day of ETH with `cj`) and the
 * worker spends ≈ 0.7 s (the calibrator compiled afresh in a new isolate, the events made again from the
 * columns — a book's touch only, once the price grid is known — and the codec): less wall time when the second
 * core is free, ≈ 0.5 s more CPU in all.
 * docs/backtest.md has the figures.
 */
import { availableParallelism } from 'node:os';
import {
  isMainThread,
  MessageChannel,
  type MessagePort,
  receiveMessageOnPort,
  Worker,
} from 'node:worker_threads';
import type { CalibrationResult } from '../calibration/types.ts';
import type { Strategy } from '../engine/types.ts';
import type { ColumnArrays, EventColumns, PackedStrings } from '../marketdata/columnar.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { type ParamFeed, RollingParamFeed } from '../strategies/param-feed.ts';
import { type Defs, ShapeDecoder } from './calibration-codec.ts';
import type { Tape, TapeHeader } from './tape.ts';

export type CalibrationThreadMode = 'auto' | 'on' | 'off';
export const CALIBRATION_THREAD_MODES = ['auto', 'on', 'off'] as const;

/**
 * 'auto' starts the thread only for tapes of at least this many events: below, the worker (≈ 0.1 s to start,
 * then compiling the calibrator afresh) would take over little or nothing from the replay's head start — CPU
 * spent for no wall time saved (the calibrator costs the replay ≈ 0.4 µs an event).
 */
export const CALIBRATION_THREAD_MIN_EVENTS = 300_000;

// Control block (Int32 indices). What the worker writes and what the replay's side writes sit 64 bytes apart
// (separate cache lines: a write by one thread does not evict what the other reads).
export const C_CALLS = 0; // feed calls the worker has done (published after their records)
export const C_RECORDS = 1; // records published
export const C_STATE = 2; // S_RUNNING, S_DONE, S_FAILED
export const C_TOTAL_CALLS = 3; // when done: all calls
export const C_TOTAL_GAPS = 4; // when done: all gaps applied
export const C_WORKER_WAITING = 5; // the worker waits for room in the ring …
export const C_WAKE_AT = 6; // … until this many records are consumed
export const C_CONSUMED = 16; // records the replay's side has consumed
export const C_MAIN_WAITING = 17;
export const C_SLEEP = 32; // always 0: a place to sleep on
export const C_SIZE = 48;
export const S_RUNNING = 0;
export const S_DONE = 1;
export const S_FAILED = 2;

// Ring records: a header of HDR numbers, then the result's numbers.
export const HDR = 7;
export const R_RESULT = 1;
export const R_GAP = 2;
export const R_WRAP = 3; // the rest of the ring is unused: continue at 0
// Header: [kind, position, a, b, messages, shape, count]; a result: position = its call number (1-based),
// a, b = the event's exchange time and kind code (0 book, 1 trade, 2 bbo); a gap: position = calls before it,
// a, b = start, end. `messages`: messages posted before the record (those it needs: shapes, strings, a clone).
/** Ring size in Float64s (4 MiB): ≈ 1,900 results of ≈ 270 numbers. */
export const RING_SIZE = 1 << 19;
/** Records longer than an eighth of the ring go as a structured clone (the ring always holds several). */
export function maxRecord(ringSize: number): number {
  return ringSize >> 3;
}

/** Kind codes of events in records. */
export function kindCode(kind: MarketEvent['kind']): number {
  return kind === 'book' ? 0 : kind === 'trade' ? 1 : 2;
}

/** What the worker gets. */
export interface CalibrationWorkerData {
  ctl: SharedArrayBuffer;
  ring: SharedArrayBuffer;
  port: MessagePort;
  options: RollingParamFeed['options'];
  coin: string;
  clockOffsetMs: number;
  gaps: Gap[];
}

/** An in-memory tape (columns in shared memory): the one message of the replay's side. */
export interface CalibrationTapeMessage {
  tape: { cols: ColumnArrays; seq: Float64Array | undefined; lo: number; hi: number; blockRows: number };
}

/** A chunk of a streamed store (stream.ts): its columns (valid rows) and the bound of its block (messages). */
export interface CalibrationChunk {
  /** undefined: no more rows (the end of the stream). */
  cols: ColumnArrays | undefined;
  bound: number;
}

/** Messages on the port, worker → replay. */
export type WorkerMessage =
  | { t: 'defs'; defs: Defs }
  | { t: 'clone'; value: CalibrationResult }
  | { t: 'error'; message: string };

/** How to turn the thread off, for error messages. */
const OFF_SWITCH =
  "--calibration-thread off (config backtest.calibrationThread \"off\", or calibrationThread: 'off' in runBacktest) runs the calibrator on the replay's thread";

/** The backtest failed in the calibration thread, or the thread fell out of step with the replay. */
export class CalibrationThreadError extends Error {
  constructor(message: string) {
    super(`calibration thread: ${message}; ${OFF_SWITCH}`);
    this.name = 'CalibrationThreadError';
  }
}

/** A stall this long with the worker not done means it is gone (e.g. killed): fail rather than hang. */
const STALL_MS = 120_000;

let alive = 0;
let started = 0;
/** Calibration threads started and not yet exited (tests check that none is left behind). */
export function calibrationThreadsAlive(): number {
  return alive;
}
/** Calibration threads started in this process. */
export function calibrationThreadsStarted(): number {
  return started;
}

/** The strategy's rolling feed, when it has one. */
function rollingFeedOf(strategy: Strategy): RollingParamFeed | undefined {
  const f = (strategy as { paramFeed?: ParamFeed }).paramFeed;
  return f instanceof RollingParamFeed ? f : undefined;
}

/**
 * Whether a backtest of `events` events with this strategy gets a calibration thread: 'off' never; 'on'
 * whenever the strategy calibrates (its feed must be unused); 'auto' (default) when, in addition, this is the
 * process's main thread (hyperopt's workers already fill the cores), the machine has `cores` cores (2: one
 * for the replay, one for the calibrator; a streamed store that decodes its chunks on a thread of its own
 * asks for 3), and the tape is long enough to pay for the thread's start.
 */
export function wantsCalibrationThread(
  strategy: Strategy,
  mode: CalibrationThreadMode | undefined,
  events: number,
  cores = 2,
): RollingParamFeed | undefined {
  const m = mode ?? 'auto';
  if (m === 'off') return undefined;
  const feed = rollingFeedOf(strategy);
  if (!feed) return undefined;
  if (!feed.fresh) {
    if (m === 'on')
      throw new Error(
        "calibrationThread 'on': the strategy's calibrator has already consumed events (a strategy object runs one backtest)",
      );
    return undefined;
  }
  if (m === 'on') return feed;
  return isMainThread && availableParallelism() >= cores && events >= CALIBRATION_THREAD_MIN_EVENTS
    ? feed
    : undefined;
}

const sharedCopies = new WeakMap<EventColumns, ColumnArrays>();

/** The columns on shared memory (a copy made once per column set; shared ones as they are). */
function sharedColumns(cols: EventColumns): ColumnArrays {
  const a = cols.arrays();
  const views = Object.values(a).filter((v) => ArrayBuffer.isView(v)) as ArrayBufferView[];
  const packed = Array.isArray(a.strings) ? undefined : a.strings;
  if (
    views.every((v) => v.buffer instanceof SharedArrayBuffer) &&
    (!packed || packed.bytes.buffer instanceof SharedArrayBuffer)
  )
    return a;
  const hit = sharedCopies.get(cols);
  if (hit) return hit;
  const share = <T extends Float64Array | Int32Array | Uint8Array>(v: T): T => {
    const C = v.constructor as new (b: SharedArrayBuffer, o: number, n: number) => T;
    const out = new C(new SharedArrayBuffer(Math.max(8, v.byteLength)), 0, v.length);
    out.set(v as never);
    return out;
  };
  // Trade strings (hash, buyer, seller) stay an array: cloned once at the start, usually empty or small.
  const strings: string[] | PackedStrings = packed
    ? { bytes: share(packed.bytes), offsets: share(packed.offsets) }
    : a.strings;
  const out: ColumnArrays = {
    coin: a.coin,
    length: a.length,
    levels: a.levels,
    kind: share(a.kind),
    exTime: share(a.exTime),
    rxTime: share(a.rxTime),
    a: share(a.a),
    b: share(a.b),
    c: share(a.c),
    d: share(a.d),
    side: share(a.side),
    levelStart: share(a.levelStart),
    nBids: share(a.nBids),
    nAsks: share(a.nAsks),
    lvPx: share(a.lvPx),
    lvSz: share(a.lvSz),
    lvN: share(a.lvN),
    strIdx: a.strIdx ? share(a.strIdx) : undefined,
    strings,
  };
  sharedCopies.set(cols, out);
  return out;
}

/**
 * The replay's side: the strategy's feed delegates here (a ParamFeed). Start it with `start`; for a streamed
 * store give it every chunk (`chunk`) before replaying it; `finish` checks the counts, `close` always.
 */
export class CalibrationThread implements ParamFeed {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctl: Int32Array;
  private readonly ring: Float64Array;
  private readonly decoder = new ShapeDecoder();
  private readonly clones: CalibrationResult[] = [];
  private messages = 0;
  private workerError: string | undefined;
  /** Feed calls made here, gaps seen here. */
  private calls = 0;
  private gaps = 0;
  /** The worker's calls and records as last read (all records of calls ≤ known are among `published`). */
  private known = 0;
  private published = 0;
  private consumed = 0;
  private readPos = 0;
  private last: CalibrationResult | undefined;
  private closed = false;
  private exited = false;
  /**
   * The head start: a calibrator of the replay's own, used until the worker (which needs ≈ 0.1 s to start) has
   * caught up, so the replay does not wait for it; with the calls at which it made results and the gaps it
   * applied (checked against the worker's at the hand-over).
   */
  private local: RollingParamFeed | undefined;
  private localResults: number[] = [];
  private localGaps: { c: number; start: number; end: number }[] = [];
  /** How many of them the worker's records have matched so far. */
  private lr = 0;
  private lg = 0;
  /** A streamed store: whether the last chunk went to the worker (in-memory tapes: always). */
  private ended = true;

  private constructor(data: Omit<CalibrationWorkerData, 'port' | 'ctl' | 'ring'>, ringSize: number) {
    const ctl = new SharedArrayBuffer(4 * C_SIZE);
    const ring = new SharedArrayBuffer(8 * ringSize);
    this.ctl = new Int32Array(ctl);
    this.ring = new Float64Array(ring);
    const { port1, port2 } = new MessageChannel();
    this.port = port2;
    const workerData: CalibrationWorkerData = { ...data, ctl, ring, port: port1 };
    this.local = new RollingParamFeed(data.options);
    this.worker = new Worker(new URL('./calibration-thread-worker.ts', import.meta.url), {
      workerData,
      transferList: [port1],
    });
    alive++;
    started++;
    // Never keeps the process alive; errors reach the replay through the control block and the port.
    this.worker.unref();
    // An error the worker could not report itself (e.g. out of memory), and its exit, seen when the replay
    // yields (a streamed store between chunks); the waits below check them.
    this.worker.on('error', (e: Error) => {
      this.workerError ??= e.stack ?? e.message;
    });
    this.worker.once('exit', (code) => {
      alive--;
      if (!this.closed) {
        this.exited = true;
        this.workerError ??= `the worker exited (code ${code})`;
      }
    });
  }

  /** Starts the worker on an in-memory tape (its columns shared) and hands the strategy's feed to it. */
  static forTape(
    feed: RollingParamFeed,
    tape: Tape,
    blockRows: number,
    ringSize = RING_SIZE,
  ): CalibrationThread {
    const t = new CalibrationThread(
      { options: feed.options, coin: tape.coin, clockOffsetMs: tape.clockOffsetMs, gaps: tape.gaps },
      ringSize,
    );
    // The worker starts (≈ 0.1 s of loading modules) while the columns are put on shared memory, if they
    // are not there yet (buildTape's `shared` option; a copy costs ≈ 0.5 ms per MiB).
    const msg: CalibrationTapeMessage = {
      tape: {
        cols: sharedColumns(tape.cols),
        seq: tape.seq ? sharedSeq(tape.seq) : undefined,
        lo: tape.lo,
        hi: tape.hi,
        blockRows,
      },
    };
    t.worker.postMessage(msg);
    feed.delegateTo(t);
    return t;
  }

  /** Starts the worker for a streamed store: the chunks follow with `chunk`. */
  static forStream(feed: RollingParamFeed, header: TapeHeader, ringSize = RING_SIZE): CalibrationThread {
    const t = new CalibrationThread(
      { options: feed.options, coin: header.coin, clockOffsetMs: header.clockOffsetMs, gaps: header.gaps },
      ringSize,
    );
    t.ended = false;
    feed.delegateTo(t);
    return t;
  }

  /** The next chunk of a streamed store (its valid rows, as the replay gets them) and its block's bound. */
  chunk(cols: EventColumns, bound: number): void {
    const msg: CalibrationChunk = { cols: cols.arrays(), bound };
    this.worker.postMessage(msg);
    if (bound === Number.POSITIVE_INFINITY) this.ended = true;
  }

  onEvent(ev: MarketEvent): CalibrationResult | undefined {
    const c = ++this.calls;
    const local = this.local;
    if (local !== undefined) {
      // Head start: until the worker has caught up, calibrate here rather than wait for it.
      if (Atomics.load(this.ctl, C_CALLS) < c) {
        const r = local.onEvent(ev);
        if (r !== undefined) {
          this.localResults.push(c);
          this.last = r;
          this.skipLocal(c);
        }
        return r;
      }
      this.handOver(c);
    }
    if (c > this.known) this.waitFor(() => this.known >= c, c);
    const at = this.next();
    if (at < 0) return undefined;
    const ring = this.ring;
    // A record's place: a result's call, or the call a gap precedes.
    const pos = ring[at] === R_GAP ? ring[at + 1] + 1 : ring[at + 1];
    if (pos > c) return undefined;
    if (ring[at] !== R_RESULT)
      throw new CalibrationThreadError(
        `out of step with the replay: the worker applied a data gap [${ring[at + 2]}, ${ring[at + 3]}) before feed call ${pos}, the replay did not`,
      );
    if (pos !== c || ring[at + 2] !== ev.exTime || ring[at + 3] !== kindCode(ev.kind))
      throw new CalibrationThreadError(
        `out of step with the replay at feed call ${c}: the worker's result ${pos} came from a ${kindName(ring[at + 3])} event at exchange time ${ring[at + 2]}, the replay's call is a ${ev.kind} event at ${ev.exTime}`,
      );
    this.takeMessages(ring[at + 4]);
    const shape = ring[at + 5];
    const count = ring[at + 6];
    let r: CalibrationResult;
    if (shape < 0) {
      const v = this.clones.shift();
      if (v === undefined) throw new CalibrationThreadError('internal: a cloned result is missing');
      r = v;
    } else r = this.decoder.decode(shape, ring, at + HDR) as CalibrationResult;
    this.consume(at + HDR + (shape < 0 ? 0 : count));
    this.last = r;
    return r;
  }

  onGap(gap: Gap): void {
    const c = this.calls;
    this.gaps++;
    if (this.local !== undefined) {
      this.local.onGap(gap);
      this.localGaps.push({ c, start: gap.start, end: gap.end });
      this.skipLocal(c);
      return;
    }
    // The worker's record of this gap precedes its call c + 1.
    this.waitFor(() => this.consumed < this.published || this.known > c, c + 1);
    const ring = this.ring;
    const at = this.next();
    if (
      at < 0 ||
      ring[at] !== R_GAP ||
      ring[at + 1] !== c ||
      ring[at + 2] !== gap.start ||
      ring[at + 3] !== gap.end
    )
      throw new CalibrationThreadError(
        `out of step with the replay: the replay's data gap [${gap.start}, ${gap.end}) after feed call ${c} is not the worker's next one`,
      );
    this.consume(at + HDR);
  }

  current(): CalibrationResult | undefined {
    return this.last;
  }

  /**
   * After a complete replay: the worker must have made exactly the calls and applied exactly the gaps the
   * replay did (a replay stopped at a checkpoint skips this).
   */
  finish(): void {
    if (!this.ended) {
      // The replay ended before the last chunk (the rest held no valid rows): the worker's stream ends too.
      const end: CalibrationChunk = { cols: undefined, bound: Number.POSITIVE_INFINITY };
      this.worker.postMessage(end);
      this.ended = true;
    }
    // Still on the head start: take the worker's records as they come, or it could wait for room forever.
    const local = this.local !== undefined;
    this.waitFor(() => {
      if (local) this.skipLocal(this.calls + 1);
      return Atomics.load(this.ctl, C_STATE) === S_DONE;
    }, this.calls + 1);
    if (local) this.handOver(this.calls + 1);
    const calls = Atomics.load(this.ctl, C_TOTAL_CALLS);
    const gaps = Atomics.load(this.ctl, C_TOTAL_GAPS);
    if (calls !== this.calls || gaps !== this.gaps || this.consumed !== Atomics.load(this.ctl, C_RECORDS))
      throw new CalibrationThreadError(
        `out of step with the replay at the end: the worker made ${calls} feed calls and applied ${gaps} gaps, the replay ${this.calls} and ${this.gaps} (${Atomics.load(this.ctl, C_RECORDS) - this.consumed} records left)`,
      );
  }

  /** Stops the worker (idempotent; the thread is gone shortly after, see calibrationThreadsAlive). */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    void this.worker.terminate();
    this.port.close();
  }

  /**
   * Consumes what the worker published for the head start (results of calls before c, gaps up to c), checking
   * each against what the local calibrator did: the worker cannot run further ahead than the ring holds, so the
   * head start takes its records as they come.
   */
  private skipLocal(c: number): void {
    this.published = Atomics.load(this.ctl, C_RECORDS);
    const ring = this.ring;
    for (;;) {
      const at = this.next();
      if (at < 0) return;
      const gap = ring[at] === R_GAP;
      const pos = gap ? ring[at + 1] + 1 : ring[at + 1];
      if (gap ? pos > c : pos >= c) return;
      if (gap) {
        const g = this.localGaps[this.lg++];
        if (g === undefined || g.c !== ring[at + 1] || g.start !== ring[at + 2] || g.end !== ring[at + 3])
          throw new CalibrationThreadError(
            `out of step with the replay: the worker applied a data gap [${ring[at + 2]}, ${ring[at + 3]}) after feed call ${ring[at + 1]}, the replay ${g ? `[${g.start}, ${g.end}) after call ${g.c}` : 'none'}`,
          );
        this.consume(at + HDR);
        continue;
      }
      const mine = this.localResults[this.lr++];
      if (mine !== pos)
        throw new CalibrationThreadError(
          `out of step with the replay: the worker made a parameter set at feed call ${pos}, the replay's own calibrator ${mine === undefined ? 'none' : `at call ${mine}`}`,
        );
      // Shapes and strings it announced are needed later; a clone is dropped.
      this.takeMessages(ring[at + 4]);
      if (ring[at + 5] < 0) this.clones.shift();
      this.consume(at + HDR + (ring[at + 5] < 0 ? 0 : ring[at + 6]));
    }
  }

  /**
   * The worker has made call c − 1: everything it published before call c must be what the local calibrator
   * did (results and gaps, at the same calls); then the worker's results take over.
   */
  private handOver(c: number): void {
    this.waitFor(() => this.known >= c - 1, c - 1);
    this.skipLocal(c);
    if (this.lr !== this.localResults.length || this.lg !== this.localGaps.length)
      throw new CalibrationThreadError(
        `out of step with the replay before feed call ${c}: the worker made ${this.lr} parameter sets and applied ${this.lg} gaps, the replay's own calibrator ${this.localResults.length} and ${this.localGaps.length}`,
      );
    this.local = undefined;
    this.localResults = [];
    this.localGaps = [];
  }

  /** Where the next published record starts (−1: none), past a wrap mark. */
  private next(): number {
    if (this.consumed === this.published) return -1;
    const at = this.readPos;
    if (at === this.ring.length) this.readPos = 0;
    else if (this.ring[at] === R_WRAP) {
      // The mark counts as a record (the worker reuses the space behind it once it is consumed).
      this.consume(0);
      if (this.consumed === this.published)
        throw new CalibrationThreadError('internal: a wrap mark ends the ring');
    }
    return this.readPos;
  }

  private consume(end: number): void {
    this.readPos = end;
    this.consumed++;
    const ctl = this.ctl;
    Atomics.store(ctl, C_CONSUMED, this.consumed);
    // The worker, when the ring is full, waits for half of it to be read (one wake-up per many records).
    if (Atomics.load(ctl, C_WORKER_WAITING) === 1 && this.consumed >= Atomics.load(ctl, C_WAKE_AT))
      Atomics.notify(ctl, C_CONSUMED);
  }

  /** Reads the port up to the `n`-th message the worker posted. */
  private takeMessages(n: number): void {
    let spins = 0;
    while (this.messages < n) {
      const got = receiveMessageOnPort(this.port);
      if (got === undefined) {
        // Posted before the record was published, so it is there; allow for a slow hand-over all the same.
        if (++spins > 10_000)
          throw new CalibrationThreadError('internal: a message of the worker is missing');
        Atomics.wait(this.ctl, C_SLEEP, 0, 1);
        continue;
      }
      this.messages++;
      const m = got.message as WorkerMessage;
      if (m.t === 'defs') this.decoder.define(m.defs);
      else if (m.t === 'clone') this.clones.push(m.value);
      else this.workerError = m.message;
    }
  }

  /** The worker's error message, from the port. */
  private failure(): CalibrationThreadError {
    for (;;) {
      const got = receiveMessageOnPort(this.port);
      if (got === undefined) break;
      const m = got.message as WorkerMessage;
      if (m.t === 'error') this.workerError = m.message;
    }
    return new CalibrationThreadError(`the worker failed: ${this.workerError ?? 'no reason given'}`);
  }

  /**
   * Waits until `ok()` (re-reading the worker's counters), the worker is done or has failed; `call` is the
   * feed call waited for (for the error when the worker made fewer calls than the replay).
   */
  private waitFor(ok: () => boolean, call: number): void {
    const ctl = this.ctl;
    let since = performance.now();
    let lastCalls = -1;
    for (;;) {
      const calls = Atomics.load(ctl, C_CALLS);
      this.known = calls;
      this.published = Atomics.load(ctl, C_RECORDS);
      if (ok()) return;
      const state = Atomics.load(ctl, C_STATE);
      if (state === S_FAILED || this.exited) throw this.failure();
      if (state === S_DONE) {
        // Everything is published: re-read once (records and calls are final), then judge.
        this.known = Atomics.load(ctl, C_CALLS);
        this.published = Atomics.load(ctl, C_RECORDS);
        if (ok()) return;
        if (call > this.known)
          throw new CalibrationThreadError(
            `out of step with the replay: the replay makes feed call ${call}, the worker made ${this.known} in all`,
          );
        return;
      }
      if (calls !== lastCalls) {
        lastCalls = calls;
        since = performance.now();
      } else if (performance.now() - since > STALL_MS)
        throw new CalibrationThreadError(`the worker made no progress for ${STALL_MS / 1000} s`);
      Atomics.store(ctl, C_MAIN_WAITING, 1);
      if (Atomics.load(ctl, C_CALLS) === calls && Atomics.load(ctl, C_STATE) === S_RUNNING)
        Atomics.wait(ctl, C_CALLS, calls, 100);
      Atomics.store(ctl, C_MAIN_WAITING, 0);
    }
  }
}

function kindName(code: number): string {
  return code === 0 ? 'book' : code === 1 ? 'trade' : 'bbo';
}

const sharedSeqs = new WeakMap<Float64Array, Float64Array>();

function sharedSeq(seq: Float64Array): Float64Array {
  if (seq.buffer instanceof SharedArrayBuffer) return seq;
  let out = sharedSeqs.get(seq);
  if (!out) {
    out = new Float64Array(new SharedArrayBuffer(Math.max(8, seq.byteLength)), 0, seq.length);
    out.set(seq);
    sharedSeqs.set(seq, out);
  }
  return out;
}
