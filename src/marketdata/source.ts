/**
 * Market-data sources: every layout a user may already have, read directly into normalised events (for
 * `--data` on calibration and backtests) or imported into the store (`cjmm data import`).
 *
 * Layouts (detected automatically by `detectLayout`):
 * - 'store'        a cjmm store (folder with cjmm-store.json)
 * - 'seed-parquet' the original collector: `<SYM>/{orderbooks,prices,trades}/*.parquet` (or one `<SYM>` folder)
 * - 'seed-csv'     the same collector's older CSV: `orderbooks_<SYM>.csv`, `trades_<SYM>.csv`, `prices_<SYM>.csv`
 *                  side by side (the folder, its `HL_data` subfolder, or one such file)
 * - 'archive'      Hyperliquid's archive `market_data/<YYYYMMDD>/<hour>/l2Book/<COIN>.lz4` (any folder above
 *                  the .lz4 files, or one file)
 * - 'ws-capture'   raw websocket capture, `<ns receive time> <json>` per line, gzip or plain
 * - 'tardis'       Tardis.dev CSV datasets as Tardis serves them (`*.csv.gz`: trades, incremental_book_L2,
 *                  book_snapshot_25, quotes, derivative_ticker; see download/tardis.ts), a file or a folder
 *
 * Malformed rows, lines and files are counted, reported with file and line (row number for Parquet), and
 * skipped. `readSource` holds what it reads in memory (fine for hours of one coin); `importSource` takes
 * archives one hour file at a time.
 */
import { createReadStream, type Dirent } from 'node:fs';
import { open, readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { createGunzip, gunzipSync, constants as zlibConstants } from 'node:zlib';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import { decompressFrameSync } from 'lz4-napi';
import {
  emptyTardisCounts,
  findTardisFiles,
  importTardisFile,
  isTardisCsv,
  readTardisCsv,
} from './download/tardis.ts';
import type { BboEvent, BookLevel, Gap, MarketEvent, MarketEventKind, TradeEvent } from './events.ts';
import { DEFAULT_GAP_THRESHOLD_MS, detectGaps } from './gaps.ts';
import { MalformedMessageError, parseWsMessage } from './hyperliquid-wire.ts';
import {
  isStore,
  MARKET_EVENT_KINDS,
  type MarketStore,
  mergeSorted,
  openStore,
  type WriteResult,
} from './store/index.ts';
import { nsTextToMs, parseIsoNanos } from './time.ts';

export type SourceLayout = 'store' | 'seed-parquet' | 'seed-csv' | 'archive' | 'ws-capture' | 'tardis';
export const SOURCE_LAYOUTS: readonly SourceLayout[] = [
  'store',
  'seed-parquet',
  'seed-csv',
  'archive',
  'ws-capture',
  'tardis',
];

export interface MalformedSample {
  file: string;
  /** 1-based line (text files, header = line 1) or row (Parquet) number; 0 = the whole file. */
  line: number;
  reason: string;
}

export interface ImportReport {
  source: string;
  layout: SourceLayout;
  files: number;
  /** Events read from the source (after the coin/time filters). */
  read: Record<MarketEventKind, number>;
  /** Events newly stored (import only; 0 for a plain read). */
  written: Record<MarketEventKind, number>;
  /** Events already in the store or repeated within the source (exchange replays after reconnects). */
  duplicates: number;
  malformed: number;
  /** The first few malformed items with their location. */
  malformedSamples: MalformedSample[];
  gaps: Gap[];
  /** Funding settlements (Tardis derivative_ticker), when the source has any. */
  funding?: { read: number; written: number };
}

export interface ReadOptions {
  coin?: string;
  /** Exchange time window, ms: [from, to). */
  from?: number;
  to?: number;
  /** Book/bbo silence longer than this is recorded as a gap (default 5 s). */
  gapThresholdMs?: number;
}

export interface SourceData {
  events: MarketEvent[];
  gaps: Gap[];
  report: ImportReport;
}

/** The path cannot be read as market data (user error: message says what was expected). */
export class SourceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SourceError';
  }
}

const MAX_SAMPLES = 20;
const SEED_DTYPES = ['orderbooks', 'prices', 'trades'] as const;
type SeedDtype = (typeof SEED_DTYPES)[number];
const SEED_CSV_RE = /^(orderbooks|prices|trades)_(.+)\.csv$/;

const KIND_RANK: Record<MarketEventKind, number> = { book: 0, bbo: 1, trade: 2 };

/** Stable order for replay: exchange time, then book, bbo, trade; trades of one time by tid. */
export function compareEvents(a: MarketEvent, b: MarketEvent): number {
  if (a.exTime !== b.exTime) return a.exTime - b.exTime;
  if (a.kind !== b.kind) return KIND_RANK[a.kind] - KIND_RANK[b.kind];
  if (a.kind === 'trade' && b.kind === 'trade') return a.tid - b.tid;
  return 0;
}

class Collector {
  readonly events: MarketEvent[] = [];
  readonly read: Record<MarketEventKind, number> = { book: 0, trade: 0, bbo: 0 };
  malformed = 0;
  readonly samples: MalformedSample[] = [];
  files = 0;
  private readonly coin?: string;
  private readonly from: number;
  private readonly to: number;

  constructor(opts: ReadOptions) {
    this.coin = opts.coin;
    this.from = opts.from ?? -Infinity;
    this.to = opts.to ?? Infinity;
  }

  wantsCoin(coin: string): boolean {
    return this.coin === undefined || this.coin === coin;
  }

  push(ev: MarketEvent): void {
    if (!this.wantsCoin(ev.coin) || ev.exTime < this.from || ev.exTime >= this.to) return;
    this.events.push(ev);
    this.read[ev.kind]++;
  }

  bad(file: string, line: number, reason: string): void {
    this.malformed++;
    if (this.samples.length < MAX_SAMPLES) this.samples.push({ file, line, reason });
  }
}

// ---------------------------------------------------------------------------------------------------------
// Layout detection

async function statOrNull(path: string) {
  try {
    return await stat(path);
  } catch {
    return null;
  }
}

async function entries(dir: string): Promise<Dirent[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : 1));
  } catch {
    return [];
  }
}

/** First bytes of a file, gunzipped when gzip (partial inflate is fine for sniffing). */
async function headText(path: string, bytes = 65536): Promise<string> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(bytes);
    const { bytesRead } = await fh.read(buf, 0, bytes, 0);
    const head = buf.subarray(0, bytesRead);
    if (head[0] === 0x1f && head[1] === 0x8b) {
      try {
        return gunzipSync(head, { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString('utf8');
      } catch {
        return '';
      }
    }
    return head.toString('utf8');
  } finally {
    await fh.close();
  }
}

const WS_LINE_RE = /^\d{10,20} [[{]/;

/** Archive .lz4 files (in `l2Book` folders) at or below `dir`, up to a few levels deep. */
async function findArchiveFiles(dir: string, depth = 6): Promise<string[]> {
  const out: string[] = [];
  for (const e of await entries(dir)) {
    const p = join(dir, e.name);
    if (e.isDirectory() && depth > 0) out.push(...(await findArchiveFiles(p, depth - 1)));
    else if (e.isFile() && e.name.endsWith('.lz4')) out.push(p);
  }
  return out;
}

async function hasSeedDtypeDirs(dir: string): Promise<boolean> {
  for (const dt of SEED_DTYPES) {
    for (const e of await entries(join(dir, dt))) if (e.isFile() && e.name.endsWith('.parquet')) return true;
  }
  return false;
}

/** Symbol folders of a seed-parquet root (the folder itself when it is one symbol). */
async function seedSymbolDirs(root: string): Promise<string[]> {
  if (await hasSeedDtypeDirs(root)) return [root];
  const out: string[] = [];
  for (const e of await entries(root)) {
    if (e.isDirectory() && (await hasSeedDtypeDirs(join(root, e.name)))) out.push(join(root, e.name));
  }
  return out;
}

async function seedCsvFiles(dir: string): Promise<string[]> {
  const here = (await entries(dir))
    .filter((e) => e.isFile() && SEED_CSV_RE.test(e.name))
    .map((e) => join(dir, e.name));
  if (here.length > 0) return here;
  const hl = join(dir, 'HL_data');
  return (await entries(hl))
    .filter((e) => e.isFile() && SEED_CSV_RE.test(e.name))
    .map((e) => join(hl, e.name));
}

/** Which layout `path` holds. Throws SourceError when it is none of them. */
export async function detectLayout(path: string): Promise<SourceLayout> {
  const abs = resolve(path);
  const st = await statOrNull(abs);
  if (!st) throw new SourceError(`${path}: no such file or folder`);
  if (st.isFile()) {
    const name = basename(abs);
    if (name.endsWith('.lz4')) return 'archive';
    if (SEED_CSV_RE.test(name)) return 'seed-csv';
    if (await isTardisCsv(abs)) return 'tardis';
    const head = await headText(abs);
    if (WS_LINE_RE.test(head)) return 'ws-capture';
    throw new SourceError(
      `${path}: not a recognised market-data file (expected <COIN>.lz4 archive, <kind>_<SYM>.csv, a Tardis.dev CSV dataset, or a websocket capture of "<ns> <json>" lines)`,
    );
  }
  if (await isStore(abs)) return 'store';
  if ((await seedSymbolDirs(abs)).length > 0) return 'seed-parquet';
  if ((await seedCsvFiles(abs)).length > 0) return 'seed-csv';
  if ((await findArchiveFiles(abs)).length > 0) return 'archive';
  for (const f of await findTardisFiles(abs)) if (await isTardisCsv(f)) return 'tardis';
  throw new SourceError(
    `${path}: cannot tell the layout; expected a cjmm store, <SYM>/{orderbooks,prices,trades}/*.parquet, ` +
      `orderbooks_<SYM>.csv/trades_<SYM>.csv/prices_<SYM>.csv, market_data/<date>/<hour>/l2Book/<COIN>.lz4, ` +
      `a websocket capture file, or Tardis.dev CSV datasets (*.csv.gz)`,
  );
}

// ---------------------------------------------------------------------------------------------------------
// Seed collector rows (shared by the Parquet and CSV readers)

type Cell = unknown;

function toNum(v: Cell): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'string') {
    const s = v.trim();
    if (s === '' || s.toLowerCase() === 'nan') return Number.NaN;
    return Number(s);
  }
  return Number.NaN;
}

function toStr(v: Cell): string {
  if (typeof v === 'string') return v.trim();
  if (v === null || v === undefined) return '';
  return String(v);
}

/** Column positions of one seed table, resolved once per file from its header / schema. */
interface SeedColumns {
  timestamp: number;
  exchange: number;
  price: number;
  size: number;
  side: number;
  tradeId: number;
  /** orderbooks: [bidPx, bidSz, askPx, askSz] per level index. */
  levels: Array<[number, number, number, number]>;
}

function seedColumns(names: string[], dtype: SeedDtype): SeedColumns | string {
  const at = (n: string) => names.indexOf(n);
  const cols: SeedColumns = {
    timestamp: at('timestamp'),
    exchange: at('exchange_timestamp'),
    price: at('price'),
    size: at('size'),
    side: at('side'),
    tradeId: at('trade_id'),
    levels: [],
  };
  const required: Record<SeedDtype, string[]> = {
    orderbooks: ['timestamp', 'exchange_timestamp', 'bid_price_0', 'ask_price_0'],
    prices: ['timestamp', 'exchange_timestamp', 'price', 'size', 'side'],
    trades: ['timestamp', 'exchange_timestamp', 'price', 'size', 'side', 'trade_id'],
  };
  const missing = required[dtype].filter((n) => at(n) < 0);
  if (missing.length > 0) return `missing column(s) ${missing.join(', ')}`;
  for (let i = 0; at(`bid_price_${i}`) >= 0 || at(`ask_price_${i}`) >= 0; i++) {
    cols.levels.push([at(`bid_price_${i}`), at(`bid_size_${i}`), at(`ask_price_${i}`), at(`ask_size_${i}`)]);
  }
  return cols;
}

/** Pairs the seed's two `prices` rows (bid, ask) of one bbo message back into one event. */
class BboPairer {
  private readonly open = new Map<string, BboEvent>();
  private readonly order: BboEvent[] = [];

  add(coin: string, exTime: number, rxTime: number, side: 'bid' | 'ask', px: number, sz: number): boolean {
    const key = `${exTime}|${rxTime}`;
    let ev = this.open.get(key);
    if (!ev) {
      ev = {
        kind: 'bbo',
        coin,
        exTime,
        rxTime,
        bidPx: Number.NaN,
        bidSz: Number.NaN,
        askPx: Number.NaN,
        askSz: Number.NaN,
      };
      this.open.set(key, ev);
      this.order.push(ev);
    }
    if (side === 'bid') {
      if (!Number.isNaN(ev.bidPx)) return false;
      ev.bidPx = px;
      ev.bidSz = sz;
    } else {
      if (!Number.isNaN(ev.askPx)) return false;
      ev.askPx = px;
      ev.askSz = sz;
    }
    return true;
  }

  drain(): BboEvent[] {
    return this.order;
  }
}

/** One seed row → event (or bbo half), or a reason it is malformed. */
function seedRow(
  dtype: SeedDtype,
  coin: string,
  cols: SeedColumns,
  get: (i: number) => Cell,
  out: Collector,
  pairer: BboPairer,
): string | undefined {
  const ts = toNum(get(cols.timestamp));
  const ex = toNum(get(cols.exchange));
  if (!(ex > 0) || !Number.isFinite(ex))
    return `exchange_timestamp is not a positive time (${toStr(get(cols.exchange))})`;
  if (!(ts > 0) || !Number.isFinite(ts))
    return `timestamp is not a positive time (${toStr(get(cols.timestamp))})`;
  const rx = ts * 1000;
  if (dtype === 'orderbooks') {
    const bids: BookLevel[] = [];
    const asks: BookLevel[] = [];
    for (const [bp, bs, ap, as] of cols.levels) {
      const bpx = bp >= 0 ? toNum(get(bp)) : Number.NaN;
      const bsz = bs >= 0 ? toNum(get(bs)) : Number.NaN;
      if (Number.isFinite(bpx) && Number.isFinite(bsz)) bids.push({ px: bpx, sz: bsz, n: 0 });
      const apx = ap >= 0 ? toNum(get(ap)) : Number.NaN;
      const asz = as >= 0 ? toNum(get(as)) : Number.NaN;
      if (Number.isFinite(apx) && Number.isFinite(asz)) asks.push({ px: apx, sz: asz, n: 0 });
    }
    if (bids.length === 0 && asks.length === 0) return 'book has no valid level';
    out.push({ kind: 'book', coin, exTime: ex, rxTime: rx, bids, asks });
    return undefined;
  }
  const px = toNum(get(cols.price));
  const sz = toNum(get(cols.size));
  if (!Number.isFinite(px) || !(px > 0)) return `price is not a positive number (${toStr(get(cols.price))})`;
  if (!Number.isFinite(sz) || sz < 0) return `size is not a non-negative number (${toStr(get(cols.size))})`;
  const side = toStr(get(cols.side));
  if (dtype === 'prices') {
    if (side !== 'bid' && side !== 'ask') return `side must be 'bid' or 'ask' (got '${side}')`;
    if (!pairer.add(coin, ex, rx, side, px, sz)) return `second '${side}' row for the same bbo message`;
    return undefined;
  }
  if (side !== 'buy' && side !== 'sell') return `side must be 'buy' or 'sell' (got '${side}')`;
  if (!(sz > 0)) return 'size must be > 0';
  const tidText = toStr(get(cols.tradeId));
  const tid = /^\d+$/.test(tidText) ? Number(tidText) : Number.NaN;
  if (!Number.isSafeInteger(tid)) return `trade_id is not an integer below 2^53 (${tidText})`;
  const ev: TradeEvent = { kind: 'trade', coin, exTime: ex, rxTime: rx, px, sz, side, tid };
  out.push(ev);
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------
// Readers

async function withDuck<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const inst = await DuckDBInstance.create(':memory:', { threads: '2' });
  const conn = await inst.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
    inst.closeSync();
  }
}

interface SeedTable {
  names: string[];
  columns: Cell[][];
  rows: number;
  /** Per row: source file and 1-based row number within it. */
  fileOf: (r: number) => string;
  rowOf: (r: number) => number;
}

/** Read seed Parquet files into columns, or the reason they cannot be read. */
async function readSeedFiles(
  conn: DuckDBConnection,
  files: string[],
  strict: boolean,
): Promise<SeedTable | string> {
  const list = `[${files.map((f) => `'${f.replaceAll("'", "''")}'`).join(', ')}]`;
  try {
    const reader = await conn.runAndReadAll(
      files.length === 1
        ? `SELECT * FROM read_parquet(${list})`
        : `SELECT * FROM read_parquet(${list}, filename = true, file_row_number = true)`,
    );
    const names = reader.columnNames();
    const columns = reader.getColumns();
    const rows = reader.currentRowCount;
    if (files.length === 1) return { names, columns, rows, fileOf: () => files[0], rowOf: (r) => r + 1 };
    const fIdx = names.indexOf('filename');
    const rIdx = names.indexOf('file_row_number');
    return {
      names,
      columns,
      rows,
      fileOf: (r) => String(columns[fIdx][r]),
      rowOf: (r) => Number(columns[rIdx][r]) + 1,
    };
  } catch (err) {
    if (strict && files.length > 1) return 'fallback';
    return `unreadable Parquet file: ${(err as Error).message.split('\n')[0]}`;
  }
}

function consumeSeedTable(
  t: SeedTable,
  dtype: SeedDtype,
  coin: string,
  c: Collector,
  pairer: BboPairer,
): void {
  const cols = seedColumns(t.names, dtype);
  if (typeof cols === 'string') {
    // A schema problem: name each file once.
    const files = new Set<string>();
    for (let r = 0; r < t.rows; r++) files.add(t.fileOf(r));
    for (const f of files) c.bad(f, 0, cols);
    return;
  }
  const { columns } = t;
  for (let r = 0; r < t.rows; r++) {
    const why = seedRow(dtype, coin, cols, (i) => columns[i][r], c, pairer);
    if (why) c.bad(t.fileOf(r), t.rowOf(r), why);
  }
}

async function readSeedParquet(root: string, c: Collector): Promise<void> {
  const symbols = await seedSymbolDirs(root);
  await withDuck(async (conn) => {
    for (const symDir of symbols) {
      const coin = basename(symDir);
      if (!c.wantsCoin(coin)) continue;
      const pairer = new BboPairer();
      for (const dtype of SEED_DTYPES) {
        const files = (await entries(join(symDir, dtype)))
          .filter((e) => e.isFile() && e.name.endsWith('.parquet') && !e.name.startsWith('.'))
          .map((e) => join(symDir, dtype, e.name));
        c.files += files.length;
        if (files.length === 0) continue;
        // Fast path: one query per table. If any file is unreadable or has another schema, fall back to
        // reading file by file so the bad one is reported and the rest still imported.
        const all = await readSeedFiles(conn, files, true);
        if (typeof all !== 'string') {
          consumeSeedTable(all, dtype, coin, c, pairer);
          continue;
        }
        for (const file of files) {
          const one = await readSeedFiles(conn, [file], false);
          if (typeof one === 'string') c.bad(file, 0, one);
          else consumeSeedTable(one, dtype, coin, c, pairer);
        }
      }
      for (const ev of pairer.drain()) c.push(ev);
    }
  });
}

/** Minimal CSV field splitter: the collector wrote plain numbers and words (quotes stripped if present). */
function splitCsv(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (ch === '"') {
      if (quoted && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else quoted = !quoted;
    } else if (ch === ',' && !quoted) {
      out.push(cur);
      cur = '';
    } else cur += ch;
  }
  out.push(cur);
  return out;
}

async function readSeedCsv(path: string, c: Collector): Promise<void> {
  const st = await stat(path);
  const files = st.isFile() ? [resolve(path)] : await seedCsvFiles(resolve(path));
  const pairers = new Map<string, BboPairer>();
  // orderbooks and trades first, prices (paired at the end) last: order does not matter for correctness.
  for (const file of files) {
    const m = SEED_CSV_RE.exec(basename(file));
    if (!m) continue;
    const dtype = m[1] as SeedDtype;
    const coin = m[2];
    if (!c.wantsCoin(coin)) continue;
    c.files++;
    let pairer = pairers.get(coin);
    if (!pairer) {
      pairer = new BboPairer();
      pairers.set(coin, pairer);
    }
    const rl = createInterface({ input: createReadStream(file), crlfDelay: Infinity });
    let lineNo = 0;
    let cols: SeedColumns | undefined;
    for await (const raw of rl) {
      lineNo++;
      const line = raw.trimEnd();
      if (lineNo === 1) {
        const header = splitCsv(line).map((h) => h.trim());
        const res = seedColumns(header, dtype);
        if (typeof res === 'string') {
          c.bad(file, 1, res);
          break;
        }
        cols = res;
        continue;
      }
      if (line === '' || !cols) continue;
      const cells = splitCsv(line);
      const why = seedRow(dtype, coin, cols, (i) => (i >= 0 ? cells[i] : undefined), c, pairer);
      if (why) c.bad(file, lineNo, why);
    }
  }
  for (const p of pairers.values()) for (const ev of p.drain()) c.push(ev);
}

/** Archive files under `path` in time order (date, hour, then coin). */
async function archiveFiles(path: string): Promise<string[]> {
  const st = await stat(path);
  const files = st.isFile() ? [resolve(path)] : await findArchiveFiles(resolve(path));
  const key = (f: string) => {
    const hour = basename(dirname(dirname(f)));
    const date = basename(dirname(dirname(dirname(f))));
    return `${date}/${hour.padStart(2, '0')}/${basename(f)}`;
  };
  return files.sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
}

async function readArchive(path: string, c: Collector, opts: ReadOptions, only?: string[]): Promise<void> {
  const files = only ?? (await archiveFiles(path));
  for (const file of files) {
    const coin = basename(file, '.lz4');
    if (!c.wantsCoin(coin)) continue;
    // Skip hour files wholly outside the window (folders are market_data/<YYYYMMDD>/<hour>/l2Book/).
    const hourDir = basename(dirname(dirname(file)));
    const dateDir = basename(dirname(dirname(dirname(file))));
    if (/^\d{8}$/.test(dateDir) && /^\d{1,2}$/.test(hourDir)) {
      const start = Date.UTC(+dateDir.slice(0, 4), +dateDir.slice(4, 6) - 1, +dateDir.slice(6, 8), +hourDir);
      // Snapshots near an hour boundary can carry the previous/next hour's time: keep a minute of slack.
      if (
        (opts.to !== undefined && start - 60_000 >= opts.to) ||
        (opts.from !== undefined && start + 3_660_000 < opts.from)
      )
        continue;
    }
    c.files++;
    let text: string;
    try {
      text = decompressFrameSync(await readFile(file)).toString('utf8');
    } catch (err) {
      c.bad(file, 0, `not an LZ4 frame: ${(err as Error).message}`);
      continue;
    }
    let lineNo = 0;
    let pos = 0;
    while (pos < text.length) {
      let nl = text.indexOf('\n', pos);
      if (nl < 0) nl = text.length;
      const line = text.slice(pos, nl);
      pos = nl + 1;
      lineNo++;
      if (line.trim() === '') continue;
      try {
        const rec = JSON.parse(line) as { time?: unknown; raw?: unknown };
        const rx = typeof rec.time === 'string' ? parseIsoNanos(rec.time) : Number.NaN;
        if (Number.isNaN(rx)) throw new MalformedMessageError('archive', `time is not an ISO timestamp`);
        for (const ev of parseWsMessage(rec.raw, rx)) c.push(ev);
      } catch (err) {
        c.bad(file, lineNo, err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message);
      }
    }
  }
}

async function readWsCapture(path: string, c: Collector): Promise<void> {
  const file = resolve(path);
  c.files++;
  const head = Buffer.alloc(2);
  const fh = await open(file, 'r');
  await fh.read(head, 0, 2, 0);
  await fh.close();
  const gz = head[0] === 0x1f && head[1] === 0x8b;
  const stream = gz ? createReadStream(file).pipe(createGunzip()) : createReadStream(file);
  const rl = createInterface({ input: stream, crlfDelay: Infinity });
  let lineNo = 0;
  for await (const line of rl) {
    lineNo++;
    if (line.trim() === '') continue;
    const sp = line.indexOf(' ');
    const rx = sp > 0 ? nsTextToMs(line.slice(0, sp)) : Number.NaN;
    if (Number.isNaN(rx)) {
      c.bad(file, lineNo, 'line does not start with a nanosecond receive time');
      continue;
    }
    try {
      for (const ev of parseWsMessage(JSON.parse(line.slice(sp + 1)), rx)) c.push(ev);
    } catch (err) {
      c.bad(file, lineNo, err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message);
    }
  }
}

async function readStore(path: string, c: Collector, opts: ReadOptions): Promise<Gap[]> {
  const store = await openStore(path);
  try {
    const coins = opts.coin !== undefined ? [opts.coin] : await store.coins();
    const lists: MarketEvent[][] = [];
    const gaps: Gap[] = [];
    for (const coin of coins) {
      const q = await store.query({ coin, from: opts.from, to: opts.to });
      lists.push(q.events);
      gaps.push(...q.gaps);
      for (const kind of MARKET_EVENT_KINDS)
        c.files += (await store.files(coin, kind, opts.from, opts.to)).length;
    }
    for (const ev of mergeSorted(lists)) c.push(ev);
    return gaps;
  } finally {
    await store.close();
  }
}

/**
 * Read any supported source into memory: events sorted by exchange time (see `compareEvents`), gaps (stored
 * ones for a store, detected from book/bbo silences otherwise) and a report of what was read and skipped.
 */
export async function readSource(path: string, opts: ReadOptions = {}): Promise<SourceData> {
  const layout = await detectLayout(path);
  const c = new Collector(opts);
  let gaps: Gap[];
  if (layout === 'store') {
    gaps = await readStore(path, c, opts);
  } else {
    if (layout === 'seed-parquet') await readSeedParquet(resolve(path), c);
    else if (layout === 'seed-csv') await readSeedCsv(path, c);
    else if (layout === 'archive') await readArchive(path, c, opts);
    else if (layout === 'tardis') await readTardis(path, c);
    else await readWsCapture(path, c);
    c.events.sort(compareEvents);
    gaps = detectGaps(c.events, opts.gapThresholdMs ?? DEFAULT_GAP_THRESHOLD_MS);
  }
  return {
    events: c.events,
    gaps,
    report: {
      source: resolve(path),
      layout,
      files: c.files,
      read: c.read,
      written: { book: 0, trade: 0, bbo: 0 },
      duplicates: 0,
      malformed: c.malformed,
      malformedSamples: c.samples,
      gaps,
    },
  };
}

/**
 * Import a source into the store. Idempotent: re-running stores nothing new (everything counts as duplicates).
 */
export async function importSource(
  path: string,
  store: MarketStore,
  opts: ReadOptions = {},
): Promise<ImportReport> {
  if (resolve(path) === store.dir)
    throw new SourceError(`${path} is the store itself; import from another source`);
  const layout = await detectLayout(path);
  // Archives can span months: import them file by file so memory stays bounded by one hour of one coin.
  if (layout === 'archive') return importArchiveByFile(path, store, opts);
  // Tardis days are large: streamed in batches (books are rebuilt from updates, so no silence-gap detection).
  if (layout === 'tardis') return importTardis(path, store, opts);
  const { events, gaps, report } = await readSource(path, opts);
  const res = await store.write(events, gaps);
  addWrite(report, res);
  return report;
}

function addWrite(report: ImportReport, res: WriteResult): void {
  for (const k of MARKET_EVENT_KINDS) report.written[k] += res.written[k];
  report.duplicates += res.duplicates;
  if (res.rejected > 0) {
    report.malformed += res.rejected;
    if (report.malformedSamples.length < MAX_SAMPLES) {
      report.malformedSamples.push({
        file: report.source,
        line: 0,
        reason: `${res.rejected} events not storable`,
      });
    }
  }
}

async function importArchiveByFile(
  path: string,
  store: MarketStore,
  opts: ReadOptions,
): Promise<ImportReport> {
  const threshold = opts.gapThresholdMs ?? DEFAULT_GAP_THRESHOLD_MS;
  const report: ImportReport = {
    source: resolve(path),
    layout: 'archive',
    files: 0,
    read: { book: 0, trade: 0, bbo: 0 },
    written: { book: 0, trade: 0, bbo: 0 },
    duplicates: 0,
    malformed: 0,
    malformedSamples: [],
    gaps: [],
  };
  // Last book time per coin, so a silence spanning two hour files is still found.
  const lastTime = new Map<string, number>();
  for (const file of await archiveFiles(path)) {
    const c = new Collector(opts);
    await readArchive(path, c, opts, [file]);
    c.events.sort(compareEvents);
    const gaps = detectGaps(c.events, threshold);
    const span = new Map<string, { first: number; last: number }>();
    for (const ev of c.events) {
      if (ev.kind === 'trade') continue;
      const sp = span.get(ev.coin);
      if (!sp) span.set(ev.coin, { first: ev.exTime, last: ev.exTime });
      else sp.last = ev.exTime;
    }
    for (const [coin, { first, last }] of span) {
      const prev = lastTime.get(coin);
      if (prev !== undefined && first - prev > threshold) {
        gaps.push({
          coin,
          kind: 'all',
          start: prev,
          end: first,
          reason: `no book/bbo update for ${((first - prev) / 1000).toFixed(1)} s (detected on import, threshold ${threshold / 1000} s)`,
        });
      }
      lastTime.set(coin, Math.max(prev ?? -Infinity, last));
    }
    report.files += c.files;
    for (const k of MARKET_EVENT_KINDS) report.read[k] += c.read[k];
    report.malformed += c.malformed;
    for (const m of c.samples)
      if (report.malformedSamples.length < MAX_SAMPLES) report.malformedSamples.push(m);
    gaps.sort((a, b) => a.start - b.start);
    report.gaps.push(...gaps);
    addWrite(report, await store.write(c.events, gaps));
  }
  return report;
}

async function readTardis(path: string, c: Collector): Promise<void> {
  for (const file of await findTardisFiles(path)) {
    if (!(await isTardisCsv(file))) continue;
    c.files++;
    await readTardisCsv(file, {
      event: (ev) => c.push(ev),
      funding: () => undefined,
      bad: (line, reason) => c.bad(file, line, reason),
    });
  }
}

async function importTardis(path: string, store: MarketStore, opts: ReadOptions): Promise<ImportReport> {
  const counts = emptyTardisCounts();
  let files = 0;
  for (const file of await findTardisFiles(path)) {
    if (!(await isTardisCsv(file))) continue;
    files++;
    await importTardisFile(file, store, counts, {
      coins: opts.coin === undefined ? undefined : new Set([opts.coin]),
      from: opts.from,
      to: opts.to,
    });
  }
  return {
    source: resolve(path),
    layout: 'tardis',
    files,
    read: { book: counts.read.book, trade: counts.read.trade, bbo: counts.read.bbo },
    written: { book: counts.written.book, trade: counts.written.trade, bbo: counts.written.bbo },
    funding: { read: counts.read.funding, written: counts.written.funding },
    duplicates: counts.duplicates,
    malformed: counts.malformed,
    malformedSamples: counts.samples,
    gaps: [],
  };
}
