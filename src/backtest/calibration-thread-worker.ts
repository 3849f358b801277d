/**
 * The calibration thread's worker (calibration-thread.ts explains the whole): walks the tape in the order the
 * replay delivers events to the strategy, feeds the deliverable ones and the gaps to a rolling calibrator with
 * the strategy's options, and publishes each result with its feed call number in the shared ring.
 */
import { parentPort, workerData } from 'node:worker_threads';
import type { EventColumns } from '../marketdata/columnar.ts';
import type { BboEvent, BookEvent, BookLevel, Gap, MarketEvent } from '../marketdata/events.ts';
import type { ReplayBlock } from './tape.ts';

/**
 * The events of the walk: one bbo and one book object, refilled for every row (the calibrator keeps numbers
 * only, and copies what it holds past a call: see RollingCalibrator's copyOfEvent); trades are made fresh
 * (their optional strings are present or absent as recorded). Saves the walk most of its allocation.
 */
class Flyweights {
  private readonly bbo: BboEvent;
  private readonly book: BookEvent;
  constructor(coin: string) {
    this.bbo = {
      kind: 'bbo',
      coin,
      exTime: 0.5,
      rxTime: 0.5,
      bidPx: 0.5,
      bidSz: 0.5,
      askPx: 0.5,
      askSz: 0.5,
    };
    this.book = { kind: 'book', coin, exTime: 0.5, rxTime: 0.5, bids: [], asks: [] };
  }

  /**
   * Row r of `c`, delivered at local time t (the replay's rxTime). A book's levels below the touch only while
   * `depth` (the calibrator infers the price grid from them; afterwards it and the delivery rule read the touch).
   */
  of(c: EventColumns, r: number, t: number, depth: boolean): MarketEvent {
    const k = c.kind[r];
    if (k === 2 /* KIND_BBO */) {
      const e = this.bbo;
      e.exTime = c.exTime[r];
      e.rxTime = t;
      e.bidPx = c.a[r];
      e.bidSz = c.b[r];
      e.askPx = c.c[r];
      e.askSz = c.d[r];
      return e;
    }
    if (k === 1 /* KIND_TRADE */) return c.event(r, t);
    const e = this.book;
    e.exTime = c.exTime[r];
    e.rxTime = t;
    const s = c.levelStart[r];
    const nb = c.nBids[r];
    const na = c.nAsks[r];
    fill(e.bids, c, s, depth || nb < 1 ? nb : 1);
    fill(e.asks, c, s + nb, depth || na < 1 ? na : 1);
    return e;
  }
}

/** levels[0..n) = the level columns' rows [from, from + n) (objects reused). */
function fill(levels: BookLevel[], c: EventColumns, from: number, n: number): void {
  while (levels.length < n) levels.push({ px: 0.5, sz: 0.5, n: 0.5 });
  levels.length = n;
  for (let k = 0; k < n; k++) {
    const l = levels[k];
    l.px = c.lvPx[from + k];
    l.sz = c.lvSz[from + k];
    l.n = c.lvN[from + k];
  }
}

// Only node modules are imported statically: a failure to load the rest is reported like any other error.
const d = workerData as import('./calibration-thread.ts').CalibrationWorkerData;

try {
  const T = await import('./calibration-thread.ts');
  const { ShapeEncoder } = await import('./calibration-codec.ts');
  const { deliverable } = await import('../engine/market-filter.ts');
  const { EventColumns } = await import('../marketdata/columnar.ts');
  const { RollingParamFeed } = await import('../strategies/param-feed.ts');
  const { TapeBlocks } = await import('./tape.ts');
  const { C_CALLS, C_RECORDS, C_STATE, C_CONSUMED, C_MAIN_WAITING, C_WORKER_WAITING, HDR } = T;

  const ctl = new Int32Array(d.ctl);
  const ring = new Float64Array(d.ring);
  const RING_SIZE = ring.length;
  const MAX_RECORD = T.maxRecord(RING_SIZE);
  const port = d.port;
  const coin = d.coin;
  const feed = new RollingParamFeed(d.options);
  const events = new Flyweights(coin);
  const enc = new ShapeEncoder();
  // Gaps fire on the replay's queue at start + offset, before a strategy-side event at the same time; in the
  // order given among equal times (the queue is stable). Trade gaps are not queued.
  const gaps = d.gaps
    .filter((g) => g.kind !== 'trade')
    .map((g, k) => ({ g, t: g.start + d.clockOffsetMs, k }))
    .sort((x, y) => x.t - y.t || x.k - y.k);
  let gi = 0;
  // Until the calibrator knows the price grid it reads whole books (tick.ts); then the touch only.
  let depth = Number.isNaN(feed.calibrator.tickSize());
  let calls = 0;
  let gapsApplied = 0;
  let records = 0;
  let messages = 0;
  // The ring: write position, and the start of every record the replay has not consumed yet (a queue).
  let w = 0;
  const starts: number[] = [];
  let head = 0;
  let consumedSeen = 0;

  const publishCalls = (): void => {
    Atomics.store(ctl, C_CALLS, calls);
    if (Atomics.load(ctl, C_MAIN_WAITING) === 1) Atomics.notify(ctl, C_CALLS);
  };

  /** Where a record of `len` numbers goes (waits while the ring is full: the replay is far behind). */
  const alloc = (len: number): number => {
    for (;;) {
      const consumed = Atomics.load(ctl, C_CONSUMED);
      while (consumedSeen < consumed) {
        head++;
        consumedSeen++;
      }
      if (head > 4096) {
        starts.splice(0, head);
        head = 0;
      }
      const empty = head === starts.length;
      const oldest = empty ? w : starts[head];
      if (empty || w > oldest) {
        if (w + len <= RING_SIZE) return w;
        // Wrap: the rest of the ring is left, the record goes to the start. The mark is a record of its own
        // (the replay's side consumes it): the space behind it is not free until the replay has passed it.
        if (empty || len < oldest) {
          if (w < RING_SIZE) {
            ring[w] = T.R_WRAP;
            starts.push(w);
            records++; // published with the record that follows
          }
          w = 0;
          return 0;
        }
      } else if (w + len < oldest) return w;
      // Full: wait until half of what is in the ring has been read (not one wake-up per record).
      const wakeAt = consumed + Math.max(1, (starts.length - head) >> 1);
      Atomics.store(ctl, T.C_WAKE_AT, wakeAt);
      Atomics.store(ctl, C_WORKER_WAITING, 1);
      const now = Atomics.load(ctl, C_CONSUMED);
      if (now < wakeAt) Atomics.wait(ctl, C_CONSUMED, now, 100);
      Atomics.store(ctl, C_WORKER_WAITING, 0);
    }
  };

  const publishRecord = (at: number, len: number): void => {
    starts.push(at);
    w = at + len;
    Atomics.store(ctl, C_RECORDS, ++records);
  };

  const post = (m: import('./calibration-thread.ts').WorkerMessage): void => {
    port.postMessage(m);
    messages++;
  };

  const applyGap = (g: Gap): void => {
    feed.onGap(g);
    gapsApplied++;
    const at = alloc(HDR);
    ring[at] = T.R_GAP;
    ring[at + 1] = calls;
    ring[at + 2] = g.start;
    ring[at + 3] = g.end;
    ring[at + 4] = messages;
    ring[at + 5] = 0;
    ring[at + 6] = 0;
    publishRecord(at, HDR);
  };

  const result = (c: number, ev: MarketEvent, r: NonNullable<ReturnType<typeof feed.onEvent>>): void => {
    const ok = enc.encode(r) && HDR + enc.length <= MAX_RECORD;
    const defs = enc.takeDefs();
    if (defs) post({ t: 'defs', defs });
    if (!ok) post({ t: 'clone', value: r });
    const n = ok ? enc.length : 0;
    const at = alloc(HDR + n);
    ring[at] = T.R_RESULT;
    ring[at + 1] = c;
    ring[at + 2] = ev.exTime;
    ring[at + 3] = T.kindCode(ev.kind);
    ring[at + 4] = messages;
    ring[at + 5] = ok ? enc.shape : -1;
    ring[at + 6] = n;
    if (ok) ring.set(enc.nums.subarray(0, n), at + HDR);
    publishRecord(at, HDR + n);
    publishCalls();
  };

  /** The strategy-side rows of a block below its bound, as the replay delivers them (BacktestReplay.feed). */
  const walk = (b: ReplayBlock): void => {
    const { cols, carry, rxRows, rxAt, rxN, bound } = b;
    let k = b.rxPos;
    for (; k < rxN; k++) {
      const t = rxAt[k];
      if (t >= bound) break;
      while (gi < gaps.length && gaps[gi].t <= t) applyGap(gaps[gi++].g);
      const r = rxRows[k];
      const ev = r >= 0 ? events.of(cols, r, t, depth) : events.of(carry as EventColumns, -1 - r, t, depth);
      if (!deliverable(ev, coin)) continue;
      const c = ++calls;
      const res = feed.onEvent(ev);
      if (depth && !Number.isNaN(feed.calibrator.tickSize())) depth = false;
      if (res !== undefined) result(c, ev, res);
      else if ((c & 63) === 0) publishCalls();
    }
    b.rxPos = k;
    publishCalls();
  };

  const done = (): void => {
    publishCalls();
    Atomics.store(ctl, T.C_TOTAL_CALLS, calls);
    Atomics.store(ctl, T.C_TOTAL_GAPS, gapsApplied);
    Atomics.store(ctl, C_STATE, T.S_DONE);
    Atomics.notify(ctl, C_CALLS);
  };

  const fail = (e: unknown): void => {
    post({ t: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
    Atomics.store(ctl, C_STATE, T.S_FAILED);
    Atomics.notify(ctl, C_CALLS);
  };

  // An in-memory tape comes in one message, a streamed store a chunk at a time. The thread stays alive until
  // the replay's side terminates it (its port must stay open until then).
  let blocks: InstanceType<typeof TapeBlocks> | undefined;
  parentPort?.on(
    'message',
    (
      m:
        | import('./calibration-thread.ts').CalibrationTapeMessage
        | import('./calibration-thread.ts').CalibrationChunk,
    ) => {
      if (Atomics.load(ctl, C_STATE) !== T.S_RUNNING) return;
      try {
        if ('tape' in m) {
          // The blocks of runBacktest (the order does not depend on them, see tape.ts).
          const tape = m.tape;
          const cols = new EventColumns(tape.cols);
          const inPlace = new TapeBlocks(d.clockOffsetMs, tape.seq);
          const ex = cols.exTime;
          let lo = tape.lo;
          for (;;) {
            let hi = Math.min(tape.hi, lo + tape.blockRows);
            while (hi < tape.hi && ex[hi] === ex[hi - 1]) hi++;
            const bound = hi < tape.hi ? ex[hi] + d.clockOffsetMs : Number.POSITIVE_INFINITY;
            walk(inPlace.inPlace(cols, lo, hi, bound));
            if (hi >= tape.hi) break;
            lo = hi;
          }
          done();
          return;
        }
        blocks ??= new TapeBlocks(d.clockOffsetMs);
        if (m.cols) walk(blocks.appended(new EventColumns(m.cols), m.bound));
        if (m.bound === Number.POSITIVE_INFINITY) done();
      } catch (e) {
        fail(e);
      }
    },
  );
} catch (e) {
  // Reported through the control block and the port: the replay's side may be blocked waiting.
  const ctl = new Int32Array(d.ctl);
  d.port.postMessage({ t: 'error', message: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  Atomics.store(ctl, 2, 2); // C_STATE = S_FAILED (the constants' module may be what failed to load)
  Atomics.notify(ctl, 0);
}
