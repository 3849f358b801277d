/**
 * Tardis.dev datasets: its downloadable CSV files (gzip) read into the store, and `data download --source
 * tardis` through the `tardis-dev` client.
 *
 * Formats (Tardis "Downloadable CSV files → Data types"; times are µs since epoch, UTC; `timestamp` is the
 * exchange's, `local_timestamp` Tardis's receive time):
 *   trades               exchange,symbol,timestamp,local_timestamp,id,side,price,amount   (side = taker's, buy|sell)
 *   incremental_book_L2  exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount
 *                        (side bid|ask; amount = new total size at the price, 0 removes it; a run of
 *                        is_snapshot=true rows after non-snapshot rows starts a new book) — rebuilt here into
 *                        one full book event per update message (rows sharing timestamp and local_timestamp)
 *   book_snapshot_25     exchange,symbol,timestamp,local_timestamp,asks[0].price,asks[0].amount,bids[0].price,
 *                        bids[0].amount,… to [24] (empty past the book's depth)
 *   quotes               exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount
 *   derivative_ticker    exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,
 *                        predicted_funding_rate,open_interest,last_price,index_price,mark_price
 *                        (for Hyperliquid: the activeAssetCtx channel; funding_rate = ctx.funding, the hourly
 *                        rate; index_price = oraclePx) — turned into one funding row per hour boundary the
 *                        ticker crosses, with the rate, mark and oracle price last published before it.
 * Datasets URL: <endpoint>/<exchange>/<data type>/<YYYY>/<MM>/<DD>/<SYMBOL>.csv.gz, one file per day.
 */
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rm, stat } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { basename, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip } from 'node:zlib';
import type { BboEvent, BookEvent, BookLevel, MarketEvent, TradeEvent } from '../events.ts';
import type { FundingRow, MarketStore } from '../store/index.ts';
import type { ProgressSink } from './hyperliquid.ts';
import { appendLedger, type LedgerStatus, ledgerKey, readLedger } from './ledger.ts';

export const TARDIS_DATA_TYPES = [
  'trades',
  'incremental_book_L2',
  'book_snapshot_25',
  'quotes',
  'derivative_ticker',
] as const;
export type TardisDataType = (typeof TARDIS_DATA_TYPES)[number];

export const DEFAULT_TARDIS_URL = 'https://datasets.tardis.dev/v1';
export type TardisKind = 'book' | 'trade' | 'bbo' | 'funding';
export const TARDIS_KINDS: readonly TardisKind[] = ['book', 'trade', 'bbo', 'funding'];
/** Which Tardis dataset `data download --source tardis --kinds …` fetches for each kind. */
export const TARDIS_DATASET_OF: Record<TardisKind, TardisDataType> = {
  book: 'incremental_book_L2',
  trade: 'trades',
  bbo: 'quotes',
  funding: 'derivative_ticker',
};

/** Levels kept per side of a rebuilt book (Hyperliquid's l2Book has 20). */
export const REBUILT_DEPTH = 50;
const HOUR = 3_600_000;

export class TardisError extends Error {}

export interface TardisSink {
  event(ev: MarketEvent): void;
  funding(row: FundingRow): void;
  bad(line: number, reason: string): void;
}

const HEADERS: Record<Exclude<TardisDataType, 'book_snapshot_25'>, string> = {
  trades: 'exchange,symbol,timestamp,local_timestamp,id,side,price,amount',
  incremental_book_L2: 'exchange,symbol,timestamp,local_timestamp,is_snapshot,side,price,amount',
  quotes: 'exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount',
  derivative_ticker:
    'exchange,symbol,timestamp,local_timestamp,funding_timestamp,funding_rate,predicted_funding_rate,open_interest,last_price,index_price,mark_price',
};

/** The dataset a CSV header belongs to, or undefined. */
export function tardisTypeOfHeader(header: string): TardisDataType | undefined {
  const h = header.trim();
  for (const [t, cols] of Object.entries(HEADERS)) if (h === cols) return t as TardisDataType;
  if (
    /^exchange,symbol,timestamp,local_timestamp,asks\[0\]\.price,asks\[0\]\.amount,bids\[0\]\.price,bids\[0\]\.amount/.test(
      h,
    )
  )
    return 'book_snapshot_25';
  return undefined;
}

const us = (s: string) => (s === '' ? Number.NaN : Number(s) / 1000);
const numOrNaN = (s: string | undefined) => (s === undefined || s === '' ? Number.NaN : Number(s));

/** Rebuilds full books from incremental_book_L2 rows, per symbol. */
class BookRebuilder {
  private readonly bids = new Map<number, number>();
  private readonly asks = new Map<number, number>();
  /** The message (timestamp,local_timestamp) of the snapshot being read, while reading one. */
  private snapshotOf: string | undefined;

  apply(isSnapshot: boolean, message: string, side: 'bid' | 'ask', px: number, sz: number): void {
    if (isSnapshot && this.snapshotOf !== message) {
      // A new snapshot (start of file, or the exchange's resend after a reconnect): start over. Tardis's rule is
      // "snapshot rows after non-snapshot rows"; a snapshot right after another (a message of its own) too.
      this.bids.clear();
      this.asks.clear();
    }
    this.snapshotOf = isSnapshot ? message : undefined;
    const m = side === 'bid' ? this.bids : this.asks;
    if (sz === 0) m.delete(px);
    else m.set(px, sz);
  }

  book(coin: string, exTime: number, rxTime: number): BookEvent {
    const top = (m: Map<number, number>, desc: boolean): BookLevel[] => {
      const pxs = [...m.keys()].sort((a, b) => (desc ? b - a : a - b)).slice(0, REBUILT_DEPTH);
      return pxs.map((px) => ({ px, sz: m.get(px) as number, n: 0 }));
    };
    return { kind: 'book', coin, exTime, rxTime, bids: top(this.bids, true), asks: top(this.asks, false) };
  }
}

/** Derivative ticker → one funding row per hour boundary crossed. */
class FundingSampler {
  private last?: { time: number; rate: number; mark: number; index: number };

  add(coin: string, time: number, rate: number, mark: number, index: number, out: TardisSink): void {
    const prev = this.last;
    if (prev && Number.isFinite(prev.rate)) {
      // Hyperliquid settles every hour: each boundary in (prev.time, time] is paid at the rate in force.
      for (let h = Math.floor(prev.time / HOUR) * HOUR + HOUR; h <= time; h += HOUR) {
        out.funding({
          coin,
          time: h,
          fundingRate: prev.rate,
          premium: Number.NaN,
          ...(Number.isFinite(prev.mark) ? { markPx: prev.mark } : {}),
          ...(Number.isFinite(prev.index) ? { oraclePx: prev.index } : {}),
        });
      }
    }
    // A ticker row may carry only some fields (Tardis repeats the last known values, but be safe).
    this.last = {
      time,
      rate: Number.isFinite(rate) ? rate : (prev?.rate ?? Number.NaN),
      mark: Number.isFinite(mark) ? mark : (prev?.mark ?? Number.NaN),
      index: Number.isFinite(index) ? index : (prev?.index ?? Number.NaN),
    };
  }

  /**
   * End of the file. Tardis cuts files at UTC midnight, so the midnight settlement falls between two files and
   * no ticker row of either crosses it: it is paid at the rate last published in this file, if that is recent
   * (within FILE_END_FUNDING_MS of the boundary; otherwise the ticker was silent and the hour is left out).
   */
  end(coin: string, out: TardisSink): void {
    const last = this.last;
    if (!last || !Number.isFinite(last.rate)) return;
    const h = Math.floor(last.time / HOUR) * HOUR + HOUR;
    if (h - last.time > FILE_END_FUNDING_MS) return;
    out.funding({
      coin,
      time: h,
      fundingRate: last.rate,
      premium: Number.NaN,
      ...(Number.isFinite(last.mark) ? { markPx: last.mark } : {}),
      ...(Number.isFinite(last.index) ? { oraclePx: last.index } : {}),
    });
  }
}

/** How close before the next hour a file's last ticker row must be for that hour's settlement to be taken from it. */
export const FILE_END_FUNDING_MS = 5 * 60_000;

/**
 * Read one Tardis CSV file (gzip or plain), calling the sink per event / funding row. `coins` filters symbols.
 * Returns the dataset type. Throws TardisError when the header is not a known Tardis dataset.
 */
export async function readTardisCsv(
  file: string,
  sink: TardisSink,
  coins?: ReadonlySet<string>,
): Promise<TardisDataType> {
  const fh = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  const gz = magic[0] === 0x1f && magic[1] === 0x8b;
  const raw = createReadStream(file);
  const input = gz ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  let type: TardisDataType | undefined;
  let lineNo = 0;
  const books = new Map<string, BookRebuilder>();
  const funding = new Map<string, FundingSampler>();
  // incremental_book_L2: the message being applied (rows sharing symbol, timestamp and local_timestamp).
  let group: { coin: string; ts: string; local: string; ex: number; rx: number } | undefined;
  const flush = () => {
    if (!group) return;
    sink.event((books.get(group.coin) as BookRebuilder).book(group.coin, group.ex, group.rx));
    group = undefined;
  };
  let snapshotDepth = 0;
  try {
    for await (const line of rl) {
      lineNo++;
      if (lineNo === 1) {
        type = tardisTypeOfHeader(line);
        if (!type)
          throw new TardisError(
            `${file}: not a Tardis CSV dataset (header "${line.slice(0, 80)}"); expected trades, incremental_book_L2, book_snapshot_25, quotes or derivative_ticker`,
          );
        if (type === 'book_snapshot_25') snapshotDepth = (line.split(',').length - 4) / 4;
        continue;
      }
      if (line === '') continue;
      const c = line.split(',');
      const coin = c[1];
      if (!coin) {
        sink.bad(lineNo, 'symbol missing');
        continue;
      }
      if (coins && !coins.has(coin)) continue;
      const ex = us(c[2]);
      const rx = us(c[3]);
      if (!(ex > 0) || !Number.isFinite(rx)) {
        sink.bad(lineNo, `timestamp/local_timestamp are not µs times (${c[2]}, ${c[3]})`);
        continue;
      }
      if (type === 'trades') {
        const side = c[5];
        const tid = /^\d+$/.test(c[4]) ? Number(c[4]) : Number.NaN;
        const px = Number(c[6]);
        const sz = Number(c[7]);
        if (side !== 'buy' && side !== 'sell') sink.bad(lineNo, `side must be buy or sell (got ${side})`);
        else if (!Number.isSafeInteger(tid)) sink.bad(lineNo, `id is not an integer trade id (${c[4]})`);
        else if (!(px > 0) || !(sz > 0)) sink.bad(lineNo, 'price/amount are not positive numbers');
        else {
          const ev: TradeEvent = { kind: 'trade', coin, exTime: ex, rxTime: rx, px, sz, side, tid };
          sink.event(ev);
        }
      } else if (type === 'quotes') {
        const ev: BboEvent = {
          kind: 'bbo',
          coin,
          exTime: ex,
          rxTime: rx,
          askSz: numOrNaN(c[4]),
          askPx: numOrNaN(c[5]),
          bidPx: numOrNaN(c[6]),
          bidSz: numOrNaN(c[7]),
        };
        if (Number.isNaN(ev.bidPx) && Number.isNaN(ev.askPx))
          sink.bad(lineNo, 'quote has neither bid nor ask');
        else sink.event(ev);
      } else if (type === 'book_snapshot_25') {
        const bids: BookLevel[] = [];
        const asks: BookLevel[] = [];
        for (let i = 0; i < snapshotDepth; i++) {
          const j = 4 + 4 * i;
          const apx = numOrNaN(c[j]);
          const asz = numOrNaN(c[j + 1]);
          const bpx = numOrNaN(c[j + 2]);
          const bsz = numOrNaN(c[j + 3]);
          if (Number.isFinite(apx) && Number.isFinite(asz)) asks.push({ px: apx, sz: asz, n: 0 });
          if (Number.isFinite(bpx) && Number.isFinite(bsz)) bids.push({ px: bpx, sz: bsz, n: 0 });
        }
        if (bids.length === 0 && asks.length === 0) sink.bad(lineNo, 'snapshot has no level');
        else sink.event({ kind: 'book', coin, exTime: ex, rxTime: rx, bids, asks });
      } else if (type === 'incremental_book_L2') {
        const snap = c[4] === 'true';
        const side = c[5];
        const px = Number(c[6]);
        const sz = Number(c[7]);
        if ((c[4] !== 'true' && c[4] !== 'false') || (side !== 'bid' && side !== 'ask')) {
          sink.bad(lineNo, `is_snapshot/side not true|false / bid|ask (${c[4]}, ${side})`);
          continue;
        }
        if (!(px > 0) || !(sz >= 0)) {
          sink.bad(lineNo, 'price/amount are not numbers');
          continue;
        }
        if (!group || group.coin !== coin || group.ts !== c[2] || group.local !== c[3]) {
          flush();
          group = { coin, ts: c[2], local: c[3], ex, rx };
        }
        let rb = books.get(coin);
        if (!rb) {
          rb = new BookRebuilder();
          books.set(coin, rb);
        }
        rb.apply(snap, `${c[2]},${c[3]}`, side, px, sz);
      } else {
        let fs = funding.get(coin);
        if (!fs) {
          fs = new FundingSampler();
          funding.set(coin, fs);
        }
        fs.add(coin, ex, numOrNaN(c[5]), numOrNaN(c[10]), numOrNaN(c[9]), sink);
      }
    }
    flush();
    for (const [coin, fs] of funding) fs.end(coin, sink);
  } finally {
    rl.close();
    raw.destroy();
  }
  if (!type) throw new TardisError(`${file}: empty file, not a Tardis CSV dataset`);
  return type;
}

const TARDIS_FILE_RE = /\.csv(\.gz)?$/;

/** Tardis CSV files at `path` (a file, or a folder searched a few levels deep), sorted. */
export async function findTardisFiles(path: string, depth = 4): Promise<string[]> {
  const st = await stat(path);
  if (st.isFile()) return [resolve(path)];
  const out: string[] = [];
  for (const e of (await readdir(path, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1))) {
    const p = join(path, e.name);
    if (e.isDirectory() && depth > 0 && !e.name.startsWith('.'))
      out.push(...(await findTardisFiles(p, depth - 1)));
    else if (e.isFile() && TARDIS_FILE_RE.test(e.name)) out.push(resolve(p));
  }
  return out;
}

/** Whether the first line of a (gzip) CSV file is a Tardis dataset header. */
export async function isTardisCsv(file: string): Promise<boolean> {
  if (!TARDIS_FILE_RE.test(file)) return false;
  const fh = await open(file, 'r');
  const magic = Buffer.alloc(2);
  await fh.read(magic, 0, 2, 0);
  await fh.close();
  const raw = createReadStream(file, { end: 1 << 20 });
  const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
  const rl = createInterface({ input, crlfDelay: Infinity });
  try {
    for await (const line of rl) return tardisTypeOfHeader(line) !== undefined;
    return false;
  } catch {
    return false;
  } finally {
    rl.close();
    raw.destroy();
  }
}

export interface TardisImportCounts {
  read: Record<'book' | 'trade' | 'bbo' | 'funding', number>;
  written: Record<'book' | 'trade' | 'bbo' | 'funding', number>;
  duplicates: number;
  malformed: number;
  samples: { file: string; line: number; reason: string }[];
}

const BATCH = 20_000;

/** Import one Tardis file into the store in batches (memory bounded by the batch, not the day). */
export async function importTardisFile(
  file: string,
  store: MarketStore,
  counts: TardisImportCounts,
  opts: { coins?: ReadonlySet<string>; from?: number; to?: number } = {},
): Promise<TardisDataType> {
  let events: MarketEvent[] = [];
  let rows: FundingRow[] = [];
  const pending: Promise<void>[] = [];
  const from = opts.from ?? -Infinity;
  const to = opts.to ?? Infinity;
  const flushEvents = async () => {
    if (events.length === 0) return;
    const batch = events;
    events = [];
    const w = await store.write(batch);
    for (const k of ['book', 'trade', 'bbo'] as const) counts.written[k] += w.written[k];
    counts.duplicates += w.duplicates;
    counts.malformed += w.rejected;
  };
  const flushFunding = async () => {
    if (rows.length === 0) return;
    const batch = rows;
    rows = [];
    const w = await store.writeFunding(batch);
    counts.written.funding += w.written;
    counts.duplicates += w.duplicates;
    counts.malformed += w.rejected;
  };
  const type = await readTardisCsv(
    file,
    {
      event(ev) {
        if (ev.exTime < from || ev.exTime >= to) return;
        counts.read[ev.kind]++;
        events.push(ev);
        if (events.length >= BATCH) pending.push(flushEvents());
      },
      funding(r) {
        if (r.time < from || r.time >= to) return;
        counts.read.funding++;
        rows.push(r);
        if (rows.length >= BATCH) pending.push(flushFunding());
      },
      bad(line, reason) {
        counts.malformed++;
        if (counts.samples.length < 20) counts.samples.push({ file, line, reason });
      },
    },
    opts.coins,
  );
  pending.push(flushEvents(), flushFunding());
  await Promise.all(pending);
  return type;
}

export function emptyTardisCounts(): TardisImportCounts {
  const z = () => ({ book: 0, trade: 0, bbo: 0, funding: 0 });
  return { read: z(), written: z(), duplicates: 0, malformed: 0, samples: [] };
}

// ---------------------------------------------------------------------------------------------------------
// Download through the tardis-dev client

export interface TardisDownloadOptions {
  coins: string[];
  from: number;
  to: number;
  kinds: ReadonlySet<TardisKind>;
  jobs: number;
  endpoint: string;
  apiKey?: string;
  log?: (line: string) => void;
  progress?: ProgressSink;
}

export interface TardisFile {
  coin: string;
  kind: TardisKind;
  dataType: TardisDataType;
  day: number;
  url: string;
}

export interface TardisPlan {
  files: TardisFile[];
  skipped: number;
}

const DAY = 86_400_000;

function dayPath(day: number): string {
  return new Date(day).toISOString().slice(0, 10).replaceAll('-', '/');
}

/** The day files the range needs (one per coin, data type and UTC day), less those already complete. */
export async function planTardis(
  storeDir: string | undefined,
  opts: TardisDownloadOptions,
): Promise<TardisPlan> {
  const files: TardisFile[] = [];
  let skipped = 0;
  for (const coin of opts.coins) {
    const ledger: Map<string, LedgerStatus> = storeDir ? await readLedger(storeDir, coin) : new Map();
    for (const kind of TARDIS_KINDS) {
      if (!opts.kinds.has(kind)) continue;
      const dataType = TARDIS_DATASET_OF[kind];
      for (let day = Math.floor(opts.from / DAY) * DAY; day < opts.to; day += DAY) {
        if (ledger.get(ledgerKey(`tardis:${dataType}`, day)) === 'complete') {
          skipped++;
          continue;
        }
        const sym = coin.replace(/\/|:/g, '-').toUpperCase();
        files.push({
          coin,
          kind,
          dataType,
          day,
          url: `${opts.endpoint}/hyperliquid/${dataType}/${dayPath(day)}/${sym}.csv.gz`,
        });
      }
    }
  }
  return { files, skipped };
}

type TardisClient = {
  downloadDatasets(o: {
    exchange: string;
    dataTypes: string[];
    symbols: string[];
    from: string;
    to: string;
    apiKey?: string;
    downloadDir?: string;
    getFilename?: (o: { dataType: string; symbol: string; date: Date }) => string;
    skipIfExists?: boolean;
  }): Promise<void>;
};

let client: { endpoint: string; mod: TardisClient } | undefined;

/**
 * The tardis-dev client, pointed at `endpoint`. Its download module reads the datasets URL once when it loads,
 * so the endpoint is set before the first load (one endpoint per process).
 */
function tardisClient(endpoint: string): TardisClient {
  if (client) {
    if (client.endpoint !== endpoint) throw new TardisError('one Tardis datasets endpoint per process');
    return client.mod;
  }
  const require = createRequire(import.meta.url);
  (require('tardis-dev/dist/options.js') as { init(o: object): void }).init({ datasetsEndpoint: endpoint });
  client = { endpoint, mod: require('tardis-dev') as TardisClient };
  return client.mod;
}

export interface TardisDownloadReport extends TardisImportCounts {
  files: number;
  skipped: number;
  /**
   * Day files that could not be downloaded or imported (a dataset the server does not have, a server error
   * after tardis-dev's retries, a file that is not a Tardis CSV): not recorded complete, so a rerun tries them
   * again; the other files of the run still download.
   */
  failed: { file: string; day: string; dataType: string; error: string }[];
}

/**
 * Download the planned day files with tardis-dev, import each, record it complete. A refused API key (401, 403)
 * or a failure of the store stops the run (every file would meet it); any other failure of a file (its
 * download, or a file that is not a Tardis CSV) is reported in `failed` and the rest go on, so one missing day
 * does not stop a months-long download (nor every rerun at the same day).
 */
export async function runTardisDownload(
  store: MarketStore,
  opts: TardisDownloadOptions,
): Promise<TardisDownloadReport> {
  const plan = await planTardis(store.dir, opts);
  const tardis = tardisClient(opts.endpoint);
  const tmp = join(store.dir, '.tardis-download');
  await mkdir(tmp, { recursive: true });
  const counts = emptyTardisCounts();
  let next = 0;
  let failure: unknown;
  const failed: TardisDownloadReport['failed'] = [];
  opts.progress?.start(plan.files.length, plan.files.length);
  const worker = async () => {
    while (failure === undefined && next < plan.files.length) {
      const f = plan.files[next++];
      const name = `${f.dataType}_${new Date(f.day).toISOString().slice(0, 10)}_${f.coin.replace(/\W/g, '-')}.csv.gz`;
      try {
        await tardis.downloadDatasets({
          exchange: 'hyperliquid',
          dataTypes: [f.dataType],
          symbols: [f.coin],
          from: new Date(f.day).toISOString().slice(0, 10),
          to: new Date(f.day + DAY).toISOString().slice(0, 10),
          apiKey: opts.apiKey,
          downloadDir: tmp,
          getFilename: () => name,
          skipIfExists: false,
        });
        const path = join(tmp, name);
        await importTardisFile(path, store, counts, { coins: new Set([f.coin]) }).catch((err: unknown) => {
          // A file that is not a Tardis CSV is this file's failure; anything else (the store, the disk) stops
          // the run: every later file would meet it too.
          throw err instanceof TardisError ? err : new StopDownload(err);
        });
        await appendLedger(store.dir, [
          {
            coin: f.coin,
            kind: `tardis:${f.dataType}`,
            hour: f.day,
            status: 'complete',
            source: f.url,
            rows: 0,
          },
        ]);
        await rm(path, { force: true });
        opts.log?.(
          `${basename(f.url)} ${f.dataType} ${new Date(f.day).toISOString().slice(0, 10)}: imported`,
        );
      } catch (err) {
        const e = err as { status?: number; message?: string };
        if (err instanceof StopDownload) failure ??= err.cause;
        else if (e.status === 401 || e.status === 403) {
          failure ??= new TardisError(
            `Tardis refused ${f.url} (${e.status}): check TARDIS_API_KEY and your subscription`,
          );
        } else {
          const error =
            e.status !== undefined
              ? `Tardis answered ${e.status} for ${f.url}: ${String(e.message).slice(0, 200)}`
              : `${f.url}: ${err instanceof Error ? err.message : String(err)}`;
          const day = new Date(f.day).toISOString().slice(0, 10);
          failed.push({ file: f.url, day, dataType: f.dataType, error });
          opts.log?.(`${basename(f.url)} ${f.dataType} ${day}: FAILED: ${error}`);
          await rm(join(tmp, name), { force: true });
        }
      } finally {
        opts.progress?.bytes(1);
        opts.progress?.fileDone();
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.max(1, Math.min(opts.jobs, plan.files.length)) }, worker));
  } finally {
    opts.progress?.stop();
  }
  if (failure !== undefined) throw failure;
  await rm(tmp, { recursive: true, force: true });
  failed.sort((a, b) => (a.day < b.day ? -1 : a.day > b.day ? 1 : a.file < b.file ? -1 : 1));
  return { ...counts, files: plan.files.length, skipped: plan.skipped, failed };
}

/** An error that ends the whole download (its cause is rethrown). */
class StopDownload extends Error {
  constructor(cause: unknown) {
    super('download stopped', { cause });
  }
}

/** One error for the failed files of a finished Tardis download, naming each (undefined: none failed). */
export function tardisFailedError(failed: TardisDownloadReport['failed']): TardisError | undefined {
  if (failed.length === 0) return undefined;
  const shown = failed.slice(0, 5).map((f) => f.error);
  const more = failed.length > shown.length ? `; and ${failed.length - shown.length} more` : '';
  return new TardisError(
    `${failed.length} of the Tardis files could not be downloaded or imported, nothing of them was recorded complete (run the same command again to retry them): ${shown.join('; ')}${more}`,
  );
}
