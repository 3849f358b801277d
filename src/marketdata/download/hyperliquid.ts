/**
 * `cjmm data download` from Hyperliquid's own archives: plan (which hourly files, how many bytes, which hours
 * are already complete or missing), then fetch `jobs` hours at a time, each file streamed through LZ4 frame
 * decompression and a line parser that keeps only the requested coins, then the hour written to the store in
 * one go and recorded complete in the download ledger. An hour is the unit: a corrupt or truncated file fails
 * its hour before anything of it is written; a file the archive lacks becomes a gap record.
 */
import type { Readable } from 'node:stream';
import type { BookEvent, Gap, MarketEvent, MarketEventKind } from '../events.ts';
import { DEFAULT_GAP_THRESHOLD_MS, detectGaps } from '../gaps.ts';
import { MalformedMessageError, parseWsMessage } from '../hyperliquid-wire.ts';
import type { MalformedSample } from '../source.ts';
import type { MarketStore } from '../store/index.ts';
import { parseIsoNanos } from '../time.ts';
import { fetchFundingHistory } from './funding-api.ts';
import { appendLedger, type LedgerEntry, type LedgerStatus, ledgerKey, readLedger } from './ledger.ts';
import { Lz4FormatError, lz4FrameDecompress, splitLines } from './lz4-stream.ts';
import {
  BOOK_BUCKET,
  bookKey,
  FIRST_TRADE_ARCHIVE,
  NODE_BUCKET,
  NodeLineError,
  TradeFileParser,
  type TradeFormat,
  tradeFormatsFor,
  tradeKey,
} from './node-data.ts';
import { type ArchiveS3, S3AccessError } from './s3.ts';

export const HOUR_MS = 3_600_000;
export type DownloadKind = 'book' | 'trade' | 'funding';
export const DOWNLOAD_KINDS: readonly DownloadKind[] = ['book', 'trade', 'funding'];

/**
 * Transfer price assumed for the estimate: AWS S3 data transfer out to the internet from Asia Pacific (Tokyo),
 * first 10 TB a month, US$0.114/GB — the Hyperliquid buckets are assumed to be in ap-northeast-1 (the region of
 * Hyperliquid's own infrastructure and its other requester-pays buckets); from us-east-1 it would be $0.09, and
 * from an EC2 instance in the bucket's region it is $0. Requests: $0.00037 per 1,000 GET, $0.0047 per 1,000 LIST.
 */
export const DEFAULT_PRICE_PER_GB = 0.114;
export const GET_PRICE_PER_1000 = 0.00037;
export const LIST_PRICE_PER_1000 = 0.0047;

export interface DownloadOptions {
  coins: string[];
  /** [from, to) ms; hours overlapping it are downloaded whole. */
  from: number;
  to: number;
  kinds: ReadonlySet<DownloadKind>;
  jobs: number;
  withUsers: boolean;
  /** Fetch again the hours recorded as gaps (the archive may have been filled since). */
  retryGaps?: boolean;
  pricePerGb?: number;
  infoUrl?: string;
  gapThresholdMs?: number;
  progress?: ProgressSink;
  /** One line per finished hour and notes (when no progress bar is shown). */
  log?: (line: string) => void;
  /** Stop scheduling new hours once aborted (in-flight hours finish and are written). */
  signal?: AbortSignal;
}

export interface ProgressSink {
  start(files: number, bytes: number): void;
  bytes(n: number): void;
  fileDone(): void;
  stop(): void;
}

export interface PlannedFile {
  bucket: string;
  key: string;
  bytes: number;
  kind: 'book' | 'trade';
  /** Coins this file serves (one for a book file; the coins needing trades for a trade file). */
  coins: string[];
  format?: TradeFormat;
}

export interface HourPlan {
  hour: number;
  files: PlannedFile[];
  /** (coin, kind) the archive lacks for this hour. */
  missing: { coin: string; kind: 'book' | 'trade'; reason: string }[];
}

export interface DownloadPlan {
  hours: HourPlan[];
  files: number;
  bytes: number;
  /** (coin, kind, hour) already complete in the store (or recorded gaps), skipped. */
  skipped: number;
  missing: number;
  estimatedCostUsd: number;
  pricePerGb: number;
}

export interface DownloadReport {
  plan: Omit<DownloadPlan, 'hours'>;
  hoursWritten: number;
  bytesFetched: number;
  read: Record<'book' | 'trade', number>;
  written: Record<MarketEventKind, number>;
  duplicates: number;
  gaps: Gap[];
  malformed: number;
  malformedSamples: MalformedSample[];
  trades: { makerOnly: number; ambiguous: number };
  funding: { rows: number; written: number; duplicates: number; pages: number; malformed: number };
  requests: { get: number; head: number; list: number };
  /**
   * Hours not stored because a file of theirs is corrupt or truncated (nothing of such an hour is written, and it
   * is not recorded in the ledger, so a rerun fetches it again). The other hours and funding still download.
   */
  failed: { hour: string; file: string; error: string }[];
}

/** A file that could not be read (corrupt, truncated, not LZ4): the message names it. */
export class DownloadFileError extends Error {
  readonly file: string;
  constructor(file: string, message: string) {
    super(message);
    this.file = file;
  }
}

/** One error for the corrupt files of a finished download (the report lists them), naming each. */
export function failedFilesError(failed: DownloadReport['failed']): DownloadFileError | undefined {
  if (failed.length === 0) return undefined;
  const what = failed.map((f) => f.error).join('; ');
  return new DownloadFileError(
    failed[0].file,
    failed.length === 1
      ? `${what}; run the same command again to retry it`
      : `${failed.length} files could not be read, nothing of their hours was stored (run the same command again to retry them): ${what}`,
  );
}

/** Hour starts overlapping [from, to). */
export function hoursOf(from: number, to: number): number[] {
  const out: number[] = [];
  for (let h = Math.floor(from / HOUR_MS) * HOUR_MS; h < to; h += HOUR_MS) out.push(h);
  return out;
}

async function pool<T>(items: T[], jobs: number, fn: (item: T) => Promise<void>, signal?: AbortSignal) {
  let next = 0;
  let failure: unknown;
  const worker = async () => {
    while (failure === undefined && !signal?.aborted && next < items.length) {
      const item = items[next++];
      try {
        await fn(item);
      } catch (err) {
        failure ??= err;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  if (failure !== undefined) throw failure;
}

/** Which files the range needs, how big, and what is already done or missing. Sends only HEAD and LIST. */
export async function planDownload(
  s3: ArchiveS3,
  storeDir: string | undefined,
  opts: DownloadOptions,
): Promise<DownloadPlan> {
  const ledgers = new Map<string, Map<string, LedgerStatus>>();
  for (const c of opts.coins) ledgers.set(c, storeDir ? await readLedger(storeDir, c) : new Map());
  const done = (coin: string, kind: string, hour: number) => {
    const s = ledgers.get(coin)?.get(ledgerKey(kind, hour));
    return s === 'complete' || (s === 'gap' && !opts.retryGaps);
  };
  const listings = new Map<string, Promise<Map<string, number>>>();
  const listing = (format: TradeFormat, key: string) => {
    const prefix = key.slice(0, key.lastIndexOf('/') + 1);
    let l = listings.get(prefix);
    if (!l) {
      l = s3.list(NODE_BUCKET, prefix);
      listings.set(prefix, l);
    }
    void format;
    return l;
  };
  let skipped = 0;
  const hours: HourPlan[] = hoursOf(opts.from, opts.to).map((hour) => ({ hour, files: [], missing: [] }));
  await pool(
    hours,
    opts.jobs * 2,
    async (hp) => {
      if (opts.kinds.has('book')) {
        for (const coin of opts.coins) {
          if (done(coin, 'book', hp.hour)) {
            skipped++;
            continue;
          }
          const key = bookKey(hp.hour, coin);
          const bytes = await s3.head(BOOK_BUCKET, key);
          if (bytes === undefined)
            hp.missing.push({ coin, kind: 'book', reason: `archive has no s3://${BOOK_BUCKET}/${key}` });
          else hp.files.push({ bucket: BOOK_BUCKET, key, bytes, kind: 'book', coins: [coin] });
        }
      }
      if (opts.kinds.has('trade')) {
        const need = opts.coins.filter((c) => {
          if (!done(c, 'trade', hp.hour)) return true;
          skipped++;
          return false;
        });
        if (need.length === 0) return;
        const formats = tradeFormatsFor(hp.hour);
        let found: PlannedFile | undefined;
        for (const format of formats) {
          const key = tradeKey(format, hp.hour);
          const bytes = (await listing(format, key)).get(key);
          if (bytes !== undefined) {
            found = { bucket: NODE_BUCKET, key, bytes, kind: 'trade', coins: need, format };
            break;
          }
        }
        if (found) hp.files.push(found);
        else {
          const reason =
            formats.length === 0
              ? `no trade archive before ${new Date(FIRST_TRADE_ARCHIVE).toISOString().slice(0, 10)}`
              : `archive has no ${formats.map((f) => `s3://${NODE_BUCKET}/${tradeKey(f, hp.hour)}`).join(' or ')}`;
          for (const coin of need) hp.missing.push({ coin, kind: 'trade', reason });
        }
      }
    },
    opts.signal,
  );
  const files = hours.reduce((n, h) => n + h.files.length, 0);
  const bytes = hours.reduce((n, h) => n + h.files.reduce((m, f) => m + f.bytes, 0), 0);
  const pricePerGb = opts.pricePerGb ?? DEFAULT_PRICE_PER_GB;
  return {
    hours,
    files,
    bytes,
    skipped,
    missing: hours.reduce((n, h) => n + h.missing.length, 0),
    estimatedCostUsd: (bytes / 1e9) * pricePerGb + (files / 1000) * GET_PRICE_PER_1000,
    pricePerGb,
  };
}

interface FileResult {
  events: MarketEvent[];
  lines: number;
  malformed: number;
  samples: MalformedSample[];
  makerOnly: number;
  ambiguous: number;
}

/** Count bytes as they stream (progress) while passing them on. */
async function* counted(body: Readable, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of body as AsyncIterable<Uint8Array>) {
    onBytes(chunk.length);
    yield chunk;
  }
}

async function readFile(
  s3: ArchiveS3,
  f: PlannedFile,
  opts: DownloadOptions,
  onBytes: (n: number) => void,
): Promise<FileResult | undefined> {
  const body = await s3.get(f.bucket, f.key, opts.signal);
  if (!body) return undefined;
  const name = `s3://${f.bucket}/${f.key}`;
  const res: FileResult = { events: [], lines: 0, malformed: 0, samples: [], makerOnly: 0, ambiguous: 0 };
  const bad = (line: number, reason: string) => {
    res.malformed++;
    if (res.samples.length < 5) res.samples.push({ file: name, line, reason });
  };
  const lines = splitLines(lz4FrameDecompress(counted(body, onBytes)));
  try {
    if (f.kind === 'book') {
      const coin = f.coins[0];
      for await (const line of lines) {
        res.lines++;
        if (line.trim() === '') continue;
        try {
          const rec = JSON.parse(line) as { time?: unknown; raw?: unknown };
          const rx = typeof rec.time === 'string' ? parseIsoNanos(rec.time) : Number.NaN;
          if (Number.isNaN(rx)) throw new MalformedMessageError('archive', 'time is not an ISO timestamp');
          for (const ev of parseWsMessage(rec.raw, rx)) if (ev.coin === coin) res.events.push(ev);
        } catch (err) {
          bad(res.lines, err instanceof SyntaxError ? 'not valid JSON' : (err as Error).message);
        }
      }
    } else {
      const parser = new TradeFileParser(f.format as TradeFormat, new Set(f.coins), opts.withUsers);
      for await (const line of lines) {
        try {
          parser.line(line);
        } catch (err) {
          if (!(err instanceof NodeLineError || err instanceof SyntaxError)) throw err;
          bad(parser.stats.lines, err instanceof SyntaxError ? 'not valid JSON' : err.message);
        }
      }
      res.events = parser.end();
      res.lines = parser.stats.lines;
      res.makerOnly = parser.stats.makerOnly;
      res.ambiguous = parser.stats.ambiguous;
    }
  } catch (err) {
    body.destroy();
    if (err instanceof Lz4FormatError)
      throw new DownloadFileError(name, `${name}: ${err.message}; nothing of this hour was stored`);
    throw err;
  }
  return res;
}

/** Fetch and parse one file, retrying network failures (a corrupt file is not retried). */
async function readFileRetrying(
  s3: ArchiveS3,
  f: PlannedFile,
  opts: DownloadOptions,
  onBytes: (n: number) => void,
): Promise<FileResult | undefined> {
  for (let attempt = 1; ; attempt++) {
    let got = 0;
    try {
      return await readFile(s3, f, opts, (n) => {
        got += n;
        onBytes(n);
      });
    } catch (err) {
      if (
        err instanceof DownloadFileError ||
        err instanceof S3AccessError ||
        attempt >= 3 ||
        opts.signal?.aborted
      )
        throw err;
      onBytes(-got);
      opts.log?.(`s3://${f.bucket}/${f.key}: ${(err as Error).message}; retrying (${attempt}/3)`);
      await new Promise((r) => setTimeout(r, 1000 * attempt));
    }
  }
}

function isoHour(hour: number): string {
  return new Date(hour).toISOString();
}

function hourLabel(hour: number): string {
  return new Date(hour).toISOString().slice(0, 13);
}

/** Download per the options into the store (plan first; see planDownload for a dry run). */
export async function runDownload(
  s3: ArchiveS3,
  store: MarketStore,
  opts: DownloadOptions,
): Promise<DownloadReport> {
  const plan = await planDownload(s3, store.dir, opts);
  const { hours: hourPlans, ...planSummary } = plan;
  const report: DownloadReport = {
    plan: planSummary,
    hoursWritten: 0,
    bytesFetched: 0,
    read: { book: 0, trade: 0 },
    written: { book: 0, trade: 0, bbo: 0 },
    duplicates: 0,
    gaps: [],
    malformed: 0,
    malformedSamples: [],
    trades: { makerOnly: 0, ambiguous: 0 },
    funding: { rows: 0, written: 0, duplicates: 0, pages: 0, malformed: 0 },
    requests: s3.requests,
    failed: [],
  };
  const threshold = opts.gapThresholdMs ?? DEFAULT_GAP_THRESHOLD_MS;
  const work = hourPlans.filter((h) => h.files.length > 0 || h.missing.length > 0);
  opts.progress?.start(plan.files, plan.bytes);
  try {
    await pool(
      work,
      opts.jobs,
      async (hp) => {
        const events: MarketEvent[] = [];
        const gaps: Gap[] = [];
        const entries: LedgerEntry[] = [];
        const missing = [...hp.missing];
        const counts = { book: 0, trade: 0 };
        const results: (FileResult | undefined)[] = [];
        for (const f of hp.files) {
          try {
            results.push(
              await readFileRetrying(s3, f, opts, (n) => {
                report.bytesFetched += n;
                opts.progress?.bytes(n);
              }),
            );
          } catch (err) {
            if (!(err instanceof DownloadFileError)) throw err;
            // A corrupt or truncated file: nothing of this hour is written nor recorded; the others go on.
            report.failed.push({ hour: isoHour(hp.hour), file: err.file, error: err.message });
            opts.log?.(`${hourLabel(hp.hour)} ${opts.coins.join(',')}: ${err.message}`);
            return;
          } finally {
            opts.progress?.fileDone();
          }
        }
        for (const [i, f] of hp.files.entries()) {
          const r = results[i];
          const source = `s3://${f.bucket}/${f.key}`;
          if (!r) {
            for (const coin of f.coins)
              missing.push({ coin, kind: f.kind, reason: `archive has no ${source}` });
            continue;
          }
          report.malformed += r.malformed;
          for (const s of r.samples) if (report.malformedSamples.length < 20) report.malformedSamples.push(s);
          report.trades.makerOnly += r.makerOnly;
          report.trades.ambiguous += r.ambiguous;
          counts[f.kind] += r.events.length;
          for (const ev of r.events) events.push(ev);
          if (f.kind === 'book') {
            // Silences in the book feed within the hour (the archive importer's rule).
            gaps.push(...detectGaps(r.events as BookEvent[], threshold));
          }
          for (const coin of f.coins) {
            const rows = r.events.reduce((n, ev) => n + (ev.coin === coin ? 1 : 0), 0);
            entries.push({ coin, kind: f.kind, hour: hp.hour, status: 'complete', source, rows });
          }
        }
        for (const m of missing) {
          gaps.push({ coin: m.coin, kind: m.kind, start: hp.hour, end: hp.hour + HOUR_MS, reason: m.reason });
          entries.push({
            coin: m.coin,
            kind: m.kind,
            hour: hp.hour,
            status: 'gap',
            source: m.reason,
            rows: 0,
          });
        }
        // Durable rows first, then the ledger line: a crash in between re-downloads the hour, never skips it.
        const w = await store.write(events, gaps);
        await appendLedger(store.dir, entries);
        report.read.book += counts.book;
        report.read.trade += counts.trade;
        for (const k of ['book', 'trade', 'bbo'] as const) report.written[k] += w.written[k];
        report.duplicates += w.duplicates;
        report.malformed += w.rejected;
        report.gaps.push(...gaps);
        report.hoursWritten++;
        opts.log?.(
          `${hourLabel(hp.hour)} ${opts.coins.join(',')}: book ${counts.book}, trade ${counts.trade}` +
            (missing.length ? `, gaps: ${missing.map((m) => `${m.coin} ${m.kind}`).join(', ')}` : ''),
        );
      },
      opts.signal,
    );
  } finally {
    opts.progress?.stop();
  }
  if (opts.kinds.has('funding') && !opts.signal?.aborted) {
    for (const coin of opts.coins) {
      const f = await fetchFundingHistory(coin, opts.from, opts.to, { infoUrl: opts.infoUrl });
      const w = await store.writeFunding(f.rows);
      report.funding.rows += f.rows.length;
      report.funding.written += w.written;
      report.funding.duplicates += w.duplicates;
      report.funding.pages += f.pages;
      report.funding.malformed += f.malformed + w.rejected;
      opts.log?.(
        `funding ${coin}: ${f.rows.length} settlements (${f.pages} page${f.pages === 1 ? '' : 's'})`,
      );
    }
  }
  report.gaps.sort((a, b) => a.start - b.start || a.coin.localeCompare(b.coin));
  report.failed.sort((a, b) => (a.hour < b.hour ? -1 : a.hour > b.hour ? 1 : 0));
  return report;
}
