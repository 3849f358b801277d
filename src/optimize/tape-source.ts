/**
 * How market data reaches the epoch runners: read and decoded ONCE per process into columns (typed arrays on
 * SharedArrayBuffers: src/marketdata/columnar.ts) — the valid events of one coin in exchange order — and handed
 * to every worker thread as a `SharedTapeData` descriptor (structured-cloning it shares the memory, nothing is
 * copied). A worker's replay reads the columns in place (a columnar tape, src/backtest/tape.ts): it holds no
 * per-event objects and no per-event index beyond one replay block, whatever the range. A store is read into
 * the columns chunk by chunk (no event objects at all); other sources are read whole, then packed.
 */

import { totalmem } from 'node:os';
import type { FundingRate } from '../backtest/run.ts';
import { instrumentFromData } from '../backtest/setup.ts';
import { instrumentFromStore, StoreTape, validColumns } from '../backtest/stream.ts';
import {
  type PreparedColumns,
  prepareEvents,
  type Tape,
  type TapeOptions,
  tapeFromColumns,
} from '../backtest/tape.ts';
import type { InstrumentSpec } from '../engine/types.ts';
import type { FeeSchedule } from '../exchange/fees.ts';
import {
  type ColumnArrays,
  EventColumns as Columns,
  ColumnsBuilder,
  columnBytes,
  type EventColumns,
  sharedAlloc,
} from '../marketdata/columnar.ts';
import type { Gap, MarketEvent } from '../marketdata/events.ts';
import { detectLayout, readSource } from '../marketdata/source.ts';
import { type MarketStore, openStore, queryFunding } from '../marketdata/store/index.ts';

export interface SharedTapeData {
  kind: 'shared';
  /** Identity of the data (cache key in workers): source path, coin, read window. */
  key: string;
  coin: string;
  /** Valid events in the columns. */
  n: number;
  /** The valid events of the coin, in exchange order (stable), on shared memory. */
  cols: ColumnArrays;
  /** Input position per row when the input was not in exchange order (shared), else undefined. */
  seq: Float64Array | undefined;
  /** Malformed events of the coin, and events of other coins, left out. */
  skipped: number;
  otherCoin: number;
  gaps: Gap[];
  /** Funding rates recorded in a store for the data's span (as `cjmm backtest` reads them); [] otherwise. */
  funding: FundingRate[];
}

function shared(
  key: string,
  coin: string,
  p: PreparedColumns,
  gaps: readonly Gap[],
  funding: readonly FundingRate[],
): SharedTapeData {
  return {
    kind: 'shared',
    key,
    coin,
    n: p.cols.length,
    cols: p.cols.arrays(),
    seq: p.seq,
    skipped: p.skipped,
    otherCoin: p.otherCoin,
    gaps: gaps.filter((g) => g.coin === coin).map((g) => ({ ...g })),
    funding: funding.map((f) => ({ ...f })),
  };
}

/** Packs the events of one coin (and its gaps) into shared memory: validated, in exchange order. */
export function packEvents(
  key: string,
  coin: string,
  all: readonly MarketEvent[],
  gaps: readonly Gap[],
  funding: readonly FundingRate[] = [],
): SharedTapeData {
  return shared(key, coin, prepareEvents(all, coin, sharedAlloc), gaps, funding);
}

/** The columns of a descriptor as the replay reads them (a view: no copy). */
export function sharedColumns(d: SharedTapeData): PreparedColumns {
  return { cols: new Columns(d.cols), seq: d.seq, skipped: d.skipped, otherCoin: d.otherCoin };
}

/** A tape of one window over the shared columns (the window's counts and clock offset; no copy of events). */
export function sharedTape(d: SharedTapeData, opts: TapeOptions): Tape {
  return tapeFromColumns(sharedColumns(d), d.gaps, { ...opts, coin: d.coin });
}

export interface LoadedShared {
  shared: SharedTapeData;
  /** Events of the coin read (valid and malformed), and the first and last one's exchange time (ms). */
  read: number;
  firstEx: number;
  lastEx: number;
  /** Malformed records the reader itself skipped (raw sources). */
  malformed: number;
  /** The instrument as `cjmm backtest` infers it from the data, when `given` was passed. */
  instrument?: InstrumentSpec;
}

type Given = { tick?: number; szDecimals?: number; lotSize?: number; fees?: FeeSchedule };

/**
 * Reads a source once (any layout `cjmm data` reads; a store chunk by chunk, straight into columns) and packs
 * one coin of it into shared memory. With `given`, also infers the instrument as `cjmm backtest` does.
 */
export async function loadShared(
  path: string,
  coin: string,
  window: { from?: number; to?: number } = {},
  given?: Given,
): Promise<LoadedShared> {
  const key = `${path}\u0000${coin}\u0000${window.from ?? ''}\u0000${window.to ?? ''}`;
  if ((await detectLayout(path)) === 'store') {
    const store = await openStore(path);
    try {
      return await loadStore(store, key, coin, window, given);
    } finally {
      await store.close();
    }
  }
  const data = await readSource(path, { coin, from: window.from, to: window.to });
  const mine = data.events.filter((e) => e.coin === coin);
  const funding =
    mine.length > 0 ? await recordedFunding(path, coin, mine[0].exTime, mine[mine.length - 1].exTime) : [];
  return {
    shared: packEvents(key, coin, data.events, data.gaps, funding),
    read: mine.length,
    firstEx: mine.length > 0 ? mine[0].exTime : Number.NaN,
    lastEx: mine.length > 0 ? mine[mine.length - 1].exTime : Number.NaN,
    malformed: data.report.malformed,
    instrument: given && mine.length > 0 ? instrumentFromData(coin, data.events, given) : undefined,
  };
}

/** A store, one chunk at a time into one shared set of columns (the valid events; the rest counted). */
async function loadStore(
  store: MarketStore,
  key: string,
  coin: string,
  window: { from?: number; to?: number },
  given?: Given,
): Promise<LoadedShared> {
  const tape = await StoreTape.open(store, { coin, from: window.from, to: window.to });
  const h = tape.header;
  const b = new ColumnsBuilder(coin, h.length, 0);
  let first = Number.NaN;
  let last = Number.NaN;
  for (let k = 0; k < tape.chunks; k++) {
    const raw = await tape.load(k);
    if (raw.length === 0) continue;
    if (Number.isNaN(first)) first = raw.exTime[0];
    last = raw.exTime[raw.length - 1];
    const { cols } = validColumns(raw);
    for (let r = 0; r < cols.length; r++) b.pushRow(cols, r);
  }
  const cols: EventColumns = b.build(sharedAlloc);
  const read = h.length + h.counts.skipped;
  const gaps = (await store.gaps(coin)).filter(
    (g) => g.end > (window.from ?? -Infinity) && g.start < (window.to ?? Infinity),
  );
  const funding = read > 0 ? await fundingOf(store, coin, first, last) : [];
  const prepared: PreparedColumns = { cols, seq: undefined, skipped: h.counts.skipped, otherCoin: 0 };
  return {
    shared: shared(key, coin, prepared, gaps, funding),
    read,
    firstEx: first,
    lastEx: last,
    malformed: 0,
    instrument: given && read > 0 ? await instrumentFromStore(tape, given) : undefined,
  };
}

async function fundingOf(
  store: MarketStore,
  coin: string,
  start: number,
  end: number,
): Promise<FundingRate[]> {
  const rows = await queryFunding(store, coin, start - 3_600_000, end + 1);
  return rows.map((r) => ({
    time: r.time,
    rate: r.fundingRate,
    price: r.oraclePx !== undefined && r.oraclePx > 0 ? r.oraclePx : undefined,
  }));
}

/** Funding rates recorded in a store around [start, end] (what `cjmm backtest` charges); [] for other sources. */
async function recordedFunding(
  path: string,
  coin: string,
  start: number,
  end: number,
): Promise<FundingRate[]> {
  if ((await detectLayout(path).catch(() => undefined)) !== 'store') return [];
  const store = await openStore(path);
  try {
    return await fundingOf(store, coin, start, end);
  } finally {
    await store.close();
  }
}

/** Total bytes of shared memory a descriptor holds. */
export function sharedBytes(d: SharedTapeData): number {
  return columnBytes(d.cols) + (d.seq ? d.seq.buffer.byteLength : 0);
}

/**
 * How a worker thread replays the shared columns. `columns`: in place, making each event object as the replay
 * consumes it (memory per thread: one replay block, whatever the range). `objects`: every event object made
 * once per thread, on its first epoch, and handed to every later epoch (memory per thread grows with the
 * range). Results are identical; objects save the per-epoch construction (measured on the shared ETH
 * recording, interleaved in one process: −13 to −16 % CPU per `fixed` epoch, −4 to −7 % per `cj` epoch).
 * `auto` takes objects while they stay small next to a thread's own footprint (OBJECTS_AUTO_MAX_BYTES per
 * thread, and all threads' together within 1/16 of the machine's memory), else the columns.
 */
export const TAPE_MODES = ['auto', 'objects', 'columns'] as const;
export type TapeModeOption = (typeof TAPE_MODES)[number];
export type TapeMode = Exclude<TapeModeOption, 'auto'>;

/** Per thread: above this, `auto` replays the columns in place (a few hours of a liquid coin's book). */
export const OBJECTS_AUTO_MAX_BYTES = 64 * 2 ** 20;

/**
 * Heap bytes the event objects of a descriptor take in one thread (V8, pointer compression): per event and
 * per book level as measured on the shared ETH recording (12.0 MB for 18,433 events with 83,240 levels:
 * ≈ 200 B per event + 100 B per level), plus each trade's own copies of its strings.
 */
export function objectBytes(d: SharedTapeData): number {
  let strings = 0;
  const idx = d.cols.strIdx;
  const t = d.cols.strings;
  if (idx !== undefined)
    for (let k = 0; k < 3 * d.n; k++) {
      const i = idx[k];
      if (i < 0) continue;
      strings += 16 + (Array.isArray(t) ? t[i].length : t.offsets[i + 1] - t.offsets[i]);
    }
  return 200 * d.n + 100 * d.cols.levels + strings;
}

/** The mode a thread uses for a descriptor, with `threads` threads of the process doing the same. */
export function resolveTapeMode(
  option: TapeModeOption,
  d: SharedTapeData,
  threads: number,
  machineBytes = totalmem(),
): TapeMode {
  if (option !== 'auto') return option;
  const each = objectBytes(d);
  return each <= OBJECTS_AUTO_MAX_BYTES && each * threads <= machineBytes / 16 ? 'objects' : 'columns';
}

/**
 * Makes every row's event object once (this thread's heap) and hands them to the replay (`cols.objects`):
 * each epoch then reads them instead of making its own.
 */
export function materialise(cols: EventColumns): void {
  const out: MarketEvent[] = new Array(cols.length);
  for (let r = 0; r < cols.length; r++) out[r] = cols.event(r);
  cols.objects = out;
}
